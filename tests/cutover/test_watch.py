"""The watch after the flip, on real servers (PostgreSQL → PostgreSQL): a trigger that fires
on a planted failure rolls back by itself (flag back to old, source writable, what the target
took after the switch back in the source, why recorded); a trigger whose query fails does too
and records the error; a quiet watch ends 0; after a completed rollback the next cutover
runs every step again and keeps the first attempt's steps as evidence.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datamove import Migration
from datamove.cutover.fence import Side
from datamove.cutover.rollback import ROLLBACK
from datamove.cutover.runbook import RUNBOOK
from datamove.dialects.base import Dialect
from datamove.events import Event, Message
from datamove.state import StateStore
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
TABLES = """  orders:
    columns:
      id: {}
      client: {from: customer}
      amount: {}
"""
FLIPPED = "cutover complete: the read path is flipped"


def _setup(make_db: Any, tmp: Path, triggers: str, watch: str = "{for: 10m, every: 1s}") -> Any:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(40) NOT NULL, "
        "amount INTEGER NOT NULL)",
        "INSERT INTO orders SELECT i, 'c' || i, i * 10 FROM generate_series(1, 100) i",
    )
    execute(target, "CREATE TABLE app_errors (id SERIAL PRIMARY KEY, at TIMESTAMP)")
    cutover = f"\n  watch: {watch}\n  rollback:\n    reverse: true\n    triggers:\n{triggers}"
    spec = write_spec(
        tmp / "m.yaml", source, target, TABLES, sync="{mode: triggers}", cutover=cutover
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    return source, target, spec, migration


def _recorded(target: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The runbook's recorded steps, and every trigger check recorded (status, actual)."""
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        c = state.schema.checks.c
        with dialect.connect() as conn:
            steps = state.steps.runbook(conn, RUNBOOK)
            checks = conn.execute(
                sa.select(c.name, c.status, c.actual).where(c.kind == "trigger")
            ).all()
        return steps, [tuple(r) for r in checks]
    finally:
        dialect.dispose()


def _flag(migration: Migration) -> Any:
    setting = migration.flag_get("read_path").setting
    return setting.value if setting else None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


QUERY = '      - {query: "SELECT count(*) FROM app_errors", on: target, above: 0}\n'


def _planted(target: str) -> Any:
    """After the flip the application writes an order to the target, then fails."""

    def hear(event: Event) -> None:
        if isinstance(event, Message) and event.text == FLIPPED:
            execute(
                target,
                "INSERT INTO orders (id, client, amount) VALUES (5001, 'after switch', 7)",
                "INSERT INTO app_errors (at) VALUES (now())",
            )

    return hear


def test_a_trigger_that_fires_rolls_back_by_itself(make_db: Any, tmp_path: Path) -> None:
    source, target, _, migration = _setup(make_db, tmp_path, QUERY)
    report = migration.cutover(by="ops-test", on_event=_planted(target), watch_for=600)
    watch = report.watch
    assert watch is not None and watch.rolled_back and watch.rounds == 1
    assert watch.fired is not None and watch.fired.actual == "1", watch.to_dict()
    assert _flag(migration) == "legacy"
    assert fetch(source, "SELECT customer, amount FROM orders WHERE id = 5001") == [
        ("after switch", 7)
    ]
    execute(source, "UPDATE orders SET amount = amount WHERE id = 1")  # the source takes writes
    steps, checks = _recorded(target)
    assert steps["watch"].status == "failed"
    assert "rolled back: trigger 0 (query on the target): 1" in (steps["watch"].error or "")
    assert checks == [("trigger 0 (query on the target)", "failed", "1")]
    assert {s.status for s in migration.rollback_status()} == {"done"}


def test_a_trigger_query_that_fails_rolls_back_and_records_the_error(
    make_db: Any, tmp_path: Path
) -> None:
    broken = '      - {query: "SELECT count(*) FROM no_such_table", on: target, above: 0}\n'
    _, target, spec, migration = _setup(make_db, tmp_path, broken)
    done = _cli("cutover", str(spec), "--watch-for", "10m")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolled back" in done.stdout and "no_such_table" in done.stdout, done.stdout
    assert _flag(migration) == "legacy"
    steps, checks = _recorded(target)
    assert steps["watch"].status == "failed" and "no_such_table" in (steps["watch"].error or "")
    [(name, status, _)] = checks
    assert status == "error"


