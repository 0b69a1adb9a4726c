"""Shared fixtures: a fresh database per test on each real server, and SQLite files.

Servers come from DATAMOVE_TEST_PG_URL / DATAMOVE_TEST_MYSQL_URL (local defaults). An unreachable
server skips its tests with the reason, unless DATAMOVE_REQUIRE_SERVERS=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import datamove  # noqa: F401, I001  (first: loads the MySQL C extension before ssl)

PG_URL = os.environ.get(
    "DATAMOVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_URL = os.environ.get(
    "DATAMOVE_TEST_MYSQL_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/test"
)
REQUIRE = os.environ.get("DATAMOVE_REQUIRE_SERVERS") == "1"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ENGINES = ("sqlite", "postgresql", "mysql")


def _unavailable(kind: str, exc: Exception) -> None:
    message = f"{kind} server not reachable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    if REQUIRE:
        pytest.fail(message + " (DATAMOVE_REQUIRE_SERVERS=1)")
    pytest.skip(message)


class _Servers:
    """Creates fresh databases on the real servers and drops them at teardown."""

    def __init__(self) -> None:
        self.created: list[tuple[sa.Engine, str, str]] = []

    def new(self, kind: str) -> str:
        admin_url = sa.engine.make_url(PG_URL if kind == "postgresql" else MYSQL_URL)
        name = f"dm_test_{secrets.token_hex(4)}"
        try:
            admin = sa.create_engine(
                admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
            )
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    f"CREATE DATABASE {name}"
                    + (" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if kind == "mysql" else "")
                )
        except Exception as exc:  # noqa: BLE001
            _unavailable(kind, exc)
        self.created.append((admin, kind, name))
        return admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for admin, kind, name in self.created:
            with admin.connect() as conn:
                force = " WITH (FORCE)" if kind == "postgresql" else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
            admin.dispose()


@pytest.fixture
def servers() -> Iterator[_Servers]:
    s = _Servers()
    yield s
    s.drop_all()


@pytest.fixture
def pg_db(servers: _Servers) -> str:
    """URL of a new, empty PostgreSQL database (dropped afterwards)."""
    return servers.new("postgresql")


@pytest.fixture
def mysql_db(servers: _Servers) -> str:
    """URL of a new, empty MariaDB/MySQL database (dropped afterwards)."""
    return servers.new("mysql")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Callable[[str], str]:
    """A factory of SQLite URLs in the test's temporary folder."""
    return lambda name="db": f"sqlite:///{tmp_path / (name + '.sqlite')}"


@pytest.fixture
def make_db(servers: _Servers, sqlite_db: Callable[[str], str]) -> Callable[[str, str], str]:
    """``make_db(engine, name)``: a fresh, empty database URL of the given engine."""

    def make(engine: str, name: str) -> str:
        return sqlite_db(name) if engine == "sqlite" else servers.new(engine)

    return make


def execute(url: str, *statements: str, params: list[dict[str, object]] | None = None) -> None:
    """Run statements on ``url`` in one transaction (test set-up helper)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in statements:
                if params is not None:
                    conn.execute(sa.text(stmt), params)
                else:
                    conn.exec_driver_sql(stmt)
    finally:
        engine.dispose()


def fetch(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query)]
    finally:
        engine.dispose()
