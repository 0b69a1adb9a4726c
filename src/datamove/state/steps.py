"""The step log: every schema action on the target, recorded with its status.

Creating a table, each index, each foreign key and its validation, and setting each generator
past the copied values is a *step*: a row keyed by (table, kind, name) that is ``pending``,
``done`` or ``failed``. Steps are recorded ``pending`` before any of them runs, so a run killed
at any instant leaves a record of exactly what is still to do, and a resumed run (or ``sync``,
for validations that wait for it) does that and nothing else. A ``table`` step marks a table
datamove created: its schema is datamove's to finish, drop and recreate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import Step, StepKind
from datamove.state.records import Progress, StepRecord

NOT_SCHEMA = (StepKind.fence.value, StepKind.cutover.value)
"""Step kinds that are not a table's schema (left out of its schema progress)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunbookStepRecord:
    """A cutover step as recorded: status, when it started and ended, its output or error."""

    name: str
    status: str
    started_at: dt.datetime | None
    updated_at: dt.datetime
    output: str | None
    error: str | None
    run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "updated_at": self.updated_at.isoformat(),
            "output": self.output,
            "error": self.error,
            "run_id": self.run_id,
        }


class StepLog:
    """The ``steps`` state table of one migration (``state.schema``)."""

    def __init__(self, table: sa.Table, migration: str) -> None:
        self.t = table
        self.migration = migration

    def _where(self, table: str | None = None) -> sa.ColumnElement[bool]:
        cond = self.t.c.migration == self.migration
        return cond if table is None else sa.and_(cond, self.t.c.table_name == table)

    def record(self, conn: Connection, steps: Iterable[Step]) -> None:
        """Record ``steps`` as pending unless they are recorded already (idempotent)."""
        known = {
            (r.table_name, r.kind, r.name)
            for r in conn.execute(
                sa.select(self.t.c.table_name, self.t.c.kind, self.t.c.name).where(self._where())
            )
        }
        new = [s for s in steps if (s.table, s.kind.value, s.name) not in known]
        if new:
            conn.execute(
                self.t.insert(),
                [
                    {
                        "migration": self.migration,
                        "table_name": s.table,
                        "kind": s.kind.value,
                        "name": s.name,
                        "status": "pending",
                        "run_when": s.when[:200],
                        "updated_at": _now(),
                    }
                    for s in new
                ],
            )

    def mark(
        self,
        conn: Connection,
        step: Step,
        status: str,
        run_id: str | None,
        error: str | None = None,
    ) -> None:
        """Set a recorded step's status (``done``, ``failed`` with its error, ``pending``)."""
        conn.execute(
            self.t.update()
            .where(
                self._where(step.table),
                self.t.c.kind == step.kind.value,
                self.t.c.name == step.name,
            )
            .values(
                status=status,
                error=error,
                run_id=run_id,
                updated_at=_now(),
                run_when=step.when[:200],
            )
        )

    def start(self, conn: Connection, step: Step, run_id: str) -> None:
        """Record ``step`` ``running`` from now (a kill leaves it so: it runs again)."""
        now = _now()
        conn.execute(
            self.t.update()
            .where(self._key(step))
            .values(status="running", started_at=now, updated_at=now, run_id=run_id, error=None)
        )

    def finish(
        self,
        conn: Connection,
        step: Step,
        status: str,
        run_id: str,
        output: str | None,
        error: str | None = None,
    ) -> None:
        """Record how ``step`` ended (``done`` or ``failed``) with its output (redacted by the
        caller), in the caller's transaction."""
        conn.execute(
            self.t.update()
            .where(self._key(step))
            .values(status=status, output=output, error=error, run_id=run_id, updated_at=_now())
        )

    def runbook(self, conn: Connection, table: str) -> dict[str, RunbookStepRecord]:
        """The cutover steps recorded under ``table`` (``cutover.runbook.RUNBOOK``), by name."""
        t = self.t
        rows = conn.execute(
            sa.select(t).where(self._where(table), t.c.kind == StepKind.cutover.value)
        )
        return {
            r.name: RunbookStepRecord(
                r.name, r.status, r.started_at, r.updated_at, r.output, r.error, r.run_id
            )
            for r in rows
        }

    def archive(self, conn: Connection, table: str, label: str) -> str:
        """Close the attempt recorded under ``table``: its steps are kept, as evidence, under
        ``"<table> <label> <n>"`` (n counts the attempts so closed), so the next attempt's
        steps start unrecorded. Returns the name they are kept under."""
        prefix = f"{table} {label} "
        closed = conn.execute(
            sa.select(sa.func.count(sa.distinct(self.t.c.table_name))).where(
                self._where(), self.t.c.table_name.startswith(prefix, autoescape=True)
            )
        ).scalar_one()
        name = f"{prefix}{int(closed) + 1}"
        conn.execute(self.t.update().where(self._where(table)).values(table_name=name))
        return name

    def _key(self, step: Step) -> sa.ColumnElement[bool]:
        return sa.and_(
            self._where(step.table), self.t.c.kind == step.kind.value, self.t.c.name == step.name
        )

    def statuses(
        self, conn: Connection, table: str | None = None
    ) -> dict[tuple[str, str, str], str]:
        """(table, kind, name) → status of every recorded step (of ``table``)."""
        rows = conn.execute(
            sa.select(self.t.c.table_name, self.t.c.kind, self.t.c.name, self.t.c.status).where(
                self._where(table)
            )
        )
        return {(r.table_name, r.kind, r.name): r.status for r in rows}

    def created_tables(self, conn: Connection) -> set[str]:
        """Tables datamove created (or set out to create: their ``table`` step is recorded)."""
        rows = conn.execute(
            sa.select(self.t.c.table_name).where(
                self._where(), self.t.c.kind == StepKind.table.value
            )
        )
        return set(rows.scalars())

    def unfinished(self, conn: Connection) -> list[StepRecord]:
        """Every step pending or failed, with when it runs and its last error (a step
        ``accepted`` undone, such as a foreign key left unvalidated over the run's own
        rejects, is not listed: the rejects are)."""
        rows = conn.execute(
            sa.select(
                self.t.c.table_name,
                self.t.c.kind,
                self.t.c.name,
                self.t.c.status,
                self.t.c.run_when,
                self.t.c.error,
            )
            .where(self._where(), self.t.c.status.in_(["pending", "failed"]))
            .order_by(self.t.c.table_name, self.t.c.kind, self.t.c.name)
        )
        return [
            StepRecord(r.table_name, StepKind(r.kind), r.name, r.status, r.run_when, r.error)
            for r in rows
        ]

    def summaries(self, conn: Connection) -> dict[str, Progress]:
        """Per table: schema steps done and in all (a fence is not one)."""
        rows = conn.execute(
            sa.select(
                self.t.c.table_name,
                sa.func.count().label("total"),
                sa.func.sum(sa.case((self.t.c.status == "done", 1), else_=0)).label("done"),
            )
            .where(self._where(), self.t.c.kind.notin_(NOT_SCHEMA))
            .group_by(self.t.c.table_name)
        )
        return {r.table_name: Progress(int(r.done or 0), int(r.total)) for r in rows}

    def forget(self, conn: Connection, table: str) -> None:
        conn.execute(self.t.delete().where(self._where(table)))
