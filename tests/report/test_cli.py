"""``report``, ``signoff`` and ``status`` on the command line: outputs, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute

runner = CliRunner()


def test_report_signoff_and_status(accounts: Any, tmp_path: Path) -> None:
    migration, _, target, spec = accounts
    empty = runner.invoke(app, ["report", str(spec), "--format", "json"])
    assert empty.exit_code == 0, empty.output
    assert not any(line["ticked"] for line in json.loads(empty.stdout)["checklist"])
    migration.run()
    assert migration.verify().ok
    signed = runner.invoke(app, ["signoff", str(spec), "--as", "Dana Ops", "--role", "DBA"])
    assert signed.exit_code == 0, signed.output
    assert "signed off by Dana Ops: evidence digest" in signed.stdout
    assert "☑ Idempotent batches with checkpoints" in signed.stdout
    assert "missing: no rehearsal" in signed.stdout
    status = runner.invoke(app, ["status", str(spec)])
    assert "sign-off by Dana Ops (DBA)" in status.stdout and "stands" in status.stdout
    execute(target, "DELETE FROM accounts WHERE id = 3")
    assert not migration.verify().ok
    status = runner.invoke(app, ["status", str(spec)])
    assert "stale: " in status.stdout and "failing check(s) recorded since" in status.stdout
    as_json = runner.invoke(app, ["status", str(spec), "--json"])
    assert json.loads(as_json.stdout)["signoffs"][0]["stale"] is True
    out = tmp_path / "report.md"
    written = runner.invoke(app, ["report", str(spec), "-f", "md", "-o", str(out)])
    assert written.exit_code == 0 and f"wrote {out}" in written.output
    assert "STALE: " in out.read_text() and "postgres@" not in out.read_text()


def test_bad_input_exits_2_saying_what_to_fix(accounts: Any, tmp_path: Path) -> None:
    _, _, _, spec = accounts
    bad = runner.invoke(app, ["report", str(spec), "--format", "pdf"])
    assert bad.exit_code == 2 and "no report format 'pdf'" in bad.output
    assert "one of: html, md, json" in bad.output
    nowhere = runner.invoke(app, ["report", str(spec), "-o", str(tmp_path / "no" / "r.html")])
    assert nowhere.exit_code == 2 and "cannot write the report to" in nowhere.output
    unnamed = runner.invoke(app, ["signoff", str(spec), "--as", " "])
    assert unnamed.exit_code == 2 and "a sign-off needs a name" in unnamed.output
    spec.write_text(spec.read_text().replace("2h}", "soon}"))
    window = runner.invoke(app, ["report", str(spec)])
    assert window.exit_code == 2 and "signoff.reconcile_window" in window.output


def test_report_as_a_subprocess(accounts: Any) -> None:
    _, _, _, spec = accounts
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "report", str(spec), "--format", "md"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Migration report: test")
