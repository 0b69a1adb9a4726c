"""The write fence: the cutover's guarantee that a side accepts no writes while it must not.

``fence on`` puts BEFORE triggers on every table in scope of one side (``dialects.fencesql``)
that refuse INSERT, UPDATE and DELETE (and TRUNCATE on PostgreSQL) at once with an error
naming the table, the fence and the migration: an application sees a clean error, never a
wait. ``fence off`` removes them. Both are recorded: a ``fence`` run, and per table a step
(``StepKind.fence``, named by the side) marked ``pending`` before the table's DDL and
``done`` (on) or ``lifted`` (off) after it, so a command killed at any instant is listed by
``status`` and the same command run again finishes it.

- Atomic where the engine's DDL is transactional (PostgreSQL, SQLite): every table's fence in
  one transaction, all or nothing. MySQL/MariaDB commit each DDL by itself: tables are fenced
  one by one, each recorded, and the fences this command made are removed again when one
  fails (a kill leaves the tables done so far fenced; ``fence on`` again fences the rest).
- Idempotent: a trigger already there is kept (a fence on is never lifted, not for an
  instant, by ``fence on`` again); ``fence off`` of a table without a fence does nothing.
- The DDL waits for a table's lock at most ``LOCK_TIMEOUT`` seconds (a long transaction
  holds it, and the application's writes queue behind a waiting DDL), then retries.

Not covered (the README's "Write fence"): DDL, tables out of scope, TRUNCATE on MySQL/MariaDB,
a superuser disabling triggers or setting ``session_replication_role = replica`` on
PostgreSQL, and any session that sets datamove's bypass marker on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import sqlalchemy as sa

from datamove.core.evidence import Step, StepKind
from datamove.core.retry import retrying
from datamove.dialects.base import Dialect
from datamove.errors import DatamoveError, TransientError, UsageError
from datamove.events import EventHandler, Message, ignore
from datamove.plan.model import Plan
from datamove.redact import redact_text
from datamove.state.store import StateStore

LOCK_TIMEOUT = 5.0
"""Seconds the fence's DDL waits for a table's lock before it gives way and retries."""
ON, OFF = "`datamove fence on`", "`datamove fence off`"
"""A fence step's ``when``: the command under way (run it again if it was stopped)."""


class Side(StrEnum):
    """Which database a fence refuses writes on."""

    source = "source"
    """The source: before the switch, so that nothing written there is left behind."""
    target = "target"
    """The target: during a rollback, or before a switch back."""


@dataclass(frozen=True)
class TableFence:
    """One table's fence: the triggers present of those a complete fence has, and its step."""

    table: str
    """The spec's name (the side's own name for a fenced table not in the spec)."""
    name: str
    """The table's name on the fenced side."""
    present: int
    total: int
    step: str | None
    """The recorded step's status (``done``, ``lifted``, ``pending``, ``failed``), if any."""

    @property
    def on(self) -> bool:
        return self.present == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "name": self.name,
            "on": self.on,
            "triggers": f"{self.present}/{self.total}",
            "step": self.step,
        }


@dataclass
class FenceStatus:
    """The fence of one side over the tables asked about, and fenced tables besides them."""

    side: Side
    tables: list[TableFence]
    others: list[str] = field(default_factory=list)
    """Tables of that database fenced though not asked about (out of scope, or not in the
    spec)."""

    @property
    def on(self) -> bool:
        """Every table asked about is fenced completely."""
        return bool(self.tables) and all(t.on for t in self.tables)

    @property
    def off(self) -> bool:
        """No table asked about has a fence trigger."""
        return all(t.present == 0 for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side.value,
            "on": self.on,
            "off": self.off,
            "tables": [t.to_dict() for t in self.tables],
            "others": self.others,
        }


