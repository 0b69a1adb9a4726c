"""The façade: one method per command, each returning a typed result.

The CLI is a thin adapter over this class; everything it can do, Python can do::

    from datamove import Migration
    result = Migration.from_file("migration.yaml").run(workers=2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from datamove.copy import CopyEngine, RunOptions, RunResult
from datamove.copy.schema import SchemaSteps
from datamove.core.evidence import RunCommand
from datamove.core.stop import Stop
from datamove.dialects.base import Dialect
from datamove.errors import ConnectionFailed, UsageError
from datamove.events import EventHandler, Message, ignore
from datamove.plan import Plan
from datamove.session import Session
from datamove.spec import MigrationSpec, load_spec
from datamove.spec.models import SyncMode
from datamove.state import StateStore
from datamove.state.records import RejectView, RunRecord, StepRecord, TableSummary
from datamove.sync import capture
from datamove.sync.runner import Syncer, SyncOptions, SyncResult
from datamove.verify.repair import REPAIR_DIFF_ROWS, RepairResult, chunks_to_repair
from datamove.verify.result import TableDiff
from datamove.verify.runner import Verifier, VerifyOptions, VerifyResult


@dataclass
class Status:
    """What the state store says about a migration."""

    name: str
    target: str
    tables: list[TableSummary]
    rejects_total: int
    last_run: RunRecord | None
    rejects: list[RejectView]
    capture: capture.CaptureStatus | None = None
    """Change capture and catch-up, when the spec has a sync mode."""
    pending_steps: list[StepRecord] = field(default_factory=list)
    """Schema steps not done yet (pending or failed), with when each runs."""

    @property
    def last_error(self) -> str | None:
        """The error of the most recent run, if it failed (None once a run succeeds)."""
        return self.last_run.error if self.last_run else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "tables": [t.to_dict() for t in self.tables],
            "rejects_total": self.rejects_total,
            "last_run": self.last_run.to_dict() if self.last_run else None,
            "last_error": self.last_error,
            "rejects": [r.to_dict() for r in self.rejects],
            "capture": self.capture.to_dict() if self.capture else None,
            "pending_steps": [s.to_dict() for s in self.pending_steps],
        }


class Migration:
    """A migration spec bound to its source and target databases."""

    def __init__(self, spec: MigrationSpec) -> None:
        self.spec = spec

    @classmethod
    def from_file(cls, path: str | Path) -> Migration:
        return cls(load_spec(path))

    def _session(
        self, workers: int = 1, read_only: bool = False, stop: Stop | None = None
    ) -> Session:
        """One command's context (``read_only``: the target is only read; ``stop``: what
        ends it early, see ``core.stop``)."""
        return Session(self.spec, workers=workers, read_only=read_only, stop=stop)

    def plan(self) -> Plan:
        """Resolve the spec against the live schemas: columns, types, order, findings."""
        with self._session() as session:
            return session.plan()

    def write_document(self, plan: Plan, path: str | Path) -> Path:
        """Write the mapping document for ``plan`` (Markdown or HTML, by the file suffix)."""
        from datamove.plan.document import write

        path = Path(path)
        write(plan, path, self.spec.invariants, self.spec.max_rejects)
        return path

    def run(
        self,
        *,
        tables: tuple[str, ...] = (),
        workers: int = 1,
        batch_size: int | None = None,
        max_rows_per_second: float | None = None,
        restart: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> RunResult:
        """Copy every table in scope, chunk by chunk; resumes where the last run stopped.

        ``stop.request()`` (or Ctrl-C) ends it early with ``Interrupted``: committed chunks
        stay, the running ones roll back."""
        opts = RunOptions(tables, workers, batch_size, max_rows_per_second, restart)
        with self._session(workers, stop=stop) as session:
            return self._run(session, opts, on_event)

    def _run(self, session: Session, opts: RunOptions, on_event: EventHandler) -> RunResult:
        recreate = self._recreated(session, opts.restart)
        plan = session.plan("nothing was copied", recreate=recreate)
        with session.recorder.run(RunCommand.run) as run:
            mark = self.spec.sync.column if self.spec.sync.mode is SyncMode.watermark else None
            capture.record_backfill(
                plan,
                session.source,
                session.target,
                session.state,
                opts.tables,
                opts.restart,
                mark,
            )
            engine = CopyEngine(
                session.compiled,
                session.state,
                on_event,
                self.spec.max_rejects,
                session.online,
                session.stop,
            )
            result = engine.run(run.id, opts)
            run.rows, run.rejects = result.rows, result.rejects_total
        return result

    def verify(
        self, options: VerifyOptions | None = None, on_event: EventHandler = ignore
    ) -> VerifyResult:
        """Prove target = mapping(source): every check runs, each is recorded as evidence."""
        with self._session() as session:
            return self._verify(session, options or VerifyOptions(), on_event)

    def _verify(
        self, session: Session, options: VerifyOptions, on_event: EventHandler
    ) -> VerifyResult:
        session.plan("nothing was verified", data_lints=False)
        result = Verifier(session.compiled, self.spec, options, on_event).run()
        with session.recorder.run(RunCommand.verify) as run:
            result.run_id, run.rejects = run.id, 0
            session.recorder.record_checks(run, result.checks)
            failed = sum(not c.ok for c in result.checks)
            if failed:
                run.fail(f"{failed} check(s) failed")
        return result

    def repair(
        self,
        *,
        tables: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> RepairResult:
        """Re-copy exactly the chunks holding rows that verify finds different, then verify.

        A remapped table is refused: its re-copied rows would get new keys under their
        children (``run --restart TABLE`` re-copies the children too).
        """
        with self._session(stop=stop) as session:
            checksum = VerifyOptions(tables, ("checksum",), REPAIR_DIFF_ROWS)
            before = self._verify(session, checksum, on_event)
            differing = [d for d in before.diffs if d.differences]
            reopened: dict[str, list[int]] = {}
            run = None
            if differing:
                plan = session.plan("nothing was repaired")
                with session.target.connect() as conn, conn.begin():
                    for diff in differing:
                        reopened[diff.table] = self._reopen(plan, session.state, conn, diff)
                run = self._run(session, RunOptions(tables=tuple(reopened)), on_event)
            after = self._verify(session, VerifyOptions(tables), on_event)
        return RepairResult(before, reopened, run, after)

    @staticmethod
    def _reopen(plan: Plan, state: StateStore, conn: Connection, diff: TableDiff) -> list[int]:
        if plan.tables[diff.table].strategy == "remap":
            raise UsageError(
                f"'{diff.table}' has {diff.differences} difference(s) but its keys are remapped: "
                "re-copied rows would get new keys under their children",
                hint=f"run `datamove run SPEC --restart {diff.table}` (re-copies its children too)",
            )
        chunks = state.chunks(conn, diff.table)
        if not chunks:
            raise UsageError(
                f"'{diff.table}' has not been copied yet", hint="run `datamove run SPEC` first"
            )
        numbers = chunks_to_repair(diff, chunks)
        state.reopen_chunks(conn, diff.table, numbers)
        return numbers

    @staticmethod
    def _recreated(session: Session, restart: tuple[str, ...]) -> frozenset[str]:
        """The tables a restart drops and makes again: those datamove created, among
        ``restart`` and the tables that reference them."""
        if not restart:
            return frozenset()
        plan = session.plan()
        return frozenset(
            name
            for name in plan.dependents(t for t in restart if t in plan.tables)
            if plan.tables[name].create and plan.tables[name].exists
        )

    def capture_install(self, tables: tuple[str, ...] = ()) -> list[str]:
        """Install change capture (changelog and triggers) on the source; before the backfill."""
        with self._session() as session:
            plan = session.plan("no capture was installed")
            self._known_tables(plan, tables)
            return capture.install(plan, session.source, session.target, self.spec.name, tables)

    def capture_uninstall(self) -> None:
        """Remove every capture trigger and the changelog from the source."""
        with self._session() as session:
            capture.uninstall(session.plan(), session.source)

    def capture_status(self) -> capture.CaptureStatus:
        """Capture state per table, pending changes, lag and the last applied sequence."""
        with self._session(read_only=True) as session:
            plan = session.plan()
            return capture.status(plan, session.source, session.target, self.spec.name)

    def sync(
        self,
        options: SyncOptions | None = None,
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> SyncResult:
        """Apply captured changes to the target by re-reading the current source rows.

        A stop ends ``follow`` normally (``result.stopped``), any other sync with
        ``Interrupted``; a batch that was running rolls back."""
        with self._session(stop=stop) as session:
            plan = session.plan("nothing was synced")
            with session.recorder.run(RunCommand.sync) as run:
                schema = SchemaSteps(plan, session.target, session.state, run.id, on_event, True)
                return Syncer(session.compiled, self.spec, run.id, session.stop).run(
                    options or SyncOptions(), on_event, partial(self._caught_up, plan, schema)
                )

    @staticmethod
    def _caught_up(plan: Plan, schema: SchemaSteps) -> None:
        """Once ``sync`` has caught up: the rows the foreign keys wait for are in, and the
        largest keys are final for now (the cutover sets the generators again)."""
        tables = [plan.tables[t] for t in plan.order]
        validated = schema.validate(tables)
        if validated:
            schema.emit(Message(f"sync has caught up: validated {validated} foreign key(s)"))
        schema.set_generators(tables)

    @staticmethod
    def _known_tables(plan: Plan, tables: tuple[str, ...]) -> None:
        missing = [t for t in tables if t not in plan.tables]
        if missing:
            raise UsageError(
                f"table(s) not in the spec: {', '.join(missing)}",
                hint=f"tables are: {', '.join(plan.order)}",
            )

    def status(
        self, *, rejects: bool = False, table: str | None = None, limit: int = 100
    ) -> Status:
        """Per table chunks done/total, rows, rejects, throughput; optionally the rejects;
        with a sync mode, capture state, pending changes, lag and the applied checkpoint."""
        target = Dialect.for_url(self.spec.target, role="target", read_only=True)
        try:
            state = StateStore(target, self.spec.name)
            with target.connect() as conn:
                if not state.readable(conn):
                    return Status(self.spec.name, target.safe_url, [], 0, None, [])
                result = Status(
                    name=self.spec.name,
                    target=target.safe_url,
                    tables=state.table_summaries(conn),
                    rejects_total=state.reject_count(conn),
                    last_run=state.last_run(conn),
                    rejects=state.list_rejects(conn, table, limit) if rejects else [],
                    pending_steps=state.unfinished_steps(conn),
                )
            if self.spec.sync.mode is SyncMode.triggers:
                try:
                    result.capture = self.capture_status()
                except ConnectionFailed:
                    pass  # the source is down: the target's own state is still worth showing
            return result
        finally:
            target.dispose()
