"""PostgreSQL through psycopg 3: COPY in and out, server-side cursors, ``datamove`` schema."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from datamove.core.types import TypeInfo
from datamove.dialects.adapters import Adapter, returns_unchanged
from datamove.dialects.base import Dialect, Row
from datamove.dialects.batchwriter import BatchWriter
from datamove.dialects.capturesql import CAPTURE_PREFIX, OWNED_PREFIXES, CaptureSQL, capture_name
from datamove.dialects.copytext import Kind as CopyKind
from datamove.dialects.fencesql import BYPASS_SETTING, PgFenceSQL
from datamove.dialects.pgcanonical import PgCanonicalSQL
from datamove.dialects.pgschema import PgSchemaSQL
from datamove.dialects.pushdownsql import PushdownSQL
from datamove.dialects.quoting import sql_string
from datamove.dialects.running import PgRunningStatements
from datamove.dialects.types import classify_generic, render_generic

_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
}
_STATE_LOCK_KEY = 0x646D5F7374617465
"""The advisory lock key of state store upgrades ("dm_state" in ASCII)."""
_QUOTED = re.compile(r'"[^"]*"')
_cursor_names = itertools.count()
_BLOCK_BYTES = 1 << 20
_tzinfo = attrgetter("tzinfo")


def _ints_within(bits: int) -> Callable[[list[Any]], bool]:
    bound = 1 << (bits - 1)
    # filter(None, ...) leaves out NULLs (and zeros, which are in range anyway).
    return lambda v: (
        -bound <= min(filter(None, v), default=0) and max(filter(None, v), default=0) < bound
    )


def _naive(values: list[Any]) -> bool:
    return set(map(_tzinfo, filter(None, values))) <= {None}


def _aware(values: list[Any]) -> bool:
    # Zones whose offsets PostgreSQL's text input reads too (whole seconds, under 16 hours):
    # UTC and IANA zones; other tzinfo objects go the text way.
    return all(
        tz is dt.UTC or isinstance(tz, ZoneInfo) for tz in set(map(_tzinfo, filter(None, values)))
    )


# Binary COPY for the rows path. The server reads a binary value by the *column's* type, and
# psycopg dumps it by the type it is told, so a column qualifies only when every value is of a
# Python type whose binary form is exactly what the text form would have given: by column type
# OID, (the type psycopg dumps it as, the value types allowed, a check of the values). A bool
# into an integer column, an int into a text column, an int out of the column's range, a naive
# timestamp into timestamptz... make the batch a text COPY, as before (binary would store 1,
# fail in Python, or wrap around where text gives the server's error and a careful redo).
_BINARY_WRITES: dict[int, tuple[int, frozenset[type], Callable[[list[Any]], bool] | None]] = {
    16: (16, frozenset({bool}), None),  # boolean
    20: (20, frozenset({int}), _ints_within(64)),  # bigint
    23: (23, frozenset({int}), _ints_within(32)),  # integer
    21: (21, frozenset({int}), _ints_within(16)),  # smallint
    25: (25, frozenset({str}), None),  # text
    1042: (25, frozenset({str}), None),  # character(n): text's binary form, padded by the server
    1043: (1043, frozenset({str}), None),  # character varying(n)
    701: (701, frozenset({float}), None),  # double precision (float4 would round twice)
    1700: (1700, frozenset({Decimal, int}), None),  # numeric (typmod applied by the server)
    1082: (1082, frozenset({dt.date}), None),  # date
    1114: (1114, frozenset({dt.datetime}), _naive),  # timestamp
    1184: (1184, frozenset({dt.datetime}), _aware),  # timestamptz
    2950: (2950, frozenset({uuid.UUID}), None),  # uuid
}


class PgPushdownSQL(PushdownSQL):
    """Exact rounding on ``numeric`` and the server's own Unicode normalization."""

    def round(
        self, expr: sa.ColumnElement[Any], places: int, mode: str
    ) -> sa.ColumnElement[Any] | None:
        # round(numeric, n) rounds half away from zero; trunc(numeric, n) toward zero.
        functions = {"half_up": sa.func.round, "down": sa.func.trunc}
        return functions[mode](expr, places) if mode in functions else None

    def normalize(self, expr: sa.ColumnElement[Any], form: str) -> sa.ColumnElement[Any] | None:
        return sa.func.normalize(expr, sa.literal_column(form))  # form is one of four keywords


