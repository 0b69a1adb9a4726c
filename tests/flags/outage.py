"""Flag stores that cannot be read: a PostgreSQL database whose connections are killed and
refused for a while, and URLs to a port nothing listens on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tests.conftest import PG_URL


@contextmanager
def blocked(url: str) -> Iterator[None]:
    """For the block, the PostgreSQL database of ``url`` refuses new connections and its open
    ones are killed (``pg_terminate_backend``); afterwards it takes connections again."""
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.dispose()


def closed_port() -> int:
    """A local port nothing listens on (one the kernel just handed out and took back)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def unreachable_urls() -> dict[str, str]:
    """A store URL per engine that cannot be opened; the PostgreSQL one holds a password."""
    port = closed_port()
    return {
        "postgresql": f"postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:{port}/nowhere",
        "mysql": f"mysql+mysqlconnector://root@127.0.0.1:{port}/nowhere",
        "sqlite": "sqlite:////nonexistent-folder/flags.sqlite",
    }
