"""Range checksums with bisection: from two aggregate scans down to the exact differing rows.

1. Each side computes, per key range, the row count and two sums of row digests (see
   ``canonical``). For a single integer key one grouped scan per side yields every range at
   once (ranges of equal key width, ~``TOP_ROWS`` rows each); otherwise the whole table is one
   range.
2. A range whose sums differ is split (``FANOUT`` sub-ranges: equal key widths, or row-count
   boundaries numbered inside the database) until it holds at most ``LEAF_ROWS`` rows; then
   both sides list (key, digest) for it and the differing keys fall out: **missing**, **extra**
   and **changed**.
3. For changed rows both sides' canonical values are fetched and compared column by column.

Both sides run each step concurrently. Past ``max_diff_rows`` differences, the remaining
differing ranges are counted (at least one difference each), not bisected further.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import framed
from datamove.core.keys import CanonKey, KeyRange, KeyValue
from datamove.core.stop import signals_to_main_thread
from datamove.dialects.base import Dialect
from datamove.dialects.canonsql import NativeHash
from datamove.verify.mapped import Compared, MappedTable
from datamove.verify.rangesum import EMPTY, Bucketing, Side, Sums
from datamove.verify.result import ChangedRow, TableDiff, key_order, shown

TOP_ROWS = 2000
MAX_TOP_RANGES = 4096
FANOUT = 16
LEAF_ROWS = 2000

T = TypeVar("T")
Range = KeyRange


def sides(
    mapped: MappedTable,
    source: tuple[Dialect, Connection],
    target: tuple[Dialect, Connection],
    keys_only: bool = False,
) -> tuple[Side, Side]:
    """Both sides of ``mapped`` over its SQL-computed columns (``keys_only``: none, which
    compares which keys exist — how ``sync`` finds deleted rows)."""
    columns = [] if keys_only else mapped.in_sql
    native = _native_hash(columns, source, target)
    s_table, t_table = mapped.plan.source_table, mapped.plan.target_table
    s_parts: list[sa.ColumnElement[Any]] = []
    t_parts: list[sa.ColumnElement[Any]] = []
    frames = [framed(k.canon) for k in mapped.keys]
    for c in columns:
        if native is not None and c.native is not None and c.plan.source is not None:
            s_parts.append(s_table.c[c.plan.source])
            t_parts.append(t_table.c[c.name])
            frames.append(False)
        elif c.source_sql is not None and c.target_sql is not None:
            # As text on both sides: the native row hash hashes each part by its type.
            s_parts.append(sa.cast(c.source_sql, sa.Text) if native else c.source_sql)
            t_parts.append(sa.cast(c.target_sql, sa.Text) if native else c.target_sql)
            frames.append(framed(c.canon))
    s_dialect, s_conn = source
    t_dialect, t_conn = target
    return (
        Side(
            s_dialect,
            s_conn,
            s_table,
            [k.source for k in mapped.keys],
            [k.source_sortable for k in mapped.keys],
            [k.source_canonical for k in mapped.keys],
            s_parts,
            frames,
            mapped.source_filter,
            native,
        ),
        Side(
            t_dialect,
            t_conn,
            t_table,
            [k.target for k in mapped.keys],
            [k.target_sortable for k in mapped.keys],
            [k.target_canonical for k in mapped.keys],
            t_parts,
            frames,
            mapped.plan.target_filter,
            native,
        ),
    )


def _native_hash(
    columns: list[Compared], source: tuple[Dialect, Connection], target: tuple[Dialect, Connection]
) -> NativeHash | None:
    """The engine's own row hash when both sides are one engine and hash a sample value of
    every family in use alike (two servers of different builds might not); else None."""
    native = source[0].canonical.NATIVE_HASH
    if native is None or not source[0].same_engine(target[0]):
        return None
    families = sorted({c.native for c in columns if c.native} | {"text"})
    theirs = native.probe(target[1], families)
    return native if theirs is not None and native.probe(source[1], families) == theirs else None


class ChecksumDiff:
    """Compares one mapped table's SQL-computed columns, side against side."""

    def __init__(
        self,
        mapped: MappedTable,
        source: Side,
        target: Side,
        max_diff_rows: int,
        show_values: bool,
    ) -> None:
        self.mapped = mapped
        self.source = source
        self.target = target
        self.max_diff_rows = max_diff_rows
        self.show_values = show_values
        self.pool = ThreadPoolExecutor(
            2, thread_name_prefix="dm-verify", initializer=signals_to_main_thread
        )
        self.raw: dict[CanonKey, tuple[KeyValue, KeyValue]] = {}

    def _both(self, call: Callable[[Side], T]) -> tuple[T, T]:
        """``call`` on both sides at once (each side on its own connection)."""
        theirs = self.pool.submit(call, self.target)
        return call(self.source), theirs.result()

    def run(self, diff: TableDiff) -> None:
        diff.digest = "md5" if self.source.native is None else "native"
        try:
            pending = self._top(diff)
            diff.ranges_differing = len(pending)
            while pending:
                span, s_sums, t_sums, width = pending.pop()
                if diff.differences >= self.max_diff_rows:
                    diff.not_fetched += max(1, abs(s_sums[0] - t_sums[0]))
                    diff.unresolved.append(span)
                    continue
                if max(s_sums[0], t_sums[0]) <= LEAF_ROWS or width == 1:
                    self._leaf(span, diff)
                    continue
                parts = self._split(span, s_sums, t_sums, width)
                if parts is None:
                    self._leaf(span, diff)
                else:
                    pending.extend(parts)
            self._details(diff)
        finally:
            self.pool.shutdown()
            diff.queries += self.source.queries + self.target.queries

    # -- ranges ----------------------------------------------------------------------------

    def _top(self, diff: TableDiff) -> list[tuple[Range, Sums, Sums, int | None]]:
        if len(self.mapped.keys) == 1 and self.mapped.keys[0].integer:
            (s_lo, s_hi, s_n), (t_lo, t_hi, t_n) = self._both(lambda side: side.bounds())
            if s_lo is None and t_lo is None:
                return []
            base = int(min(v for v in (s_lo, t_lo) if v is not None))
            top = int(max(v for v in (s_hi, t_hi) if v is not None))
            count = min(MAX_TOP_RANGES, max(1, math.ceil(max(s_n, t_n) / TOP_ROWS)))
            bucketing = Bucketing(base, max(1, math.ceil((top - base + 1) / count)))
            s, t = self._both(lambda side: side.first_sums(bucketing, count))
            diff.ranges = len(s.keys() | t.keys())
            diff.source_rows = sum(rows for rows, _ in s.values())
            diff.target_rows = sum(rows for rows, _ in t.values())
            return [
                (bucketing.bounds(n), s.get(n, EMPTY), t.get(n, EMPTY), bucketing.width)
                for n in sorted(s.keys() | t.keys())
                if s.get(n, EMPTY) != t.get(n, EMPTY)
            ]
        s_sums, t_sums = self._both(lambda side: side.range_sums(None, None))
        diff.source_rows, diff.target_rows, diff.ranges = s_sums[0], t_sums[0], 1
        return [] if s_sums == t_sums else [(KeyRange(), s_sums, t_sums, None)]

    def _split(
        self, span: Range, s_sums: Sums, t_sums: Sums, width: int | None
    ) -> list[tuple[Range, Sums, Sums, int | None]] | None:
        lo, hi = span
        if width is not None:
            assert lo is not None
            bucketing = Bucketing(int(lo[0]) + 1, max(1, math.ceil(width / FANOUT)))
            s, t = self._both(lambda side: side.bucket_sums(bucketing, lo, hi))
            return [
                (bucketing.bounds(n), s.get(n, EMPTY), t.get(n, EMPTY), bucketing.width)
                for n in s.keys() | t.keys()
                if s.get(n, EMPTY) != t.get(n, EMPTY)
            ]
        bigger = self.source if s_sums[0] >= t_sums[0] else self.target
        every = math.ceil(max(s_sums[0], t_sums[0]) / FANOUT)
        cuts = bigger.boundaries(lo, hi, every)
        if not cuts:
            return None
        out: list[tuple[Range, Sums, Sums, int | None]] = []
        for part in span.split(cuts):
            s_sub, t_sub = self._both(partial(Side.range_sums, lo=part.lo, hi=part.hi))
            if s_sub != t_sub:
                out.append((part, s_sub, t_sub, None))
        return out

    # -- rows ------------------------------------------------------------------------------

    def _leaf(self, span: Range, diff: TableDiff) -> None:
        """List both sides of a small range; keep differences up to ``max_diff_rows``."""
        s_rows, t_rows = self._both(lambda side: side.leaf(*span))
        found: list[tuple[str, CanonKey]] = [
            ("missing", k) for k in s_rows.keys() - t_rows.keys()
        ] + [("extra", k) for k in t_rows.keys() - s_rows.keys()]
        found += [
            ("changed", k) for k in s_rows.keys() & t_rows.keys() if s_rows[k][1:] != t_rows[k][1:]
        ]
        found.sort(key=lambda item: _order(item[1]))
        room = max(0, self.max_diff_rows - diff.differences)
        if len(found) > room:
            diff.not_fetched += len(found) - room
            diff.unresolved.append(span)
        for kind, key in found[:room]:
            if kind == "missing":
                diff.missing.append(key)
                diff.raw_keys[key] = s_rows[key][0]
            elif kind == "extra":
                diff.extra.append(key)
                diff.raw_keys[key] = t_rows[key][0]
            else:
                self.raw[key] = (s_rows[key][0], t_rows[key][0])
                diff.raw_keys[key] = s_rows[key][0]
                diff.changed.append(ChangedRow(key, {}))

    def _details(self, diff: TableDiff) -> None:
        """Which columns differ in each changed row, with both canonical values."""
        if not diff.changed:
            return
        columns = self.mapped.in_sql
        keys = [row.key for row in diff.changed]
        s_vals, t_vals = self._both(
            lambda side: side.values(
                [self.raw[k][0 if side is self.source else 1] for k in keys],
                [
                    (c.source_sql if side is self.source else c.target_sql)  # type: ignore[misc]
                    for c in columns
                ],
            )
        )
        for row in diff.changed:
            s, t = s_vals.get(row.key), t_vals.get(row.key)
            if s is None or t is None:
                continue  # changed again since the checksum: the next verify sees it
            for col, a, b in zip(columns, s, t, strict=True):
                if a != b:
                    row.columns[col.name] = (
                        shown(a, col.pii, self.show_values),
                        shown(b, col.pii, self.show_values),
                    )
        # A row whose values agree by now was changed again while being compared.
        diff.changed = [row for row in diff.changed if row.columns]


def _order(key: CanonKey) -> tuple[Any, ...]:
    """Differences listed in key order (numbers numerically)."""
    return key_order(key)
