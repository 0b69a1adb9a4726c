"""The swap's rename when another session holds a lock on the live table: bounded retries,
then a clear error naming the table, and nothing renamed (both tables keep their names)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from datamove.dialects.swapsql import swap_sql
from datamove.errors import TerminalError
from tests.conftest import execute

ENGINES = ["sqlite", "postgresql", "mysql"]
HOLD = {
    "postgresql": ["BEGIN", "SELECT count(*) FROM orders"],
    "mysql": ["BEGIN", "SELECT count(*) FROM orders"],
    "sqlite": ["BEGIN IMMEDIATE"],
}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_held_lock_fails_the_swap_naming_the_table_with_nothing_renamed(
    engine: str, make_db: Callable[[str, str], str]
) -> None:
    url = make_db(engine, "lock")
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
        "CREATE TABLE orders__new (id INTEGER PRIMARY KEY)",
    )
    args = {"timeout": 1} if engine == "sqlite" else {}
    holder = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    swapper = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
    try:
        with holder.connect() as held, swapper.connect() as conn:
            for stmt in HOLD[engine]:
                held.exec_driver_sql(stmt)
            with pytest.raises(TerminalError) as caught:
                swap_sql(conn).rename(
                    conn, [("orders", "orders__old"), ("orders__new", "orders")], wait=1, retries=2
                )
            held.exec_driver_sql("ROLLBACK")
        names = set(sa.inspect(swapper).get_table_names())
    finally:
        holder.dispose()
        swapper.dispose()
    assert "orders" in str(caught.value) and "nothing was renamed" in str(caught.value)
    assert caught.value.table == "orders"
    assert names == {"orders", "orders__new"}