class WriteFence:
    """The write fence of one side of a migration: put on, lifted, and read."""

    def __init__(
        self,
        plan: Plan,
        dialect: Dialect,
        side: Side,
        state: StateStore,
        emit: EventHandler = ignore,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.plan = plan
        self.dialect = dialect
        self.side = side
        self.state = state
        self.emit = emit
        self.lock_timeout = lock_timeout
        self.sql = dialect.fence

    def side_name(self, table: str) -> str:
        """``table`` (a spec table) as named on the fenced side."""
        plan = self.plan.tables[table]
        return plan.source_name if self.side is Side.source else plan.target_table.name

    # -- on --------------------------------------------------------------------------------

    def install(self, tables: Sequence[str], run_id: str) -> FenceStatus:
        """Fence ``tables`` (spec names): each refuses writes when this returns. A failure
        leaves none of them fenced by this call (their steps ``failed``) and is raised."""
        if self.side is Side.target:
            missing = [t for t in tables if not self.plan.tables[t].exists]
            if missing:
                raise UsageError(
                    f"cannot fence the target: {', '.join(missing)} not in the target yet",
                    hint="run `datamove run SPEC` first, or leave them out with --exclude",
                )
        steps = {t: Step(t, StepKind.fence, self.side.value, ON) for t in tables}
        before = {t for t, f in self._read(tables).items() if f.on}
        self._mark(list(steps.values()), "pending", run_id, record=True)
        made: list[str] = []
        try:
            for batch in self._batches(tables):
                made += self._retried(partial(self._create, batch))
                self._mark([steps[t] for t in batch], "done", run_id)
        except DatamoveError as exc:
            if made and not self.sql.ATOMIC:
                self._retried(partial(self._drop, made))
            failed = [s for t, s in steps.items() if t not in before]
            self._mark(failed, "failed", run_id, redact_text(exc.message))
            self._mark([steps[t] for t in before], "done", run_id)  # on before, on still
            exc.hint = exc.hint or "no table was fenced by this command; fix the cause, run again"
            raise
        self.emit(Message(f"write fence on {self.side.value}: {len(tables)} table(s)"))
        return self.status(tables)

    def _create(self, tables: Sequence[str]) -> list[str]:
        """Create the missing fence triggers of ``tables`` in one transaction; the tables
        that got one."""
        made: list[str] = []
        with self.dialect.connect() as conn, conn.begin(), self._bounded(conn):
            present = self.sql.fences(conn)
            for table in tables:
                name = self.side_name(table)
                have = present.get(name, set())
                ddl = self.sql.create_ddl(conn, name, self.state.migration)
                if all(trigger is None or trigger in have for trigger, _ in ddl):
                    continue
                for trigger, stmt in ddl:
                    if trigger is None or trigger not in have:
                        conn.exec_driver_sql(stmt)
                made.append(table)
        return made

    # -- off -------------------------------------------------------------------------------

    def remove(self, tables: Sequence[str], run_id: str, everywhere: bool = False) -> FenceStatus:
        """Lift the fence of ``tables`` (spec names); ``everywhere``: of every other fenced
        table of the side too, in the spec or not."""
        names = list(tables)
        if everywhere:
            names += [t for t in self._fenced_tables() if t not in names]
        steps = [Step(t, StepKind.fence, self.side.value, OFF) for t in names]
        self._mark(steps, "pending", run_id, record=True)
        by_table = {s.table: s for s in steps}
        try:
            for batch in self._batches(names):
                self._retried(partial(self._drop, batch))
                self._mark([by_table[t] for t in batch], "lifted", run_id)
        except DatamoveError as exc:
            self._mark(steps, "failed", run_id, redact_text(exc.message))
            raise
        self.emit(Message(f"write fence off on {self.side.value}: {len(names)} table(s)"))
        return self.status(tables)

    def _drop(self, tables: Sequence[str]) -> None:
        """Drop the fence of ``tables`` in one transaction; a table without one is not
        touched (a PostgreSQL DROP TRIGGER locks out the table's readers too)."""
        with self.dialect.connect() as conn, conn.begin(), self._bounded(conn):
            present = self.sql.fences(conn)
            for table in tables:
                name = self.side_name(table) if table in self.plan.tables else table
                for stmt in self.sql.drop_ddl(name) if name in present else []:
                    conn.exec_driver_sql(stmt)

    def _fenced_tables(self) -> list[str]:
        """Every fenced table of the side: by spec name where the spec has it."""
        spec_name = {self.side_name(t): t for t in self.plan.order}
        with self.dialect.connect() as conn:
            fenced = self.sql.fences(conn)
        return sorted(spec_name.get(name, name) for name in fenced)

    # -- reading ---------------------------------------------------------------------------

    def status(self, tables: Sequence[str]) -> FenceStatus:
        """The fence of ``tables`` (spec names), and the other fenced tables of the side."""
        found = self._read(tables)
        asked = {self.side_name(t) for t in tables}
        with self.dialect.connect() as conn:
            others = sorted(set(self.sql.fences(conn)) - asked)
        return FenceStatus(self.side, [found[t] for t in tables], others)

    def _read(self, tables: Sequence[str]) -> dict[str, TableFence]:
        with self.dialect.connect() as conn:
            present = self.sql.fences(conn)
        steps: dict[tuple[str, str, str], str] = {}
        with self.state.dialect.connect() as tgt:
            if self.state.readable(tgt):
                steps = self.state.steps.statuses(tgt)
        out = {}
        for table in tables:
            name = self.side_name(table)
            expected = set(self.sql.trigger_names(name))
            out[table] = TableFence(
                table,
                name,
                len(expected & present.get(name, set())),
                len(expected),
                steps.get((table, StepKind.fence.value, self.side.value)),
            )
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _batches(self, tables: Sequence[str]) -> list[list[str]]:
        """All tables in one transaction where DDL is transactional, else one by one."""
        return [list(tables)] if self.sql.ATOMIC else [[t] for t in tables]

    @contextmanager
    def _bounded(self, conn: sa.Connection) -> Iterator[None]:
        """The block's lock waits bounded by ``lock_timeout`` (the session restored after)."""
        set_timeout, reset = self.sql.lock_timeout(self.lock_timeout)
        for stmt in set_timeout:
            conn.exec_driver_sql(stmt)
        try:
            yield
        finally:
            for stmt in reset:
                with suppress(sa.exc.DBAPIError):
                    conn.exec_driver_sql(stmt)

    def _retried(self, action: Callable[[], Any]) -> Any:
        def retried(attempt: int, err: TransientError, delay: float) -> None:
            self.emit(Message(f"write fence: {err.message}; retrying in {delay:.1f}s", "warning"))

        return retrying(action, self.dialect.translate, retried)

    def _mark(
        self,
        steps: Sequence[Step],
        status: str,
        run_id: str,
        error: str | None = None,
        record: bool = False,
    ) -> None:
        with self.state.dialect.connect() as tgt, tgt.begin():
            if record:
                self.state.steps.record(tgt, steps)
            for step in steps:
                self.state.steps.mark(tgt, step, status, run_id, error)
