"""Verifying a moving target: a difference is reported only if it outlives the writes.

With writes going on, a row changed between the two sides' reads looks like a difference. So
each table's scan starts at a **fence point** (sync's applied position and the changelog's
high-water mark, recorded with the check), and every key the scan finds different is
**re-checked** through the mapping (``verify.changed``'s keyed reads) once sync has applied
every change captured before the re-check and its lag is under ``reconcile.max_lag``
(``live.LiveSide.settle``). A key equal at a re-check is resolved; a key still different
whose changelog shows a change past sync's position when the keys were read (applied or not,
that change alone can explain it) proves nothing and waits for the next re-check; a key is
**reported** only if it differed, unchanged, at ``reconcile.persist_for`` re-checks in a row.
What cannot be settled stays **deferred** (sync not applying within ``settle_timeout``, a key
still changing, or a change on the live side nothing will apply: ``live``), never reported;
each check lists its deferred and resolved keys with why, in its details. A row nobody writes
(a corruption of the target) is different at every re-check, so it is reported, by its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datamove.core.evidence import Check
from datamove.core.stop import Stop
from datamove.reconcile.live import LiveSide, RawKey
from datamove.spec.reconcile import ReconcileSpec
from datamove.verify.changed import canonical_keys
from datamove.verify.runner import Verifier

CanonKey = tuple[str | None, ...]
SHOWN = 50
"""Deferred and resolved keys kept in a check's details (the counts are always whole)."""


@dataclass
class Judged:
    """One table's differing keys after the re-checks."""

    reported: dict[CanonKey, dict[str, Any]] = field(default_factory=dict)
    """Keys different at ``persist_for`` re-checks in a row: key -> the last difference."""
    resolved: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    rechecks: int = 0

    def details(self) -> dict[str, Any]:
        return {
            "rechecks": self.rechecks,
            "resolved": len(self.resolved),
            "deferred": len(self.deferred),
            "resolved_keys": self.resolved[:SHOWN],
            "deferred_keys": self.deferred[:SHOWN],
        }


class Judge:
    """Re-checks the differing keys of a table as ``policy`` says (see the module docstring)."""

    def __init__(
        self, verifier: Verifier, live: LiveSide, policy: ReconcileSpec, stop: Stop
    ) -> None:
        self.verifier = verifier
        self.live = live
        self.policy = policy
        self.stop = stop

    def canonical(self, table: str, keys: dict[RawKey, Any]) -> dict[CanonKey, Any]:
        """``keys`` re-keyed by their canonical form (as keyed checks name them)."""
        mapped = self.verifier.mapped_table(table)
        return {next(iter(canonical_keys(mapped, {k}))): v for k, v in keys.items()}

    def judge(self, table: str, keys: list[RawKey], since: int) -> Judged:
        """``keys`` (source key values) of ``table``, found different by a scan that started
        at sync position ``since``, re-checked until each is resolved, reported or deferred."""
        out = Judged()
        pending: dict[CanonKey, RawKey] = self.canonical(table, {k: k for k in keys})
        changed = self.canonical(table, self.live.changes_after(table, since))
        if not self.live.applies and self.live.changelog is not None:
            waiting = self.canonical(table, self.live.changes_after(table, self.live.applied()))
            for key in [k for k in pending if k in waiting]:
                said = f"changed on the live side ({self.live.direction.value}) at change "
                said += f"{waiting[key]}; nothing applies it to the compared side now"
                out.deferred.append({"key": list(key), "why": said})
                del pending[key]
        survived = dict.fromkeys(pending, 0)
        last: dict[CanonKey, dict[str, Any]] = {}
        moved: dict[CanonKey, int] = {}
        for _ in range(self.policy.persist_for):
            if not pending:
                break
            why = self.live.settle(self.policy.max_lag, self.policy.settle_timeout, self.stop)
            if why is not None:
                out.deferred += [{"key": list(k), "why": why} for k in pending]
                return out
            # Sync's position, not the changelog's high-water mark: a change captured but not
            # yet applied when the keys are read differs for that reason alone.
            point = self.live.applied()
            check = self.verifier.keyed_check(table, list(pending.values()), len(pending))
            out.rechecks += 1
            if check.status == "error":
                raise Unjudged(check)
            found = {tuple(d["key"]): d for d in check.details.get("differences", [])}
            moved = self.canonical(table, self.live.changes_after(table, point)) if found else {}
            for key in list(pending):
                if key not in found:
                    out.resolved.append({"key": list(key), "why": _resolved(key, changed, since)})
                    del pending[key]
                elif key in moved:
                    survived[key] = 0  # written again after this re-check's point
                else:
                    survived[key] += 1
                    last[key] = found[key]
        for key in pending:
            if survived[key] >= self.policy.persist_for:
                out.reported[key] = last[key]
            else:
                why = f"still changing: changed again at change {moved.get(key, '?')}"
                out.deferred.append({"key": list(key), "why": why})
        return out


def _resolved(key: CanonKey, changed: dict[CanonKey, int], since: int) -> str:
    if key in changed:
        return (
            f"changed at change {changed[key]}, after the scan's sync position {since}: "
            "equal once sync applied it"
        )
    return "equal when re-checked (a change in flight during the scan)"


class Unjudged(Exception):
    """A re-check that could not run: its ``error`` check stands for the table's."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.details.get("error", "re-check failed"))
        self.check = check
