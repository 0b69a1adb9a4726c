"""MySQL and MariaDB: streamed (unbuffered) reads, multi-row INSERT writes, strict sessions.

Every session runs in UTC (``time_zone='+00:00'``, so TIMESTAMP reads as UTC), strict SQL mode
(a value too long is an error, never a silent truncation) and utf8mb4.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from datamove.core.types import TypeInfo, integer
from datamove.dialects import (
    mysqlformat,
    mysqlreflect,  # noqa: F401  (SQLAlchemy's reflection fixed)
)
from datamove.dialects.adapters import Adapter
from datamove.dialects.base import Dialect, Row
from datamove.dialects.capturesql import (
    CAPTURE_PREFIX,
    OWNED_PREFIXES,
    TriggerPerOperation,
    capture_name,
)
from datamove.dialects.copytext import Kind as CopyKind
from datamove.dialects.fencesql import BYPASS_VARIABLE, MySQLFenceSQL
from datamove.dialects.mysqlcanonical import MySQLCanonicalSQL
from datamove.dialects.mysqlschema import MySQLSchemaSQL
from datamove.dialects.mysqltext import ConvertUsing, first_unconvertible
from datamove.dialects.mysqlvalues import (
    ServerText,
    bit_boolean,
    bit_info,
    bit_value,
    bit_width,
    date_parser,
)
from datamove.dialects.pushdownsql import PushdownSQL
from datamove.dialects.quoting import sql_string
from datamove.dialects.running import MySQLRunningStatements
from datamove.dialects.types import classify_generic, describe
from datamove.errors import TransientError

DEFAULT_DRIVER = "mysqlconnector"

_TRANSIENT_CODES = {
    1205,  # lock wait timeout
    1213,  # deadlock
    1053,  # server shutdown in progress
    1927,  # connection was killed
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,  # lost connection (connector)
}
_DATA_CODES = {1048, 1062, 1264, 1265, 1292, 1366, 1406, 1451, 1452, 3140, 4025, 1690, 1411}
_ROW_VALUES = (
    re.compile(r"(?<=Duplicate entry )'.*'(?= for key )"),
    re.compile(r"(?<=value: )'.*'(?= for column )"),
    re.compile(r"(?<=value: )'.*'$"),
)
"""Where the server's messages quote a row's value (``error_text`` masks it)."""
_SPATIAL = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
}
_UNSIGNED_RANGES = {
    mysql.TINYINT: 2**8 - 1,
    mysql.SMALLINT: 2**16 - 1,
    mysql.MEDIUMINT: 2**24 - 1,
    mysql.INTEGER: 2**32 - 1,
    mysql.BIGINT: 2**64 - 1,
}
_SIGNED_RANGES = {mysql.TINYINT: 2**7, mysql.MEDIUMINT: 2**23}
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
_UNICODE_COMPLETE = frozenset(
    {
        *("utf8", "utf8mb3", "utf8mb4", "utf16", "utf16le", "utf32", "ucs2"),
        *("latin1", "latin2", "latin5", "latin7", "cp850", "cp852", "cp866", "keybcs2"),
        *("koi8r", "koi8u", "macce", "macroman", "armscii8"),
    }
)
"""Character sets in which every stored value has a Unicode form: the Unicode ones and the
single-byte ones that map all 256 bytes (a test holds this list to the server). The others
store bytes the server sends as '?': ascii's 80-FF, cp1250's 81, gbk's A380, ..."""
_MAX_VARCHAR = 16383  # utf8mb4: 65,535 bytes per row / 4 bytes per character
_JSON_CHECK = re.compile(r"json_valid\(`(?P<col>(?:[^`]|``)+)`\)", re.IGNORECASE)


