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
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.verify.canonical import Canon, canonical
from datamove.verify.mapped import Compared, MappedTable
from datamove.verify.merge import BATCH, past_limit, sort_key
from datamove.verify.result import CanonKey, ChangedRow, TableDiff, shown

_LONG = re.compile(r"[0-9.]{16}")
_TINY = re.compile(r"[eE]-[0-9]{3}")
_JSON = Canon("json")

Keyed = tuple[tuple[Any, ...], CanonKey, Sequence[Any], tuple[Any, ...]]
"""(sort key, canonical key, documents as text, raw key) of one row."""


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
    if isinstance(text, str) and not _inexact(text):
        try:
            return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            pass
    return canonical(text, _JSON)


def _inexact(text: str) -> bool:
    if _LONG.search(text):
        return True
    return ("e-" in text or "E-" in text) and _TINY.search(text) is not None


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
    table = mapped.plan.source_table
    s_rows = _rows(
        mapped,
        source,
        table,
        [k.source for k in mapped.keys],
        [table.c[c.plan.source] if c.plan.source else sa.null() for c in columns],
        mapped.source_filter,
        [k.source_sortable for k in mapped.keys],
    )
    target_table = mapped.plan.target_table
    t_rows = _rows(
        mapped,
        target,
        target_table,
        [k.target for k in mapped.keys],
        [target_table.c[c.name] for c in columns],
        sa.true(),
        [k.target_sortable for k in mapped.keys],
    )
    s_next, t_next = next(s_rows, None), next(t_rows, None)
    while s_next is not None and t_next is not None:
        if s_next[0] < t_next[0]:
            s_next = next(s_rows, None)
        elif t_next[0] < s_next[0]:
            t_next = next(t_rows, None)
        else:
            differing = _differing(columns, s_next[2], t_next[2], show_values)
            if differing and diff.differences < max_diff_rows:
                diff.changed.append(ChangedRow(s_next[1], differing))
                diff.raw_keys[s_next[1]] = s_next[3]
            elif differing:
                past_limit(diff)
            s_next, t_next = next(s_rows, None), next(t_rows, None)


def _differing(
    columns: Sequence[Compared], s: Sequence[Any], t: Sequence[Any], show_values: bool
) -> dict[str, tuple[str, str]]:
    out = {}
    for col, a, b in zip(columns, s, t, strict=True):
        if quick_form(a) == quick_form(b):
            continue
        a_canon, b_canon = canonical(a, _JSON), canonical(b, _JSON)
        if a_canon != b_canon:
            out[col.name] = (
                shown(a_canon, col.pii, show_values),
                shown(b_canon, col.pii, show_values),
            )
    return out


def _rows(
    mapped: MappedTable,
    side: tuple[Dialect, Connection],
    table: sa.Table,
    keys: Sequence[sa.ColumnElement[Any]],
    documents: Sequence[sa.ColumnElement[Any]],
    where: sa.ColumnElement[bool],
    order: Sequence[sa.ColumnElement[Any]],
) -> Iterator[Keyed]:
    dialect, conn = side
    n = len(keys)
    canons = [k.canon for k in mapped.keys]
    stmt = (
        sa.select(*keys, *[sa.cast(d, sa.Text) for d in documents])
        .select_from(table)
        .where(where)
        .order_by(*order)
    )
    one_integer = n == 1 and canons[0].kind == "integer"
    for batch in dialect.stream(conn, stmt, BATCH):
        for row in batch:
            if one_integer and type(row[0]) is int:  # what canonical and sort_key make of it
                yield (row[0],), (str(row[0]),), row[1:], (row[0],)
                continue
            key = tuple(canonical(v, c) for v, c in zip(row[:n], canons, strict=True))
            yield sort_key(canons, key), key, row[n:], tuple(row[:n])


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
