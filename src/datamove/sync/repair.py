"""``sync``'s drift repair: the keys dual-write recorded in the source's drift table
(``state.drift``) re-copied from the source, then their rows marked repaired.

Runs before the changelog (or watermark) batches, in batches of its own; a re-copy reads the
current source row, so repairing a key twice writes the same row. A row recorded while a batch
runs has a higher id than those read and waits for the next ``sync``.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from datamove.state.drift import DriftTable, by_table
from datamove.sync.apply import Applier, BatchResult


def repair_drift(applier: Applier, max_batch: int) -> BatchResult:
    """Every open drift row of the source, re-copied and marked repaired; the totals."""
    drift, total = DriftTable(), BatchResult(0)
    tables = {t.source_name for t in applier.plan.tables.values()}
    while True:
        with applier.source.connect() as src:
            rows = drift.open(src, tables, max_batch)
            src.rollback()
        if not rows:
            return total

        def keep(tgt: Connection, result: BatchResult) -> None:
            """Progress is the drift rows themselves (marked once the copy committed)."""

        result = applier.apply_keys(by_table(rows), keep)
        total.upserted += result.upserted
        total.deleted += result.deleted
        total.rejects += result.rejects
        total.changes += len(rows)
        with applier.source.connect() as src, src.begin():
            drift.mark_repaired(src, [r.id for r in rows])
