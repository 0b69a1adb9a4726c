"""The runbook under ``cutover: {mode: dual_write}``: the application writes both stores
(``datamove.dualwrite``), so nothing is fenced, and each ``datamove cutover SPEC`` moves the
read-path flag one stage on (``dualwrite.stages``: off → dual_write → shadow → live →
ramp_down → complete).

Its steps: ``gates``, ``drain`` (``sync``: the drift keys re-copied, then the captured
changes), ``verify`` (the final verify), ``sequences``, ``validate``, the user's steps, and
``flip`` (the flag set to the next stage, in the transaction that records the step done).
``fence``, ``reverse-capture`` and ``unfence-target`` are not steps: the old store keeps being
written until ``complete``, so going back is setting the flag to the stage before
(``datamove flag set``). A runbook done with the stage not yet ``complete`` starts over at the
next ``cutover``, for the next stage.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from datamove.dualwrite.stages import Stage, next_stage, parse_stage
from datamove.errors import UsageError
from datamove.flags import FlagChange, FlagStore
from datamove.spec.cutover import CutoverMode
from datamove.spec.models import MigrationSpec

SKIPPED: frozenset[str] = frozenset({"fence", "reverse-capture", "unfence-target"})
"""Built-in steps a dual-write runbook does not have."""


def current_stage(conn: Connection, store: FlagStore, flag: str) -> Stage:
    """The stage the flag holds for every key (not set: ``off``); a value that names no
    stage is refused: the flag is not this runbook's to overwrite."""
    setting = store.read(conn, flag).setting
    if setting is None:
        return Stage.off
    found = parse_stage(setting.value)
    if found is None:
        raise UsageError(
            f"flag {flag} is {setting.value!r}, not a dual-write stage",
            hint=f"set it to one of {', '.join(s.value for s in Stage)} "
            f"(`datamove flag set SPEC {flag} '\"off\"'`)",
        )
    return found


def advance(conn: Connection, store: FlagStore, flag: str, by: str | None) -> FlagChange:
    """The flag set to the stage after its current one, recorded (who, why)."""
    stage = next_stage(current_stage(conn, store, flag))
    if stage is None:
        raise UsageError(f"flag {flag} is already at stage complete: nothing to advance")
    return store.record(conn, flag, stage.value, by=by, note="datamove cutover (dual_write)")


def finished(conn: Connection, store: FlagStore, flag: str) -> bool:
    """The last stage is reached: no runbook is left to run."""
    return current_stage(conn, store, flag) is Stage.complete


def refuse_rollback(spec: MigrationSpec, what: str) -> None:
    """``rollback`` and ``--rehearse`` undo a fenced switch; under dual-write both stores are
    written until ``complete``, and going back is setting the flag to an earlier stage."""
    if spec.cutover.mode is CutoverMode.dual_write:
        flag = spec.cutover.flag.name
        raise UsageError(
            f"{what} is not run for cutover mode dual_write: the application writes both "
            "stores, nothing is fenced to undo",
            hint=f"go back a stage with `datamove flag set SPEC {flag} '\"shadow\"'` (or "
            "dual_write, off); before that, `datamove sync SPEC` repairs the old store's drift",
        )
