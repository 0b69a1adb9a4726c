"""Resolve a spec against the live schemas into a ``Plan`` (with findings)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.retry import retrying
from datamove.core.types import TypeInfo
from datamove.dialects.base import Dialect, error_translator
from datamove.dialects.types import describe
from datamove.errors import SpecError, TransientError
from datamove.plan.computed import ComputedColumns
from datamove.plan.context import E, N, W, closest
from datamove.plan.findings import acknowledge
from datamove.plan.inverse import classify
from datamove.plan.keys import KeyRules, describe_deletes
from datamove.plan.lint import (
    lossy_findings,
    unconvertible_text_findings,
    unstorable_date_findings,
)
from datamove.plan.model import (
    ColumnPlan,
    Plan,
    TablePlan,
)
from datamove.plan.order import table_order
from datamove.plan.partitions import PartitionRules
from datamove.plan.pii import looks_personal
from datamove.plan.sqlcheck import SqlChecks
from datamove.plan.target import TargetSchema
from datamove.plan.values import mapped
from datamove.spec.models import (
    ColumnSpec,
    KeyStrategy,
    MigrationSpec,
    SyncMode,
    TableSpec,
)
from datamove.state.store import StateStore
from datamove.transforms import Transform, build
from datamove.transforms.builtin import Cast
from datamove.transforms.values import Map, text_form


def _reflect(conn: Connection, name: str, md: sa.MetaData, role: str) -> sa.Table:
    """A table just listed; gone when read means DDL ran in between: the retry lists again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # unknown types become plan findings
        try:
            return sa.Table(name, md, autoload_with=conn)
        except sa.exc.NoSuchTableError:
            raise TransientError(f"{role} table '{name}' was listed, then not found") from None


