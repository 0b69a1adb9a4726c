"""kill -9 in the middle of ``fence on``: the test holds a lock on the second table, so the
command is certainly mid-install (its DDL is seen waiting in the server's process list) when
it is killed. Then ``fence on`` again ends fully fenced, and ``fence off`` removes it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.dialects.base import Dialect
from tests.conftest import execute
from tests.helpers import write_spec

WAITING = {
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' "
    "AND left(query, 14) = 'CREATE TRIGGER'",
    "mysql": "SELECT id FROM information_schema.processlist "
    "WHERE db = DATABASE() AND state = 'Waiting for table metadata lock' "
    "AND LEFT(info, 14) = 'CREATE TRIGGER'",
}
LOCK = {
    "postgresql": "LOCK TABLE {table} IN ROW EXCLUSIVE MODE",
    "mysql": "SELECT count(*) FROM {table}",  # holds its metadata lock until the rollback
}
END = {"postgresql": "SELECT pg_terminate_backend({id})", "mysql": "KILL {id}"}
ALIVE = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE pid IN ({ids})",
    "mysql": "SELECT count(*) FROM information_schema.processlist WHERE id IN ({ids})",
}


def _fence(spec, action: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "datamove", "--quiet", "fence", action, str(spec)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _fenced(url: str) -> dict[str, set[str]]:
    dialect = Dialect.for_url(url, role="source")
    try:
        with dialect.connect() as conn:
            return dialect.fence.fences(conn)
    finally:
        dialect.dispose()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_kill_9_mid_fence_on_then_again_ends_fully_fenced(make_db, tmp_path, engine) -> None:
    src, tgt = make_db(engine, "src"), make_db("sqlite", "tgt")
    names = ["t_a", "t_b", "t_c"]
    execute(src, *(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY)" for t in names))
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "\n".join(f"  {t}:" for t in names))
    migration = Migration.from_file(spec)
    second = migration.plan().order[1]

    locker = sa.create_engine(src, poolclass=sa.pool.NullPool)
    admin = sa.create_engine(src, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with locker.connect() as held, admin.connect() as watch:
            held.exec_driver_sql(LOCK[engine].format(table=second))
            proc = _fence(spec, "on")
            deadline = time.monotonic() + 60
            while not (waiting := watch.exec_driver_sql(WAITING[engine]).scalars().all()):
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "fence on never waited for the lock"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            # The server's side of the killed command, still waiting, goes too (as it would
            # once it noticed the client gone), then the test's lock is released.
            for ident in waiting:
                watch.exec_driver_sql(END[engine].format(id=int(ident)))
            # Released only once those sessions are gone: a lock granted to a killed session
            # before it saw the kill would let it finish its CREATE TRIGGER (MariaDB).
            ids = ", ".join(str(int(i)) for i in waiting)
            while watch.exec_driver_sql(ALIVE[engine].format(ids=ids)).scalar():
                assert time.monotonic() < deadline, "the killed session never ended"
                time.sleep(0.05)
            held.rollback()

        killed = migration.fence_status()
        steps = {t.table: t.step for t in killed.tables}
        assert set(steps.values()) <= {"pending", "done"} and steps[second] == "pending"
        if engine == "postgresql":  # one transaction: all or nothing
            assert killed.off and _fenced(src) == {}
        else:  # table by table: the first one fenced and recorded, the second not
            first = migration.plan().order[0]
            assert steps[first] == "done" and second not in _fenced(src)
        assert migration.status().pending_steps, "status lists the unfinished fence steps"

        again = _fence(spec, "on")
        assert again.wait(timeout=120) == 0, again.stderr.read().decode() if again.stderr else ""
        done = migration.fence_status()
        assert done.on and {t.step for t in done.tables} == {"done"}
        assert set(_fenced(src)) == set(names)

        off = _fence(spec, "off")
        assert off.wait(timeout=120) == 0, off.stderr.read().decode() if off.stderr else ""
        assert _fenced(src) == {}
        assert {t.step for t in migration.fence_status().tables} == {"lifted"}
        assert not migration.status().pending_steps
    finally:
        locker.dispose()
        admin.dispose()
