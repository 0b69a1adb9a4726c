"""Hostile names and strings through init → plan → run → verify, on every ordered engine pair.

The names are Debezium's quoting torture (``special"[`]$'``) and the characters that broke the
spec ``init`` wrote (``,`` ``:`` ``{}`` ``#`` ``${``); the values are the Big List of Naughty
Strings. The oracle is independent of datamove's verify: the target's values are read back
and compared with the list itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from tests.conftest import DATASETS, ENGINES
from tests.faults.conftest import bounded

pytestmark = pytest.mark.faults

BLNS = DATASETS / "type-edge-cases" / "unicode-blns" / "blns.json"
TABLE = "special\"[]$'"
"""Debezium's table name (``special_characters_test.sql``) but its backtick (see ``ITEM_4``)."""
IDENTIFIERS = [
    "special\"[$]'_id",
    "a,cast",
    "b: c",
    "{x}",
    "#h",
    "${HOME}",
    "q'\"",
    "- y",
    "null",
    "yes",
    "select",
    "Mixed Case",
    "a.b",
    "tab\there",
    "日本語",
    "sp ace",
    "[br]",
    "&anchor",
    "*alias",
    "!tag",
    "|pipe",
    "?q",
    "-- comment",
    "/* c */",
    "semi;colon",
    "back\\slash",
]
"""Column names legal on PostgreSQL, MariaDB and SQLite alike (MariaDB: at most 64 characters
of the BMP, no trailing space, distinct ignoring case and accents)."""
ITEM_4 = ("special\"[`]$'", ["special\"[`$]'_id", "per%cent", "%(x)s", "back`tick"])
"""Debezium's exact names and ``%`` (issue 14 item 4): MySQL reflected a backtick doubled, a
PostgreSQL COPY without parameters kept SQLAlchemy's doubled ``%``, and mysql-connector took a
quoted ``%(x)s`` for a parameter."""
PAIRS = [(s, t) for s in ENGINES for t in ENGINES]
runner = CliRunner()


def naughty_strings() -> list[str]:
    if not BLNS.exists():
        pytest.skip(f"dataset absent: {BLNS}")
    return list(json.loads(BLNS.read_text(encoding="utf-8")))


def _load(url: str, name: str, columns: list[str], values: list[str]) -> sa.Table:
    """The hostile table, one row per string, the string in every column."""
    md = sa.MetaData()
    table = sa.Table(
        name,
        md,
        sa.Column("dm_id", sa.Integer, primary_key=True, autoincrement=False),
        *[sa.Column(c, sa.Text) for c in columns],
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            md.create_all(conn)
            rows = [{"dm_id": i, **dict.fromkeys(columns, v)} for i, v in enumerate(values)]
            conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
    return table


def _read(url: str, table: sa.Table) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.dm_id))]
    finally:
        engine.dispose()


def _round_trip(
    make_db, tmp_path: Path, engines: tuple[str, str], name: str, columns: list[str]
) -> None:
    values = bounded(naughty_strings(), 40)
    source, target = make_db(engines[0], "src"), make_db(engines[1], "tgt")
    table = _load(source, name, columns, values)

    spec = tmp_path / "spec.yaml"
    init = runner.invoke(app, ["init", "--source", source, "--target", target, "-o", str(spec)])
    assert init.exit_code == 0, init.output
    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert not plan.errors, plan.errors
    mapped = [(c.target, c.source) for c in plan.tables[name].columns]
    assert mapped == [(c, c) for c in ["dm_id", *columns]]

    result = migration.run()
    assert result.rows == len(values) and result.rejects_total == 0
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]
    expected = [(i, *([v] * len(columns))) for i, v in enumerate(values)]
    assert _read(target, table) == expected


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_hostile_names_and_strings_arrive_exactly(
    make_db, tmp_path: Path, source_engine: str, target_engine: str
) -> None:
    columns = bounded(IDENTIFIERS, 4, keep=IDENTIFIERS[:2])
    _round_trip(make_db, tmp_path, (source_engine, target_engine), TABLE, columns)


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_debezium_names_and_percent_signs(
    make_db, tmp_path: Path, source_engine: str, target_engine: str
) -> None:
    name, columns = ITEM_4
    _round_trip(make_db, tmp_path, (source_engine, target_engine), name, columns)