class MySQLPushdownSQL(PushdownSQL):
    """Exact rounding on DECIMAL; text compared as bytes, past the collations."""

    def same_text(self, expr: sa.ColumnElement[Any], value: str) -> sa.ColumnElement[bool]:
        # Collations pad with spaces ('a' = 'a  '); byte comparison is exact.
        same: sa.ColumnElement[bool] = sa.func.binary(expr) == sa.func.binary(sa.literal(value))
        return same

    def round(
        self, expr: sa.ColumnElement[Any], places: int, mode: str
    ) -> sa.ColumnElement[Any] | None:
        # On exact values ROUND rounds half away from zero and TRUNCATE toward zero.
        functions = {"half_up": sa.func.round, "down": sa.func.truncate}
        return functions[mode](expr, places) if mode in functions else None


class MySQLCaptureSQL(TriggerPerOperation):
    """Three triggers a table; the changelog's time a TIMESTAMP (UTC)."""

    def create_ddl(
        self, table: str, key: Sequence[str], changelog: str, prefix: str = CAPTURE_PREFIX
    ) -> list[str]:
        q, name = self.dialect.quote, capture_name(table, prefix=prefix)
        old = f"JSON_ARRAY({', '.join('OLD.' + q(k) for k in key)})"
        new = f"JSON_ARRAY({', '.join('NEW.' + q(k) for k in key)})"
        same = " AND ".join(f"OLD.{q(k)} <=> NEW.{q(k)}" for k in key)
        log = (
            f"INSERT INTO {q(changelog)} (table_name, row_key, op) "
            f"VALUES ({sql_string(table, backslashes=True)}, "
        )
        on = f"ON {q(table)} FOR EACH ROW BEGIN IF COALESCE({BYPASS_VARIABLE}, 0) <> 1 THEN"
        end = "END IF; END"
        return [
            *self.drop_ddl(table, prefix),
            f"CREATE TRIGGER {q(name + '_i')} AFTER INSERT {on} {log}{new}, 'I'); {end}",
            f"CREATE TRIGGER {q(name + '_u')} AFTER UPDATE {on} {log}{old}, 'U'); "
            f"IF NOT ({same}) THEN {log}{new}, 'U'); END IF; {end}",
            f"CREATE TRIGGER {q(name + '_d')} AFTER DELETE {on} {log}{old}, 'D'); {end}",
        ]

    def triggers(self, conn: Connection) -> dict[str, str]:
        rows = conn.execute(
            sa.text(
                "SELECT trigger_name, event_object_table FROM information_schema.triggers "
                "WHERE trigger_schema = DATABASE()"
            )
        )
        return {r[0]: r[1] for r in rows if r[0].startswith(OWNED_PREFIXES)}

    def change_time_type(self) -> sa.types.TypeEngine[Any]:
        return mysql.TIMESTAMP()  # stored in UTC (DATETIME would keep the writer's wall clock)


