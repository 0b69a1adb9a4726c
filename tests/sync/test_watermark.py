"""Watermark catch-up: re-read by ``updated_at`` with a clock-skew margin; deletes by key diff.

A second writer whose clock runs 2 minutes behind writes a row *behind* the watermark the
first pass reached: with a 5-minute margin the next pass still sees it; with 30 seconds it
does not, and verify shows exactly that row — which is why the margin exists.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.errors import UsageError
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

START = dt.datetime(2026, 1, 1, 12, 0, 0)


def _source(url: str) -> None:
    execute(
        url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, "
        "updated_at TIMESTAMP NOT NULL)",
    )
    execute(
        url,
        "INSERT INTO items (id, name, updated_at) VALUES (:i, :n, :u)",
        params=[
            {"i": i, "n": f"item {i}", "u": START + dt.timedelta(seconds=i)} for i in range(1, 2001)
        ],
    )


def _write(url: str, statements: list[tuple[str, dict[str, Any]]]) -> None:
    for sql, params in statements:
        execute(url, sql, params=[params])


def _spec(tmp: Path, source: str, target: str, margin: str) -> Migration:
    spec = write_spec(
        tmp / f"m{margin}.yaml",
        source,
        target,
        "  items: {}\n",
        batch_size=500,
        sync=f"{{mode: watermark, column: updated_at, skew_margin: {margin}}}",
    )
    return Migration.from_file(spec)


def _changed(migration: Migration) -> dict[int, set[str]]:
    result = migration.verify(VerifyOptions(checks=("count", "checksum")))
    diff = result.diffs[0]
    out = {int(r.key[0]): set(r.columns) for r in diff.changed}
    out |= {int(k[0]): {"(missing)"} for k in diff.missing}
    out |= {int(k[0]): {"(extra)"} for k in diff.extra}
    return out


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize(("margin", "converges"), [("5m", True), ("30s", False)])
def test_margin_covers_a_clock_behind(
    source_engine: str, margin: str, converges: bool, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    _source(source)
    migration = _spec(tmp_path, source, target, margin)
    migration.run()
    now = START + dt.timedelta(hours=1)  # the main writer's clock
    _write(
        source,
        [
            ("UPDATE items SET name = 'changed', updated_at = :u WHERE id = 10", {"u": now}),
            ("INSERT INTO items (id, name, updated_at) VALUES (5000, 'new', :u)", {"u": now}),
            ("DELETE FROM items WHERE id = 20", {}),
        ],
    )
    first = migration.sync()
    assert first.upserted >= 2 and first.deleted == 1
    assert _changed(migration) == {}
    # a writer whose clock is 2 minutes behind writes after the watermark reached `now`
    _write(
        source,
        [
            (
                "UPDATE items SET name = 'late', updated_at = :u WHERE id = 30",
                {"u": now - dt.timedelta(minutes=2)},
            ),
        ],
    )
    migration.sync()
    if converges:
        assert _changed(migration) == {}
        assert fetch(target, "SELECT name FROM items WHERE id = 30") == [("late",)]
    else:
        assert _changed(migration) == {30: {"name", "updated_at"}}


def test_watermark_needs_its_column(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    execute(source, "CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  other: {}\n",
        sync="{mode: watermark, column: updated_at}",
    )
    with pytest.raises(UsageError, match="updated_at"):
        Migration.from_file(spec).sync()
