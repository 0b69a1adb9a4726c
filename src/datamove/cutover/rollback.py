"""``datamove rollback SPEC``: back to the source after a cutover, losing nothing the target
accepted since the switch (``rollback.reverse: true``).

Recorded steps (``StepKind.cutover``, table ``ROLLBACK``), each ``running`` then ``done`` or
``failed`` like the runbook's, so a kill at any instant resumes at the step that was running
and never repeats a done one: ``fence-target`` (the target refuses writes), ``replay`` (the
target's captured changes into the source through the inverse mapping: ``cutover.reverse``;
idempotent, so a replay killed half way runs again whole), ``verify`` (the normal verify must
be green: source and target agree through the mapping), ``flip-back`` (the read-path flag back
to ``value_old``, in the transaction that records the step), ``unfence-source``; then
``undo: NAME`` for every user step the runbook completed that has an ``undo:``, latest first
(the same runner as the runbook's: a shell command, or SQL on the step's side; output
redacted). The target stays fenced: the source is the live side again.

A completed rollback closes the attempt: the next ``datamove cutover`` (``start_over``) keeps
the runbook's and the rollback's steps as evidence under ``(runbook) attempt N`` and
``(rollback) attempt N`` and runs every step again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial

from datamove.core.evidence import Step, StepKind
from datamove.cutover import dualstage
from datamove.cutover.fence import Side, WriteFence
from datamove.cutover.phaseflag import record_flag
from datamove.cutover.reverse import Replay
from datamove.cutover.runbook import RUNBOOK, Runbook, StepFailed, StepView, runbook_steps
from datamove.cutover.stage import Stage
from datamove.errors import ChecksFailed, DatamoveError, RuntimeFailure, UsageError
from datamove.events import EventHandler, Message
from datamove.plan.compiled import CompiledPlan
from datamove.redact import redact_text
from datamove.spec.cutover import UserStep
from datamove.state.store import StateStore

ROLLBACK = "(rollback)"
"""The step log's table name for the rollback's steps."""
STEPS = ("fence-target", "replay", "verify", "flip-back", "unfence-source")
UNDO = "undo: "
"""The rollback's step name of a user step's ``undo:`` is this and the step's name."""
WHEN = "`datamove rollback SPEC`"


def _step(name: str) -> Step:
    return Step(ROLLBACK, StepKind.cutover, name, WHEN)


def close_attempt(state: StateStore, label: str) -> None:
    """Keep the runbook's and the rollback's steps as evidence of a closed attempt
    (``label``: ``attempt`` or ``rehearsal``); the next cutover records its steps afresh."""
    with state.dialect.connect() as conn, conn.begin():
        for table in (RUNBOOK, ROLLBACK):
            state.steps.archive(conn, table, label)


def start_over(compiled: CompiledPlan, state: StateStore, emit: EventHandler, run_id: str) -> None:
    """Before a cutover: a completed rollback closes its attempt (the cutover runs again
    from the gates) and lifts the target's fence, as before the first attempt (sync writes
    there again; the flag still reads the source); one stopped half way must be finished
    first."""
    with state.dialect.connect() as conn:
        found = state.steps.runbook(conn, ROLLBACK) if state.readable(conn) else {}
    statuses = {r.status for r in found.values()}
    if not statuses or statuses == {"pending"}:
        return
    if statuses != {"done"}:
        raise UsageError(
            "a rollback is under way: the cutover does not start again before it ends",
            hint="finish it with `datamove rollback SPEC` (it resumes where it stopped)",
        )
    target = WriteFence(compiled.plan, compiled.target, Side.target, state, emit)
    target.remove(compiled.plan.order, run_id)
    close_attempt(state, "attempt")
    emit(Message("the last cutover was rolled back: this one starts over from the gates"))


