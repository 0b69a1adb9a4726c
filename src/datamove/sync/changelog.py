"""Trigger-based change capture on the source: the changelog table and its triggers.

Each table in scope gets AFTER INSERT/UPDATE/DELETE row triggers appending one changelog row
per changed key: (sequence, source table, key as a JSON array, operation, time). Only the key
is recorded — catch-up re-reads the current row — so a trigger costs one small insert and
cannot fail on a value. The changelog is purged only up to what the target has applied.

Privileges: creating triggers and the changelog table (PostgreSQL: CREATE on the schema and
ownership of the tables, or TRIGGER; MySQL: TRIGGER and CREATE, plus SUPER or
``log_bin_trust_function_creators`` when binary logging is on; SQLite: write access).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.plan.model import Plan

CHANGELOG = "datamove_changelog"
REVERSE_CHANGELOG = "datamove_reverse_changelog"
"""Reverse capture's changelog, on the target (``cutover.reverse``)."""


@dataclass(frozen=True)
class Change:
    seq: int
    table: str
    """The source table."""
    key: tuple[Any, ...]
    op: str


@dataclass(frozen=True)
class Pending:
    """What the changelog holds beyond a sequence number, by the source's own clock."""

    count: int
    oldest: dt.datetime | None
    per_table: dict[str, int]
    now: dt.datetime

    @property
    def age(self) -> float:
        """Seconds since the oldest pending change (0 when none)."""
        return max(0.0, (self.now - self.oldest).total_seconds()) if self.oldest else 0.0


class Changelog:
    """The changelog table in one source database (or ``REVERSE_CHANGELOG`` on a target)."""

    def __init__(self, dialect: Dialect, name: str = CHANGELOG) -> None:
        self.dialect = dialect
        self.name = name
        self.metadata = sa.MetaData()
        seq_type, table_options = dialect.capture.changelog_sequence()
        self.table = sa.Table(
            name,
            self.metadata,
            sa.Column("seq", seq_type, primary_key=True, autoincrement=True),
            sa.Column("table_name", sa.String(255), nullable=False),
            sa.Column("row_key", sa.Text, nullable=False),
            sa.Column("op", sa.String(1), nullable=False),
            sa.Column(
                "changed_at",
                dialect.capture.change_time_type(),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            ),
            **table_options,
        )

    def exists(self, conn: Connection) -> bool:
        return bool(sa.inspect(conn).has_table(self.name))

    def install(self, conn: Connection, plan: Plan, tables: Sequence[str]) -> bool:
        """Create the changelog (if missing) and the triggers of ``tables``. Idempotent:
        triggers are replaced. Returns whether the changelog was created (numbered anew)."""
        created = not self.exists(conn)
        self.metadata.create_all(conn, checkfirst=True)
        for name in tables:
            table = plan.tables[name]
            for stmt in self.dialect.capture.create_ddl(table.source_name, table.key, self.name):
                conn.exec_driver_sql(stmt)
        return created

    def uninstall(self, conn: Connection, plan: Plan) -> None:
        """Drop every capture trigger of the plan's tables and the changelog table."""
        for table in plan.tables.values():
            for stmt in self.dialect.capture.drop_ddl(table.source_name):
                conn.exec_driver_sql(stmt)
        self.table.drop(conn, checkfirst=True)

    def captured(self, conn: Connection, plan: Plan) -> dict[str, bool]:
        """Per plan table: whether its capture triggers are installed."""
        tables = plan.tables.values()
        captured = self.dialect.capture.captured(conn, [t.source_name for t in tables])
        return {t.name: t.source_name in captured for t in tables}

    def pending(self, conn: Connection, after: int) -> Pending:
        c = self.table.c
        rows = conn.execute(
            sa.select(c.table_name, sa.func.count(), sa.func.min(c.changed_at))
            .where(c.seq > after)
            .group_by(c.table_name)
        ).all()
        oldest = [_as_datetime(r[2]) for r in rows if r[2] is not None]
        now = _as_datetime(conn.execute(sa.select(sa.func.current_timestamp())).scalar_one())
        return Pending(
            sum(int(r[1]) for r in rows),
            min(oldest) if oldest else None,
            {r[0]: int(r[1]) for r in rows},
            now,
        )

    def read(self, conn: Connection, after: int, limit: int) -> list[Change]:
        """The next ``limit`` changes after sequence ``after``, in sequence order."""
        c = self.table.c
        rows = conn.execute(
            sa.select(c.seq, c.table_name, c.row_key, c.op)
            .where(c.seq > after)
            .order_by(c.seq)
            .limit(limit)
        ).all()
        return [Change(int(r[0]), r[1], tuple(json.loads(r[2])), r[3]) for r in rows]

    def purge(self, conn: Connection, upto: int, batch: int = 10_000) -> int:
        """Delete applied changes (``seq <= upto``) in bounded batches; returns rows deleted."""
        c = self.table.c
        total = 0
        while True:
            low = conn.execute(sa.select(sa.func.min(c.seq))).scalar_one_or_none()
            conn.rollback()  # the delete starts its own transaction with a write (SQLite locks)
            if low is None or int(low) > upto:
                return total
            bound = min(upto, int(low) + batch - 1)
            with conn.begin():
                deleted = conn.execute(self.table.delete().where(c.seq <= bound)).rowcount
            total += max(0, deleted or 0)


def _as_datetime(value: Any) -> dt.datetime:
    """The changelog's time as a naive UTC datetime (SQLite returns text)."""
    if isinstance(value, dt.datetime):
        return (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(dt.UTC).replace(tzinfo=None)
        )
    return dt.datetime.fromisoformat(str(value))
