"""The cutover's runbook: built-in steps and the user's, each a recorded step.

Built-in steps, in order: ``gates`` (every gate measured and recorded as a check; any that
fails stops here, nothing changed), ``fence`` (the source's write fence, ``cutover.fence``),
``drain`` (sync until nothing is pending, under the fence), ``verify`` (must be green: the
keys the changelog shows changed since the last green verify of this mapping, and every
table's count; the full verify when that cannot be known, saying why: ``cutover.final``. A
difference on a row nobody changed since that verify is not this step's to find: the verify
proved the row, and capture proves the source did not change it since), ``invariants`` (with
``gates.invariants: pass``: the spec's invariants, at the one consistent point there is —
nothing writes the source and the drain left nothing pending; a failing one stops here with
the source still fenced; ``cutover.gates`` defers the gate to this step), ``sequences``
(target generators past the largest keys),
``validate`` (foreign keys validated), ``reverse-capture`` (with ``rollback.reverse``: capture
triggers on the target, started afresh before target writes open: ``cutover.reverse``),
``flip`` (the read-path flag set to its new value, in the transaction that records the step
done), ``unfence-target`` (only where a target fence exists). The user's ``shell:``/``sql:``
steps go before or after the step they name (default: before ``flip``).

Every step is a row of the step log (``StepKind.cutover``, table ``RUNBOOK``): recorded
``pending`` before the first runs, ``running`` when it starts, ``done`` (with its output,
redacted) or ``failed`` (with its error) when it ends. ``datamove cutover SPEC`` again resumes
at the first step not done — a step killed while ``running`` runs again, a done one never —
and the source is fenced before the flip, so both sides never accept writes after it. A
cutover abandoned with ``datamove fence off SPEC`` before its flip (the fence step done, the
source no longer fenced) starts over from the gates.

After the runbook, the watch (``cutover.watch``) evaluates the rollback triggers; one that
fires starts ``datamove rollback`` (``cutover.rollback``) by itself. ``--rehearse`` runs the
runbook and the rollback in turn (``cutover.rehearsal``); the rollback runs the ``undo:`` of
every user step done here (``user_step``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from datamove.copy.schema import SchemaSteps
from datamove.core.evidence import Check, Step, StepKind
from datamove.cutover import dualstage
from datamove.cutover.fence import FenceStatus, Side, WriteFence
from datamove.cutover.final import FinalVerify
from datamove.cutover.gates import Gates, run_invariants
from datamove.cutover.phaseflag import flag_scope, record_flag
from datamove.cutover.reverse import install_reverse_capture
from datamove.cutover.stage import Stage
from datamove.cutover.watch import Watch, WatchOutcome
from datamove.errors import ChecksFailed, DatamoveError, RuntimeFailure, SpecError
from datamove.events import Message
from datamove.flags import FlagStore
from datamove.plan.inverse import one_way_columns
from datamove.redact import redact_text
from datamove.spec.cutover import BUILTIN_STEPS, CutoverMode, UserStep
from datamove.spec.models import MigrationSpec, SyncMode
from datamove.state.steps import RunbookStepRecord
from datamove.sync.runner import Syncer, SyncOptions

RUNBOOK = "(runbook)"
"""The step log's table name for the cutover's steps (no spec table has parentheses)."""
WHEN = "`datamove cutover SPEC`"
NOTE = "datamove cutover"
OUTPUT_LIMIT = 20_000
"""Characters of a step's output kept (the end of it: where a failure says why)."""


@dataclass(frozen=True)
class RunbookStep:
    """One step of the runbook: a built-in one, or the user's (``user``)."""

    name: str
    kind: str
    """``builtin``, ``shell`` or ``sql``."""
    user: UserStep | None = None

    @property
    def step(self) -> Step:
        return Step(RUNBOOK, StepKind.cutover, self.name, WHEN)


