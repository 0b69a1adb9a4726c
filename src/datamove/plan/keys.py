"""Key rules of the plan: preserved, remapped and uuid5 keys, lookups, and delete semantics."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from datamove.core.types import TypeInfo
from datamove.dialects.types import describe
from datamove.plan.context import E, N, ResolverBase, W, closest
from datamove.plan.model import (
    ColumnPlan,
    LookupPlan,
    TablePlan,
)
from datamove.spec.models import (
    ColumnSpec,
    CutoverMode,
    DeleteMode,
    KeySpec,
    KeyStrategy,
    TableSpec,
    TransformCall,
    WriteMode,
    WriteModeName,
)
from datamove.transforms import build


class KeyRules(ResolverBase):
    """Resolves what becomes of each table's key, its lookups, its deletes and how its
    chunks write."""

    def _write_mode(self, name: str, tspec: TableSpec, columns: list[ColumnPlan]) -> WriteMode:
        """The table's write mode (its own, else the migration's), checked."""
        mode = tspec.write_mode or self.spec.write_mode
        path = f"tables.{name}.write_mode" if tspec.write_mode else "write_mode"
        targets = [c.target for c in columns]
        if mode.column is not None and mode.column not in targets:
            self.add(
                E,
                "write-mode-column",
                f"upsert_if_newer compares '{mode.column}', which is not a column of "
                f"'{name}'{closest(mode.column, targets)}",
                path,
                name,
            )
        if mode.mode is WriteModeName.replace_range and (
            self.spec.cutover.mode is CutoverMode.dual_write
        ):
            self.add(
                W,
                "dual-write-replace",
                "replace_range deletes each chunk's key range in the target, rows the "
                "application wrote there too (cutover mode dual_write): use insert_missing or "
                "upsert_if_newer",
                path,
                name,
            )
        return mode

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
        legacy.identity = False  # a declared one copies the source key's generator: not it
        owner.identity = False  # the target makes the key (remap) or datamove does (uuid5)
        if spec.strategy is KeyStrategy.uuid5:
            call = TransformCall(
                name="uuid5", args={"namespace": str(spec.namespace), "name": name}
            )
            owner.transforms = [build(call.name, call.args, f"{path}.key")]
            owner.pushdown = False
            new_type: sa.types.TypeEngine[Any] = sa.Uuid()
        else:
            owner.generated = True
            new_type = self.target.generated_key_type()
        if existing is None:
            owner.target_type = new_type
            owner.target_type_text = describe(new_type, self.target.engine.dialect)
        return legacy_name

    def _lookups(self, tables: dict[str, TablePlan]) -> None:
        """Resolve ``lookup:`` columns against their parents' key plans."""
        for plan in tables.values():
            changed = False
            for column in plan.columns:
                if column.lookup_table is None:
                    continue
                cpath = f"tables.{plan.name}.columns.{column.target}.lookup"
                parent = tables.get(column.lookup_table)
                if parent is None:
                    self.add(
                        E,
                        "lookup-unknown",
                        f"lookup to '{column.lookup_table}', which is not a table in scope"
                        f"{closest(column.lookup_table, list(tables))}",
                        cpath,
                        plan.name,
                        column.target,
                    )
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
                if parent.name != plan.name:  # a lookup to itself is filled by a second pass
                    plan.parents.add(parent.name)
                if not plan.exists and key.target_type is not None:
                    column.target_type = key.target_type
                    column.target_type_text = key.target_type_text
                    changed = True
            if changed:  # the child's column now has the parent key's type
                self._rebuild_target_table(plan)

    def _second_pass(self, tables: dict[str, TablePlan]) -> None:
        """Defer the lookups that cannot be translated while their table loads: to the table
        itself, or to a parent the load order does not wait for (a broken cycle). Such a column
        is written NULL by the load and filled by a second pass, so it must hold NULL."""
        for plan in tables.values():
            changed = False
            cspecs = self.spec.tables[plan.name].columns or {}
            for column in plan.columns:
                lookup = column.lookup
                if lookup is None or (
                    lookup.parent != plan.name and lookup.parent not in plan.deferred_parents
                ):
                    continue
                column.lookup = dataclasses.replace(lookup, deferred=True)
                cpath = f"tables.{plan.name}.columns.{column.target}"
                why = (
                    "looks up its own table"
                    if lookup.parent == plan.name
                    else f"looks up '{lookup.parent}', which loads after '{plan.name}' "
                    "(foreign-key cycle)"
                )
                declared = cspecs[column.target].nullable if column.target in cspecs else None
                made_nullable = not column.nullable and not plan.exists and declared is None
                if made_nullable:
                    column.nullable = changed = True
                self.add(
                    N,
                    "second-pass",
                    f"'{column.target}' {why}: it is written NULL while '{plan.name}' loads, "
                    f"and {second_pass_words(column)}"
                    + (" (so it is created nullable)" if made_nullable else ""),
                    cpath,
                    plan.name,
                    column.target,
                )
                if column.transforms:
                    self.add(
                        E,
                        "second-pass-transform",
                        f"'{column.target}' is filled by a second pass with the parent's new key "
                        "as it is: it takes no transform, cast or default",
                        f"{cpath}.transform",
                        plan.name,
                        column.target,
                    )
                if not column.nullable:
                    self.add(
                        E,
                        "second-pass-not-null",
                        f"'{column.target}' is NULL until the second pass fills it, but the "
                        "target column is "
                        + ("declared nullable: false" if not plan.exists else "NOT NULL")
                        + ": allow NULL (it can be made NOT NULL again after the run)",
                        f"{cpath}.nullable" if not plan.exists else cpath,
                        plan.name,
                        column.target,
                    )
            if changed:  # created nullable: the load leaves the column NULL
                self._rebuild_target_table(plan)

    def _rebuild_target_table(self, plan: TablePlan) -> None:
        """Build a created table anew after its columns' types or nullability changed."""
        assert plan.desired_table is not None
        self.target_md.remove(plan.desired_table)
        primary = [c.name for c in plan.desired_table.primary_key.columns]
        options = plan.desired_table.dialect_kwargs  # partitioning, when it is carried
        plan.desired_table = self._target_table(plan.name, plan.columns, primary, plan.checks)
        plan.desired_table.dialect_kwargs.update(options)
        if not plan.exists:
            plan.target_table = plan.desired_table


def second_pass_words(column: ColumnPlan) -> str:
    """When a deferred lookup column is filled, in plain words (plan and mapping document)."""
    assert column.lookup is not None
    return f"{column.target} is filled in a second pass after {column.lookup.parent} is loaded"


def describe_deletes(tspec: TableSpec) -> str:
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
