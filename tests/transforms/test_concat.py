"""``concat`` end to end: several source columns into one target column on every source engine,
on the fast and the careful path, and the plan's checks naming their spec paths."""

from __future__ import annotations

import pytest

from datamove import Migration
from tests.conftest import ENGINES, execute, fetch
from tests.helpers import write_spec

PEOPLE = """  people:
    columns:
      id:
      full_name: {transform: {concat: {columns: [first_name, middle, last_name], separator: " "}}}
      initials:
        transform: [{concat: {columns: [first_name, middle], separator: "-", nulls: null}}, trim]
        default: "?"
      n: {cast: smallint}"""


@pytest.mark.parametrize("engine", ENGINES)
def test_concat_joins_source_columns_on_every_engine(make_db, sqlite_db, tmp_path, engine):
    source = make_db(engine, "src")
    execute(
        source,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(20) NOT NULL, "
        "middle VARCHAR(20), last_name VARCHAR(20) NOT NULL, n INTEGER, note TEXT)",
    )
    execute(
        source,
        "INSERT INTO people VALUES (1, 'Ada', NULL, 'Lovelace', 1, NULL), "
        "(2, ' Zoë', 'K ', 'Müller', 2, NULL), (3, 'Alan', '', 'Turing', 100000, NULL)",
    )
    target = sqlite_db("tgt")
    spec = write_spec(tmp_path / "m.yaml", source, target, PEOPLE, max_rejects=1)
    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert not plan.errors, plan.errors
    unmapped = [f.column for f in plan.findings if f.code == "unmapped-column"]
    assert unmapped == ["note"]  # the concat's parts count as mapped
    columns = {c.target: c for c in plan.tables["people"].columns}
    assert columns["full_name"].source is None and columns["full_name"].pushdown
    assert not columns["full_name"].nullable  # first and last name are NOT NULL
    doc = migration.write_document(plan, tmp_path / "mapping.md").read_text(encoding="utf-8")
    assert "The texts of first_name, middle and last_name joined by ' ' (NULL parts left out" in doc

    # Row 3 is a reject (100000 is no smallint): its chunk is redone on the careful path,
    # where concat is still the source's SQL.
    result = migration.run()
    assert result.rejects_total == 1
    assert fetch(target, "SELECT id, full_name, initials FROM people ORDER BY id") == [
        (1, "Ada Lovelace", "?"),
        (2, " Zoë K  Müller", "Zoë-K"),
    ]


def test_concat_mistakes_are_plan_errors_at_their_spec_path(sqlite_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, born DATE)",
    )

    def errors(column: str) -> dict[str, tuple[str, str]]:
        mapping = f"  people:\n    columns:\n      id:\n      x: {column}"
        spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), mapping)
        plan = Migration.from_file(spec).plan()
        return {f.spec_path: (f.code, f.message) for f in plan.errors}

    path = "tables.people.columns.x"
    found = errors("{transform: {concat: [frist_name, last_name]}}")
    assert found[f"{path}.transform[0]"][0] == "unknown-column"
    assert "did you mean 'first_name'" in found[f"{path}.transform[0]"][1]
    found = errors("{from: first_name, transform: {concat: [first_name, last_name]}}")
    assert found[f"{path}.from"][0] == "concat-from"
    found = errors("{transform: {concat: [first_name, born]}}")
    assert found[f"{path}.transform[0]"] == (
        "concat-type",
        "concat joins text and integer columns; 'born' is DATE: format it with an sql step instead",
    )
    found = errors("{from: first_name, transform: [trim, {concat: [first_name, last_name]}]}")
    assert found[f"{path}.transform[1]"][0] == "concat-not-first"
    found = errors("{transform: [{concat: [first_name, last_name]}, lower]}")
    assert found[f"{path}.transform"][0] == "sql-after-python"


def test_a_sql_computed_chain_is_not_applied_again_on_the_careful_path(pg_db, sqlite_db, tmp_path):
    """The careful path reads a SQL-only chain as the source computed it; applying its steps
    again in Python would map 'ada' a second time (to 'other')."""
    execute(
        pg_db,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, n INTEGER)",
        "INSERT INTO people VALUES (1, 'Ada', 'Lovelace', 1), (2, 'Alan', 'Turing', 100000)",
    )
    target = sqlite_db("tgt")
    mapping = """  people:
    columns:
      id:
      label:
        transform:
          - concat: [first_name, last_name]
          - map: {values: {AdaLovelace: ada}, else: other}
      n: {cast: smallint}"""
    spec = write_spec(tmp_path / "m.yaml", pg_db, target, mapping, max_rejects=1)
    assert Migration.from_file(spec).run().tables[0].paths == {"careful"}
    assert fetch(target, "SELECT id, label FROM people") == [(1, "ada")]
