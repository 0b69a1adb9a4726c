"""``cutover: {mode: dual_write}``: no fence; each ``cutover`` drains the drift, verifies and
moves the flag one stage on, through every stage to ``complete``; a gate stops it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.dualwrite import DualWriter
from datamove.errors import ChecksFailed, UsageError
from tests.conftest import execute
from tests.cutover.test_runbook import runbook_rows
from tests.dualwrite.conftest import DDL, TABLES, save, store_down
from tests.helpers import write_spec


def _spec(tmp: Path, old: str, new: str) -> Migration:
    path = write_spec(
        tmp / "spec.yaml",
        old,
        new,
        TABLES,
        write_mode="upsert",
        cutover="{mode: dual_write, gates: {verified_within: 1h}}",
    )
    return Migration.from_file(path)


def test_each_cutover_advances_one_stage_without_a_fence(make_db: Any, tmp_path: Path) -> None:
    old, new = make_db("postgresql", "old"), make_db("postgresql", "new")
    execute(old, DDL, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    migration = _spec(tmp_path, old, new)
    migration.run()
    migration.verify()
    with pytest.raises(UsageError, match="a rehearsal .* is not run for cutover mode dual_write"):
        migration.cutover(rehearse=True)
    assert migration.flag_get("read_path").setting is None  # refused before any step
    seen = []
    for _ in range(5):
        report = migration.cutover()
        seen.append(migration.flag_get("read_path").setting.value)  # type: ignore[union-attr]
        assert report.complete
        assert not migration.fence_status().on
    assert seen == ["dual_write", "shadow", "live", "ramp_down", "complete"]
    steps = runbook_rows(new)
    assert "fence" not in steps and "reverse-capture" not in steps
    assert steps["flip"][1] is not None and "'ramp_down' -> 'complete'" in steps["flip"][1]
    with pytest.raises(UsageError, match="rollback is not run for cutover mode dual_write"):
        migration.rollback()
    assert migration.cutover().complete  # at complete: nothing left to run, nothing changes
    assert migration.flag_get("read_path").setting.value == "complete"  # type: ignore[union-attr]


def test_cutover_drains_drift_and_a_failed_gate_stops_it(make_db: Any, tmp_path: Path) -> None:
    import sqlalchemy as sa

    old, new = make_db("postgresql", "old"), make_db("postgresql", "new")
    execute(old, DDL, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    migration = _spec(tmp_path, old, new)
    migration.run()
    with pytest.raises(ChecksFailed, match="verified_within"):
        migration.cutover()  # no green verify yet: nothing changes
    assert migration.flag_get("read_path").setting is None

    migration.verify()
    migration.cutover()  # off -> dual_write
    engines = sa.create_engine(old), sa.create_engine(new)
    dual = DualWriter(old=engines[0], new=engines[1], stage=lambda key: "dual_write")
    with store_down(new):
        dual.write("items", 2, save(2, "while down", 20))
    for engine in engines:
        engine.dispose()

    migration.cutover()  # drain repairs the drift before the final verify; -> shadow
    assert runbook_rows(new)["drain"][1].startswith("1 drift row(s) repaired")  # type: ignore[union-attr]
    assert migration.status().dual_write.drift_old == 0  # type: ignore[union-attr]
    assert migration.flag_get("read_path").setting.value == "shadow"  # type: ignore[union-attr]
    assert migration.verify().ok
