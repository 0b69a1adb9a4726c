"""What ``datamove init`` proposes for each table, read from the live schemas.

Two decisions are taken here so that the written spec plans clean, and each is reported (a
note on stderr, a comment in the spec):

- a target that already holds a table or column under another spelling (``Customer`` /
  ``CustomerId`` for the source's ``customer`` / ``customer_id``) is matched ignoring case
  and separators, and the spec maps onto it instead of proposing a new table;
- a source column whose type the target has no equivalent for (PostgreSQL ``TSVECTOR`` into
  MariaDB) is proposed under ``drop`` with a TODO naming the alternative (``type:``), rather
  than left for ``plan`` to refuse.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.dialects.types import describe
from datamove.spec.selection import select_tables


@dataclass(frozen=True)
class ColumnDraft:
    name: str
    """The target column."""
    label: str
    """The source type in words (and any match), for the column's comment."""
    source: str | None = None
    """The source column (default: ``name``)."""

    @property
    def source_name(self) -> str:
        return self.name if self.source is None else self.source


@dataclass(frozen=True)
class TableDraft:
    """One source table as ``init`` writes it."""

    name: str
    """The target table (the spec's key)."""
    columns: list[ColumnDraft]
    key: list[str]
    """Source columns."""
    exists_in_target: bool
    note: str | None = None
    source: str | None = None
    """The source table (default: ``name``)."""
    drop: list[ColumnDraft] = field(default_factory=list)
    """Source columns proposed as not moved, each with the TODO saying why."""

    @property
    def source_name(self) -> str:
        return self.name if self.source is None else self.source


def folded(name: str) -> str:
    """A name without case and separators: ``CustomerId`` and ``customer_id`` agree."""
    return re.sub(r"[\W_]+", "", name.casefold())


def match_name(name: str, candidates: Sequence[str]) -> str | None:
    """``name`` if it is a candidate, else the one candidate equal to it ignoring case and
    separators (None when none is, or when several are: that is the user's choice)."""
    if name in candidates:
        return name
    found = [c for c in candidates if folded(c) == folded(name)]
    return found[0] if len(found) == 1 else None


def _partition_comment(
    source: Dialect, src: Connection, table: str, partitions: dict[str, str]
) -> str | None:
    """The ``init`` comment of a partitioned table, or of a partition asked for by name."""
    if table in partitions:
        root = partitions[table]
        return f"a partition of {root}: only its own rows ({root} copies every partition's)"
    scheme = source.schema.partitioning(src, table)
    if scheme is None:
        return None
    return f"partitioned ({scheme.summary()}): its partitions are copied through this table"


class Drafter:
    """Reflects the source (and the target's existing tables) into ``TableDraft``s."""

    def __init__(self, source: Dialect, target: Dialect) -> None:
        self.source = source
        self.target = target
        self.same_engine = source.same_engine(target)
        self.notes: list[str] = []

    def drafts(
        self, src: Connection, tgt: Connection, tables: Sequence[str], exclude: Sequence[str]
    ) -> list[TableDraft]:
        """The tables in scope (patterns, see ``spec.selection``); datamove's own tables and
        partitions only when named exactly."""
        available = sa.inspect(src).get_table_names()
        existing = sa.inspect(tgt).get_table_names()
        # A partition's rows are read through its root table: listed once, as the root.
        partitions = self.source.schema.partitions(src)
        hidden = {t for t in available if t.startswith("datamove_")} | set(partitions)
        chosen = select_tables(available, tables, exclude, hidden=hidden)
        md = sa.MetaData()
        out = []
        for name in chosen:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sa.exc.SAWarning)
                table = sa.Table(name, md, autoload_with=src)
            target = match_name(name, existing)
            if target is not None and target != name:
                self.notes.append(
                    f"source table {name} maps onto the target's existing {target} "
                    "(names matched ignoring case and separators)"
                )
            draft = self._table(src, tgt, table, target)
            out.append(
                TableDraft(
                    name=target or name,
                    source=name,
                    columns=draft[0],
                    key=[c.name for c in table.primary_key.columns],
                    exists_in_target=target is not None,
                    note=_partition_comment(self.source, src, name, partitions),
                    drop=draft[1],
                )
            )
        return out

    def _table(
        self, src: Connection, tgt: Connection, table: sa.Table, target: str | None
    ) -> tuple[list[ColumnDraft], list[ColumnDraft]]:
        """The columns moved and the columns proposed as dropped."""
        target_columns = (
            [c["name"] for c in sa.inspect(tgt).get_columns(target)] if target else None
        )
        overrides = self.source.reflect_overrides(src, table)
        keys = {c.name for c in table.primary_key.columns}
        columns: list[ColumnDraft] = []
        dropped: list[ColumnDraft] = []
        for col in table.columns:
            label = describe(col.type, self.source.engine.dialect)
            comment = label + ("" if col.nullable else " NOT NULL")
            if target_columns is not None:
                name = match_name(col.name, target_columns) or col.name
                if name != col.name:
                    comment += f"; matches target column {name} (case and separators ignored)"
                    self.notes.append(
                        f"{table.name}.{col.name} maps onto the target's {target}.{name}"
                    )
                columns.append(ColumnDraft(name, comment, col.name))
                continue
            info = overrides.get(col.name) or self.source.classify(col.type, label)
            indexed = col.name in keys
            rendered = None if info is None else self.target.render(info, self.same_engine, indexed)
            if rendered is None and not indexed:
                todo = (
                    f"TODO {col.name}: source type {label} has no {self.target.NAME} "
                    f"equivalent, so it is dropped; to move it, take it out of drop and add "
                    f"{col.name}: {{from: {col.name}, type: text}} (or another type)"
                )
                dropped.append(ColumnDraft(col.name, todo))
                self.notes.append(
                    f"{table.name}.{col.name}: {label} has no {self.target.NAME} equivalent; "
                    "proposed as drop (see the TODO in the spec)"
                )
                continue
            if rendered is None:
                comment += f"; TODO: no {self.target.NAME} equivalent: declare type:"
            columns.append(ColumnDraft(col.name, comment))
        return columns, dropped
