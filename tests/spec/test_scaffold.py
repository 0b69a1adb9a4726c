"""``init`` writes names as data: every identifier comes back from the file as exactly itself."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.spec.loader import parse_spec, read_yaml
from datamove.spec.scaffold import ColumnDraft, TableDraft, render_spec
from tests.conftest import DATASETS

BLNS = DATASETS / "type-edge-cases" / "unicode-blns" / "blns.json"
runner = CliRunner()


def _round_trip(tables: list[TableDraft]) -> dict[str, dict[str, str | None]]:
    """The spec ``init`` would write for ``tables``, loaded back: table → column → from."""
    text = render_spec("m", "sqlite:///a.db", "sqlite:///b.db", tables)
    spec = parse_spec(read_yaml(text, "spec"), env={})
    return {
        name: {col: c.from_ for col, c in (t.columns or {}).items()}
        for name, t in spec.tables.items()
    }


names = st.text(min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(table=names, columns=st.lists(names, min_size=1, max_size=6, unique=True))
def test_any_name_comes_back_exactly(table: str, columns: list[str]) -> None:
    drafts = [TableDraft(table, [ColumnDraft(c, "TEXT\nNOT NULL") for c in columns], [], False)]
    assert _round_trip(drafts) == {table: {c: c for c in columns}}


def test_the_reported_names_map_their_own_column() -> None:
    """Issue 14: ``a,cast`` became ``{from: a, cast: null}``; ``${HOME}`` was interpolated."""
    hostile = ["a,cast", "a", "b: c", "{x}", "#h", "${HOME}", "q'\"", "- y", "null", "yes", "1"]
    drafts = [TableDraft("t:x", [ColumnDraft(c, "TEXT") for c in hostile], ["a"], True, "a\nb")]
    assert _round_trip(drafts) == {"t:x": {c: c for c in hostile}}


def _sqlite_table(path: Path, table: str, columns: list[str]) -> str:
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    db = sqlite3.connect(path)
    body = ", ".join(f"{quote(c)} TEXT" for c in columns)
    db.execute(f"CREATE TABLE {quote(table)} (dm_id INTEGER PRIMARY KEY, {body})")
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def blns_identifiers() -> list[str]:
    """The Big List of Naughty Strings as column names (SQLite folds ASCII case: one of each)."""
    if not BLNS.exists():
        pytest.skip(f"dataset absent: {BLNS}")
    seen: set[str] = set()
    out = []
    for s in json.loads(BLNS.read_text(encoding="utf-8")):
        if s and s.lower() not in seen:
            seen.add(s.lower())
            out.append(s)
    return out


def test_every_naughty_string_as_a_column_goes_through_init_and_plan(tmp_path) -> None:
    columns = blns_identifiers()
    table = "special\"[`]$'"  # Debezium's hostile table name
    source = _sqlite_table(tmp_path / "src.sqlite", table, columns)
    out = tmp_path / "spec.yaml"
    init = runner.invoke(
        app, ["init", "--source", source, "--target", f"sqlite:///{tmp_path}/t.db", "-o", str(out)]
    )
    assert init.exit_code == 0, init.output
    plan = Migration.from_file(out).plan()
    assert not plan.errors, plan.errors
    mapped = [(c.target, c.source) for c in plan.tables[table].columns]
    assert mapped == [(c, c) for c in ["dm_id", *columns]]
    assert len(columns) > 500
