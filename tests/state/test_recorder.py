"""The recorder: a run is recorded ``running`` as it opens and ``ok`` / ``failed`` as it closes,
with the totals the block set; a killed process leaves ``running``; the block's own error is
what propagates, even when the target is gone by then."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from datamove.core.evidence import RejectRecord, RunCommand, RunStatus
from datamove.dialects.base import Dialect
from datamove.errors import RuntimeFailure, UsageError
from datamove.events import RunFinished, RunStarted
from datamove.state.recorder import Recorder
from datamove.state.store import StateStore
from tests.conftest import ENGINES


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, make_db: Any) -> str:
    return str(make_db(request.param, "tgt"))


@pytest.fixture
def state(url: str) -> Iterator[StateStore]:
    dialect = Dialect.for_url(url, role="target")
    yield StateStore(dialect, "m")
    dialect.dispose()


def _run_row(state: StateStore, run_id: str) -> dict[str, Any]:
    r = state.runs
    with state.dialect.connect() as conn:
        row = conn.execute(sa.select(r).where(r.c.run_id == run_id)).one()
    return dict(row._mapping)


def _add_rejects(state: StateStore, count: int) -> None:
    rejects = [RejectRecord("t", -1, (n,), "c", "bad", "") for n in range(count)]
    with state.dialect.connect() as conn, conn.begin():
        state.ensure(conn)
        state.record_rejects(conn, rejects, "earlier")


def test_ok_records_the_totals_the_block_set(state: StateStore) -> None:
    with Recorder(state).run(RunCommand.run) as run:
        assert _run_row(state, run.id)["status"] == "running"
        run.rows, run.rejects = 1200, 3
    row = _run_row(state, run.id)
    assert (row["command"], row["status"], row["rows"], row["rejects"]) == ("run", "ok", 1200, 3)
    assert row["finished_at"] is not None and row["error"] is None


def test_fail_records_the_reason_without_raising(state: StateStore) -> None:
    with Recorder(state).run("verify") as run:
        run.rejects = 0
        run.fail("2 check(s) failed")
    row = _run_row(state, run.id)
    assert (row["command"], row["status"], row["error"], row["rejects"]) == (
        "verify",
        "failed",
        "2 check(s) failed",
        0,
    )


def test_an_error_is_recorded_redacted_and_propagates(state: StateStore) -> None:
    _add_rejects(state, 2)
    recorder = Recorder(state)
    with pytest.raises(RuntimeFailure, match="cannot reach"):
        with recorder.run(RunCommand.sync) as run:
            raise RuntimeFailure("cannot reach postgresql://app:hunter2@db/prod")
    row = _run_row(state, run.id)
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert row["error"] == "cannot reach postgresql://app:***@db/prod"
    assert (row["rows"], row["rejects"]) == (0, 2), "unset: no rows, the recorded rejects"

    with pytest.raises(ValueError):
        with recorder.run(RunCommand.sync) as run:
            raise ValueError("row value 'hunter2' does not fit")
    assert _run_row(state, run.id)["error"] == "ValueError", "a driver's text may hold values"


def test_an_unknown_command_is_refused(state: StateStore) -> None:
    with pytest.raises(UsageError, match="unknown run command 'copy'"):
        with Recorder(state).run("copy"):
            pytest.fail("no run opens")
    with state.dialect.connect() as conn:
        assert not state.readable(conn), "refused before it touched the target"


def test_a_killed_process_leaves_its_run_running(url: str, state: StateStore) -> None:
    child = textwrap.dedent(
        f"""
        import os, signal
        import datamove
        from datamove.dialects.base import Dialect
        from datamove.state.recorder import Recorder
        from datamove.state.store import StateStore

        state = StateStore(Dialect.for_url({url!r}, role="target"), "m")
        with Recorder(state).run("sync") as run:
            run.rows = 5
            print(run.id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == -9, proc.stderr
    row = _run_row(state, proc.stdout.strip())
    assert (row["status"], row["finished_at"], row["rows"]) == ("running", None, None)
    with state.dialect.connect() as conn:
        last = state.last_run(conn)
    assert last is not None and last.status is RunStatus.running


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_the_error_propagates_when_the_target_is_gone(url: str, state: StateStore) -> None:
    database = sa.engine.make_url(url).database
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with pytest.raises(KeyError, match="the block's own error"):
        with Recorder(state).run(RunCommand.run):
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {database} WITH (FORCE)")
            raise KeyError("the block's own error")
    admin.dispose()


def test_the_handler_hears_the_run_start_and_its_recorded_finish(make_db: Any) -> None:
    """``--log-file``'s first and last lines: the finish says what was recorded (redacted)."""
    dialect = Dialect.for_url(make_db("sqlite", "tgt"), role="target")
    state, events = StateStore(dialect, "m"), []
    with pytest.raises(RuntimeFailure):
        with Recorder(state).run(RunCommand.run, events.append) as run:
            run.rows = 7
            raise RuntimeFailure("lost postgresql://app:pw-r3c0rd3r@db/x")
    dialect.dispose()
    assert events == [
        RunStarted(run.id, "run"),
        RunFinished(run.id, "run", "failed", 7, "lost postgresql://app:***@db/x"),
    ]
