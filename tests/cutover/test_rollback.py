"""``datamove rollback SPEC`` on real servers: after a cutover with ``rollback.reverse: true``
the application writes to the target (inserts, updates — one an increment — and deletes, on a
renamed column, a widening cast and a fixed-zone shift); the rollback brings exactly those rows
back into the source through the inverse mapping, the source's own capture records none of
them, the flag reads its old value, the target is fenced and the source takes writes. A
``kill -9`` inside the replay, then ``rollback`` again, ends exactly the same.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.dialects.base import Dialect
from datamove.dialects.capturesql import REVERSE_PREFIX
from datamove.errors import SpecError
from datamove.sync.changelog import REVERSE_CHANGELOG, Changelog
from tests.conftest import execute, fetch
from tests.cutover.test_runbook_kill import killed_in
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
ROWS = 200
BERLIN = ZoneInfo("Europe/Berlin")
TABLES = """  orders:
    columns:
      id: {}
      client: {from: customer}
      amount: {from: amount, cast: bigint}
      placed_at: {from: placed_at, transform: [{timezone: {assume: Europe/Berlin}}]}
"""


def _setup(source_engine: str, make_db: Any, tmp: Path, tables: str = TABLES) -> tuple[Any, ...]:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(40) NOT NULL, "
        "amount INTEGER NOT NULL, placed_at TIMESTAMP NOT NULL)",
    )
    execute(
        source,
        "INSERT INTO orders (id, customer, amount, placed_at) VALUES (:i, :c, :a, :p)",
        params=[
            {
                "i": i,
                "c": f"c{i}",
                "a": i * 10,
                "p": dt.datetime(2024, 3, 1, 12) + dt.timedelta(hours=i),
            }
            for i in range(1, ROWS + 1)
        ],
    )
    spec = write_spec(
        tmp / "m.yaml",
        source,
        target,
        tables,
        sync="{mode: triggers}",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.cutover(by="ops-test")
    return source, target, spec, migration


def _app_writes_on_the_target(target: str) -> None:
    """What the application does once the read path is flipped."""
    execute(
        target,
        "INSERT INTO orders (id, client, amount, placed_at) VALUES "
        "(1001, 'new one', 5, '2024-06-01 10:00:00+00'), "
        "(1002, 'new two', 7, '2024-01-15 23:30:00+00')",
        "UPDATE orders SET amount = amount + 1 WHERE id <= 20",  # an increment
        "UPDATE orders SET client = 'renamed', placed_at = placed_at + interval '1 day' "
        "WHERE id = 30",
        "DELETE FROM orders WHERE id BETWEEN 50 AND 54",
        "UPDATE orders SET amount = amount + 1 WHERE id = 1001",
    )


def _expected_source(target: str) -> list[tuple[Any, ...]]:
    """The target's rows through the inverse mapping, worked out by hand: the name back,
    the amount as is, the UTC time back to Berlin wall-clock time."""
    rows = fetch(target, "SELECT id, client, amount, placed_at FROM orders ORDER BY id")
    out = []
    for i, client, amount, placed in rows:
        assert isinstance(placed, dt.datetime)
        out.append((i, client, amount, placed.astimezone(BERLIN).replace(tzinfo=None)))
    return out


def _source_rows(source: str) -> list[tuple[Any, ...]]:
    return fetch(source, "SELECT id, customer, amount, placed_at FROM orders ORDER BY id")


def _changelog_count(source: str) -> int:
    return int(fetch(source, "SELECT count(*) FROM datamove_changelog")[0][0])  # type: ignore[call-overload]


def _assert_rolled_back(source: str, target: str, migration: Migration, logged: int) -> None:
    expected = _expected_source(target)
    assert len(expected) == ROWS + 2 - 5
    assert _source_rows(source) == expected
    assert [r[2] for r in expected if r[0] <= 3] == [11, 21, 31]  # incremented once, not twice
    assert _changelog_count(source) == logged  # the replay was not captured back
    setting = migration.flag_get("read_path").setting
    assert setting is not None and setting.value == "legacy"
    with pytest.raises(sa.exc.DBAPIError, match="datamove write fence"):
        execute(target, "UPDATE orders SET amount = 0 WHERE id = 1")
    execute(source, "UPDATE orders SET amount = amount WHERE id = 1")  # the source takes writes


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_rollback_brings_the_targets_writes_back(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target, _, migration = _setup(source_engine, make_db, tmp_path)
    _app_writes_on_the_target(target)
    logged = _changelog_count(source)
    steps = migration.rollback(by="ops-test")
    assert {s.name: s.status for s in steps} == {
        "fence-target": "done", "replay": "done", "verify": "done", "flip-back": "done",
        "unfence-source": "done",
    }  # fmt: skip
    replay = next(s for s in steps if s.name == "replay")
    assert replay.record is not None and "5 deleted" in (replay.record.output or "")
    _assert_rolled_back(source, target, migration, logged)
    assert migration.rollback() == migration.rollback()  # done: nothing runs again


def test_kill_inside_the_replay_then_rollback_again(make_db: Any, tmp_path: Path) -> None:
    source, target, spec, migration = _setup("postgresql", make_db, tmp_path)
    _app_writes_on_the_target(target)
    logged = _changelog_count(source)
    engine = sa.create_engine(source)
    holder = engine.connect()
    try:
        holder.exec_driver_sql("SELECT 1 FROM orders WHERE id = 10 FOR UPDATE")  # replay waits
        killed_in(spec, "replay", "rollback")
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    statuses = {s.name: s.status for s in Migration.from_file(spec).rollback_status()}
    assert statuses["fence-target"] == "done" and statuses["replay"] == "running"
    setting = migration.flag_get("read_path").setting
    assert setting is not None and setting.value == "platform"  # not flipped back yet
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "rollback", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_rolled_back(source, target, migration, logged)


def test_rollback_refuses_a_kept_original_column_naming_it(make_db: Any, tmp_path: Path) -> None:
    tables = TABLES.replace(
        "client: {from: customer}",
        "client: {from: customer, transform: [{map: {values: {c1: one}, else: keep}}]}",
    )
    source, target, spec, migration = _setup("postgresql", make_db, tmp_path, tables)
    with pytest.raises(SpecError, match=r"orders\.client cannot go back") as err:
        migration.rollback()
    assert err.value.spec_path == "tables.orders.columns.client"
    result = CliRunner().invoke(app, ["rollback", str(spec)])
    assert result.exit_code == 2, result.output
    assert "tables.orders.columns.client" in result.output and "freeze" in result.output
    assert not migration.fence_status().off  # the source is still fenced: nothing changed
    setting = migration.flag_get("read_path").setting
    assert setting is not None and setting.value == "platform"


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_capture_skips_writes_under_the_fence_bypass(engine: str, make_db: Any) -> None:
    """Loop prevention on every engine: a write by datamove's marked connection (the replay)
    is not recorded by capture, forward or reverse; any other write is."""
    url = make_db(engine, "db")
    execute(url, "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER)")
    dialect = Dialect.for_url(url, role="source")
    try:
        changelog = Changelog(dialect, REVERSE_CHANGELOG)
        with dialect.connect() as conn, conn.begin():
            changelog.metadata.create_all(conn)
            ddl = dialect.capture.create_ddl("orders", ["id"], REVERSE_CHANGELOG, REVERSE_PREFIX)
            for stmt in ddl:
                conn.exec_driver_sql(stmt)
        with dialect.connect() as conn, dialect.fence.bypass(conn), conn.begin():
            conn.exec_driver_sql("INSERT INTO orders (id, amount) VALUES (1, 1), (2, 2)")
            conn.exec_driver_sql("UPDATE orders SET amount = 5 WHERE id = 1")
            conn.exec_driver_sql("DELETE FROM orders WHERE id = 2")
        with dialect.connect() as conn, conn.begin():
            conn.exec_driver_sql("UPDATE orders SET amount = 6 WHERE id = 1")
        with dialect.connect() as conn:
            changes = changelog.read(conn, 0, 100)
            names = set(dialect.capture.triggers(conn))  # datamove's, by OWNED_PREFIXES
            assert names and all(n.startswith(REVERSE_PREFIX) for n in names)
    finally:
        dialect.dispose()
    assert [(c.table, c.key, c.op) for c in changes] == [("orders", (1,), "U")]


def test_uninstall_removes_reverse_capture_from_the_target(make_db: Any, tmp_path: Path) -> None:
    source, target, spec, _ = _setup("postgresql", make_db, tmp_path)
    triggers = "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dm\\_rcapture\\_%%'"
    assert fetch(target, triggers)  # the reverse-capture step put them there
    assert fetch(target, "SELECT count(*) FROM datamove_reverse_changelog") == [(0,)]
    done = CliRunner().invoke(app, ["uninstall", str(spec), "--yes"])
    assert done.exit_code == 0, done.output
    assert fetch(target, triggers) == []
    left = "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'datamove%%'"
    assert fetch(target, left) == [] and fetch(source, left) == []


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_rollback_replays_date_keys(source_engine: str, make_db: Any, tmp_path: Path) -> None:
    """A date key comes back from the changelog as JSON text: turned back into a date, the
    row is found, updated, deleted."""
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE days (day DATE PRIMARY KEY, n INTEGER NOT NULL)")
    execute(source, "INSERT INTO days VALUES ('2024-01-01', 1), ('2024-01-02', 2)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  days:\n    columns: {day: {}, n: {}}",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    migration.cutover()
    execute(
        target,
        "UPDATE days SET n = 5 WHERE day = '2024-01-01'",
        "DELETE FROM days WHERE day = '2024-01-02'",
        "INSERT INTO days VALUES ('2024-02-29', 9)",
    )
    migration.rollback()
    assert fetch(source, "SELECT day, n FROM days ORDER BY day") == [
        (dt.date(2024, 1, 1), 5),
        (dt.date(2024, 2, 29), 9),
    ]


def test_rollback_refuses_a_key_it_cannot_compare(make_db: Any, tmp_path: Path) -> None:
    """A decimal key comes back from the changelog as a JSON number (a binary float): not
    replayed (not built), said before anything is fenced."""
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE rates (r NUMERIC(6, 3) PRIMARY KEY, n INTEGER NOT NULL)")
    execute(source, "INSERT INTO rates VALUES (0.1, 1), (0.2, 2)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  rates:\n    columns: {r: {}, n: {}}",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    migration.cutover()
    with pytest.raises(SpecError, match="not an integer, text, a date") as err:
        migration.rollback()
    assert err.value.spec_path == "tables.rates.key"
    assert {s.name: s.status for s in migration.rollback_status()}["fence-target"] == "pending"
