"""Resolve a spec against the live schemas into a ``Plan`` (with findings)."""

from __future__ import annotations

import difflib
import re
import warnings
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.dialects.types import TypeInfo, describe
from datamove.errors import SpecError
from datamove.plan.lint import lossy_findings
from datamove.plan.model import (
    ColumnPlan,
    Finding,
    ForeignKeyPlan,
    IndexPlan,
    LookupPlan,
    Plan,
    Severity,
    TablePlan,
)
from datamove.plan.order import table_order
from datamove.spec.models import (
    ColumnSpec,
    DeleteMode,
    KeySpec,
    KeyStrategy,
    MigrationSpec,
    TableSpec,
    TransformCall,
)
from datamove.transforms import Transform, build
from datamove.transforms.builtin import Cast
from datamove.transforms.values import Map, text_form

E, W, N = Severity.error, Severity.warning, Severity.note
_PERSONAL = re.compile(r"e_?mail|phone|mobile|ssn|social_sec|iban|card|birth|address|name", re.I)


def _looks_personal(*names: str | None) -> bool:
    return any(n is not None and _PERSONAL.search(n) for n in names)


def _closest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"; did you mean '{close[0]}'?" if close else ""


def _reflect(conn: Connection, name: str, md: sa.MetaData) -> sa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # unknown types become plan findings
        return sa.Table(name, md, autoload_with=conn)


