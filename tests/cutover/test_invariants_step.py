"""The ``invariants`` gate under live writes: deferred to the runbook's ``invariants`` step,
which runs them under the fence after the drain (source and target can only agree there), and
a real break stops the runbook before the flip, resumably, with the source still fenced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.cutover.gates import DEFERRED
from datamove.dialects.base import Dialect
from datamove.errors import ChecksFailed
from datamove.state import StateStore
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.cutover.test_runbook import (
    INVARIANT,
    ROOT,
    cutover_spec,
    gate_checks,
    runbook_rows,
    source_items,
)

BREAK = "UPDATE items SET amount = amount + 1000 WHERE id = 1"


def invariant_checks(target: str) -> list[tuple[str, str]]:
    """(name, status) of each invariant check recorded, in order."""
    dialect = Dialect.for_url(target, role="target")
    try:
        c = StateStore(dialect, "test").schema.checks.c
        with dialect.connect() as conn:
            rows = conn.execute(
                sa.select(c.name, c.status).where(c.kind == "invariant").order_by(c.id)
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        dialect.dispose()


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_invariants_gate_under_a_live_writer_and_a_break_stops_before_the_flip(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    source_items(source)
    # The break is planted on the target under the fence, after the final verify (which only
    # looks at the keys that changed): the invariants step is what must find it.
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        "\n  gates: {max_lag: 60s, verified_within: 1h, invariants: pass}"
        f"\n  steps:\n    - {{name: plant, sql: '{BREAK}', on: target, after: verify}}",
        sync="{mode: triggers}",
        invariants=INVARIANT,
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    assert migration.verify().ok
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.writer", source, "--rate", "200"]
        + ["--stop-file", str(tmp_path / "stop")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        count = tmp_path / "stop.count"
        while not (count.exists() and int(count.read_text() or 0) >= 30):  # writes before
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            migration.sync(SyncOptions(until_lag=0))
        with pytest.raises(ChecksFailed) as failed:
            migration.cutover(by="ops-test")
        _, err = writer.communicate(timeout=60)  # the fence ended it
    finally:
        (tmp_path / "stop").touch()
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode != 0 and "datamove write fence" in err, err[-2000:]
    # The gate did not fail on the lag: it recorded that the step runs them.
    gates = {n: (s, a) for n, s, _, a in gate_checks(target)}
    assert gates["gate invariants"] == ("passed", f"deferred: {DEFERRED}")
    message = str(failed.value.message) + (failed.value.hint or "")
    assert "amounts match" in message and "still fenced" in message
    assert "fence off" in message and "again" in message
    steps = runbook_rows(target)
    assert steps["invariants"][0] == "failed" and steps["plant"][0] == "done"
    assert steps["flip"][0] == "pending"
    assert migration.fence_status().on and migration.flag_get("read_path").setting is None
    assert invariant_checks(target)[-1] == ("amounts match", "failed")  # (verify ran it before)

    execute(target, "UPDATE items SET amount = amount - 1000 WHERE id = 1")  # the fix
    report = migration.cutover(by="ops-test")  # resumes at the invariants step
    assert report.complete and report.flag_value == "platform"
    assert invariant_checks(target)[-1] == ("amounts match", "passed")
    assert fetch(target, "SELECT amount FROM items WHERE id = 1") == fetch(
        source, "SELECT amount FROM items WHERE id = 1"
    )  # the plant step was done once, not again


def test_invariants_run_now_where_nothing_writes(make_db: Any, tmp_path: Path) -> None:
    """Sync mode none: no writes to wait out, so the gate runs them and a break stops the
    cutover at the gates, nothing fenced."""
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    spec = cutover_spec(
        tmp_path, source, target, "\n  gates: {invariants: pass}", invariants=INVARIANT
    )
    migration = Migration.from_file(spec)
    migration.run()
    execute(target, BREAK)
    with pytest.raises(ChecksFailed, match="invariants"):
        migration.cutover()
    assert migration.fence_status().off
    assert [(n, s) for n, s, _, _ in gate_checks(target)] == [("gate invariants", "failed")]
