"""The cutover commands: the write fence, the runbook with its watch and rehearsal, the
rollback, and the read-path flag."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from datamove.core.evidence import RunCommand
from datamove.cutover.fence import FenceStatus, Side, WriteFence
from datamove.cutover.rehearsal import Rehearsal, record_evidence
from datamove.cutover.rollback import Rollback, start_over
from datamove.cutover.runbook import CutoverReport, Runbook, StepView
from datamove.events import EventHandler, ignore
from datamove.flags import FlagChange, FlagListing, FlagReading, FlagStore, FlagValue
from datamove.migration.base import MigrationBase
from datamove.session import Session
from datamove.verify.runner import VerifyOptions


class CutoverCommands(MigrationBase):
    """Switching sides and going back: one method per command."""

    def fence_on(
        self,
        side: Side = Side.source,
        tables: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
    ) -> FenceStatus:
        """Put the write fence on ``side``: every table in scope refuses INSERT, UPDATE and
        DELETE with a clear error until ``fence_off`` (recorded; idempotent; resumable)."""
        with self._session() as session:
            fence, names = self._fence(session, side, tables, exclude, on_event)
            with session.recorder.run(RunCommand.fence, on_event) as run:
                return fence.install(names, run.id)

    def fence_off(
        self,
        side: Side = Side.source,
        tables: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        on_event: EventHandler = ignore,
    ) -> FenceStatus:
        """Lift the write fence on ``side``: from the tables chosen, or (none chosen) from
        every fenced table of that database (recorded; idempotent)."""
        with self._session() as session:
            fence, names = self._fence(session, side, tables, exclude, on_event)
            with session.recorder.run(RunCommand.fence, on_event) as run:
                return fence.remove(names, run.id, everywhere=not (tables or exclude))

    def fence_status(
        self, side: Side = Side.source, tables: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
    ) -> FenceStatus:
        """Per table in scope: fence triggers present and the recorded step; and the other
        fenced tables of that database."""
        with self._session(read_only=True) as session:
            fence, names = self._fence(session, side, tables, exclude, ignore)
            return fence.status(names)

    def _fence(
        self,
        session: Session,
        side: Side,
        tables: tuple[str, ...],
        exclude: tuple[str, ...],
        on_event: EventHandler,
    ) -> tuple[WriteFence, tuple[str, ...]]:
        """The fence of ``side`` and the spec tables in scope (a plan with error findings
        does not stop a fence: lifting one must always be possible)."""
        plan = session.plan(data_lints=False)
        names = self._scope(plan, tables, exclude) or tuple(plan.order)
        dialect = session.source if side is Side.source else session.target
        return WriteFence(plan, dialect, side, session.state, on_event), names

    def cutover(
        self,
        *,
        dry_run: bool = False,
        by: str | None = None,
        on_event: EventHandler = ignore,
        watch_for: float | None = None,
        rehearse: bool = False,
    ) -> CutoverReport:
        """Run the runbook (``cutover.runbook``): gates, fence, drain, verify, sequences,
        validate, flip, with the user's steps; resumes at the first step not done, starts
        over after a completed rollback. Then the watch (``cutover.watch``) for
        ``watch_for`` seconds (None: the spec's ``watch.for``; 0: none): a trigger that fires
        starts the rollback. ``dry_run``: measure the gates and show the steps, changing
        nothing. ``rehearse``: the runbook then the rollback, recorded as a rehearsal
        (``cutover.rehearsal``). ``by``: who flips (default: the OS user)."""
        with self._session(read_only=dry_run) as session:
            book = self._runbook(session, on_event)
            if dry_run:
                return replace(book.report(book.gates()), dry_run=True)
            if rehearse:
                return self._rehearse(session, book, by, on_event)
            with session.recorder.run(RunCommand.cutover, on_event) as run:
                start_over(session.compiled, session.state, on_event, run.id)
                report = book.run(run.id, by)
                watched = book.watch(run.id, watch_for)
                if watched is not None and watched.fired is not None:
                    run.fail(f"rolled back: {watched.why}")
            if watched is None or watched.fired is None:
                return replace(report, watch=watched)
            with session.recorder.run(RunCommand.rollback, on_event) as back:
                self._rollback(session, on_event).run(back.id, by, watched.why)
            watched.rolled_back = True
            return replace(book.report(report.gates, report.run_id), watch=watched)

    def _rehearse(
        self, session: Session, book: Runbook, by: str | None, on_event: EventHandler
    ) -> CutoverReport:
        verify = partial(self._verify, session, VerifyOptions(), on_event)
        rehearsal = Rehearsal(session.compiled, session.spec, session.state, on_event, verify)
        digest = session.compiled.plan.mapping_hash
        with session.recorder.run(RunCommand.rehearsal, on_event, digest) as run:
            checks = rehearsal.run(run.id, by)
        return replace(book.report(run_id=run.id), rehearsal=checks)

    def rehearse_on(
        self,
        source: str | None,
        target: str | None,
        *,
        by: str | None = None,
        on_event: EventHandler = ignore,
    ) -> CutoverReport:
        """``--rehearse`` against staging databases (``source``/``target``; None: the spec's):
        the rehearsal runs there, its steps in the staging target's state store; its evidence
        is then recorded in this spec's state store, bound to the staging plan's mapping hash
        (``cutover.rehearsal.record_evidence``), where the ``rehearsed`` gate reads it."""
        urls = {"source": source or self.spec.source, "target": target or self.spec.target}
        report = type(self)(self.spec.model_copy(update=urls)).cutover(
            rehearse=True, by=by, on_event=on_event
        )
        with self._session() as session:
            plan = session.plan("no rehearsal was recorded here", data_lints=False)
            digest = record_evidence(plan.mapping_hash, report.rehearsal, on_event)
            with session.recorder.run(RunCommand.rehearsal, on_event, digest) as run:
                with session.state.dialect.connect() as conn, conn.begin():
                    session.state.checks.record(conn, run.id, report.rehearsal)
        return report

    def cutover_status(self) -> CutoverReport:
        """Where the cutover stands: each step's record, the flag's value, both fences."""
        with self._session(read_only=True) as session:
            return self._runbook(session, ignore, None).report()

    def rollback(self, *, by: str | None = None, on_event: EventHandler = ignore) -> list[StepView]:
        """Undo a flipped cutover (``cutover.rollback``): fence the target, replay its captured
        changes into the source through the inverse mapping, verify, flip the flag back, lift
        the source fence; resumes at the first step not done."""
        with self._session() as session:
            session.plan("nothing changed", data_lints=False)
            back = self._rollback(session, on_event)
            with session.recorder.run(RunCommand.rollback, on_event) as run:
                return back.run(run.id, by)

    def rollback_status(self) -> list[StepView]:
        """The rollback's steps as recorded (``datamove rollback``)."""
        with self._session(read_only=True) as session:
            session.plan(None, data_lints=False)
            return self._rollback(session, ignore).steps()

    def _rollback(self, session: Session, on_event: EventHandler) -> Rollback:
        verify = partial(self._verify, session, VerifyOptions(), on_event)
        return Rollback(session.compiled, session.spec, session.state, on_event, verify)

    def _runbook(
        self, session: Session, on_event: EventHandler, consequence: str | None = "nothing changed"
    ) -> Runbook:
        session.plan(consequence, data_lints=False)
        verify = partial(self._verify, session, VerifyOptions(), on_event)
        return Runbook(session.compiled, session.spec, session.state, on_event, verify)

    # -- the read-path flag (``datamove.flags``): the state store only, never the source ----

    def flag_get(self, name: str, tenant: str | None = None) -> FlagReading:
        """The read-path flag ``name`` for ``tenant`` (its own value, else the flag's), read
        from the state store now."""
        with FlagStore.open(self.spec.target, self.spec.name, role="target") as store:
            with store.dialect.connect() as conn:
                return store.read(conn, name, tenant)

    def flag_set(
        self,
        name: str,
        value: FlagValue,
        *,
        tenant: str | None = None,
        by: str | None = None,
        note: str | None = None,
    ) -> FlagChange:
        """Set the flag ``name`` (for ``tenant``; None: every tenant without its own value)
        and record who (``by``, else the OS user) and when, in one transaction."""
        with FlagStore.open(self.spec.target, self.spec.name, role="target") as store:
            return store.set(name, value, targeting_key=tenant, by=by, note=note)

    def flag_list(self, limit: int = 100) -> FlagListing:
        """Every flag's current values and the last ``limit`` sets, who and when."""
        with FlagStore.open(self.spec.target, self.spec.name, role="target") as store:
            with store.dialect.connect() as conn:
                return store.listing(conn, limit)
