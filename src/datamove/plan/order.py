"""Table order from foreign keys: parents before children, cycles broken and explained."""

from __future__ import annotations

from datamove.plan.model import Finding, Severity, TablePlan


def table_order(tables: dict[str, TablePlan]) -> tuple[list[str], list[Finding]]:
    """A topological order of ``tables`` (parents first) and findings for cycles.

    Self-references need no ordering (a table loads as a whole before its foreign keys are
    created). A cycle is broken at the edge whose child sorts first by name, deterministically;
    the broken edge is recorded in ``deferred_parents`` and the foreign keys of the whole cycle
    are created after every table in it is loaded.
    """
    findings: list[Finding] = []
    for plan in tables.values():
        if any(
            fk.referred_table.name == plan.source_name
            for fk in plan.source_table.foreign_key_constraints
        ):
            findings.append(
                Finding(
                    Severity.note,
                    "self-reference",
                    f"'{plan.name}' references itself: it loads as a whole, and its foreign key is "
                    "created after the load, so row order inside the table does not matter",
                    f"tables.{plan.name}",
                    plan.name,
                )
            )
    remaining = {name: set(p.parents) & set(tables) for name, p in tables.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n, parents in remaining.items() if not parents)
        if not ready:
            child = _cycle_child(remaining)
            blocking = sorted(remaining[child])
            tables[child].deferred_parents.update(blocking)
            findings.append(
                Finding(
                    Severity.warning,
                    "fk-cycle",
                    f"foreign-key cycle through '{child}' and "
                    f"{', '.join(repr(p) for p in blocking)}: "
                    f"'{child}' loads first; all foreign keys are created after every table is "
                    "loaded (an existing target FK in the cycle must be deferrable)",
                    f"tables.{child}",
                    child,
                )
            )
            remaining[child] = set()
            continue
        for name in ready:
            order.append(name)
            del remaining[name]
            for parents in remaining.values():
                parents.discard(name)
    return order, findings


def _cycle_child(remaining: dict[str, set[str]]) -> str:
    """A table on a cycle: follow parent edges from the first blocked table until one repeats."""
    node = sorted(remaining)[0]
    seen: list[str] = []
    while node not in seen:
        seen.append(node)
        node = sorted(remaining[node])[0]
    return min(seen[seen.index(node) :])
