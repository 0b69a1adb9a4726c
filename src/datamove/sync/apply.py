"""Catch-up: apply captured changes by re-reading the current source rows.

A batch is the next ``max_batch`` changelog entries. They are collapsed per (table, key) —
how often or in which order a key changed does not matter — and for every key the *current*
source row is read through the mapping: present, it is upserted into the target; gone (or
filtered out), it is deleted (or soft-deleted, per the table's delete rules). The latest
state therefore always wins, and replaying a batch after a crash writes the same rows again.
Tables are applied parents first. The rows and the new checkpoint commit in one target
transaction; the source changelog is purged only up to that checkpoint, afterwards.

After a rollback the target stays fenced while the source is live again: the writes go through
the fence's bypass then (``writer``), so ``sync`` catches the target up for a second cutover
while the application's writes there are still refused (and the target's reverse capture does
not record them).

A row whose looked-up parent is not in the target yet (its change is in a later batch) makes
the batch wait and retry, a bounded number of times; then it becomes a reject.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.copy.chunk import write_isolating
from datamove.core.canonical import Canon, canon_for, canonical
from datamove.core.evidence import RejectRecord
from datamove.core.keys import CanonKey, any_key
from datamove.dialects.base import Row
from datamove.errors import RowError
from datamove.plan.compiled import CompiledPlan, CompiledTable
from datamove.plan.model import TablePlan
from datamove.redact import mask_value
from datamove.spec.models import DeleteMode, MigrationSpec
from datamove.state.store import StateStore
from datamove.sync.changelog import Change, Changelog
from datamove.sync.state import SyncState
from datamove.sync.unique import Moves, TargetShape, UniqueMoves, parked, target_shape

GAP_SECONDS = 60.0
"""How long a hole in the changelog's sequence is waited for: a writer that took a number
and has not committed yet fills it; a rolled-back one never will."""
ORPHAN_RETRIES = (0.5, 1.0, 2.0, 4.0)
"""Waits for a missing parent before its child becomes a reject (seconds)."""
SYNC_CHUNK = -1
"""The chunk number rejects of ``sync`` are recorded under."""


@dataclass
class BatchResult:
    changes: int
    upserted: int = 0
    deleted: int = 0
    rejects: list[RejectRecord] = field(default_factory=list)
    applied_seq: int = 0
    seconds: float = 0.0


class _ParentMissing(Exception):
    """A looked-up parent is not in the target yet: the batch waits and retries."""


class Applier:
    """Applies changelog batches of one plan into its target."""

    def __init__(self, compiled: CompiledPlan, spec: MigrationSpec, run_id: str) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.spec = spec
        self.source = source = compiled.source
        self.target = target = compiled.target
        self.run_id = run_id
        self.changelog = Changelog(source)
        self.sync_state = SyncState(target, spec.name)
        self.state = StateStore(target, spec.name)
        self.gaps: dict[int, float] = {}
        """First sight (monotonic) of each hole in the sequence, by its first number."""
        self.shapes: dict[str, TargetShape] = {}

    @cached_property
    def target_fenced(self) -> bool:
        """The target carries a write fence (a rollback left it): read once per ``sync``."""
        with self.target.connect() as tgt:
            return bool(self.target.fence.fences(tgt))

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A target connection for the sync's writes, through the fence's bypass when the
        target is fenced (a bypass connection is closed afterwards, not pooled)."""
        with self.target.connect() as tgt:
            if not self.target_fenced:
                yield tgt
                return
            with self.target.fence.bypass(tgt):
                yield tgt

    # -- one batch --------------------------------------------------------------------------

    def apply_batch(self, after: int, max_batch: int) -> BatchResult | None:
        """Apply the changes after sequence ``after``; None when there are none."""
        with self.source.connect() as src:
            changes = self._settled(after, self.changelog.read(src, after, max_batch))
            src.rollback()
        if not changes:
            return None
        seq = changes[-1].seq

        def checkpoint(tgt: Connection, result: BatchResult) -> None:
            self.sync_state.advance(tgt, seq, result.upserted + result.deleted)

        result = self.apply_keys(_collapse(changes), checkpoint)
        result.changes, result.applied_seq = len(changes), seq
        return result

    def apply_keys(
        self,
        keys: dict[str, list[tuple[Any, ...]]],
        checkpoint: Callable[[Connection, BatchResult], None],
    ) -> BatchResult:
        """Bring the target rows of ``keys`` (per source table) to the source's current state
        in one transaction, which ``checkpoint`` records progress in. A missing parent makes
        it wait and retry; after the last wait such rows become rejects. A row the target
        refuses (a value it cannot store, a unique key not planned for) makes the batch run
        again with each write under a savepoint: the refused rows become rejects."""
        started = time.monotonic()
        waits, isolate = list(ORPHAN_RETRIES), False
        while True:
            try:
                result = self._commit(keys, checkpoint, not waits, isolate)
                break
            except _ParentMissing:
                time.sleep(waits.pop(0))
            except sa.exc.DBAPIError as exc:
                if isolate or not self.target.is_data_error(exc):
                    raise
                isolate = True
        result.seconds = time.monotonic() - started
        return result

    def _settled(self, after: int, changes: list[Change]) -> list[Change]:
        """The changes up to the first hole in the sequence that is younger than
        ``GAP_SECONDS``: a number taken by a transaction still running must not be passed by
        the checkpoint, or its change would never be applied."""
        expected, now = after + 1, time.monotonic()
        for i, change in enumerate(changes):
            if change.seq != expected:
                seen = self.gaps.setdefault(expected, now)
                if now - seen < GAP_SECONDS:
                    return changes[:i]
            expected = change.seq + 1
        return changes

    def _commit(
        self,
        keys: dict[str, list[tuple[Any, ...]]],
        checkpoint: Callable[[Connection, BatchResult], None],
        allow_rejects: bool,
        isolate: bool,
    ) -> BatchResult:
        result = BatchResult(0)
        with self.source.connect() as src, self.writer() as tgt, tgt.begin():
            self.source.read_snapshot(src)
            self.target.defer_constraints(tgt)
            for name in self.plan.order:
                table = self.plan.tables[name]
                wanted = keys.get(table.source_name)
                if wanted:
                    batch = _TableBatch(self, table, src, tgt, result, allow_rejects, isolate)
                    batch.apply(wanted)
            if result.rejects:
                self.state.record_rejects(tgt, result.rejects, self.run_id)
            checkpoint(tgt, result)
        return result

    def shape(self, table: TablePlan, tgt: Connection) -> TargetShape:
        """The target table's unique keys and stored columns, read once per ``sync``."""
        if table.name not in self.shapes:
            written = self.compiled[table.name].columns
            self.shapes[table.name] = target_shape(self.target, tgt, table, written)
        return self.shapes[table.name]

    def _reread(
        self,
        compiled: CompiledTable,
        table: TablePlan,
        keys: list[tuple[Any, ...]],
        src: Connection,
    ) -> list[Row]:
        """The current source rows (in scope) of ``keys``, as the copy reads them."""
        cols = [table.source_table.c[k] for k in table.key]
        out: list[Row] = []
        for start in range(0, len(keys), 500):
            stmt = compiled.select(final=True).where(any_key(cols, keys[start : start + 500]))
            for batch in self.source.stream(src, stmt, 1000):
                out.extend(batch)
        return out

    def _convert(
        self,
        compiled: CompiledTable,
        rows: list[Row],
        tgt: Connection,
        result: BatchResult,
        allow_rejects: bool,
        final: bool = True,
    ) -> list[Row]:
        """The rows converted as the copy converts them (``final``: second-pass columns
        translated; else NULL, as the load writes them, and bad rows left uncounted)."""
        try:
            return compiled.convert(rows, tgt, final)
        except RowError:
            pass
        out: list[Row] = []
        for row in rows:
            try:
                out.extend(compiled.convert([row], tgt, final))
            except RowError as err:
                if "orphan" in err.reason and not allow_rejects:
                    raise _ParentMissing() from None
                if final:
                    key = compiled.key_of(row)
                    result.rejects.append(
                        RejectRecord(
                            compiled.plan.name, SYNC_CHUNK, key, err.column, err.reason, ""
                        )
                    )
        return out

    def remove(self, table: TablePlan, keys: list[tuple[Any, ...]], tgt: Connection) -> int:
        """Delete (or soft-delete) the target rows of source rows that are gone."""
        target = table.target_table
        # only the plan's own rows: a phase's sync reads another phase's keys as gone
        match = sa.and_(any_key([target.c[k] for k in table.target_key], keys), table.target_filter)
        rules = self.spec.tables[table.name].deletes
        if rules.mode is DeleteMode.soft and rules.column:
            # The row is gone, so a ``from:`` column cannot be read: the time it was seen gone.
            mark = rules.value if rules.value is not None else sa.func.current_timestamp()
            stmt: Any = target.update().where(match).values({rules.column: mark})
        else:
            stmt = target.delete().where(match)
        return int(tgt.execute(stmt).rowcount or 0)

    def deletes_free(self, table: TablePlan) -> bool:
        """``remove`` deletes the row (no soft delete keeps it, with its unique values)."""
        rules = self.spec.tables[table.name].deletes
        return not (rules.mode is DeleteMode.soft and rules.column)

    def purge(self, upto: int) -> int:
        with self.source.connect() as src:
            return self.changelog.purge(src, upto)


