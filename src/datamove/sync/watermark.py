"""Watermark catch-up, for sources where triggers are not allowed.

Each pass re-reads, per table, every row whose watermark column (``updated_at``) is at least
the last applied watermark minus ``skew_margin``, and applies it like a captured change
(upsert through the mapping, the new watermark committed in the same transaction). The
margin is what makes this safe at all: writers' clocks disagree, and a transaction that
commits late carries an ``updated_at`` from when it started, so a row can appear *behind* a
watermark already passed. Rows written more than the margin behind are missed — a
trade-off triggers do not have.

A hard delete leaves no row to re-read: after the re-read, a key diff (verification's range
checksums over the keys only, so only differing ranges are read again) finds target rows
whose source row is gone, and rows the watermark never saw; both are applied.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.errors import UsageError
from datamove.plan.model import TablePlan
from datamove.sync.apply import Applier, BatchResult
from datamove.sync.state import SyncState
from datamove.verify.checksum import ChecksumDiff, sides
from datamove.verify.mapped import map_table
from datamove.verify.result import TableDiff

KEY_DIFF_ROWS = 1_000_000
"""Differing keys located per pass (a key diff past it is finished by the next pass)."""


class WatermarkPass:
    """One pass over every table: the window re-read, then the key diff."""

    def __init__(self, applier: Applier) -> None:
        plan, spec = applier.plan, applier.spec
        column = spec.sync.column
        assert column is not None
        missing = [t.name for t in plan.tables.values() if column not in t.source_table.c]
        if missing:
            raise UsageError(
                f"watermark column '{column}' is not in source table(s): {', '.join(missing)}",
                hint="sync.column must exist in every table in scope",
            )
        self.plan = plan
        self.column = column
        self.margin = dt.timedelta(seconds=spec.sync.skew_margin)
        self.source = applier.source
        self.target = applier.target
        self.applier = applier
        self.state = SyncState(self.target, spec.name)

    def run(self, max_batch: int) -> BatchResult:
        """Re-read the window of every table, parents first; then propagate deletes."""
        total = BatchResult(0)
        for name in self.plan.order:
            self._window(self.plan.tables[name], max_batch, total)
        for name in self.plan.order:
            self._key_diff(self.plan.tables[name], total)
        return total

    def _window(self, table: TablePlan, max_batch: int, total: BatchResult) -> None:
        with self.target.connect() as tgt:
            mark = self.state.watermark(tgt, table.name)
        col = table.source_table.c[self.column]
        keys = [table.source_table.c[k] for k in table.key]
        stmt = sa.select(*keys, col).select_from(table.source_table)
        if mark is not None:
            stmt = stmt.where(col >= sa.literal(_behind(mark, self.margin), type_=col.type))
        with self.source.connect() as src:
            rows = [tuple(r) for batch in self.source.stream(src, stmt, 10_000) for r in batch]
        if not rows:
            return
        width = len(keys)
        newest = max((r[width] for r in rows if r[width] is not None), default=mark)
        for start in range(0, len(rows), max_batch):
            part = rows[start : start + max_batch]
            last = start + max_batch >= len(rows)

            def checkpoint(tgt: Connection, result: BatchResult, last: bool = last) -> None:
                if last and newest is not None:  # the window counts as applied once whole
                    self.state.set_watermark(tgt, table.name, newest)

            keyed = {table.source_name: [r[:width] for r in part]}
            _add(total, self.applier.apply_keys(keyed, checkpoint))
        total.changes += len(rows)

    def _key_diff(self, table: TablePlan, total: BatchResult) -> None:
        """Target rows whose source row is gone are deleted; source rows the target lacks
        (written before the window, or behind it by more than the margin) are applied."""
        diff = TableDiff(table.name, "keys")
        with self.source.connect() as src, self.target.connect() as tgt:
            overrides = self.target.reflect_overrides(tgt, table.target_table)
            mapped = map_table(self.plan, self.applier.compiled[table.name], 15, overrides)
            s_side, t_side = sides(mapped, (self.source, src), (self.target, tgt), keys_only=True)
            ChecksumDiff(mapped, s_side, t_side, KEY_DIFF_ROWS, False).run(diff)
        gone = [diff.raw_keys[k] for k in diff.extra]
        unseen = [diff.raw_keys[k] for k in diff.missing]
        if unseen:
            _add(total, self.applier.apply_keys({table.source_name: unseen}, _no_checkpoint))
        if gone:
            with self.applier.writer() as tgt, tgt.begin():
                total.deleted += self.applier.remove(table, gone, tgt)


def _behind(mark: Any, margin: dt.timedelta) -> Any:
    """The window's start: ``margin`` behind a time watermark (SQLite keeps times as text;
    a number, a version counter, is used as is)."""
    if isinstance(mark, str):
        try:
            mark = dt.datetime.fromisoformat(mark)
        except ValueError:
            return mark
    if isinstance(mark, dt.datetime | dt.date):
        return mark - margin
    return mark


def _no_checkpoint(tgt: Connection, result: BatchResult) -> None:
    """Rows found by the key diff move no watermark."""


def _add(total: BatchResult, part: BatchResult) -> None:
    total.upserted += part.upserted
    total.deleted += part.deleted
    total.rejects += part.rejects
    total.seconds += part.seconds
