"""The flag store: the ``flags`` and ``flag_history`` state tables of one migration.

A flag has a row for every targeting key (an empty ``targeting_key``) and may have one per
targeting key (a tenant, a phase); the targeting key's row overrides the flag's own. Every set
writes the value and a history row (who, when, the value before) in one transaction, so the
history is the evidence of each flip. The tables live in the state store (``state.schema``):
the target database by default, a ``datamove`` schema on PostgreSQL, ``datamove_*`` tables
elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.flags.values import FlagValue, actor, check_name, decode, encode
from datamove.state import upgrade
from datamove.state.schema import StateSchema

EVERY_KEY = ""
"""The ``targeting_key`` of a flag's own row: the value for every targeting key without one."""

Snapshot = Mapping[tuple[str, str], FlagValue]
"""Every flag value of a migration: (name, targeting key or ``EVERY_KEY``) → value."""

Matched = Literal["targeting_key", "flag"]
"""Which row gave a value: the targeting key's own, or the flag's row for every key."""


def lookup(
    values: Snapshot, name: str, targeting_key: str | None
) -> tuple[FlagValue, Matched] | None:
    """The value of ``name`` for ``targeting_key``: its own row first, then the flag's."""
    if targeting_key:
        found = values.get((name, targeting_key))
        if found is not None:
            return found, "targeting_key"
    value = values.get((name, EVERY_KEY))
    return None if value is None else (value, "flag")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _key(targeting_key: str | None) -> str:
    return EVERY_KEY if targeting_key is None else check_name(targeting_key, "targeting key")


def _checked(
    name: str, value: FlagValue, targeting_key: str | None, by: str | None
) -> tuple[str, str, str]:
    """(targeting key, JSON text, who) of a set; bad input is a ``UsageError``."""
    check_name(name, "flag name")
    return _key(targeting_key), encode(value), actor(by)


def _tenant(key: str) -> str | None:
    return None if key == EVERY_KEY else key


@dataclass(frozen=True)
class FlagSetting:
    """A flag's current value for one targeting key (None: every key), who set it and when."""

    name: str
    targeting_key: str | None
    value: FlagValue
    updated_at: dt.datetime
    """UTC, naive (as every state store time)."""
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "targeting_key": self.targeting_key,
            "value": self.value,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class FlagChange:
    """One recorded set of a flag: the value before (None: not set) and after, who, when."""

    name: str
    targeting_key: str | None
    previous: FlagValue | None
    value: FlagValue
    changed_at: dt.datetime
    changed_by: str
    note: str | None = None
    """Why, where the setter says (the runbook's flip step names its run)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "targeting_key": self.targeting_key,
            "previous": self.previous,
            "value": self.value,
            "changed_at": self.changed_at,
            "changed_by": self.changed_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class FlagReading:
    """What ``name`` is for ``targeting_key``: the setting that applies, or None (not set)."""

    name: str
    targeting_key: str | None
    setting: FlagSetting | None

    @property
    def matched(self) -> Matched | None:
        if self.setting is None:
            return None
        return "flag" if self.setting.targeting_key is None else "targeting_key"

    def to_dict(self) -> dict[str, Any]:
        s = self.setting
        return {
            "name": self.name,
            "targeting_key": self.targeting_key,
            "set": s is not None,
            "value": s.value if s else None,
            "matched": self.matched,
            "updated_at": s.updated_at if s else None,
            "updated_by": s.updated_by if s else None,
        }


@dataclass(frozen=True)
class FlagListing:
    """A migration's flags now, and its last sets (newest first): ``datamove flag list``."""

    settings: list[FlagSetting]
    changes: list[FlagChange]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flags": [s.to_dict() for s in self.settings],
            "history": [c.to_dict() for c in self.changes],
        }


