"""Doubles copied exactly between engines verify equal, at any magnitude, and one changed in
its 15th digit is found (issue 14: an exact copy of MariaDB's 3.3202857142857145e-15 into
PostgreSQL was reported changed)."""

from __future__ import annotations

import pytest

from datamove import Migration
from tests.conftest import execute
from tests.helpers import write_spec

VALUES = [3.3202857142857145e-15, 5e-324, 1e-300, 1e300, -1.7976931348623157e308, 0.1, -0.0]
DOUBLE = {"postgresql": "double precision", "mysql": "DOUBLE", "sqlite": "REAL"}


@pytest.mark.parametrize(
    ("source", "target"), [("mysql", "postgresql"), ("postgresql", "mysql"), ("mysql", "sqlite")]
)
def test_doubles_verify_equal_and_a_changed_digit_is_found(make_db, tmp_path, source, target):
    src, tgt = make_db(source, "src"), make_db(target, "tgt")
    execute(src, f"CREATE TABLE d (id INTEGER PRIMARY KEY, x {DOUBLE[source]})")
    execute(
        src,
        "INSERT INTO d VALUES (:i, :x)",
        params=[{"i": i, "x": v} for i, v in enumerate(VALUES)],
    )
    migration = Migration.from_file(write_spec(tmp_path / "m.yaml", src, tgt, "  d:"))
    migration.run()
    result = migration.verify()
    assert result.ok, [c.to_dict() for c in result.checks if not c.ok]
    execute(tgt, "UPDATE d SET x = 3.32028571428572e-15 WHERE id = 0")
    (diff,) = migration.verify().diffs
    assert [c.key for c in diff.changed] == [("0",)]
