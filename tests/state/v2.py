"""A version-2 state store, frozen: version 1 (``tests/state/v1.py``) plus what version 2
added, exactly as that release created it (``runs.datamove_version`` and the
``schema_version`` table with its row), filled with the version-1 evidence.

Never edit these definitions to follow the code: they are what existing targets hold.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.dialects.types import LONG_TEXT
from tests.state.v1 import FINISHED, create_v1, fill_v1


def _version_table(dialect: Dialect) -> sa.Table:
    schema, name = dialect.state_table_name("schema_version")
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("store", sa.String(30), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("upgraded_at", sa.DateTime, nullable=False),
        schema=schema,
    )


def create_v2(conn: Connection, dialect: Dialect) -> dict[str, sa.Table]:
    """Create the version-2 store, fill it with the version-1 evidence and a run that
    recorded its datamove version; every evidence table by its short name (not
    ``schema_version``: an upgrade rewrites its row)."""
    tables = create_v1(conn, dialect)
    fill_v1(conn, tables)
    runs = tables["runs"]
    name = conn.dialect.identifier_preparer.format_table(runs)
    conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN datamove_version VARCHAR(40)")
    runs = sa.Table(
        runs.name,
        sa.MetaData(),
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("migration", sa.String(100), nullable=False),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("rows", sa.BigInteger),
        sa.Column("rejects", sa.Integer),
        sa.Column("error", LONG_TEXT),
        sa.Column("datamove_version", sa.String(40)),
        schema=runs.schema,
    )
    conn.execute(
        runs.insert().values(
            run_id="sync-2",
            migration="m",
            command="sync",
            status="ok",
            started_at=FINISHED + dt.timedelta(seconds=1),
            finished_at=FINISHED + dt.timedelta(seconds=3),
            rows=5,
            rejects=0,
            error=None,
            datamove_version="0.1.0",
        )
    )
    version = _version_table(dialect)
    version.create(conn)
    conn.execute(version.insert().values(store="state", version=2, upgraded_at=FINISHED))
    return {**tables, "runs": runs}
