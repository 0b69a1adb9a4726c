"""mysql-connector's client-side formatter against quoted ``%``: through SQLAlchemy and through
the raw cursors datamove streams from, on the real server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.dialects.mysqlformat import protected
from tests.conftest import execute

NAMES = ["%(x)s", "per%cent", "%%", "%(lo)s", "50%)s"]


def test_quoted_percent_is_escaped_and_nothing_else() -> None:
    sql = "SELECT `a%(x)s` FROM t WHERE `b` = %(lo)s AND c LIKE 'x%(y)s' AND d = \"%\""
    assert protected(sql) == (
        "SELECT `a%(_)%(x)s` FROM t WHERE `b` = %(lo)s AND c LIKE 'x%(_)%(y)s' AND d = \"%(_)%\""
    )
    assert protected("SELECT 1") == "SELECT 1"


@pytest.fixture
def dialect(mysql_db: str) -> Dialect:
    if "mysqlconnector" not in mysql_db:
        pytest.skip("the formatter under test is mysql-connector's")
    columns = ", ".join(f"`{n}` INT" for n in NAMES)
    execute(mysql_db, f"CREATE TABLE `t%(x)s` (id INT PRIMARY KEY, {columns})")
    values = ", ".join(str(i) for i in range(len(NAMES)))
    execute(mysql_db, f"INSERT INTO `t%(x)s` VALUES (7, {values})")
    return Dialect.for_url(mysql_db, role="source")


def test_statements_with_parameters_name_the_quoted_columns(dialect: Dialect) -> None:
    table = sa.table("t%(x)s", sa.column("id"), *[sa.column(n) for n in NAMES])
    stmt = sa.select(*[table.c[n] for n in NAMES]).where(
        table.c.id == 7,
        sa.literal_column("'%(lo)s'") == "%(lo)s",  # a string in the text
    )
    expected = tuple(range(len(NAMES)))
    with dialect.engine.connect() as conn:
        assert tuple(conn.execute(stmt).one()) == expected  # SQLAlchemy's cursor
        rows = [tuple(r) for batch in dialect.stream(conn, stmt, 10) for r in batch]
    assert rows == [expected]  # the raw streaming cursor, with the dialect's compile
    dialect.engine.dispose()


def test_many_rows_insert_and_update(dialect: Dialect) -> None:
    table = sa.table("t%(x)s", sa.column("id"), *[sa.column(n) for n in NAMES])
    with dialect.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "%(x)s": i} for i in (1, 2)])  # batched INSERT
        conn.execute(  # executemany of an UPDATE: one formatted statement per row
            table.update().where(table.c.id == sa.bindparam("k")).values({"per%cent": 5}),
            [{"k": 1}, {"k": 2}],
        )
        got = conn.execute(
            sa.select(table.c.id, table.c["%(x)s"], table.c["per%cent"])
            .where(table.c.id < 7)
            .order_by(table.c.id)
        ).all()
    assert [tuple(r) for r in got] == [(1, 1, 5), (2, 2, 5)]
    dialect.engine.dispose()
