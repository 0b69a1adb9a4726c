"""The state store: runs, per-table plans, checkpoints and rejects, kept in the target database.

Living in the target is what makes "one chunk, one transaction" possible: a chunk's rows, its
rejects and its checkpoint commit together, so a crash leaves each chunk wholly done or not.
On PostgreSQL the tables live in a ``datamove`` schema; elsewhere they are ``datamove_*``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import RejectRecord, RunCommand, RunStatus
from datamove.core.keys import KeyRange, KeyValue, decode_key, encode_key
from datamove.dialects.base import Dialect
from datamove.state import upgrade
from datamove.state.checks import CheckLog
from datamove.state.records import (
    RejectView,
    RunRecord,
    SecondPassProgress,
    StepRecord,
    TableSummary,
)
from datamove.state.schema import StateSchema
from datamove.state.steps import StepLog

SECOND_PASS_REJECT = "second pass: "
"""How the reason of a second-pass reject starts: its row is in the target (the column NULL),
unlike the load's rejects, whose rows are not."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ChunkState:
    """A chunk's recorded state: its key range ``(lo, hi]`` and whether it is committed."""

    chunk_no: int
    lo: KeyValue | None
    hi: KeyValue | None
    done: bool
    rows: int

    @property
    def range(self) -> KeyRange:
        return KeyRange(self.lo, self.hi)


