"""The swap re-points a child foreign key at the new live table (a plain rename leaves it on
the old one, test_rename_measure.py): afterwards the key refers to ``orders``, keeps its ON
DELETE action, is valid (PostgreSQL), and refuses a child row without a parent in the NEW
table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from datamove.dialects.swapsql import child_keys, swap_sql
from tests.conftest import execute, fetch


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_the_swap_repoints_a_child_foreign_key(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "repoint")
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
        "CREATE TABLE orders__new (id INTEGER PRIMARY KEY)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, CONSTRAINT items_fk "
        "FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE)",
        "INSERT INTO orders VALUES (1), (2)",
        "INSERT INTO orders__new VALUES (1)",  # 2 only in the old table
        "INSERT INTO items VALUES (10, 1)",
    )
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            keys = child_keys(conn, "orders")
            swap_sql(conn).rename(
                conn, [("orders", "orders__old"), ("orders__new", "orders")], keys=keys
            )
        fks = sa.inspect(eng).get_foreign_keys("items")
    finally:
        eng.dispose()
    assert [(k.child, k.name) for k in keys] == [("items", "items_fk")]
    assert [(fk["name"], fk["referred_table"]) for fk in fks] == [("items_fk", "orders")]
    assert (fks[0]["options"].get("ondelete") or "").upper() == "CASCADE"
    if engine == "postgresql":
        assert fetch(url, "SELECT convalidated FROM pg_constraint WHERE conname = 'items_fk'") == [
            (True,)
        ]
    with pytest.raises(sa.exc.IntegrityError):  # 2 is only in orders__old now
        execute(url, "INSERT INTO items VALUES (11, 2)")
    execute(url, "DELETE FROM orders WHERE id = 1")  # the cascade follows the new table
    assert fetch(url, "SELECT count(*) FROM items") == [(0,)]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_swapping_back_repoints_the_key_and_trigger_at_the_old_table(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "back")
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
        "CREATE TABLE orders__new (id INTEGER PRIMARY KEY)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, CONSTRAINT items_fk "
        "FOREIGN KEY (order_id) REFERENCES orders (id))",
        "INSERT INTO orders VALUES (1), (2)",
        "INSERT INTO orders__new VALUES (1)",
    )
    swap = [("orders", "orders__old"), ("orders__new", "orders")]
    back = [("orders", "orders__new"), ("orders__old", "orders")]
    eng = sa.create_engine(url)
    try:
        for renames in (swap, back):
            with eng.connect() as conn:
                keys = child_keys(conn, "orders")
                swap_sql(conn).rename(conn, renames, keys=keys)
        fks = sa.inspect(eng).get_foreign_keys("items")
        names = set(sa.inspect(eng).get_table_names())
    finally:
        eng.dispose()
    assert names == {"orders", "orders__new", "items"}
    assert [(fk["name"], fk["referred_table"]) for fk in fks] == [("items_fk", "orders")]
    execute(url, "INSERT INTO items VALUES (11, 2)")  # 2 exists in the old (live again) table
    with pytest.raises(sa.exc.IntegrityError):
        execute(url, "INSERT INTO items VALUES (12, 3)")
