"""``datamove flag get|set|list``: in a real subprocess against the target's state store, and
every failure path with its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.helpers import write_spec

runner = CliRunner()


def _datamove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "datamove", *args], capture_output=True, text=True)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_flag_set_get_and_list_in_a_subprocess(tmp_path: Path, make_db: Any, engine: str) -> None:
    spec = str(
        write_spec(
            tmp_path / "m.yaml", make_db("sqlite", "src"), make_db(engine, "tgt"), "  orders:"
        )
    )
    unset = _datamove("flag", "get", spec, "read_path", "--tenant", "acme")
    assert unset.returncode == 0, unset.stderr
    assert unset.stdout.strip() == "read_path for tenant acme: not set"

    first = _datamove("flag", "set", spec, "read_path", '"legacy"', "--as", "alice")
    assert first.returncode == 0, first.stderr
    assert 'read_path = "legacy" for every tenant (was not set)' in first.stdout
    assert "set by alice" in first.stdout
    flip = _datamove("flag", "set", spec, "read_path", '"platform"', "--tenant", "acme", "--json")
    assert flip.returncode == 0, flip.stderr
    change = json.loads(flip.stdout)
    assert (change["targeting_key"], change["previous"], change["value"]) == (
        "acme",
        None,
        "platform",
    )
    assert change["changed_by"] not in ("", "unknown"), "the OS user without --as"

    acme = _datamove("flag", "get", spec, "read_path", "--tenant", "acme", "--json")
    assert json.loads(acme.stdout) | {"updated_at": None} == {
        "name": "read_path",
        "targeting_key": "acme",
        "set": True,
        "value": "platform",
        "matched": "targeting_key",
        "updated_at": None,
        "updated_by": change["changed_by"],
    }
    globex = _datamove("flag", "get", spec, "read_path", "--tenant", "globex")
    assert globex.stdout.startswith('read_path for tenant globex = "legacy"  (the value for every')

    listed = _datamove("flag", "list", spec, "--json")
    assert listed.returncode == 0, listed.stderr
    history = json.loads(listed.stdout)["history"]
    assert [(h["targeting_key"], h["value"], h["changed_by"]) for h in history] == [
        ("acme", "platform", change["changed_by"]),
        (None, "legacy", "alice"),
    ]
    assert all(h["changed_at"] for h in history)
    text = _datamove("flag", "list", spec)
    assert "history (newest first)" in text.stdout and "alice" in text.stdout


def test_flag_failures_exit_with_their_code(tmp_path: Path, sqlite_db: Any) -> None:
    spec = str(write_spec(tmp_path / "m.yaml", sqlite_db("src"), sqlite_db("tgt"), "  orders:"))
    not_json = runner.invoke(app, ["flag", "set", spec, "read_path", "platform"])
    assert not_json.exit_code == 2
    assert "flag value 'platform' is not JSON" in not_json.output
    assert "'\"green\"'" in not_json.output, "the hint shows how to quote text"
    assert runner.invoke(app, ["flag", "set", spec, "read_path", "null"]).exit_code == 2
    empty = runner.invoke(app, ["flag", "set", spec, "read_path", "true", "--tenant", ""])
    assert empty.exit_code == 2 and "targeting key is empty" in empty.output
    assert runner.invoke(app, ["flag", "list", spec]).output.strip() == "no flag is set"

    down = tmp_path / "down.yaml"
    write_spec(down, sqlite_db("src"), "postgresql+psycopg://u:pw-9z@127.0.0.1:1/x", "  orders:")
    failed = runner.invoke(app, ["flag", "get", str(down), "read_path"])
    assert failed.exit_code == 3 and "cannot connect" in failed.output
    assert "pw-9z" not in failed.output
