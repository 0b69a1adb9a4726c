"""The CLI: exit codes and messages of every failure path, and no password in any output."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute
from tests.helpers import create_orders, write_spec

runner = CliRunner()


def test_bad_spec_exits_2_with_the_spec_path(tmp_path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "name: x\nsource: sqlite://\ntarget: sqlite://\ntables:\n  t:\n    colums: {}\n"
    )
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 2
    assert "tables.t.colums" in result.output and "did you mean 'columns'" in result.output
    assert "Traceback" not in result.output


def test_unreachable_server_and_wrong_password_never_show_the_password(tmp_path, pg_db) -> None:
    for source in (
        "postgresql://bob:s3cr3t-pw@127.0.0.1:1/db",
        "mysql://root:s3cr3t-pw@127.0.0.1:3306/test",
    ):
        spec = write_spec(tmp_path / "m.yaml", source, pg_db, "  t:")
        result = runner.invoke(app, ["run", str(spec)])
        assert result.exit_code == 3, result.output
        assert "cannot connect to the source" in result.output
        assert "s3cr3t-pw" not in result.output
        assert "***" in result.output


def test_plan_with_errors_exits_2_and_run_copies_nothing(tmp_path, sqlite_db) -> None:
    src = sqlite_db("src")
    execute(src, "CREATE TABLE t (a INTEGER)")
    spec = write_spec(tmp_path / "m.yaml", src, sqlite_db("tgt"), "  t:")
    plan = runner.invoke(app, ["plan", str(spec), "--json"])
    assert plan.exit_code == 2
    assert json.loads(plan.stdout)["findings"][0]["code"] == "no-key"
    run = runner.invoke(app, ["run", str(spec)])
    assert run.exit_code == 2 and "nothing was copied" in run.output


def test_run_status_and_spec_schema(tmp_path, sqlite_db) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 50)
    spec = write_spec(tmp_path / "m.yaml", src, sqlite_db("tgt"), "  orders:", batch_size=20)
    run = runner.invoke(app, ["run", str(spec), "--json", "--quiet"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["rows"] == 50
    status = runner.invoke(app, ["status", str(spec), "--json"])
    assert json.loads(status.stdout)["tables"][0]["chunks_done"] == 3
    schema = runner.invoke(app, ["spec-schema"])
    assert json.loads(schema.stdout)["title"] == "MigrationSpec"


def test_init_writes_a_spec_that_plans_clean(tmp_path, sqlite_db) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 10)
    out = tmp_path / "spec.yaml"
    init = subprocess.run(
        [
            sys.executable,
            "-m",
            "datamove",
            "init",
            "--source",
            src,
            "--target",
            sqlite_db("t"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stderr
    text = out.read_text()
    assert "key: {columns: [id]}" in text and "payload: {from: payload}" in text
    plan = subprocess.run(
        [sys.executable, "-m", "datamove", "plan", str(out)], capture_output=True, text=True
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_init_moves_a_password_out_of_the_file(tmp_path, pg_db, sqlite_db) -> None:
    secret = pg_db.replace("postgres@", "postgres:pw-in-url@")
    out = tmp_path / "spec.yaml"
    result = runner.invoke(
        app, ["init", "--source", secret, "--target", sqlite_db("t"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "pw-in-url" not in out.read_text() and "${DATAMOVE_SOURCE_URL}" in out.read_text()
    assert "pw-in-url" not in result.output


def test_unknown_tables_in_options_and_status_before_any_run(tmp_path, sqlite_db) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 5)
    spec = write_spec(tmp_path / "m.yaml", src, sqlite_db("tgt"), "  orders:")
    status = runner.invoke(app, ["status", str(spec)])
    assert status.exit_code == 0 and "nothing has run yet" in status.output
    for option, message in (
        ("--tables", "--tables: no table matches 'ordres'"),
        ("--restart", "unknown table(s): ordres"),
    ):
        result = runner.invoke(app, ["run", str(spec), option, "ordres"])
        assert result.exit_code == 2, result.output
        assert message in result.output and "orders" in result.output


def test_a_password_in_the_query_string_stays_out_of_init_and_status(
    tmp_path, pg_db, sqlite_db
) -> None:
    """Issue 14: ``?password=`` was written into the spec by init and printed by status."""
    src = sqlite_db("src")
    create_orders(src, "sqlite", 5)
    target = f"{pg_db}?password=qp-s3cret-value"
    out = tmp_path / "spec.yaml"
    init = runner.invoke(app, ["init", "--source", src, "--target", target, "-o", str(out)])
    assert init.exit_code == 0, init.output
    assert "qp-s3cret" not in out.read_text() + init.output
    assert "${DATAMOVE_TARGET_URL}" in out.read_text() and "password=***" in init.output
    spec = write_spec(tmp_path / "m.yaml", src, target, "  orders:")
    for args in (["status", str(spec)], ["status", str(spec), "--json"]):
        status = runner.invoke(app, args)
        assert status.exit_code == 0, status.output
        assert "qp-s3cret" not in status.output and "password=***" in status.output
