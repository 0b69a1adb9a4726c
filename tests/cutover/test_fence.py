"""The write fence on real servers: a fenced table refuses every write at once with a clear
error (no lock wait: the writer's own timeouts would fail the test instead of hanging it),
reads go on, capture records nothing refused, datamove's bypass writes, other tables are
untouched, and ``fence off`` / ``uninstall`` let writes through again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.dialects.base import Dialect
from datamove.errors import DatamoveError
from tests.conftest import execute, fetch
from tests.helpers import create_orders, write_spec

runner = CliRunner()
ENGINES = ["sqlite", "postgresql", "mysql"]
WRITES = [
    "INSERT INTO orders (id, qty) VALUES (100001, 1)",
    "UPDATE orders SET qty = qty + 1 WHERE id = 1",
    "DELETE FROM orders WHERE id = 2",
]
TIMEOUTS = {
    "postgresql": ["SET statement_timeout = '10s'", "SET lock_timeout = '10s'"],
    "mysql": [
        "SET SESSION max_statement_time = 10, innodb_lock_wait_timeout = 10, lock_wait_timeout = 10"
    ],
    "sqlite": [],
}


@contextmanager
def writer(url: str, engine: str) -> Iterator[sa.Connection]:
    """An application's connection: every statement bounded, so a write that waited for a
    lock would fail the test rather than hang it."""
    args = {"timeout": 10} if engine == "sqlite" else {}
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
    try:
        with eng.connect() as conn:
            for stmt in TIMEOUTS[engine]:
                conn.exec_driver_sql(stmt)
            conn.commit()
            yield conn
    finally:
        eng.dispose()


SQLSTATES = {"postgresql": "25006", "mysql": "45000", "sqlite": None}


def refused(conn: sa.Connection, stmt: str) -> str:
    """The error ``stmt`` fails with (the transaction rolled back after it); on the servers,
    with the fence's documented SQLSTATE."""
    with pytest.raises(sa.exc.DBAPIError) as caught:
        conn.exec_driver_sql(stmt)
    conn.rollback()
    sqlstate = getattr(caught.value.orig, "sqlstate", None)
    assert sqlstate == SQLSTATES[conn.engine.dialect.name], sqlstate
    return str(caught.value.orig)


def _source(url: str, engine: str) -> None:
    create_orders(url, engine, 10)
    execute(url, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(20))")


def _spec(tmp_path, src: str, tgt: str, name: str = "shop-move"):
    return write_spec(
        tmp_path / "m.yaml", src, tgt, "  orders:", name=name, sync="{mode: triggers}"
    )


def _changes(url: str) -> int:
    return int(fetch(url, "SELECT count(*) FROM datamove_changelog")[0][0])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_fenced_table_refuses_writes_at_once_and_fence_off_lets_them_through(
    make_db, tmp_path, engine
) -> None:
    src, tgt = make_db(engine, "src"), make_db("sqlite", "tgt")
    _source(src, engine)
    migration = Migration.from_file(_spec(tmp_path, src, tgt))
    migration.capture_install()

    on = migration.fence_on()
    assert on.on and [t.step for t in on.tables] == ["done"]
    with writer(src, engine) as conn:
        for stmt in WRITES:
            message = refused(conn, stmt)
            assert "datamove write fence" in message and '"orders"' in message, message
            assert '"shop-move"' in message and "cutover" in message, message
        if engine == "postgresql":
            assert '"orders"' in refused(conn, "TRUNCATE orders")
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar_one() == 10
        # A table out of scope takes writes as before.
        conn.exec_driver_sql("INSERT INTO customers VALUES (1, 'ada')")
        conn.commit()
    assert _changes(src) == 0, "capture recorded a refused write"

    again = migration.fence_on()  # idempotent: nothing lifted, nothing doubled
    assert again.on and again.tables[0].present == again.tables[0].total

    off = migration.fence_off()
    assert off.off and [t.step for t in off.tables] == ["lifted"]
    with writer(src, engine) as conn:
        for stmt in WRITES:
            conn.exec_driver_sql(stmt)
        conn.commit()
    assert _changes(src) == 3
    assert migration.fence_off().off  # off when not on is fine


@pytest.mark.parametrize("engine", ENGINES)
def test_only_datamoves_bypass_writes_through_the_fence(make_db, tmp_path, engine) -> None:
    src, tgt = make_db(engine, "src"), make_db("sqlite", "tgt")
    _source(src, engine)
    migration = Migration.from_file(_spec(tmp_path, src, tgt))
    migration.fence_on()
    dialect = Dialect.for_url(src, role="source")
    try:
        with dialect.connect() as conn, dialect.fence.bypass(conn):
            conn.exec_driver_sql("INSERT INTO orders (id, qty) VALUES (500, 5)")
            conn.commit()
            # Meanwhile any other connection is refused, with the fence's own message.
            with writer(src, engine) as other:
                assert "datamove write fence" in refused(other, WRITES[0])
        # The bypass does not outlive its block: the pool hands out unmarked connections.
        with dialect.connect() as conn:
            assert "datamove write fence" in refused(conn, WRITES[1])
    finally:
        dialect.dispose()
    assert fetch(src, "SELECT qty FROM orders WHERE id = 500") == [(5,)]


