"""Recorded Checks: every validation ``verify`` ran, with its evidence, beside the runs.

Reports and sign-off are computed from these rows, never from a claim: a check is a row with
its run, status, expected and actual values, details (the differing keys and columns, masked)
and duration.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import Check
from datamove.dialects.base import Dialect
from datamove.dialects.types import LONG_TEXT


class CheckLog:
    """The ``checks`` state table of one migration."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.migration = migration
        self.metadata = sa.MetaData()
        schema, name = dialect.state_table_name("checks")
        self.checks = sa.Table(
            name,
            self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("run_id", sa.String(36), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(30), nullable=False),
            sa.Column("table_name", sa.String(255)),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("expected", LONG_TEXT),
            sa.Column("actual", LONG_TEXT),
            sa.Column("details", LONG_TEXT),
            sa.Column("seconds", sa.Float),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Index(None, "migration", "run_id"),
            schema=schema,
        )

    def ensure(self, conn: Connection) -> None:
        self.metadata.create_all(conn, checkfirst=True)

    def record(self, conn: Connection, run_id: str, checks: Sequence[Check]) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if not checks:
            return
        conn.execute(
            self.checks.insert(),
            [
                {
                    "migration": self.migration,
                    "run_id": run_id,
                    "name": c.name,
                    "kind": c.kind,
                    "table_name": c.table,
                    "status": c.status,
                    "expected": c.expected,
                    "actual": c.actual,
                    "details": json.dumps(c.details, default=str, sort_keys=True),
                    "seconds": c.seconds,
                    "created_at": now,
                }
                for c in checks
            ],
        )

    def for_run(self, conn: Connection, run_id: str) -> list[dict[str, Any]]:
        """The checks one run recorded, in the order they ran."""
        c = self.checks
        rows = conn.execute(
            sa.select(
                c.c.name,
                c.c.kind,
                c.c.table_name,
                c.c.status,
                c.c.expected,
                c.c.actual,
                c.c.details,
                c.c.seconds,
            )
            .where(c.c.migration == self.migration, c.c.run_id == run_id)
            .order_by(c.c.id)
        )
        return [dict(r._mapping) | {"details": json.loads(r.details or "{}")} for r in rows]
