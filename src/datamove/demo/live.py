"""The demo's live application: it keeps changing the legacy shop while datamove copies it.

Change capture is installed before the copy, so every change the writer makes — before,
during or after a chunk is copied — is caught up by ``sync``; verify then proves it.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from rich.console import Console

from datamove.events import Event, SyncProgress
from datamove.migration import Migration
from datamove.sync.runner import SyncOptions, SyncResult

WRITES = 150
STATUS_CODES = (0, 1, 2, 3, 9)


class ShopWriter(threading.Thread):
    """Updates order statuses and notes, and customer e-mails, one transaction each."""

    def __init__(
        self, legacy: Path, orders: range, customers: int, skip: int, seed: int = 7
    ) -> None:
        super().__init__(name="demo-writer", daemon=True)
        self.legacy = legacy
        self.orders = [o for o in orders if o != skip]  # the orphaned order is a reject
        self.customers = customers
        self.rng = random.Random(seed)
        self.writes = 0

    def run(self) -> None:
        with closing(sqlite3.connect(self.legacy, timeout=30)) as conn:
            for n in range(WRITES):
                if n % 3:
                    conn.execute(
                        "UPDATE orders SET status = ?, note = ? WHERE order_id = ?",
                        (
                            self.rng.choice(STATUS_CODES),
                            f"changed live #{n}",
                            self.rng.choice(self.orders),
                        ),
                    )
                else:
                    cust = self.rng.randint(1, self.customers)
                    conn.execute(
                        "UPDATE customers SET email = ? WHERE cust_id = ?",
                        (f"moved.{n}@example.org", cust),
                    )
                conn.commit()
                self.writes += 1
                time.sleep(0.005)


def catch_up(migration: Migration, writer: ShopWriter, out: Console) -> SyncResult:
    """Wait for the writer, then sync until nothing is pending, showing the lag fall."""
    writer.join()
    shown: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, SyncProgress):
            shown.append(f"{event.pending} pending ({event.lag_seconds:.1f}s)")

    result = migration.sync(SyncOptions(until_lag=0, max_batch=40), on_event=on_event)
    out.print(
        f"\n[bold]6. live changes[/] the application changed {writer.writes} rows during and "
        "after the copy; capture recorded each key, sync re-read and applied them:"
    )
    out.print(f"   lag: {' → '.join(shown[:8])}{' → …' if len(shown) > 8 else ''}")
    out.print(
        f"   {result.changes} change(s) in {result.batches} batch(es): {result.upserted} "
        f"row(s) upserted; {result.pending} pending"
    )
    return result
