"""One database's side of a range checksum: counts and digest sums per key range, in SQL.

Every query here runs inside the database and returns only aggregates or, for a small leaf
range, one (key, digest) pair per row: values never travel unless a range differs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.keys import CanonKey, KeyRange, KeyValue, any_key
from datamove.core.stop import signals_to_main_thread
from datamove.dialects.base import Dialect
from datamove.dialects.canonsql import NativeHash

Sums = tuple[int, int]
"""(rows, sum of row digests) of a key range."""
EMPTY: Sums = (0, 0)
HALVED_FROM = 100
"""Ranges (of ~2,000 rows) from which ``first_sums`` may scan in two halves."""


@dataclass(frozen=True)
class Bucketing:
    """Integer-key ranges of equal width: bucket n holds keys ``base + n*width`` onwards."""

    base: int
    width: int

    def bounds(self, n: int) -> KeyRange:
        """Bucket ``n`` as the half-open range ``(lo, hi]`` (the keys ``DIV`` numbers ``n``)."""
        lo = self.base + n * self.width - 1
        return KeyRange((lo,), (lo + self.width,))


class Side:
    """The source (filtered, through the mapping) or the target, on one connection."""

    def __init__(
        self,
        dialect: Dialect,
        conn: Connection,
        table: sa.FromClause,
        keys: Sequence[sa.ColumnElement[Any]],
        sortable: Sequence[sa.ColumnElement[Any]],
        canonical_keys: Sequence[sa.ColumnElement[Any]],
        parts: Sequence[sa.ColumnElement[Any]],
        frames: Sequence[bool],
        where: sa.ColumnElement[bool],
        native: NativeHash | None = None,
    ) -> None:
        """``parts`` are canonical texts (``frames``: of free text, see ``canonical``), or
        with ``native`` (both sides of one engine that hash alike) stored values of a common
        hash family as well; ``frames`` covers the canonical keys, then the parts."""
        self.dialect = dialect
        self.native = native
        self.conn = conn
        self.table = table
        self.keys = list(keys)
        self.sortable = list(sortable)
        self.canonical_keys = list(canonical_keys)
        self.parts = list(parts)
        self.frames = list(frames)
        self.where = where
        self.queries = 0

    def _hashed(self, lo: KeyValue | None, hi: KeyValue | None) -> sa.Subquery:
        """The rows of ``(lo, hi]`` as (keys, canonical keys, row hash), in layers.

        Each layer is fenced (``OFFSET 0``: no engine merges it into the next), so every
        canonical value and the row hash are computed once per row, not once per use — on
        engines where a fence is cheaper than computing twice (``CanonicalSQL.FENCED_LAYERS``).
        """
        n = len(self.keys)
        inner = (
            sa.select(
                *[k.label(f"k{i}") for i, k in enumerate(self.keys)],
                *[c.label(f"c{i}") for i, c in enumerate(self.canonical_keys)],
                *[self._digest_text(p).label(f"p{i}") for i, p in enumerate(self.parts)],
            )
            .select_from(self.table)
            .where(self._range(lo, hi))
        )
        canon = self._fenced(inner).subquery("dm_canon")
        # The key is part of the digest: a row moved to another key changes the sums even
        # when the range's count stays the same.
        values = [canon.c[f"c{i}"] for i in range(n)]
        values += [canon.c[f"p{i}"] for i in range(len(self.parts))]
        hashed = sa.select(
            *[canon.c[f"k{i}"] for i in range(n)],
            *[canon.c[f"c{i}"] for i in range(n)],
            self._row_hash(values).label("h"),
        )
        return self._fenced(hashed).subquery("dm_hashed")

    def _fenced(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        return stmt.offset(0) if self.dialect.canonical.FENCED_LAYERS else stmt

    def _row_hash(self, values: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        if self.native is None:
            return self.dialect.canonical.row_hash(values, self.frames)
        return self.native.row_hash(values)

    def _digest_text(self, part: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return self.dialect.canonical.digest_text(part) if self.native is None else part

    def _digest(self, h: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return self.dialect.canonical.digest(h) if self.native is None else self.native.digest(h)

    def _run(self, stmt: sa.Select[Any] | Any) -> list[Sequence[Any]]:
        """Rows of a query that may return many (streamed, bounded memory)."""
        self.queries += 1
        return [row for batch in self.dialect.stream(self.conn, stmt, 10_000) for row in batch]

    def _aggregate(self, stmt: sa.Select[Any] | Any) -> list[Sequence[Any]]:
        """Rows of an aggregate (at most a few thousand): a plain query, which PostgreSQL
        may run with parallel workers (a server-side cursor never is)."""
        self.queries += 1
        sql, params = self.dialect.compile(stmt)
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _range(self, lo: KeyValue | None, hi: KeyValue | None) -> sa.ColumnElement[bool]:
        return sa.and_(self.where, KeyRange(lo, hi).predicate(self.sortable))

    def bounds(self) -> tuple[Any, Any, int]:
        """(min key, max key, about how many rows) of a single-column key: the row count is
        the catalog's estimate where there is one (counting costs a scan on InnoDB), only
        used to size the ranges."""
        stmt = (
            sa.select(sa.func.min(self.keys[0]), sa.func.max(self.keys[0]))
            .select_from(self.table)
            .where(self.where)
        )
        low, high = self._aggregate(stmt)[0]
        estimate = None
        if isinstance(self.table, sa.Table):
            estimate = self.dialect.estimate(self.conn, self.table)[0]
        if not estimate or estimate < 0:
            count = sa.select(sa.func.count()).select_from(self.table).where(self.where)
            estimate = int(self._aggregate(count)[0][0])
        return low, high, estimate

    def bucket_sums(
        self, bucketing: Bucketing, lo: KeyValue | None = None, hi: KeyValue | None = None
    ) -> dict[int, Sums]:
        """Sums of every non-empty bucket in ``(lo, hi]``, in one grouped scan."""
        rows = self._hashed(lo, hi)
        total = self.dialect.canonical.exact_sum(self._digest(rows.c.h))
        offset = rows.c.k0 - bucketing.base
        bucket = self.dialect.canonical.int_div(offset, bucketing.width).label("dm_bucket")
        stmt = sa.select(bucket, sa.func.count(), total).group_by(bucket)
        return {int(n): _sums(c, t) for n, c, t in self._aggregate(stmt)}

    def first_sums(self, bucketing: Bucketing, count: int) -> dict[int, Sums]:
        """``bucket_sums`` of the whole table; on an engine that runs a query on one core
        (``CanonicalSQL.ONE_CORE_PER_QUERY``) a large table is scanned as two halves at once, the
        second on a connection of its own, so both cores work until the end."""
        if not self.dialect.canonical.ONE_CORE_PER_QUERY or count < HALVED_FROM:
            return self.bucket_sums(bucketing)
        middle = bucketing.bounds(count // 2).lo
        with (
            self.dialect.connect() as conn,
            ThreadPoolExecutor(1, initializer=signals_to_main_thread) as pool,
        ):
            other = copy.copy(self)
            other.conn, other.queries = conn, 0
            high = pool.submit(other.bucket_sums, bucketing, middle, None)
            low = self.bucket_sums(bucketing, None, middle)
            sums = low | high.result()
        self.queries += other.queries
        return sums

    def range_sums(self, lo: KeyValue | None, hi: KeyValue | None) -> Sums:
        rows = self._hashed(lo, hi)
        stmt = sa.select(sa.func.count(), self.dialect.canonical.exact_sum(self._digest(rows.c.h)))
        return _sums(*self._aggregate(stmt)[0])

    def boundaries(self, lo: KeyValue | None, hi: KeyValue | None, every: int) -> list[KeyValue]:
        """Keys closing every ``every`` rows of ``(lo, hi]``, numbered inside the database."""
        numbered = (
            sa.select(
                *[k.label(f"dm_k{i}") for i, k in enumerate(self.keys)],
                sa.func.row_number().over(order_by=self.sortable).label("dm_rn"),
            )
            .select_from(self.table)
            .where(self._range(lo, hi))
            .subquery()
        )
        stmt = (
            sa.select(*[numbered.c[f"dm_k{i}"] for i in range(len(self.keys))])
            .where(numbered.c.dm_rn.op("%")(every) == 0)
            .order_by(numbered.c.dm_rn)
        )
        return [tuple(row) for row in self._run(stmt)]

    def leaf(
        self, lo: KeyValue | None, hi: KeyValue | None
    ) -> dict[CanonKey, tuple[KeyValue, int]]:
        """Every row of ``(lo, hi]``: canonical key → (raw key, digest)."""
        n = len(self.keys)
        rows = self._hashed(lo, hi)
        stmt = sa.select(
            *[rows.c[f"k{i}"] for i in range(n)],
            *[rows.c[f"c{i}"] for i in range(n)],
            self._digest(rows.c.h),
        )
        return {tuple(row[n : 2 * n]): (tuple(row[:n]), int(row[-1])) for row in self._run(stmt)}

    def values(
        self, raw_keys: Sequence[KeyValue], columns: Sequence[sa.ColumnElement[Any]]
    ) -> dict[CanonKey, Sequence[str | None]]:
        """Canonical values of ``columns`` for the rows with these keys."""
        out: dict[CanonKey, Sequence[str | None]] = {}
        n = len(self.keys)
        for start in range(0, len(raw_keys), 500):
            part = raw_keys[start : start + 500]
            match = any_key(self.keys, part)
            stmt = (
                sa.select(*self.canonical_keys, *columns)
                .select_from(self.table)
                .where(sa.and_(self.where, match))
            )
            for row in self._run(stmt):
                out[tuple(row[:n])] = tuple(row[n:])
        return out


def _sums(count: Any, total: Any) -> Sums:
    return int(count or 0), _int(total)


def _int(value: Any) -> int:
    if value is None:
        return 0
    return int(Decimal(value)) if not isinstance(value, int) else value
