"""Verify's drift check: the keys dual-write recorded in the source's drift table
(``state.drift``) and not repaired yet, each compared through the mapping
(``verify.changed``). A table whose drifted keys are all equal on both sides (``sync`` or
capture repaired them) gets its drift rows marked repaired; one that still differs fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from datamove.core.evidence import Check
from datamove.dialects.base import Dialect
from datamove.plan.model import Plan
from datamove.state.drift import DriftTable, by_table
from datamove.verify.checks import EXAMPLES

KIND = "drift_keys"

KeyedCheck = Callable[[str, Sequence[tuple[Any, ...]], int], Check]


def drift_checks(
    plan: Plan, source: Dialect, tables: Sequence[str], keyed: KeyedCheck
) -> list[Check]:
    """A check per table in ``tables`` with open drift rows (none: no check)."""
    drift = DriftTable()
    names = {plan.tables[t].source_name: t for t in tables}
    with source.connect() as src:
        rows = drift.open(src, names)
        src.rollback()
    if not rows:
        return []
    keys = by_table(rows)
    out: list[Check] = []
    repaired: list[int] = []
    for source_name, found in keys.items():
        name = names[source_name]
        check = keyed(name, found, EXAMPLES)
        out.append(replace(check, name=f"{name}: drift keys", kind=KIND))
        if check.ok:
            repaired += [r.id for r in rows if r.table == source_name]
    if repaired:
        with source.connect() as src, src.begin():
            drift.mark_repaired(src, repaired)
    return out