def runbook_steps(spec: MigrationSpec) -> list[RunbookStep]:
    """The built-in steps in order, the user's next to the step each names (in spec order)."""
    users = spec.cutover.steps
    out: list[RunbookStep] = []
    dual = spec.cutover.mode is CutoverMode.dual_write
    for builtin in BUILTIN_STEPS:
        if dual and builtin in dualstage.SKIPPED:
            continue
        default = builtin == "flip"
        out += [
            RunbookStep(u.name, u.kind, u)
            for u in users
            if u.before == builtin or (default and u.before is None and u.after is None)
        ]
        out.append(RunbookStep(builtin, "builtin"))
        out += [RunbookStep(u.name, u.kind, u) for u in users if u.after == builtin]
    return out


@dataclass
class StepView:
    """A runbook step and what the step log says of it (None: not recorded yet)."""

    name: str
    kind: str
    record: RunbookStepRecord | None

    @property
    def status(self) -> str:
        return self.record.status if self.record else "pending"

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "kind": self.kind, "status": self.status}
        return out | (self.record.to_dict() if self.record else {})


@dataclass
class CutoverReport:
    """Where the cutover stands: its steps, the gates measured (``--dry-run``, or this run),
    the flag's value and both fences."""

    steps: list[StepView]
    flag: str
    flag_value: Any
    source_fence: FenceStatus | None
    target_fence: FenceStatus | None
    gates: list[Check] = field(default_factory=list)
    dry_run: bool = False
    run_id: str | None = None
    watch: WatchOutcome | None = None
    """How the watch after the flip ended (None: no watch ran)."""
    rehearsal: list[Check] = field(default_factory=list)
    """``--rehearse``: each step's timing and the outcome, as recorded."""

    @property
    def complete(self) -> bool:
        return all(s.status == "done" for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "steps": [s.to_dict() for s in self.steps],
            "gates": [g.to_dict() for g in self.gates],
            "flag": {"name": self.flag, "value": self.flag_value},
            "source_fence": self.source_fence.to_dict() if self.source_fence else None,
            "target_fence": self.target_fence.to_dict() if self.target_fence else None,
            "watch": self.watch.to_dict() if self.watch else None,
            "rehearsal": [c.to_dict() for c in self.rehearsal],
        }


