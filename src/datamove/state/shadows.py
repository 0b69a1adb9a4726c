"""Recorded shadow reads (state table ``shadow_reads``, version 8): each sampled comparison
of one read on both stores under dual-write (``datamove.dualwrite``), with its sampling ratio.

``status`` counts them; the ``verified_within`` gate fails while a mismatch is recorded after
the last green verify (that verify no longer describes the data the application reads).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.state import upgrade
from datamove.state.schema import StateSchema

MISMATCH = "failed"


@dataclass(frozen=True)
class ShadowSummary:
    """The shadow reads of a migration since a time (all of them: since None)."""

    compared: int
    mismatched: int
    errors: int
    last_mismatch: dt.datetime | None
    examples: list[dict[str, Any]]
    """The latest mismatches: name, stage, key, when."""


class ShadowReads:
    """The ``shadow_reads`` table of one migration."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.dialect = dialect
        self.schema = StateSchema(dialect)
        self.t = self.schema.shadow_reads
        self.migration = migration
        self._ensured = False

    def readable(self, conn: Connection) -> bool:
        return bool(sa.inspect(conn).has_table(self.t.name, schema=self.t.schema))

    def record(
        self,
        conn: Connection,
        name: str,
        stage: str,
        ratio: float,
        status: str,
        key: str | None,
        details: dict[str, Any],
    ) -> None:
        """One comparison (``status``: passed, failed, error), the store made current."""
        if not self._ensured:  # once per process: a sampled read pays one insert after
            upgrade.ensure(conn, self.dialect, self.schema)
            self._ensured = True
        conn.execute(
            self.t.insert().values(
                migration=self.migration,
                name=name[:255],
                stage=stage,
                ratio=ratio,
                status=status,
                row_key=key,
                details=json.dumps(details, default=str, sort_keys=True),
                created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        )

    def summary(self, conn: Connection, since: dt.datetime | None = None) -> ShadowSummary:
        if not self.readable(conn):
            return ShadowSummary(0, 0, 0, None, [])
        c = self.t.c
        where: list[sa.ColumnElement[bool]] = [c.migration == self.migration]
        if since is not None:
            where.append(c.created_at > since)
        query = sa.select(c.status, sa.func.count()).where(*where).group_by(c.status)
        counts: dict[str, int] = {r[0]: int(r[1]) for r in conn.execute(query)}
        failed = [*where, c.status == MISMATCH]
        last = conn.execute(sa.select(sa.func.max(c.created_at)).where(*failed)).scalar()
        rows = conn.execute(
            sa.select(c.name, c.stage, c.row_key, c.created_at)
            .where(*failed)
            .order_by(c.id.desc())
            .limit(5)
        ).all()
        return ShadowSummary(
            sum(counts.values()),
            counts.get(MISMATCH, 0),
            counts.get("error", 0),
            last,
            [{"name": r[0], "stage": r[1], "key": r[2], "at": r[3]} for r in rows],
        )
