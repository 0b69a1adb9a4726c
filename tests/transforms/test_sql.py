"""``sql`` transforms: written once (PostgreSQL syntax), transpiled to each source engine."""

from __future__ import annotations

import pytest

from datamove import Migration
from datamove.errors import SpecError
from datamove.transforms import build
from tests.conftest import ENGINES, execute, fetch
from tests.helpers import write_spec

MAPPING = """  people:
    columns:
      id:
      full_name:
        type: text
        transform: [{sql: "upper(trim(first_name)) || ' ' || coalesce(last_name, '?')"}]
      first_name:
      last_name:"""


@pytest.mark.parametrize("engine", ENGINES)
def test_sql_expression_runs_on_every_source_engine(make_db, sqlite_db, tmp_path, engine) -> None:
    source = make_db(engine, "src")
    execute(
        source,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(20), "
        "last_name VARCHAR(20))",
    )
    execute(source, "INSERT INTO people VALUES (1, ' ada ', 'Lovelace'), (2, 'alan', NULL)")
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("t"), MAPPING)
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors
    Migration.from_file(spec).run()
    target = plan.target_url
    assert fetch(target, "SELECT id, full_name FROM people ORDER BY id") == [
        (1, "ADA Lovelace"),
        (2, "ALAN ?"),
    ]


def test_sql_errors_name_the_spec_path(sqlite_db, tmp_path) -> None:
    with pytest.raises(SpecError, match="cannot parse"):
        build("sql", "upper((", "t")
    source = sqlite_db("src")
    execute(source, "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name TEXT)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        sqlite_db("t"),
        "  people:\n    columns:\n      id:\n      first_name:\n"
        "      x: {transform: [{sql: 'upper(frist_name)'}], type: text}",
    )
    errors = {f.spec_path: f.message for f in Migration.from_file(spec).plan().errors}
    assert "did you mean 'first_name'" in errors["tables.people.columns.x.transform[0]"]