def test_mariadb_fence_fires_before_the_tables_own_before_triggers(mysql_db, tmp_path) -> None:
    src, tgt = mysql_db, f"sqlite:///{tmp_path / 'tgt.sqlite'}"
    _source(src, "mysql")
    execute(src, "CREATE TRIGGER app_stamp BEFORE INSERT ON orders FOR EACH ROW SET NEW.qty = 7")
    Migration.from_file(_spec(tmp_path, src, tgt)).fence_on()
    order = fetch(
        src,
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
        "AND event_manipulation = 'INSERT' AND action_timing = 'BEFORE' ORDER BY action_order",
    )
    assert [r[0] for r in order] == ["dm_fence_orders_i", "app_stamp"]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_uninstall_removes_a_fence_left_on(make_db, tmp_path, engine) -> None:
    src, tgt = make_db(engine, "src"), make_db("sqlite", "tgt")
    _source(src, engine)
    spec = _spec(tmp_path, src, tgt)
    Migration.from_file(spec).fence_on()
    done = runner.invoke(app, ["uninstall", str(spec), "--yes"])
    assert done.exit_code == 0, done.output
    assert "dm_fence_orders" in done.output
    dialect = Dialect.for_url(src, role="source")
    try:
        with dialect.connect() as conn:
            assert dialect.fence.fences(conn) == {}
            assert dialect.capture.functions(conn) == []
    finally:
        dialect.dispose()
    with writer(src, engine) as conn:
        conn.exec_driver_sql(WRITES[0])
        conn.commit()


def test_fence_cli_on_status_off_on_the_target_side(make_db, tmp_path) -> None:
    src, tgt = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    _source(src, "sqlite")
    spec = _spec(tmp_path, src, tgt)
    missing = runner.invoke(app, ["fence", "on", str(spec), "--side", "target"])
    assert missing.exit_code == 2 and "not in the target yet" in missing.output, missing.output
    assert runner.invoke(app, ["run", str(spec)]).exit_code == 0

    on = runner.invoke(app, ["fence", "on", str(spec), "--side", "target"])
    assert on.exit_code == 0, on.output
    assert "write fence on the target" in on.output and "the fence is on" in on.output
    with writer(tgt, "sqlite") as conn:
        assert '"orders"' in refused(conn, WRITES[1])
    with writer(src, "sqlite") as conn:  # the source side is not fenced
        conn.exec_driver_sql(WRITES[1])
        conn.commit()
    status = runner.invoke(app, ["fence", "status", str(spec), "--side", "target", "--json"])
    assert status.exit_code == 0, status.output
    assert '"on": true' in status.output and '"step": "done"' in status.output

    off = runner.invoke(app, ["fence", "off", str(spec), "--side", "target"])
    assert off.exit_code == 0 and "the fence is off" in off.output, off.output
    with writer(tgt, "sqlite") as conn:
        conn.exec_driver_sql(WRITES[1])
        conn.commit()
    bad = runner.invoke(app, ["fence", "on", str(spec), "--side", "both"])
    assert bad.exit_code == 2


PLANTED = {
    "mysql": "CREATE TRIGGER dm_fence_t_b_i BEFORE INSERT ON t_c FOR EACH ROW SET NEW.id = NEW.id",
    "sqlite": "CREATE TRIGGER dm_fence_t_b_i BEFORE INSERT ON t_c BEGIN SELECT 1; END",
}


@pytest.mark.parametrize("engine", ["mysql", "sqlite"])
def test_a_fence_on_that_fails_midway_leaves_no_table_fenced(make_db, tmp_path, engine) -> None:
    """The second table's trigger cannot be made (its name is taken on another table): on
    MySQL the first table's fence, already committed, is removed again; SQLite's one
    transaction makes none. Every step is recorded failed with the reason."""
    src, tgt = make_db(engine, "src"), make_db("sqlite", "tgt")
    names = ["t_a", "t_b", "t_c"]
    execute(src, *(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY)" for t in names))
    execute(src, PLANTED[engine])
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "\n".join(f"  {t}:" for t in names))
    migration = Migration.from_file(spec)
    with pytest.raises(DatamoveError, match="dm_fence_t_b_i"):
        migration.fence_on()
    status = migration.fence_status()
    assert status.off and {t.step for t in status.tables} == {"failed"}
    assert fetch(src, "SELECT count(*) FROM t_a") == [(0,)]
    with writer(src, engine) as conn:
        conn.exec_driver_sql("INSERT INTO t_a VALUES (1)")
        conn.commit()
    failed = {s.table: s.error for s in migration.status().pending_steps}
    assert set(failed) == set(names) and "dm_fence_t_b_i" in failed["t_b"]


def test_fence_off_without_tables_lifts_every_fence_of_the_side(make_db, tmp_path) -> None:
    src, tgt = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    _source(src, "sqlite")
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:\n  customers:")
    migration = Migration.from_file(spec)
    assert migration.fence_on(tables=("orders",)).on
    customers = migration.fence_status(tables=("customers",))
    assert customers.off and customers.others == ["orders"]
    with writer(src, "sqlite") as conn:  # out of this fence's scope: writable
        conn.exec_driver_sql("INSERT INTO customers VALUES (1, 'ada')")
        conn.commit()
    off = migration.fence_off()
    assert off.off and [t.table for t in off.tables] == ["customers", "orders"]
    assert migration.fence_status().others == []
    with writer(src, "sqlite") as conn:
        conn.exec_driver_sql(WRITES[0])
        conn.commit()
