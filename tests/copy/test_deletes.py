"""Delete semantics in the backfill: soft (a marked row carries its delete column) and skip."""

from __future__ import annotations

import pytest

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec


@pytest.fixture
def legacy(sqlite_db) -> str:
    url = sqlite_db("legacy")
    execute(
        url,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, is_deleted INTEGER, updated TEXT)",
    )
    execute(
        url,
        "INSERT INTO users VALUES (:i, :n, :d, :u)",
        params=[
            {"i": i, "n": f"u{i}", "d": int(i % 4 == 0), "u": f"2024-01-{i:02d} 10:00:00"}
            for i in range(1, 21)
        ],
    )
    return url


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_soft_deletes_mark_rows_and_skip_leaves_them_out(legacy, make_db, tmp_path, engine) -> None:
    target = make_db(engine, "tgt")
    soft = write_spec(
        tmp_path / "soft.yaml",
        legacy,
        target,
        """  users:
    columns: {id: {}, name: {}}
    drop: [is_deleted, updated]
    deletes: {mode: soft, when: "is_deleted = 1", column: deleted_at, from: updated}""",
    )
    plan = Migration.from_file(soft).plan()
    assert "rows where `is_deleted = 1` are moved" in plan.tables["users"].deletes
    Migration.from_file(soft).run()
    rows = fetch(target, "SELECT id, deleted_at FROM users ORDER BY id")
    assert len(rows) == 20
    marked = {i for i, deleted in rows if deleted is not None}
    assert marked == {4, 8, 12, 16, 20}
    assert str(dict(rows)[8]).startswith("2024-01-08 10:00:00")

    other = make_db(engine, "tgt2")
    skip = write_spec(
        tmp_path / "skip.yaml",
        legacy,
        other,
        """  users:
    columns: {id: {}, name: {}}
    drop: [is_deleted, updated]
    where: id > 2
    deletes: {mode: skip, when: "is_deleted = 1"}""",
    )
    Migration.from_file(skip).run()
    ids = [i for (i,) in fetch(other, "SELECT id FROM users ORDER BY id")]
    assert ids == [i for i in range(3, 21) if i % 4]


def test_delete_rules_are_checked(legacy, sqlite_db, tmp_path) -> None:
    from datamove.errors import SpecError

    bad = write_spec(
        tmp_path / "bad.yaml",
        legacy,
        sqlite_db("t"),
        "  users:\n    deletes: {mode: soft, when: 'is_deleted = 1'}",
    )
    with pytest.raises(SpecError, match="needs column"):
        Migration.from_file(bad)
    flag = write_spec(
        tmp_path / "flag.yaml",
        legacy,
        sqlite_db("t2"),
        """  users:
    columns: {id: {}, name: {}}
    drop: [is_deleted, updated]
    deletes: {mode: soft, when: "is_deleted = 1", column: gone, value: true}""",
    )
    columns = {c.target: c for c in Migration.from_file(flag).plan().tables["users"].columns}
    assert columns["gone"].nullable and columns["gone"].sql_only
    Migration.from_file(flag).run()
    target = Migration.from_file(flag).plan().target_url
    assert fetch(target, "SELECT count(*) FROM users WHERE gone = 1") == [(5,)]
