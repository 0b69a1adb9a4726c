"""A chunk task is plain data: pickled, it runs in a fresh process that rebuilds its own
context from the spec, and commits its chunk with its checkpoint like any worker."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from datamove import Migration
from datamove.copy.tasks import ChunkTask
from datamove.state.store import StateStore
from tests.conftest import execute, fetch
from tests.helpers import create_orders, table_rows, write_spec

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import pickle, sys
import datamove
from datamove.copy.tasks import WorkerContext
from datamove.spec import load_spec
task, spec = pickle.loads(sys.stdin.buffer.read())
result = WorkerContext.rebuild(load_spec(spec), "other-process").run(task)
print(result.rows, result.path)
"""


def test_a_pickled_task_runs_in_a_fresh_process(make_db, tmp_path) -> None:
    src, tgt = make_db("mysql", "src"), make_db("postgresql", "tgt")
    create_orders(src, "mysql", 2000)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=500)
    migration = Migration.from_file(spec)
    migration.run()
    # Chunk 2 is to do again: its rows gone, its checkpoint pending.
    plan = migration.plan()
    (chunk,) = [c for c in _chunks(migration) if c.chunk_no == 2]
    execute(tgt, f"DELETE FROM orders WHERE id > {chunk.lo[0]} AND id <= {chunk.hi[0]}")
    execute(tgt, "UPDATE datamove.checkpoints SET status = 'pending' WHERE chunk_no = 2")

    task = ChunkTask.of("orders", plan.tables["orders"].mapping_hash, chunk, second_pass=False)
    payload = pickle.dumps((task, str(spec)))
    done = subprocess.run(
        [sys.executable, "-c", WORKER], input=payload, capture_output=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    rows, path = done.stdout.decode().split()
    assert int(rows) == 500 and path.startswith("copy")
    assert table_rows(tgt, "orders") == table_rows(src, "orders")
    assert fetch(
        tgt, "SELECT status, commits, run_id FROM datamove.checkpoints WHERE chunk_no = 2"
    ) == [("done", 2, "other-process")]


def _chunks(migration: Migration) -> list:
    from datamove.dialects.base import Dialect

    target = Dialect.for_url(migration.spec.target, role="target")
    try:
        with target.connect() as conn:
            return StateStore(target, migration.spec.name).chunks(conn, "orders")
    finally:
        target.dispose()
