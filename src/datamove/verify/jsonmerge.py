"""JSON columns across engines: both sides' documents streamed in key order and compared.

No two engines write a document in one text form (PostgreSQL ``jsonb`` orders keys by length,
MariaDB keeps the text as inserted), so such a column is compared in Python. Only the keys and
the documents travel, as text, and a document is compared in its ``orjson`` form (parsed, keys
sorted) — a few hundred nanoseconds — rather than in the canonical text of ``canonical``:

- equal ``orjson`` forms mean equal canonical forms when every number in both texts fits a
  double exactly, which numbers of up to 15 significant digits in the normal range do; a
  text holding a run of 16 digits and points, or a negative exponent of three digits, might
  not, and goes the canonical way instead (an exponent too large for a double fails to parse
  and goes that way too);
- different ``orjson`` forms (1 against 1.0, say) are settled by the canonical forms.

It runs beside the checksum of the table's other columns, on connections of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.verify.canonical import Canon, canonical
from datamove.verify.mapped import MappedTable
from datamove.verify.merge import BATCH, past_limit, sort_key
from datamove.verify.result import ChangedRow, TableDiff, shown

_LONG = re.compile(r"[0-9.]{16}")
_TINY = re.compile(r"[eE]-[0-9]{3}")
_JSON = Canon("json")
_dumps, _loads, _SORTED = orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS


def lean(mapped: MappedTable) -> bool:
    """Every column compared in Python is JSON on both sides, copied untransformed (an array
    that the copy turns into JSON, say, goes through the copy's conversion instead)."""
    return bool(mapped.in_python) and all(
        c.canon.kind == "json"
        and not c.plan.transforms
        and c.plan.source_info is not None
        and c.plan.source_info.kind == "json"
        for c in mapped.in_python
    )


def quick_form(text: Any) -> bytes | str | None:
    """A document's ``orjson`` form, or its canonical text where that could hide a
    difference (see the module docstring)."""
    if text is None:
        return None
    if (
        type(text) is str
        and not _LONG.search(text)
        and not (("e-" in text or "E-" in text) and _TINY.search(text))
    ):
        try:
            return _dumps(_loads(text), option=_SORTED)
        except orjson.JSONDecodeError:
            pass
    return canonical(text, _JSON)


def json_diff(
    mapped: MappedTable,
    source: tuple[Dialect, Connection],
    target: tuple[Dialect, Connection],
    diff: TableDiff,
    max_diff_rows: int,
    show_values: bool,
) -> None:
    """Changed JSON values of rows on both sides into ``diff.changed`` (rows on one side only
    are the checksum's to report)."""
    columns = mapped.in_python
    table, target_table = mapped.plan.source_table, mapped.plan.target_table
    s_rows = _rows(
        mapped,
        source,
        table,
        [k.source for k in mapped.keys],
        [table.c[c.plan.source] if c.plan.source else sa.null() for c in columns],
        mapped.source_filter,
        [k.source_sortable for k in mapped.keys],
    )
    t_rows = _rows(
        mapped,
        target,
        target_table,
        [k.target for k in mapped.keys],
        [target_table.c[c.name] for c in columns],
        sa.true(),
        [k.target_sortable for k in mapped.keys],
    )
    first = len(mapped.keys) + (0 if _one_integer(mapped) else 1)  # the first document
    s, t = next(s_rows, None), next(t_rows, None)
    while s is not None and t is not None:
        if s[0] < t[0]:
            s = next(s_rows, None)
            continue
        if t[0] < s[0]:
            t = next(t_rows, None)
            continue
        differing = {}
        for i, col in enumerate(columns, first):
            a, b = s[i], t[i]
            if a == b or quick_form(a) == quick_form(b):
                continue
            a_canon, b_canon = canonical(a, _JSON), canonical(b, _JSON)
            if a_canon != b_canon:
                differing[col.name] = (
                    shown(a_canon, col.pii, show_values),
                    shown(b_canon, col.pii, show_values),
                )
        if differing and diff.differences < max_diff_rows:
            raw = tuple(s[first - len(mapped.keys) : first])
            key = tuple(canonical(v, k.canon) for v, k in zip(raw, mapped.keys, strict=True))
            diff.changed.append(ChangedRow(key, differing))
            diff.raw_keys[key] = raw
        elif differing:
            past_limit(diff)
        s, t = next(s_rows, None), next(t_rows, None)


def _one_integer(mapped: MappedTable) -> bool:
    """One integer key column on both sides: its values order alike in Python."""
    if len(mapped.keys) != 1:
        return False
    key = mapped.keys[0]
    return key.integer and isinstance(key.target.type, sa.Integer)


def _rows(
    mapped: MappedTable,
    side: tuple[Dialect, Connection],
    table: sa.Table,
    keys: Sequence[sa.ColumnElement[Any]],
    documents: Sequence[sa.ColumnElement[Any]],
    where: sa.ColumnElement[bool],
    order: Sequence[sa.ColumnElement[Any]],
) -> Iterator[Sequence[Any]]:
    """Rows as (keys..., documents...) in key order, led by Python's order of the key
    unless it is one integer column (which orders as it is)."""
    dialect, conn = side
    stmt = (
        sa.select(*keys, *[sa.cast(d, sa.Text) for d in documents])
        .select_from(table)
        .where(where)
        .order_by(*order)
    )
    batches = dialect.stream(conn, stmt, BATCH)
    if _one_integer(mapped):
        return chain.from_iterable(batches)
    canons = [k.canon for k in mapped.keys]
    n = len(keys)
    return (
        (sort_key(canons, tuple(map(canonical, row[:n], canons))), *row)
        for batch in batches
        for row in batch
    )


def fold(diff: TableDiff, part: TableDiff, max_diff_rows: int) -> None:
    """The JSON comparison's changed rows into the checksum's ``diff``: columns added to a
    row it already lists, new rows up to ``max_diff_rows``."""
    listed = {row.key: row for row in diff.changed}
    one_sided = set(diff.missing) | set(diff.extra)
    for row in part.changed:
        if row.key in listed:
            listed[row.key].columns.update(row.columns)
        elif row.key in one_sided:
            continue
        elif diff.differences < max_diff_rows:
            diff.changed.append(row)
            diff.raw_keys[row.key] = part.raw_keys[row.key]
        else:
            past_limit(diff)
    for _ in range(part.not_fetched):
        past_limit(diff)
