"""The dialect is a bound database; its engine SQL is in stateless helpers it owns; whether two
databases are of one engine is asked of the dialect, never answered outside ``dialects/``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import datamove
from datamove.dialects.base import Dialect
from datamove.dialects.canonsql import CanonicalSQL
from datamove.dialects.capturesql import CaptureSQL
from datamove.dialects.mysqlcanonical import MySQLCanonicalSQL
from datamove.dialects.pgcanonical import PgCanonicalSQL
from datamove.dialects.pushdownsql import PushdownSQL
from datamove.dialects.schemasql import SchemaSQL
from tests.conftest import MYSQL_URL, PG_URL, execute

SRC = Path(datamove.__file__).parent
MAX_LINES = 600
ENGINE_QUESTION = re.compile(
    r"type\([\w.\[\]]+\) is (not )?type\(|\.engine\.dialect\.name\b|\.(NAME|SQLGLOT)\s*[!=]="
)
"""An "is it the same engine" test written by hand: what ``Dialect.same_engine`` answers."""


@pytest.fixture
def dialects() -> Iterator[Callable[[str], Dialect]]:
    """Dialects for URLs (no connection is made), disposed after the test."""
    made: list[Dialect] = []

    def make(url: str) -> Dialect:
        made.append(Dialect.for_url(url, role="source"))
        return made[-1]

    yield make
    for dialect in made:
        dialect.dispose()


def test_same_engine_is_one_dialect_class(
    dialects: Callable[[str], Dialect], tmp_path: Path
) -> None:
    pg, pg2 = dialects(PG_URL), dialects(PG_URL.replace("+psycopg", ""))
    lite, lite2 = dialects(f"sqlite:///{tmp_path}/a.db"), dialects(f"sqlite:///{tmp_path}/b.db")
    mysql = dialects(MYSQL_URL)
    mariadb = dialects(MYSQL_URL.replace("mysql+mysqlconnector", "mariadb+mysqlconnector"))
    assert pg.same_engine(pg2) and lite.same_engine(lite2) and mysql.same_engine(mysql)
    assert not pg.same_engine(lite) and not lite.same_engine(pg)
    assert not mysql.same_engine(mariadb) and not mariadb.same_engine(mysql)


def test_each_dialect_owns_its_engines_helpers(
    dialects: Callable[[str], Dialect], tmp_path: Path
) -> None:
    pg, mysql = dialects(PG_URL), dialects(MYSQL_URL)
    lite = dialects(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(pg.canonical, PgCanonicalSQL)
    assert isinstance(mysql.canonical, MySQLCanonicalSQL)
    assert pg.canonical.NATIVE_HASH is not None and mysql.canonical.NATIVE_HASH is None
    assert not mysql.canonical.FENCED_LAYERS and lite.canonical.FENCED_LAYERS
    for dialect in (pg, mysql, lite):
        helpers = (dialect.schema, dialect.canonical, dialect.capture, dialect.pushdown)
        bases = (SchemaSQL, CanonicalSQL, CaptureSQL, PushdownSQL)
        for helper, base in zip(helpers, bases, strict=True):
            assert isinstance(helper, base) and helper.dialect is dialect


def test_captured_names_only_the_tables_with_triggers(
    dialects: Callable[[str], Dialect], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/capture.db"
    execute(
        url,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY)",
        "CREATE TABLE datamove_changelog (seq INTEGER PRIMARY KEY, table_name TEXT,"
        " row_key TEXT, op TEXT)",
    )
    capture = dialects(url).capture
    with capture.dialect.connect() as conn, conn.begin():
        for stmt in capture.create_ddl("orders", ["id"], "datamove_changelog"):
            conn.exec_driver_sql(stmt)
        assert capture.captured(conn, ["orders", "items"]) == {"orders"}
        for stmt in capture.drop_ddl("orders"):
            conn.exec_driver_sql(stmt)
        assert capture.captured(conn, ["orders", "items"]) == set()


def test_no_module_is_over_600_lines() -> None:
    lines = {p: len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {str(p.relative_to(SRC)): n for p, n in lines.items() if n > MAX_LINES} == {}


def test_no_engine_question_outside_dialects() -> None:
    found = [
        f"{p.relative_to(SRC)}:{number}: {line.strip()}"
        for p in SRC.rglob("*.py")
        if "dialects" not in p.relative_to(SRC).parts
        for number, line in enumerate(p.read_text().splitlines(), 1)
        if ENGINE_QUESTION.search(line)
    ]
    assert found == []
