"""``datamove uninstall``: everything datamove added to the source and the target, listed, kept
as evidence if asked, then removed.

Found through each database's catalog, never through the plan (a table may have left the spec
or the source since):

- triggers and trigger functions whose name starts with a prefix of
  ``dialects.capturesql.OWNED_PREFIXES``, on both sides: capture today; a write fence or
  reverse capture registers its prefix there and is found the same way;
- the changelog table (``datamove_changelog``) and dual-write's drift table
  (``datamove_drift``, ``state.drift``), on both sides;
- the state store in the target: every table ``state.schema`` defines (flags and fences that
  keep state keep it there too), and on PostgreSQL the ``datamove`` schema once it is empty.
  Several migrations into one target share the store: while another migration has rows in
  it, only this migration's rows are deleted and the tables stay.

The migrated tables are the user's data and are never touched. Removal order: triggers first
(a write never fails on a missing changelog), their functions, the changelogs, the state
store, its schema.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.state.drift import DRIFT
from datamove.state.schema import StateSchema
from datamove.sync.changelog import CHANGELOG, REVERSE_CHANGELOG

Kind = Literal["trigger", "function", "table", "rows", "schema"]
_ORDER: dict[str, int] = {"trigger": 0, "function": 1, "table": 2, "rows": 2, "schema": 3}


_CHANGELOGS = (CHANGELOG, REVERSE_CHANGELOG, DRIFT)
"""Capture's changelog (source), reverse capture's (target), dual-write's drift (either)."""


@dataclass(frozen=True)
class Installed:
    """One thing datamove put into a database."""

    side: Literal["source", "target"]
    kind: Kind
    name: str
    on: str | None = None
    """A trigger's table."""

    def describe(self) -> str:
        where = f" on {self.on}" if self.on else ""
        if self.kind == "rows":
            return f"{self.side}: this migration's rows in state table {self.name}"
        return f"{self.side}: {self.kind} {self.name}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {"side": self.side, "kind": self.kind, "name": self.name, "on": self.on}


class Footprint:
    """What datamove installed for one migration in its source and target databases."""

    def __init__(self, source: Dialect, target: Dialect, migration: str) -> None:
        self.sides = {"source": source}
        if target.safe_url != source.safe_url:  # one database is listed once, as the source
            self.sides["target"] = target
        self.target = target
        self.migration = migration
        self.store = StateSchema(target)
        self.others: list[str] = []
        """Other migrations with rows in the state store (which then stays)."""

    # -- finding ---------------------------------------------------------------------------

    def find(self) -> list[Installed]:
        """Everything to remove, in removal order."""
        found: list[Installed] = []
        for side, dialect in self.sides.items():
            with dialect.connect() as conn:
                found += self._database(side, dialect, conn)  # type: ignore[arg-type]
        with self.target.connect() as conn:
            found += self._state(conn)
        return sorted(found, key=lambda i: _ORDER[i.kind])

    def _database(
        self, side: Literal["source", "target"], dialect: Dialect, conn: Connection
    ) -> list[Installed]:
        capture = dialect.capture
        out = [Installed(side, "trigger", n, t) for n, t in sorted(capture.triggers(conn).items())]
        out += [Installed(side, "function", n) for n in capture.functions(conn)]
        inspector = sa.inspect(conn)
        out += [Installed(side, "table", n) for n in _CHANGELOGS if inspector.has_table(n)]
        return out

    def _present(self, conn: Connection) -> list[sa.Table]:
        inspector = sa.inspect(conn)
        return [
            t
            for t in self.store.metadata.sorted_tables
            if inspector.has_table(t.name, schema=t.schema)
        ]

    def _state(self, conn: Connection) -> list[Installed]:
        present = self._present(conn)
        others: set[str] = set()
        for t in present:
            if "migration" in t.c:
                query = sa.select(t.c.migration).where(t.c.migration != self.migration)
                others.update(conn.execute(query.distinct()).scalars())
        self.others = sorted(others)
        kind: Kind = "rows" if others else "table"
        out = [
            Installed("target", kind, t.fullname)
            for t in present
            if not others or "migration" in t.c
        ]
        schema = self.target.STATE_SCHEMA
        if schema and not others and schema in sa.inspect(conn).get_schema_names():
            out.append(Installed("target", "schema", schema))
        return out

    # -- evidence --------------------------------------------------------------------------

    def evidence(self) -> dict[str, Any]:
        """This migration's rows of every state table (runs, checkpoints, checks, rejects,
        steps, ...), by the table's name without the ``datamove_`` prefix."""
        out: dict[str, Any] = {"migration": self.migration}
        with self.target.connect() as conn:
            for t in self._present(conn):
                if "migration" not in t.c:
                    continue
                rows = conn.execute(sa.select(t).where(t.c.migration == self.migration))
                out[t.name.removeprefix("datamove_")] = [dict(r._mapping) for r in rows]
        return out

    def write_evidence(self, path: Path) -> Path:
        """``evidence`` as JSON in ``path`` (times ISO 8601, decimals as text)."""
        text = json.dumps(self.evidence(), indent=2, default=_json_value, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    # -- removing --------------------------------------------------------------------------

    def remove(self, items: list[Installed]) -> None:
        """Drop ``items`` (from ``find``) in order, each side in one transaction where the
        engine makes DDL transactional."""
        sides = {**self.sides, "target": self.target}
        for side, dialect in sides.items():
            mine = [i for i in items if i.side == side]
            if not mine:
                continue
            with dialect.connect() as conn, conn.begin():
                for item in mine:
                    self._drop(dialect, conn, item)

    def _drop(self, dialect: Dialect, conn: Connection, item: Installed) -> None:
        capture = dialect.capture
        if item.kind == "trigger":
            assert item.on is not None
            conn.exec_driver_sql(capture.drop_trigger_ddl(item.name, item.on))
        elif item.kind == "function":
            conn.exec_driver_sql(capture.drop_function_ddl(item.name))
        elif item.kind == "schema":
            conn.execute(sa.schema.DropSchema(item.name, if_exists=True))
        elif item.name in _CHANGELOGS:
            sa.Table(item.name, sa.MetaData()).drop(conn, checkfirst=True)
        else:
            table = next(t for t in self.store.metadata.sorted_tables if t.fullname == item.name)
            if item.kind == "rows":
                conn.execute(table.delete().where(table.c.migration == self.migration))
            else:
                table.drop(conn, checkfirst=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)
