"""The drift table: keys whose secondary write failed under dual-write (``datamove.dualwrite``).

The application's helper records a failed write to the secondary store here instead of
failing the request, so the table lives on the *primary* side (the store that just took the
write, reachable when the other is not), named like datamove's other objects
(``datamove_drift``) so ``uninstall`` finds it on either side:

- in the source (the old store) while it is authoritative (stages ``dual_write``, ``shadow``):
  ``sync`` re-copies each key from the source and marks the row repaired; ``verify`` re-checks
  the keys still open;
- in the target (the new store) while it is authoritative (``live``, ``ramp_down``): the old
  store is the one behind; ``status`` counts these rows (no command copies new → old yet).

A row holds the spec's *source* table name and key (the names the application writes the old
store with), as JSON text (``core.keys.encode_key``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.keys import decode_key, encode_key

DRIFT = "datamove_drift"


@dataclass(frozen=True)
class Drifted:
    """One open drift row."""

    id: int
    table: str
    key: tuple[Any, ...]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DriftTable:
    """``datamove_drift`` in one database (either store)."""

    def __init__(self) -> None:
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            DRIFT,
            self.metadata,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
            sa.Column("table_name", sa.String(255), nullable=False),
            sa.Column("row_key", sa.Text, nullable=False),
            sa.Column("stage", sa.String(20), nullable=False),
            sa.Column("error", sa.Text),
            sa.Column("recorded_at", sa.DateTime, nullable=False),
            sa.Column("repaired_at", sa.DateTime),
        )

    def exists(self, conn: Connection) -> bool:
        return bool(sa.inspect(conn).has_table(DRIFT))

    def create(self, conn: Connection) -> None:
        self.metadata.create_all(conn, checkfirst=True)

    def record(
        self, conn: Connection, table: str, key: tuple[Any, ...], stage: str, error: str
    ) -> None:
        """One failed secondary write of ``table``'s ``key`` (creating the table if needed)."""
        self.create(conn)
        conn.execute(
            self.table.insert().values(
                table_name=table,
                row_key=encode_key(key),
                stage=stage,
                error=error[:2000],
                recorded_at=_now(),
            )
        )

    def open(
        self, conn: Connection, tables: Collection[str], limit: int | None = None
    ) -> list[Drifted]:
        """Rows of ``tables`` not repaired yet, oldest first (none when the table does not
        exist); rows of other tables stay open (``status`` counts them)."""
        if not self.exists(conn):
            return []
        c = self.table.c
        query = sa.select(c.id, c.table_name, c.row_key).where(
            c.repaired_at.is_(None), c.table_name.in_(list(tables))
        )
        rows = conn.execute(query.order_by(c.id).limit(limit)).all()
        return [Drifted(int(r[0]), r[1], tuple(decode_key(r[2]) or ())) for r in rows]

    def count_open(self, conn: Connection) -> int:
        if not self.exists(conn):
            return 0
        c = self.table.c
        query = sa.select(sa.func.count()).where(c.repaired_at.is_(None))
        return int(conn.execute(query).scalar_one())

    def mark_repaired(self, conn: Connection, ids: Sequence[int]) -> None:
        """Rows ``ids`` are repaired: their keys were re-copied, or found equal."""
        c = self.table.c
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            conn.execute(self.table.update().where(c.id.in_(part)).values(repaired_at=_now()))


def by_table(rows: Sequence[Drifted]) -> dict[str, list[tuple[Any, ...]]]:
    """The distinct keys of ``rows`` per source table."""
    out: dict[str, dict[tuple[Any, ...], None]] = {}
    for row in rows:
        out.setdefault(row.table, {})[row.key] = None
    return {table: list(keys) for table, keys in out.items()}
