"""Phases: a migration cut into groups of tenants (or regions) that move, verify and cut over
one after another.

A phase is a predicate ANDed to each table's source ``where``; its state lives under its own
migration identity (``<name>:<phase>``), so chunks, checks, steps and runs are per phase with no
new state table. Groups match first-wins and NULL-safe, so every row is in exactly one phase
whatever the groups hold: ``remaining`` is NOT (any earlier group), and a row an earlier group
also matches is that group's (overlaps are still a spec or plan error, see ``plan.phases``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datamove.errors import SpecError

if TYPE_CHECKING:
    from datamove.spec.models import MigrationSpec, TableSpec

REMAINING = "remaining"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

GroupValue = list[int | str] | str


class PhasesSpec(BaseModel):
    """``phases:``: the column (or expression) that names a row's tenant, and the groups."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(
        min_length=1,
        description="Column or SQL expression naming each row's tenant (per table: phase_column).",
    )
    order: list[str] = Field(min_length=1, description="The phases, in the order they move.")
    groups: dict[str, GroupValue] = Field(
        description="Per phase: a list of tenants, a SQL condition, or 'remaining' (the rest)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PhasesSpec:
        for name in self.order:
            if not _NAME.match(name):
                raise ValueError(f"phase name {name!r}: letters, digits, '_' and '-' only")
        if len(set(self.order)) != len(self.order):
            raise ValueError("order: names a phase twice")
        if set(self.order) != set(self.groups):
            missing = sorted(set(self.order) ^ set(self.groups))
            raise ValueError(f"order: and groups: must name the same phases (differ on {missing})")
        rest = [n for n in self.order if self.groups[n] == REMAINING]
        if len(rest) > 1 or (rest and rest[0] != self.order[-1]):
            raise ValueError("'remaining' is one group, the last in order:")
        seen: dict[int | str, str] = {}
        for name in self.order:
            group = self.groups[name]
            if isinstance(group, list):
                if not group:
                    raise ValueError(f"groups.{name}: an empty list of tenants")
                for tenant in group:
                    if tenant in seen:
                        raise ValueError(
                            f"groups {seen[tenant]} and {name} overlap: tenant {tenant!r} is in "
                            "both (a tenant moves in one phase)"
                        )
                    seen[tenant] = name
        return self


def split_name(name: str) -> tuple[str, str | None]:
    """A migration's own name and its phase (None: not a phase's; see ``phased``)."""
    base, _, phase = name.partition(":")
    return base, phase or None


def siblings(spec: MigrationSpec) -> list[str]:
    """The migration identities of a phase's other phases (none for an unphased spec): they
    read the one changelog on the source, so none purges what another has yet to apply."""
    base, phase = split_name(spec.name)
    if phase is None or spec.phases is None:
        return []
    return [f"{base}:{p}" for p in spec.phases.order if p != phase]


def phase_of(spec: MigrationSpec, phase: str) -> str:
    """``phase`` checked against the spec's phases (an error naming the known ones)."""
    if spec.phases is None:
        raise SpecError(
            f"--phase {phase}: the spec has no phases:",
            spec_path="phases",
            hint="declare phases: {by:, order:, groups:} or drop --phase",
        )
    if phase not in spec.phases.order:
        raise SpecError(
            f"unknown phase {phase!r}; the phases are {', '.join(spec.phases.order)}",
            spec_path="phases.order",
        )
    return phase


def group_sql(phases: PhasesSpec, name: str, column: str, dialect: sa.Dialect) -> str:
    """One group's own condition (``remaining`` excluded): a list of tenants as ``IN`` over
    literals the engine's own quoting renders, or the user's condition in parentheses."""
    group = phases.groups[name]
    if isinstance(group, str):
        return f"({group})"
    values = ", ".join(
        str(sa.literal(v).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for v in group
    )
    return f"({column} IN ({values}))"


def phase_sql(phases: PhasesSpec, phase: str, column: str, dialect: sa.Dialect) -> str:
    """The rows of ``phase``: its group and none of the earlier ones, each NULL-safe (a
    condition that is NULL for a row counts as false, so NOT of it is true)."""
    index = phases.order.index(phase)

    def held(name: str) -> str:
        return f"COALESCE({group_sql(phases, name, column, dialect)}, FALSE)"

    earlier = [held(n) for n in phases.order[:index]]
    parts = [] if phases.groups[phase] == REMAINING else [held(phase)]
    if earlier:
        parts.append(f"NOT ({' OR '.join(earlier)})")
    return " AND ".join(parts) or "TRUE"


def tenant_column(by: str, dialect: sa.Dialect) -> str:
    """A table's tenant (its ``phase_column`` or ``phases.by``): a plain name quoted, an
    expression in parentheses."""
    if _IDENTIFIER.match(by):
        return str(dialect.identifier_preparer.quote(by))
    return f"({by})"


def _dialect(url: str) -> sa.Dialect:
    """An engine's SQL dialect (for quoting), without connecting."""
    dialect: Any = sa.engine.make_url(url).get_dialect()
    return dialect()  # type: ignore[no-any-return]


def _target_column(tspec: TableSpec, column: str) -> str:
    """The target name of source column ``column`` (``columns:`` may rename it)."""
    for name, col in (tspec.columns or {}).items():
        if (col.from_ or name) == column:
            return name
    return column


def phased(spec: MigrationSpec, phase: str) -> MigrationSpec:
    """The spec of one phase: its own migration identity (``<name>:<phase>``, so its state is
    its own), every table's source ``where`` narrowed to the phase's rows, and ``target_where``
    the same rows as the target holds them (a condition group's SQL is the target's as
    written: it names columns that move unrenamed)."""
    phase_of(spec, phase)
    phases = spec.phases
    assert phases is not None  # phase_of checked it
    src, tgt = _dialect(spec.source), _dialect(spec.target)
    tables = {}
    for name, tspec in spec.tables.items():
        by = tspec.phase_column or phases.by
        cond = phase_sql(phases, phase, tenant_column(by, src), src)
        t_by = _target_column(tspec, by) if _IDENTIFIER.match(by) else by
        t_cond = phase_sql(phases, phase, tenant_column(t_by, tgt), tgt)
        tables[name] = tspec.model_copy(
            update={
                "where": f"({tspec.where}) AND ({cond})" if tspec.where else cond,
                "target_where": (
                    f"({tspec.target_where}) AND ({t_cond})" if tspec.target_where else t_cond
                ),
            }
        )
    return spec.model_copy(update={"name": f"{spec.name}:{phase}", "tables": tables})
