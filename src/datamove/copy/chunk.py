"""Copying one chunk: one key range, one target transaction, with its checkpoint.

Three paths, tried in this order:

- ``copy``: both ends speak COPY and every column is computed in SQL — the source's COPY output
  is piped into the target's COPY input with no per-row Python.
- ``rows``: rows are streamed from the source (pushed-down SQL computed there), Python-only
  transforms applied, and bulk-written with the target's fast path.
- ``careful``: when a fast path fails because of the data, the chunk is redone row by row
  in Python with savepoint bisection, so every bad row becomes a reject with its reason and
  every good row is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.copy.keys import KeyValue, in_range
from datamove.copy.pipeline import prefetch
from datamove.copy.throttle import Throttle
from datamove.dialects.base import Adapter, Dialect, Row
from datamove.dialects.copytext import Kind as CopyKind
from datamove.errors import RowError
from datamove.plan.model import ColumnPlan, TablePlan
from datamove.redact import mask_value, redact_text
from datamove.state.store import ChunkState, RejectRecord, StateStore


@dataclass(frozen=True)
class ChunkResult:
    rows: int
    rejects: int
    path: str
    seconds: float


class _DataFailure(Exception):
    """A fast path failed because of the rows; the chunk is redone carefully."""


class ChunkCopier:
    """Copies chunks of one table; safe to share between worker threads (holds no connection)."""

    def __init__(
        self,
        plan: TablePlan,
        source: Dialect,
        target: Dialect,
        state: StateStore,
        run_id: str,
        throttle: Throttle,
    ) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.state = state
        self.run_id = run_id
        self.throttle = throttle
        self.columns = [c.target for c in plan.columns]
        self.key_positions = [self.columns.index(k) for k in plan.target_key]
        # Readers normalise values as the source driver returns them (before transforms);
        # adapters make the final values acceptable to the target's bulk write (after them).
        self.readers: list[Adapter | None] = [
            source.reader(c.source_info) if c.source_info is not None else None
            for c in plan.columns
        ]
        self.adapters: list[Adapter | None] = [
            target.adapter(c.target_type) if c.target_type is not None else None
            for c in plan.columns
        ]
        self.pipe = (
            source.can_copy_out() and target.SUPPORTS_COPY and all(c.pushdown for c in plan.columns)
        )
        self.copy_kinds = [_copy_kind(c) for c in plan.columns]
        self.binary_possible = (
            self.pipe
            and type(source) is type(target)
            and source.BINARY_COPY
            and not throttle.rate  # the throttle counts rows, which only text COPY shows
        )
        self.binary = False  # decided on the first chunk, from both servers' column types
        key_infos = {c.source: c.source_info for c in plan.columns if c.source}
        src = plan.source_table
        self.source_key = [source.sortable(src.c[k], key_infos.get(k)) for k in plan.key]
        tgt = plan.target_table
        self.target_key = [
            target.sortable(tgt.c[t], key_infos.get(s))
            for s, t in zip(plan.key, plan.target_key, strict=True)
        ]

    # -- SQL -------------------------------------------------------------------------------

    def _filter(self, lo: KeyValue | None, hi: KeyValue | None) -> sa.ColumnElement[bool]:
        cond = in_range(self.source_key, lo, hi)
        if self.plan.where:
            cond = sa.and_(sa.text(f"({self.plan.where})"), cond)
        return cond

    def _expr(self, col: ColumnPlan, pushdown: bool) -> sa.ColumnElement[Any]:
        src = self.plan.source_table
        expr: sa.ColumnElement[Any] = (
            self.source.read_expr(src.c[col.source], col.source_info) if col.source else sa.null()
        )
        if pushdown and col.pushdown:
            for t in col.transforms:
                sql = t.to_sql(expr, self.source)
                assert sql is not None
                expr = sql
        return expr.label(col.target)

    def select(
        self, lo: KeyValue | None, hi: KeyValue | None, pushdown: bool = True
    ) -> sa.Select[Any]:
        """The source SELECT for a chunk; with ``pushdown`` False every value comes raw."""
        cols = [self._expr(c, pushdown) for c in self.plan.columns]
        return sa.select(*cols).select_from(self.plan.source_table).where(self._filter(lo, hi))

    def boundaries(self, conn: Connection) -> list[KeyValue]:
        """Keys closing every ``batch_size`` rows in key order.

        Computed inside the source database, so only the boundary keys travel: for a dense
        integer key from its minimum, maximum and count (three aggregates on the index);
        otherwise by numbering the keys with a window function.
        """
        src = self.plan.source_table
        keys = [src.c[k] for k in self.plan.key]
        size = self.plan.batch_size
        where = self._filter(None, None)
        low, high, count = conn.execute(
            sa.select(sa.func.min(keys[0]), sa.func.max(keys[0]), sa.func.count()).where(where)
        ).one()
        if not count or count <= size:
            return []
        info = next(c.source_info for c in self.plan.columns if c.source == self.plan.key[0])
        if len(keys) == 1 and info is not None and info.kind == "integer":
            low, high = int(low), int(high)
            if count * 2 >= high - low + 1:  # at least half the key range is used
                chunks = -(-count // size)
                step = -(-(high - low + 1) // chunks)
                return [(low - 1 + step * n,) for n in range(1, chunks)]
        numbered = (
            sa.select(*keys, sa.func.row_number().over(order_by=self.source_key).label("dm_rn"))
            .where(where)
            .subquery()
        )
        stmt = (
            sa.select(*[numbered.c[k] for k in self.plan.key])
            .where(numbered.c.dm_rn.op("%")(size) == 0)
            .order_by(numbered.c.dm_rn)
        )
        out = [tuple(row) for batch in self.source.stream(conn, stmt, 10_000) for row in batch]
        if out and count % size == 0:
            out.pop()  # the last chunk would be empty otherwise
        return out

    # -- running a chunk -------------------------------------------------------------------

    def run(self, chunk: ChunkState) -> ChunkResult:
        """Copy one chunk in one target transaction; raises driver errors for the retry loop."""
        started = time.monotonic()
        try:
            rows, rejects, path = self._attempt(chunk, careful=False)
        except _DataFailure:
            rows, rejects, path = self._attempt(chunk, careful=True)
        return ChunkResult(rows, len(rejects), path, time.monotonic() - started)

    def _attempt(self, chunk: ChunkState, careful: bool) -> tuple[int, list[RejectRecord], str]:
        started = time.monotonic()
        with self.source.connect() as src, self.target.connect() as tgt:
            try:
                with tgt.begin():
                    tgt.execute(
                        sa.delete(self.plan.target_table).where(
                            in_range(self.target_key, chunk.lo, chunk.hi)
                        )
                    )
                    if careful:
                        rows, rejects, path = self._careful(src, tgt, chunk)
                    elif self.pipe:
                        rows, rejects = self._pipe(src, tgt, chunk), []
                        path = "copy-binary" if self.binary else "copy"
                    else:
                        rows, rejects, path = self._rows(src, tgt, chunk), [], "rows"
                    self.state.commit_chunk(
                        tgt,
                        self.plan.name,
                        chunk.chunk_no,
                        rows=rows,
                        rejects=rejects,
                        path=path,
                        seconds=time.monotonic() - started,
                        run_id=self.run_id,
                    )
            except Exception as exc:
                if not careful and (
                    self.target.is_data_error(exc)
                    or self.source.is_data_error(exc)
                    or isinstance(exc, RowError)
                ):
                    raise _DataFailure() from exc
                raise
        return rows, rejects, path

    def _decide_binary(self, src: Connection, tgt: Connection) -> None:
        """Binary COPY only when every SELECT output has exactly the target column's type, as
        both servers report it (binary values of another type would be misread, not refused)."""
        if self.binary_possible and not self.binary:
            made = self.source.result_types(src, self.select(None, None))
            wanted = self.target.column_types(tgt, self.plan.target_table, self.columns)
            self.binary = made == wanted and all(self.source.is_builtin_type(t) for t in made)
            self.binary_possible = self.binary

    def _pipe(self, src: Connection, tgt: Connection, chunk: ChunkState) -> int:
        self._decide_binary(src, tgt)

        def blocks() -> Iterator[bytes]:
            stmt = self.select(chunk.lo, chunk.hi)
            for block in self.source.copy_out(src, stmt, self.copy_kinds, self.binary):
                if not self.binary:
                    self.throttle(block.count(b"\n"))  # one line per row
                yield block

        table = self.plan.target_table
        return self.target.copy_in(tgt, table, self.columns, prefetch(blocks()), self.binary)

    def _convert(self, rows: Sequence[Row]) -> list[Row]:
        """Apply Python-only transforms and the target's value adapters to a batch of rows."""
        steps: list[tuple[int, Callable[[Any], Any]]] = []
        for i, col in enumerate(self.plan.columns):
            read, adapt = self.readers[i], self.adapters[i]
            if read is not None:
                steps.append((i, read))
            if not col.pushdown:
                steps.extend((i, t.apply) for t in col.transforms)
            if adapt is not None:
                steps.append((i, adapt))
        if not steps:
            return list(rows)
        out: list[Row] = []
        for row in rows:
            values = list(row)
            for i, fn in steps:
                values[i] = fn(values[i])
            out.append(values)
        return out

    def _rows(self, src: Connection, tgt: Connection, chunk: ChunkState) -> int:
        total = 0
        stmt = self.select(chunk.lo, chunk.hi)
        # The next batch is read while this one is converted and written.
        batches = prefetch(self.source.stream(src, stmt, self.target.WRITE_BATCH_ROWS))
        for batch in batches:
            self.throttle(len(batch))
            self.target.write(tgt, self.plan.target_table, self.columns, self._convert(batch))
            total += len(batch)
        return total

    # -- the careful path ------------------------------------------------------------------

    def _careful(
        self, src: Connection, tgt: Connection, chunk: ChunkState
    ) -> tuple[int, list[RejectRecord], str]:
        rejects: list[RejectRecord] = []
        good: list[Row] = []
        stmt = self.select(chunk.lo, chunk.hi, pushdown=False)
        for batch in self.source.stream(src, stmt, self.target.WRITE_BATCH_ROWS):
            self.throttle(len(batch))
            for row in batch:
                try:
                    good.append(self._one(row))
                except RowError as err:
                    rejects.append(self._reject(chunk, row, err.column, err.reason, err.value))
        written = self._write_isolating(tgt, chunk, good, rejects)
        return written, rejects, "careful"

    def _one(self, row: Row) -> Row:
        values = list(row)
        for i, col in enumerate(self.plan.columns):
            value, read, adapt = values[i], self.readers[i], self.adapters[i]
            if read is not None:
                try:
                    value = read(value)
                except RowError as err:
                    raise RowError(col.target, err.reason, values[i]) from None
            for t in col.transforms:
                try:
                    value = t.apply(value)
                except RowError as err:
                    reason = (
                        err.reason if err.reason.startswith(t.name) else f"{t.name}: {err.reason}"
                    )
                    raise RowError(col.target, reason, values[i]) from None
            if value is None and not col.nullable:
                raise RowError(col.target, "NULL in a NOT NULL column", None)
            length = getattr(col.target_type, "length", None)
            if isinstance(value, str) and length and len(value) > length:
                raise RowError(
                    col.target, f"{len(value)} characters do not fit {col.target_type_text}", value
                )
            values[i] = adapt(value) if adapt is not None else value
        return values

    def _write_isolating(
        self, tgt: Connection, chunk: ChunkState, rows: list[Row], rejects: list[RejectRecord]
    ) -> int:
        """Write ``rows`` under savepoints, bisecting failures down to single bad rows."""
        if not rows:
            return 0
        try:
            with tgt.begin_nested():
                self.target.write(tgt, self.plan.target_table, self.columns, rows)
            return len(rows)
        except Exception as exc:
            if not self.target.is_data_error(exc):
                raise
            if len(rows) == 1:
                reason = redact_text(str(getattr(exc, "orig", exc))).strip().splitlines()[0]
                rejects.append(self._reject(chunk, rows[0], None, reason, None))
                return 0
        mid = len(rows) // 2
        return self._write_isolating(tgt, chunk, rows[:mid], rejects) + self._write_isolating(
            tgt, chunk, rows[mid:], rejects
        )

    def _reject(
        self, chunk: ChunkState, row: Row, column: str | None, reason: str, value: Any
    ) -> RejectRecord:
        pii = {c.target for c in self.plan.columns if c.pii}
        shown = "(pii)" if column in pii else mask_value(value)
        key = tuple(row[i] for i in self.key_positions)
        return RejectRecord(self.plan.name, chunk.chunk_no, key, column, reason, shown)


_PLAIN = {"integer", "decimal", "float", "boolean", "date", "time", "timestamp", "uuid"}


def _copy_kind(col: ColumnPlan) -> CopyKind:
    """How the pipe path encodes a column's text form (see ``dialects.copytext``)."""
    if isinstance(col.target_type, sa.LargeBinary):
        return "binary"
    if col.source_info is not None and col.source_info.kind in _PLAIN and not col.transforms:
        return "plain"
    return "text"
