"""The sync checkpoint in the target: the last applied changelog sequence (or watermark),
advanced in the same transaction as the changes it covers, and whether each table's backfill
started with capture active."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.keys import decode_key, encode_key
from datamove.dialects.base import Dialect
from datamove.state import upgrade
from datamove.state.schema import StateSchema


@dataclass(frozen=True)
class SyncPosition:
    applied_seq: int
    watermark: str | None
    applied_total: int
    updated_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class SyncState:
    """The ``sync``, ``captures`` and ``watermarks`` state tables of one migration
    (``state.schema``)."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.dialect = dialect
        self.migration = migration
        self.schema = StateSchema(dialect)
        self.sync = self.schema.sync
        self.captures = self.schema.captures
        self.watermarks = self.schema.watermarks

    def ensure(self, conn: Connection) -> None:
        """Make the target's state store current (``state.upgrade``)."""
        upgrade.ensure(conn, self.dialect, self.schema)

    def exists(self, conn: Connection) -> bool:
        return bool(sa.inspect(conn).has_table(self.sync.name, schema=self.sync.schema))

    def position(self, conn: Connection) -> SyncPosition:
        s = self.sync.c
        row = conn.execute(
            sa.select(s.applied_seq, s.watermark, s.applied_total, s.updated_at).where(
                s.migration == self.migration
            )
        ).first()
        if row is None:
            return SyncPosition(0, None, 0, None)
        return SyncPosition(int(row[0]), row[1], int(row[2]), row[3])

    def advance(
        self, conn: Connection, applied_seq: int, applied: int, watermark: str | None = None
    ) -> None:
        """Record progress inside the transaction that applied it."""
        s = self.sync
        done = conn.execute(
            s.update()
            .where(s.c.migration == self.migration)
            .values(
                applied_seq=applied_seq,
                watermark=watermark,
                applied_total=s.c.applied_total + applied,
                updated_at=_now(),
            )
        ).rowcount
        if not done:
            conn.execute(
                s.insert().values(
                    migration=self.migration,
                    applied_seq=applied_seq,
                    watermark=watermark,
                    applied_total=applied,
                    updated_at=_now(),
                )
            )

    def reset(self, conn: Connection) -> None:
        """Forget the applied position (a new changelog starts at sequence 1)."""
        s = self.sync
        conn.execute(s.delete().where(s.c.migration == self.migration))

    def record_capture(self, conn: Connection, table: str, active: bool) -> None:
        """Whether capture was active when ``table``'s backfill started (kept once set)."""
        c = self.captures
        exists = conn.execute(
            sa.select(c.c.active_at_backfill).where(
                c.c.migration == self.migration, c.c.table_name == table
            )
        ).first()
        if exists is None:
            conn.execute(
                c.insert().values(
                    migration=self.migration,
                    table_name=table,
                    active_at_backfill=active,
                    checked_at=_now(),
                )
            )

    def forget_capture(self, conn: Connection, table: str) -> None:
        """A restarted table is backfilled anew: its capture state and watermark are
        recorded again."""
        for t in (self.captures, self.watermarks):
            conn.execute(t.delete().where(t.c.migration == self.migration, t.c.table_name == table))

    def watermark(self, conn: Connection, table: str) -> Any:
        """The highest watermark value applied for ``table`` (None: not set)."""
        w = self.watermarks.c
        text = conn.execute(
            sa.select(w.watermark).where(w.migration == self.migration, w.table_name == table)
        ).scalar_one_or_none()
        key = decode_key(text)
        return key[0] if key else None

    def set_watermark(
        self, conn: Connection, table: str, value: Any, only_if_unset: bool = False
    ) -> None:
        """Record ``table``'s watermark (inside the transaction that applied up to it)."""
        w = self.watermarks
        where = (w.c.migration == self.migration, w.c.table_name == table)
        exists = conn.execute(sa.select(w.c.table_name).where(*where)).first() is not None
        if exists and only_if_unset:
            return
        values = {"watermark": encode_key((value,)), "updated_at": _now()}
        if exists:
            conn.execute(w.update().where(*where).values(values))
        else:
            conn.execute(w.insert().values(migration=self.migration, table_name=table, **values))

    def take_unwarned(self, conn: Connection) -> set[str]:
        """The tables backfilled while capture was off whose warning ``sync`` has not given
        yet, marked given now (in the caller's transaction): once per recorded backfill,
        since a restarted table's record is made anew."""
        c = self.captures
        unwarned = (
            c.c.migration == self.migration,
            sa.not_(c.c.active_at_backfill),
            c.c.warned_at.is_(None),
        )
        tables = set(conn.execute(sa.select(c.c.table_name).where(*unwarned)).scalars())
        if tables:
            conn.execute(c.update().where(*unwarned).values(warned_at=_now()))
        return tables

    def captures_at_backfill(self, conn: Connection) -> dict[str, bool]:
        c = self.captures.c
        rows = conn.execute(
            sa.select(c.table_name, c.active_at_backfill).where(c.migration == self.migration)
        )
        return {r[0]: bool(r[1]) for r in rows}
