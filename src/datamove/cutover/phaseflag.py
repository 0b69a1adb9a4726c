"""The read-path flag of a phase: one flag for the whole migration (its name without the
phase), set per tenant, so phase ``eu`` can read the new store while ``us`` still reads the old.

A list group's tenants are its targeting keys; a condition group's are the tenants its rows
hold in the source when it flips (read then: a tenant that appears later follows the flag's
default until its phase is flipped again); ``remaining`` sets the flag's default, which every
tenant without its own value follows (the earlier phases have theirs by then). An unphased
migration sets the default, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from datamove.dialects.base import Dialect
from datamove.flags import FlagStore
from datamove.flags.store import FlagChange
from datamove.flags.values import FlagValue
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec
from datamove.spec.phases import REMAINING, split_name, tenant_column


def flag_scope(compiled: CompiledPlan, spec: MigrationSpec) -> tuple[str, list[str | None]]:
    """The migration the flag lives under, and the targeting keys a flip sets (None: the
    flag's default)."""
    base, phase = split_name(spec.name)
    if phase is None or spec.phases is None:
        return base, [None]
    group = spec.phases.groups[phase]
    if group == REMAINING:
        return base, [None]
    if isinstance(group, list):
        return base, [str(t) for t in group]
    found: set[str] = set()
    with compiled.source.connect() as src:
        for name in compiled.plan.order:
            plan = compiled.plan.tables[name]
            by = spec.tables[name].phase_column if name in spec.tables else None
            tenant = sa.text(tenant_column(by or spec.phases.by, compiled.source.engine.dialect))
            stmt = sa.select(tenant).select_from(plan.source_table).distinct()
            if plan.where:
                stmt = stmt.where(sa.text(f"({plan.where})"))
            found.update(str(v) for (v,) in src.execute(stmt) if v is not None)
    return base, list[str | None](sorted(found))


def record_flag(
    conn: Connection,
    compiled: CompiledPlan,
    spec: MigrationSpec,
    store_dialect: Dialect,
    value: FlagValue,
    by: str | None,
    note: str,
) -> str:
    """Set the spec's flag to ``value`` for every targeting key of the phase, in the caller's
    transaction; the step's output (the first change, and how many keys)."""
    flag = spec.cutover.flag.name
    base, keys = flag_scope(compiled, spec)
    store = FlagStore(store_dialect, base)
    changes: list[FlagChange] = [
        store.record(conn, flag, value, targeting_key=k, by=by, note=note) for k in keys
    ]
    first = changes[0] if changes else None
    if first is None:
        return f"{flag}: no tenant in this phase yet"
    more = f" (and {len(changes) - 1} more tenant(s))" if len(changes) > 1 else ""
    return f"{flag}: {first.previous!r} -> {first.value!r} by {first.changed_by}{more}"
