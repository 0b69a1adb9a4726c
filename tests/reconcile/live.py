"""What the reconcile tests stand on: a migrated ``items`` table with trigger capture, an
application thread writing to the source, and ``sync --follow`` in a thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datamove import Migration
from datamove.core.stop import Stop
from datamove.sync.runner import SyncOptions
from tests.cutover.test_runbook import TABLES, source_items
from tests.helpers import write_spec

HOT = 100
"""The writer touches ids 1..HOT and the rows it inserts (from 100000 up); others are quiet."""


def migrated(
    tmp: Path, source: str, target: str, reconcile: str, tables: str = TABLES, **extra: Any
) -> Migration:
    """``items`` (2,000 rows) copied with capture on and caught up."""
    source_items(source)
    spec = write_spec(
        tmp / "m.yaml",
        source,
        target,
        tables,
        sync="{mode: triggers}",
        reconcile=reconcile,
        **extra,
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.sync(SyncOptions(until_lag=0))
    return migration


class Writer(threading.Thread):
    """An application: updates hot rows, inserts rows, deletes and re-keys its own, each in a
    transaction of its own, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(name="app-writer", daemon=True)
        self.engine = sa.create_engine(url)
        self.halt = threading.Event()
        self.writes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        mine: list[int] = []
        next_id = 100_000
        try:
            while not self.halt.is_set():
                n = self.writes
                with self.engine.begin() as conn:
                    if n % 4 == 0:
                        conn.execute(
                            sa.text("INSERT INTO items (id, name, amount) VALUES (:k, :n, :a)"),
                            {"k": next_id, "n": f"new {n}", "a": n % 500},
                        )
                        mine.append(next_id)
                        next_id += 1
                    elif n % 4 == 3 and len(mine) > 3:
                        gone = mine.pop(0)
                        conn.execute(sa.text("DELETE FROM items WHERE id = :k"), {"k": gone})
                    else:
                        conn.execute(
                            sa.text(
                                "UPDATE items SET amount = amount + 1, name = :n WHERE id = :k"
                            ),
                            {"n": f"upd {n}", "k": 1 + n % HOT},
                        )
                self.writes += 1  # as fast as it can: a throttled writer hid a race once
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def wait_writes(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` more writes are done (writes made, not time passed)."""
        goal = self.writes + count
        deadline = time.monotonic() + timeout
        while self.writes < goal:
            assert self.error is None and time.monotonic() < deadline, self.error
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)
        self.engine.dispose()
        if self.error is not None:
            raise self.error


class Follower(threading.Thread):
    """``datamove sync --follow`` in a thread."""

    def __init__(self, migration: Migration) -> None:
        super().__init__(name="sync-follow", daemon=True)
        self.migration = migration
        self.stopper = Stop()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            options = SyncOptions(follow=True, poll_seconds=0.1, max_batch=500)
            self.migration.sync(options, stop=self.stopper)
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def stop(self) -> None:
        self.stopper.request()
        self.join(timeout=60)
        if self.error is not None:
            raise self.error
