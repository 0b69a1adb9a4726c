"""Ctrl-C on real commands: a ``datamove`` process gets SIGINT mid-copy.

The first SIGINT stops the run: no chunk commits after it (the running ones are cancelled and
roll back, leaving no row behind), the process says what is committed and exits 130, and a
new run resumes to a target equal to the source. A second SIGINT quits at once. ``sync
--follow`` ended by SIGINT is a normal end: exit 0, the checkpoint shown.

The run is throttled so it is mid-copy for seconds; the tests wait for evidence (a chunk in
the state store, a line on stderr, a lock wait on the server), never for a fixed time.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import execute, fetch
from tests.helpers import create_orders, table_rows, write_spec

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH = 6000, 500
RATE = 250  # rows per second in all: one chunk every 2 s


def _datamove(*args: str) -> list[str]:
    return [sys.executable, "-m", "datamove", *args]


def _start_run(spec: Path, workers: int) -> subprocess.Popen[str]:
    cmd = _datamove("run", str(spec), "--workers", str(workers), "--max-rows-per-second", str(RATE))
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _await(condition: Any, proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``condition`` (recorded state) until it holds, while ``proc`` still runs."""
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _done_chunks(target: str) -> int:
    try:
        rows = fetch(target, "SELECT count(*) FROM datamove.checkpoints WHERE status = 'done'")
    except sa.exc.ProgrammingError:  # the state tables are not made yet
        return 0
    return int(rows[0][0])  # type: ignore[call-overload]