def test_a_quiet_watch_ends_0_with_every_trigger_recorded(make_db: Any, tmp_path: Path) -> None:
    triggers = QUERY + "      - {failed_check: any}\n      - {lag_above: 1h}\n"
    _, target, spec, migration = _setup(make_db, tmp_path, triggers, "{for: 30m, every: 200ms}")
    done = _cli("cutover", str(spec), "--watch-for", "1s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "watch: quiet after" in done.stdout
    assert _flag(migration) == "platform"
    steps, checks = _recorded(target)
    assert steps["watch"].status == "done"
    assert {(n, s) for n, s, _ in checks} == {
        ("trigger 0 (query on the target)", "passed"),
        ("trigger 1 (failed_check)", "passed"),
        ("trigger 2 (lag_above)", "passed"),
    }


def test_no_watch_ends_after_the_runbook(make_db: Any, tmp_path: Path) -> None:
    _, target, spec, migration = _setup(make_db, tmp_path, QUERY)
    execute(target, "INSERT INTO app_errors (at) VALUES (now())")  # would fire at once
    done = _cli("cutover", str(spec), "--no-watch")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _flag(migration) == "platform"
    steps, checks = _recorded(target)
    assert "watch" not in steps and checks == []


def test_a_second_cutover_after_a_rollback_runs_again(make_db: Any, tmp_path: Path) -> None:
    source, target, _, migration = _setup(make_db, tmp_path, QUERY)
    first = migration.cutover(on_event=_planted(target), watch_for=600)
    assert first.watch is not None and first.watch.rolled_back
    execute(source, "INSERT INTO orders (id, customer, amount) VALUES (6001, 'between', 1)")
    second = migration.cutover(watch_for=0)
    assert second.complete and second.run_id != first.run_id
    assert {s.record.run_id for s in second.steps if s.record} == {second.run_id}
    assert _flag(migration) == "platform"
    assert fetch(target, "SELECT client FROM orders WHERE id = 6001") == [("between",)]
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        with dialect.connect() as conn:
            kept = state.steps.runbook(conn, f"{RUNBOOK} attempt 1")
            kept_back = state.steps.runbook(conn, f"{ROLLBACK} attempt 1")
            now_back = state.steps.runbook(conn, ROLLBACK)
    finally:
        dialect.dispose()
    assert kept["flip"].run_id == first.run_id and kept["watch"].status == "failed"
    assert {r.status for r in kept_back.values()} == {"done"} and now_back == {}


def test_a_rehearsal_ends_where_it_began_and_passes_the_rehearsed_gate(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(40) NOT NULL, "
        "amount INTEGER NOT NULL)",
        "INSERT INTO orders SELECT i, 'c' || i, i * 10 FROM generate_series(1, 100) i",
    )
    spec = write_spec(
        tmp_path / "m.yaml", source, target, TABLES, sync="{mode: triggers}",
        cutover="\n  gates: {rehearsed: true}",
    )  # fmt: skip
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    [unrehearsed] = migration.cutover(dry_run=True).gates
    assert not unrehearsed.ok and "--rehearse" in unrehearsed.details["reason"]
    done = _cli("cutover", str(spec), "--rehearse")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rehearsal" in done.stdout
    assert _flag(migration) == "legacy"
    execute(source, "INSERT INTO orders VALUES (7001, 'after rehearsal', 1)")  # writable
    assert migration.fence_status().off and migration.fence_status(Side.target).off
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        c = state.schema.checks.c
        with dialect.connect() as conn:
            kept = state.steps.runbook(conn, f"{RUNBOOK} rehearsal 1")
            kept_back = state.steps.runbook(conn, f"{ROLLBACK} rehearsal 1")
            rehearsed = conn.execute(
                sa.select(c.name, c.details).where(c.kind == "rehearsal", c.name == "rehearsal")
            ).all()
    finally:
        dialect.dispose()
    assert not fetch(target, "SELECT 1 FROM pg_trigger WHERE tgname LIKE 'dm\\_rcapture\\_%%'")
    assert not fetch(target, "SELECT to_regclass('datamove_reverse_changelog')")[0][0]
    assert kept["flip"].status == "done" and kept["reverse-capture"].status == "done"
    assert kept_back["flip-back"].status == "done"
    [(_, details)] = rehearsed
    assert migration.plan().mapping_hash in details
    report = migration.cutover(watch_for=0)
    [gate] = report.gates
    assert gate.ok and gate.actual.startswith("rehearsed "), gate
    assert report.complete and _flag(migration) == "platform"
    assert fetch(target, "SELECT client FROM orders WHERE id = 7001") == [("after rehearsal",)]


def test_a_trigger_with_on_error_record_is_recorded_and_the_watch_goes_on(
    make_db: Any, tmp_path: Path
) -> None:
    broken = (
        '      - {query: "SELECT count(*) FROM no_such_table", on: target, above: 0, '
        "on_error: record}\n"
    )
    _, target, spec, migration = _setup(make_db, tmp_path, broken, "{for: 1s, every: 200ms}")
    done = _cli("cutover", str(spec))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _flag(migration) == "platform"
    steps, checks = _recorded(target)
    assert steps["watch"].status == "done" and len(checks) >= 2
    assert {s for _, s, _ in checks} == {"error"}


def test_ctrl_c_ends_the_watch_normally(make_db: Any, tmp_path: Path) -> None:
    _, target, spec, migration = _setup(make_db, tmp_path, QUERY, "{for: 30m, every: 30s}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "datamove", "cutover", str(spec)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the first round is over: the watch waits for the next
            if line.startswith("watch: round 1:"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "ended by Ctrl-C" in out
    assert _flag(migration) == "platform"
    steps, _ = _recorded(target)
    assert steps["watch"].status == "done" and "ended by Ctrl-C" in (steps["watch"].output or "")


def test_failed_check_fires_on_a_verify_that_fails_after_the_flip(
    make_db: Any, tmp_path: Path
) -> None:
    source, target, spec, migration = _setup(make_db, tmp_path, "      - {failed_check: any}\n")
    assert migration.verify(VerifyOptions(checks=("count",))).ok  # before: not counted

    def hear(event: Event) -> None:
        if isinstance(event, Message) and event.text == FLIPPED:
            execute(target, "DELETE FROM orders WHERE id = 1")  # a bug in the new application
            assert not Migration.from_file(spec).verify(VerifyOptions(checks=("count",))).ok

    report = migration.cutover(on_event=hear, watch_for=600)
    watch = report.watch
    assert watch is not None and watch.rolled_back and watch.fired is not None
    assert watch.fired.actual.startswith("1 failed verify run(s) since the flip"), watch.why
    assert _flag(migration) == "legacy"
    assert fetch(source, "SELECT count(*) FROM orders WHERE id = 1") == [(0,)]  # replayed
