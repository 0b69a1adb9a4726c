"""The report's checklist: each line ticked only by its own evidence in the state store; a
sign-off bound to the evidence goes stale when a failing check follows; the report with no
runs says what is missing; the HTML report in a real headless browser."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from datamove import Migration
from datamove.core.evidence import Check, RunCommand, Step, StepKind
from datamove.cutover.runbook import RUNBOOK
from datamove.dialects.base import Dialect
from datamove.session import Session
from datamove.state.recorder import Recorder
from datamove.state.store import StateStore
from tests.conftest import execute
from tests.helpers import chromium

LINES = ["documented", "checkpoints", "validated", "rehearsed", "reconciled"]


def _ticked(migration: Migration) -> list[str]:
    return [line.key for line in migration.build_report().lines if line.ticked]


def _record(migration: Migration, command: RunCommand, check: Check, ago_hours: float = 0) -> str:
    """A run of ``command`` with one check, through the state store's own recorder (what a
    rehearsal or a reconcile round records); ``ago_hours`` moves its start back."""
    target = Dialect.for_url(migration.spec.target, role="target")
    try:
        state = StateStore(target, migration.spec.name)
        recorder = Recorder(state)
        with recorder.run(command) as run:
            recorder.record_checks(run, [check])
            if not check.ok:
                run.fail("1 check(s) failed")
        if ago_hours:
            started = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=ago_hours)
            with target.connect() as conn, conn.begin():
                r = state.runs
                conn.execute(r.update().where(r.c.run_id == run.id).values(started_at=started))
        return run.id
    finally:
        target.dispose()


def test_a_report_with_no_runs_says_what_is_missing(accounts: Any) -> None:
    migration, *_ = accounts
    result = migration.report("json")
    data = json.loads(result.text)
    assert [line["ticked"] for line in data["checklist"]] == [False] * 5
    commands = [line["command"] for line in data["checklist"]]
    assert commands == [
        "datamove plan SPEC --doc mapping.html",
        "datamove run SPEC",
        "datamove verify SPEC",
        "datamove cutover SPEC --rehearse",
        "datamove reconcile SPEC --every 15m --for 2h",
    ]
    md = migration.report("md").text
    assert "- [ ] **Idempotent batches with checkpoints**" in md
    assert "No run recorded." in md


def test_each_line_is_ticked_by_exactly_its_evidence(accounts: Any, tmp_path: Any) -> None:
    migration, *_ = accounts
    assert _ticked(migration) == []
    migration.run()
    assert _ticked(migration) == ["checkpoints"]
    migration.write_document(migration.plan(), tmp_path / "mapping.html")
    assert _ticked(migration) == ["documented", "checkpoints"]
    assert migration.verify().ok
    assert _ticked(migration) == ["documented", "checkpoints", "validated"]
    passed = Check("rehearsal", "rehearsal", None, "passed", "complete", "3.0s")
    _record(migration, RunCommand.rehearsal, passed)
    assert _ticked(migration) == ["documented", "checkpoints", "validated", "rehearsed"]
    green = Check("count accounts", "count", "accounts", "passed", "300", "300", {"drift": 0})
    _record(migration, RunCommand.reconcile, green, ago_hours=1)
    line = migration.build_report().lines[-1]
    assert not line.ticked and "span 1.0h of the declared 2h" in line.missing
    _record(migration, RunCommand.reconcile, green, ago_hours=3)
    assert _ticked(migration) == LINES
    # A failed round after them unticks reconciliation, saying why.
    red = Check("count accounts", "count", "accounts", "failed", "300", "299", {"drift": 1})
    _record(migration, RunCommand.reconcile, red)
    line = migration.build_report().lines[-1]
    assert not line.ticked and line.missing == "the latest reconcile round failed"


def test_only_rounds_after_go_live_count(accounts: Any) -> None:
    migration, *_ = accounts
    green = Check("count accounts", "count", "accounts", "passed", "300", "300", {"drift": 0})
    _record(migration, RunCommand.reconcile, green, ago_hours=3)
    _record(migration, RunCommand.reconcile, green)
    assert migration.build_report().lines[-1].ticked
    # The runbook's flip recorded done now: the rounds before it reconciled nothing live.
    flip = Step(RUNBOOK, StepKind.cutover, "flip", "after the final verify")
    target = Dialect.for_url(migration.spec.target, role="target")
    try:
        state = StateStore(target, migration.spec.name)
        with target.connect() as conn, conn.begin():
            state.steps.record(conn, [flip])
            state.steps.start(conn, flip, "r1")
            state.steps.finish(conn, flip, "done", "r1", "flag set")
    finally:
        target.dispose()
    line = migration.build_report().lines[-1]
    assert not line.ticked and line.missing == "no reconcile round after go-live (window 2h)"


def test_a_signoff_goes_stale_after_a_new_failing_check(accounts: Any, tmp_path: Any) -> None:
    migration, _, target, _ = accounts
    migration.run()
    assert migration.verify().ok
    signed = migration.signoff("Dana Ops", role="DBA")
    assert len(signed.digest) == 64
    (view,) = migration.build_report().signoffs
    assert (view.signoff.name, view.signoff.role, view.stale) == ("Dana Ops", "DBA", [])
    assert view.signoff.digest == migration.build_report().evidence.digest
    # A passing verify is later evidence too, but nothing that outdates the approval.
    assert migration.verify().ok
    assert migration.build_report().signoffs[0].stale == []
    execute(target, "UPDATE accounts SET balance = balance + 1 WHERE id = 7")
    failed = migration.verify()
    assert not failed.ok
    bad = sum(not c.ok for c in failed.checks)
    (view,) = migration.build_report().signoffs
    assert view.stale == [f"{bad} failing check(s) recorded since"]
    (shown,) = migration.status().signoffs
    assert shown.stale == view.stale
    html = migration.report("html").text
    assert "stale: " in html and 'data-stale="yes"' in html


def test_a_signoff_goes_stale_when_the_mapping_changes(accounts: Any) -> None:
    migration, _, _, spec = accounts
    migration.run()
    migration.signoff("Dana Ops")
    spec.write_text(
        spec.read_text().replace("email: {pii: true}", "email: {pii: true, transform: lower}")
    )
    changed = Migration.from_file(spec)
    changed.run(restart=("accounts",))
    (view,) = changed.build_report().signoffs
    assert "the mapping changed since" in view.stale


def test_signoff_without_a_name_is_refused(accounts: Any) -> None:
    migration, *_ = accounts
    from datamove.errors import UsageError

    try:
        migration.signoff("  ")
    except UsageError as exc:
        assert "a sign-off needs a name" in str(exc)
    else:
        raise AssertionError("an empty name was recorded")


def test_the_html_report_in_a_headless_browser(accounts: Any, tmp_path: Any) -> None:
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    migration, *_ = accounts
    migration.run()
    migration.verify()
    green = Check("count accounts", "count", "accounts", "passed", "300", "300", {"drift": 0})
    _record(migration, RunCommand.reconcile, green, ago_hours=1)
    drifted = Check("count accounts", "count", "accounts", "failed", "300", "298", {"drift": 2})
    _record(migration, RunCommand.reconcile, drifted)
    migration.signoff("Dana Ops", role="DBA")
    path = migration.report("html", tmp_path / "report.html").path
    assert path is not None
    text = path.read_text()
    # Self-contained: nothing to fetch (no link, script or image source, no URL at all).
    assert not any(t in text for t in ("http://", "https://", "<link", "src="))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(path.resolve().as_uri())
            items = page.locator("#checklist li")
            expect(items).to_have_count(5)
            checkpoints = page.locator("#checklist li[data-key='checkpoints']")
            expect(checkpoints).to_have_attribute("data-ticked", "yes")
            rehearsed = page.locator("#checklist li[data-key='rehearsed']")
            expect(rehearsed).to_have_attribute("data-ticked", "no")
            expect(rehearsed).to_contain_text("datamove cutover SPEC --rehearse")
            expect(page.locator("svg#progress-chart rect")).to_have_count(2)
            bar = page.locator("svg#progress-chart rect").first
            assert bar.bounding_box()["width"] > 100  # type: ignore[index]
            expect(page.locator("svg#reconcile-trend circle")).to_have_count(2)
            expect(page.locator("svg#reconcile-trend")).to_be_visible()
            expect(page.locator("tr.signoff")).to_contain_text("Dana Ops")
            # The evidence link of a line leads to its section.
            checkpoints.locator("a").click()
            assert page.url.endswith("#tables")
        finally:
            browser.close()


def test_the_state_store_holds_the_signoff(accounts: Any) -> None:
    migration, _, target, _ = accounts
    migration.run()
    signed = migration.signoff("Dana Ops")
    with Session(migration.spec, read_only=True) as session, session.target.connect() as conn:
        s = session.state.schema.signoffs
        row = conn.execute(sa.select(s.c.name, s.c.digest, s.c.evidence)).one()
    assert (row.name, row.digest) == ("Dana Ops", signed.digest)
    assert json.loads(row.evidence)["checklist"]["checkpoints"] is True
