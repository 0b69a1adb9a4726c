"""A driver the URL names is honoured, and ``plan`` says when a faster one is installed."""

from __future__ import annotations

from pathlib import Path

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec


def test_pymysql_is_honoured_and_plan_names_the_faster_driver(
    mysql_db: str, pg_db: str, tmp_path: Path
) -> None:
    execute(
        mysql_db,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO t VALUES (1, 'a')",
    )
    source = mysql_db.replace("+mysqlconnector://", "+pymysql://")
    assert source != mysql_db
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, "  t:")

    plan = Migration.from_file(spec).plan()
    notes = [f for f in plan.findings if f.code == "slower-driver"]
    assert [(f.severity.value, f.spec_path) for f in notes] == [("note", "source")]
    assert "pymysql" in notes[0].message and "mysql-connector-python" in notes[0].message
    assert "+pymysql://" in plan.source_url

    Migration.from_file(spec).run()
    assert fetch(pg_db, "SELECT id, v FROM t") == [(1, "a")]


def test_the_default_driver_has_no_driver_note(mysql_db: str, pg_db: str, tmp_path: Path) -> None:
    execute(mysql_db, "CREATE TABLE t (id INT PRIMARY KEY)")
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, "  t:")
    plan = Migration.from_file(spec).plan()
    assert "slower-driver" not in {f.code for f in plan.findings}