class Resolver:
    """Builds a ``Plan`` for one spec from live source and target connections."""

    def __init__(self, spec: MigrationSpec, source: Dialect, target: Dialect) -> None:
        self.spec = spec
        self.source = source
        self.target = target
        self.same_engine = type(source) is type(target) or (
            source.engine.dialect.name == target.engine.dialect.name
        )
        self.findings: list[Finding] = []
        self.target_md = sa.MetaData()

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        path: str,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        self.findings.append(Finding(severity, code, message, path, table, column))

    def resolve(self, src: Connection, tgt: Connection) -> Plan:
        src_names = sa.inspect(src).get_table_names()
        tgt_names = set(sa.inspect(tgt).get_table_names())
        source_md = sa.MetaData()
        reflected: dict[str, sa.Table] = {}
        for name, tspec in self.spec.tables.items():
            source_name = tspec.source or name
            if source_name not in src_names:
                self.add(
                    E,
                    "unknown-table",
                    f"source table '{source_name}' does not exist"
                    f"{_closest(source_name, src_names)}",
                    f"tables.{name}" + (".source" if tspec.source else ""),
                    name,
                )
                continue
            reflected[name] = _reflect(src, source_name, source_md)

        tables: dict[str, TablePlan] = {}
        for name, table in reflected.items():
            tspec = self.spec.tables[name]
            existing = _reflect(tgt, name, sa.MetaData()) if name in tgt_names else None
            plan = self._table(name, tspec, table, existing, src)
            if plan is not None:
                tables[name] = plan

        self._lookups(tables)
        self._foreign_keys(tables)
        order, cycle_findings = table_order(tables)
        self.findings.extend(cycle_findings)
        return Plan(
            name=self.spec.name,
            source_url=self.source.safe_url,
            target_url=self.target.safe_url,
            tables=tables,
            order=order,
            findings=self.findings,
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
        for dropped in tspec.drop:
            if dropped not in src_cols:
                self.add(
                    E,
                    "unknown-column",
                    f"dropped column '{dropped}' is not in source table '{src_table.name}'"
                    f"{_closest(dropped, src_cols)}",
                    f"{path}.drop",
                    name,
                    dropped,
                )

        specs: dict[str, ColumnSpec]
        if tspec.columns is None:
            specs = {c: ColumnSpec() for c in src_cols if c not in tspec.drop}
        else:
            specs = tspec.columns
            used = {cs.from_ or t for t, cs in specs.items()}
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

        columns: list[ColumnPlan] = []
        for target, cspec in specs.items():
            planned = self._column(name, target, cspec, src_table, overrides, existing, key, path)
            if planned is not None:
                columns.append(planned)

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

        if existing is not None:
            self._check_existing_target(name, existing, columns, path)
            target_table = existing
        else:
            primary = (
                target_key
                if strategy is KeyStrategy.preserve
                else [c.target for c in columns if c.source == key[0] and not c.legacy]
            )
            target_table = self._target_table(name, columns, primary)
            if not self.spec.create_tables:
                self.add(
                    E,
                    "missing-target-table",
                    f"target table '{name}' does not exist and create_tables is false",
                    "create_tables",
                    name,
                )

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
            deletes=_describe_deletes(tspec),
            columns=columns,
            batch_size=tspec.batch_size or self.spec.batch_size,
            create=existing is None,
            indexes=[] if existing is not None else self._indexes(src_table, columns, target_table),
            rows_estimate=rows,
            bytes_estimate=size,
        )

    def _delete_rules(
        self,
        name: str,
        tspec: TableSpec,
        columns: list[ColumnPlan],
        src_table: sa.Table,
        overrides: dict[str, TypeInfo],
        existing: sa.Table | None,
        key: list[str],
        path: str,
    ) -> str | None:
        """Apply ``deletes``: ``skip`` narrows the source filter; ``soft`` adds the delete
        column (set where ``when`` holds). Returns the effective source filter."""
        rules, where = tspec.deletes, tspec.where
        if rules.mode is DeleteMode.skip:
            kept = f"NOT ({rules.when})"
            return f"({where}) AND {kept}" if where else kept
        if rules.mode is DeleteMode.soft:
            assert rules.column is not None
            if any(c.target == rules.column for c in columns):
                self.add(
                    E,
                    "delete-column-mapped",
                    f"'{rules.column}' is both a mapped column and the soft-delete column",
                    f"{path}.deletes.column",
                    name,
                    rules.column,
                )
                return where
            step = {"when": {"sql": rules.when, "value": rules.value}}
            spec = ColumnSpec.model_validate(
                {"from": rules.from_, "transform": [step]}
                if rules.from_ is not None
                else {"transform": [step], "default": None}
            )
            column = self._column(
                name, rules.column, spec, src_table, overrides, existing, key, f"{path}.deletes"
            )
            if column is not None:
                column.nullable = True
                columns.append(column)
        return where

    def _target_key(
        self, name: str, key: list[str], columns: list[ColumnPlan], path: str
    ) -> list[str] | None:
        """The target columns holding the (preserved) key, in key order."""
        target_key: list[str] = []
        for k in key:
            mapped = [c for c in columns if c.source == k]
            if not mapped:
                self.add(
                    E,
                    "key-not-mapped",
                    f"key column '{k}' is not mapped to the target",
                    f"{path}.columns",
                    name,
                    k,
                )
                return None
            if mapped[0].transforms:
                self.add(
                    E,
                    "key-transformed",
                    f"key column '{k}' must be moved unchanged (chunks are key ranges)",
                    f"{path}.columns.{mapped[0].target}",
                    name,
                    k,
                )
            target_key.append(mapped[0].target)
        return target_key

    def _remap_key(
        self,
        name: str,
        spec: KeySpec,
        columns: list[ColumnPlan],
        existing: sa.Table | None,
        path: str,
    ) -> str | None:
        """Turn the key column into a remapped (generated) or uuid5 key, and add the legacy
        column that keeps the source key; returns the legacy column (chunk ranges use it)."""
        source_key = spec.columns[0]
        owner = next((c for c in columns if c.source == source_key and not c.transforms), None)
        if owner is None:
            self.add(
                E,
                "key-not-mapped",
                f"key column '{source_key}' is not mapped to the target",
                f"{path}.columns",
                name,
                source_key,
            )
            return None
        legacy_name = spec.legacy_column or f"legacy_{source_key}"
        legacy = next((c for c in columns if c.target == legacy_name), None)
        if legacy is None:
            assert owner.source_info is not None
            legacy_type = self.target.render(owner.source_info, self.same_engine, indexed=True)
            if existing is not None:
                found = existing.columns.get(legacy_name)
                legacy_type = found.type if found is not None else None
            if legacy_type is None:
                self.add(
                    E,
                    "unknown-column",
                    f"the target has no legacy column '{legacy_name}' for the source key",
                    f"{path}.key.legacy_column",
                    name,
                    legacy_name,
                )
                return None
            legacy = ColumnPlan(
                target=legacy_name,
                source=source_key,
                transforms=[],
                source_info=owner.source_info,
                target_type=legacy_type,
                target_type_text=describe(legacy_type, self.target.engine.dialect),
                nullable=False,
                pushdown=True,
            )
            columns.append(legacy)
        legacy.legacy = True
        if spec.strategy is KeyStrategy.uuid5:
            call = TransformCall(
                name="uuid5", args={"namespace": str(spec.namespace), "name": name}
            )
            owner.transforms = [build(call, f"{path}.key")]
            owner.pushdown = False
            new_type: sa.types.TypeEngine[Any] = sa.Uuid()
        else:
            owner.generated = True
            new_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        if existing is None:
            owner.target_type = new_type
            owner.target_type_text = describe(new_type, self.target.engine.dialect)
        return legacy_name

    def _key(self, name: str, tspec: TableSpec, table: sa.Table, path: str) -> list[str] | None:
        cols = [c.name for c in table.columns]
        if tspec.key is not None:
            bad = [k for k in tspec.key.columns if k not in cols]
            for k in bad:
                self.add(
                    E,
                    "unknown-column",
                    f"key column '{k}' is not in source table '{table.name}'{_closest(k, cols)}",
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
        source = cspec.from_ or (target if target in src_cols else None)
        if cspec.from_ and cspec.from_ not in src_cols:
            self.add(
                E,
                "unknown-column",
                f"source column '{cspec.from_}' is not in '{src_table.name}'"
                f"{_closest(cspec.from_, src_cols)}",
                f"{cpath}.from",
                table,
                target,
            )
            return None
        if source is None and not cspec.has_default:
            self.add(
                E,
                "unknown-column",
                f"'{target}' is not a source column of '{src_table.name}' and has no "
                f"from or default{_closest(target, src_cols)}",
                cpath,
                table,
                target,
            )
            return None

        chain = cspec.chain()
        transforms: list[Transform] = [
            build(call, f"{cpath}.transform[{i}]") for i, call in enumerate(chain)
        ]
        src_col = src_table.columns[source] if source else None
        info = self._source_info(src_col, overrides) if src_col is not None else None
        nullable: bool = bool(
            cspec.nullable
            if cspec.nullable is not None
            else (src_col.nullable if src_col is not None else not cspec.has_default)
        )
        if cspec.nullable is None:
            for step in transforms:  # e.g. nullif or map(else: null) can make NULLs
                nullable = step.nullable_after(nullable)
        if source in key:
            nullable = False

        target_type: sa.types.TypeEngine[Any] | None
        if existing is not None:
            tcol = existing.columns.get(target)
            if tcol is None:
                self.add(
                    E,
                    "unknown-column",
                    f"target table '{table}' has no column '{target}'"
                    f"{_closest(target, [c.name for c in existing.columns])}",
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
        pushdown = self._pushdown(src_col, info, transforms)
        sql_only = any(t.SQL_ONLY for t in transforms)
        if sql_only and not pushdown:
            self.add(
                E,
                "sql-after-python",
                "a SQL-only step (when) cannot follow a step computed in Python",
                f"{cpath}.transform",
                table,
                target,
            )
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
        if cspec.pii is None and _looks_personal(target, source):
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

    def _source_info(self, col: sa.Column[Any], overrides: dict[str, TypeInfo]) -> TypeInfo | None:
        label = describe(col.type, self.source.engine.dialect)
        return overrides.get(col.name) or self.source.classify(col.type, label)

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

    def _target_table(self, name: str, columns: list[ColumnPlan], key: list[str]) -> sa.Table:
        cols: list[Any] = []
        for c in columns:
            assert c.target_type is not None
            cols.append(
                sa.Column(
                    c.target,
                    c.target_type,
                    primary_key=c.target in key,
                    nullable=c.nullable,
                    autoincrement=c.generated,
                )
            )
            if c.legacy:  # chunk deletes and lookups find rows by it: unique, indexed up front
                cols.append(sa.UniqueConstraint(c.target, name=f"{name}_{c.target}_key"[:60]))
            if (
                c.source_info is not None
                and c.source_info.kind == "enum"
                and not isinstance(c.target_type, sa.Enum)
            ):
                cols.append(
                    sa.CheckConstraint(
                        sa.column(c.target).in_(list(c.source_info.values)),
                        name=f"{name}_{c.target}_check"[:60],
                    )
                )
        return sa.Table(name, self.target_md, *cols, **self.target.table_kwargs())

    def _indexes(
        self, src: sa.Table, columns: list[ColumnPlan], table: sa.Table
    ) -> list[IndexPlan]:
        by_source = {c.source: c.target for c in columns if c.source}
        out: list[IndexPlan] = []
        for idx in sorted(src.indexes, key=lambda i: i.name or ""):
            names = [c.name for c in idx.columns]
            if not names or not all(n in by_source for n in names):
                continue
            targets = [by_source[n] for n in names]
            if targets == [c.name for c in table.primary_key.columns]:
                continue
            idx_name = (f"{table.name}_{'_'.join(targets)}_{'u' if idx.unique else ''}idx")[:60]
            out.append(IndexPlan(idx_name, tuple(targets), bool(idx.unique)))
        return out

    def _check_existing_target(
        self, name: str, existing: sa.Table, columns: list[ColumnPlan], path: str
    ) -> None:
        mapped = {c.target for c in columns}
        for col in existing.columns:
            if col.name in mapped or col.nullable or col.server_default is not None:
                continue
            if col.autoincrement is True or (
                col.primary_key
                and col.autoincrement == "auto"
                and isinstance(col.type, sa.Integer)
                and len(existing.primary_key.columns) == 1
            ):
                continue
            self.add(
                E,
                "not-null-unfilled",
                f"target column '{name}.{col.name}' is NOT NULL but has no source and no default",
                f"{path}.columns.{col.name}",
                name,
                col.name,
            )

    def _lookups(self, tables: dict[str, TablePlan]) -> None:
        """Resolve ``lookup:`` columns against their parents' key plans."""
        for plan in tables.values():
            changed = False
            for column in plan.columns:
                if column.lookup_table is None:
                    continue
                cpath = f"tables.{plan.name}.columns.{column.target}.lookup"
                parent = tables.get(column.lookup_table)
                if parent is None or parent.name == plan.name:
                    why = (
                        "a table's lookup to itself is not supported yet"
                        if parent is not None
                        else f"lookup to '{column.lookup_table}', which is not a table in scope"
                        f"{_closest(column.lookup_table, list(tables))}"
                    )
                    self.add(E, "lookup-unknown", why, cpath, plan.name, column.target)
                    continue
                legacy = next((c for c in parent.columns if c.legacy), None)
                key = next(
                    (c for c in parent.columns if c.source == parent.key[0] and not c.legacy), None
                )
                if key is None or len(parent.key) != 1:
                    self.add(
                        E,
                        "lookup-unknown",
                        f"'{parent.name}' has no single-column key to look up",
                        cpath,
                        plan.name,
                        column.target,
                    )
                    continue
                column.lookup = LookupPlan(
                    parent=parent.name,
                    parent_table=parent.target_table,
                    legacy_column=(legacy or key).target,
                    key_column=key.target,
                    on_orphan=column.on_orphan,
                )
                column.pushdown = False
                plan.parents.add(parent.name)
                if plan.create and key.target_type is not None:
                    column.target_type = key.target_type
                    column.target_type_text = key.target_type_text
                    changed = True
            if changed:  # the child's column now has the parent key's type
                self.target_md.remove(plan.target_table)
                primary = [c.name for c in plan.target_table.primary_key.columns]
                plan.target_table = self._target_table(plan.name, plan.columns, primary)

    def _foreign_keys(self, tables: dict[str, TablePlan]) -> None:
        by_source = {p.source_name: p for p in tables.values()}
        for plan in tables.values():
            for fk in sorted(
                plan.source_table.foreign_key_constraints, key=lambda f: str(f.name or "")
            ):
                parent = by_source.get(fk.referred_table.name)
                if parent is None:
                    self.add(
                        N,
                        "fk-out-of-scope",
                        f"foreign key to '{fk.referred_table.name}' (not in scope) is not "
                        "recreated",
                        f"tables.{plan.name}",
                        plan.name,
                    )
                    continue
                child_map = {c.source: c.target for c in plan.columns if c.source}
                parent_map = {
                    c.source: c.target for c in parent.columns if c.source and not c.legacy
                }
                remapped = [
                    c
                    for c in plan.columns
                    if c.source in {e.parent.name for e in fk.elements}
                    and parent.strategy != "preserve"
                    and c.lookup is None
                ]
                for column in remapped:
                    self.add(
                        E,
                        "lookup-needed",
                        f"'{column.target}' references '{parent.name}', whose key is "
                        f"{parent.strategy}d: declare lookup: {parent.name}",
                        f"tables.{plan.name}.columns.{column.target}",
                        plan.name,
                        column.target,
                    )
                local = [e.parent.name for e in fk.elements]
                remote = [e.column.name for e in fk.elements]
                if not all(c in child_map for c in local) or not all(
                    c in parent_map for c in remote
                ):
                    continue
                if parent.name != plan.name:
                    plan.parents.add(parent.name)
                if plan.create:
                    cols = tuple(child_map[c] for c in local)
                    plan.foreign_keys.append(
                        ForeignKeyPlan(
                            name=f"{plan.name}_{'_'.join(cols)}_fkey"[:60],
                            columns=cols,
                            parent=parent.name,
                            parent_columns=tuple(parent_map[c] for c in remote),
                            ondelete=fk.ondelete,
                            onupdate=fk.onupdate,
                        )
                    )


def resolve_plan(spec: MigrationSpec, source: Dialect, target: Dialect) -> Plan:
    """Connect to both sides, reflect, and resolve ``spec`` into a ``Plan``."""
    with source.connect() as src, target.connect() as tgt:
        try:
            return Resolver(spec, source, target).resolve(src, tgt)
        except sa.exc.DBAPIError as exc:
            raise source.translate(exc) from exc


def _describe_deletes(tspec: TableSpec) -> str:
    """The table's delete semantics in plain words (plan and mapping document)."""
    rules = tspec.deletes
    if rules.mode is DeleteMode.skip:
        return f"rows where `{rules.when}` are deleted rows: they are not moved"
    if rules.mode is DeleteMode.soft:
        value = f"`{rules.from_}`" if rules.from_ is not None else repr(rules.value)
        return (
            f"soft: rows where `{rules.when}` are moved with `{rules.column}` set to "
            f"{value}; other rows have it NULL"
        )
    return "hard: a row deleted in the source is deleted in the target; nothing is marked"