class Rollback(Stage):
    """Runs, resumes and reports the rollback of one migration (``Migration.rollback``)."""

    @cached_property
    def replay(self) -> Replay:
        """The captured target changes, mapped back into the source."""
        return Replay(self.plan, self.compiled.source, self.compiled.target)

    def undos(self) -> list[UserStep]:
        """The user steps the runbook completed that have an ``undo:``, latest first, each as
        the step that runs its undo (named ``undo: NAME``)."""
        with self.state.dialect.connect() as conn:
            done = self.state.steps.runbook(conn, RUNBOOK) if self.state.readable(conn) else {}
        users = [s.user for s in runbook_steps(self.spec) if s.user is not None]
        return [
            u.model_copy(update={"name": UNDO + u.name, u.kind: u.undo, "undo": None})
            for u in reversed(users)
            if u.undo and (r := done.get(u.name)) is not None and r.status == "done"
        ]

    def steps(self) -> list[StepView]:
        """The rollback's steps as recorded (pending when not recorded yet)."""
        with self.state.dialect.connect() as conn:
            found = self.state.steps.runbook(conn, ROLLBACK) if self.state.readable(conn) else {}
        return [StepView(n, "builtin", found.get(n)) for n in STEPS] + [
            StepView(u.name, u.kind, found.get(u.name)) for u in self.undos()
        ]

    def run(self, run_id: str, by: str | None, why: str | None = None) -> list[StepView]:
        """Every step not done yet, in order; a failing one is recorded and raised. ``why``:
        what started it (a trigger), said first."""
        self._refuse(by)
        if why:
            self.emit(Message(f"rollback started by {why}", "warning"))
        undos = {u.name: u for u in self.undos()}
        names = [*STEPS, *undos]
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.steps.record(conn, [_step(n) for n in names])
            records = self.state.steps.runbook(conn, ROLLBACK)
        actions: dict[str, Callable[[], str]] = {
            "fence-target": lambda: self._fence_target(run_id),
            "replay": lambda: self.replay.run().text(),
            "verify": self._verify,
            "unfence-source": lambda: self._unfence_source(run_id),
        }
        runner = Runbook(self.compiled, self.spec, self.state, self.emit, self.verify)
        for user in undos.values():
            actions[user.name] = partial(runner.user_step, user)
        for name in names:
            record = records.get(name)
            if record is not None and record.status == "done":
                continue
            step = _step(name)
            with self.state.dialect.connect() as conn, conn.begin():
                self.state.steps.start(conn, step, run_id)
            self.emit(Message(f"rollback: {name} (started)"))
            try:
                if name == "flip-back":
                    self._flip_back(step, run_id, by)
                    continue
                output = actions[name]()
            except DatamoveError as exc:
                self._failed(step, run_id, exc)
                raise
            except Exception as exc:
                self._failed(step, run_id, RuntimeFailure(type(exc).__name__))
                raise
            with self.state.dialect.connect() as conn, conn.begin():
                self.state.steps.finish(conn, step, "done", run_id, output)
        self.emit(Message("rollback complete: the source is the live side again"))
        return self.steps()

    def _refuse(self, by: str | None) -> None:
        """Nothing is changed unless there is a switch to undo and every table can go back."""
        dualstage.refuse_rollback(self.spec, "rollback")
        with self.state.dialect.connect() as conn:
            runbook = self.state.steps.runbook(conn, RUNBOOK) if self.state.readable(conn) else {}
        flip = runbook.get("flip")
        if flip is None or flip.status != "done":
            raise UsageError(
                "rollback: the cutover has not flipped the read path; there is nothing to roll "
                "back",
                hint="to abandon a cutover stopped before its flip: `datamove fence off SPEC`",
            )
        self.replay.ways_back()

    def _fence_target(self, run_id: str) -> str:
        fence = WriteFence(self.plan, self.compiled.target, Side.target, self.state, self.emit)
        status = fence.install(self.plan.order, run_id)
        return f"target fenced: {len(status.tables)} table(s) refuse writes"

    def _verify(self) -> str:
        result = self.verify()
        failed = [c.name for c in result.checks if not c.ok]
        if failed:
            raise ChecksFailed(
                f"after the replay, verify found {len(failed)} failed check(s): "
                + ", ".join(failed),
                hint="see `datamove verify SPEC`; fix the source, then run `datamove rollback "
                "SPEC` again (both sides stay fenced meanwhile)",
            )
        return f"{len(result.checks)} check(s) passed (run {result.run_id})"

    def _flip_back(self, step: Step, run_id: str, by: str | None) -> None:
        """The flag and the step's record commit together: a kill leaves both or neither."""
        value = self.spec.cutover.flag.value_old
        with self.state.dialect.connect() as conn, conn.begin():
            args = (self.compiled, self.spec, self.state.dialect, value, by, "datamove rollback")
            output = record_flag(conn, *args)
            self.state.steps.finish(conn, step, "done", run_id, output)

    def _unfence_source(self, run_id: str) -> str:
        fence = WriteFence(self.plan, self.compiled.source, Side.source, self.state, self.emit)
        fence.remove(self.plan.order, run_id)
        return f"source unfenced: {len(self.plan.order)} table(s) take writes again"

    def _failed(self, step: Step, run_id: str, exc: DatamoveError) -> None:
        with self.state.dialect.connect() as conn, conn.begin():
            output = exc.output if isinstance(exc, StepFailed) else None
            self.state.steps.finish(conn, step, "failed", run_id, output, redact_text(exc.message))
        exc.hint = ((exc.hint + "\n  ") if exc.hint else "") + (
            f"the rollback stopped at step '{step.name}' (recorded); fix the cause and run "
            "`datamove rollback SPEC` again to resume there"
        )
