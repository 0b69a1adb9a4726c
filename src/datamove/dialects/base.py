"""The ``Dialect`` base: one database, bound to its URL; with its helpers, the only place that
knows an engine's SQL, bulk paths and quirks.

A dialect is the bound database: its SQLAlchemy engine, sessions, streaming reads, COPY and
bulk writes, driver-error translation, and the type mapping. SQL that needs no connection is
in stateless helpers it owns, one per concern: ``schema`` (``SchemaSQL``: indexes, defaults,
identities, foreign keys), ``canonical`` (``CanonicalSQL``: verification's canonical form and
digests), ``capture`` (``CaptureSQL``: change-capture triggers), ``fence`` (``FenceSQL``: the
cutover's write fence), ``pushdown`` (``PushdownSQL``: transforms computed in SQL).
Subclasses register by SQLAlchemy dialect name; nothing outside ``datamove.dialects``
branches on an engine's name (``same_engine`` answers whether two databases are of one
engine). Capability flags are UPPER_SNAKE class attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import NoSuchModuleError

from datamove.core.types import TypeInfo
from datamove.dialects.adapters import (
    Adapter,
    int_bool,
    json_text,
    naive_utc,
    text_value,
    time_of_day,
)
from datamove.dialects.batchwriter import BatchWriter
from datamove.dialects.canonsql import CanonicalSQL
from datamove.dialects.capturesql import CaptureSQL
from datamove.dialects.copytext import Kind as CopyKind
from datamove.dialects.fencesql import FenceSQL
from datamove.dialects.pushdownsql import PushdownSQL
from datamove.dialects.quoting import quoted_name
from datamove.dialects.running import RunningStatements
from datamove.dialects.schemasql import SchemaSQL
from datamove.dialects.types import classify_generic, render_generic
from datamove.dialects.urls import url_problem
from datamove.errors import (
    ConnectionFailed,
    DatamoveError,
    SpecError,
    TerminalError,
    TransientError,
)
from datamove.redact import redact_text, redact_url, remember_url

Row = Sequence[Any]

_REGISTRY: dict[str, type[Dialect]] = {}


class Dialect:
    """One database engine, bound to one URL (and its SQLAlchemy engine)."""

    NAME: ClassVar[str] = ""
    STATE_SCHEMA: ClassVar[str | None] = None
    """Schema holding the state tables (None: ``datamove_`` prefixed tables instead)."""
    SUPPORTS_COPY: ClassVar[bool] = False
    """Has a native COPY pipe that can move a pushed-down SELECT without Python per row."""
    BINARY_COPY: ClassVar[bool] = False
    """Between two databases of this engine, COPY can use a binary format for equal types."""
    FOREIGN_KEYS_AFTER_LOAD: ClassVar[bool] = True
    """Can add foreign keys with ALTER TABLE after the data is loaded."""
    DEFERRABLE_FOREIGN_KEYS: ClassVar[bool] = True
    """Foreign keys can be checked at commit (``defer_constraints``)."""
    WRITE_BATCH_ROWS: ClassVar[int] = 5000
    """Rows per bulk write statement (bounded by the engine's packet or parameter limits)."""
    SCHEMA: ClassVar[type[SchemaSQL]] = SchemaSQL
    """Indexes, defaults, identities and foreign-key validation on this engine."""
    CANONICAL: ClassVar[type[CanonicalSQL]] = CanonicalSQL
    """Verification's canonical form, row digests and sums on this engine."""
    CAPTURE: ClassVar[type[CaptureSQL]] = CaptureSQL
    """Change-capture triggers and the changelog's types on this engine."""
    FENCE: ClassVar[type[FenceSQL]] = FenceSQL
    """The cutover's write fence (triggers refusing writes) on this engine."""
    PUSHDOWN: ClassVar[type[PushdownSQL]] = PushdownSQL
    """Transforms computed in this engine's SQL."""
    RUNNING: ClassVar[type[RunningStatements]] = RunningStatements
    """The connections handed out, and how to cancel their statements (a stop)."""
    INSTALL_HINT: ClassVar[str] = ""
    SQLGLOT: ClassVar[str] = ""
    """sqlglot's name for this engine's SQL (``sql`` transforms are transpiled to it)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.NAME:
            _REGISTRY[cls.NAME] = cls

    def __init__(self, url: str, *, role: str, pool_size: int = 4, read_only: bool = False) -> None:
        self.url = url
        self.role = role
        self.read_only = read_only
        self.safe_url = redact_url(url)
        self.schema = self.SCHEMA(self)
        self.canonical = self.CANONICAL(self)
        self.capture = self.CAPTURE(self)
        self.fence = self.FENCE(self)
        self.pushdown = self.PUSHDOWN(self)
        try:
            self.engine: Engine = sa.create_engine(
                url,
                pool_size=pool_size,
                max_overflow=4,
                pool_pre_ping=True,
                **self.engine_options(),
            )
        except NoSuchModuleError:
            raise SpecError(f"unknown database kind in {role} URL {self.safe_url}") from None
        except ModuleNotFoundError as exc:
            raise SpecError(
                f"the driver for {self.safe_url} is not installed ({exc.name})",
                hint=self.INSTALL_HINT or None,
            ) from None
        event.listen(self.engine, "connect", self._on_connect)
        self.running = self.RUNNING(self.engine)

    # -- construction ---------------------------------------------------------------------

    @staticmethod
    def for_url(url: str, *, role: str, pool_size: int = 4, read_only: bool = False) -> Dialect:
        """The dialect for ``url``; ``role`` ('source'/'target') is used in messages;
        ``read_only`` connections only read (the state store, for ``status``)."""
        from datamove.dialects import mysql, postgresql, sqlite  # noqa: F401  (register)

        remember_url(url)  # its password is a secret in every later output
        problem = url_problem(url)
        if problem:
            raise SpecError(f"{role} URL {redact_url(url)!r}: {problem}")
        name = make_url(url).get_backend_name()
        cls = _REGISTRY.get(name)
        if cls is None:
            known = ", ".join(sorted(_REGISTRY))
            raise SpecError(f"{role} database kind '{name}' is not supported (supported: {known})")
        return cls(url, role=role, pool_size=pool_size, read_only=read_only)

    def same_engine(self, other: Dialect) -> bool:
        """Whether ``other`` is a database of this engine (the same dialect class, so MariaDB
        is not MySQL): only then may one side's native types, binary COPY format, row hash or
        JSON normal form stand for the other's."""
        return type(self) is type(other)

    def engine_options(self) -> dict[str, Any]:
        """Extra ``create_engine`` keyword arguments for this engine."""
        return {}

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        self.setup_session(dbapi_conn)

    def setup_session(self, dbapi_conn: Any) -> None:
        """Per-connection settings: UTC time zone, strict modes, UTF-8."""

    def connect(self) -> Connection:
        """A new connection; a server that cannot be reached is ``ConnectionFailed``
        (transient), a refused login a ``TerminalError`` (no password shown)."""
        try:
            return self.engine.connect()
        except sa.exc.DBAPIError as exc:
            kind = ConnectionFailed if self.is_transient(exc.orig or exc) else TerminalError
            raise kind(
                f"cannot connect to the {self.role} {self.safe_url}: "
                f"{redact_text(str(exc.orig)).strip().splitlines()[0]}",
                hint="check the host, port, user, password and that the server is running",
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()

    # -- errors ----------------------------------------------------------------------------

    def translate(self, exc: BaseException) -> DatamoveError:
        """Map a driver error to the most specific datamove error (the one seam per dialect)."""
        if isinstance(exc, DatamoveError):
            return exc
        orig = getattr(exc, "orig", exc)
        message = self.error_text(orig)
        if self.is_transient(orig):
            return TransientError(f"{self.role} {self.NAME}: {message}")
        return TerminalError(f"{self.role} {self.NAME}: {message}")

    def error_text(self, exc: BaseException) -> str:
        """The driver's message for ``exc`` as it may be shown: passwords redacted and no row
        value in it (a data error's message may quote the row: PostgreSQL's DETAIL line,
        MySQL's ``Duplicate entry '...'``; each dialect cuts or masks what its driver
        quotes). This base keeps the message: SQLite's name columns and constraints only."""
        return redact_text(str(getattr(exc, "orig", exc))).strip()

    def is_transient(self, exc: BaseException) -> bool:
        """True for errors that a retry may fix (dropped connection, deadlock, serialization)."""
        return False

    def is_missing_table(self, exc: BaseException) -> bool:
        """True when a statement failed because a table it names does not exist (``plan``
        cannot judge a target query before the run creates its tables)."""
        return False

    def is_data_error(self, exc: BaseException) -> bool:
        """True when a write failed because of the rows themselves (a value, a constraint)."""
        return isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError)

    # -- reading ---------------------------------------------------------------------------

    def compile(self, stmt: sa.sql.ClauseElement) -> tuple[str, Any]:
        """The driver-level SQL text and parameters of a SQLAlchemy statement."""
        compiled: Any = stmt.compile(dialect=self.engine.dialect)
        params = compiled.construct_params()
        if self.engine.dialect.positional:
            return str(compiled), tuple(params[name] for name in compiled.positiontup or ())
        return str(compiled), params

    def stream(
        self, conn: Connection, stmt: sa.sql.Select[Any], batch: int, binary: bool = False
    ) -> Iterator[Sequence[Row]]:
        """Rows of ``stmt`` in batches, through a server-side (streaming) cursor.

        Values come as the driver returns them (no SQLAlchemy result processing): memory stays
        bounded by ``batch`` whatever the result size. ``binary``: in the engine's binary wire
        format where it has one, so bytes travel as they are (not as hex text); for columns of
        keys and bytes.
        """
        sql, params = self.compile(stmt)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()

    def can_copy_out(self) -> bool:
        """Whether ``copy_out`` works here (it may depend on the driver)."""
        return False

    def faster_driver(self) -> str | None:
        """A faster installed driver than the one the URL names, said for ``plan``: the URL's
        driver is honoured, the reviewer decides. None when there is none."""
        return None

    def copy_out(
        self,
        conn: Connection,
        stmt: sa.sql.Select[Any],
        kinds: Sequence[CopyKind],
        binary: bool = False,
    ) -> Iterator[bytes]:
        """The rows of ``stmt`` as PostgreSQL COPY text blocks (see ``copytext``), without a
        Python object per value; ``kinds`` says how each column's text form is encoded.
        ``binary`` (only where ``BINARY_COPY``) asks for the engine's binary COPY format."""
        raise NotImplementedError

    def result_types(self, conn: Connection, stmt: sa.sql.Select[Any]) -> list[Any]:
        """The engine's type identifiers of ``stmt``'s output columns (only where
        ``BINARY_COPY``)."""
        raise NotImplementedError

    def column_types(self, conn: Connection, table: sa.Table, columns: Sequence[str]) -> list[Any]:
        """The engine's type identifiers of ``table``'s ``columns`` (only where ``BINARY_COPY``)."""
        raise NotImplementedError

    def is_builtin_type(self, type_id: Any) -> bool:
        """Whether ``type_id`` means the same type in every database of this engine."""
        return False

    def copy_in(
        self,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        blocks: Iterator[bytes],
        binary: bool = False,
    ) -> int:
        """Write COPY blocks into ``table`` (only where ``SUPPORTS_COPY``); returns rows."""
        raise NotImplementedError

    def estimate(self, conn: Connection, table: sa.Table) -> tuple[int | None, int | None]:
        """(rows, bytes) estimates from the catalog; cheap, never a full scan."""
        return None, None

    # -- writing ---------------------------------------------------------------------------

    def adapter(self, target_type: sa.types.TypeEngine[Any]) -> Adapter | None:
        """A function making a Python value acceptable to this engine's bulk write, or None."""
        if isinstance(target_type, sa.String | sa.Text | sa.Enum):
            return text_value
        if isinstance(target_type, sa.JSON):
            return json_text
        if isinstance(target_type, sa.Boolean):
            return int_bool
        if isinstance(target_type, sa.DateTime) and not target_type.timezone:
            return naive_utc
        if isinstance(target_type, sa.Time):
            return time_of_day
        return None

    def classify(self, t: sa.types.TypeEngine[Any], label: str) -> TypeInfo | None:
        """Describe a reflected source type; None when datamove cannot map it."""
        return classify_generic(t, label)

    def reader(self, info: TypeInfo) -> Adapter | None:
        """A function normalising a value as this engine's driver returns it, or None.

        It may raise ``RowError`` for a value that has no faithful Python form (a reject)."""
        return None

    def read_expr(self, col: sa.ColumnElement[Any], info: TypeInfo | None) -> sa.ColumnElement[Any]:
        """The expression a column is read through (paired with ``reader``)."""
        return col

    def read_as(self, info: TypeInfo, target: TypeInfo | None) -> TypeInfo:
        """How a source column of ``info`` is read when it fills a column of ``target``
        untransformed (``target`` None: unknown, read as classified).

        ``info`` itself, unless this engine stores a type whose values read as more than one
        kind (MySQL's BIT: a boolean, a number or bytes): then the kind ``target`` holds, so
        that ``read_expr``, ``reader`` and ``canonical.text``, which receive the result as the
        column's source type, produce the value the target column needs."""
        return info

    def sql_stored_bytes(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """A text column read as the bytes it stores, for a text column copied untransformed
        into a binary column: the bytes the pipe hex-encodes and verify's canonical form of
        bytes hashes. As it is here (the driver's text is the stored Unicode text)."""
        return col

    def reflect_overrides(self, conn: Connection, table: sa.Table) -> dict[str, TypeInfo]:
        """Column types the reflected SQLAlchemy type gets wrong (e.g. MariaDB JSON)."""
        return {}

    def nullable_columns(
        self, conn: Connection, table: sa.Table, columns: Sequence[str]
    ) -> list[str]:
        """Those of ``columns`` (of the reflected ``table``) that can hold NULL, in order.

        Reflection's nullability, unless the engine knows better: a chunking key that can hold
        NULL is a plan error, so a column that never holds NULL must not be listed."""
        return [c for c in columns if table.c[c].nullable]

    def storable_date_sql(self, column: str) -> str | None:
        """A condition in this engine's SQL, true where the date or timestamp in ``column`` is
        one every engine can store; None where this engine stores no other kind (MySQL stores
        zero and partial dates such as 0000-00-00, which are rejects at run time)."""
        return None

    def count_unstorable_dates(
        self, conn: Connection, table: sa.Table, columns: Sequence[str], where: str | None
    ) -> dict[str, int]:
        """Per date or timestamp column, how many rows matching ``where`` hold a date that
        ``storable_date_sql`` rules out (only nonzero counts): one aggregate query over the
        table, none on an engine that stores no such dates."""
        conditions = {
            c: sa.text(f"NOT ({cond})") for c in columns if (cond := self.storable_date_sql(c))
        }
        return _count_rows(conn, table, conditions, where)

    def sql_unconvertible(
        self, col: sa.ColumnElement[Any], info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        """For a text column whose character set can store characters with no Unicode form
        (the server would send each as '?'): an expression that is NULL where the value has
        one (and for NULL), else the hex of the stored bytes of its first character without
        one. None where every value has one: the engine's text is Unicode, or the column's
        character set maps every byte (a test holds each engine's list to its server)."""
        return None

    def count_unconvertible_text(
        self, conn: Connection, table: sa.Table, columns: dict[str, TypeInfo], where: str | None
    ) -> dict[str, int]:
        """Per text column (name: type), how many rows matching ``where`` hold text that
        ``sql_unconvertible`` finds (only nonzero counts): one aggregate query over the
        table, none where no column can hold such text."""
        conditions = {
            name: found.is_not(None)
            for name, info in columns.items()
            if (found := self.sql_unconvertible(table.c[name], info)) is not None
        }
        return _count_rows(conn, table, conditions, where)

    def render(
        self, info: TypeInfo, same_engine: bool, indexed: bool = False
    ) -> sa.types.TypeEngine[Any] | None:
        """This engine's column type for ``info``; None when there is none (a plan error).

        ``same_engine`` allows reusing an engine-specific source type as is; ``indexed`` says
        the column is part of a key or index (some engines cannot index unbounded text).
        """
        if info.kind == "other":
            if same_engine:
                return info.native  # type: ignore[no-any-return]
            return sa.JSON() if info.note and info.note.startswith("array") else None
        return render_generic(info)

    def sortable(self, col: sa.ColumnElement[Any], info: TypeInfo | None) -> sa.ColumnElement[Any]:
        """``col`` as compared in key ranges: text keys compare by code point on every engine.

        Chunks are key ranges evaluated on both sides; if source and target collations ordered
        strings differently, a chunk's delete could reach rows another chunk copied.
        """
        return col

    def generated_key_type(self) -> sa.types.TypeEngine[Any]:
        """The type of a key the target generates (``remap``): auto-increment or identity."""
        return sa.BigInteger()

    def table_kwargs(self) -> dict[str, Any]:
        """Engine options for CREATE TABLE (charset, storage engine)."""
        return {}

    def write(
        self, conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[Row]
    ) -> None:
        """Bulk-write ``rows`` into ``table`` inside the connection's open transaction.

        One ``executemany`` per ``WRITE_BATCH_ROWS``: the drivers turn it into multi-row INSERTs
        (MySQL) or a prepared statement loop in C (SQLite), never a Python loop of round trips.
        """
        prep = self.engine.dialect.identifier_preparer
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(c) for c in columns)}) "
            f"VALUES ({', '.join(mark for _ in columns)})"
        )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, len(rows), self.WRITE_BATCH_ROWS):
                cursor.executemany(sql, rows[start : start + self.WRITE_BATCH_ROWS])
        finally:
            cursor.close()

    def batch_writer(
        self, conn: Connection, table: sa.Table, columns: Sequence[str]
    ) -> BatchWriter:
        """The rows path's writer for one chunk: batches given column by column, written into
        ``table`` inside the connection's open transaction (use it as a context manager)."""
        return BatchWriter(self, conn, table, columns)

    # -- DDL -------------------------------------------------------------------------------

    def state_table_name(self, name: str) -> tuple[str | None, str]:
        """(schema, table) of a state table."""
        if self.STATE_SCHEMA:
            return self.STATE_SCHEMA, name
        return None, f"datamove_{name}"

    # -- writing over existing rows (``sync`` and the dual-write modes) ---------------------

    def insert_construct(self, table: sa.TableClause) -> Any:
        """This engine's INSERT with an ON CONFLICT clause (PostgreSQL and SQLite share it)."""
        raise NotImplementedError(f"upserts are not implemented for {self.NAME}")

    def upsert(
        self,
        conn: Connection,
        table: sa.Table,
        columns: Sequence[str],
        key: Sequence[str],
        rows: Sequence[Row],
        mode: str = "upsert",
        newer: str | None = None,
    ) -> None:
        """Write ``rows`` whose ``key`` may exist already, in the open transaction.

        ``upsert`` overwrites an existing row; ``insert_missing`` leaves it alone;
        ``upsert_if_newer`` overwrites it only when its ``newer`` column is older (or NULL).
        Values are bound as the bulk write binds them (adapted, no SQLAlchemy processing).
        """
        if not rows:
            return
        t = sa.table(table.name, *[sa.column(c) for c in columns], schema=table.schema)
        stmt = self.upsert_statement(t, key, [c for c in columns if c not in key], mode, newer)
        conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])

    def upsert_statement(
        self,
        t: sa.TableClause,
        key: Sequence[str],
        others: Sequence[str],
        mode: str,
        newer: str | None,
    ) -> Any:
        """The INSERT of ``upsert`` (``ON CONFLICT`` here, shared by PostgreSQL and SQLite)."""
        stmt = self.insert_construct(t)
        if mode == "insert_missing" or not others:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
        else:
            where = None
            if mode == "upsert_if_newer":
                assert newer is not None
                where = sa.or_(t.c[newer].is_(None), t.c[newer] < stmt.excluded[newer])
            stmt = stmt.on_conflict_do_update(
                index_elements=list(key), set_={c: stmt.excluded[c] for c in others}, where=where
            )
        return stmt

    def defer_constraints(self, conn: Connection) -> None:
        """Check deferrable constraints at commit in the open transaction: a chunk may delete
        and re-insert rows that other tables reference."""

    def read_snapshot(self, conn: Connection) -> None:
        """Make the reads of the transaction ``conn`` starts now see one snapshot of the
        database (call it first): ``sync`` reads a batch's rows in several statements, and
        two of them must not see the two halves of a source transaction (a swap would look
        like a duplicate). This base: REPEATABLE READ (PostgreSQL: the snapshot of the first
        statement; MySQL's InnoDB: of the first read)."""
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def ensure_state_schema(self, conn: Connection) -> None:
        """Create the schema that holds the state tables, if the engine has schemas."""

    @contextmanager
    def state_lock(self, conn: Connection) -> Iterator[None]:
        """Hold, for the block, the lock that lets one process at a time create or upgrade the
        state store (on ``conn``, inside its open transaction); a wait past a minute raises
        ``TransientError``. Here the transaction is the lock: SQLite's target transactions
        take the write lock as they begin."""
        yield

    @contextmanager
    def temporary_table(
        self, conn: Connection, name: str, columns: Sequence[sa.Column[Any]]
    ) -> Iterator[sa.Table]:
        """A table only ``conn`` sees, for the block, inside its open transaction (the second
        pass stages values in it to UPDATE from). On an error the transaction's rollback
        removes it."""
        table = self.temporary_table_def(name, columns)
        table.create(conn)
        yield table
        table.drop(conn)

    @contextmanager
    def temporary_copy(
        self, conn: Connection, name: str, rows: sa.Select[Any]
    ) -> Iterator[sa.TableClause]:
        """A table only ``conn`` sees holding the rows of ``rows`` (``CREATE TEMPORARY TABLE
        ... AS``: the server's own column types, the values never leave it), for the block,
        inside the open transaction; its columns are the SELECT's, untyped (bind values
        as the bulk write binds them). On an error the transaction's rollback removes it."""
        sql, params = self.compile(rows)
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.quote(name)} AS {sql}", params)
        yield sa.table(name, *[sa.column(c.name) for c in rows.selected_columns])
        conn.exec_driver_sql(f"DROP TABLE {self.quote(name)}")

    def temporary_table_def(self, name: str, columns: Sequence[sa.Column[Any]]) -> sa.Table:
        """The ``TEMPORARY`` table ``temporary_table`` creates."""
        return sa.Table(
            name, sa.MetaData(), *columns, prefixes=["TEMPORARY"], **self.table_kwargs()
        )

    def quote(self, name: str) -> str:
        """``name`` quoted for SQL text sent as it is (``quoting``): a ``%`` stays one."""
        return quoted_name(self.engine.dialect.identifier_preparer, name)

    def quote_table(self, table: sa.Table | sa.TableClause) -> str:
        """``table``'s name (schema-qualified where it has one) as ``quote`` writes names."""
        name = self.quote(table.name)
        return f"{self.quote(table.schema)}.{name}" if table.schema else name


def _count_rows(
    conn: Connection,
    table: sa.Table,
    conditions: Mapping[str, sa.ColumnElement[bool] | sa.TextClause],
    where: str | None,
) -> dict[str, int]:
    """Per name, the rows of ``table`` matching ``where`` where its condition holds (only
    nonzero counts): one aggregate query, none without conditions."""
    if not conditions:
        return {}
    counts = [sa.func.sum(sa.case((cond, 1), else_=0)) for cond in conditions.values()]
    stmt = sa.select(*counts).select_from(table)
    if where:
        stmt = stmt.where(sa.text(f"({where})"))
    row = conn.execute(stmt).one()
    return {c: int(n) for c, n in zip(conditions, row, strict=True) if n}


def error_translator(*dialects: Dialect) -> Callable[[BaseException], DatamoveError]:
    """How a step that uses several databases turns a driver error into datamove's: as the
    dialect that finds it transient sees it (a retry is worth it), else as the first one."""

    def translate(exc: BaseException) -> DatamoveError:
        for dialect in dialects:
            if dialect.is_transient(getattr(exc, "orig", None) or exc):
                return dialect.translate(exc)
        return dialects[0].translate(exc)

    return translate
