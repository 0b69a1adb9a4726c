"""Catch-up: apply captured changes by re-reading the current source rows.

A batch is the next ``max_batch`` changelog entries. They are collapsed per (table, key) —
how often or in which order a key changed does not matter — and for every key the *current*
source row is read through the mapping: present, it is upserted into the target; gone (or
filtered out), it is deleted (or soft-deleted, per the table's delete rules). The latest
state therefore always wins, and replaying a batch after a crash writes the same rows again.
Tables are applied parents first. The rows and the new checkpoint commit in one target
transaction; the source changelog is purged only up to that checkpoint, afterwards.

A row whose looked-up parent is not in the target yet (its change is in a later batch) makes
the batch wait and retry, a bounded number of times; then it becomes a reject.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canon_for, canonical
from datamove.core.evidence import RejectRecord
from datamove.core.keys import CanonKey, any_key
from datamove.dialects.base import Dialect, Row
from datamove.errors import RowError
from datamove.plan.compiled import CompiledPlan, CompiledTable
from datamove.plan.model import Plan, TablePlan
from datamove.spec.models import DeleteMode, MigrationSpec
from datamove.state.store import StateStore
from datamove.sync.changelog import Change, Changelog
from datamove.sync.state import SyncState

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

    def __init__(
        self,
        plan: Plan,
        spec: MigrationSpec,
        source: Dialect,
        target: Dialect,
        run_id: str,
    ) -> None:
        self.plan = plan
        self.spec = spec
        self.source = source
        self.target = target
        self.run_id = run_id
        self.changelog = Changelog(source)
        self.sync_state = SyncState(target, spec.name)
        self.state = StateStore(target, spec.name)
        self.compiled = CompiledPlan(plan, source, target)
        self.gaps: dict[int, float] = {}
        """First sight (monotonic) of each hole in the sequence, by its first number."""

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
        it wait and retry; after the last wait such rows become rejects."""
        started = time.monotonic()
        for wait in (*ORPHAN_RETRIES, None):
            try:
                result = self._commit(keys, checkpoint, allow_rejects=wait is None)
                break
            except _ParentMissing:
                assert wait is not None
                time.sleep(wait)
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
    ) -> BatchResult:
        result = BatchResult(0)
        with self.source.connect() as src, self.target.connect() as tgt, tgt.begin():
            self.target.defer_constraints(tgt)
            for name in self.plan.order:
                table = self.plan.tables[name]
                wanted = keys.get(table.source_name)
                if wanted:
                    self._apply_table(table, wanted, src, tgt, result, allow_rejects)
            if result.rejects:
                self.state.record_rejects(tgt, result.rejects, self.run_id)
            checkpoint(tgt, result)
        return result

    def _apply_table(
        self,
        table: TablePlan,
        wanted: list[tuple[Any, ...]],
        src: Connection,
        tgt: Connection,
        result: BatchResult,
        allow_rejects: bool,
    ) -> None:
        compiled = self.compiled[table.name]
        canons = [canon_for(_key_info(table, k)) for k in table.key]
        raw = self._reread(compiled, table, wanted, src)
        columns = compiled.columns
        if table.second_pass:  # rows first, with their self-references NULL
            loaded = self._convert(compiled, raw, tgt, result, True, final=False)
            self.target.upsert(tgt, table.target_table, columns, table.target_key, loaded)
        rows = self._convert(compiled, raw, tgt, result, allow_rejects)
        self.target.upsert(tgt, table.target_table, columns, table.target_key, rows)
        result.upserted += len(rows)
        present = {_canon_key(r, compiled.key_positions, canons) for r in raw}
        gone = [k for k in wanted if _canon(k, canons) not in present]
        if gone:
            result.deleted += self.remove(table, gone, tgt)

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
        match = any_key([target.c[k] for k in table.target_key], keys)
        rules = self.spec.tables[table.name].deletes
        if rules.mode is DeleteMode.soft and rules.column:
            # The row is gone, so a ``from:`` column cannot be read: the time it was seen gone.
            mark = rules.value if rules.value is not None else sa.func.current_timestamp()
            stmt: Any = target.update().where(match).values({rules.column: mark})
        else:
            stmt = target.delete().where(match)
        return int(tgt.execute(stmt).rowcount or 0)

    def purge(self, upto: int) -> int:
        with self.source.connect() as src:
            return self.changelog.purge(src, upto)


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
