"""JSON columns across engines: both sides' documents streamed in key order and compared.

No two engines write a document in one text form (PostgreSQL ``jsonb`` orders keys by length,
MariaDB keeps the text as inserted), so such a column is compared in Python. Only the keys and
the documents travel, the documents as UTF-8 bytes (no decoding on the way), and a document is
compared in its ``orjson`` form (parsed, keys sorted) — a few hundred nanoseconds — rather
than in the canonical text of ``canonical``:

- equal ``orjson`` forms mean equal canonical forms when every number in both texts fits a
  double exactly, which numbers of up to 15 significant digits in the normal range do; a
  text holding a run of 16 digits and points, or a negative exponent of three digits, might
  not, and goes the canonical way instead (an exponent too large for a double fails to parse
  and goes that way too);
- different ``orjson`` forms (1 against 1.0, say) are settled by the canonical forms.

Rows are matched by key in runs (``_paired``): where both sides hold the same keys, up to
``PAIRED`` rows at once, and such a run's documents are shown equal together (one guard pass
over each side's joined texts, one sorted dump of each side's parsed list), so the per-row
Python work is one parse; only a run that is not shown equal is compared row by row.

It runs beside the checksum of the table's other columns, on connections of its own; a table
whose only columns besides its key are such documents is compared this way too (the
databases checksum the keys), not by the whole-row merge.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, islice
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canonical
from datamove.dialects.base import Dialect
from datamove.verify.mapped import MappedTable
from datamove.verify.merge import BATCH, past_limit, sort_key
from datamove.verify.result import ChangedRow, TableDiff, shown

_JSON = Canon("json")
PAIRED = 2000
"""Rows of both sides matched and compared as one run."""
_first = itemgetter(0)
_dumps, _loads, _SORTED = orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS


def _number_shapes() -> bytes:
    """A ``bytes.translate`` table that keeps only what the guard looks for: digits and points
    become ``0``, ``e``/``E`` become ``e``, ``-`` stays, anything else is a space."""
    table = bytearray(b" " * 256)
    for c in b"0123456789.":
        table[c] = ord("0")
    table[ord("e")] = table[ord("E")] = ord("e")
    table[ord("-")] = ord("-")
    return bytes(table)


_SHAPES = _number_shapes()
_LONG, _TINY = b"0" * 16, b"e-000"  # 16 digits and points in a row; a 3-digit negative exponent


def quick_form(text: Any) -> bytes | str | None:
    """A document's ``orjson`` form, or its canonical text where that could hide a
    difference (see the module docstring). The guard runs on the UTF-8 bytes through one
    translation (C loops: a regular expression per document cost twice the parse)."""
    if text is None:
        return None
    raw = text.encode() if type(text) is str else text
    if type(raw) is bytes:
        shapes = raw.translate(_SHAPES)
        if _LONG not in shapes and _TINY not in shapes:
            try:
                return _dumps(_loads(raw), option=_SORTED)
            except orjson.JSONDecodeError:
                pass
    return _canonical(text)


def _canonical(doc: Any) -> str | None:
    """The canonical text of a document read as text or as its UTF-8 bytes."""
    return canonical(bytes(doc).decode() if isinstance(doc, bytes | bytearray) else doc, _JSON)


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
        mapped.plan.target_filter,
        [k.target_sortable for k in mapped.keys],
    )
    first = len(mapped.keys) + (0 if _one_integer(mapped) else 1)  # the first document
    for a_rows, b_rows in _paired(s_rows, t_rows):
        differing: dict[int, dict[str, tuple[str | None, str | None]]] = {}
        for i, col in enumerate(columns, first):
            a_docs, b_docs = [r[i] for r in a_rows], [r[i] for r in b_rows]
            if same_documents(a_docs, b_docs):
                continue
            for n, (a, b) in enumerate(zip(a_docs, b_docs, strict=True)):
                if a == b or quick_form(a) == quick_form(b):
                    continue
                a_canon, b_canon = _canonical(a), _canonical(b)
                if a_canon != b_canon:
                    differing.setdefault(n, {})[col.name] = (
                        shown(a_canon, col.pii, show_values),
                        shown(b_canon, col.pii, show_values),
                    )
        for n in sorted(differing):
            if diff.differences >= max_diff_rows:
                past_limit(diff)
                continue
            raw = tuple(a_rows[n][first - len(mapped.keys) : first])
            key = tuple(canonical(v, k.canon) for v, k in zip(raw, mapped.keys, strict=True))
            diff.changed.append(ChangedRow(key, differing[n]))
            diff.raw_keys[key] = raw


def same_documents(a_docs: list[Any], b_docs: list[Any]) -> bool:
    """Whether two runs of documents are pairwise equal, decided for the run at once: the
    guard over each side's texts joined, every document parsed, one sorted dump per side.
    False means "not shown equal": the documents are then compared one by one."""
    if a_docs == b_docs:
        return True
    if None in a_docs or None in b_docs:  # SQL NULLs: in the same places, and the rest equal
        if [d is None for d in a_docs] != [d is None for d in b_docs]:
            return False
        a_docs = [d for d in a_docs if d is not None]
        b_docs = [d for d in b_docs if d is not None]
        if not a_docs:
            return True
    try:
        for docs in (a_docs, b_docs):
            joined = b",".join(docs) if type(docs[0]) is bytes else ",".join(docs).encode()
            shapes = joined.translate(_SHAPES)
            if _LONG in shapes or _TINY in shapes:
                return False
        a_form = _dumps(list(map(_loads, a_docs)), option=_SORTED)
        return a_form == _dumps(list(map(_loads, b_docs)), option=_SORTED)
    except (TypeError, orjson.JSONDecodeError):  # not all text, or a document not JSON
        return False


def _paired(
    s_rows: Iterator[Sequence[Any]], t_rows: Iterator[Sequence[Any]]
) -> Iterator[tuple[list[Sequence[Any]], list[Sequence[Any]]]]:
    """Runs of rows found on both sides, pairwise in key order (the first item of a row is its
    key). Where both sides hold the same keys, a run is up to ``PAIRED`` rows, matched with a
    list comparison; around a row found on one side only, the rows are matched one by one."""
    a: list[Sequence[Any]] = []
    b: list[Sequence[Any]] = []
    while True:
        a.extend(islice(s_rows, PAIRED - len(a)))
        b.extend(islice(t_rows, PAIRED - len(b)))
        if not a or not b:
            return
        a_keys, b_keys = list(map(_first, a)), list(map(_first, b))
        same = _common_prefix(a_keys, b_keys)
        if same:
            yield a[:same], b[:same]
            del a[:same], b[:same]
            continue
        pairs_a: list[Sequence[Any]] = []
        pairs_b: list[Sequence[Any]] = []
        i = j = 0
        while i < len(a) and j < len(b) and len(pairs_a) <= PAIRED // 8:
            if a_keys[i] < b_keys[j]:
                i += 1
            elif b_keys[j] < a_keys[i]:
                j += 1
            else:
                pairs_a.append(a[i])
                pairs_b.append(b[j])
                i, j = i + 1, j + 1
        if pairs_a:
            yield pairs_a, pairs_b
        del a[:i], b[:j]


def _common_prefix(a: list[Any], b: list[Any]) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (slice comparisons: C)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low], a[:high] != b[:high]
    while high - low > 1:
        mid = (low + high) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid
    return low


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
        sa.select(*keys, *[dialect.canonical.utf8(d) for d in documents])
        .select_from(table)
        .where(where)
        .order_by(*order)
    )
    batches = dialect.stream(conn, stmt, BATCH, binary=True)  # bytes as they are
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
