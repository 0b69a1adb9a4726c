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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.copy.pipeline import fewer_gc_passes, prefetch
from datamove.copy.throttle import Throttle
from datamove.core.evidence import RejectRecord
from datamove.core.keys import KeyRange, KeyValue, key_null
from datamove.dialects.base import Dialect, Row
from datamove.errors import Interrupted, RowError
from datamove.plan.compiled import CompiledTable
from datamove.redact import mask_value
from datamove.state.store import ChunkState, StateStore


@dataclass(frozen=True)
class ChunkResult:
    rows: int
    rejects: int
    path: str
    seconds: float


class _DataFailure(Exception):
    """A fast path failed because of the rows; the chunk is redone carefully."""


class ChunkCopier:
    """Copies chunks of one compiled table; safe to share between worker threads (holds no
    connection)."""

    def __init__(
        self, compiled: CompiledTable, state: StateStore, run_id: str, throttle: Throttle
    ) -> None:
        self.compiled = compiled
        self.plan = plan = compiled.plan
        self.source = source = compiled.source
        self.target = target = compiled.target
        self.state = state
        self.run_id = run_id
        self.throttle = throttle
        # Only a fresh range can be bulk-copied: the other write modes merge row by row.
        self.replace = plan.write_mode == "replace_range"
        self.pipe = (
            self.replace and source.can_copy_out() and target.SUPPORTS_COPY and compiled.pushdown
        )
        self.binary_possible = (
            self.pipe
            and source.same_engine(target)
            and source.BINARY_COPY
            and not throttle.rate  # the throttle counts rows, which only text COPY shows
        )
        self.binary = False  # decided on the first chunk, from both servers' column types

    def boundaries(self, conn: Connection) -> list[KeyValue]:
        """Keys closing every ``batch_size`` rows in key order.

        Computed inside the source database, so only the boundary keys travel: for a dense
        integer key from its minimum, maximum and count (three aggregates on the index);
        otherwise by numbering the keys with a window function.
        """
        src = self.plan.source_table
        keys = [src.c[k] for k in self.plan.key]
        size = self.plan.batch_size
        where = self.compiled.source_filter(KeyRange())
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
            sa.select(
                *keys, sa.func.row_number().over(order_by=self.compiled.source_key).label("dm_rn")
            )
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
        self.throttle.stop.check()  # started after a stop: nothing of it is done
        with self.source.connect() as src, self.target.connect() as tgt:
            try:
                with tgt.begin():
                    self.target.defer_constraints(tgt)
                    if self.replace:
                        tgt.execute(
                            sa.delete(self.plan.target_table).where(
                                chunk.range.predicate(self.compiled.target_key),
                                self.plan.target_filter,
                            )
                        )
                    if careful:
                        rows, rejects, path = self._careful(src, tgt, chunk)
                    elif self.pipe:
                        rows, rejects = self._pipe(src, tgt, chunk), []
                        path = "copy-binary" if self.binary else "copy"
                    else:
                        rows, rejects, path = self._rows(src, tgt, chunk), [], "rows"
                    rejects += self.null_key_rejects(src, chunk)
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
                if self.throttle.stop.requested and not isinstance(exc, Interrupted):
                    # A cancelled statement, not bad data: the chunk rolled back, and stays so.
                    raise Interrupted("stopped by request; the chunk was rolled back") from exc
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
            made = self.source.result_types(src, self.compiled.select())
            wanted = self.target.column_types(tgt, self.plan.target_table, self.compiled.columns)
            self.binary = made == wanted and all(self.source.is_builtin_type(t) for t in made)
            self.binary_possible = self.binary

    def _pipe(self, src: Connection, tgt: Connection, chunk: ChunkState) -> int:
        self._decide_binary(src, tgt)

        def blocks() -> Iterator[bytes]:
            stmt = self.compiled.select(chunk.range)
            kinds = self.compiled.copy_kinds
            for block in self.source.copy_out(src, stmt, kinds, self.binary):
                if not self.binary:
                    self.throttle(block.count(b"\n"))  # one line per row
                yield block

        table = self.plan.target_table
        columns = self.compiled.columns
        return self.target.copy_in(tgt, table, columns, prefetch(blocks()), self.binary)

    def _rows(self, src: Connection, tgt: Connection, chunk: ChunkState) -> int:
        total = 0
        stmt = self.compiled.select(chunk.range)
        # The next batch is read while this one is converted and written.
        batches = prefetch(self.source.stream(src, stmt, self.target.WRITE_BATCH_ROWS))
        if not self.replace:
            for batch in batches:
                self.throttle(len(batch))
                self._write(tgt, self.compiled.convert(batch, tgt))
                total += len(batch)
            return total
        queries = any(c.lookup for c in self.compiled.written)  # lookups query the target
        writer = self.target.batch_writer(tgt, self.plan.target_table, self.compiled.columns)
        with fewer_gc_passes(), writer:
            for batch in batches:
                self.throttle(len(batch))
                if queries:
                    writer.pause()
                writer.write(self.compiled.convert_columns(batch, tgt))
                total += len(batch)
        return total

    def null_key_rejects(self, src: Connection, chunk: ChunkState) -> list[RejectRecord]:
        """The rows in scope whose key is NULL (declared ``not_null``), as rejects of the first
        chunk: no key range holds them, and no row may vanish without a reason."""
        plan = self.plan
        if chunk.lo is not None or not plan.nullable_key:
            return []
        src_table = plan.source_table
        cond = key_null([src_table.c[k] for k in plan.nullable_key])
        if plan.where:
            cond = sa.and_(sa.text(f"({plan.where})"), cond)
        written = self.compiled.written
        keys = [self.compiled.expr(written[i], pushdown=False) for i in self.compiled.key_positions]
        stmt = sa.select(*keys).select_from(src_table).where(cond)
        out: list[RejectRecord] = []
        for batch in self.source.stream(src, stmt, self.target.WRITE_BATCH_ROWS):
            out.extend(self._null_key_reject(chunk, tuple(row)) for row in batch)
        return out

    def _null_key_reject(self, chunk: ChunkState, key: KeyValue) -> RejectRecord:
        """The reject of a row whose ``key`` holds a NULL, naming the first such column."""
        n = next(i for i, v in enumerate(key) if v is None)
        column = self.compiled.columns[self.compiled.key_positions[n]]
        reason = f"NULL in key column '{self.plan.key[n]}'"
        return RejectRecord(self.plan.name, chunk.chunk_no, key, column, reason, mask_value(None))

    # -- the careful path ------------------------------------------------------------------

    def _careful(
        self, src: Connection, tgt: Connection, chunk: ChunkState
    ) -> tuple[int, list[RejectRecord], str]:
        rejects: list[RejectRecord] = []
        good: list[Row] = []
        stmt = self.compiled.select(chunk.range, pushdown=False)
        for batch in self.source.stream(src, stmt, self.target.WRITE_BATCH_ROWS):
            self.throttle(len(batch))
            lookups = self.compiled.lookups(tgt, batch)
            for row in batch:
                try:
                    good.append(self.compiled.convert_one(row, lookups))
                except RowError as err:
                    rejects.append(self._reject(chunk, row, err.column, err.reason, err.value))
        written = self._write_isolating(tgt, chunk, good, rejects)
        return written, rejects, "careful"

    def _write_isolating(
        self, tgt: Connection, chunk: ChunkState, rows: list[Row], rejects: list[RejectRecord]
    ) -> int:
        """Write ``rows`` under savepoints; the rows the target refuses become rejects."""
        refused = write_isolating(tgt, self.target, rows, lambda part: self._write(tgt, part))
        rejects.extend(self._reject(chunk, row, None, reason, None) for row, reason in refused)
        return len(rows) - len(refused)

    def _write(self, tgt: Connection, rows: list[Row]) -> None:
        """Rows into the target the table's write mode's way (bulk, or merged by key)."""
        plan = self.plan
        if self.replace:
            self.target.write(tgt, plan.target_table, self.compiled.columns, rows)
        else:
            self.target.upsert(
                tgt,
                plan.target_table,
                self.compiled.columns,
                plan.target_key,
                rows,
                plan.write_mode,
                plan.newer_column,
            )

    def _reject(
        self, chunk: ChunkState, row: Row, column: str | None, reason: str, value: Any
    ) -> RejectRecord:
        pii = {c.target for c in self.compiled.written if c.pii}
        shown = "(pii)" if column in pii else mask_value(value)
        key = self.compiled.key_of(row)
        return RejectRecord(self.plan.name, chunk.chunk_no, key, column, reason, shown)


def write_isolating(
    conn: Connection, target: Dialect, rows: list[Row], write: Callable[[list[Row]], None]
) -> list[tuple[Row, str]]:
    """``write(rows)`` under savepoints, bisecting a failure down to the single rows the
    target refuses: those, each with the first line of the target's reason (no row value in
    it: ``Dialect.error_text``). Any error but a data error is raised."""
    if not rows:
        return []
    try:
        with conn.begin_nested():
            write(rows)
        return []
    except Exception as exc:
        if not target.is_data_error(exc):
            raise
        if len(rows) == 1:
            return [(rows[0], (target.error_text(exc).splitlines() or ["refused"])[0])]
    mid = len(rows) // 2
    return write_isolating(conn, target, rows[:mid], write) + write_isolating(
        conn, target, rows[mid:], write
    )
