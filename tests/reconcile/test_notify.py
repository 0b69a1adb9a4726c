"""The webhook: a new failure POSTs the documented payload (no secret in it); a failing
webhook is retried with backoff and its failure recorded, and never holds up the round; a
failure already failing in the round before calls nothing. And ``datamove reconcile`` on the
command line: exit 1 on a failed round, ``--history --json`` with the drift."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove.cli.app import app
from datamove.core.stop import Stop
from datamove.dialects.base import Dialect
from datamove.events import Event, RunFinished
from datamove.state import StateStore
from datamove.state.checks import CheckLog
from tests.conftest import execute
from tests.reconcile.live import migrated

runner = CliRunner()


class Hook:
    """A local HTTP endpoint that answers each POST with the next of ``codes`` (the last one
    repeats) and keeps the bodies it got."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(size)))
                code = hook.codes[min(len(hook.bodies), len(hook.codes)) - 1]
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cr3t-t0ken"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook_ok() -> Iterator[Hook]:
    hook = Hook([200])
    yield hook
    hook.server.shutdown()


@pytest.fixture
def hook_failing() -> Iterator[Hook]:
    hook = Hook([500])
    yield hook
    hook.server.shutdown()


def notify_checks(target: str) -> list[tuple[str, str, dict[str, Any]]]:
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        c = state.schema.checks.c
        with dialect.connect() as conn:
            rows = conn.execute(
                sa.select(c.run_id, c.status, c.details).where(c.kind == "notify").order_by(c.id)
            ).all()
        return [(r[0], r[1], json.loads(r[2])) for r in rows]
    finally:
        dialect.dispose()


def test_a_new_failure_calls_the_webhook_once(make_db: Any, tmp_path: Path, hook_ok: Hook) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    notify = f"{{url: '{hook_ok.url}', backoff: 0.05}}"
    migration = migrated(tmp_path, source, target, "{persist_for: 1, full_every: 1}", notify=notify)
    assert migration.reconcile(once=True).ok and hook_ok.bodies == []  # green: no call
    execute(target, "UPDATE items SET amount = 4242 WHERE id = 700")
    result = migration.reconcile(once=True)
    rnd = result.rounds[0]
    assert not result.ok and rnd.new_failures == ["items: checksum"], rnd.new_failures
    (body,) = hook_ok.bodies
    assert body["event"] == "reconcile.new_failure" and body["run_id"] == rnd.run_id
    assert [f["check"] for f in body["new_failures"]] == rnd.new_failures
    assert "s3cr3t" not in json.dumps(body) and "postgres" not in json.dumps(body)
    (recorded,) = notify_checks(target)
    assert recorded[0] == rnd.run_id and recorded[1] == "passed"
    again = migration.reconcile(once=True)  # still failing: not new, no second call
    assert not again.ok and again.rounds[0].new_failures == [] and len(hook_ok.bodies) == 1


def test_a_failing_webhook_is_retried_and_recorded(
    make_db: Any, tmp_path: Path, hook_failing: Hook
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    notify = f"{{url: '{hook_failing.url}', retries: 2, backoff: 0.05}}"
    migration = migrated(tmp_path, source, target, "{persist_for: 1, full_every: 1}", notify=notify)
    execute(target, "DELETE FROM items WHERE id = 700")
    result = migration.reconcile(once=True)
    assert not result.ok and result.rounds[0].notified
    assert len(hook_failing.bodies) == 3  # the first attempt and two retries
    ((run_id, status, details),) = notify_checks(target)
    assert run_id == result.rounds[0].run_id and status == "error"
    assert details["attempts"] == 3 and details["errors"][-1] == "attempt 3: HTTP 500"
    assert "s3cr3t" not in json.dumps(details)
    # the round itself was recorded, with its own checks, whatever the webhook did
    dialect = Dialect.for_url(target, role="target")
    try:
        with dialect.connect() as conn:
            checks = CheckLog(StateStore(dialect, "test").schema.checks, "test").for_run(
                conn, run_id
            )
    finally:
        dialect.dispose()
    names = [r.check.name for r in checks]
    assert "items: checksum" in names and "notify: webhook" in names


def test_cli_exit_codes_and_history(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migrated(tmp_path, source, target, "{persist_for: 1, full_every: 1}")
    spec = str(tmp_path / "m.yaml")
    ok = runner.invoke(app, ["reconcile", spec, "--once", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["rounds"][0]["kind"] == "full"
    execute(target, "UPDATE items SET name = 'x' WHERE id IN (800, 801)")
    bad = runner.invoke(app, ["reconcile", spec, "--once"])
    assert bad.exit_code == 1, bad.output
    assert "items: checksum: 0 missing, 0 extra, 2 changed (new)" in bad.stdout, bad.stdout
    history = runner.invoke(app, ["reconcile", spec, "--history", "--json"])
    assert history.exit_code == 0, history.output
    series = {s["check"]: s for s in json.loads(history.stdout)["series"]}
    drift = [p["drift"] for p in series["items: checksum"]["points"]]
    assert drift == [0, 2] and series["items: checksum"]["trend"] == "rising"
    text = runner.invoke(app, ["reconcile", spec, "--history"])
    assert text.exit_code == 0 and "items: checksum" in text.stdout
    wrong = runner.invoke(app, ["reconcile", spec, "--once", "--every", "soon"])
    assert wrong.exit_code == 2 and "not a duration" in wrong.output


def test_rounds_on_a_schedule_until_a_stop(make_db: Any, tmp_path: Path) -> None:
    """Without ``once`` rounds follow one another every ``every`` until a stop (Ctrl-C), here
    requested once the third round is recorded; each round is its own recorded run."""
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, "{every: 10ms}")
    stop = Stop()
    started: list[str] = []

    def hear(event: Event) -> None:
        if isinstance(event, RunFinished) and event.command == "reconcile":
            started.append(event.run_id)
            if len(started) == 3:
                stop.request()

    result = migration.reconcile(on_event=hear, stop=stop)
    assert len(result.rounds) == 3 and result.ok and result.stopped
    assert len({r.run_id for r in result.rounds}) == 3
    history = migration.reconcile_history()
    assert [r.run_id for r in history.rounds] == [r.run_id for r in result.rounds]
    assert all(r.status == "ok" for r in history.rounds)
