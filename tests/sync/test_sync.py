"""Change capture and catch-up while a real writer process keeps changing the source.

Capture is installed, a writer process starts (inserts, updates, key moves across chunks,
deletes), the backfill and a first sync run while it writes; then the writer stops, ``sync``
drains with ``until_lag=0``, and ``verify`` must find the target equal to the source. A second
variant kills ``datamove sync --follow`` with SIGKILL in the middle and starts it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.errors import UsageError
from datamove.sync.runner import SyncOptions
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
ROWS = 5000

SPEC = """  items:
    columns:
      id: {}
      name: {transform: [trim]}
      amount: {}
"""


def _source(url: str) -> None:
    execute(
        url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, "
        "amount DECIMAL(12, 2) NOT NULL)",
    )
    execute(
        url,
        "INSERT INTO items (id, name, amount) VALUES (:i, :n, :a)",
        params=[{"i": i, "n": f" item {i} ", "a": i % 977} for i in range(1, ROWS + 1)],
    )


class Writer:
    """The writer process; ``stop()`` ends it and returns how many writes it made."""

    def __init__(self, url: str, tmp: Path, rate: float = 150.0, seed: int = 1) -> None:
        self.stop_file = tmp / f"stop-{seed}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sync.writer",
                url,
                "--rate",
                str(rate),
                "--stop-file",
                str(self.stop_file),
                "--seed",
                str(seed),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_writes(self, count: int, timeout: float = 60.0) -> None:
        """Until the writer has made ``count`` writes (it reports every 10th), so a test
        depends on writes done, not on how long a busy machine took to do them."""
        progress = self.stop_file.parent / f"{self.stop_file.name}.count"
        deadline = time.monotonic() + timeout
        while not (progress.exists() and int(progress.read_text() or 0) >= count):
            assert self.proc.poll() is None and time.monotonic() < deadline, "writer stalled"
            time.sleep(0.05)

    def stop(self) -> int:
        self.stop_file.touch()
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return int(out.strip())


def _spec(tmp: Path, source: str, target: str) -> Path:
    return write_spec(tmp / "m.yaml", source, target, SPEC, batch_size=500, sync="{mode: triggers}")


def _assert_converged(migration: Migration) -> None:
    result = migration.verify(VerifyOptions(checks=("count", "checksum")))
    assert result.ok, [
        (
            c.name,
            c.actual,
            c.details.get("changed", [])[:3],
            c.details.get("missing"),
            c.details.get("extra"),
        )
        for c in result.checks
        if not c.ok
    ]


PAIRS = [
    ("sqlite", "postgresql"),
    ("postgresql", "postgresql"),
    ("mysql", "postgresql"),
    ("postgresql", "mysql"),
]


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_capture_backfill_sync_converge_under_writes(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _source(source)
    migration = Migration.from_file(_spec(tmp_path, source, target))
    assert migration.capture_install() == ["items"]

    writer = Writer(source, tmp_path)
    try:
        writer.wait_writes(10)  # the backfill runs under writes
        migration.run()
        first = migration.sync(SyncOptions(max_batch=300))
        assert first.changes > 0 and first.warnings == []
        writer.wait_writes(110)
    finally:
        writes = writer.stop()
    assert writes > 100

    drained = migration.sync(SyncOptions(until_lag=0, max_batch=300))
    assert drained.pending == 0
    _assert_converged(migration)
    status = migration.capture_status()
    assert status.installed and status.pending == 0
    shown = migration.status().capture  # `datamove status` shows the same
    assert shown is not None and shown.applied_seq == status.applied_seq > 0
    assert status.tables[0]["capture"] and status.tables[0]["active_at_backfill"] is True
    # applied changes are purged from the source's changelog, never beyond the checkpoint
    assert fetch(source, "SELECT count(*) FROM datamove_changelog") == [(0,)]

    migration.capture_uninstall()
    assert not migration.capture_status().installed
    execute(source, "UPDATE items SET amount = 0")  # no trigger left to fail or record


def test_kill_sync_mid_run_loses_nothing(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    _source(source)
    spec = _spec(tmp_path, source, target)
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    writer = Writer(source, tmp_path, rate=300.0)
    follower = None
    last = 0
    try:
        for round_no in range(3):
            follower = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "datamove",
                    "--quiet",
                    "sync",
                    str(spec),
                    "--follow",
                    "--max-batch",
                    "50",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            _wait_applied(target, last + 40 * (round_no + 1), follower)
            os.killpg(follower.pid, signal.SIGKILL)  # mid-batch, most likely
            follower.wait(timeout=30)
            applied = fetch(target, "SELECT applied_seq FROM datamove.sync")
            assert applied and applied[0][0] > last  # each life applied something
            last = applied[0][0]
    finally:
        if follower is not None and follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        writer.stop()
    drained = migration.sync(SyncOptions(until_lag=0))
    assert drained.pending == 0
    _assert_converged(migration)


def _wait_applied(target: str, seq: int, follower: subprocess.Popen[bytes]) -> None:
    """Until the follower's checkpoint passed ``seq`` (recorded state, not elapsed time)."""
    deadline = time.monotonic() + 60
    while True:
        applied = fetch(target, "SELECT applied_seq FROM datamove.sync")
        if applied and applied[0][0] >= seq:
            return
        assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
        assert time.monotonic() < deadline, f"sync did not reach sequence {seq}"
        time.sleep(0.05)