class Resolver(KeyRules, TargetSchema, ComputedColumns, PartitionRules, SqlChecks):
    """Builds a ``Plan`` for one spec from live source and target connections."""

    def resolve(
        self,
        src: Connection,
        tgt: Connection,
        data_lints: bool = True,
        recreate: frozenset[str] = frozenset(),
    ) -> Plan:
        """``data_lints``: also the warnings that read the source's data (zero dates), which
        matter before a run, not to verify one. ``recreate``: tables datamove created that a
        restart drops, planned as if absent (from the current mapping)."""
        src_names = sa.inspect(src).get_table_names()
        tgt_names = set(sa.inspect(tgt).get_table_names()) - recreate
        self.created = StateStore(self.target, self.spec.name).created_tables(tgt)
        source_md = sa.MetaData()
        reflected: dict[str, sa.Table] = {}
        copied_with_root = self._partitions_in_scope(src)
        for name, tspec in self.spec.tables.items():
            if name in copied_with_root:
                continue
            source_name = tspec.source or name
            if source_name not in src_names:
                self.add(
                    E,
                    "unknown-table",
                    f"source table '{source_name}' does not exist{closest(source_name, src_names)}",
                    f"tables.{name}" + (".source" if tspec.source else ""),
                    name,
                )
                continue
            reflected[name] = _reflect(src, source_name, source_md, "source")

        tables: dict[str, TablePlan] = {}
        for name, table in reflected.items():
            tspec = self.spec.tables[name]
            existing = _reflect(tgt, name, sa.MetaData(), "target") if name in tgt_names else None
            plan = self._table(name, tspec, table, existing, src)
            if plan is not None:
                tables[name] = plan

        self._partitioned_targets(src, tables, tgt_names)
        for role, dialect in (("source", self.source), ("target", self.target)):
            if note := dialect.faster_driver():
                self.add(N, "slower-driver", note, role)
        refused = self.check_sql(src, tgt, tables, queries=data_lints)
        for plan in tables.values() if data_lints else ():
            if plan.name in refused:
                continue
            self.findings.extend(unstorable_date_findings(self.source, src, plan))
            self.findings.extend(unconvertible_text_findings(self.source, src, plan))
        self._lookups(tables)
        self._foreign_keys(tables)
        order, cycle_findings = table_order(tables)
        self.findings.extend(cycle_findings)
        self._second_pass(tables)
        for plan in tables.values():
            self.findings.extend(classify(plan, self.spec.tables.get(plan.name)))
        return Plan(
            name=self.spec.name,
            source_url=self.source.safe_url,
            target_url=self.target.safe_url,
            tables=tables,
            order=order,
            findings=acknowledge(self.findings, self.spec.acknowledge, report_unused=data_lints),
            online=self.spec.sync.mode is not SyncMode.none,
        )

    # -- one table -------------------------------------------------------------------------

    def _table(
        self,
        name: str,
        tspec: TableSpec,
        src_table: sa.Table,
        existing: sa.Table | None,
        src: Connection,
    ) -> TablePlan | None:
        path = f"tables.{name}"
        src_cols = [c.name for c in src_table.columns]
        overrides = self.source.reflect_overrides(src, src_table)

        key = self._key(name, tspec, src_table, path)
        if key is None:
            return None
        nullable_key = self._nullable_key(name, tspec, src_table, key, src, path)
        for dropped in tspec.drop:
            if dropped not in src_cols:
                self.add(
                    E,
                    "unknown-column",
                    f"dropped column '{dropped}' is not in source table '{src_table.name}'"
                    f"{closest(dropped, src_cols)}",
                    f"{path}.drop",
                    name,
                    dropped,
                )

        specs = tspec.columns
        if specs is None:
            specs = {c: ColumnSpec() for c in src_cols if c not in tspec.drop}
        columns: list[ColumnPlan] = []
        for target, cspec in specs.items():
            planned = self._column(name, target, cspec, src_table, overrides, existing, key, path)
            if planned is not None:
                columns.append(planned)
        used = {cs.from_ or t for t, cs in specs.items()}
        used.update(n for c in columns for step in c.transforms for n in step.columns)
        for col in src_cols:
            if col not in used and col not in tspec.drop:
                self.add(
                    W,
                    "unmapped-column",
                    f"source column '{col}' is not mapped and not marked drop: its data "
                    "will not be moved",
                    f"{path}.columns",
                    name,
                    col,
                )

        where = self._delete_rules(name, tspec, columns, src_table, overrides, existing, key, path)
        strategy = tspec.key.strategy if tspec.key else KeyStrategy.preserve
        target_key: list[str] | None
        if strategy is not KeyStrategy.preserve:
            assert tspec.key is not None
            legacy = self._remap_key(name, tspec.key, columns, existing, path)
            target_key = None if legacy is None else [legacy]
        else:
            target_key = self._target_key(name, key, columns, path)
        if target_key is None:
            return None

        created = existing is None or name in self.created
        primary = (
            target_key
            if strategy is KeyStrategy.preserve
            else [c.target for c in columns if c.source == key[0] and not c.legacy]
        )
        json_columns = {n for n, i in overrides.items() if i.kind == "json"}
        checks = self._checks(name, columns, src_table, src, json_columns) if created else []
        desired = self._target_table(name, columns, primary, checks)
        target_table = desired
        if existing is not None:
            if not created:
                self._check_existing_target(name, existing, columns, path)
            target_table = existing
        else:
            if not self.spec.create_tables:
                self.add(
                    E,
                    "missing-target-table",
                    f"target table '{name}' does not exist and create_tables is false",
                    "create_tables",
                    name,
                )

        write_mode = self._write_mode(name, tspec, columns)
        rows, size = self.source.estimate(src, src_table)
        return TablePlan(
            strategy=strategy.value,
            name=name,
            source_name=src_table.name,
            source_table=src_table,
            target_table=target_table,
            key=key,
            target_key=target_key,
            where=where,
            target_where=tspec.target_where,
            deletes=describe_deletes(tspec),
            write_mode=write_mode.mode.value,
            newer_column=write_mode.column,
            columns=columns,
            batch_size=tspec.batch_size or self.spec.batch_size,
            create=created,
            exists=existing is not None,
            desired_table=desired,
            checks=checks,
            indexes=(
                self._indexes(
                    name, tspec, self.source.schema.indexes(src, src_table), columns, primary
                )
                if created
                else []
            ),
            rows_estimate=rows,
            bytes_estimate=size,
            nullable_key=nullable_key,
            dropped={c: why for c, why in tspec.drop.items() if c in src_cols},
        )

    def _key(self, name: str, tspec: TableSpec, table: sa.Table, path: str) -> list[str] | None:
        cols = [c.name for c in table.columns]
        if tspec.key is not None:
            bad = [k for k in tspec.key.columns if k not in cols]
            for k in bad:
                self.add(
                    E,
                    "unknown-column",
                    f"key column '{k}' is not in source table '{table.name}'{closest(k, cols)}",
                    f"{path}.key.columns",
                    name,
                    k,
                )
            return None if bad else list(tspec.key.columns)
        pk = [c.name for c in table.primary_key.columns]
        if pk:
            return pk
        uniques = [
            [c.name for c in idx.columns]
            for idx in table.indexes
            if idx.unique and all(not c.nullable for c in idx.columns)
        ]
        hint = (
            f"declare one, e.g. key: {{columns: {uniques[0]}}}"
            if uniques
            else "declare key: {columns: [...]} naming a unique, non-null column set"
        )
        self.add(
            E,
            "no-key",
            f"table '{table.name}' has no primary key to chunk by; {hint}",
            f"{path}.key",
            name,
        )
        return None

    def _nullable_key(
        self,
        name: str,
        tspec: TableSpec,
        table: sa.Table,
        key: list[str],
        src: Connection,
        path: str,
    ) -> list[str]:
        """The key columns that can hold NULL in the source: an error each, unless the spec
        declares ``not_null`` (the user asserts it; such rows become rejects at run time)."""
        nullable = self.source.nullable_columns(src, table, key)
        if tspec.key is not None and tspec.key.not_null:
            return nullable
        for k in nullable:
            self.add(
                E,
                "nullable-key",
                f"key column '{k}' of '{table.name}' can hold NULL: rows with NULL there cannot "
                f"be chunked or compared; declare key: {{columns: [{', '.join(key)}], "
                "not_null: true} if it never does (a row with NULL there then becomes a "
                "reject), or pick a key whose columns are NOT NULL",
                f"{path}.key.columns",
                name,
                k,
            )
        return nullable

    def _column(
        self,
        table: str,
        target: str,
        cspec: ColumnSpec,
        src_table: sa.Table,
        overrides: dict[str, TypeInfo],
        existing: sa.Table | None,
        key: list[str],
        path: str,
    ) -> ColumnPlan | None:
        cpath = f"{path}.columns.{target}"
        src_cols = [c.name for c in src_table.columns]
        first = cspec.transform[0].name if cspec.transform else None
        if first == "concat" and cspec.from_ is not None:
            self.add(
                E,
                "concat-from",
                f"concat takes every part from its columns: drop from: {cspec.from_} (list it "
                "in the concat's columns instead)",
                f"{cpath}.from",
                table,
                target,
            )
            return None
        source = cspec.from_ or (target if target in src_cols else None)
        if first == "concat":
            source = None  # it reads its parts, not a same-named source column
        if cspec.from_ and cspec.from_ not in src_cols:
            self.add(
                E,
                "unknown-column",
                f"source column '{cspec.from_}' is not in '{src_table.name}'"
                f"{closest(cspec.from_, src_cols)}",
                f"{cpath}.from",
                table,
                target,
            )
            return None
        if source is None and not cspec.has_default and first not in ("sql", "concat"):
            self.add(
                E,
                "unknown-column",
                f"'{target}' is not a source column of '{src_table.name}' and has no "
                f"from or default{closest(target, src_cols)}",
                cpath,
                table,
                target,
            )
            return None

        chain = cspec.chain()
        transforms: list[Transform] = [
            build(call.name, call.args, f"{cpath}.transform[{i}]") for i, call in enumerate(chain)
        ]
        src_col = src_table.columns[source] if source else None
        info = self.source_info(src_col, overrides) if src_col is not None else None
        nullable: bool = bool(
            cspec.nullable
            if cspec.nullable is not None
            else (src_col.nullable if src_col is not None else not cspec.has_default)
        )
        if cspec.nullable is None:
            nullable = self._reads_nullable(transforms, src_table, nullable)
            for step in transforms:  # e.g. nullif or map(else: null) can make NULLs
                nullable = step.nullable_after(nullable)
        if source in key and cspec.nullable is None:  # declared: a remapped key's legacy column
            nullable = False

        target_type: sa.types.TypeEngine[Any] | None
        if existing is not None:
            tcol = existing.columns.get(target)
            if tcol is None:
                self.add(
                    E,
                    "unknown-column",
                    f"target table '{table}' has no column '{target}'"
                    f"{closest(target, [c.name for c in existing.columns])}",
                    cpath,
                    table,
                    target,
                )
                return None
            target_type = tcol.type
            nullable = bool(tcol.nullable)  # an existing target's constraint is what binds
        else:
            target_type = self._target_type(
                cspec, transforms, info, source in key, cpath, table, target
            )
        if target_type is None:
            return None
        if info is not None and not transforms:
            label = describe(target_type, self.target.engine.dialect)
            info = self.source.read_as(info, self.target.classify(target_type, label))
        pushdown = self._pushdown(src_col, info, transforms)
        sql_only = any(t.SQL_ONLY for t in transforms)
        if sql_only and not pushdown:
            self.add(
                E,
                "sql-after-python",
                "a SQL-only step (when, sql, concat) cannot follow or be followed by a step "
                "computed in Python",
                f"{cpath}.transform",
                table,
                target,
            )
        self._lint_reads(table, target, transforms, src_table, overrides, cpath)
        column = ColumnPlan(
            target=target,
            source=source,
            transforms=transforms,
            source_info=info,
            target_type=target_type,
            target_type_text=describe(target_type, self.target.engine.dialect),
            nullable=nullable,
            pushdown=pushdown,
            pii=bool(cspec.pii),
            lookup_table=cspec.lookup,
            sql_only=sql_only,
            on_orphan=cspec.on_orphan.value,
        )
        self._lint_column(table, column, cpath)
        reference = source in key or bool(src_col is not None and src_col.foreign_keys)
        kind = info.kind if info is not None else None
        names = (table, src_table.name)
        if cspec.pii is None and looks_personal(names, (target, source), kind, reference):
            self.add(
                W,
                "pii-undeclared",
                f"'{target}' looks like personal data; declare pii: true (values masked in "
                "rejects and reports) or pii: false",
                cpath,
                table,
                target,
            )
        self._lint_enum_map(table, column, cpath)
        self._column_schema(table, column, src_col, src_table, cspec, existing, key, cpath)
        return column

    def _lint_enum_map(self, table: str, column: ColumnPlan, cpath: str) -> None:
        """An enum whose values a rejecting ``map`` does not cover would reject valid rows."""
        info = column.source_info
        maps = [t for t in column.transforms if isinstance(t, Map) and t.other == "reject"]
        if info is None or info.kind != "enum" or not maps:
            return
        missing = [v for v in info.values if text_form(v) not in maps[0].table]
        if missing:
            self.add(
                W,
                "enum-not-mapped",
                f"enum values {', '.join(map(repr, missing))} of '{column.source}' are not in "
                "the map: those rows would be rejected",
                cpath,
                table,
                column.target,
            )

    def _pushdown(
        self, src_col: sa.Column[Any] | None, info: TypeInfo | None, transforms: list[Transform]
    ) -> bool:
        """Whether the source can compute the whole chain (each step sees the previous SQL)."""
        expr: sa.ColumnElement[Any] = (
            self.source.read_expr(src_col, info) if src_col is not None else sa.null()
        )
        for t in transforms:
            sql = t.to_sql(expr, self.source)
            if sql is None:
                return False
            expr = sql
        return True

    def _target_type(
        self,
        cspec: ColumnSpec,
        transforms: list[Transform],
        info: TypeInfo | None,
        indexed: bool,
        cpath: str,
        table: str,
        target: str,
    ) -> sa.types.TypeEngine[Any] | None:
        if cspec.type:
            try:
                declared = Cast(cspec.type, f"{cpath}.type")
            except SpecError:
                raise SpecError(
                    f"type {cspec.type!r} is not a known column type",
                    spec_path=f"{cpath}.type",
                    hint="use smallint, integer, bigint, decimal(p,s), float, text, varchar(n), "
                    "boolean, date, timestamp, json or binary",
                ) from None
            info = self.target.classify(declared.sql_type(), cspec.type)
        else:
            typed = [(t, t.output_type()) for t in transforms]
            last = [(t, out) for t, out in typed if out is not None]
            if last:
                step, out = last[-1]
                info = self.target.classify(out, step.describe())
            elif info is not None and info.kind == "enum" and transforms:
                # The target enumerates the values the mapping writes, not the source's.
                values = mapped(transforms, list(info.values))
                info = (
                    dataclasses.replace(info, kind="text", values=())
                    if values is None
                    else dataclasses.replace(
                        info, values=tuple(sorted({str(v) for v in values if v is not None}))
                    )
                )
        if info is None:
            self.add(
                E,
                "unmappable-type",
                f"the source type of '{target}' has no known target type",
                f"{cpath}.type",
                table,
                target,
            )
            return None
        rendered = self.target.render(info, self.same_engine, indexed)
        if rendered is None:
            self.add(
                E,
                "unmappable-type",
                f"source type {info.label} has no {self.target.NAME} equivalent; declare "
                f"the target type with `type:` (or drop the column)",
                f"{cpath}.type",
                table,
                target,
            )
        elif info.note:
            self.add(
                N,
                "type-mapping",
                f"{info.label} → {describe(rendered, self.target.engine.dialect)}: {info.note}",
                cpath,
                table,
                target,
            )
        return rendered

    def _lint_column(self, table: str, column: ColumnPlan, cpath: str) -> None:
        if column.source_info is None or column.target_type is None:
            return
        if any(t.output_type() is not None for t in column.transforms):
            return  # a typed transform (cast, timezone, ...) is the user's declared conversion
        label = column.target_type_text
        target_info = self.target.classify(column.target_type, label)
        if target_info is None:
            return
        for severity, code, message in lossy_findings(column.source_info, target_info):
            self.add(severity, code, message, cpath, table, column.target)

    # -- target DDL ------------------------------------------------------------------------


def resolve_plan(
    spec: MigrationSpec,
    source: Dialect,
    target: Dialect,
    data_lints: bool = True,
    recreate: frozenset[str] = frozenset(),
) -> Plan:
    """Connect to both sides, reflect, and resolve ``spec`` into a ``Plan`` (``recreate``:
    created tables a restart drops, planned as if absent); a dropped connection resolves
    again on new ones (``core.retry``)."""

    def resolve() -> Plan:
        with source.connect() as src, target.connect() as tgt:
            return Resolver(spec, source, target).resolve(src, tgt, data_lints, recreate)

    return retrying(resolve, error_translator(source, target), lambda *_: None)
