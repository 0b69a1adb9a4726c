"""A resumed run finishes every schema object of the tables datamove created: indexes, unique
keys and foreign keys are the same as after an uninterrupted run, wherever the kill landed —
between chunks, or while ``CREATE INDEX`` / ``ADD CONSTRAINT`` waited on a lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from datamove import Migration
from tests.crash.test_kill import _committed
from tests.helpers import schema_of, table_rows, write_spec
from tests.schema.conftest import create_accounts

TABLES = "  acct:\n  txn:"


def _spec(path: Path, src: str, tgt: str) -> Path:
    return write_spec(path, src, tgt, TABLES, batch_size=500)


def _run_cli(spec: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _start(spec: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec)]
    cmd += ["--max-rows-per-second", "4000"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 90
    while not ready():
        assert proc.poll() is None, (what, proc.stderr.read().decode() if proc.stderr else "")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _reference(make_db, tmp_path: Path, src: str, target: str) -> dict:
    """The schema an uninterrupted run gives."""
    clean = make_db(target, "clean")
    assert _run_cli(_spec(tmp_path / "clean.yaml", src, clean)).returncode == 0
    return schema_of(clean, ["acct", "txn"])


def _assert_finished(spec: Path, src: str, tgt: str, reference: dict) -> None:
    finish = _run_cli(spec)
    assert finish.returncode == 0, finish.stderr
    assert schema_of(tgt, ["acct", "txn"]) == reference
    assert table_rows(tgt, "txn") == table_rows(src, "txn")
    status = Migration.from_file(spec).status()
    assert status.pending_steps == []
    assert Migration.from_file(spec).verify().ok


@pytest.mark.parametrize(("source", "target"), [("mysql", "postgresql"), ("postgresql", "mysql")])
def test_kill_between_chunks_resumes_to_every_index_and_foreign_key(
    make_db, tmp_path, source, target
) -> None:
    src, tgt = make_db(source, "src"), make_db(target, "tgt")
    create_accounts(src, source, 2000, 10_000)
    reference = _reference(make_db, tmp_path, src, target)
    assert [fk for fk, _ in reference["txn"]["fks"]] == [("acct_id",)]
    assert (("acct_id",), False) in reference["txn"]["indexes"]
    assert (("email",), True) in reference["acct"]["indexes"]

    spec = _spec(tmp_path / "m.yaml", src, tgt)
    proc = _start(spec)
    _wait_for(proc, lambda: _committed(spec) >= 6, "six committed chunks")
    _kill(proc)
    assert 6 <= _committed(spec) < 24, "the kill must land mid-run"
    pending = Migration.from_file(spec).status().pending_steps
    assert any(s.kind == "foreign_key" for s in pending), pending
    _assert_finished(spec, src, tgt, reference)


def _waiting(url: str, count_sql: str, **params: str) -> Callable[[], bool]:
    """Whether ``count_sql`` (a count of waiting statements in the database ``:db``) is > 0."""
    db = sa.engine.make_url(url).database

    def waiting() -> bool:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            n = conn.execute(sa.text(count_sql), {"db": db, **params}).scalar_one()
        engine.dispose()
        return bool(n)

    return waiting


PG_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
    "AND wait_event_type = 'Lock' AND query ILIKE :q"
)
MARIADB_WAITING = (
    "SELECT count(*) FROM information_schema.processlist WHERE db = :db "
    "AND state LIKE 'Waiting for table metadata lock%'"
)


def _exists(url: str, table: str) -> Callable[[], bool]:
    def exists() -> bool:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            found = sa.inspect(conn).has_table(table)
        engine.dispose()
        return found

    return exists


@pytest.mark.parametrize(
    ("locked", "statement"), [("txn", "CREATE INDEX"), ("acct", "FOREIGN KEY")]
)
def test_kill_while_schema_ddl_waits_on_a_lock_postgresql(
    make_db, tmp_path, locked, statement
) -> None:
    """A ``SHARE UPDATE EXCLUSIVE`` lock lets the chunks write but makes ``CREATE INDEX`` (on
    txn) or ``ADD CONSTRAINT`` (which locks the parent acct) wait: the kill lands inside it."""
    src, tgt = make_db("mysql", "src"), make_db("postgresql", "tgt")
    create_accounts(src, "mysql", 1000, 4000)
    if locked == "acct":  # acct's own indexes must not wait: only the foreign key does
        engine = sa.create_engine(src)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE acct DROP INDEX acct_region, DROP INDEX email")
        engine.dispose()
    reference = _reference(make_db, tmp_path, src, "postgresql")
    spec = _spec(tmp_path / "m.yaml", src, tgt)
    proc = _start(spec)
    _wait_for(proc, _exists(tgt, "txn"), "the target tables")
    holder = sa.create_engine(tgt, poolclass=sa.pool.NullPool)
    with holder.connect() as conn:
        conn.exec_driver_sql(f"LOCK TABLE {locked} IN SHARE UPDATE EXCLUSIVE MODE")
        waiting = _waiting(tgt, PG_WAITING, q=f"%{statement}%")
        _wait_for(proc, waiting, f"{statement} waiting on the lock")
        _kill(proc)
        conn.rollback()
    holder.dispose()
    _assert_finished(spec, src, tgt, reference)


def test_kill_while_index_creation_waits_on_a_metadata_lock_mariadb(make_db, tmp_path) -> None:
    """An open transaction that read txn holds a metadata lock: the chunks still write, the
    ALTER TABLE that adds txn's index waits for it, and the kill lands there."""
    src, tgt = make_db("postgresql", "src"), make_db("mysql", "tgt")
    create_accounts(src, "postgresql", 1000, 4000)
    reference = _reference(make_db, tmp_path, src, "mysql")
    spec = _spec(tmp_path / "m.yaml", src, tgt)
    proc = _start(spec)
    _wait_for(proc, _exists(tgt, "txn"), "the target tables")
    holder = sa.create_engine(tgt, poolclass=sa.pool.NullPool)
    with holder.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM txn").all()  # the transaction holds its MDL
        waiting = _waiting(tgt, MARIADB_WAITING)
        _wait_for(proc, waiting, "ALTER TABLE waiting on the metadata lock")
        _kill(proc)
        conn.rollback()
    holder.dispose()
    _assert_finished(spec, src, tgt, reference)
