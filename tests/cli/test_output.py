"""Output for people and for CI logs: plain progress lines in a pipe, tables never cut to 80
columns, ``--log-file`` JSON lines, ``status`` listing tables not started, ``repair`` naming
each re-copied chunk and why."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import execute
from tests.helpers import create_orders, write_spec

PASSWORD = "pw-l0g-s3cret"
LONG_TABLE = "customer_loyalty_programme_memberships_archive"
LONG_COLUMN = "last_updated_at_by_the_loyalty_programme_batch_job"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess with stdout and stderr as pipes (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"} | env,
        check=False,
    )


def _with_password(url: str) -> str:
    parsed = sa.engine.make_url(url).set(password=PASSWORD)
    return parsed.render_as_string(hide_password=False)


def _source(url: str) -> None:
    create_orders(url, "sqlite", 50)
    execute(
        url,
        f"CREATE TABLE {LONG_TABLE} (id INTEGER PRIMARY KEY, {LONG_COLUMN} TEXT)",
        f"INSERT INTO {LONG_TABLE} VALUES (1, '2024-01-01'), (2, NULL)",
    )


def _spec(tmp_path: Path, source: str, target: str) -> Path:
    tables = f"  orders:\n  {LONG_TABLE}:"
    return write_spec(tmp_path / "m.yaml", source, target, tables, batch_size=20)


def test_run_in_a_pipe_prints_table_lines_progress_and_a_json_log(
    tmp_path: Path, sqlite_db: Any, pg_db: str
) -> None:
    src = sqlite_db("src")
    _source(src)
    spec = _spec(tmp_path, src, _with_password(pg_db))
    log = tmp_path / "run.jsonl"
    run = _cli("run", str(spec), "--log-file", str(log), DATAMOVE_PROGRESS_INTERVAL="0")
    assert run.returncode == 0, run.stderr

    lines = run.stderr.splitlines()
    assert "orders: started, 3 of 3 chunk(s) to copy, ~50 rows" in lines
    assert any(line.startswith("orders: finished, 50 rows, 0 reject(s) in ") for line in lines)
    assert any(line.startswith(f"{LONG_TABLE}: started, 1 of 1 chunk(s)") for line in lines)
    assert any(line.startswith(f"{LONG_TABLE}: finished, 2 rows") for line in lines)
    progress = [
        line
        for line in lines
        if re.fullmatch(
            r"orders: [123]/3 chunks, [\d,]+ rows, [\d,]+ rows/s, ETA \d+:\d\d:\d\d", line
        )
    ]
    assert progress, run.stderr
    assert progress[-1].startswith("orders: 3/3 chunks, 50 rows") and "ETA 0:00:00" in progress[-1]
    assert LONG_TABLE in run.stdout and "…" not in run.stdout  # the summary is not cut

    text = log.read_text(encoding="utf-8")
    assert PASSWORD not in text + run.stdout + run.stderr
    events = [json.loads(line) for line in text.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and events[0]["command"] == "run"
    assert kinds[-1] == "run_finished" and events[-1]["status"] == "ok"
    assert events[-1]["rows"] == 52 and events[-1]["run_id"] == events[0]["run_id"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", e["ts"]) for e in events)
    for table, chunks in (("orders", 3), (LONG_TABLE, 1)):
        mine = [e for e in events if e.get("table") == table]
        assert [e["event"] for e in mine] == (
            ["table_started"] + ["chunk_committed"] * chunks + ["table_finished"]
        )
    assert sum(e["rows"] for e in events if e["event"] == "chunk_committed") == 52


def test_status_and_plan_in_a_pipe_are_not_cut(tmp_path: Path, sqlite_db: Any) -> None:
    src = sqlite_db("src")
    _source(src)
    spec = _spec(tmp_path, src, sqlite_db("tgt"))
    plan = _cli("plan", str(spec))
    assert plan.returncode == 0, plan.stderr
    assert LONG_COLUMN in plan.stdout and "…" not in plan.stdout
    assert _cli("run", str(spec), "--tables", LONG_TABLE).returncode == 0
    status = _cli("status", str(spec))
    assert status.returncode == 0, status.stderr
    assert LONG_TABLE in status.stdout and "…" not in status.stdout


def test_status_lists_tables_not_started(tmp_path: Path, sqlite_db: Any) -> None:
    src = sqlite_db("src")
    _source(src)
    spec = _spec(tmp_path, src, sqlite_db("tgt"))
    before = _cli("status", str(spec), "--json")
    assert [(t["table"], t["state"]) for t in json.loads(before.stdout)["tables"]] == [
        ("orders", "not started"),
        (LONG_TABLE, "not started"),
    ]
    assert _cli("run", str(spec), "--tables", LONG_TABLE).returncode == 0
    after = json.loads(_cli("status", str(spec), "--json").stdout)["tables"]
    assert [(t["table"], t["state"], t["chunks_total"]) for t in after] == [
        ("orders", "not started", 0),
        (LONG_TABLE, "done", 1),
    ]
    text = _cli("status", str(spec)).stdout
    row = next(line for line in text.splitlines() if "orders" in line)
    assert "not started" in row
    assert re.search(rf"{LONG_TABLE}\s*│\s*1/1\s*│\s*2\s*│", text)


def test_repair_names_each_chunk_its_key_range_and_why(tmp_path: Path, sqlite_db: Any) -> None:
    src, tgt = sqlite_db("src"), sqlite_db("tgt")
    create_orders(src, "sqlite", 50)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=20)
    assert _cli("run", str(spec)).returncode == 0
    execute(tgt, "UPDATE orders SET qty = qty + 1 WHERE id = 25", "DELETE FROM orders WHERE id = 3")
    repair = _cli("repair", str(spec))
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "orders: 2 difference(s) found by the checksum → re-copied 2 chunk(s)" in repair.stdout
    first = re.search(r"\n  chunk 0, keys \(-∞, (\d+)\]: missing in target: key 3\n", repair.stdout)
    second = re.search(r"\n  chunk 1, keys \((\d+), (\d+)\]: changed key 25: qty\n", repair.stdout)
    assert first and second, repair.stdout
    assert 3 <= int(first[1]) == int(second[1]) < 25 <= int(second[2])

    execute(tgt, "UPDATE orders SET note = 'x' WHERE id IN (41, 50)")
    result = json.loads(_cli("repair", str(spec), "--json").stdout)
    assert result["ok"] and result["reopened"] == {"orders": [2]}
    [chunk] = result["chunks"]
    assert chunk["lo"][0] < 41 and chunk["hi"] is None  # the last chunk: (lo, +∞]
    assert chunk == {
        "table": "orders",
        "chunk_no": 2,
        "lo": chunk["lo"],
        "hi": None,
        "reasons": ["changed key 41: note", "changed key 50: note"],
    }


def test_an_unwritable_log_file_is_a_usage_error(tmp_path: Path, sqlite_db: Any) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 5)
    spec = write_spec(tmp_path / "m.yaml", src, sqlite_db("tgt"), "  orders:")
    run = _cli("run", str(spec), "--log-file", str(tmp_path / "no" / "such" / "run.jsonl"))
    assert run.returncode == 2
    assert "--log-file" in run.stderr and "cannot open it for writing" in run.stderr
    assert "Traceback" not in run.stderr


def test_sync_in_a_pipe_prints_its_progress_and_logs_it(tmp_path: Path, sqlite_db: Any) -> None:
    src, tgt = sqlite_db("src"), sqlite_db("tgt")
    create_orders(src, "sqlite", 30)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", sync="{mode: triggers}")
    assert _cli("capture", "install", str(spec)).returncode == 0
    assert _cli("run", str(spec)).returncode == 0
    execute(src, "UPDATE orders SET qty = qty + 1 WHERE id <= 5")
    log = tmp_path / "sync.jsonl"
    sync = _cli(
        "sync",
        str(spec),
        "--until-lag",
        "0",
        "--log-file",
        str(log),
        DATAMOVE_PROGRESS_INTERVAL="0",
    )
    assert sync.returncode == 0, sync.stderr
    assert re.search(r"^sync: 0 pending, lag [\d.]+s, 5 applied", sync.stderr, re.M), sync.stderr
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert events[0]["event"] == "run_started" and events[0]["command"] == "sync"
    assert any(e["event"] == "sync_progress" and e["applied_total"] == 5 for e in events)
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "ok"
