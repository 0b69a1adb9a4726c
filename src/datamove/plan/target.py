"""The target schema of the plan: created tables, indexes and foreign keys after the load."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from datamove.plan.context import E, N, ResolverBase
from datamove.plan.model import (
    ColumnPlan,
    ForeignKeyPlan,
    IndexPlan,
    TablePlan,
)


class TargetSchema(ResolverBase):
    """Builds the target tables datamove creates, and checks the ones that exist."""

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
                cols = tuple(child_map[c] for c in local)
                reference = ForeignKeyPlan(
                    name=f"{plan.name}_{'_'.join(cols)}_fkey"[:60],
                    columns=cols,
                    parent=parent.name,
                    parent_columns=tuple(parent_map[c] for c in remote),
                    ondelete=fk.ondelete,
                    onupdate=fk.onupdate,
                )
                plan.references.append(reference)
                if plan.create:
                    plan.foreign_keys.append(reference)
