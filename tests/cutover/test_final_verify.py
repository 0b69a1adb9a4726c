"""The cutover's final verify under the fence checks only the keys changed since the last green
verify (``cutover.final``), PostgreSQL → PostgreSQL and MariaDB → PostgreSQL: it says how many
it checked, a target difference planted on a changed key after the drain stops the cutover at
its verify step naming the key, and with no green verify it falls back to the full one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.errors import ChecksFailed
from datamove.sync.runner import SyncOptions
from tests.conftest import execute
from tests.cutover.test_runbook import cutover_spec, runbook_rows, source_items

WRITES = (
    "UPDATE items SET amount = amount + 1 WHERE id IN (7, 8, 9)",
    "INSERT INTO items (id, name, amount) VALUES (5001, 'new', 3)",
    "DELETE FROM items WHERE id = 11",
)
CHANGED = 5
"""Keys the writes change: 7, 8, 9, 5001 and 11 (deleted)."""
FLAG = "\n  flag: {name: read_path, value_new: platform}"


def migrated(tmp: Path, source: str, target: str, steps: str = "") -> Migration:
    source_items(source)
    spec = cutover_spec(tmp, source, target, FLAG + steps, sync="{mode: triggers}")
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.sync(SyncOptions(until_lag=0))
    return migration


def write(source: str) -> None:
    for sql in WRITES:
        execute(source, sql)


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_only_the_keys_changed_since_the_green_verify_are_checked(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target)
    assert migration.verify().ok
    write(source)
    migration.sync(SyncOptions(until_lag=0))  # applied before the cutover: the changelog keeps them
    report = migration.cutover()
    assert report.complete
    status, output, _, _ = runbook_rows(target)["verify"]
    assert status == "done" and f"checked {CHANGED} changed key(s)" in (output or ""), output


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_a_difference_on_a_changed_key_stops_the_cutover_naming_it(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    plant = (  # after the drain, which re-applies the source rows of changed keys
        "\n  steps:"
        "\n    - {name: plant, sql: 'UPDATE items SET amount = 4242 WHERE id = 8', \"on\": target,"
        " after: drain}"
        '\n    - {name: resurrect, sql: "INSERT INTO items (id, name, amount) VALUES'
        ' (11, \'back\', 1)", "on": target, after: drain}'
    )
    migration = migrated(tmp_path, source, target, plant)
    assert migration.verify().ok
    write(source)
    with pytest.raises(ChecksFailed) as failed:
        migration.cutover()
    message = failed.value.message
    assert "items: changed keys" in message, message
    assert "key ['8']: amount" in message and "key ['11']: extra" in message, message
    steps = runbook_rows(target)
    assert steps["verify"][0] == "failed" and steps["flip"][0] == "pending"
    assert migration.fence_status().on  # stopped under the fence


def test_without_a_green_verify_the_full_verify_runs_and_says_so(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target)
    write(source)
    assert migration.cutover().complete
    status, output, _, _ = runbook_rows(target)["verify"]
    assert status == "done", output
    assert (output or "").startswith(
        "full verify (no green verify of the current mapping is recorded)"
    ), output