class StepFailed(RuntimeFailure):
    """A user step that failed; ``output`` is recorded with it."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


class Runbook(Stage):
    """Runs, resumes and reports the cutover of one migration (``Migration.cutover``)."""

    @cached_property
    def steps(self) -> list[RunbookStep]:
        """The built-in and user steps in the order they run."""
        return runbook_steps(self.spec)

    # -- reading ---------------------------------------------------------------------------

    def report(self, gates: list[Check] | None = None, run_id: str | None = None) -> CutoverReport:
        """The steps as recorded, the flag and both fences, read now (changes nothing)."""
        records: dict[str, RunbookStepRecord] = {}
        flag = self.spec.cutover.flag
        base, keys = flag_scope(self.compiled, self.spec)
        store = FlagStore(self.state.dialect, base)
        with self.state.dialect.connect() as conn:
            if self.state.readable(conn):
                records = self.state.steps.runbook(conn, RUNBOOK)
            setting = store.read(conn, flag.name, keys[0] if keys else None).setting
        views = [StepView(s.name, s.kind, records.get(s.name)) for s in self.steps]
        value = setting.value if setting else None
        target = self._fence(Side.target)
        target_status = target.status(self._target_tables()) if self._target_tables() else None
        source_status = self._fence(Side.source).status(self.plan.order)
        out = CutoverReport(views, flag.name, value, source_status, target_status, gates or [])
        out.run_id = run_id
        return out

    def gates(self) -> list[Check]:
        """Every gate the spec names, measured now (reads only)."""
        return Gates(self.compiled, self.spec, self.state).evaluate()

    # -- running ---------------------------------------------------------------------------

    def run(self, run_id: str, by: str | None) -> CutoverReport:
        """Every step not done yet, in order; a failing one is recorded and raised with how to
        go on."""
        self._refuse_lossy_reverse()
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.steps.record(conn, [s.step for s in self.steps])
            records = self.state.steps.runbook(conn, RUNBOOK)
        if self._next_stage(records):
            self._reset(run_id)
            records = {}
        if self._abandoned(records):
            lifted = "the source fence was lifted before the flip: the cutover starts over"
            self.emit(Message(lifted, "warning"))
            self._reset(run_id)
            records = {}
        gates: list[Check] = []
        for step in self.steps:
            record = records.get(step.name)
            if record is not None and record.status == "done":
                continue
            with self.state.dialect.connect() as conn, conn.begin():
                self.state.steps.start(conn, step.step, run_id)
            self.emit(Message(f"cutover: {step.name} (started)"))
            try:
                if step.name == "flip":
                    self._flip(step, run_id, by)
                    continue
                output = self._do(step, run_id, gates)
            except DatamoveError as exc:
                self._failed(step, run_id, exc)
                raise
            except Exception as exc:
                self._failed(step, run_id, RuntimeFailure(type(exc).__name__))
                raise
            with self.state.dialect.connect() as conn, conn.begin():
                self.state.steps.finish(conn, step.step, "done", run_id, output)
        self.emit(Message("cutover complete: the read path is flipped"))
        return self.report(gates, run_id)

    def _next_stage(self, records: dict[str, RunbookStepRecord]) -> bool:
        """Dual-write: the last runbook is done and the stage is not ``complete`` yet."""
        if self.spec.cutover.mode is not CutoverMode.dual_write:
            return False
        if not records or any(records.get(s.name) is None for s in self.steps):
            return False
        if any(records[s.name].status != "done" for s in self.steps):
            return False
        store = FlagStore(self.state.dialect, self.spec.name)
        with self.state.dialect.connect() as conn:
            return not dualstage.finished(conn, store, self.spec.cutover.flag.name)

    def watch(self, run_id: str, seconds: float | None) -> WatchOutcome | None:
        """After a complete runbook, the triggers for ``seconds`` (None: ``watch.for``);
        recorded as the step ``watch``: done when quiet, failed with the trigger that fired
        (the caller starts the rollback). No triggers, or 0 seconds: no watch."""
        cut = self.spec.cutover
        seconds = cut.watch.for_ if seconds is None else seconds
        if not cut.rollback.triggers or seconds <= 0:
            return None
        step = Step(RUNBOOK, StepKind.cutover, "watch", WHEN)
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.steps.record(conn, [step])
            self.state.steps.start(conn, step, run_id)
            flipped = self.state.steps.runbook(conn, RUNBOOK)["flip"].updated_at
        watch = Watch(self.compiled, self.spec, self.state, self.emit, flipped)
        out = watch.run(run_id, seconds, cut.watch.every)
        said = f"{out.rounds} round(s)" + (", ended by Ctrl-C" if out.interrupted else "")
        status, error = ("failed", f"rolled back: {out.why}") if out.fired else ("done", None)
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.steps.finish(conn, step, status, run_id, said, error)
        return out

    def _refuse_lossy_reverse(self) -> None:
        """``rollback.reverse`` promises the old side gets back what the new one accepts: a
        one-way column (a hash, a mask, SQL it cannot invert) would be lost, so the cutover
        does not start until the spec freezes each (``plan.inverse``)."""
        lost = one_way_columns(self.plan) if self.spec.cutover.rollback.reverse else []
        if lost:
            names = ", ".join(f"{c.table}.{c.column}" for c in lost)
            raise SpecError(
                f"rollback.reverse needs every mapped column invertible; one-way: {names}",
                spec_path="cutover.rollback.reverse",
                hint="give each `rollback: freeze` (the old side keeps its value) or "
                "`rollback: {inverse: [...]}` under its column, or set reverse: false",
            )

    def _do(self, step: RunbookStep, run_id: str, gates: list[Check]) -> str:
        if step.user is not None:
            return self.user_step(step.user)
        actions: dict[str, Callable[[], str]] = {
            "gates": lambda: self._gates(run_id, gates),
            "fence": lambda: self._fence_source(run_id),
            "drain": lambda: self._drain(run_id),
            "verify": lambda: self._final_verify(run_id),
            "invariants": lambda: self._invariants(run_id),
            "sequences": lambda: self._sequences(run_id),
            "validate": lambda: self._validate(run_id),
            "reverse-capture": self._reverse_capture,
            "unfence-target": lambda: self._unfence_target(run_id),
        }
        return actions[step.name]()

    def _gates(self, run_id: str, out: list[Check]) -> str:
        checks = self.gates()
        out[:] = checks
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.checks.record(conn, run_id, checks)
        failed = [c for c in checks if not c.ok]
        if failed:
            lines = "\n".join(
                f"  {c.name}: {c.actual or '-'} (needs {c.expected or '-'})"
                + (f": {c.details['reason']}" if c.details.get("reason") else "")
                for c in failed
            )
            names = ", ".join(c.name.removeprefix("gate ") for c in failed)
            raise ChecksFailed(
                f"{len(failed)} gate(s) do not hold: {names}; nothing was changed\n{lines}",
                hint="fix what each gate says, then run `datamove cutover SPEC` again",
            )
        return f"{len(checks)} gate(s) passed" if checks else "no gates in the spec"

    def _fence(self, side: Side) -> WriteFence:
        dialect = self.compiled.source if side is Side.source else self.compiled.target
        return WriteFence(self.plan, dialect, side, self.state, self.emit)

    def _fence_source(self, run_id: str) -> str:
        status = self._fence(Side.source).install(self.plan.order, run_id)
        return f"source fenced: {len(status.tables)} table(s) refuse writes"

    def _drain(self, run_id: str) -> str:
        dual = self.spec.cutover.mode is CutoverMode.dual_write  # its drift is drained too
        if self.spec.sync.mode is SyncMode.none and not dual:
            return "no catch-up configured (sync mode none): nothing to drain"
        syncer = Syncer(self.compiled, self.spec, run_id)
        result = syncer.run(SyncOptions(until_lag=0), self.emit)
        drift = f"{result.drift_repaired} drift row(s) repaired; " if dual else ""
        return f"{drift}{result.changes} change(s) applied; {result.pending} pending"

    def _final_verify(self, run_id: str) -> str:
        final = FinalVerify(self.compiled, self.spec, self.state, self.emit, self.verify)
        return final.run(run_id)

    def _invariants(self, run_id: str) -> str:
        """The gate's invariants under the fence: what the application sees is settled."""
        if self.spec.cutover.gates.invariants is None:
            return "not asked for (gates.invariants is not set)"
        checks = run_invariants(self.compiled, self.spec)
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.checks.record(conn, run_id, checks)
        failed = [c for c in checks if not c.ok]
        if failed:
            lines = "\n".join(
                f"  {c.name}: {c.actual or '-'} (needs {c.expected or '-'})" for c in failed
            )
            raise ChecksFailed(
                f"{len(failed)} invariant(s) fail under the fence: "
                f"{', '.join(c.name for c in failed)}; the source is still fenced, nothing "
                f"flipped\n{lines}",
                hint="fix the data, then run `datamove cutover SPEC` again: it resumes here",
            )
        return f"{len(checks)} invariant(s) passed under the fence"

    def _schema(self, run_id: str) -> SchemaSteps:
        online = self.spec.sync.mode is not SyncMode.none
        return SchemaSteps(self.plan, self.compiled.target, self.state, run_id, self.emit, online)

    def _sequences(self, run_id: str) -> str:
        tables = [self.plan.tables[t] for t in self.plan.order]
        self._schema(run_id).set_generators(tables)
        count = sum(len(t.sequences) for t in tables)
        return f"{count} generator(s) set past the largest keys"

    def _validate(self, run_id: str) -> str:
        tables = [self.plan.tables[t] for t in self.plan.order]
        count = self._schema(run_id).validate(tables)
        return f"{count} foreign key(s) validated"

    def _reverse_capture(self) -> str:
        if not self.spec.cutover.rollback.reverse:
            return "not asked for (rollback.reverse is false)"
        count = install_reverse_capture(self.plan, self.compiled.target)
        return f"target changes captured from now on: {count} table(s)"

    def _flip(self, step: RunbookStep, run_id: str, by: str | None) -> None:
        """The flag and the step's record commit together: a kill leaves both or neither."""
        value = self.spec.cutover.flag.value_new
        with self.state.dialect.connect() as conn, conn.begin():
            if self.spec.cutover.mode is CutoverMode.dual_write:
                store = FlagStore(self.state.dialect, self.spec.name)
                change = dualstage.advance(conn, store, self.spec.cutover.flag.name, by)
                output = (
                    f"{change.name}: {change.previous!r} -> {change.value!r} by {change.changed_by}"
                )
            else:
                args = (self.compiled, self.spec, self.state.dialect, value, by, "datamove cutover")
                output = record_flag(conn, *args)
            self.state.steps.finish(conn, step.step, "done", run_id, output)

    def _target_tables(self) -> list[str]:
        return [t for t in self.plan.order if self.plan.tables[t].exists]

    def _unfence_target(self, run_id: str) -> str:
        fence = self._fence(Side.target)
        names = self._target_tables()
        if not names or fence.status(names).off:
            return "no target fence"
        fence.remove(names, run_id)
        return f"target fence lifted: {len(names)} table(s)"

    def user_step(self, user: UserStep) -> str:
        """Run a user's step (shell or SQL): its output, redacted, or ``StepFailed``."""
        return self._shell(user) if user.kind == "shell" else self._sql(user)

    def _shell(self, user: UserStep) -> str:
        done = subprocess.run(
            user.shell or "", shell=True, capture_output=True, text=True, check=False
        )
        output = _kept(redact_text(done.stdout + done.stderr))
        if done.returncode != 0:
            raise StepFailed(f"step {user.name!r}: the command exited {done.returncode}", output)
        return output

    def _sql(self, user: UserStep) -> str:
        dialect = self.compiled.source if user.on == "source" else self.compiled.target
        with dialect.connect() as conn, conn.begin():
            try:
                result = conn.exec_driver_sql(user.sql or "")
                rows = result.fetchmany(20) if result.returns_rows else None
            except Exception as exc:
                err = dialect.translate(exc)
                err.message = f"step {user.name!r} on the {user.on}: {err.message}"
                raise err from exc
        if rows is None:
            return f"{result.rowcount} row(s) affected"
        return _kept(redact_text("\n".join(str(tuple(r)) for r in rows)))

    # -- bookkeeping -----------------------------------------------------------------------

    def _abandoned(self, records: dict[str, RunbookStepRecord]) -> bool:
        """Fenced by this runbook, the flip not done, and the source fence lifted since."""
        fenced = records.get("fence")
        flipped = records.get("flip")
        if fenced is None or fenced.status != "done" or (flipped and flipped.status == "done"):
            return False
        return not self._fence(Side.source).status(self.plan.order).on

    def _reset(self, run_id: str) -> None:
        with self.state.dialect.connect() as conn, conn.begin():
            for step in self.steps:
                self.state.steps.finish(conn, step.step, "pending", run_id, None)

    def _failed(self, step: RunbookStep, run_id: str, exc: DatamoveError) -> None:
        output = exc.output if isinstance(exc, StepFailed) else None
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.steps.finish(
                conn, step.step, "failed", run_id, output, redact_text(exc.message)
            )
        if step.name != "gates":
            exc.hint = ((exc.hint + "\n  ") if exc.hint else "") + (
                f"the cutover stopped at step '{step.name}' (recorded); fix the cause and run "
                "`datamove cutover SPEC` again to resume there, or run `datamove fence off SPEC` "
                "to abandon it"
            )


def _kept(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-OUTPUT_LIMIT:]
