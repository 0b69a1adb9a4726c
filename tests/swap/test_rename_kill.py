"""``kill -9`` of a process inside the swap's rename leaves the old state or the new, never half.

Deterministic point: the test holds a lock on the twin (``orders__new``) only, so the rename
process gets past ``orders`` (PostgreSQL: its first ALTER has run inside the transaction;
MariaDB: the one RENAME waits for the twin's metadata lock) and waits there; the test sees it
waiting in the server's session list, kills the process group and releases the lock. Then
either state, never half: PostgreSQL rolls the dead session's transaction back (old names);
MariaDB runs the RENAME to its end although its client is gone (the swap complete). SQLite
takes its one write lock before the first statement: no point between statements to kill at.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import execute, fetch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import sys, sqlalchemy as sa\n"
    "from datamove.dialects.swapsql import swap_sql\n"
    "with sa.create_engine(sys.argv[1]).connect() as conn:\n"
    "    swap_sql(conn).rename(conn, [('orders', 'orders__old'), ('orders__new', 'orders')],"
    " wait=120, retries=1)\n"
)
WAITING = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE 'ALTER TABLE orders\\_\\_new RENAME%%'",
    "mysql": "SELECT count(*) FROM information_schema.processlist "
    "WHERE state LIKE 'Waiting for table metadata lock' AND info LIKE 'RENAME TABLE%%'",
}
RUNNING = "SELECT count(*) FROM information_schema.processlist WHERE info LIKE 'RENAME TABLE%%'"


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_kill_inside_the_rename_leaves_the_old_names(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "kill")
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
        "CREATE TABLE orders__new (id INTEGER PRIMARY KEY)",
    )
    holder = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    watcher = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with holder.connect() as held, watcher.connect() as watch:
            held.exec_driver_sql("BEGIN")
            held.exec_driver_sql("SELECT count(*) FROM orders__new")
            proc = subprocess.Popen(
                [sys.executable, "-c", SCRIPT, url], cwd=ROOT, start_new_session=True
            )
            try:
                # no timing assertion: poll until the rename waits on the twin (or ended)
                while proc.poll() is None:
                    if watch.exec_driver_sql(WAITING[engine]).scalar():
                        break
                assert proc.poll() is None, "the rename ended before it waited on the twin"
            finally:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
            held.exec_driver_sql("ROLLBACK")
            # MariaDB finishes a statement whose client died: wait until no RENAME runs
            while engine == "mysql" and watch.exec_driver_sql(RUNNING).scalar():
                pass
        names = set(sa.inspect(watcher).get_table_names())
    finally:
        holder.dispose()
        watcher.dispose()
    assert proc.returncode == -signal.SIGKILL
    assert names in ({"orders", "orders__new"}, {"orders", "orders__old"})  # old or new, not half
    assert fetch(url, "SELECT count(*) FROM orders") == [(0,)]
