"""Recorded Checks: every validation ``verify`` ran, with its evidence, beside the runs.

Reports and sign-off are computed from these rows, never from a claim: a check is a row with
its run, status, expected and actual values, details (the differing keys and columns, masked)
and duration.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import Check
from datamove.state.records import RecordedCheck


class CheckLog:
    """The ``checks`` state table of one migration (``state.schema``)."""

    def __init__(self, table: sa.Table, migration: str) -> None:
        self.t = table
        self.migration = migration

    def record(self, conn: Connection, run_id: str, checks: Sequence[Check]) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if not checks:
            return
        conn.execute(
            self.t.insert(),
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

    def for_run(self, conn: Connection, run_id: str) -> list[RecordedCheck]:
        """The checks one run recorded, in the order they ran."""
        c = self.t.c
        rows = conn.execute(
            sa.select(self.t)
            .where(c.migration == self.migration, c.run_id == run_id)
            .order_by(c.id)
        )
        return [
            RecordedCheck(
                r.run_id,
                r.created_at,
                Check(
                    r.name,
                    r.kind,
                    r.table_name,
                    r.status,
                    r.expected or "",
                    r.actual or "",
                    json.loads(r.details or "{}"),
                    r.seconds or 0.0,
                ),
            )
            for r in rows
        ]
