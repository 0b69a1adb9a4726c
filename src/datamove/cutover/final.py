"""The runbook's ``verify`` step: under the fence, only what changed since the last green verify.

A green full verify of the current mapping proved every row equal as of its changelog mark
(``sync.marks``: sync's applied position when it started, so every change up to the mark was
in the target then). Capture records every row written on the source after that, and the
fence stops writes, so after the drain the only rows that can differ from that proof are the
keys the changelog holds past the mark: the step fetches exactly those from both sides through
the compiled mapping (``verify.changed``; a deleted key must be absent on both) and runs each
table's count check. A difference planted in the target on a row nobody changed since the
verify is not this step's to find: the earlier verify proved those rows, and capture proves
nothing else changed on the source (writes made straight into the target behind datamove's back
are outside that promise, as they are for sync).

It falls back to the full verify, and its output says why, when there is no green verify of
the current mapping with a mark (none, or one before store version 6 or without trigger
capture), when capture is not installed, or when the changelog no longer holds every change
after the mark (renumbered, purged past it, or a rolled-back writer's hole right after it).
"""

from __future__ import annotations

from typing import Any

from datamove.core.evidence import Check
from datamove.cutover.stage import Stage
from datamove.errors import ChecksFailed
from datamove.events import Message
from datamove.spec.models import SyncMode
from datamove.state.verified import GreenVerify, last_green_verify
from datamove.sync.marks import ChangedKeys, changed_since
from datamove.verify.runner import Verifier, VerifyOptions

HINT = (
    "see `datamove verify SPEC`; fix the target (`datamove repair SPEC`), then run `datamove "
    "cutover SPEC` again, or lift the fence with `datamove fence off SPEC` to abandon the cutover"
)


class FinalVerify(Stage):
    """The final verify of one cutover: the changed keys when it can, else the full one."""

    def run(self, run_id: str) -> str:
        """The step's output; a difference raises ``ChecksFailed`` naming each key."""
        found = self._changed()
        if isinstance(found, str):
            self.emit(Message(f"cutover: full verify: {found}"))
            result = self.verify()
            _raise_failed(result.checks)
            passed = f"{len(result.checks)} check(s) passed (run {result.run_id})"
            return f"full verify ({found}): {passed}"
        changed, green = found
        result = Verifier(self.compiled, self.spec, VerifyOptions()).run_keys(changed.keys)
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.checks.record(conn, run_id, result.checks)
        _raise_failed(result.checks)
        tables = len(self.compiled.plan.order)
        return (
            f"checked {changed.count} changed key(s) since the green verify {green.run_id} "
            f"(changelog mark {green.changelog_seq}) and {tables} table count(s): "
            f"{len(result.checks)} check(s) passed"
        )

    def _changed(self) -> tuple[ChangedKeys, GreenVerify] | str:
        """The keys changed since the last green verify, or why the full verify runs."""
        if self.spec.sync.mode is not SyncMode.triggers:
            mode = self.spec.sync.mode.value
            return f"no trigger capture to read changes from (sync mode {mode})"
        with self.state.dialect.connect() as conn:
            green = last_green_verify(conn, self.state, self.compiled.plan.mapping_hash)
        if green is None:
            return "no green verify of the current mapping is recorded"
        if green.changelog_seq is None:
            return f"the last green verify ({green.run_id}) recorded no changelog position"
        found = changed_since(self.compiled, self.spec.name, green.changelog_seq)
        return found if isinstance(found, str) else (found, green)


def _raise_failed(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if not failed:
        return
    lines = "\n".join(f"  {c.name}: {c.actual}{_keys(c.details)}" for c in failed)
    raise ChecksFailed(
        f"the final verify found {len(failed)} failed check(s): "
        f"{', '.join(c.name for c in failed)}\n{lines}",
        hint=HINT,
    )


def _keys(details: dict[str, Any]) -> str:
    """``; key [7]: qty`` per difference a changed-keys check kept."""
    out = []
    for d in details.get("differences", []):
        what = "missing" if d.get("missing") else "extra" if d.get("extra") else None
        what = what or ", ".join(d.get("columns", {}))
        out.append(f"key {d['key']}: {what}")
    return ("; " + "; ".join(out)) if out else ""