def test_backfill_without_capture_is_reported(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    _source(source)
    migration = Migration.from_file(_spec(tmp_path, source, target))
    with pytest.raises(UsageError, match="capture is not installed"):
        migration.sync()
    migration.run()  # backfilled first: changes during it were not captured
    migration.capture_install()
    result = migration.sync()
    assert [w.table for w in result.warnings] == ["items"]
    assert "--restart items" in result.warnings[0].message
    assert migration.sync().warnings == [], "given once"
    migration.run(restart=("items",))
    assert migration.sync().warnings == []


USERS = """  users:
    columns: {id: {}, name: {}}
    drop: [is_deleted, updated]
    deletes: %s
"""


@pytest.mark.parametrize(
    ("deletes", "expected"),
    [
        # flagged row: marked from its source column; removed row: marked when sync saw it
        (
            '{mode: soft, when: "is_deleted = 1", column: deleted_at, from: updated}',
            {3: "2024-01-03", 5: "now", 7: None},
        ),
        ("hard", {3: None, 7: None}),
        ('{mode: skip, when: "is_deleted = 1"}', {7: None}),
    ],
)
def test_deletes_propagate_per_the_delete_rules(
    deletes: str, expected: dict[int, str | None], make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("mysql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20), is_deleted INTEGER, "
        "updated DATETIME)",
    )
    execute(
        source,
        "INSERT INTO users VALUES (:i, :n, 0, :u)",
        params=[{"i": i, "n": f"u{i}", "u": f"2024-01-{i:02d} 10:00:00"} for i in (3, 5, 7)],
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, USERS % deletes, sync="{mode: triggers}")
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    execute(
        source, "UPDATE users SET is_deleted = 1 WHERE id = 3", "DELETE FROM users WHERE id = 5"
    )
    migration.sync()
    if "soft" in deletes:
        rows = dict(fetch(target, "SELECT id, deleted_at FROM users ORDER BY id"))
        assert set(rows) == {3, 5, 7} and rows[7] is None
        assert str(rows[3]).startswith("2024-01-03") and rows[5] is not None
    else:
        ids = [i for (i,) in fetch(target, "SELECT id FROM users ORDER BY id")]
        assert ids == sorted(expected)


def test_mariadb_booleans_catch_up_into_postgresql(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("mysql", "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE flags (id INTEGER PRIMARY KEY, paid BOOLEAN NOT NULL)")
    execute(source, "INSERT INTO flags VALUES (1, 0), (2, 1)")
    spec = write_spec(tmp_path / "m.yaml", source, target, "  flags: {}\n", sync="{mode: triggers}")
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    execute(source, "UPDATE flags SET paid = 1 WHERE id = 1", "INSERT INTO flags VALUES (3, 0)")
    assert migration.sync().upserted == 2  # an upsert binds values: 0/1 must become booleans
    assert fetch(target, "SELECT id, paid FROM flags ORDER BY id") == [
        (1, True),
        (2, True),
        (3, False),
    ]
