"""Crash test: kill -9 the CLI mid-run, run again, and the target equals the source row for row,
with every chunk committed exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from datamove import Migration
from tests.conftest import fetch
from tests.helpers import create_orders, table_rows, write_spec

ROWS, BATCH = 12_000, 500


def _kill_after_chunks(spec, chunks: int, count=None) -> None:
    """Run the CLI (throttled, so it takes seconds) and kill -9 it once ``chunks`` committed
    (as ``count(spec)`` counts them: by default the load's chunks of every table)."""
    count = count or _committed
    cmd = [
        sys.executable,
        "-m",
        "datamove",
        "--quiet",
        "run",
        str(spec),
        "--max-rows-per-second",
        "2500",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while count(spec) < chunks:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "no chunk committed within 60s"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _committed(spec) -> int:
    try:
        status = Migration.from_file(spec).status()
    except Exception:  # noqa: BLE001 - state tables may not exist yet
        return 0
    return sum(t.chunks_done for t in status.tables)


def _filled(spec) -> int:
    """Chunks whose second pass has committed."""
    try:
        status = Migration.from_file(spec).status()
    except Exception:  # noqa: BLE001 - state tables may not exist yet
        return 0
    return sum(t.second_pass.done for t in status.tables if t.second_pass)


@pytest.mark.parametrize(
    ("source", "target"), [("postgresql", "postgresql"), ("mysql", "sqlite"), ("sqlite", "mysql")]
)
def test_kill_9_mid_run_then_resume(make_db, tmp_path, source, target) -> None:
    src, tgt = make_db(source, "src"), make_db(target, "tgt")
    create_orders(src, source, ROWS)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=BATCH)
    _kill_after_chunks(spec, 4)
    done_before = _committed(spec)
    assert 4 <= done_before < ROWS // BATCH, "the kill must land mid-run"
    # The killed run left its record open: status says so instead of claiming success.
    assert Migration.from_file(spec).status().last_run.status == "running"

    finish = subprocess.run(
        [sys.executable, "-m", "datamove", "--quiet", "run", str(spec), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finish.returncode == 0, finish.stderr
    report = json.loads(finish.stdout)["tables"][0]
    # The resumed run copied only the chunks that had not committed.
    assert report["chunks_skipped"] == done_before
    assert report["copied"] == ROWS - done_before * BATCH
    assert table_rows(tgt, "orders") == table_rows(src, "orders")
    assert Migration.from_file(spec).status().last_run.status == "ok"

    engine = sa.create_engine(tgt)
    prefix = "datamove." if target == "postgresql" else "datamove_"
    with engine.connect() as conn:
        commits = [r[0] for r in conn.exec_driver_sql(f"SELECT commits FROM {prefix}checkpoints")]
    engine.dispose()
    assert len(commits) == ROWS // BATCH
    assert set(commits) == {1}, "every chunk is committed exactly once"


def test_kill_9_during_a_remapped_load_mints_each_key_once(make_db, tmp_path) -> None:
    src, tgt = make_db("sqlite", "src"), make_db("postgresql", "tgt")
    engine = sa.create_engine(src)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
        conn.execute(
            sa.text("INSERT INTO customers VALUES (:i, :n)"),
            [{"i": 3 * i, "n": f"c{i}"} for i in range(1, 6001)],
        )
        conn.execute(
            sa.text("INSERT INTO orders VALUES (:i, :c)"),
            [{"i": i, "c": 3 * (1 + i % 6000)} for i in range(1, 3001)],
        )
    engine.dispose()
    spec = write_spec(
        tmp_path / "m.yaml",
        src,
        tgt,
        "  customers:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
        "  orders:\n    columns:\n      id:\n      customer_id: {lookup: customers}",
        batch_size=300,
    )
    _kill_after_chunks(spec, 4)
    resume = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec)]
    assert subprocess.run(resume, capture_output=True, timeout=300).returncode == 0

    customers = fetch(tgt, "SELECT id, legacy_id FROM customers")
    assert len(customers) == 6000
    assert len({new for new, _ in customers}) == 6000  # no key minted twice
    assert {legacy for _, legacy in customers} == {3 * i for i in range(1, 6001)}
    new_of = {legacy: new for new, legacy in customers}
    orders = fetch(tgt, "SELECT id, customer_id FROM orders")
    assert dict(orders) == {i: new_of[3 * (1 + i % 6000)] for i in range(1, 3001)}


def test_kill_9_during_the_second_pass_resumes_it(make_db, tmp_path) -> None:
    """A self-referencing remapped table: killed while the second pass fills manager_id, the
    next run copies nothing again, fills only the chunks that had not committed, and every
    employee ends with the right manager (checked through the legacy columns)."""
    src, tgt = make_db("sqlite", "src"), make_db("postgresql", "tgt")
    managers = {3 * i: 3 * min(6000, i + 1 + i % 5) for i in range(1, 6001)}
    engine = sa.create_engine(src)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE employees (id INTEGER PRIMARY KEY, "
            "manager_id INTEGER REFERENCES employees(id))"
        )
        conn.execute(
            sa.text("INSERT INTO employees VALUES (:i, :m)"),
            [{"i": e, "m": m} for e, m in managers.items()],
        )
    engine.dispose()
    spec = write_spec(
        tmp_path / "m.yaml",
        src,
        tgt,
        "  employees:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
        "    columns:\n      id:\n      manager_id: {lookup: employees}",
        batch_size=300,
    )
    _kill_after_chunks(spec, 2, count=_filled)
    (table,) = Migration.from_file(spec).status().tables
    filled_before = table.second_pass.done
    assert table.chunks_done == 20, "the load is complete before the second pass"
    assert 2 <= filled_before < 20, "the kill must land inside the second pass"

    resume = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec), "--json"]
    finish = subprocess.run(resume, capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr
    (report,) = json.loads(finish.stdout)["tables"]
    assert report["copied"] == 0 and report["chunks_skipped"] == 20
    (table,) = Migration.from_file(spec).status().tables
    assert table.second_pass.to_dict() == {"done": 20, "total": 20, "rejects": 0}

    employees = fetch(tgt, "SELECT id, legacy_id FROM employees")
    assert len({new for new, _ in employees}) == 6000, "no key minted twice"
    resolved = fetch(
        tgt,
        "SELECT e.legacy_id, m.legacy_id FROM employees e JOIN employees m ON m.id = e.manager_id",
    )
    assert dict(resolved) == managers
    runs = fetch(tgt, "SELECT run_id, count(*) FROM datamove.second_pass GROUP BY run_id")
    assert sorted(n for _, n in runs) == sorted([filled_before, 20 - filled_before])
    assert {n for (n,) in fetch(tgt, "SELECT commits FROM datamove.checkpoints")} == {1}
