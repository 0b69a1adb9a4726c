"""``sync``'s "backfilled before change capture" warning: once per table per recorded backfill
(remembered in the state store), and in ``--json`` a structured field, never text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import execute, fetch
from tests.helpers import write_spec

TABLES = """  items:
    columns: {id: {}, name: {}}
  tags:
    columns: {id: {}, label: {}}
"""
WARNING = "'items' was backfilled before change capture was installed"


def datamove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    proc = datamove(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql"])
def test_the_backfill_warning_is_given_once_per_backfill(
    make_db: Any, tmp_path: Path, target_engine: str
) -> None:
    source, target = make_db("postgresql", "src"), make_db(target_engine, "tgt")
    execute(
        source,
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))",
        "CREATE TABLE tags (id INT PRIMARY KEY, label VARCHAR(20))",
        "INSERT INTO items VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO tags VALUES (1, 'x')",
    )
    spec = str(write_spec(tmp_path / "m.yaml", source, target, TABLES, sync="{mode: triggers}"))
    ok("--quiet", "run", spec, "--tables", "items")  # items: backfilled, capture off
    ok("capture", "install", spec)
    ok("--quiet", "run", spec)  # tags: backfilled with capture on

    first = ok("sync", spec)
    assert first.stderr.count(WARNING) == 1, first.stderr
    assert "'tags'" not in first.stderr
    again = ok("sync", spec)
    assert "backfilled before change capture" not in again.stderr + again.stdout
    as_json = ok("sync", spec, "--json")
    assert json.loads(as_json.stdout)["warnings"] == []

    # A new backfill of items, again without capture: a new state, warned of once more,
    # and in --json as a structured field only.
    ok("capture", "uninstall", spec)
    ok("--quiet", "run", spec, "--restart", "items")
    ok("capture", "install", spec)
    warned = ok("sync", spec, "--json")
    (warning,) = json.loads(warned.stdout)["warnings"]
    assert warning["table"] == "items" and warning["code"] == "backfilled-before-capture"
    assert "--restart items" in warning["message"]
    assert "backfilled" not in warned.stderr
    assert json.loads(ok("sync", spec, "--json").stdout)["warnings"] == []
    status = json.loads(ok("capture", "status", spec, "--json").stdout)
    assert {t["table"]: t["active_at_backfill"] for t in status["tables"]} == {
        "items": False,
        "tags": True,
    }, "capture status keeps saying it"


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_capture_install_without_sync_says_what_to_add(
    make_db: Any, tmp_path: Path, source_engine: str
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))")
    before = _objects(source)
    spec = str(write_spec(tmp_path / "m.yaml", source, target, TABLES.split("  tags:")[0]))
    proc = datamove("capture", "install", spec)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "sync: capture install: the spec has no `sync:`" in proc.stderr
    assert "nothing was installed" in proc.stderr
    assert "    sync:\n      mode: triggers\n" in proc.stderr
    assert "Traceback" not in proc.stderr
    watermark = tmp_path / "w.yaml"
    watermark.write_text(Path(spec).read_text() + "sync: {mode: watermark, column: name}\n")
    proc = datamove("capture", "install", str(watermark))
    assert proc.returncode == 2
    assert "sync.mode: capture install: sync mode watermark catches up by the 'name'" in (
        proc.stderr
    )
    assert _objects(source) == before, "no changelog, trigger or function on the source"


def _objects(url: str) -> set[str]:
    """The source's tables, triggers and (PostgreSQL) functions, by name."""
    if url.startswith("postgresql"):
        query = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema') UNION ALL SELECT trigger_name FROM "
            "information_schema.triggers UNION ALL SELECT proname FROM pg_proc JOIN "
            "pg_namespace n ON n.oid = pronamespace WHERE nspname NOT IN "
            "('pg_catalog', 'information_schema')"
        )
    else:
        query = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
            "UNION ALL SELECT trigger_name FROM information_schema.triggers "
            "WHERE trigger_schema = DATABASE()"
        )
    return {str(r[0]) for r in fetch(url, query)}
