"""``trace``: a remapped, transformed, later-synced row shows each step; a rejected, a
filtered-out and a never-existing key each say which; personal data masked unless asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.errors import UsageError
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
TABLE = """  customers:
    key: {columns: [id], strategy: remap, legacy_column: legacy_id}
    where: "id <> 5"
    columns:
      id: {}
      email: {pii: true}
      name: {transform: [trim, upper]}
      tier: {transform: {map: {gold: G, silver: S}}}
"""


@pytest.fixture(params=["postgresql", "mysql"])
def traced(request: Any, make_db: Any, tmp_path: Path) -> tuple[Migration, str, str, Path]:
    """Customers from PostgreSQL or MariaDB into PostgreSQL, captured, copied: 4 rejected
    (its tier has no mapping), 5 filtered out by the spec's where."""
    source, target = make_db(request.param, "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE customers (id int PRIMARY KEY, email varchar(60), name varchar(30), "
        "tier varchar(10))",
        "INSERT INTO customers VALUES (1, 'ann@example.org', ' ann ', 'gold'), "
        "(2, 'bob@example.org', 'bob', 'silver'), (3, 'cy@example.org', 'cy', 'gold'), "
        "(4, 'dee@example.org', 'dee', 'bronze'), (5, 'eve@example.org', 'eve', 'gold')",
    )
    spec = write_spec(
        tmp_path / "m.yaml", source, target, TABLE, sync="{mode: triggers}", max_rejects=5
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    return migration, source, target, spec


def test_a_remapped_transformed_synced_row_shows_each_step(traced: Any) -> None:
    migration, source, target, _ = traced
    migration.verify()  # sync keeps the changelog after a verify's mark: the history stays
    execute(source, "UPDATE customers SET name = '  zed  ' WHERE id = 2")
    pending = migration.trace("customers", "2")
    assert [(c["op"], c["applied"]) for c in pending.changes] == [("U", False)]
    migration.sync(SyncOptions(until_lag=0))
    found = migration.trace("customers", "2")
    new_id = fetch(target, "SELECT id FROM customers WHERE legacy_id = 2")[0][0]
    assert found.found == "both"
    assert (found.source_key, found.target_key) == (["2"], [str(new_id)])
    name = next(c for c in found.columns if c.column == "name")
    assert name.steps == [
        ("read name", "  zed  "),
        ("leading and trailing spaces removed", "zed"),
        ("converted to upper case", "ZED"),
    ]
    assert name.target == "ZED"
    tier = next(c for c in found.columns if c.column == "tier")
    assert [v for _, v in tier.steps] == ["silver", "S"] and tier.target == "S"
    email = next(c for c in found.columns if c.column == "email")
    assert "bob@example.org" not in json.dumps(found.to_dict(), default=str)
    assert email.target.startswith("str(bo")
    assert found.chunk is not None and found.chunk["status"] == "done"
    runs = migration.build_report().evidence.runs
    assert found.chunk["run_id"] == next(r.run_id for r in runs if r.command == "run")
    assert [(c["op"], c["applied"]) for c in found.changes] == [("U", True)]
    assert found.mapping_hash == found.recorded_mapping_hash
    assert found.check is not None and found.check["status"] == "passed"
    # The same row by its new (target) key.
    again = migration.trace("customers", str(new_id))
    assert again.source_key == ["2"] and again.columns == found.columns
    shown = migration.trace("customers", "2", show_values=True)
    assert next(c for c in shown.columns if c.column == "email").target == "bob@example.org"


def test_a_rejected_a_filtered_and_a_missing_key_each_say_which(traced: Any) -> None:
    migration, *_ = traced
    rejected = migration.trace("customers", "4")
    assert rejected.found == "source only" and len(rejected.rejects) == 1
    assert "map" in rejected.rejects[0]["reason"]
    assert rejected.notes[0].startswith("not in the target: rejected")
    tier = next(c for c in rejected.columns if c.column == "tier")
    assert tier.steps[-1][0] == "rejected"
    filtered = migration.trace("customers", "5")
    assert filtered.found == "nowhere" and filtered.filtered_out
    assert "the spec's where (id <> 5) filters it out" in filtered.notes[0]
    missing = migration.trace("customers", "999")
    assert missing.found == "nowhere" and not missing.filtered_out and not missing.rejects
    assert missing.notes[0] == (
        "key 999 is in neither the source nor the target: it never existed (or was deleted)"
    )


def test_bad_trace_input_names_what_to_fix(traced: Any) -> None:
    migration, *_ = traced
    with pytest.raises(UsageError, match="'nope' is not a table of the spec"):
        migration.trace("nope", "1")
    with pytest.raises(UsageError, match="key column 'id' of 'customers' holds numbers"):
        migration.trace("customers", "abc")


def test_trace_on_the_command_line(traced: Any) -> None:
    _, _, _, spec = traced
    env = {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "trace", str(spec), "customers", "1", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["found"] == "both" and data["source_key"] == ["1"]
