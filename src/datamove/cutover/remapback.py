"""The rollback's way back through remapped keys and lookups (``cutover.reverse``).

A remapped table's target key is made by the target; its source key is in the legacy column.
Reverse capture records the legacy value beside the target key (``captured_key``), so a row
deleted on the target still names its source row. A row the application inserted after the
switch has no legacy value: ``allocate`` gives it the next source key (past the source's
largest key, its generator and every legacy value) and writes it into the target row's legacy
column first, in a target transaction of its own (under the target fence's bypass). Only then
does the source get the row; a replay killed in between and run again finds the legacy value
and upserts the same key: never a second insert. The source's generator is set past the keys
given afterwards (``Replay``).

A lookup column holds the parent's new key: it goes back to the parent's legacy value, read
from the parent's target rows after the parent's new rows got theirs (``Translations``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.errors import RowError, SpecError
from datamove.plan.model import LookupPlan, TablePlan

READ_BATCH = 500


def legacy_column(table: TablePlan) -> str | None:
    """The target column holding a remapped table's source key (None: the key is kept)."""
    if table.strategy == "preserve":
        return None
    return next((c.target for c in table.columns if c.legacy), None)


def row_key(table: TablePlan) -> list[str]:
    """The target columns that name a row on the target: the key the target makes for a
    remapped table (its ``target_key`` is the legacy column, NULL in a row the application
    inserted), else the target key."""
    if legacy_column(table) is None:
        return table.target_key
    return [c.target for c in table.columns if c.source == table.key[0] and not c.legacy]


def captured_key(table: TablePlan) -> list[str]:
    """What reverse capture records of a changed target row: its ``row_key``, and the legacy
    column of a remapped table (a deleted row's source key)."""
    legacy = legacy_column(table)
    return row_key(table) + ([legacy] if legacy else [])


def allocate(source: Dialect, target: Dialect, table: TablePlan, rows: list[dict[str, Any]]) -> int:
    """Give each of ``rows`` (present target rows) without a legacy value the next source key,
    written into the target row first (see the module docstring); ``rows`` are updated in
    place. Returns how many got one."""
    legacy = legacy_column(table)
    new = [r for r in rows if legacy is not None and r[legacy] is None]
    if not new or legacy is None:
        return 0
    key = table.key[0]
    column = table.source_table.c[key]
    if _int_type(column.type) is False:
        raise SpecError(
            f"rollback: {len(new)} row(s) the application inserted into {table.name} have no "
            f"source key ({legacy} is NULL) and the source key {key} is not an integer: "
            "datamove cannot give them one",
            spec_path=f"tables.{table.name}.key",
            hint="give those rows a source key in the target's legacy column, then run "
            "`datamove rollback SPEC` again",
        )
    with source.connect() as src:
        top = src.execute(sa.select(sa.func.max(column))).scalar()
        generated = source.schema.next_generated(src, table.source_table, key)
    t = table.target_table
    with target.connect() as tgt, target.fence.bypass(tgt), tgt.begin():
        given = tgt.execute(sa.select(sa.func.max(t.c[legacy]))).scalar()
        start = max(int(top or 0) + 1, int(given or 0) + 1, int(generated or 0))
        for i, row in enumerate(new):
            match = [t.c[k] == row[k] for k in row_key(table)]
            stmt = sa.update(t).where(*match, t.c[legacy].is_(None)).values({legacy: start + i})
            tgt.execute(stmt)
            row[legacy] = start + i
    return len(new)


def _int_type(type_: sa.types.TypeEngine[Any]) -> bool:
    try:
        return type_.python_type is int
    except NotImplementedError:
        return False


class Translations:
    """Each lookup parent's new key → legacy value, read from the target for the values the
    replayed rows hold (``load``), so a lookup column goes back to the parent's source key."""

    def __init__(self) -> None:
        self.pairs: dict[str, dict[Any, Any]] = {}

    def load(self, tgt: sa.Connection, lookup: LookupPlan, values: Iterable[Any]) -> None:
        """The pairs of ``values`` under ``lookup``; refuses a parent whose key or legacy
        column repeats a value (the way back would not be one to one), naming them."""
        wanted = sorted({v for v in values if v is not None}, key=repr)
        t = lookup.parent_table
        key, legacy = t.c[lookup.key_column], t.c[lookup.legacy_column]
        found: list[tuple[Any, Any]] = []
        for start in range(0, len(wanted), READ_BATCH):
            part = wanted[start : start + READ_BATCH]
            found += [tuple(r) for r in tgt.execute(sa.select(key, legacy).where(key.in_(part)))]
        legacies = Counter(v for _, v in found if v is not None)
        twice = sorted({k for k, n in Counter(k for k, _ in found).items() if n > 1}, key=repr)
        twice += sorted({v for v, n in legacies.items() if n > 1}, key=repr)
        if twice:
            raise SpecError(
                f"rollback: the lookup through {lookup.parent}.{lookup.legacy_column} is not one "
                f"to one: {', '.join(map(repr, twice[:10]))} repeated",
                spec_path=f"tables.{lookup.parent}.key",
                hint="make the parent's key and legacy column unique in the target",
            )
        self.pairs.setdefault(lookup.parent, {}).update(found)

    def row(self, backs: Iterable[Any], row: dict[str, Any], place: str) -> dict[str, Any]:
        """The lookup columns of ``row`` (``backs``: each with its ``lookup``), gone back."""
        return {b.target: self.back(b.lookup, row[b.target], place, b.target) for b in backs}

    def back(self, lookup: LookupPlan, value: Any, place: str, column: str) -> Any:
        """The parent's legacy value of ``value`` (NULL stays NULL)."""
        if value is None:
            return None
        pairs = self.pairs.get(lookup.parent, {})
        if value not in pairs or pairs[value] is None:
            raise RowError(
                column,
                f"{place}: {column} = {value!r} has no row with a source key in "
                f"{lookup.parent}: cannot go back into the source",
                value,
            )
        return pairs[value]
