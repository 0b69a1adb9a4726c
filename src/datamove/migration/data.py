"""The data commands: plan, run, verify, repair, capture, sync, status, uninstall."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from datamove.copy import CopyEngine, RunOptions, RunResult
from datamove.copy.schema import SchemaSteps
from datamove.core.evidence import RunCommand
from datamove.core.stop import Stop
from datamove.dialects.base import Dialect
from datamove.dualwrite.status import DualWriteStatus, dual_write_status
from datamove.errors import ConnectionFailed, UsageError
from datamove.events import EventHandler, Message, ignore
from datamove.migration.base import MigrationBase
from datamove.plan import Plan
from datamove.plan.scope import scoped
from datamove.report.evidence import collect
from datamove.report.model import Report, SignoffView
from datamove.session import Session
from datamove.spec.models import CutoverMode, SyncMode
from datamove.state import StateStore
from datamove.state.records import RejectView, RunRecord, StepRecord, TableSummary, in_scope
from datamove.sync import capture
from datamove.sync.runner import Syncer, SyncOptions, SyncResult
from datamove.sync.uninstall import Footprint, Installed
from datamove.verify.repair import (
    REPAIR_DIFF_ROWS,
    RepairedChunk,
    RepairResult,
    chunks_to_repair,
)
from datamove.verify.result import TableDiff
from datamove.verify.runner import VerifyOptions, VerifyResult


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
    signoffs: list[SignoffView] = field(default_factory=list)
    """The recorded sign-offs, each with why later evidence outdates it (``report``)."""
    dual_write: DualWriteStatus | None = None
    """Stage, open drift and shadow reads, under ``cutover: {mode: dual_write}``."""

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
            "signoffs": [s.to_dict() for s in self.signoffs],
            "dual_write": self.dual_write.to_dict() if self.dual_write else None,
        }


@dataclass
class UninstallResult:
    """What ``uninstall`` found and removed (nothing when not confirmed)."""

    removed: list[Installed]
    others: list[str]
    """Other migrations in the same state store: their rows (and the tables) stay."""
    evidence: Path | None
    found: list[Installed] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "removed": [i.to_dict() for i in self.removed],
            "found": [i.to_dict() for i in self.found],
            "others": self.others,
            "evidence": str(self.evidence) if self.evidence else None,
        }


class DataCommands(MigrationBase):
    """Moving the rows and proving them: one method per command."""

    def plan(self) -> Plan:
        """Resolve the spec against the live schemas: columns, types, order, findings."""
        with self._session() as session:
            return session.plan(guard=((), ()))

    def run(
        self,
        *,
        tables: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        workers: int = 1,
        batch_size: int | None = None,
        max_rows_per_second: float | None = None,
        restart: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> RunResult:
        """Copy every table in scope, chunk by chunk; resumes where the last run stopped.

        ``tables``/``exclude``: names or patterns of the spec's tables (``spec.selection``).
        ``stop.request()`` (or Ctrl-C) ends it early with ``Interrupted``: committed chunks
        stay, the running ones roll back.
        """
        opts = RunOptions(tables, workers, batch_size, max_rows_per_second, restart)
        with self._session(workers, stop=stop) as session:
            return self._run(session, opts, on_event, exclude, guard=True)

    def _run(
        self,
        session: Session,
        opts: RunOptions,
        on_event: EventHandler,
        exclude: tuple[str, ...] = (),
        guard: bool = False,
    ) -> RunResult:
        """``guard``: refuse ``replace_range`` over target rows the source lacks (``repair``
        re-copies chunks to remove exactly such rows)."""
        recreate = self._recreated(session, opts.restart)
        plan = session.plan("nothing was copied", recreate=recreate)
        opts = replace(opts, tables=self._scope(plan, opts.tables, exclude))
        if guard:
            session.plan("nothing was copied", guard=(opts.tables, opts.restart))
        with session.recorder.run(RunCommand.run, on_event) as run:
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
        self,
        options: VerifyOptions | None = None,
        on_event: EventHandler = ignore,
        exclude: tuple[str, ...] = (),
    ) -> VerifyResult:
        """Prove target = mapping(source): every check runs, each is recorded as evidence.
        ``options.tables`` and ``exclude`` are names or patterns (``spec.selection``)."""
        with self._session() as session:
            return self._verify(session, options or VerifyOptions(), on_event, exclude)

    def repair(
        self,
        *,
        tables: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> RepairResult:
        """Re-copy exactly the chunks holding rows that verify finds different, then verify.

        A remapped table is refused: its re-copied rows would get new keys under their
        children (``run --restart TABLE`` re-copies the children too).
        """
        with self._session(stop=stop) as session:
            checksum = VerifyOptions(tables, ("checksum",), REPAIR_DIFF_ROWS)
            before = self._verify(session, checksum, on_event, exclude)
            differing = [d for d in before.diffs if d.differences]
            chunks: list[RepairedChunk] = []
            run = None
            if differing:
                plan = session.plan("nothing was repaired")
                with session.target.connect() as conn, conn.begin():
                    for diff in differing:
                        chunks += self._reopen(plan, session.state, conn, diff)
                again = RunOptions(tables=tuple(d.table for d in differing))
                run = self._run(session, again, on_event)
            after = self._verify(session, VerifyOptions(tables), on_event, exclude)
        return RepairResult(before, chunks, run, after)

    @staticmethod
    def _reopen(
        plan: Plan, state: StateStore, conn: Connection, diff: TableDiff
    ) -> list[RepairedChunk]:
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
        repaired = chunks_to_repair(diff, chunks)
        state.reopen_chunks(conn, diff.table, [c.chunk_no for c in repaired])
        return repaired

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

    def capture_install(
        self, tables: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
    ) -> list[str]:
        """Install change capture (changelog and triggers) on the source; before the backfill."""
        capture.require_triggers(self.spec.sync)
        with self._session() as session:
            plan = session.plan("no capture was installed")
            tables = self._scope(plan, tables, exclude)
            return capture.install(plan, session.source, session.target, self.spec.name, tables)

    def capture_uninstall(self) -> None:
        """Remove every capture trigger and the changelog from the source."""
        with self._session() as session:
            capture.uninstall(session.plan(), session.source)

    def uninstall(
        self,
        *,
        keep_evidence: Path | None = None,
        confirm: Callable[[list[Installed], list[str]], bool] = lambda items, others: True,
    ) -> UninstallResult:
        """Remove what datamove added to the source and the target (triggers, changelog,
        state store; never the migrated tables), after ``confirm`` approves the list (and
        the other migrations whose state rows stay). ``keep_evidence``: first write this
        migration's runs, chunks, checks, rejects and steps there as JSON."""
        with self._session() as session:
            footprint = Footprint(session.source, session.target, self.spec.name)
            items = footprint.find()
            if not items or not confirm(items, footprint.others):
                return UninstallResult([], footprint.others, None, found=items)
            kept = footprint.write_evidence(keep_evidence) if keep_evidence else None
            footprint.remove(items)
            return UninstallResult(items, footprint.others, kept, found=items)

    def _dual_write_status(self, target: Dialect) -> DualWriteStatus:
        """The stage, open drift (each store) and shadow reads of a dual-write migration."""
        with self._session(read_only=True) as session:
            plan = session.plan()
            flag = self.spec.cutover.flag.name
            return dual_write_status(plan, session.source, target, self.spec.name, flag)

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
            with session.recorder.run(RunCommand.sync, on_event) as run:
                schema = SchemaSteps(plan, session.target, session.state, run.id, on_event, True)
                return Syncer(session.compiled, session.spec, run.id, session.stop).run(
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

    def _declared_tables(self) -> list[str]:
        """The spec's tables, ``include:`` patterns worked out when the source answers
        (``status`` reads the target; a source that is down leaves the declared entries)."""
        if not self.spec.include:
            return list(self.spec.tables)
        source = Dialect.for_url(self.spec.source, role="source")
        try:
            return list(scoped(self.spec, source).tables)
        except ConnectionFailed:
            return list(self.spec.tables)
        finally:
            source.dispose()

    def status(
        self, *, rejects: bool = False, table: str | None = None, limit: int = 100
    ) -> Status:
        """Per table in the spec (``not started`` until a run plans its chunks): chunks
        done/total, rows, rejects, throughput; optionally the rejects; with a sync mode,
        capture state, pending changes, lag and the applied checkpoint."""
        declared = self._declared_tables()
        target = Dialect.for_url(self.spec.target, role="target", read_only=True)
        try:
            state = StateStore(target, self.spec.name)
            with target.connect() as conn:
                if not state.readable(conn):
                    tables = in_scope([], declared)
                    return Status(self.spec.name, target.safe_url, tables, 0, None, [])
                result = Status(
                    name=self.spec.name,
                    target=target.safe_url,
                    tables=in_scope(state.table_summaries(conn), declared),
                    rejects_total=state.reject_count(conn),
                    last_run=state.last_run(conn),
                    rejects=state.list_rejects(conn, table, limit) if rejects else [],
                    pending_steps=state.unfinished_steps(conn),
                    signoffs=Report.of(self.spec, collect(conn, state)).signoffs,
                )
            if self.spec.cutover.mode is CutoverMode.dual_write:
                result.dual_write = self._dual_write_status(target)
            if self.spec.sync.mode is SyncMode.triggers:
                try:
                    result.capture = self.capture_status()
                except ConnectionFailed:
                    pass  # the source is down: the target's own state is still worth showing
            return result
        finally:
            target.dispose()
