"""A backfilled items table in an old store (PostgreSQL or MariaDB) and a new one
(PostgreSQL), a dual-write spec for them, and a way to take the new store down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = 50
DDL = (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, "
    "amount DECIMAL(12, 2) NOT NULL)"
)
TABLES = """  items:
    columns:
      id: {}
      name: {}
      amount: {}
"""


@dataclass
class Stores:
    old_url: str
    new_url: str
    migration: Migration
    old: sa.Engine
    new: sa.Engine

    @property
    def kind(self) -> str:
        return sa.engine.make_url(self.old_url).get_backend_name()

    def row(self, store: str, key: int) -> tuple[object, ...] | None:
        found = fetch(
            self.old_url if store == "old" else self.new_url,
            f"SELECT id, name, amount FROM items WHERE id = {key}",
        )
        return found[0] if found else None


def save(key: int, name: str, amount: int) -> Callable[[sa.Connection], None]:
    """The application's write of one item: an update, else an insert."""

    def write(conn: sa.Connection) -> None:
        values = {"id": key, "n": name, "a": amount}
        done = conn.execute(
            sa.text("UPDATE items SET name = :n, amount = :a WHERE id = :id"), values
        )
        if not done.rowcount:
            conn.execute(
                sa.text("INSERT INTO items (id, name, amount) VALUES (:id, :n, :a)"), values
            )

    return write


@pytest.fixture(params=["postgresql", "mysql"])
def stores(
    request: pytest.FixtureRequest, make_db: Callable[[str, str], str], tmp_path: Path
) -> Iterator[Stores]:
    """The old store (each engine) backfilled into a new PostgreSQL one."""
    old_url, new_url = make_db(request.param, "old"), make_db("postgresql", "new")
    execute(old_url, DDL)
    execute(
        old_url,
        "INSERT INTO items (id, name, amount) VALUES (:i, :n, :a)",
        params=[{"i": i, "n": f"item {i}", "a": i} for i in range(1, ROWS + 1)],
    )
    spec = write_spec(
        tmp_path / "spec.yaml",
        old_url,
        new_url,
        TABLES,
        write_mode="upsert",
        cutover="{mode: dual_write}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    old, new = sa.create_engine(old_url), sa.create_engine(new_url)
    yield Stores(old_url, new_url, migration, old, new)
    old.dispose()
    new.dispose()


@contextmanager
def store_down(url: str) -> Iterator[None]:
    """A PostgreSQL database refuses connections and every open one is killed, until
    the block ends."""
    db = sa.engine.make_url(url).database
    admin = sa.create_engine(
        url.rsplit("/", 1)[0] + "/postgres",
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
            {"db": db},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        admin.dispose()
