"""Write modes for a target that already receives the application's writes (dual write).

The target holds rows the application wrote: one newer than the source's, one older, and one
the source does not have. Each mode must treat them as documented, in one chunk transaction,
on every target engine — and ``upsert_if_newer`` must never overwrite a newer write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec

TABLE = (
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, "
    "updated_at TIMESTAMP NOT NULL)"
)


def _setup(make_db: Any, engine: str) -> tuple[str, str]:
    source, target = make_db("postgresql", "src"), make_db(engine, "tgt")
    execute(source, TABLE, TABLE.replace("accounts", "other"))
    execute(
        source,
        "INSERT INTO accounts VALUES (:i, :b, :u)",
        params=[{"i": i, "b": 100 + i, "u": "2026-01-01 10:00:00"} for i in range(1, 1001)],
    )
    execute(target, TABLE)
    execute(
        target,
        "INSERT INTO accounts VALUES (:i, :b, :u)",
        params=[
            {"i": 1, "b": 7, "u": "2026-01-02 10:00:00"},  # the application wrote it later
            {"i": 2, "b": 8, "u": "2025-12-31 10:00:00"},  # an older write
            {"i": 5000, "b": 9, "u": "2026-01-02 10:00:00"},  # only in the target
        ],
    )
    return source, target


EXPECTED = {  # mode: balances of ids 1, 2, 3 and 5000 afterwards
    "upsert": [101, 102, 103, 9],
    "insert_missing": [7, 8, 103, 9],
    "{upsert_if_newer: {column: updated_at}}": [7, 102, 103, 9],
}


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize(
    "mode", ["upsert", "insert_missing", "{upsert_if_newer: {column: updated_at}}"]
)
def test_write_modes_keep_what_they_promise(
    engine: str, mode: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = _setup(make_db, engine)
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  accounts: {}\n",
        batch_size=300,
        write_mode=mode,
        cutover="{mode: dual_write}",
    )
    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert not plan.errors and not [f for f in plan.findings if f.code == "dual-write-replace"]
    result = migration.run()
    assert result.tables[0].paths == {"rows"}
    got = fetch(target, "SELECT balance FROM accounts WHERE id IN (1, 2, 3, 5000) ORDER BY id")
    assert [r[0] for r in got] == EXPECTED[mode]
    assert fetch(target, "SELECT count(*) FROM accounts") == [(1001,)]
    again = migration.run(restart=("accounts",))  # the same rule on a second pass
    assert again.rows == 1000
    got = fetch(target, "SELECT balance FROM accounts WHERE id IN (1, 2, 3, 5000) ORDER BY id")
    assert [r[0] for r in got] == EXPECTED[mode]


def test_dual_write_with_replace_range_is_a_warning(make_db: Any, tmp_path: Path) -> None:
    source, target = _setup(make_db, "sqlite")
    spec = write_spec(
        tmp_path / "m.yaml", source, target, "  accounts: {}\n", cutover="{mode: dual_write}"
    )
    codes = {f.code for f in Migration.from_file(spec).plan().findings}
    assert "dual-write-replace" in codes
    bad = write_spec(
        tmp_path / "b.yaml",
        source,
        target,
        "  accounts: {}\n",
        write_mode="{upsert_if_newer: {column: updatedat}}",
    )
    errors = Migration.from_file(bad).plan().errors
    assert [(e.code, e.spec_path) for e in errors] == [("write-mode-column", "write_mode")]
    assert "did you mean 'updated_at'" in errors[0].message
