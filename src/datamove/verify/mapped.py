"""A table as verification sees it: both sides' keys and compared columns, through the mapping.

The source side of each compared column is the very expression the copy reads
(``CompiledTable.mapped``: the source's read expression, then the pushed-down transform chain),
brought into canonical form by the source dialect; the target side is the target column in
canonical form. A remapped table is matched on its legacy column; a looked-up foreign key is
translated back to the parent's legacy key in the target, so a child pointing at the wrong
parent shows as a changed value.

A column the source database cannot compute (a Python transform), or whose canonical form an
engine cannot produce in SQL (JSON across engines), is compared in Python by a streaming
merge of both sides in key order instead (``merge``), and the check says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from datamove.core.canonical import Canon, canon_for
from datamove.core.keys import key_null, key_present
from datamove.core.types import TypeInfo
from datamove.dialects.base import Dialect
from datamove.plan.compiled import CompiledTable
from datamove.plan.model import ColumnPlan, Plan, TablePlan


@dataclass
class Compared:
    """One compared target column."""

    name: str
    canon: Canon
    plan: ColumnPlan
    source_sql: sa.ColumnElement[Any] | None
    """Canonical text computed by the source (None: compared in Python)."""
    target_sql: sa.ColumnElement[Any] | None
    pii: bool
    native: str | None = None
    """Both sides hold it untransformed in this hash family (``CanonicalSQL.NATIVE_HASH``): the
    checksum may digest the stored values instead of ``source_sql``/``target_sql``."""
    source_value: sa.ColumnElement[Any] | None = None
    """The source expression ``source_sql`` brings into canonical form: what the copy reads
    for the column (``CompiledTable.mapped``), or for a lookup the source's raw key."""


@dataclass
class KeyPart:
    """One key column: its source and target columns, as ranges compare them."""

    source: sa.ColumnElement[Any]
    target: sa.ColumnElement[Any]
    source_sortable: sa.ColumnElement[Any]
    target_sortable: sa.ColumnElement[Any]
    canon: Canon
    source_canonical: sa.ColumnElement[Any]
    target_canonical: sa.ColumnElement[Any]
    integer: bool


@dataclass
class MappedTable:
    """Everything verification needs to compare one table."""

    compiled: CompiledTable
    keys: list[KeyPart]
    columns: list[Compared]
    source_filter: sa.ColumnElement[bool]
    """The source rows compared: in scope, and with a key (see ``null_keys``)."""
    python_reasons: dict[str, str] = field(default_factory=dict)
    """Columns compared in Python, with why."""
    null_keys: sa.ColumnElement[bool] | None = None
    """The source rows in scope whose key is NULL (a key declared ``not_null``), or None
    when the key cannot be NULL: rejects by design, counted, never compared."""

    @property
    def plan(self) -> TablePlan:
        return self.compiled.plan

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def in_sql(self) -> list[Compared]:
        return [c for c in self.columns if c.name not in self.python_reasons]

    @property
    def in_python(self) -> list[Compared]:
        return [c for c in self.columns if c.name in self.python_reasons]

    @property
    def json_beside(self) -> bool:
        """Every column compared in Python is JSON on both sides, copied untransformed: only
        those documents stream (``jsonmerge``), beside the checksum of the rest. (An array
        that the copy turns into JSON, say, goes through the copy's conversion instead.)"""
        return bool(self.in_python) and all(
            c.canon.kind == "json"
            and not c.plan.transforms
            and c.plan.source_info is not None
            and c.plan.source_info.kind == "json"
            for c in self.in_python
        )

    @property
    def summed(self) -> bool:
        """The databases checksum the keys and ``in_sql`` columns; false only where the
        streaming merge of whole converted rows compares the table instead."""
        return bool(self.in_sql) or not self.in_python or self.json_beside

    @property
    def method(self) -> str:
        if not self.python_reasons:
            return "checksum"
        return "checksum+merge" if self.summed else "merge"


