"""Lookups: a foreign key translated to the parent's new key through the parent's target rows.

The parent's legacy column *is* the legacy → new key mapping (written in the same transaction
as its rows), so the translation reads it from the target, inside the caller's transaction.
The compiled mapping (``plan.compiled``: the load, sync, verify) and the second pass translate
through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.errors import RowError
from datamove.plan.model import ColumnPlan
from datamove.transforms.values import text_form

IN_LIST = 1000
"""Distinct values per parent query."""


def translator(
    tgt: Connection, col: ColumnPlan, values: Iterable[Any], in_place: bool = False
) -> Callable[[Any], Any]:
    """A function translating ``values`` (and NULL) of lookup column ``col`` to parent keys.

    The parent's legacy → new key pairs of these values are read from its target table in one
    query per ``IN_LIST`` distinct values; a value with no parent row follows ``on_orphan``.
    ``in_place`` gives the value the second pass leaves in a row already written: NULL for an
    orphan under ``reject`` (the pass records the reject; the row stays).
    """
    assert col.lookup is not None
    wanted = list({text_form(v): v for v in values if v is not None}.values())
    table = col.lookup.parent_table
    legacy, key = table.c[col.lookup.legacy_column], table.c[col.lookup.key_column]
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), IN_LIST):
        part = wanted[start : start + IN_LIST]
        for old, new in tgt.execute(sa.select(legacy, key).where(legacy.in_(part))):
            found[text_form(old)] = new
    policy = "null" if in_place and col.lookup.on_orphan == "reject" else col.lookup.on_orphan
    return _resolver(col, found, policy)


def _resolver(col: ColumnPlan, found: dict[str, Any], policy: str) -> Callable[[Any], Any]:
    """Translate one value through ``found`` (legacy key text → new key), or apply the orphan
    ``policy`` (``reject`` raises ``RowError`` naming the parent and the key)."""
    assert col.lookup is not None
    parent = col.lookup.parent

    def resolve(value: Any) -> Any:
        if value is None:
            return None
        new = found.get(text_form(value))
        if new is not None:
            return new
        if policy == "null":
            return None
        if policy == "keep":
            return value
        raise RowError(col.target, f"lookup: no {parent} row with key {value!r} (orphan)", value)

    return resolve
