"""Reconcile under a steady writer (a thread writing to the source, ``sync --follow`` in
another), PostgreSQL → PostgreSQL and MariaDB → PostgreSQL: many rounds and no false
positive; a corruption planted in a quiet row of the target is found exactly, by its key;
incremental rounds read only the keys the changelog shows touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamove.core.evidence import Check
from datamove.migration.reconcile import ReconcileResult
from datamove.sync.runner import SyncOptions
from tests.conftest import execute
from tests.reconcile.live import HOT, Follower, Writer, migrated

POLICY = "{persist_for: 2, max_lag: 2s, settle_timeout: 60s, full_every: 3}"
QUIET = 1500
"""A row the writer never touches (ids 1..HOT and its own inserts only)."""


def failed(result: ReconcileResult) -> list[Check]:
    return [c for r in result.rounds for c in r.checks if not c.ok]


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_steady_writer_no_false_positive_and_a_planted_corruption_found_by_key(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, POLICY)
    writer, follower = Writer(source), Follower(migration)
    writer.start()
    follower.start()
    try:
        kinds = []
        deferred_or_resolved = 0
        for _ in range(6):  # two full passes and four incremental rounds, all under writes
            writer.wait_writes(60)
            result = migration.reconcile(once=True)
            assert not failed(result), [(c.name, c.actual, c.details) for c in failed(result)]
            rnd = result.rounds[0]
            kinds.append(rnd.kind)
            moving = [c.details.get("moving", {}) for c in rnd.checks]
            deferred_or_resolved += sum(m.get("resolved", 0) + m.get("deferred", 0) for m in moving)
        assert deferred_or_resolved > 0  # the scans did meet rows in flight (14-24 seen)
        assert kinds == ["full", "incremental", "incremental"] * 2, kinds
        execute(target, f"UPDATE items SET amount = 4242 WHERE id = {QUIET}")
        found: list[Check] = []
        for _ in range(3):  # the corruption is in no changelog: the next full pass finds it
            writer.wait_writes(60)
            result = migration.reconcile(once=True)
            found = failed(result)
            if found:
                assert result.rounds[0].kind == "full"
                break
    finally:
        writer.stop()
        follower.stop()
    assert [c.name for c in found] == ["items: checksum"], [(c.name, c.actual) for c in found]
    details = found[0].details
    assert [c["key"] for c in details["changed"]] == [[str(QUIET)]], details["changed"]
    assert details["missing"] == [] and details["extra"] == []
    assert list(details["changed"][0]["columns"]) == ["amount"]
    assert writer.writes > 400 and HOT < QUIET


@pytest.mark.parametrize("source_engine", ["postgresql"])
def test_incremental_rounds_read_only_the_touched_keys(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, "{full_every: 3}")
    first = migration.reconcile(once=True).rounds[0]
    assert first.kind == "full" and first.ok
    scanned = {c.name: c.details.get("rows_scanned") for c in first.checks}
    assert scanned["items: checksum"] == 2000
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id IN (10, 20, 30)")
    execute(source, "DELETE FROM items WHERE id = 40")
    migration.sync(SyncOptions(until_lag=0))
    second = migration.reconcile(once=True).rounds[0]
    assert second.kind == "incremental" and second.ok, second.to_dict()
    (check,) = second.checks
    assert check.name == "items: changed keys" and check.details["rows_scanned"] == 4
    third = migration.reconcile(once=True).rounds[0]  # nothing changed since the second
    assert third.kind == "incremental" and third.checks[0].details["rows_scanned"] == 0
    fourth = migration.reconcile(once=True).rounds[0]
    assert fourth.kind == "full" and "every 3 round(s)" in fourth.why


@pytest.mark.parametrize("source_engine", ["postgresql"])
def test_a_difference_sync_has_not_applied_is_deferred_not_reported(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, "{settle_timeout: 1s}")
    execute(source, "UPDATE items SET amount = 7777 WHERE id = 5")  # no sync runs
    rnd = migration.reconcile(once=True).rounds[0]
    assert rnd.ok, rnd.to_dict()
    checksum = next(c for c in rnd.checks if c.name == "items: checksum")
    moving = checksum.details["moving"]
    assert moving["deferred"] == 1 and moving["deferred_keys"][0]["key"] == ["5"]
    assert "sync had not applied change" in moving["deferred_keys"][0]["why"]
    migration.sync(SyncOptions(until_lag=0))
    rnd = migration.reconcile(once=True).rounds[0]  # the deferred key is compared again
    assert rnd.ok and rnd.kind == "incremental", rnd.to_dict()
    assert rnd.checks[0].details["rows_scanned"] == 1
