"""Plan findings: each lint fires on the case it names, and order follows foreign keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamove import Migration
from datamove.errors import PlanHasErrors
from tests.conftest import execute, fetch
from tests.helpers import write_spec


def codes(plan, severity: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in plan.findings:
        if severity is None or f.severity.value == severity:
            out.setdefault(f.code, []).append(f.spec_path)
    return out


@pytest.fixture
def legacy(sqlite_db) -> str:
    url = sqlite_db("legacy")
    execute(
        url,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100), note TEXT, "
        "balance REAL, created DATETIME, big BIGINT)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
        "customer_id INTEGER REFERENCES customers(id))",
        "CREATE TABLE lines (order_id INTEGER NOT NULL REFERENCES orders(id), "
        "n INTEGER NOT NULL, PRIMARY KEY (order_id, n))",
        "CREATE TABLE nokey (a INTEGER, b TEXT)",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id))",
        "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id))",
        "CREATE TABLE tree (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES tree(id))",
    )
    return url


def test_order_follows_foreign_keys_and_explains_cycles(legacy, sqlite_db, tmp_path) -> None:
    spec = write_spec(
        tmp_path / "m.yaml",
        legacy,
        sqlite_db("t"),
        "  lines:\n  orders:\n  customers:\n  a:\n  b:\n  tree:",
    )
    plan = Migration.from_file(spec).plan()
    order = plan.order
    assert order.index("customers") < order.index("orders") < order.index("lines")
    found = codes(plan)
    assert found["fk-cycle"] and found["self-reference"] == ["tables.tree"]
    cycle_child = next(f.table for f in plan.findings if f.code == "fk-cycle")
    assert plan.tables[cycle_child].deferred_parents
    assert not plan.errors


def test_no_key_unknown_names_and_unmapped_columns(legacy, sqlite_db, tmp_path) -> None:
    spec = write_spec(
        tmp_path / "m.yaml",
        legacy,
        sqlite_db("t"),
        "  nokey:\n"
        "  custmers:\n"
        "  customers:\n"
        "    columns:\n"
        "      id: {}\n"
        "      name: {from: nmae}\n"
        "      balanse: {}\n",
    )
    plan = Migration.from_file(spec).plan()
    errors = {f.spec_path: f.message for f in plan.errors}
    assert "no primary key" in errors["tables.nokey.key"]
    assert "did you mean 'customers'" in errors["tables.custmers"]
    assert "did you mean 'name'" in errors["tables.customers.columns.name.from"]
    assert "did you mean 'balance'" in errors["tables.customers.columns.balanse"]
    warnings = codes(plan, "warning")
    assert warnings["unmapped-column"]  # note, created, big are neither mapped nor dropped
    with pytest.raises(PlanHasErrors, match="nothing was copied"):
        Migration.from_file(spec).run()


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_a_nullable_key_is_an_error_unless_declared_not_null(
    make_db, sqlite_db, tmp_path, engine
) -> None:
    source = make_db(engine, "src")
    execute(source, "CREATE TABLE items (region VARCHAR(4) NOT NULL, code VARCHAR(10), n INT)")
    key = "    key: {columns: [region, code]}"
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("t"), f"  items:\n{key}")
    plan = Migration.from_file(spec).plan()
    (error,) = plan.errors
    assert (error.code, error.spec_path, error.column) == (
        "nullable-key",
        "tables.items.key.columns",
        "code",
    )
    assert "key column 'code'" in error.message and "cannot be chunked or compared" in error.message
    assert "key: {columns: [region, code], not_null: true}" in error.message
    with pytest.raises(PlanHasErrors, match="nothing was copied"):
        Migration.from_file(spec).run()

    declared = key.replace("]}", "], not_null: true}")
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("t"), f"  items:\n{declared}")
    plan = Migration.from_file(spec).plan()
    assert not plan.errors
    assert plan.tables["items"].nullable_key == ["code"]


def test_sqlite_primary_keys_that_can_hold_null(sqlite_db, tmp_path) -> None:
    """SQLite lets a PRIMARY KEY column hold NULL, except the rowid (INTEGER PRIMARY KEY)."""
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE rowid_key (id INTEGER PRIMARY KEY, v TEXT)",
        "CREATE TABLE text_key (code TEXT PRIMARY KEY, v TEXT)",
        "CREATE TABLE int_key (id INT PRIMARY KEY, v TEXT)",  # INT: not the rowid
        "CREATE TABLE pair_key (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))",
        "CREATE TABLE strict_key (code TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID",
    )
    names = ("rowid_key", "text_key", "int_key", "pair_key", "strict_key")
    tables = "".join(f"  {t}:\n" for t in names)
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("t"), tables)
    plan = Migration.from_file(spec).plan()
    assert sorted((f.table, f.column) for f in plan.errors if f.code == "nullable-key") == [
        ("int_key", "id"),
        ("text_key", "code"),
    ]


def test_lossy_types_into_an_existing_target(legacy, pg_db, tmp_path: Path) -> None:
    execute(
        pg_db,
        "CREATE TABLE customers (id int PRIMARY KEY, name varchar(10), note text, "
        "balance numeric(12,2), created timestamptz, big int, required text NOT NULL)",
    )
    spec = write_spec(tmp_path / "m.yaml", legacy, pg_db, "  customers:")
    plan = Migration.from_file(spec).plan()
    found = codes(plan)
    assert "tables.customers.columns.name" in found["string-shrink"]
    assert "tables.customers.columns.balance" in found["float-to-decimal"]
    assert "tables.customers.columns.big" in found["integer-range-shrink"]
    assert "tables.customers.columns.created" in found["naive-to-zoned"]
    assert found["not-null-unfilled"] == ["tables.customers.columns.required"]


def test_unmappable_type_asks_for_a_declared_type(pg_db, sqlite_db, tmp_path) -> None:
    execute(pg_db, "CREATE TABLE net (id int PRIMARY KEY, addr inet, span interval)")
    spec = write_spec(tmp_path / "m.yaml", pg_db, sqlite_db("t"), "  net:")
    plan = Migration.from_file(spec).plan()
    errors = {f.spec_path: f.message for f in plan.errors}
    assert "declare the target type" in errors["tables.net.columns.addr.type"]
    fixed = write_spec(
        tmp_path / "m2.yaml",
        pg_db,
        sqlite_db("t"),
        "  net:\n    columns:\n      id:\n      addr: {type: text}\n      span: {type: text}",
    )
    assert not Migration.from_file(fixed).plan().errors


def test_pii_enum_coverage_and_precision_findings(mysql_db, pg_db, tmp_path) -> None:
    execute(
        mysql_db,
        "CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(20), "
        "mood ENUM('happy','sad','meh'), seen DATETIME(6), city VARCHAR(20))",
    )
    execute(
        pg_db,
        "CREATE TABLE people (id int PRIMARY KEY, email text, phone text, mood text, "
        "seen timestamp(0), city text)",
    )
    spec = write_spec(
        tmp_path / "m.yaml",
        mysql_db,
        pg_db,
        "  people:\n"
        "    columns:\n"
        "      id:\n"
        "      email: {pii: true}\n"
        "      phone:\n"
        "      mood: {transform: [{map: {happy: 1, sad: -1}}]}\n"
        "      seen:\n"
        "      city:\n",
    )
    found = codes(Migration.from_file(spec).plan())
    assert found["pii-undeclared"] == ["tables.people.columns.phone"]  # email is declared
    assert found["enum-not-mapped"] == ["tables.people.columns.mood"]
    assert found["timestamp-precision-loss"] == ["tables.people.columns.seen"]


def test_charset_narrowing_into_a_latin1_column(sqlite_db, mysql_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(source, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, title TEXT)")
    execute(
        mysql_db,
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT CHARACTER SET latin1, "
        "title TEXT CHARACTER SET utf8mb4)",
    )
    spec = write_spec(tmp_path / "m.yaml", source, mysql_db, "  notes:")
    found = codes(Migration.from_file(spec).plan())
    assert found["charset-narrowing"] == ["tables.notes.columns.body"]
    # At run time a character latin1 cannot hold is a reject, never a '?'.
    execute(source, "INSERT INTO notes VALUES (1, 'Müller', 'a'), (2, '東京', 'b')")
    spec = write_spec(tmp_path / "m.yaml", source, mysql_db, "  notes:", max_rejects=1)
    Migration.from_file(spec).run()
    (reject,) = Migration.from_file(spec).status(rejects=True).rejects
    assert reject.key == (2,)
    assert fetch(mysql_db, "SELECT id, body FROM notes") == [(1, "Müller")]
