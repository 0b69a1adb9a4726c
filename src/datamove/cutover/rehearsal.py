"""``datamove cutover SPEC --rehearse``: the whole runbook, then the rollback, on the same
databases, recorded as evidence bound to the mapping (what the ``rehearsed`` gate asks for).

The runbook runs with reverse capture forced on (the rollback replays it), without the
``rehearsed`` gate (this is what makes it) and without the watch; then the rollback, fences
and flag included; then the target's fence and reverse capture are removed, as before: the
source takes writes, the flag reads ``value_old`` and sync writes to the target again. Each
step's time and the outcome are recorded as checks (kind ``rehearsal``) of a ``rehearsal``
run that carries the mapping hash; the steps themselves are kept as ``(runbook) rehearsal N``
and ``(rollback) rehearsal N``, so the real cutover starts from its gates.

``--rehearse --source URL --target URL`` runs it against staging databases instead
(``Migration.rehearse_on``): the staging run is an ordinary rehearsal of the spec with those
URLs, so its steps, fences, flag and checks live in the *staging* target's state store (the
real one is not touched while staging is switched back and forth); its checks are then
recorded again as a ``rehearsal`` run in the *spec's* state store (``record_evidence``),
carrying the staging plan's mapping hash — the real ``rehearsed`` gate accepts it only when the
staging databases plan to the same mapping as the real ones.

A rehearsal does not start while a cutover is under way. One that stops half way stops as a
cutover or a rollback does (recorded, with how to resume or abandon it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from datamove.core.evidence import Check
from datamove.cutover import dualstage
from datamove.cutover.fence import Side, WriteFence
from datamove.cutover.reverse import remove_reverse_capture
from datamove.cutover.rollback import ROLLBACK, Rollback, close_attempt, start_over
from datamove.cutover.runbook import RUNBOOK, Runbook
from datamove.cutover.stage import Stage
from datamove.errors import UsageError
from datamove.events import EventHandler, Message
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec
from datamove.state.store import StateStore
from datamove.verify.runner import VerifyResult

KIND = "rehearsal"


def record_evidence(mapping_hash: str, checks: list[Check], emit: EventHandler) -> str:
    """The mapping hash a staging rehearsal's evidence is recorded with: the one the staging
    plan had (its whole-rehearsal check's); a warning when it is not ``mapping_hash``, the
    spec's own, since the ``rehearsed`` gate will then not count it."""
    whole = next((c for c in checks if c.name == KIND), None)
    staged = str(whole.details.get("mapping_hash", "")) if whole else ""
    if not staged:
        raise UsageError("the staging rehearsal recorded no outcome: nothing to record here")
    if staged != mapping_hash:
        emit(
            Message(
                "the staging databases plan to another mapping than the spec's (their schemas "
                "differ): the rehearsal is recorded, but the `rehearsed` gate will not count it",
                "warning",
            )
        )
    return staged


def rehearsal_spec(spec: MigrationSpec) -> MigrationSpec:
    """``spec`` with reverse capture on, no ``rehearsed`` gate and no triggers."""
    cut = spec.cutover
    back = cut.rollback.model_copy(update={"reverse": True, "triggers": []})
    gates = cut.gates.model_copy(update={"rehearsed": False})
    return spec.model_copy(
        update={"cutover": cut.model_copy(update={"rollback": back, "gates": gates})}
    )


class Rehearsal(Stage):
    """Runs the runbook and the rollback in turn and records how each step went."""

    def __init__(
        self,
        compiled: CompiledPlan,
        spec: MigrationSpec,
        state: StateStore,
        emit: EventHandler,
        verify: Callable[[], VerifyResult],
    ) -> None:
        super().__init__(compiled, rehearsal_spec(spec), state, emit, verify)
        parts = (self.compiled, self.spec, self.state, self.emit, self.verify)
        self.book, self.back = Runbook(*parts), Rollback(*parts)

    def run(self, run_id: str, by: str | None) -> list[Check]:
        """Runbook, rollback, the target unfenced; returns the checks recorded."""
        start_over(self.compiled, self.state, self.emit, run_id)
        self._refuse()
        started = time.monotonic()
        self.book.run(run_id, by)
        self.back.run(run_id, by, "the rehearsal")
        plan = self.compiled.plan
        WriteFence(plan, self.compiled.target, Side.target, self.state, self.emit).remove(
            plan.order, run_id
        )
        remove_reverse_capture(plan, self.compiled.target)
        checks = self._timings(time.monotonic() - started)
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.checks.record(conn, run_id, checks)
        close_attempt(self.state, "rehearsal")
        return checks

    def _refuse(self) -> None:
        dualstage.refuse_rollback(self.spec, "a rehearsal (runbook then rollback)")
        with self.state.dialect.connect() as conn:
            found = self.state.steps.runbook(conn, RUNBOOK) if self.state.readable(conn) else {}
        begun = sorted(n for n, r in found.items() if r.status != "pending")
        if begun:
            raise UsageError(
                f"a cutover is under way (recorded steps: {', '.join(begun)}): a rehearsal "
                "runs before the cutover, or after a completed rollback",
                hint="see `datamove cutover SPEC --status`",
            )

    def _timings(self, total: float) -> list[Check]:
        """A check per step (its time from the step log) and one for the whole rehearsal."""
        out: list[Check] = []
        with self.state.dialect.connect() as conn:
            for table in (RUNBOOK, ROLLBACK):
                for name, record in self.state.steps.runbook(conn, table).items():
                    took = (
                        record.updated_at - (record.started_at or record.updated_at)
                    ).total_seconds()
                    check = Check(
                        f"rehearsal {table} {name}", KIND, None, "passed", "done",
                        f"{took:.2f}s", {"output": record.output or ""}, took,
                    )  # fmt: skip
                    out.append(check)
        mapping = self.compiled.plan.mapping_hash
        whole = Check(
            "rehearsal", KIND, None, "passed", "runbook and rollback complete",
            f"{total:.2f}s", {"mapping_hash": mapping}, total,
        )  # fmt: skip
        return [*out, whole]