class PgCaptureSQL(CaptureSQL):
    """One trigger function per table, and one trigger calling it for every operation."""

    def create_ddl(
        self, table: str, key: Sequence[str], changelog: str, prefix: str = CAPTURE_PREFIX
    ) -> list[str]:
        q, name = self.dialect.quote, capture_name(table, prefix=prefix)
        old = f"json_build_array({', '.join('OLD.' + q(k) for k in key)})::text"
        new = f"json_build_array({', '.join('NEW.' + q(k) for k in key)})::text"
        moved = " OR ".join(f"OLD.{q(k)} IS DISTINCT FROM NEW.{q(k)}" for k in key)
        log = f"INSERT INTO {q(changelog)} (table_name, row_key, op) VALUES ({sql_string(table)}, "
        return [
            f"CREATE OR REPLACE FUNCTION {q(name)}() RETURNS trigger LANGUAGE plpgsql AS $dm$\n"
            "BEGIN\n"
            f"  IF current_setting({sql_string(BYPASS_SETTING)}, true) = 'on' THEN RETURN NULL; "
            "END IF;\n"
            f"  IF TG_OP <> 'INSERT' THEN {log}{old}, left(TG_OP, 1)); END IF;\n"
            f"  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ({moved})) THEN\n"
            f"    {log}{new}, left(TG_OP, 1));\n"
            "  END IF;\n"
            "  RETURN NULL;\n"
            "END $dm$",
            f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}",
            f"CREATE TRIGGER {q(name)} AFTER INSERT OR UPDATE OR DELETE ON {q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q(name)}()",
        ]

    def drop_ddl(self, table: str, prefix: str = CAPTURE_PREFIX) -> list[str]:
        q, name = self.dialect.quote, capture_name(table, prefix=prefix)
        return [
            f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}",
            f"DROP FUNCTION IF EXISTS {q(name)}()",
        ]

    def triggers(self, conn: Connection) -> dict[str, str]:
        rows = conn.execute(
            sa.text(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)"
            )
        )
        return {r[0]: r[1] for r in rows if r[0].startswith(OWNED_PREFIXES)}

    def functions(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            sa.text("SELECT proname FROM pg_proc p WHERE pg_function_is_visible(p.oid)")
        )
        return sorted(r[0] for r in rows if r[0].startswith(OWNED_PREFIXES))

    def drop_trigger_ddl(self, name: str, table: str) -> str:
        return f"DROP TRIGGER IF EXISTS {self.dialect.quote(name)} ON {self.dialect.quote(table)}"

    def drop_function_ddl(self, name: str) -> str:
        return f"DROP FUNCTION IF EXISTS {self.dialect.quote(name)}()"