def map_table(
    plan: Plan,
    compiled: CompiledTable,
    float_digits: int,
    target_types: dict[str, TypeInfo],
) -> MappedTable:
    """The mapping-aware comparison of ``compiled`` (see the module docstring);
    ``target_types`` are the target dialect's reflection overrides (MariaDB JSON)."""
    table, source, target = compiled.plan, compiled.source, compiled.target
    src, tgt = table.source_table, table.target_table
    infos = {c.source: c.source_info for c in table.columns if c.source}
    keys: list[KeyPart] = []
    for s_name, t_name in zip(table.key, table.target_key, strict=True):
        info = infos.get(s_name)
        canon = canon_for(info)
        t_info = target_types.get(t_name) or _target_info(target, tgt.c[t_name])
        s_canon = source.canonical.text(src.c[s_name], canon, info)
        t_canon = target.canonical.text(tgt.c[t_name], canon, t_info)
        if s_canon is None or t_canon is None:
            s_canon, t_canon = sa.cast(src.c[s_name], sa.Text), sa.cast(tgt.c[t_name], sa.Text)
        keys.append(
            KeyPart(
                source=src.c[s_name],
                target=tgt.c[t_name],
                source_sortable=compiled.source_key[len(keys)],
                target_sortable=compiled.target_key[len(keys)],
                canon=canon,
                source_canonical=s_canon,
                target_canonical=t_canon,
                integer=info is not None and info.kind == "integer",
            )
        )
    key_targets = set(table.target_key)
    compared: list[Compared] = []
    reasons: dict[str, str] = {}
    for col in table.columns:
        if col.generated or col.target in key_targets:
            continue
        t_info = target_types.get(col.target) or _target_info(target, tgt.c[col.target])
        canon = canon_for(col.source_info if col.lookup else t_info, float_digits)
        s_value, s_sql, t_sql, why = _sides(plan, compiled, col, canon, t_info)
        family = None if why else _native_family(table, col, source, target)
        compared.append(Compared(col.target, canon, col, s_sql, t_sql, col.pii, family, s_value))
        if why:
            reasons[col.target] = why
    where: Any = sa.text(f"({table.where})") if table.where else sa.true()
    if not table.nullable_key:
        return MappedTable(compiled, keys, compared, where, reasons)
    nullable = [src.c[k] for k in table.nullable_key]
    compared_rows = sa.and_(where, key_present(nullable))
    return MappedTable(
        compiled, keys, compared, compared_rows, reasons, sa.and_(where, key_null(nullable))
    )


def _native_family(
    table: TablePlan, col: ColumnPlan, source: Dialect, target: Dialect
) -> str | None:
    """The common hash family of a column copied unchanged between two databases of one
    engine, or None."""
    native = source.canonical.NATIVE_HASH
    if native is None or not source.same_engine(target) or col.transforms or not col.source:
        return None
    if col.lookup is not None:
        return None
    family = native.family(table.source_table.c[col.source].type)
    return family if family == native.family(table.target_table.c[col.target].type) else None


def _target_info(target: Dialect, column: sa.Column[Any]) -> TypeInfo | None:
    return target.classify(column.type, str(column.type))


def _sides(
    plan: Plan,
    compiled: CompiledTable,
    col: ColumnPlan,
    canon: Canon,
    t_info: TypeInfo | None,
) -> tuple[
    sa.ColumnElement[Any] | None,
    sa.ColumnElement[Any] | None,
    sa.ColumnElement[Any] | None,
    str | None,
]:
    """(the source value, its canonical SQL, the target's canonical SQL, and why the column
    is compared in Python instead, or None)."""
    table, source, target = compiled.plan, compiled.source, compiled.target
    if not col.pushdown:
        return None, None, None, "a Python transform computes it"
    native_json = source.same_engine(target) and source.canonical.NATIVE_JSON_CANONICAL
    if canon.kind == "json" and not native_json:
        return None, None, None, "JSON is compared in Python across engines"
    expr = compiled.mapped(col)
    s_info = col.source_info if not col.transforms else t_info
    t_expr: sa.ColumnElement[Any] = table.target_table.c[col.target]
    if col.lookup is not None:
        raw = compiled.read(col)
        expr, t_expr, t_info = _lookup_sides(plan, table, col, raw, t_expr, target)
    s_sql = source.canonical.text(expr, canon, s_info)
    t_sql = target.canonical.text(t_expr, canon, t_info)
    if s_sql is None or t_sql is None:
        side = source if s_sql is None else target
        return None, None, None, f"{side.NAME} has no SQL for the canonical {canon.label} form"
    return expr, s_sql, t_sql, None


def _lookup_sides(
    plan: Plan,
    table: TablePlan,
    col: ColumnPlan,
    raw: sa.ColumnElement[Any],
    t_expr: sa.ColumnElement[Any],
    target: Dialect,
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], TypeInfo | None]:
    """A looked-up key compares as the parent's legacy key: the source's raw value against
    the legacy key of the parent row the target points at."""
    assert col.lookup is not None
    parent = col.lookup.parent_table
    legacy = parent.c[col.lookup.legacy_column]
    back: sa.ColumnElement[Any] = (
        sa.select(legacy).where(parent.c[col.lookup.key_column] == t_expr).scalar_subquery()
    )
    source_expr = raw
    if col.lookup.on_orphan == "null":  # an orphan was written as NULL
        p_plan = plan.tables[col.lookup.parent]
        p_src = p_plan.source_table
        exists = sa.exists().where(p_src.c[p_plan.key[0]] == raw)
        source_expr = sa.case((exists, raw), else_=sa.null())
    elif col.lookup.on_orphan == "keep":  # an orphan kept its source value
        back = sa.func.coalesce(back, t_expr)
    return source_expr, back, _target_info(target, legacy)
