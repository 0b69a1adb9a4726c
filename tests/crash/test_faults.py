"""Fault tests: the server kills datamove's connections mid-run; chunks retry and the run
finishes with the target equal to the source."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.events import ChunkCommitted, ChunkRetried, Event
from datamove.verify.rangesum import Side
from tests.helpers import create_orders, table_rows, write_spec
from tests.schema.conftest import create_accounts

KILL_SQL = {
    "postgresql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :db AND pid <> pg_backend_pid()",
    "mysql": "SELECT id FROM information_schema.processlist "
    "WHERE db = :db AND id <> CONNECTION_ID()",
}


def _kill_connections(url: str, kind: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    db = sa.engine.make_url(url).database
    with engine.connect() as conn:
        found = conn.execute(sa.text(KILL_SQL[kind]), {"db": db}).scalars().all()
        if kind == "mysql":
            for pid in found:
                try:
                    conn.exec_driver_sql(f"KILL {int(pid)}")
                except sa.exc.DBAPIError:
                    pass  # already gone
    engine.dispose()
    return len(found)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_killed_connections_are_retried(make_db, tmp_path, kind) -> None:
    src, tgt = make_db("sqlite", "src"), make_db(kind, "tgt")
    create_orders(src, "sqlite", 6000)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=300)
    events: list[Event] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            Migration.from_file(spec).run(max_rows_per_second=3000, on_event=events.append)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while sum(isinstance(e, ChunkCommitted) for e in events) < 3:
        assert time.monotonic() < deadline and worker.is_alive(), failure
        time.sleep(0.05)
    killed = 0
    for _ in range(3):  # kill a few times, while chunks are in flight, each after progress
        committed = sum(isinstance(e, ChunkCommitted) for e in events)
        killed += _kill_connections(tgt, kind)
        while worker.is_alive() and sum(isinstance(e, ChunkCommitted) for e in events) <= committed:
            assert time.monotonic() < deadline + 60, failure
            time.sleep(0.05)
    worker.join(timeout=120)
    assert not failure, failure
    assert killed > 0
    assert any(isinstance(e, ChunkRetried) for e in events), "a killed chunk must be retried"
    assert table_rows(tgt, "orders") == table_rows(src, "orders")


def _backend_id(dbapi_connection: Any, kind: str) -> int:
    if kind == "postgresql":
        return int(dbapi_connection.info.backend_pid)
    return int(dbapi_connection.connection_id)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_verify_retries_a_table_whose_connection_was_killed(
    make_db, tmp_path, kind, monkeypatch
) -> None:
    """The server kills verify's target connection just as its first checksum scan starts:
    the table is verified again on new connections (a message says so) and the result is the
    same: equal, not an error, not a traceback."""
    src, tgt = make_db("sqlite", "src"), make_db(kind, "tgt")
    create_orders(src, "sqlite", 5000)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=1000)
    Migration.from_file(spec).run()
    admin = sa.create_engine(tgt, poolclass=sa.pool.NullPool)
    killed: list[int] = []
    scan = Side._aggregate

    def killed_first(side: Side, stmt: Any) -> Any:
        if not killed and side.dialect.role == "target":
            killed.append(_backend_id(side.conn.connection.dbapi_connection, kind))
            with admin.connect() as other:  # a real kill, from the server side
                if kind == "postgresql":
                    other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": killed[0]})
                else:
                    other.exec_driver_sql(f"KILL {killed[0]}")
        return scan(side, stmt)

    monkeypatch.setattr(Side, "_aggregate", killed_first)
    events: list[Event] = []
    try:
        result = Migration.from_file(spec).verify(on_event=events.append)
    finally:
        admin.dispose()
    assert killed, "no checksum scan ran on the target"
    assert any("retrying" in getattr(e, "text", "") for e in events), events
    assert result.ok, [c.to_dict() for c in result.checks if not c.ok]


WAITING_DDL = {
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = :db "
    "AND wait_event_type = 'Lock' AND query ILIKE '%CREATE INDEX%'",
    "mysql": "SELECT id FROM information_schema.processlist WHERE db = :db "
    "AND state LIKE 'Waiting for table metadata lock%'",
}
HOLD = {
    "postgresql": "LOCK TABLE txn IN SHARE UPDATE EXCLUSIVE MODE",
    "mysql": "SELECT count(*) FROM txn",  # the open transaction holds txn's metadata lock
}


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_connection_killed_during_index_creation_is_retried(make_db, tmp_path, kind) -> None:
    """The server kills the connection whose CREATE INDEX waits on a lock: the step runs again
    on a new connection (a message says so) and the run ends with every index, exit 0."""
    source = "mysql" if kind == "postgresql" else "postgresql"
    src, tgt = make_db(source, "src"), make_db(kind, "tgt")
    create_accounts(src, source, 500, 2000)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  acct:\n  txn:", batch_size=500)
    events: list[Event] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            Migration.from_file(spec).run(on_event=events.append)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failure.append(exc)

    holder = sa.create_engine(tgt, poolclass=sa.pool.NullPool)
    database = sa.engine.make_url(tgt).database
    with holder.connect() as conn:
        worker = threading.Thread(target=run)
        deadline = time.monotonic() + 60
        worker.start()
        while not sa.inspect(conn).has_table("txn"):
            assert worker.is_alive() and time.monotonic() < deadline, failure
            time.sleep(0.02)
        conn.exec_driver_sql(HOLD[kind])
        while not (waiting := fetch_ids(tgt, WAITING_DDL[kind], database)):
            assert worker.is_alive() and time.monotonic() < deadline, failure
            time.sleep(0.05)
        _kill(tgt, kind, waiting[0])
        conn.rollback()  # the lock goes: the retried step can run
    holder.dispose()
    worker.join(timeout=120)
    assert not failure, failure
    assert any("retrying" in getattr(e, "text", "") for e in events), events
    migration = Migration.from_file(spec)
    assert migration.status().pending_steps == []
    assert migration.verify().ok


def fetch_ids(url: str, query: str, database: str | None) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        ids = [int(i) for i in conn.execute(sa.text(query), {"db": database}).scalars()]
    engine.dispose()
    return ids


def _kill(url: str, kind: str, backend: int) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if kind == "postgresql":
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        else:
            conn.exec_driver_sql(f"KILL {backend}")
    engine.dispose()