class PostgreSQL(Dialect):
    NAME = "postgresql"
    SQLGLOT = "postgres"
    STATE_SCHEMA = "datamove"
    SUPPORTS_COPY = True
    BINARY_COPY = True
    SCHEMA = PgSchemaSQL
    CANONICAL = PgCanonicalSQL
    CAPTURE = PgCaptureSQL
    FENCE = PgFenceSQL
    PUSHDOWN = PgPushdownSQL
    RUNNING = PgRunningStatements
    INSTALL_HINT = "pip install 'datamove[postgresql]'  (psycopg 3)"

    def __init__(self, url: str, *, role: str, pool_size: int = 4, read_only: bool = False) -> None:
        parsed = sa.engine.make_url(url)
        if parsed.drivername == "postgresql":
            # psycopg 3 is the driver datamove is built and measured on.
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        super().__init__(url, role=role, pool_size=pool_size, read_only=read_only)

    def engine_options(self) -> dict[str, Any]:
        options = "-c TimeZone=UTC -c client_encoding=UTF8 -c DateStyle=ISO"
        given = sa.engine.make_url(self.url).query.get("options")  # the URL's own, kept
        return {"connect_args": {"options": f"{options} {given}" if given else options}}

    # -- errors ----------------------------------------------------------------------------

    def is_transient(self, exc: BaseException) -> bool:
        import psycopg

        if isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None:
            return True  # connection lost / server closed the connection
        return getattr(exc, "sqlstate", None) in _TRANSIENT_SQLSTATES

    def is_missing_table(self, exc: BaseException) -> bool:
        return getattr(getattr(exc, "orig", exc), "sqlstate", None) == "42P01"  # undefined_table

    def is_data_error(self, exc: BaseException) -> bool:
        import psycopg

        orig = getattr(exc, "orig", exc)
        return isinstance(orig, psycopg.DataError | psycopg.IntegrityError)

    def error_text(self, exc: BaseException) -> str:
        # A data or integrity error's DETAIL quotes the row ("Key (email)=(a@x)", "Failing
        # row contains (...)"), and a data error's first line may quote the value itself.
        text = super().error_text(exc)
        state = str(getattr(getattr(exc, "orig", exc), "sqlstate", None) or "")
        if state[:2] not in ("22", "23") or not text:
            return text
        first = text.splitlines()[0]
        return _QUOTED.sub('"***"', first) if state.startswith("22") else first

    # -- reading ---------------------------------------------------------------------------

    def stream(
        self, conn: Connection, stmt: sa.sql.Select[Any], batch: int, binary: bool = False
    ) -> Iterator[Sequence[Row]]:
        from psycopg.types.string import TextLoader

        sql, params = self.compile(stmt)
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor(name=f"datamove_{next(_cursor_names)}") as cursor:
            # JSON is read as its text, as every other engine returns it: parsed, a number
            # past a double's 17 digits would be rounded on its way to the target.
            for json_type in ("json", "jsonb"):
                cursor.adapters.register_loader(json_type, TextLoader)
            cursor.itersize = batch
            cursor.execute(sql, params, binary=binary)
            while rows := cursor.fetchmany(batch):
                yield rows

    def can_copy_out(self) -> bool:
        return True

    def copy_out(
        self,
        conn: Connection,
        stmt: sa.sql.Select[Any],
        kinds: Sequence[CopyKind],
        binary: bool = False,
    ) -> Iterator[bytes]:
        """``COPY (SELECT ...) TO STDOUT``: raw blocks, no per-row Python.

        ``binary`` uses PostgreSQL's binary COPY format: no text parsing on either server,
        but only valid between identical column types.
        """
        sql, params = self.compile(stmt)
        if not params:  # psycopg formats a COPY only with parameters: undo SQLAlchemy's '%%'
            sql = sql.replace("%%", "%")
        raw: Any = conn.connection.dbapi_connection
        fmt = " (FORMAT binary)" if binary else ""
        with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT{fmt}", params) as copy:
            # libpq hands out one row per call; gather ~1 MB so the pipe moves big blocks.
            buffer = bytearray()
            for row in copy:
                buffer += row
                if len(buffer) >= _BLOCK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)

    def result_types(self, conn: Connection, stmt: sa.sql.Select[Any]) -> list[Any]:
        sql, params = self.compile(stmt)
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({sql}) AS dm_types LIMIT 0", params)
            return [column.type_code for column in cursor.description]

    def column_types(self, conn: Connection, table: sa.Table, columns: Sequence[str]) -> list[Any]:
        rows = conn.execute(
            sa.text(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped"
            ),
            {"t": self.quote_table(table)},
        ).all()
        oids = {name: int(oid) for name, oid in rows}
        return [oids.get(c) for c in columns]

    def is_builtin_type(self, type_id: Any) -> bool:
        return isinstance(type_id, int) and type_id < 16384  # FirstNormalObjectId

    def copy_in(
        self,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        blocks: Iterator[bytes],
        binary: bool = False,
    ) -> int:
        """``COPY table FROM STDIN`` fed with COPY blocks; returns the rows written."""
        raw: Any = conn.connection.dbapi_connection
        sql = self._copy_from_sql(table, columns) + (" (FORMAT binary)" if binary else "")
        with raw.cursor() as cursor:
            with cursor.copy(sql) as copy:
                for block in blocks:
                    copy.write(block)
            return int(cursor.rowcount)

    def _copy_from_sql(self, table: sa.Table, columns: Sequence[str]) -> str:
        cols = ", ".join(self.quote(c) for c in columns)
        return f"COPY {self.quote_table(table)} ({cols}) FROM STDIN"

    def estimate(self, conn: Connection, table: sa.Table) -> tuple[int | None, int | None]:
        """A partitioned table holds no rows itself: its estimates are its leaf partitions'."""
        row = conn.execute(
            sa.text(
                "SELECT SUM(GREATEST(c.reltuples, 0))::bigint, SUM(pg_total_relation_size(c.oid))"
                " FROM pg_class c WHERE (c.oid = to_regclass(:name) AND c.relkind <> 'p')"
                " OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(:name))"
                " WHERE isleaf)"
            ),
            {"name": self.quote_table(table)},
        ).one()
        if row[0] is None:
            return None, None
        rows, size = int(row[0]), int(row[1])
        if rows == 0:  # never analyzed: a count is exact and, for small tables, cheap enough
            rows = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        return rows, size

    # -- writing ---------------------------------------------------------------------------

    def adapter(self, target_type: sa.types.TypeEngine[Any]) -> Adapter | None:
        if isinstance(target_type, sa.JSON):
            from psycopg.types.json import Jsonb

            @returns_unchanged(type(None), str, bytes)
            def to_json(value: Any) -> Any:
                if isinstance(value, str | bytes) or value is None:
                    return value  # already JSON text; the server parses and checks it
                return Jsonb(value)

            return to_json
        return super().adapter(target_type)

    def write(
        self, conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[Row]
    ) -> None:
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(self._copy_from_sql(table, columns)) as copy:
            for row in rows:
                copy.write_row(row)

    def batch_writer(
        self, conn: Connection, table: sa.Table, columns: Sequence[str]
    ) -> BatchWriter:
        oids = self.column_types(conn, table, columns)
        return _CopyWriter(self, conn, table, columns, oids)

    # -- types -----------------------------------------------------------------------------

    def classify(self, t: sa.types.TypeEngine[Any], label: str) -> TypeInfo | None:
        if isinstance(t, pg.DOMAIN):
            base = self.classify(t.data_type, label)
            return base
        if isinstance(t, pg.JSONB | pg.JSON):
            return TypeInfo("json", label, native=t)
        if isinstance(t, pg.ENUM):
            return TypeInfo("enum", label, values=tuple(t.enums))
        if isinstance(t, pg.TIMESTAMP):
            return TypeInfo("timestamp", label, timezone=bool(t.timezone), precision=t.precision)
        if isinstance(t, pg.ARRAY):
            return TypeInfo(
                "other", label, native=t, note="array; stored as JSON outside PostgreSQL"
            )
        if isinstance(t, pg.TSVECTOR | pg.INTERVAL | pg.INET | pg.CIDR | pg.MACADDR | pg.MONEY):
            return TypeInfo("other", label, native=t)
        return classify_generic(t, label)

    def render(
        self, info: TypeInfo, same_engine: bool, indexed: bool = False
    ) -> sa.types.TypeEngine[Any] | None:
        if info.kind == "json":
            # PostgreSQL json keeps its exact text (key order, spaces): kept as is between
            # PostgreSQL databases; JSON from elsewhere becomes jsonb.
            return info.native if same_engine and info.native is not None else pg.JSONB()
        if info.kind == "other":
            if same_engine and info.native is not None:
                return info.native  # type: ignore[no-any-return]
            return None
        if info.kind == "timestamp":
            return pg.TIMESTAMP(timezone=info.timezone, precision=info.precision)
        if info.kind == "binary":
            return pg.BYTEA()
        if info.kind == "float":
            return pg.DOUBLE_PRECISION() if (info.bits or 53) > 24 else pg.REAL()
        if info.kind == "uuid":
            return pg.UUID()
        return render_generic(info)

    def sortable(self, col: sa.ColumnElement[Any], info: TypeInfo | None) -> sa.ColumnElement[Any]:
        if info is not None and info.kind in {"string", "text"}:
            return col.collate("C")
        return col

    def insert_construct(self, table: sa.TableClause) -> Any:
        return pg.insert(table)

    def defer_constraints(self, conn: Connection) -> None:
        conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")

    def ensure_state_schema(self, conn: Connection) -> None:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {self.quote(self.STATE_SCHEMA or '')}"))

    @contextmanager
    def state_lock(self, conn: Connection) -> Iterator[None]:
        # A transaction-level advisory lock (per database): released when the caller commits
        # the upgrade, so a waiter sees it whole. lock_timeout bounds the wait.
        try:
            conn.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STATE_LOCK_KEY})
        except sa.exc.DBAPIError as exc:
            raise self.translate(exc) from exc
        yield


