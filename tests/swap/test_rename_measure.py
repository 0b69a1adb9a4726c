"""What a plain table rename does, measured on each real engine before the swap relies on it:
after ``orders`` -> ``orders__old`` and ``orders__new`` -> ``orders`` (the swap's renames, done
by ``SwapSQL.rename``), which table do the child foreign key, the trigger and (PostgreSQL,
SQLite) the view point at?

Measured: on PostgreSQL and MariaDB the child FK and the trigger follow the OLD table (they
are bound to the table, not its name); a PostgreSQL view too. On SQLite (3.26+, no legacy
alter) the rename rewrites the child FK, the trigger and the view to the OLD name as well.
So on every engine the swap must re-point them at the new table.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from datamove.dialects.swapsql import dependents, swap_sql
from tests.conftest import execute, fetch

ENGINES = ["sqlite", "postgresql", "mysql"]


def setup(url: str, engine: str) -> None:
    """orders (live) and orders__new (its twin), a child FK, a trigger and a view on orders."""
    trig = {
        "postgresql": [
            "CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END $$",
            "CREATE TRIGGER audit_t AFTER INSERT ON orders FOR EACH ROW "
            "EXECUTE FUNCTION audit_fn()",
        ],
        "mysql": [
            "CREATE TRIGGER audit_t AFTER INSERT ON orders FOR EACH ROW "
            "INSERT INTO audit VALUES (NEW.id)"
        ],
        "sqlite": [
            "CREATE TRIGGER audit_t AFTER INSERT ON orders BEGIN "
            "INSERT INTO audit VALUES (NEW.id); END"
        ],
    }[engine]
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER)",
        "CREATE TABLE orders__new (id INTEGER PRIMARY KEY, qty INTEGER)",
        "CREATE TABLE audit (id INTEGER)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, "
        "FOREIGN KEY (order_id) REFERENCES orders (id))",
        "CREATE VIEW big_orders AS SELECT id FROM orders WHERE qty > 10",
        *trig,
    )


def trigger_table(url: str, engine: str) -> str:
    query = {
        "postgresql": "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'audit_t'",
        "mysql": "SELECT event_object_table FROM information_schema.triggers "
        "WHERE trigger_schema = DATABASE() AND trigger_name = 'audit_t'",
        "sqlite": "SELECT tbl_name FROM sqlite_master WHERE name = 'audit_t'",
    }[engine]
    return str(fetch(url, query)[0][0])


def view_text(url: str, engine: str) -> str:
    query = {
        "postgresql": "SELECT pg_get_viewdef('big_orders'::regclass)",
        "mysql": "SELECT view_definition FROM information_schema.views "
        "WHERE table_schema = DATABASE() AND table_name = 'big_orders'",
        "sqlite": "SELECT sql FROM sqlite_master WHERE name = 'big_orders'",
    }[engine]
    return str(fetch(url, query)[0][0])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rename_leaves_fk_trigger_and_view_on_the_old_table(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "measure")
    setup(url, engine)
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            swap_sql(conn).rename(conn, [("orders", "orders__old"), ("orders__new", "orders")])
        names = set(sa.inspect(eng).get_table_names())
        fks = sa.inspect(eng).get_foreign_keys("items")
    finally:
        eng.dispose()
    assert {"orders", "orders__old"} <= names and "orders__new" not in names
    assert [fk["referred_table"] for fk in fks] == ["orders__old"]
    assert trigger_table(url, engine) == "orders__old"
    if engine != "mysql":  # MariaDB's view keeps the name: it resolves to the new table
        assert "orders__old" in view_text(url, engine)
    else:
        assert "orders__old" not in view_text(url, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_swap_rebinds_the_trigger_and_view_to_the_new_table(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "rebind")
    setup(url, engine)
    execute(url, "INSERT INTO orders__new VALUES (7, 70)")
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            deps = dependents(conn, "orders")
            swap_sql(conn).rename(
                conn, [("orders", "orders__old"), ("orders__new", "orders")], deps=deps
            )
    finally:
        eng.dispose()
    kinds = {(d.kind, d.name) for d in deps}
    assert ("TRIGGER", "audit_t") in kinds
    assert ("VIEW", "big_orders") in kinds or engine == "mysql"
    assert trigger_table(url, engine) == "orders"
    execute(url, "INSERT INTO orders VALUES (8, 1)")  # the trigger fires on the new table
    assert fetch(url, "SELECT id FROM audit") == [(8,)]
    assert fetch(url, "SELECT id FROM big_orders") == [(7,)]  # the view reads the new table