def _checkpoints(target: str) -> list[tuple[Any, ...]]:
    return fetch(
        target,
        "SELECT chunk_no, rows, committed_at, commits FROM datamove.checkpoints "
        "WHERE status = 'done' ORDER BY chunk_no",
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # as the state store records it


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_ctrl_c_stops_the_run_and_a_resume_completes_exactly(
    make_db: Any, tmp_path: Path, source_engine: str, workers: int
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    create_orders(source, source_engine, ROWS)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  orders:", batch_size=BATCH)

    proc = _start_run(spec, workers)
    _await(lambda: _done_chunks(target) >= 2, proc, "two committed chunks")
    signalled = _utc_now()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "stopping: no new chunk starts" in err
    assert f"run `datamove run {spec}` to resume" in err
    done = _checkpoints(target)
    assert f"stopped: {len(done)} chunk(s) committed by this run" in err
    assert 2 <= len(done) < ROWS // BATCH, "the signal must land mid-run"
    # No chunk committed after the signal: the running ones were cancelled, not finished.
    late = [(no, at) for no, _, at, _ in done if at > signalled]
    assert not late, f"chunks committed after SIGINT at {signalled}: {late}"
    # A rolled-back chunk leaves no row: the target holds exactly the committed chunks.
    in_target = fetch(target, "SELECT count(*) FROM orders")[0][0]
    assert in_target == sum(rows for _, rows, _, _ in done)

    resumed = subprocess.run(
        _datamove("--quiet", "run", str(spec), "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f'"chunks_skipped": {len(done)}' in resumed.stdout
    assert table_rows(target, "orders") == table_rows(source, "orders")
    commits = [c for _, _, _, c in _checkpoints(target)]
    assert len(commits) == ROWS // BATCH and set(commits) == {1}, "each chunk committed once"
    verified = subprocess.run(
        _datamove("--quiet", "verify", str(spec)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_second_ctrl_c_quits_at_once(make_db: Any, tmp_path: Path) -> None:
    """The first SIGINT's clean stop is held up (the test locks the run's record, which the
    stop updates last); the second SIGINT exits without waiting for it."""
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_orders(source, "postgresql", ROWS)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  orders:", batch_size=BATCH)
    proc = _start_run(spec, 1)
    _await(lambda: _done_chunks(target) >= 1, proc, "a committed chunk")
    locker = sa.create_engine(target, poolclass=sa.pool.NullPool)
    try:
        with locker.connect() as conn, conn.begin():
            conn.exec_driver_sql("SELECT * FROM datamove.runs FOR UPDATE").all()
            proc.send_signal(signal.SIGINT)
            assert proc.stderr is not None
            first = ""
            while "stopping:" not in first:
                first = proc.stderr.readline()
                assert first, "the first SIGINT printed no 'stopping' line"
            waiting = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND starts_with(query, 'UPDATE datamove.runs')"
            )
            _await(lambda: fetch(target, waiting)[0][0] == 1, proc, "the stop to wait")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 130
            assert "interrupted again: quitting now" in err
            assert "stopped:" not in err, "the clean stop had not finished: it must not show"
        status = fetch(target, "SELECT status FROM datamove.runs")
        assert status == [("running",)], "the run's finish was never recorded"
    finally:
        if proc.poll() is None:
            proc.kill()
        locker.dispose()


def test_ctrl_c_ends_sync_follow_normally_with_its_checkpoint(make_db: Any, tmp_path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE items (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
    execute(
        source,
        "INSERT INTO items VALUES (:i, :a)",
        params=[{"i": i, "a": i} for i in range(1, 101)],
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, "  items:", sync="{mode: triggers}")
    for step in (["capture", "install", str(spec)], ["--quiet", "run", str(spec)]):
        done = subprocess.run(_datamove(*step), cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id <= 30")
    last = fetch(source, "SELECT max(seq) FROM datamove_changelog")[0][0]

    proc = subprocess.Popen(
        _datamove("sync", str(spec), "--follow", "--max-batch", "10"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    applied = "SELECT applied_seq FROM datamove.sync"
    _await(lambda: fetch(target, applied) == [(last,)], proc, "sync to catch up")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert out.startswith("stopped by Ctrl-C; applied 30 change(s) in 3 batch(es)"), out
    assert f"checkpoint {last}" in out
    assert "committed chunks" not in out + err and "error" not in err


def test_ctrl_c_with_nothing_to_stop_in_a_library_run_is_interrupted(
    sqlite_db: Any, tmp_path: Path
) -> None:
    """The Python API: a stop requested before the run starts copies nothing, and says so
    with ``Interrupted`` (exit code 130), not a runtime failure."""
    from datamove import Migration
    from datamove.core.stop import Stop
    from datamove.errors import Interrupted

    source, target = sqlite_db("src"), sqlite_db("tgt")
    create_orders(source, "sqlite", 1200)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  orders:", batch_size=BATCH)
    stop = Stop()
    stop.request()
    with pytest.raises(Interrupted, match="0 chunk\\(s\\) committed by this run") as caught:
        Migration.from_file(spec).run(stop=stop)
    assert caught.value.exit_code == 130
    assert fetch(target, "SELECT count(*) FROM orders") == [(0,)]


STATE = {"postgresql": "datamove.checkpoints", "mysql": "datamove_checkpoints"}
LOCK_WAITS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND starts_with(query, 'UPDATE datamove.checkpoints')",
    # (not innodb_trx: MariaDB refreshes it only when unread for 0.1 s)
    "mysql": "SELECT count(*) FROM information_schema.processlist "
    "WHERE left(info, 27) = 'UPDATE datamove_checkpoints'",
}


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql"])
def test_ctrl_c_cancels_a_statement_on_the_server_and_its_chunk_rolls_back(
    make_db: Any, tmp_path: Path, target_engine: str
) -> None:
    """A chunk has written its rows and waits at its checkpoint (the test holds that row's
    lock): SIGINT must cancel the waiting statement on the server — the process ends while
    the lock is still held — and the chunk's rows must roll back with it."""
    source, target = make_db("postgresql", "src"), make_db(target_engine, "tgt")
    create_orders(source, "postgresql", ROWS)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  orders:", batch_size=BATCH)
    state = STATE[target_engine]
    done_sql = f"SELECT count(*) FROM {state} WHERE status = 'done'"

    def done() -> int:
        try:
            return int(fetch(target, done_sql)[0][0])  # type: ignore[call-overload]
        except sa.exc.ProgrammingError:
            return 0

    proc = _start_run(spec, 1)
    locker = sa.create_engine(target, poolclass=sa.pool.NullPool)
    try:
        _await(lambda: done() >= 1, proc, "a committed chunk")
        with locker.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SELECT * FROM {state} WHERE status <> 'done' FOR UPDATE").all()
            waiting = LOCK_WAITS[target_engine]
            _await(lambda: fetch(target, waiting)[0][0] == 1, proc, "the chunk's commit to wait")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)  # while the lock is still held
            assert proc.returncode == 130, err
        rows = "`rows`" if target_engine == "mysql" else "rows"
        committed = fetch(
            target, f"SELECT sum({rows}), count(*) FROM {state} WHERE status = 'done'"
        )
        in_target = fetch(target, "SELECT count(*) FROM orders")[0][0]
        assert in_target == committed[0][0], "the cancelled chunk's rows were rolled back"
        assert committed[0][1] < ROWS // BATCH
    finally:
        if proc.poll() is None:
            proc.kill()
        locker.dispose()


def test_keyboard_interrupt_in_a_library_run_stops_it_as_the_cli_does(
    sqlite_db: Any, tmp_path: Path
) -> None:
    """Python's own Ctrl-C (KeyboardInterrupt in the main thread, here raised by the event
    handler after the first chunk) stops the run: no chunk starts after it, and the run
    says so with ``Interrupted`` instead of copying on through every queued chunk."""
    from datamove import Migration
    from datamove.errors import Interrupted
    from datamove.events import ChunkCommitted

    source, target = sqlite_db("src"), sqlite_db("tgt")
    create_orders(source, "sqlite", 3000)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  orders:", batch_size=BATCH)

    pressed: list[object] = []

    def ctrl_c_after_first_chunk(event: object) -> None:
        if isinstance(event, ChunkCommitted) and not pressed:
            pressed.append(event)
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stopped:
        Migration.from_file(spec).run(on_event=ctrl_c_after_first_chunk)
    done = fetch(target, "SELECT count(*) FROM datamove_checkpoints WHERE status = 'done'")[0][0]
    # The chunk committed, and at most the one already running when the signal came.
    assert done in (1, 2), done
    assert f"{done} chunk(s) committed by this run" in str(stopped.value)
    assert fetch(target, "SELECT count(*) FROM orders") == [(done * BATCH,)]
    result = Migration.from_file(spec).run()
    assert result.tables[0].chunks_skipped == done
    assert table_rows(target, "orders") == table_rows(source, "orders")