class FlagStore:
    """The flags of one migration in one state store."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.dialect = dialect
        self.migration = migration
        self.schema = StateSchema(dialect)
        self.flags = self.schema.flags
        self.history = self.schema.flag_history

    @classmethod
    @contextmanager
    def open(cls, url: str, migration: str, *, role: str = "flag store") -> Iterator[FlagStore]:
        """A store on its own connection pool for the block (disposed after)."""
        dialect = Dialect.for_url(url, role=role, pool_size=1)
        try:
            yield cls(dialect, migration)
        finally:
            dialect.dispose()

    def _mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.migration == self.migration

    def _present(self, conn: Connection) -> bool:
        """Whether the flags can be read: a store of this version or older with the flags
        table (a newer store is refused: ``UsageError``)."""
        upgrade.refuse_newer(upgrade.stored_version(conn, self.schema))
        return bool(sa.inspect(conn).has_table(self.flags.name, schema=self.flags.schema))

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self, conn: Connection) -> dict[tuple[str, str], FlagValue]:
        """Every value of the migration's flags, in one statement (the poller's read); no
        flags table yet (no flag ever set) reads as no flags."""
        f = self.flags
        query = sa.select(f.c.name, f.c.targeting_key, f.c.value).where(self._mine(f))
        try:
            rows = conn.execute(query).all()
        except sa.exc.DBAPIError as exc:
            if self.dialect.is_missing_table(exc):
                return {}
            raise
        return {(r.name, r.targeting_key): decode(r.value) for r in rows}

    def settings(self, conn: Connection) -> list[FlagSetting]:
        """Every current value, by flag name then targeting key (the flag's own row first)."""
        if not self._present(conn):
            return []
        f = self.flags
        rows = conn.execute(
            sa.select(f.c.name, f.c.targeting_key, f.c.value, f.c.updated_at, f.c.updated_by)
            .where(self._mine(f))
            .order_by(f.c.name, f.c.targeting_key)
        )
        return [
            FlagSetting(
                r.name, _tenant(r.targeting_key), decode(r.value), r.updated_at, r.updated_by
            )
            for r in rows
        ]

    def read(self, conn: Connection, name: str, targeting_key: str | None = None) -> FlagReading:
        """The setting of ``name`` that applies to ``targeting_key`` (its own row, else the
        flag's row for every key), read now."""
        key = _key(targeting_key)
        if not self._present(conn):
            return FlagReading(name, _tenant(key), None)
        f = self.flags
        rows = conn.execute(
            sa.select(f.c.targeting_key, f.c.value, f.c.updated_at, f.c.updated_by).where(
                self._mine(f), f.c.name == name, f.c.targeting_key.in_({key, EVERY_KEY})
            )
        )
        found = {
            r.targeting_key: FlagSetting(
                name, _tenant(r.targeting_key), decode(r.value), r.updated_at, r.updated_by
            )
            for r in rows
        }
        return FlagReading(name, _tenant(key), found.get(key) or found.get(EVERY_KEY))

    def changes(self, conn: Connection, limit: int = 100) -> list[FlagChange]:
        """The last ``limit`` sets of the migration's flags, newest first."""
        if not self._present(conn):
            return []
        h = self.history
        rows = conn.execute(sa.select(h).where(self._mine(h)).order_by(h.c.id.desc()).limit(limit))
        return [
            FlagChange(
                r.name,
                _tenant(r.targeting_key),
                None if r.previous is None else decode(r.previous),
                decode(r.value),
                r.changed_at,
                r.changed_by,
                r.note,
            )
            for r in rows
        ]

    def listing(self, conn: Connection, limit: int = 100) -> FlagListing:
        """Every current value and the last ``limit`` sets."""
        return FlagListing(self.settings(conn), self.changes(conn, limit))

    # -- writing ---------------------------------------------------------------------------

    def record(
        self,
        conn: Connection,
        name: str,
        value: FlagValue,
        *,
        targeting_key: str | None = None,
        by: str | None = None,
        note: str | None = None,
    ) -> FlagChange:
        """Set ``name`` (for ``targeting_key``; None: every key) to ``value`` and record who
        and when, inside the caller's transaction on a current store (``set`` makes it so);
        ``by`` None is the OS user."""
        key, text, who = _checked(name, value, targeting_key, by)
        note = None if note is None else note[:255]  # the column's width
        f, h = self.flags, self.history
        where = sa.and_(self._mine(f), f.c.name == name, f.c.targeting_key == key)
        previous = conn.execute(sa.select(f.c.value).where(where).with_for_update()).scalar()
        now = _now()
        row = {
            "migration": self.migration,
            "name": name,
            "targeting_key": key,
            "value": text,
            "updated_at": now,
            "updated_by": who,
        }
        pk = ["migration", "name", "targeting_key"]
        others = ["value", "updated_at", "updated_by"]
        conn.execute(self.dialect.upsert_statement(f, pk, others, "upsert", None), [row])
        conn.execute(
            h.insert().values(
                migration=self.migration,
                name=name,
                targeting_key=key,
                previous=previous,
                value=text,
                changed_at=now,
                changed_by=who,
                note=note,
            )
        )
        before = None if previous is None else decode(previous)
        return FlagChange(name, _tenant(key), before, decode(text), now, who, note)

    def set(
        self,
        name: str,
        value: FlagValue,
        *,
        targeting_key: str | None = None,
        by: str | None = None,
        note: str | None = None,
    ) -> FlagChange:
        """``record`` in its own transaction, after making the state store current."""
        _checked(name, value, targeting_key, by)  # bad input touches no database
        with self.dialect.connect() as conn, conn.begin():
            upgrade.ensure(conn, self.dialect, self.schema)
        with self.dialect.connect() as conn, conn.begin():
            return self.record(conn, name, value, targeting_key=targeting_key, by=by, note=note)
