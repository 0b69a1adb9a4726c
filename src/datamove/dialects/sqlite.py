"""SQLite: the embedded engine; executemany in one transaction, one writer at a time."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canonical
from datamove.core.types import TypeInfo, integer
from datamove.dialects.adapters import Adapter, text_value
from datamove.dialects.base import Dialect
from datamove.dialects.canonsql import CanonicalSQL
from datamove.dialects.capturesql import (
    CAPTURE_PREFIX,
    OWNED_PREFIXES,
    TriggerPerOperation,
    capture_name,
)
from datamove.dialects.fencesql import BYPASS_FUNCTION, SQLiteFenceSQL
from datamove.dialects.pushdownsql import PushdownSQL
from datamove.dialects.quoting import sql_string
from datamove.dialects.running import SQLiteRunningStatements
from datamove.dialects.schemasql import SchemaSQL
from datamove.dialects.types import classify_generic

_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error")
_INT64 = (-(2**63), 2**63 - 1)
"""SQLite's integers (and the sqlite3 module's bound ints) stop here."""


class SQLiteSchemaSQL(SchemaSQL):
    """A table's only INTEGER PRIMARY KEY is its rowid: it takes the largest value plus one
    by itself, so there is no generator to set or read."""

    def generates(self, column: sa.Column[Any], table: sa.Table) -> bool:
        return list(table.primary_key.columns) == [column] and type(column.type) is sa.INTEGER

    def identity(
        self, type_: sa.types.TypeEngine[Any], first_key: bool, sole_key: bool
    ) -> tuple[sa.types.TypeEngine[Any], list[Any]] | None:
        return (sa.Integer(), []) if sole_key and isinstance(type_, sa.Integer) else None


class SQLiteCanonicalSQL(CanonicalSQL):
    """The Python reference itself, registered as SQL functions on every connection
    (``SQLite.setup_session``): it agrees by construction."""

    def text(
        self, expr: sa.ColumnElement[Any], canon: Canon, info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        if canon.kind == "json":
            return None
        return sa.func.dm_canonical(expr, canon.kind, canon.scale, canon.digits)

    def random(self) -> sa.ColumnElement[Any]:
        # random() is a signed 64-bit integer here: scaled into [0, 1).
        return sa.func.random() / sa.literal(2.0**64) + sa.literal(0.5)

    def char_length(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.length(expr)

    def hex_int(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.dm_hex_int(expr)

    def exact_sum(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.dm_exact_sum(expr)  # sum() stops at "integer overflow" past 2^63


class SQLitePushdownSQL(PushdownSQL):
    """Concatenation with ``||``; no text form (a value's storage class decides it)."""

    def text_form(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any] | None:
        return None  # a NUMERIC value may be stored as REAL: 1.0 reads '1.0', Python says '1'

    def concat(self, parts: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        out = parts[0]
        for part in parts[1:]:
            out = out.op("||")(part)
        return out


class SQLiteCaptureSQL(TriggerPerOperation):
    """Three triggers a table; the changelog numbered by an AUTOINCREMENT rowid."""

    def create_ddl(
        self, table: str, key: Sequence[str], changelog: str, prefix: str = CAPTURE_PREFIX
    ) -> list[str]:
        q, name = self.dialect.quote, capture_name(table, prefix=prefix)
        old = f"json_array({', '.join('OLD.' + q(k) for k in key)})"
        new = f"json_array({', '.join('NEW.' + q(k) for k in key)})"
        moved = " OR ".join(f"OLD.{q(k)} IS NOT NEW.{q(k)}" for k in key)
        log = f"INSERT INTO {q(changelog)} (table_name, row_key, op)"
        literal = sql_string(table)
        unmarked = (
            "NOT EXISTS (SELECT 1 FROM pragma_function_list "
            f"WHERE name = {sql_string(BYPASS_FUNCTION)})"
        )
        on = f"ON {q(table)} FOR EACH ROW WHEN {unmarked} BEGIN"
        return [
            *self.drop_ddl(table, prefix),
            f"CREATE TRIGGER {q(name + '_i')} AFTER INSERT {on} "
            f"{log} VALUES ({literal}, {new}, 'I'); END",
            f"CREATE TRIGGER {q(name + '_u')} AFTER UPDATE {on} "
            f"{log} VALUES ({literal}, {old}, 'U'); "
            f"{log} SELECT {literal}, {new}, 'U' WHERE {moved}; END",
            f"CREATE TRIGGER {q(name + '_d')} AFTER DELETE {on} "
            f"{log} VALUES ({literal}, {old}, 'D'); END",
        ]

    def triggers(self, conn: Connection) -> dict[str, str]:
        rows = conn.execute(
            sa.text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        )
        return {r[0]: r[1] for r in rows if r[0].startswith(OWNED_PREFIXES)}

    def changelog_sequence(self) -> tuple[sa.types.TypeEngine[Any], dict[str, Any]]:
        # Only INTEGER PRIMARY KEY is generated (the rowid); AUTOINCREMENT keeps a purge from
        # letting numbers be reused.
        return sa.Integer(), {"sqlite_autoincrement": True}


class SQLite(Dialect):
    NAME = "sqlite"
    SQLGLOT = "sqlite"
    FOREIGN_KEYS_AFTER_LOAD = False  # no ALTER TABLE ADD CONSTRAINT: FKs go in CREATE TABLE
    SCHEMA = SQLiteSchemaSQL
    CANONICAL = SQLiteCanonicalSQL
    CAPTURE = SQLiteCaptureSQL
    FENCE = SQLiteFenceSQL
    PUSHDOWN = SQLitePushdownSQL
    RUNNING = SQLiteRunningStatements
    WRITE_BATCH_ROWS = 10_000

    def __init__(self, url: str, *, role: str, pool_size: int = 4, read_only: bool = False) -> None:
        super().__init__(url, role=role, pool_size=pool_size, read_only=read_only)
        # The driver's implicit transactions cannot hold a savepoint across statements;
        # datamove issues BEGIN itself. A target takes the write lock up front (IMMEDIATE), so
        # concurrent workers queue on busy_timeout instead of failing on lock upgrade.
        begin = "BEGIN IMMEDIATE" if role == "target" and not read_only else "BEGIN"

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

    def engine_options(self) -> dict[str, Any]:
        return {"connect_args": {"timeout": 60, "check_same_thread": False}}

    def setup_session(self, dbapi_conn: Any) -> None:
        dbapi_conn.isolation_level = None
        # Verification's SQL needs MD5, hex parsing and the canonical form, which SQLite does
        # not have: the Python reference itself is registered, so it agrees by construction.
        dbapi_conn.create_function("md5", 1, _md5, deterministic=True)
        dbapi_conn.create_function("dm_hex_int", 1, _hex_int, deterministic=True)
        dbapi_conn.create_aggregate("dm_exact_sum", 1, _ExactSum)
        dbapi_conn.create_function("dm_canonical", 4, _canonical, deterministic=True)

    def read_snapshot(self, conn: Connection) -> None:
        # None: outside WAL mode an open read transaction holds a lock that stops the
        # application's writers for the whole batch. Each statement reads its own state.
        return

    def is_transient(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        return isinstance(orig, sqlite3.OperationalError) and str(orig).lower().startswith(
            _TRANSIENT
        )

    def is_missing_table(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        return isinstance(orig, sqlite3.OperationalError) and str(orig).startswith("no such table")

    def is_data_error(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        # OverflowError: sqlite3 binds no int beyond 64 bits (a reject, not a failed run).
        return isinstance(
            orig,
            sqlite3.IntegrityError | sqlite3.DataError | sqlite3.InterfaceError | OverflowError,
        ) or super().is_data_error(exc)

    def estimate(self, conn: Connection, table: sa.Table) -> tuple[int | None, int | None]:
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        return rows, None

    def classify(self, t: sa.types.TypeEngine[Any], label: str) -> TypeInfo | None:
        if isinstance(t, sa.Integer) and not isinstance(t, sa.SmallInteger | sa.Boolean):
            return integer(label, -(2**63), 2**63 - 1)  # every SQLite integer is 64-bit
        found = classify_generic(t, label)
        if found is not None:
            return found
        return _affinity(label)

    def render(
        self, info: TypeInfo, same_engine: bool, indexed: bool = False
    ) -> sa.types.TypeEngine[Any] | None:
        low, high = _INT64
        if info.kind == "integer" and ((info.low or 0) < low or (info.high or 0) > high):
            # Past 64 bits (BIGINT UNSIGNED, BIT(64)) NUMERIC would store a REAL, 15 digits:
            # exact decimal text instead (the adapter writes such ints as text).
            return sa.Text()
        return super().render(info, same_engine, indexed)

    def nullable_columns(
        self, conn: Connection, table: sa.Table, columns: Sequence[str]
    ) -> list[str]:
        # SQLite lets a PRIMARY KEY column hold NULL, except the rowid alias (INTEGER PRIMARY
        # KEY), which reflects as nullable too: its table is the one whose primary key has no
        # index of its own (``origin = 'pk'``: SQLite's rule, not a guess from the type name).
        primary = [c.name for c in table.primary_key.columns]
        own_index = conn.execute(
            sa.text("SELECT count(*) FROM pragma_index_list(:t) WHERE origin = 'pk'"),
            {"t": table.name},
        ).scalar_one()
        rowid = primary[0] if len(primary) == 1 and not own_index else None
        return [c for c in super().nullable_columns(conn, table, columns) if c != rowid]

    def generated_key_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Integer()  # only INTEGER PRIMARY KEY is the rowid, which SQLite generates

    def insert_construct(self, table: sa.TableClause) -> Any:
        return sqlite_dialect.insert(table)

    def adapter(self, target_type: sa.types.TypeEngine[Any]) -> Adapter | None:
        base = super().adapter(target_type)
        textual = isinstance(target_type, sa.String)

        def to_sqlite(value: Any) -> Any:
            if base is not None:
                value = base(value)
            if textual and type(value) is int and not _INT64[0] <= value <= _INT64[1]:
                return str(value)  # into text exactly; any other column rejects it
            if isinstance(value, decimal.Decimal):
                return str(value)  # exact: the column's affinity decides how it is stored
            if isinstance(value, dt.datetime | dt.date | dt.time):
                return (
                    value.isoformat(sep=" ")
                    if isinstance(value, dt.datetime)
                    else value.isoformat()
                )
            if isinstance(value, dict | list | set | frozenset | uuid.UUID):
                return text_value(value)
            if isinstance(value, memoryview):
                return bytes(value)
            return value

        return to_sqlite


def _affinity(label: str) -> TypeInfo:
    """SQLite's type-affinity rules for declared types SQLAlchemy does not know."""
    name = label.upper()
    if "INT" in name:
        return integer(label, -(2**63), 2**63 - 1)
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        length = re.search(r"\((\d+)\)", name)
        if length:
            return TypeInfo("string", label, length=int(length.group(1)))
        return TypeInfo("text", label)
    if not name or "BLOB" in name:
        return TypeInfo("binary", label, note="no declared type (BLOB affinity)")
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return TypeInfo("float", label, bits=53)
    return TypeInfo("decimal", label, note="NUMERIC affinity")


def _md5(text: str | None) -> str | None:
    if text is None:
        return None
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class _ExactSum:
    """An integer sum of any size, as text (SQLite integers end at 64 bits)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total += value

    def finalize(self) -> str:
        return str(self.total)


def _hex_int(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


def _canonical(value: Any, kind: str, scale: int | None, digits: int) -> str | None:
    return canonical(value, Canon(kind, scale, digits))  # type: ignore[arg-type]