class _CopyWriter(BatchWriter):
    """The rows path's batches through one ``COPY FROM STDIN`` for the chunk (ended only by
    ``pause``, by a batch that needs the other format, and at the end): the server parses and
    stores one batch while the next is read and converted, instead of finishing every batch
    before the next starts. Binary while each column's values qualify (``_BINARY_WRITES``):
    about half the Python time of text per row, and no text parsing on the server."""

    def __init__(
        self,
        dialect: PostgreSQL,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        oids: list[Any],
    ) -> None:
        super().__init__(dialect, conn, table, columns)
        self.oids = oids
        self.sql = dialect._copy_from_sql(table, columns)
        self.binary = False
        self.open: ExitStack | None = None  # the cursor and COPY of the statement in progress
        self.copy: Any = None

    def write(self, values: Sequence[list[Any]]) -> None:
        dump_as = self._binary_types(values)
        if self.open is not None and self.binary != (dump_as is not None):
            self.pause()
        if self.open is None:
            raw: Any = self.conn.connection.dbapi_connection
            self.binary = dump_as is not None
            with ExitStack() as stack:
                cursor = stack.enter_context(raw.cursor())
                sql = self.sql + (" (FORMAT binary)" if self.binary else "")
                self.copy = stack.enter_context(cursor.copy(sql))
                if dump_as is not None:
                    self.copy.set_types(dump_as)
                self.open = stack.pop_all()
        write_row = self.copy.write_row
        for row in zip(*values, strict=True):
            write_row(row)

    def _binary_types(self, values: Sequence[list[Any]]) -> list[int] | None:
        """The type OIDs psycopg dumps each column as in binary COPY, or None when some column
        does not qualify (its type, or a value's type or range)."""
        dump_as: list[int] = []
        for oid, column in zip(self.oids, values, strict=True):
            rule = _BINARY_WRITES.get(oid) if oid is not None else None
            if rule is None:
                return None
            as_type, allowed, check = rule
            kinds = set(map(type, column))
            kinds.discard(type(None))
            if not kinds <= allowed or (kinds and check is not None and not check(column)):
                return None
            dump_as.append(as_type)
        return dump_as

    def pause(self) -> None:
        self._end(None)

    def close(self, failure: BaseException | None = None) -> None:
        self._end(failure)

    def _end(self, failure: BaseException | None) -> None:
        """Finish the COPY in progress; with ``failure``, abandon it (psycopg sends CopyFail
        and the failure stays the error raised)."""
        open_, self.open, self.copy = self.open, None, None
        if open_ is not None:
            trace = failure.__traceback__ if failure is not None else None
            open_.__exit__(type(failure) if failure is not None else None, failure, trace)
