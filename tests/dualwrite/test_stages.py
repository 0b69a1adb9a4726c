"""Each stage routes reads and writes as ``dualwrite.stages`` documents; shadow reads compare
the stores, are recorded, show in ``status`` and fail the ``verified_within`` gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.dualwrite import DualWriter, Stage
from datamove.flags import FlagClient
from tests.conftest import execute
from tests.dualwrite.conftest import ROWS, Stores, save, store_down
from tests.helpers import assert_verified, write_spec

WRITES = {  # stage: (old written, new written)
    "off": (True, False),
    "dual_write": (True, True),
    "shadow": (True, True),
    "live": (True, True),
    "ramp_down": (True, True),
    "complete": (False, True),
}
READS = {
    "off": "old",
    "dual_write": "old",
    "shadow": "old",
    "live": "new",
    "ramp_down": "new",
    "complete": "new",
}


def _name(conn: sa.Connection) -> str:
    return str(conn.execute(sa.text("SELECT name FROM items WHERE id = 1")).scalar_one())


@pytest.mark.parametrize("stage", list(WRITES))
def test_stage_routes_reads_and_writes(stores: Stores, stage: str) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: stage)
    dual.write("items", 2, save(2, f"written in {stage}", 99))
    old_written, new_written = WRITES[stage]
    assert (stores.row("old", 2) == (2, f"written in {stage}", 99)) is old_written
    assert (stores.row("new", 2) == (2, f"written in {stage}", 99)) is new_written
    execute(stores.new_url, "UPDATE items SET name = 'new only' WHERE id = 1")
    expected = "new only" if READS[stage] == "new" else "item 1"
    assert dual.read(_name, name="item name", key=1) == expected


@pytest.mark.parametrize("stores", ["postgresql"], indirect=True)  # ALLOW_CONNECTIONS takes it down
def test_live_stage_records_drift_in_the_new_store(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "live")
    with store_down(stores.old_url):
        dual.write("items", 3, save(3, "live write", 5))
    assert stores.row("new", 3) == (3, "live write", 5)
    assert stores.row("old", 3) == (3, "item 3", 3)
    status = stores.migration.status().dual_write
    assert status is not None and (status.drift_old, status.drift_new) == (0, 1)
    assert stores.migration.sync().drift_repaired == 0  # new → old is not sync's direction


def test_unknown_flag_value_writes_old_only(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "platform")
    assert dual.stage() is Stage.off
    dual.write("items", 4, save(4, "old only", 1))
    assert stores.row("new", 4) == (4, "item 4", 4)


def test_shadow_mismatch_is_recorded_shown_and_fails_the_gate(
    make_db: object, tmp_path: Path
) -> None:
    from tests.dualwrite.conftest import DDL, TABLES

    old_url, new_url = make_db("postgresql", "old"), make_db("postgresql", "new")  # type: ignore[operator]
    execute(old_url, DDL, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    spec = write_spec(
        tmp_path / "spec.yaml",
        old_url,
        new_url,
        TABLES,
        write_mode="upsert",
        cutover="{mode: dual_write, gates: {verified_within: 1h}}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    assert_verified(migration)
    assert _gate(migration) == "passed"

    old, new = sa.create_engine(old_url), sa.create_engine(new_url)
    with FlagClient(new_url, "test", poll_interval=60) as flags:
        flags.set("read_path", "shadow")
        dual = DualWriter(old=old, new=new, flags=flags, shadow_ratio=1.0)
        assert dual.read(_name, name="item name", key=1) == "a"  # same on both: passed
        execute(new_url, "UPDATE items SET name = 'drifted' WHERE id = 1")
        assert dual.read(_name, name="item name", key=1) == "a"  # the authority's answer
    old.dispose()
    new.dispose()

    status = migration.status().dual_write
    assert status is not None and status.stage == "shadow"
    assert (status.shadow.compared, status.shadow.mismatched) == (2, 1)
    assert status.mismatches_since_verify == 1
    assert status.shadow.examples[0]["name"] == "item name"
    shown = CliRunner().invoke(app, ["status", str(spec)])
    assert shown.exit_code == 0, shown.output
    assert "dual-write stage shadow" in shown.output
    assert "2 compared, 1 differed" in shown.output
    assert _gate(migration) == "failed"

    execute(new_url, "UPDATE items SET name = 'a' WHERE id = 1")  # repaired, verified again
    assert_verified(migration)
    assert _gate(migration) == "passed"


def _gate(migration: Migration) -> str:
    gates = migration.cutover(dry_run=True).gates
    return next(g.status for g in gates if g.name == "gate verified_within")


def test_equal_rows_read_in_shadow_compare_equal_across_engines(stores: Stores) -> None:
    """MariaDB's DECIMAL and PostgreSQL's numeric answers of one read are the same answer."""

    def every_item(conn: sa.Connection) -> list[sa.Row[Any]]:
        return list(conn.execute(sa.text("SELECT id, name, amount FROM items ORDER BY id")))

    with FlagClient(stores.new_url, "test", poll_interval=60) as flags:
        flags.set("read_path", "live")
        dual = DualWriter(old=stores.old, new=stores.new, flags=flags, shadow_ratio=1.0)
        assert len(dual.read(every_item, name="every item")) == ROWS
        execute(stores.old_url, "UPDATE items SET amount = amount + 1 WHERE id = 9")
        dual.read(every_item, name="every item")
    status = stores.migration.status().dual_write
    assert status is not None
    assert (status.shadow.compared, status.shadow.mismatched) == (2, 1)
