"""Schema objects beyond columns, engine by engine: indexes and unique keys, column defaults,
identity columns and their generators, and foreign keys added first, validated after.

Each ``Dialect`` owns one ``SchemaSQL`` (``dialect.schema``). The source side describes what
it has in engine-neutral shapes (``IndexShape``, ``DefaultInfo``); the target side says what
it can make of a shape and makes it. This base class is the SQL that several engines share;
``pgschema`` and ``mysqlschema`` hold the rest.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint
from sqlglot import exp

from datamove.dialects.partitioning import Partitioning

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect

ORPHANS_SHOWN = 10
"""Orphan rows a failed foreign-key validation names."""


@dataclass(frozen=True)
class IndexShape:
    """An index in engine-neutral terms.

    ``kind`` is ``btree`` (every engine's default index), ``fulltext`` or ``spatial`` (MySQL),
    or an index method carried only between two databases of one engine (``gin``, ``gist``).
    ``prefix`` gives a column's indexed prefix in characters (MySQL ``KEY (c(10))``), which each
    engine renders its own way. ``expressions`` (replacing ``columns``) and ``where`` (a partial
    index) are the engine's own SQL, carried only between two databases of one engine.
    """

    name: str
    columns: tuple[str, ...]
    unique: bool
    source: str = ""
    """The source index (or unique constraint) this one comes from."""
    kind: str = "btree"
    descending: frozenset[str] = frozenset()
    prefix: tuple[tuple[str, int], ...] = ()
    expressions: tuple[str, ...] = ()
    where: str | None = None

    def __str__(self) -> str:
        cols = ", ".join(self.expressions or self.columns)
        kind = "" if self.kind == "btree" else f"{self.kind} "
        return f"{self.name}: {'unique ' if self.unique else ''}{kind}({cols})"


DefaultKind = Literal["literal", "now", "today", "expression"]


@dataclass(frozen=True)
class DefaultInfo:
    """A column default in engine-neutral terms: a literal ``value`` (str, int, Decimal, bool),
    the current time or date, or an ``expression`` only the source's engine understands."""

    kind: DefaultKind
    text: str
    """As the source engine writes it."""
    value: Any = None
    on_update: bool = False
    """MySQL's ``ON UPDATE CURRENT_TIMESTAMP`` (no other engine has it without a trigger)."""


@dataclass(frozen=True)
class ForeignKeyRef:
    """A foreign key between two target tables, in target names (for validation)."""

    name: str
    child: sa.Table
    columns: tuple[str, ...]
    parent: sa.Table
    parent_columns: tuple[str, ...]
    key: tuple[str, ...] = field(default=())
    """The child's key columns, to name orphan rows by."""


class SchemaSQL:
    """The schema-object SQL of one engine (this base: what several engines share)."""

    PREFIX_FUNCTION = "substr"
    """How a prefix index is rendered where the engine has no prefix indexes: an expression
    index on ``substr(column, 1, n)``."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def url_in(self, namespace: str) -> str | None:
        """The dialect's URL with unqualified table names resolved in ``namespace`` (a
        PostgreSQL schema, a MySQL database), for a caller given ``namespace.table``; None
        where the engine has no such namespace (SQLite)."""
        return None

    # -- the source side -------------------------------------------------------------------

    def indexes(self, conn: Connection, table: sa.Table) -> list[IndexShape]:
        """The table's secondary indexes and unique constraints (not its primary key)."""
        insp = sa.inspect(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)  # expression indexes warn
            reflected = insp.get_indexes(table.name, schema=table.schema)
            uniques = insp.get_unique_constraints(table.name, schema=table.schema)
        out = [self.index_shape(dict(r)) for r in reflected]
        seen = {s.name for s in out}
        for u in uniques:
            name = u.get("name") or f"{table.name}_{'_'.join(u['column_names'])}_key"
            if name not in seen and u.get("duplicates_index") not in seen:
                out.append(IndexShape(name, tuple(u["column_names"]), True, name))
        return out

    def index_shape(self, reflected: dict[str, Any]) -> IndexShape:
        """One reflected index (SQLAlchemy's inspector form) in neutral terms."""
        names = tuple(reflected["column_names"])
        expressions = tuple(reflected.get("expressions") or ())
        if all(n is not None for n in names):
            expressions = ()
        sorting = reflected.get("column_sorting") or {}
        return IndexShape(
            name=str(reflected["name"]),
            columns=tuple(n for n in names if n is not None),
            unique=bool(reflected["unique"]),
            source=str(reflected["name"]),
            descending=frozenset(c for c, s in sorting.items() if "desc" in s),
            expressions=expressions,
        )

    def checks(self, conn: Connection, table: sa.Table) -> list[tuple[str | None, str]]:
        """The table's CHECK constraints: (name, SQL text in this engine's dialect)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)  # unknown types: plan findings
            found = sa.inspect(conn).get_check_constraints(table.name, schema=table.schema)
        return [(c.get("name"), str(c["sqltext"])) for c in found]

    def default_of(self, column: sa.Column[Any]) -> DefaultInfo | None:
        """The column's default in neutral terms (None: it has none)."""
        default = column.server_default
        text = getattr(getattr(default, "arg", None), "text", None)
        if default is None or not isinstance(text, str) or not text.strip():
            return None
        return classify_default(text.strip(), self.dialect.SQLGLOT)

    def generates(self, column: sa.Column[Any], table: sa.Table) -> bool:
        """Whether the engine fills this column when a row leaves it out (an identity,
        serial or auto-increment column)."""
        return column.identity is not None or column.autoincrement is True

    # -- partitioned tables ------------------------------------------------------------------

    def partitions(self, conn: Connection) -> dict[str, str]:
        """The tables (as ``get_table_names`` lists them) that are partitions, each mapped to
        its root partitioned table (a sub-partition too, not to its own parent). Empty where
        partitions are not tables (MySQL) or do not exist (SQLite)."""
        return {}

    def partitioning(self, conn: Connection, table: str) -> Partitioning | None:
        """How ``table`` is partitioned, or None when it is not."""
        return None

    def can_partition_as(self, scheme: Partitioning) -> bool:
        """Whether this engine creates a table partitioned as ``scheme`` (described by
        another database, maybe of another engine) says, with ``partitioned_table_kwargs``
        and ``create_partitions``."""
        return False

    def partitioned_table_kwargs(self, scheme: Partitioning) -> dict[str, Any]:
        """``sa.Table`` options making CREATE TABLE create it partitioned by ``scheme``'s key
        (only where ``can_partition_as``)."""
        raise NotImplementedError

    def create_partitions(self, conn: Connection, table: sa.Table, scheme: Partitioning) -> None:
        """Create ``scheme``'s partitions of ``table`` (created with
        ``partitioned_table_kwargs``) that do not exist yet, parents first."""
        raise NotImplementedError

    # -- the target side -------------------------------------------------------------------

    def probe_table(self, conn: Connection, table: sa.Table) -> None:
        """Create ``table`` as a temporary table under another name, drop it, and roll back:
        the server judges every type, default and CHECK as the real CREATE TABLE would, and
        raises its error if it refuses one (``plan`` finds ``decimal(100000,2)`` before
        anything is created). Nothing is left: a temporary table is the session's, dropped
        at once, and the connection's transaction is rolled back (where DDL is not
        transactional, the DROP is what removes it)."""
        probe = table.to_metadata(sa.MetaData(), name=f"dm_probe_{secrets.token_hex(6)}")
        probe._prefixes = ["TEMPORARY"]  # what CREATE TABLE puts after CREATE (no public setter)
        try:
            probe.create(conn)
            probe.drop(conn)
        finally:
            conn.rollback()

    def index_problem(self, shape: IndexShape, same_engine: bool) -> str | None:
        """Why this engine cannot make ``shape`` (None: it can)."""
        if shape.kind != "btree" and not same_engine:
            return f"a {shape.kind.upper()} index has no {self.dialect.NAME} equivalent"
        if shape.expressions and not same_engine:
            return "an index on expressions is written in the source engine's SQL"
        if shape.where and not same_engine:
            return "a partial index's condition is written in the source engine's SQL"
        return None

    def index_names(self, conn: Connection, table: sa.Table) -> set[str]:
        """Names of the table's indexes and unique constraints as they are now."""
        insp = sa.inspect(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            names = {i["name"] for i in insp.get_indexes(table.name, schema=table.schema)}
            uniques = insp.get_unique_constraints(table.name, schema=table.schema)
        return {str(n) for n in names | {u.get("name") for u in uniques} if n}

    def create_index(self, conn: Connection, table: sa.Table, shape: IndexShape) -> None:
        """Create ``shape`` on ``table`` (every column is one of ``table``'s)."""
        prefix = dict(shape.prefix)
        parts: list[Any] = [sa.text(e) for e in shape.expressions]
        for name in shape.columns if not shape.expressions else ():
            col: Any = table.c[name]
            if name in prefix:
                col = getattr(sa.func, self.PREFIX_FUNCTION)(col, 1, prefix[name])
            parts.append(col.desc() if name in shape.descending else col)
        kwargs = self.index_kwargs(shape)
        sa.Index(shape.name, *parts, unique=shape.unique, **kwargs).create(conn)

    def index_kwargs(self, shape: IndexShape) -> dict[str, Any]:
        """Engine options of ``sa.Index`` for ``shape`` (method, condition)."""
        return {}

    def render_default(self, info: DefaultInfo, type_: sa.types.TypeEngine[Any]) -> str | None:
        """``info`` as this engine's default SQL for a column of ``type_`` (None: none)."""
        if info.kind == "literal":
            literal = sa.literal(info.value, type_)
            compiled = literal.compile(
                dialect=self.dialect.engine.dialect, compile_kwargs={"literal_binds": True}
            )
            return str(compiled)
        if info.kind == "now":
            return "CURRENT_DATE" if isinstance(type_, sa.Date) else "CURRENT_TIMESTAMP"
        if info.kind == "today":
            return "CURRENT_DATE"
        return None

    def identity(
        self, type_: sa.types.TypeEngine[Any], first_key: bool, sole_key: bool
    ) -> tuple[sa.types.TypeEngine[Any], list[Any]] | None:
        """How a created column of ``type_`` is made to generate its values (its type and
        extra ``sa.Column`` arguments); None when this engine cannot for this column.
        ``first_key``/``sole_key``: the column is the first/only primary key column."""
        return None

    def add_foreign_key(self, conn: Connection, constraint: sa.ForeignKeyConstraint) -> None:
        """Add ``constraint`` without checking the rows already there (``validate`` does)."""
        conn.execute(AddConstraint(constraint))

    def validate_foreign_key(self, conn: Connection, fk: ForeignKeyRef) -> list[tuple[Any, ...]]:
        """Make the foreign key hold for every row, or name the rows it does not hold for
        (up to ``ORPHANS_SHOWN`` child keys with their values; empty: valid). This base checks
        the rows, for engines whose foreign keys carry no validity of their own."""
        return orphans(conn, fk)

    def foreign_key_validity(self, conn: Connection, table: sa.Table) -> dict[str, bool]:
        """Per foreign key of ``table``, whether the engine knows it holds for every row
        (empty where the engine records no such thing)."""
        return {}

    def acting_references(self, conn: Connection, table: sa.TableClause) -> list[str]:
        """Names of the foreign keys referencing ``table`` that would act on a row of it
        deleted and inserted again in one transaction before its commit (cascade, set NULL,
        or refuse it): ``sync`` moves a unique value out of a row's way only where there is
        none. This base: none, for sessions that do not enforce foreign keys (SQLite
        without ``PRAGMA foreign_keys``, MySQL with ``foreign_key_checks = 0``)."""
        return []

    def set_generator(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        """Set ``column``'s generator past its largest value; the next value it will give
        (None where the engine always takes the largest value plus one by itself)."""
        return None

    def next_generated(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        """The next value ``column``'s generator gives, without taking it (None: none, or
        the engine takes the largest value plus one by itself)."""
        return None


def orphans(
    conn: Connection, fk: ForeignKeyRef, limit: int = ORPHANS_SHOWN
) -> list[tuple[Any, ...]]:
    """Child rows whose non-NULL foreign key has no parent row: their keys, then values."""
    parent = fk.parent.alias("dm_parent")  # a self-reference must not be correlated away
    cols = [fk.child.c[c] for c in fk.columns]
    shown = [fk.child.c[k] for k in fk.key if k not in fk.columns] + cols
    missing = sa.and_(
        *[c.is_not(None) for c in cols],
        ~sa.exists().where(
            *[parent.c[p] == c for p, c in zip(fk.parent_columns, cols, strict=True)]
        ),
    )
    stmt = sa.select(*shown).select_from(fk.child).where(missing).limit(limit)
    return [tuple(r) for r in conn.execute(stmt)]


def classify_default(text: str, sqlglot_dialect: str) -> DefaultInfo:
    """A default's SQL text in neutral terms: a literal, the current time or date, or an
    expression (anything else, including what sqlglot cannot parse)."""
    try:
        node = sqlglot.parse_one(text, read=sqlglot_dialect or None)
    except sqlglot.errors.ParseError:
        return DefaultInfo("expression", text)
    while isinstance(node, exp.Paren | exp.Cast):
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
            target = node.to.this
            word = node.this.name.lower()
            if word in {"now", "today"} and target in {
                exp.DataType.Type.DATE,
                exp.DataType.Type.TIMESTAMP,
                exp.DataType.Type.TIMESTAMPTZ,
            }:
                return DefaultInfo("today" if target is exp.DataType.Type.DATE else "now", text)
        node = node.this
    if isinstance(node, exp.CurrentTimestamp | exp.Localtimestamp):
        return DefaultInfo("now", text)
    if isinstance(node, exp.Anonymous) and node.name.lower() in {
        "transaction_timestamp",
        "statement_timestamp",
        "localtimestamp",
    }:
        return DefaultInfo("now", text)
    if isinstance(node, exp.CurrentDate):
        return DefaultInfo("today", text)
    value = _literal(node)
    if value is not None:
        return DefaultInfo("literal", text, value)
    return DefaultInfo("expression", text)


def _literal(node: Any) -> Any:
    """The Python value of a literal node (None when it is not one)."""
    if isinstance(node, exp.Neg):
        inner = _literal(node.this)
        return -inner if isinstance(inner, int | Decimal) else None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.name
        number = Decimal(node.name)
        return number if "." in node.name or "e" in node.name.lower() else int(number)
    return None


def column_names(sql: str, sqlglot_dialect: str) -> set[str] | None:
    """The column names an expression reads (None: it cannot be parsed)."""
    try:
        node = sqlglot.parse_one(sql, read=sqlglot_dialect or None)
    except sqlglot.errors.ParseError:
        return None
    return {c.name for c in node.find_all(exp.Column)}


def rename_columns(sql: str, names: dict[str, str], source: str, target: str) -> str | None:
    """``sql`` (in the ``source`` engine's dialect) in ``target``'s, columns renamed per
    ``names``; None when it cannot be parsed or reads a column not in ``names``."""
    try:
        node = sqlglot.parse_one(sql, read=source or None)
    except sqlglot.errors.ParseError:
        return None
    for col in list(node.find_all(exp.Column)):
        if col.name not in names:
            return None
        col.replace(exp.column(names[col.name], quoted=True))
    try:
        return node.sql(dialect=target or None)
    except sqlglot.errors.SqlglotError:
        return None