class MySQL(Dialect):
    NAME = "mysql"
    SQLGLOT = "mysql"
    WRITE_BATCH_ROWS = 2000
    DEFERRABLE_FOREIGN_KEYS = False  # no DEFERRABLE; sessions run with foreign_key_checks = 0
    SCHEMA = MySQLSchemaSQL
    CANONICAL = MySQLCanonicalSQL
    CAPTURE = MySQLCaptureSQL
    FENCE = MySQLFenceSQL
    PUSHDOWN = MySQLPushdownSQL
    RUNNING = MySQLRunningStatements
    INSTALL_HINT = "pip install 'datamove[mysql]'  (mysql-connector-python)"

    def __init__(self, url: str, *, role: str, pool_size: int = 4, read_only: bool = False) -> None:
        parsed = sa.engine.make_url(url)
        if "+" not in parsed.drivername:
            # The driver chosen by measurement (see README, "MySQL driver").
            url = parsed.set(drivername=f"{parsed.drivername}+{DEFAULT_DRIVER}").render_as_string(
                hide_password=False
            )
        super().__init__(url, role=role, pool_size=pool_size, read_only=read_only)
        if self._formats_names:
            mysqlformat.install(self.engine)

    def faster_driver(self) -> str | None:
        driver = self.engine.dialect.driver
        if driver == DEFAULT_DRIVER or importlib.util.find_spec("mysql.connector") is None:
            return None
        scheme = self.engine.url.get_backend_name()
        return (
            f"the URL names the driver {driver}; mysql-connector-python is installed and reads "
            f"about 3-4x faster (README, 'MySQL driver'): write {scheme}:// (or "
            f"{scheme}+{DEFAULT_DRIVER}://) to use it"
        )

    @property
    def _formats_names(self) -> bool:
        """mysql-connector formats ``%(name)s`` even inside names and strings (mysqlformat)."""
        return self.engine.dialect.driver == "mysqlconnector"

    def compile(self, stmt: sa.sql.ClauseElement) -> tuple[str, Any]:
        sql, params = super().compile(stmt)
        if self._formats_names and params:
            sql = mysqlformat.protected(sql)
        return sql, params

    def engine_options(self) -> dict[str, Any]:
        return {"connect_args": {"charset": "utf8mb4"}}

    def setup_session(self, dbapi_conn: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(
            "SET SESSION time_zone = '+00:00', "
            # NO_AUTO_VALUE_ON_ZERO: a key 0 is a key 0, not "generate the next id".
            "sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO', "
            "foreign_key_checks = 0, "  # FKs are added after the load; cycles load in any order
            "net_write_timeout = 3600, net_read_timeout = 3600"
        )
        cursor.close()

    # -- errors ----------------------------------------------------------------------------

    def _code(self, exc: BaseException) -> int | None:
        orig = getattr(exc, "orig", exc)
        code = getattr(orig, "errno", None)
        if code is None and getattr(orig, "args", None):
            first = orig.args[0]
            code = first if isinstance(first, int) else None
        return code

    def is_transient(self, exc: BaseException) -> bool:
        return self._code(exc) in _TRANSIENT_CODES

    def is_data_error(self, exc: BaseException) -> bool:
        return self._code(exc) in _DATA_CODES or super().is_data_error(exc)

    def error_text(self, exc: BaseException) -> str:
        text = super().error_text(exc)
        for quoted in _ROW_VALUES:
            text = quoted.sub("'***'", text)
        return text

    def is_missing_table(self, exc: BaseException) -> bool:
        return self._code(exc) == 1146  # ER_NO_SUCH_TABLE

    # -- reading ---------------------------------------------------------------------------

    def _streaming_cursor(self, conn: Connection, raw_values: bool = False) -> Any:
        """An unbuffered cursor: rows come from the server as they are fetched.

        SQLAlchemy opens mysql-connector connections with ``buffered=True`` (its own queries
        need it), and the connector then ignores ``cursor(buffered=False)``; the connection
        flag is lowered just while this cursor is made.
        """
        raw: Any = conn.connection.dbapi_connection
        driver = self.engine.dialect.driver
        if driver == "pymysql":
            import pymysql.cursors

            return raw.cursor(pymysql.cursors.SSCursor)
        if driver == "mysqldb":
            import MySQLdb.cursors

            return raw.cursor(MySQLdb.cursors.SSCursor)
        buffered, raw._buffered = raw._buffered, False
        try:
            return raw.cursor(buffered=False, raw=raw_values)
        finally:
            raw._buffered = buffered

    def stream(
        self, conn: Connection, stmt: sa.sql.Select[Any], batch: int, binary: bool = False
    ) -> Iterator[Sequence[Row]]:
        sql, params = self.compile(stmt)
        cursor = self._streaming_cursor(conn)
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            _close(cursor)

    def can_copy_out(self) -> bool:
        return self.engine.dialect.driver == "mysqlconnector"

    def copy_out(
        self,
        conn: Connection,
        stmt: sa.sql.Select[Any],
        kinds: Sequence[CopyKind],
        binary: bool = False,
    ) -> Iterator[bytes]:
        """COPY text built by the server: each row comes back as one finished line.

        The server's own text form of each value (what its protocol sends) is escaped with
        REPLACE, binary values hex-encoded and NULLs written as ``\\N`` by the SELECT itself,
        so Python only joins lines: the per-value work runs in C on the server.
        """
        inner = stmt.subquery()
        fields = []
        for col, kind in zip(inner.c, kinds, strict=True):
            value: sa.ColumnElement[Any] = col
            if kind == "check":  # CONCAT_WS skips NULL; a finding is a field too many
                fields.append(value)
                continue
            if kind == "text":
                if _other_charset(col.type):
                    # Text of two other charsets (latin1 and gbk, say) is an illegal mix
                    # for CONCAT_WS: at most the table's default one is left unconverted.
                    value = ConvertUsing(value, "utf8mb4")
                for char, escaped in _COPY_ESCAPES:
                    value = sa.func.replace(value, char, escaped)
            elif kind == "binary":
                value = sa.func.concat("\\\\x", sa.func.hex(col))
            fields.append(sa.func.ifnull(value, "\\N"))
        sql, params = self.compile(sa.select(sa.func.concat_ws("\t", *fields)))
        cursor = self._streaming_cursor(conn, raw_values=True)
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(5000):
                yield b"\n".join([row[0] for row in rows]) + b"\n"
        finally:
            _close(cursor)

    def estimate(self, conn: Connection, table: sa.Table) -> tuple[int | None, int | None]:
        row = conn.execute(
            sa.text(
                "SELECT table_rows, data_length + index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = :name"
            ),
            {"name": table.name},
        ).first()
        return (None, None) if row is None else (int(row[0] or 0), int(row[1] or 0))

    # -- types -----------------------------------------------------------------------------

    def classify(self, t: sa.types.TypeEngine[Any], label: str) -> TypeInfo | None:
        if isinstance(t, mysql.TINYINT) and t.display_width == 1 and not t.unsigned:
            return TypeInfo("boolean", label, note="TINYINT(1) is MySQL's boolean")
        if isinstance(t, mysql.YEAR):
            return integer(label, 0, 2155)
        if isinstance(t, mysql.SET):
            return TypeInfo(
                "text", label, values=tuple(t.values), note="SET as comma-separated text"
            )
        if isinstance(t, mysql.BIT):
            return bit_info(t, label)
        if isinstance(t, sa.Integer) and getattr(t, "unsigned", False):
            high = next(h for cls, h in _UNSIGNED_RANGES.items() if isinstance(t, cls))
            return integer(label, 0, high, note="unsigned; range widened")
        for cls, bound in _SIGNED_RANGES.items():
            if isinstance(t, cls):
                return integer(label, -bound, bound - 1)
        if isinstance(t, mysql.TIMESTAMP):
            return TypeInfo(
                "timestamp",
                label,
                timezone=True,
                precision=t.fsp or 0,
                note="TIMESTAMP is stored in UTC",
            )
        if isinstance(t, mysql.DATETIME):
            return TypeInfo("timestamp", label, precision=t.fsp or 0)
        if isinstance(t, mysql.JSON):
            return TypeInfo("json", label)
        info = classify_generic(t, label)
        charset = getattr(t, "charset", None)
        if info is not None and charset and info.kind in {"string", "text"}:
            return dataclasses.replace(info, charset=str(charset).lower())
        return info

    def read_as(self, info: TypeInfo, target: TypeInfo | None) -> TypeInfo:
        if bit_width(info) is None or target is None:
            return info
        kind = target.kind if target.kind in {"boolean", "binary"} else "integer"
        return dataclasses.replace(info, kind=kind)

    def read_expr(self, col: sa.ColumnElement[Any], info: TypeInfo | None) -> sa.ColumnElement[Any]:
        if info is not None and bit_width(info) is not None:
            return bit_value(col, info.kind)
        if info is not None and info.kind in {"date", "timestamp"}:
            # The driver turns zero and partial dates ('0000-00-00') into None, which would
            # silently become NULL; read the server's text and parse it instead.
            return ServerText(col)
        return col

    def sql_stored_bytes(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.cast(col, sa.LargeBinary)  # BINARY: the column's own bytes, unconverted

    def sql_unconvertible(
        self, col: sa.ColumnElement[Any], info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        if info is None or info.kind not in {"string", "text"} or info.charset is None:
            return None
        if info.charset in _UNICODE_COMPLETE:
            return None
        return first_unconvertible(col, info.charset)

    def storable_date_sql(self, column: str) -> str | None:
        # Zero dates (0000-00-00) and dates with a zero year, month or day exist only here.
        q = self.quote(column)
        return f"YEAR({q}) > 0 AND MONTH({q}) > 0 AND DAYOFMONTH({q}) > 0"

    def reader(self, info: TypeInfo) -> Adapter | None:
        if info.kind == "boolean" and bit_width(info) is not None:
            return bit_boolean(info.label)
        if info.kind in {"date", "timestamp"}:
            return date_parser(info.kind == "date")
        if info.kind == "binary":
            # mysql-connector returns binary values that happen to be valid UTF-8 (some WKB)
            # as str; strict UTF-8 decoding is lossless, so encoding restores the exact bytes.
            return lambda value: value.encode("utf-8") if isinstance(value, str) else value
        if info.kind == "text" and info.values:  # SET: members in definition order, as MySQL
            order = {v: i for i, v in enumerate(info.values)}

            def join_set(value: Any) -> Any:
                if isinstance(value, set | frozenset):
                    return ",".join(sorted(value, key=lambda v: order.get(v, len(order))))
                return value

            return join_set
        return None

    def reflect_overrides(self, conn: Connection, table: sa.Table) -> dict[str, TypeInfo]:
        out: dict[str, TypeInfo] = {}
        for name, data_type, charset in conn.execute(
            sa.text(
                "SELECT column_name, data_type, character_set_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = :name"
            ),
            {"name": table.name},
        ).all():
            if str(data_type).lower() in _SPATIAL:
                # Spatial columns reflect as NullType; the catalog knows their real type.
                out[name] = TypeInfo(
                    "binary",
                    str(data_type).upper(),
                    note="spatial value as MySQL WKB (4-byte SRID + WKB)",
                )
            elif charset and name in table.c:
                # A column in the table's default charset reflects without one.
                col_type = table.c[name].type
                info = self.classify(col_type, describe(col_type, self.engine.dialect))
                if info is not None and info.kind in {"string", "text"} and not info.charset:
                    out[name] = dataclasses.replace(info, charset=str(charset).lower())
        # MariaDB's JSON is LONGTEXT with a json_valid() CHECK; reflection sees only the text.
        rows = conn.execute(
            sa.text(
                "SELECT check_clause FROM information_schema.check_constraints "
                "WHERE constraint_schema = DATABASE() AND table_name = :name"
            ),
            {"name": table.name},
        ).all()
        for (clause,) in rows:
            for match in _JSON_CHECK.finditer(clause or ""):
                name = match.group("col").replace("``", "`")
                out[name] = TypeInfo("json", "JSON")
        return out

    def render(
        self, info: TypeInfo, same_engine: bool, indexed: bool = False
    ) -> sa.types.TypeEngine[Any] | None:
        if same_engine and bit_width(info) is not None:
            return info.native  # type: ignore[no-any-return]
        match info.kind:
            case "text" | "enum" if indexed:
                return mysql.VARCHAR(255)
            case "string" if indexed and (info.length or 0) > 768:
                return mysql.VARCHAR(768)
            case "enum":
                return mysql.ENUM(*info.values)
            case "text":
                return mysql.LONGTEXT()
            case "string":
                if info.length and info.length <= (255 if info.fixed else _MAX_VARCHAR):
                    return mysql.CHAR(info.length) if info.fixed else mysql.VARCHAR(info.length)
                return mysql.LONGTEXT()
            case "boolean":
                return mysql.BOOLEAN()
            case "timestamp":
                return mysql.DATETIME(fsp=6)
            case "time":
                return mysql.TIME(fsp=6)
            case "json":
                return mysql.JSON()
            case "binary":
                return mysql.LONGBLOB()
            case "uuid":
                return mysql.CHAR(36)
            case "float":
                return mysql.DOUBLE() if (info.bits or 53) > 24 else mysql.FLOAT()
            case "decimal":
                if info.precision is None:
                    return mysql.DECIMAL(65, 30)
                return mysql.DECIMAL(info.precision, info.scale) if info.precision <= 65 else None
        return super().render(info, same_engine, indexed)

    def sortable(self, col: sa.ColumnElement[Any], info: TypeInfo | None) -> sa.ColumnElement[Any]:
        if info is not None and info.kind in {"string", "text", "enum"}:
            return sa.func.binary(col)  # byte order of UTF-8 is code point order
        return col

    @contextmanager
    def temporary_table(
        self, conn: Connection, name: str, columns: Sequence[sa.Column[Any]]
    ) -> Iterator[sa.Table]:
        # DROP TABLE (without TEMPORARY) commits the open transaction, and a rollback keeps a
        # temporary table: drop it explicitly, before (a failed earlier block) and after.
        drop = f"DROP TEMPORARY TABLE IF EXISTS {self.quote(name)}"
        conn.exec_driver_sql(drop)
        table = self.temporary_table_def(name, columns)
        table.create(conn)
        yield table
        conn.exec_driver_sql(drop)

    @contextmanager
    def temporary_copy(
        self, conn: Connection, name: str, rows: sa.Select[Any]
    ) -> Iterator[sa.TableClause]:
        drop = f"DROP TEMPORARY TABLE IF EXISTS {self.quote(name)}"  # as ``temporary_table``
        conn.exec_driver_sql(drop)
        sql, params = self.compile(rows)
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.quote(name)} AS {sql}", params)
        yield sa.table(name, *[sa.column(c.name) for c in rows.selected_columns])
        conn.exec_driver_sql(drop)

    def upsert_statement(
        self,
        t: sa.TableClause,
        key: Sequence[str],
        others: Sequence[str],
        mode: str,
        newer: str | None,
    ) -> Any:
        stmt = mysql.insert(t)
        new = stmt.inserted
        if mode == "insert_missing" or not others:
            updates: list[tuple[str, Any]] = [(key[0], t.c[key[0]])]  # no-op; IGNORE hides errors
        elif mode == "upsert_if_newer":
            assert newer is not None
            older = sa.or_(t.c[newer].is_(None), t.c[newer] < new[newer])
            # Assignments run in order: the compared column is updated last.
            ordered = [c for c in others if c != newer] + ([newer] if newer in others else [])
            updates = [(c, sa.func.IF(older, new[c], t.c[c])) for c in ordered]
        else:
            updates = [(c, new[c]) for c in others]
        return stmt.on_duplicate_key_update(updates)

    @contextmanager
    def state_lock(self, conn: Connection) -> Iterator[None]:
        # A named lock of the session (per database: names are server-wide, at most 64
        # characters); DDL commits by itself here, so no transaction could hold the upgrade.
        name = sa.func.concat("datamove.state.", sa.func.md5(sa.func.database()))
        if conn.execute(sa.select(sa.func.get_lock(name, 60))).scalar() != 1:
            raise TransientError(
                "waited 60 s for another datamove to create or upgrade the state store",
                hint="run the command again once the other datamove's run has started",
            )
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.release_lock(name)))

    def table_kwargs(self) -> dict[str, Any]:
        # utf8mb4_bin: every Unicode string is storable and distinct strings stay distinct keys.
        return {
            "mysql_engine": "InnoDB",
            "mysql_charset": "utf8mb4",
            "mysql_collate": "utf8mb4_bin",
        }


class MariaDB(MySQL):
    NAME = "mariadb"


def _other_charset(t: sa.types.TypeEngine[Any]) -> bool:
    """The column type declares a character set other than UTF-8 (a column in the table's
    default character set declares none)."""
    charset = str(getattr(t, "charset", None) or "utf8").lower()
    return not charset.startswith("utf8")


def _close(cursor: Any) -> None:
    """Close a streaming cursor; on a connection the server dropped, closing raises too
    (mysql-connector: ``ReferenceError``) — the error that dropped it is the one to report."""
    with suppress(Exception):
        cursor.close()
