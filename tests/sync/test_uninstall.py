"""``datamove uninstall``: after capture, a run and a verify, nothing of datamove is left on
either side (asserted through each engine's catalog), the migrated rows are intact and the
evidence can be kept as JSON first."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import fetch
from tests.helpers import create_orders, write_spec

runner = CliRunner()

LEFT = {
    "postgresql": [
        "SELECT nspname FROM pg_namespace WHERE nspname = 'datamove'",
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'datamove%%'",
        "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dm\\_%%'",
        "SELECT proname FROM pg_proc WHERE proname LIKE 'dm\\_%%'",
    ],
    "mysql": [
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name LIKE 'datamove%%'",
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    ],
    "sqlite": [
        "SELECT name FROM sqlite_master WHERE name LIKE 'datamove%' OR type = 'trigger'",
    ],
}


def _left(url: str, engine: str) -> list[object]:
    """Every datamove object the catalog of ``url`` still lists."""
    return [row for query in LEFT[engine] for row in fetch(url, query)]


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_uninstall_removes_everything_datamove_added_and_keeps_the_data(
    tmp_path, make_db, engine
) -> None:
    src, tgt = make_db(engine, "src"), make_db(engine, "tgt")
    create_orders(src, engine, 120)
    spec = write_spec(
        tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=50, sync="{mode: triggers}"
    )
    for command in (["capture", "install"], ["run", "--quiet"], ["verify"]):
        result = runner.invoke(app, [*command, str(spec)])
        assert result.exit_code == 0, result.output
    assert _left(src, engine) and _left(tgt, engine)

    refused = runner.invoke(app, ["uninstall", str(spec)])  # stdin is not a terminal
    assert refused.exit_code == 2, refused.output
    assert "--yes" in refused.output and "datamove_changelog" in refused.output
    assert _left(src, engine) and _left(tgt, engine)

    evidence = tmp_path / "evidence.json"
    done = runner.invoke(app, ["uninstall", str(spec), "--yes", "--keep-evidence", str(evidence)])
    assert done.exit_code == 0, done.output
    assert _left(src, engine) == [] and _left(tgt, engine) == []
    assert fetch(tgt, "SELECT count(*) FROM orders") == [(120,)]
    assert fetch(src, "SELECT count(*) FROM orders") == [(120,)]

    kept = json.loads(evidence.read_text())
    assert kept["migration"] == "test"
    assert {r["command"] for r in kept["runs"]} >= {"run", "verify"}
    assert kept["checks"] and all(c["run_id"] for c in kept["checks"])
    assert len(kept["checkpoints"]) == 3 and kept["steps"]

    again = runner.invoke(app, ["uninstall", str(spec), "--yes"])
    assert again.exit_code == 0, again.output
    assert "nothing of datamove is left" in again.output


def test_another_migrations_evidence_in_the_same_store_is_kept(tmp_path, make_db) -> None:
    """Two migrations into one target share its state tables: uninstalling one deletes
    only its own rows, and the other's status still reads."""
    src, tgt = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_orders(src, "postgresql", 30)
    first = write_spec(tmp_path / "a.yaml", src, tgt, "  orders:", name="first")
    other = write_spec(tmp_path / "b.yaml", src, tgt, "  orders:", name="second")
    assert runner.invoke(app, ["run", str(first), "--quiet"]).exit_code == 0
    assert runner.invoke(app, ["verify", str(other)]).exit_code == 0
    done = runner.invoke(app, ["uninstall", str(first), "--yes"])
    assert done.exit_code == 0, done.output
    assert "second" in done.output
    runs = fetch(tgt, "SELECT DISTINCT migration FROM datamove.runs")
    assert runs == [("second",)]
    assert fetch(tgt, "SELECT count(*) FROM datamove.checkpoints") == [(0,)]
