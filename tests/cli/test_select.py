"""``--tables``/``--exclude`` with patterns on ``init``, ``run``, ``verify``, ``repair`` and
``capture install``: Sling's and pgloader's habits (``--tables 'payment*'`` said
``source has no table(s): payment*``)."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute, fetch

runner = CliRunner()
TABLES = ["payment", "payment_2022", "payment_archive", "rental"]


def _source(url: str) -> str:
    execute(
        url,
        *(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)" for t in TABLES),
        *(f"INSERT INTO {t} VALUES (1, 10), (2, 20)" for t in TABLES),
    )
    return url


def test_init_selects_by_glob_and_exclusion(tmp_path, sqlite_db) -> None:
    src = _source(sqlite_db("src"))
    out = tmp_path / "m.yaml"
    args = ["init", "--source", src, "--target", sqlite_db("tgt"), "-o", str(out)]
    result = runner.invoke(app, [*args, "--tables", "PAYMENT*", "--exclude", "*_archive"])
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load(out.read_text())["tables"]) == ["payment", "payment_2022"]


def test_init_pattern_matching_nothing_is_an_error_naming_it(tmp_path, sqlite_db) -> None:
    src = _source(sqlite_db("src"))
    result = runner.invoke(
        app, ["init", "--source", src, "--target", sqlite_db("tgt"), "--tables", "paymnt*"]
    )
    assert result.exit_code == 2
    assert "--tables: no table matches 'paymnt*'" in result.output
    assert "did you mean payment" in result.output


def test_run_verify_and_repair_take_the_same_patterns(tmp_path, sqlite_db) -> None:
    src = _source(sqlite_db("src"))
    tgt = sqlite_db("tgt")
    spec = tmp_path / "m.yaml"
    init = runner.invoke(app, ["init", "--source", src, "--target", tgt, "-o", str(spec)])
    assert init.exit_code == 0, init.output

    run = runner.invoke(
        app, ["run", str(spec), "--tables", "pay*", "--exclude", "*_archive", "--json", "-q"]
    )
    assert run.exit_code == 0, run.output
    copied = {t["table"] for t in json.loads(run.stdout)["tables"]}
    assert copied == {"payment", "payment_2022"}
    assert fetch(tgt, "SELECT count(*) FROM payment_2022") == [(2,)]

    verify = runner.invoke(
        app, ["verify", str(spec), "--tables", "Payment*", "--exclude", "*archive", "--json"]
    )
    assert verify.exit_code == 0, verify.output
    verified = {c["table"] for c in json.loads(verify.stdout)["checks"] if c.get("table")}
    assert verified == {"payment", "payment_2022"}

    repair = runner.invoke(app, ["repair", str(spec), "--tables", "nothing*"])
    assert repair.exit_code == 2 and "no table matches 'nothing*'" in repair.output


def test_capture_install_takes_the_same_patterns(tmp_path, sqlite_db) -> None:
    src = _source(sqlite_db("src"))
    spec = tmp_path / "m.yaml"
    init = runner.invoke(
        app, ["init", "--source", src, "--target", sqlite_db("t"), "-o", str(spec)]
    )
    assert init.exit_code == 0, init.output
    spec.write_text(spec.read_text().replace("tables:\n", "sync: {mode: triggers}\ntables:\n", 1))
    args = ["capture", "install", str(spec), "--tables", "pay*", "--exclude", "*_archive"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "capture installed on 2 table(s): payment, payment_2022" in result.output