class StateStore:
    """Typed access to the state tables of one migration in one target database."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.dialect = dialect
        self.migration = migration
        self.schema = schema = StateSchema(dialect)
        self.runs = schema.runs
        self.tables = schema.tables
        self.checkpoints = schema.checkpoints
        self.second_pass = schema.second_pass
        self.rejects = schema.rejects
        self.steps = StepLog(schema.steps, migration)
        """Every schema action on the target, with its status (``state.steps``)."""
        self.checks = CheckLog(schema.checks, migration)
        """Every check ``verify`` ran, with its evidence (``state.checks``)."""

    # -- setup -----------------------------------------------------------------------------

    def ensure(self, conn: Connection) -> None:
        """Create the state store, or upgrade it in place, to the current version (idempotent;
        a store newer than this datamove is refused: ``state.upgrade``)."""
        upgrade.ensure(conn, self.dialect, self.schema)

    def exists(self, conn: Connection) -> bool:
        schema = self.runs.schema
        return bool(sa.inspect(conn).has_table(self.runs.name, schema=schema))

    def readable(self, conn: Connection) -> bool:
        """Whether there is a state store to read; one newer than this datamove is refused
        (``UsageError``): its tables may mean what this datamove does not know. An older one
        reads as it is (only a writing command upgrades it)."""
        if not self.exists(conn):
            return False
        upgrade.refuse_newer(upgrade.stored_version(conn, self.schema))
        return True

    # -- runs ------------------------------------------------------------------------------

    def last_run(self, conn: Connection) -> RunRecord | None:
        """The most recent run: its status (``running`` after a crash too) and error."""
        r = self.runs
        row = conn.execute(
            sa.select(
                r.c.run_id,
                r.c.command,
                r.c.status,
                r.c.started_at,
                r.c.finished_at,
                r.c.rows,
                r.c.rejects,
                r.c.error,
            )
            .where(r.c.migration == self.migration)
            .order_by(r.c.started_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return RunRecord(
            row.run_id,
            RunCommand(row.command),
            RunStatus(row.status),
            row.started_at,
            row.finished_at,
            row.rows,
            row.rejects,
            row.error,
        )

    # -- tables and chunks -----------------------------------------------------------------

    def table_hash(self, conn: Connection, table: str) -> str | None:
        t = self.tables
        return conn.execute(
            sa.select(t.c.mapping_hash).where(
                t.c.migration == self.migration, t.c.table_name == table
            )
        ).scalar()

    def plan_table(
        self,
        conn: Connection,
        table: str,
        mapping_hash: str,
        bounds: Sequence[KeyValue],
        second_pass: bool = False,
    ) -> None:
        """Record a table's chunk plan: ``len(bounds) + 1`` ranges covering the whole key space
        (with ``second_pass``, each range is also pending for the second pass)."""
        self.forget_table(conn, table)
        edges: list[KeyValue | None] = [None, *bounds, None]
        conn.execute(
            self.tables.insert().values(
                migration=self.migration,
                table_name=table,
                mapping_hash=mapping_hash,
                chunks_total=len(edges) - 1,
                planned_at=_now(),
            )
        )
        conn.execute(
            self.checkpoints.insert(),
            [
                {
                    "migration": self.migration,
                    "table_name": table,
                    "chunk_no": i,
                    "lo": encode_key(lo),
                    "hi": encode_key(hi),
                    "status": "pending",
                    "rows": 0,
                    "rejects": 0,
                    "commits": 0,
                }
                for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))
            ],
        )
        if second_pass:
            conn.execute(
                self.second_pass.insert(),
                [
                    {
                        "migration": self.migration,
                        "table_name": table,
                        "chunk_no": i,
                        "status": "pending",
                        "rows": 0,
                        "rejects": 0,
                    }
                    for i in range(len(edges) - 1)
                ],
            )

    def forget_table(self, conn: Connection, table: str) -> None:
        """Forget the table's chunks, second pass and rejects (its steps stay: ``forget_steps``)."""
        for t in (self.tables, self.checkpoints, self.second_pass, self.rejects):
            conn.execute(t.delete().where(t.c.migration == self.migration, t.c.table_name == table))

    def chunks(self, conn: Connection, table: str) -> list[ChunkState]:
        c = self.checkpoints
        rows = conn.execute(
            sa.select(c.c.chunk_no, c.c.lo, c.c.hi, c.c.status, c.c.rows)
            .where(c.c.migration == self.migration, c.c.table_name == table)
            .order_by(c.c.chunk_no)
        ).all()
        return [
            ChunkState(r.chunk_no, decode_key(r.lo), decode_key(r.hi), r.status == "done", r.rows)
            for r in rows
        ]

    def commit_chunk(
        self,
        conn: Connection,
        table: str,
        chunk_no: int,
        *,
        rows: int,
        rejects: Sequence[RejectRecord],
        path: str,
        seconds: float,
        run_id: str,
    ) -> None:
        """Record a chunk as done and replace its rejects — inside the chunk's transaction."""
        r, c = self.rejects, self.checkpoints
        conn.execute(
            r.delete().where(
                r.c.migration == self.migration, r.c.table_name == table, r.c.chunk_no == chunk_no
            )
        )
        self._add_rejects(conn, rejects, run_id)
        conn.execute(
            c.update()
            .where(
                c.c.migration == self.migration, c.c.table_name == table, c.c.chunk_no == chunk_no
            )
            .values(
                status="done",
                rows=rows,
                rejects=len(rejects),
                path=path,
                seconds=seconds,
                run_id=run_id,
                committed_at=_now(),
                commits=c.c.commits + 1,
            )
        )

    def record_rejects(
        self, conn: Connection, rejects: Sequence[RejectRecord], run_id: str
    ) -> None:
        """Record rejects found outside a chunk (``sync``), in the caller's transaction."""
        self._add_rejects(conn, rejects, run_id)

    def _add_rejects(self, conn: Connection, rejects: Sequence[RejectRecord], run_id: str) -> None:
        if not rejects:
            return
        now = _now()
        conn.execute(
            self.rejects.insert(),
            [
                {
                    "migration": self.migration,
                    "table_name": x.table,
                    "chunk_no": x.chunk_no,
                    "key": encode_key(x.key),
                    "column_name": x.column,
                    "reason": x.reason,
                    "value": x.value,
                    "run_id": run_id,
                    "created_at": now,
                }
                for x in rejects
            ],
        )

    def chunk_rejected_keys(self, conn: Connection, table: str, chunk_no: int) -> set[str]:
        """The encoded keys of the chunk's rejected rows (rows the load did not write)."""
        r = self.rejects
        return set(
            conn.execute(
                sa.select(r.c.key).where(
                    r.c.migration == self.migration,
                    r.c.table_name == table,
                    r.c.chunk_no == chunk_no,
                )
            ).scalars()
        )

    def second_pass_done(self, conn: Connection, table: str) -> set[int]:
        """The chunks whose second pass has committed."""
        p = self.second_pass
        return set(
            conn.execute(
                sa.select(p.c.chunk_no).where(
                    p.c.migration == self.migration,
                    p.c.table_name == table,
                    p.c.status == "done",
                )
            ).scalars()
        )

    def commit_second_pass(
        self,
        conn: Connection,
        table: str,
        chunk_no: int,
        *,
        rows: int,
        rejects: Sequence[RejectRecord],
        run_id: str,
    ) -> None:
        """Record a chunk's second pass as done, with its rejects — inside its transaction.

        The rejects add to the chunk's own (a second pass runs once per committed chunk; a
        restart forgets both)."""
        self._add_rejects(conn, rejects, run_id)
        p = self.second_pass
        conn.execute(
            p.update()
            .where(
                p.c.migration == self.migration, p.c.table_name == table, p.c.chunk_no == chunk_no
            )
            .values(
                status="done", rows=rows, rejects=len(rejects), run_id=run_id, committed_at=_now()
            )
        )

    def finalize_table(self, conn: Connection, table: str) -> None:
        t = self.tables
        conn.execute(
            t.update()
            .where(t.c.migration == self.migration, t.c.table_name == table)
            .values(finalized_at=_now())
        )

    # -- reading state ---------------------------------------------------------------------

    def reject_count(self, conn: Connection) -> int:
        r = self.rejects
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.migration == self.migration)
            ).scalar_one()
        )

    def list_rejects(
        self, conn: Connection, table: str | None = None, limit: int = 100
    ) -> list[RejectView]:
        r = self.rejects
        q = sa.select(r.c.table_name, r.c.key, r.c.column_name, r.c.reason, r.c.value).where(
            r.c.migration == self.migration
        )
        if table:
            q = q.where(r.c.table_name == table)
        rows = conn.execute(q.order_by(r.c.table_name, r.c.id).limit(limit)).all()
        return [RejectView(x.table_name, x.key, x.column_name, x.reason, x.value) for x in rows]

    def reopen_chunks(self, conn: Connection, table: str, chunk_nos: Sequence[int]) -> None:
        """Mark committed chunks as to be copied again (``repair``); their second pass too."""
        if not chunk_nos:
            return
        c, p = self.checkpoints, self.second_pass
        for t in (c, p):
            conn.execute(
                t.update()
                .where(
                    t.c.migration == self.migration,
                    t.c.table_name == table,
                    t.c.chunk_no.in_(list(chunk_nos)),
                )
                .values(status="pending")
            )

    def rejected_keys(self, conn: Connection) -> dict[str, set[KeyValue]]:
        """Per table, the keys of the rows recorded as rejects (verification expects them
        missing from the target; a second-pass reject's row is there, so it is left out)."""
        r = self.rejects
        out: dict[str, set[KeyValue]] = {}
        for table, key in conn.execute(
            sa.select(r.c.table_name, r.c.key).where(
                r.c.migration == self.migration,
                sa.not_(r.c.reason.startswith(SECOND_PASS_REJECT, autoescape=True)),
            )
        ):
            decoded = decode_key(key)
            if decoded is not None:
                out.setdefault(table, set()).add(decoded)
        return out

    def rejected_rows(self, conn: Connection) -> dict[str, int]:
        """Per table, how many source rows the rejects keep out of the target (verification's
        count expects that many fewer). A chunk's reject is one row, even where two share a
        key (NULL keys; a declared key that is not unique); a key rejected outside a chunk
        (``record_rejects``, negative chunk numbers: ``sync`` rejects a key again at each
        change) counts once, and not at all if a chunk rejected it too. Second-pass rejects
        are left out: their rows are in the target."""
        r = self.rejects
        chunk_rows: dict[str, int] = {}
        in_chunks: dict[str, set[str]] = {}
        outside: dict[str, set[str]] = {}
        for table, chunk_no, key in conn.execute(
            sa.select(r.c.table_name, r.c.chunk_no, r.c.key).where(
                r.c.migration == self.migration,
                sa.not_(r.c.reason.startswith(SECOND_PASS_REJECT, autoescape=True)),
            )
        ):
            if chunk_no >= 0:
                chunk_rows[table] = chunk_rows.get(table, 0) + 1
                in_chunks.setdefault(table, set()).add(key)
            else:
                outside.setdefault(table, set()).add(key)
        return {
            t: chunk_rows.get(t, 0) + len(outside.get(t, set()) - in_chunks.get(t, set()))
            for t in chunk_rows.keys() | outside.keys()
        }

    def table_summaries(self, conn: Connection) -> list[TableSummary]:
        """Per table: chunks done/total, rows, rejects, seconds spent and, for tables with
        one, second-pass chunks done/total — for ``status``."""
        c = self.checkpoints
        rows = conn.execute(
            sa.select(
                c.c.table_name,
                sa.func.count().label("chunks_total"),
                sa.func.sum(sa.case((c.c.status == "done", 1), else_=0)).label("chunks_done"),
                sa.func.coalesce(sa.func.sum(c.c.rows), 0).label("rows"),
                sa.func.coalesce(sa.func.sum(c.c.rejects), 0).label("rejects"),
                sa.func.coalesce(sa.func.sum(c.c.seconds), 0).label("seconds"),
                sa.func.max(c.c.commits).label("max_commits"),
            )
            .where(c.c.migration == self.migration)
            .group_by(c.c.table_name)
            .order_by(c.c.table_name)
        ).all()
        steps = self.steps.summaries(conn) if self._has(self.steps.t, conn) else {}
        second = self._second_pass_summaries(conn)
        second_rejects = {table: p.rejects for table, p in second.items()}
        return [
            TableSummary(
                table=r.table_name,
                chunks_done=int(r.chunks_done or 0),
                chunks_total=int(r.chunks_total),
                rows=int(r.rows),
                rejects=int(r.rejects) + second_rejects.get(r.table_name, 0),
                seconds=float(r.seconds),
                steps=steps.get(r.table_name),
                second_pass=second.get(r.table_name),
            )
            for r in rows
        ]

    @staticmethod
    def _has(table: sa.Table, conn: Connection) -> bool:
        """Whether a state table exists (a state store from an older datamove may lack it)."""
        return bool(sa.inspect(conn).has_table(table.name, schema=table.schema))

    def created_tables(self, conn: Connection) -> set[str]:
        """Tables datamove created (their ``table`` step is recorded); none without a store."""
        if not self.readable(conn) or not self._has(self.steps.t, conn):
            return set()
        return self.steps.created_tables(conn)

    def step_statuses(self, conn: Connection, table: str) -> dict[tuple[str, str], str]:
        """The table's recorded schema steps: (kind, name) → status."""
        if not self._has(self.steps.t, conn):
            return {}
        found = self.steps.statuses(conn, table)
        return {(kind, name): status for (_, kind, name), status in found.items()}

    def unfinished_steps(self, conn: Connection) -> list[StepRecord]:
        """Schema steps not done yet, for ``status``."""
        return self.steps.unfinished(conn) if self._has(self.steps.t, conn) else []

    def _second_pass_summaries(self, conn: Connection) -> dict[str, SecondPassProgress]:
        """Per table with a second pass: its chunks done/total and its rejects."""
        p = self.second_pass
        if not self._has(p, conn):
            return {}  # a state store from before second passes existed
        rows = conn.execute(
            sa.select(
                p.c.table_name,
                sa.func.count().label("total"),
                sa.func.sum(sa.case((p.c.status == "done", 1), else_=0)).label("done"),
                sa.func.coalesce(sa.func.sum(p.c.rejects), 0).label("rejects"),
            )
            .where(p.c.migration == self.migration)
            .group_by(p.c.table_name)
        )
        return {
            r.table_name: SecondPassProgress(int(r.done or 0), int(r.total), int(r.rejects))
            for r in rows
        }
