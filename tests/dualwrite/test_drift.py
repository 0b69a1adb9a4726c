"""The new store dies in the middle of dual-writes: requests go on, each failed key is a drift
row in the old store, and ``sync`` re-copies them to an exact match (verify green)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datamove.dualwrite import DualWriter
from datamove.state.drift import DriftTable
from tests.conftest import fetch
from tests.dualwrite.conftest import ROWS, Stores, save, store_down
from tests.helpers import assert_verified


def _open_drift(stores: Stores) -> list[tuple[str, tuple[object, ...]]]:
    with stores.old.connect() as conn:
        return [(d.table, d.key) for d in DriftTable().open(conn, ["items"])]


def test_killed_secondary_leaves_drift_that_sync_repairs(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "dual_write")
    for i in range(1, 6):
        dual.write("items", i, save(i, f"before {i}", 1000 + i))
    assert stores.row("new", 3) == (3, "before 3", 1003)  # both written while up
    assert _open_drift(stores) == []

    with store_down(stores.new_url):
        for i in range(6, 11):  # updates
            dual.write("items", i, save(i, f"during {i}", 2000 + i))
        dual.write("items", ROWS + 1, save(ROWS + 1, "new during", 7))  # an insert
        assert [k for _, k in _open_drift(stores)] == [(i,) for i in range(6, 11)] + [(ROWS + 1,)]

    # the old store took every write; the new one missed them
    assert stores.row("old", 8) == (8, "during 8", 2008)
    assert stores.row("new", 8) == (8, "item 8", 8)
    assert stores.row("new", ROWS + 1) is None
    checks = {c.name: c for c in stores.migration.verify().checks}
    drift = checks["items: drift keys"]
    assert drift.kind == "drift_keys" and drift.status == "failed"
    assert drift.details["keys"] == 6
    assert len(_open_drift(stores)) == 6  # a failed re-check leaves the rows open

    result = stores.migration.sync()
    assert result.drift_repaired == 6
    assert result.upserted == 6
    assert _open_drift(stores) == []
    assert stores.row("new", 8) == (8, "during 8", 2008)
    assert stores.row("new", ROWS + 1) == (ROWS + 1, "new during", 7)
    assert_verified(stores.migration)
    repaired = fetch(
        stores.old_url, "SELECT COUNT(*) FROM datamove_drift WHERE repaired_at IS NOT NULL"
    )
    assert repaired == [(6,)]

    again = stores.migration.sync()  # nothing left open: nothing re-copied
    assert again.drift_repaired == 0


def test_authoritative_failure_raises_and_records_nothing(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "dual_write")

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("UPDATE no_such_table SET x = 1")

    try:
        dual.write("items", 1, broken)
    except sa.exc.DBAPIError:
        pass
    else:
        raise AssertionError("the authoritative store's failure must reach the application")
    assert _open_drift(stores) == []


def test_uninstall_removes_the_drift_table(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "dual_write")
    with store_down(stores.new_url):
        dual.write("items", 1, save(1, "x", 1))
    assert sa.inspect(stores.old).has_table("datamove_drift")
    result = stores.migration.uninstall()
    assert "source: table datamove_drift" in [i.describe() for i in result.removed]
    assert not sa.inspect(stores.old).has_table("datamove_drift")


def test_verify_marks_drift_repaired_once_the_keys_match(stores: Stores) -> None:
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "dual_write")
    with store_down(stores.new_url):
        dual.write("items", 7, save(7, "lost", 70))
    with stores.new.begin() as conn:  # repaired by hand, not by sync
        conn.execute(sa.text("UPDATE items SET name = 'lost', amount = 70 WHERE id = 7"))
    with stores.old.begin() as conn:  # a table the spec does not move: left open
        DriftTable().record(conn, "not_in_spec", (1,), "dual_write", "test")
    result = stores.migration.verify()
    assert result.ok
    assert [c.status for c in result.checks if c.kind == "drift_keys"] == ["passed"]
    assert _open_drift(stores) == []
    assert stores.migration.sync().drift_repaired == 0
    with stores.old.connect() as conn:
        assert DriftTable().count_open(conn) == 1


def test_drift_that_cannot_be_recorded_is_logged_not_raised(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    with stores.old.begin() as conn:  # a drift table the insert cannot use
        conn.exec_driver_sql("CREATE TABLE datamove_drift (x INTEGER)")
    dual = DualWriter(old=stores.old, new=stores.new, stage=lambda key: "dual_write")
    with store_down(stores.new_url):
        dual.write("items", 5, save(5, "kept", 55))  # the request succeeds
    assert stores.row("old", 5) == (5, "kept", 55)
    assert "drift of items (5,) could not be recorded in the old store" in caplog.text
