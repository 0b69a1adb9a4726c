"""``Dialect.running.cancel``: a statement running in another thread is cancelled on the
server, its transaction rolls back, and the connection stays usable."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect

SLEEP = {"postgresql": "SELECT pg_sleep(60)", "mysql": "SELECT SLEEP(60)"}
RUNNING = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'",
    "mysql": "SELECT count(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(60)'",
}


def _await(condition, what: str) -> None:
    """Poll ``condition`` (evidence in the server's own views) until it holds."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_cancel_ends_a_running_statement_and_its_transaction_rolls_back(make_db, engine) -> None:
    url = make_db(engine, "db")
    dialect = Dialect.for_url(url, role="target")
    outcome: list[BaseException | None] = []

    def sleeper() -> None:
        try:
            with dialect.connect() as conn, conn.begin():
                conn.exec_driver_sql("CREATE TABLE t (id int)")  # rolled back with the statement
                conn.exec_driver_sql(SLEEP[engine])
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    thread = threading.Thread(target=sleeper)
    try:
        thread.start()
        with dialect.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            _await(lambda: watcher.exec_driver_sql(RUNNING[engine]).scalar() == 1, "the sleep")
            dialect.running.cancel()
            thread.join(30)
            assert not thread.is_alive(), "the statement was not cancelled"
            assert isinstance(outcome[0], sa.exc.DBAPIError), outcome
            if engine == "postgresql":  # MariaDB's DDL commits by itself
                assert not sa.inspect(watcher).has_table("t")
        # The pooled connections still work: a cancel leaves no killed session behind.
        with dialect.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        dialect.dispose()


def test_cancel_with_nothing_running_changes_nothing(make_db) -> None:
    url = make_db("mysql", "db")
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn:
            dialect.running.cancel()  # KILL QUERY on an idle session
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        dialect.dispose()