class _TableBatch:
    """One table's share of a batch, inside the batch's target transaction: its rows read
    from the source and converted, the unique values they move planned (``sync.unique``),
    then removals, parked rows, writes, and parked rows back, in that order."""

    def __init__(
        self,
        applier: Applier,
        table: TablePlan,
        src: Connection,
        tgt: Connection,
        result: BatchResult,
        allow_rejects: bool,
        isolate: bool,
    ) -> None:
        self.applier, self.table, self.src, self.tgt = applier, table, src, tgt
        self.result, self.allow_rejects, self.isolate = result, allow_rejects, isolate
        self.compiled = applier.compiled[table.name]
        self.canons = [canon_for(_key_info(table, k)) for k in table.key]
        self.raw: dict[CanonKey, Row] = {}
        """The current source rows, by key."""
        self.first: dict[CanonKey, Row] = {}
        """The rows as first written (a second pass's columns NULL), by key."""
        self.refused: set[CanonKey] = set()

    def canon(self, key: Sequence[Any]) -> CanonKey:
        return _canon(key, self.canons)

    def row_key(self, row: Row) -> CanonKey:
        return _canon_key(row, self.compiled.key_positions, self.canons)

    def apply(self, keys: list[tuple[Any, ...]]) -> None:
        wanted = {self.canon(k): k for k in keys}
        self._read(keys)
        shape = self.applier.shape(self.table, self.tgt)
        moves = Moves()
        if shape.keys:
            unique = UniqueMoves(shape, self.table, self.tgt, self.canon)
            fresh = self.first
            while more := unique.outside(fresh, set(wanted)):
                wanted.update((self.canon(k), k) for k in more)
                fresh = self._read(more)
            moves = self._plan(unique, shape, set(wanted) - set(self.raw))
        gone = [k for c, k in wanted.items() if c not in self.raw]
        if gone:
            self.result.deleted += self.applier.remove(self.table, gone, self.tgt)
        if moves.rejects and self.applier.deletes_free(self.table) and not shape.acting:
            rejected = [self.compiled.key_of(self.raw[k]) for k in moves.rejects]
            self.applier.remove(self.table, rejected, self.tgt)
        self._write_all(shape, moves)

    def _read(self, keys: list[tuple[Any, ...]]) -> dict[CanonKey, Row]:
        """Read and convert the current rows of ``keys``; the converted rows, by key."""
        compiled, final = self.compiled, not self.table.second_pass
        raw = self.applier._reread(compiled, self.table, keys, self.src)
        self.raw.update((self.row_key(r), r) for r in raw)
        # With a second pass, a bad row is rejected by the final conversion only.
        allow = self.allow_rejects or not final
        rows = self.applier._convert(compiled, raw, self.tgt, self.result, allow, final=final)
        converted = {self.row_key(r): r for r in rows}
        self.first.update(converted)
        return converted

    def _plan(self, unique: UniqueMoves, shape: TargetShape, gone: set[CanonKey]) -> Moves:
        """The unique moves, their rejects recorded (values masked per ``pii``); ``gone``:
        the keys whose source rows are gone."""
        free = self.applier.deletes_free(self.table)
        moves = unique.plan(self.first, gone if free else set(), free and not shape.acting)
        written = self.compiled.written
        for key, (ukey, reason) in moves.rejects.items():
            col = written[ukey.positions[0]]
            value = self.first[key][ukey.positions[0]]
            shown = "(pii)" if col.pii else mask_value(value)
            self.result.rejects.append(
                RejectRecord(
                    self.table.name,
                    SYNC_CHUNK,
                    self.compiled.key_of(self.raw[key]),
                    col.target,
                    reason,
                    shown,
                )
            )
        return moves

    def _write_all(self, shape: TargetShape, moves: Moves) -> None:
        """Write the rows: parked ones aside while the others are written, then back; with a
        second pass, all of them once more with its columns translated."""
        columns = self.compiled.columns
        parked_keys = {self.canon(k) for k in moves.parked}
        rows = {k: r for k, r in self.first.items() if k not in moves.rejects}
        written = 0
        with parked(self.applier.target, self.tgt, self.table, shape, moves.parked) as restore:
            written += self._write([r for k, r in rows.items() if k not in parked_keys])
            back = [r for k, r in rows.items() if k in parked_keys]
            written += self._write(back, lambda part: restore(columns, part))
        if self.table.second_pass:
            kept = [r for k, r in self.raw.items() if k not in moves.rejects]
            final = self.applier._convert(
                self.compiled, kept, self.tgt, self.result, self.allow_rejects
            )
            written = self._write([r for r in final if self.row_key(r) not in self.refused])
        self.result.upserted += written

    def _write(self, rows: list[Row], put: Callable[[list[Row]], None] | None = None) -> int:
        """Write ``rows`` (upserted, unless ``put`` says otherwise); isolating refused rows
        as rejects when the batch runs isolated. The rows written."""
        table = self.table

        def upsert(part: list[Row]) -> None:
            columns = self.compiled.columns
            target = self.applier.target
            target.upsert(self.tgt, table.target_table, columns, table.target_key, part)

        write = put or upsert
        if not self.isolate:
            write(rows)
            return len(rows)
        refused = write_isolating(self.tgt, self.applier.target, rows, write)
        for row, reason in refused:
            self.refused.add(self.row_key(row))
            key = self.compiled.key_of(row)
            self.result.rejects.append(
                RejectRecord(table.name, SYNC_CHUNK, key, None, reason, mask_value(None))
            )
        return len(rows) - len(refused)


def _key_info(table: TablePlan, name: str) -> Any:
    return next((c.source_info for c in table.columns if c.source == name), None)


def _canon(key: Sequence[Any], canons: Sequence[Canon]) -> CanonKey:
    return tuple(canonical(v, c) for v, c in zip(key, canons, strict=True))


def _canon_key(row: Row, positions: Sequence[int], canons: Sequence[Canon]) -> CanonKey:
    return _canon([row[p] for p in positions], canons)


def _collapse(changes: list[Change]) -> dict[str, list[tuple[Any, ...]]]:
    """Distinct keys per source table: how often a key changed does not matter."""
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for change in changes:
        out.setdefault(change.table, {})[repr(change.key)] = change.key
    return {t: list(keys.values()) for t, keys in out.items()}
