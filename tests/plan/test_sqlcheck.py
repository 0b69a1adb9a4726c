"""``plan`` tries every piece of user SQL and every table it would create on the server that
will run it: a bad one is an error finding at its spec path, before anything is created."""

from __future__ import annotations

from typing import Any

import pytest

from datamove import Migration
from datamove.errors import PlanHasErrors
from datamove.spec import parse_spec
from tests.conftest import ENGINES, execute
from tests.helpers import create_orders, database_objects

SERVERS = ("postgresql", "mysql")


def _migration(source: str, target: str, tables: dict[str, Any], **extra: Any) -> Migration:
    return Migration(
        parse_spec({"name": "m", "source": source, "target": target, "tables": tables, **extra})
    )


def _errors(migration: Migration) -> dict[str, str]:
    return {f.spec_path: f.message for f in migration.plan().errors}


def _refused_by_run(migration: Migration, target: str) -> str:
    """``run`` stops at the plan and the target stays as it was (empty)."""
    with pytest.raises(PlanHasErrors) as err:
        migration.run()
    assert database_objects(target) == []
    return str(err.value)


@pytest.mark.parametrize("source_engine", ENGINES)
def test_bad_where_and_deletes_when_are_plan_errors_on_every_source(make_db, source_engine) -> None:
    """Issue 14: bad SQL in ``where:`` failed mid-run, after the target tables existed."""
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    create_orders(source, source_engine, 5)
    bad_where = _migration(source, target, {"orders": {"where": "id >>> 0"}})
    assert list(_errors(bad_where)) == ["tables.orders.where"]
    assert "tables.orders.where: the source refuses this SQL" in _refused_by_run(bad_where, target)
    bad_when = {"orders": {"deletes": {"mode": "skip", "when": "no_such_column = 1"}}}
    assert list(_errors(_migration(source, target, bad_when))) == ["tables.orders.deletes.when"]
    bad_step = {"transform": {"sql": "no_such_function(qty)"}}
    bad_sql_step = {"orders": {"columns": {"id": {}, "qty": bad_step}}}
    assert list(_errors(_migration(source, target, bad_sql_step))) == ["tables.orders.columns.qty"]


@pytest.mark.parametrize("target_engine", SERVERS)
def test_types_and_defaults_the_target_refuses_are_plan_errors(make_db, target_engine) -> None:
    """Issue 14: ``cast: decimal(100000,2)`` failed as raw DDL after the state store existed."""
    source, target = make_db("sqlite", "src"), make_db(target_engine, "tgt")
    create_orders(source, "sqlite", 5)
    columns = {"id": {}, "note": {"target_default": "nonsense((("}}
    if target_engine == "postgresql":
        columns["amount"] = {"cast": "decimal(100000,2)"}
    migration = _migration(source, target, {"orders": {"columns": columns}})
    errors = _errors(migration)
    assert "the target refuses to create this table" in errors["tables.orders.columns.note"]
    _refused_by_run(migration, target)


def test_a_table_the_target_accepts_leaves_nothing_behind(make_db) -> None:
    source, target = make_db("mysql", "src"), make_db("mysql", "tgt")
    create_orders(source, "mysql", 5)
    plan = _migration(source, target, {"orders": {}}).plan()
    assert not plan.errors and database_objects(target) == []


def test_checks_name_known_tables_and_columns(sqlite_db) -> None:
    """Issue 14: an unknown table in ``checks.aggregates`` let ``run`` pass."""
    source, target = sqlite_db("src"), sqlite_db("tgt")
    create_orders(source, "sqlite", 5)
    checks = {
        "aggregates": [
            {"table": "ordrs", "columns": ["amount"]},
            {"table": "orders", "columns": ["amont"], "group_by": ["currency"]},
        ],
        "samples": [{"table": "nope"}],
    }
    errors = _errors(_migration(source, target, {"orders": {}}, checks=checks))
    assert errors == {
        "checks.aggregates[0].table": "'ordrs' is not a table of the spec; did you mean 'orders'?",
        "checks.aggregates[1]": "'amont' is not a target column of 'orders'; did you mean "
        "'amount'?",
        "checks.samples[0].table": "'nope' is not a table of the spec",
    }


@pytest.mark.parametrize("engine", SERVERS)
def test_invariant_sql_is_explained_on_its_side(make_db, engine) -> None:
    source, target = make_db(engine, "src"), make_db(engine, "tgt")
    create_orders(source, engine, 5)
    invariants = [
        {"name": "bad source", "source": "SELEC 1", "target": "SELECT 1"},
        {"name": "later", "source": "SELECT 1", "target": "SELECT count(*) FROM orders"},
        {"name": "bad target", "source": "SELECT 1", "target": "SELECT FROM WHERE"},
    ]
    migration = _migration(source, target, {"orders": {}}, invariants=invariants)
    plan = migration.plan()
    by_path = {f.spec_path: f.severity.value for f in plan.findings}
    # before the run, a table the run creates is missing on the target: a note, not an error
    assert by_path["invariants[0].source"] == "error"
    assert by_path["invariants[1].target"] == "note"
    assert by_path["invariants[2].target"] == "error"
    execute(target, "CREATE TABLE orders (id INT PRIMARY KEY)")
    after = {f.spec_path: f.severity.value for f in migration.plan().findings}
    assert "invariants[1].target" not in after and after["invariants[2].target"] == "error"
