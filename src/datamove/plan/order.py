"""Table order from foreign keys: parents before children, cycles broken and explained."""

from __future__ import annotations

from datamove.plan.model import Finding, Severity, TablePlan


def table_order(tables: dict[str, TablePlan]) -> tuple[list[str], list[Finding]]:
    """A topological order of ``tables`` (parents first) and findings for cycles.

    Self-references need no ordering (a table loads as a whole before its foreign keys are
    created). A cycle is broken at one of its edges, deterministically: preferably one that is a
    plain foreign key (a ``lookup:`` edge that is broken costs a second pass), else the edge
    whose child sorts first by name. The broken edge is recorded in ``deferred_parents``; the
    foreign keys of the whole cycle are created after every table in it is loaded.
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
            child, parent = _cycle_edge(remaining, tables)
            tables[child].deferred_parents.add(parent)
            findings.append(
                Finding(
                    Severity.warning,
                    "fk-cycle",
                    f"foreign-key cycle through '{child}' and '{parent}': '{child}' loads "
                    f"without waiting for '{parent}'; all foreign keys are created after every "
                    "table is loaded (an existing target FK in the cycle must be deferrable)",
                    f"tables.{child}",
                    child,
                )
            )
            remaining[child].discard(parent)
            continue
        for name in ready:
            order.append(name)
            del remaining[name]
            for parents in remaining.values():
                parents.discard(name)
    return order, findings


def _cycle_edge(remaining: dict[str, set[str]], tables: dict[str, TablePlan]) -> tuple[str, str]:
    """An edge (child, parent) of a cycle: follow parent edges from the first blocked table
    until one repeats; of that cycle's edges, the first by child name that no ``lookup:``
    column uses, else the first by child name."""
    node = sorted(remaining)[0]
    seen: list[str] = []
    while node not in seen:
        seen.append(node)
        node = sorted(remaining[node])[0]
    cycle = seen[seen.index(node) :]
    edges = sorted((child, sorted(remaining[child])[0]) for child in cycle)
    plain = [(c, p) for c, p in edges if p not in tables[c].lookup_parents]
    return (plain or edges)[0]
