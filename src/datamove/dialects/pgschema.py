"""PostgreSQL's schema objects: index methods and partial indexes, identity columns and their
sequences, foreign keys added ``NOT VALID`` and validated by the server."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint

from datamove.dialects.partitioning import Partition, Partitioning
from datamove.dialects.schemasql import ForeignKeyRef, IndexShape, SchemaSQL, orphans

_NEXTVAL = re.compile(r"nextval\('(?P<seq>(?:[^']|'')+)'(?:::regclass)?\)", re.IGNORECASE)
_FK_VIOLATION = "23503"


class PgSchemaSQL(SchemaSQL):
    def url_in(self, namespace: str) -> str:
        # search_path set at connect (libpq ``options``, kept by the dialect's engine
        # options): SQLAlchemy reads current_schema() once, before any "connect" event.
        url = sa.engine.make_url(self.dialect.url)
        path = '"' + namespace.replace('"', '""') + '"'
        escaped = path.replace("\\", "\\\\").replace(" ", "\\ ")
        options = f"{url.query.get('options', '')} -c search_path={escaped}".strip()
        return url.update_query_dict({"options": options}).render_as_string(hide_password=False)

    def index_shape(self, reflected: dict[str, Any]) -> IndexShape:
        shape = super().index_shape(reflected)
        options = reflected.get("dialect_options") or {}
        using = str(options.get("postgresql_using") or "btree").lower()
        where = options.get("postgresql_where")
        return IndexShape(
            shape.name,
            shape.columns,
            shape.unique,
            shape.source,
            kind=using,
            descending=shape.descending,
            expressions=shape.expressions,
            where=str(where) if where else None,
        )

    def index_kwargs(self, shape: IndexShape) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if shape.kind != "btree":
            kwargs["postgresql_using"] = shape.kind
        if shape.where:
            kwargs["postgresql_where"] = sa.text(shape.where)
        return kwargs

    def identity(
        self, type_: sa.types.TypeEngine[Any], first_key: bool, sole_key: bool
    ) -> tuple[sa.types.TypeEngine[Any], list[Any]] | None:
        # BY DEFAULT: the copy writes the source's values; the application's inserts get new.
        if isinstance(type_, sa.Integer):
            return type_, [sa.Identity()]
        return None

    def add_foreign_key(self, conn: Connection, constraint: sa.ForeignKeyConstraint) -> None:
        # NOT VALID: added at once (new rows are checked); VALIDATE checks the loaded rows
        # later, under a lock that does not stop writers.
        sql = str(AddConstraint(constraint).compile(dialect=self.dialect.engine.dialect))
        conn.exec_driver_sql(sql + " NOT VALID")

    def validate_foreign_key(self, conn: Connection, fk: ForeignKeyRef) -> list[tuple[Any, ...]]:
        table = self.dialect.quote_table(fk.child)
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} VALIDATE CONSTRAINT {self.dialect.quote(fk.name)}"
                )
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != _FK_VIOLATION:
                raise
            return orphans(conn, fk) or [("(the server found rows without a parent)",)]
        return []

    def foreign_key_validity(self, conn: Connection, table: sa.Table) -> dict[str, bool]:
        rows = conn.execute(
            sa.text(
                "SELECT conname, convalidated FROM pg_constraint "
                "WHERE conrelid = to_regclass(:t) AND contype = 'f'"
            ),
            {"t": self.dialect.quote_table(table)},
        )
        return {str(name): bool(valid) for name, valid in rows}

    def acting_references(self, conn: Connection, table: sa.TableClause) -> list[str]:
        # Only a deferrable NO ACTION key waits for the commit (``SET CONSTRAINTS ALL
        # DEFERRED``); any other action, and RESTRICT, happens at the delete.
        rows = conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE confrelid = to_regclass(:t) "
                "AND contype = 'f' AND (confdeltype <> 'a' OR NOT condeferrable) ORDER BY 1"
            ),
            {"t": self.dialect.quote_table(table)},
        )
        return [str(name) for (name,) in rows]

    def _sequence(self, conn: Connection, table: sa.Table, column: str) -> str | None:
        """The sequence behind ``column``: an identity's or a serial's, or the one its
        ``nextval`` default names."""
        found = conn.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
            {"t": self.dialect.quote_table(table), "c": column},
        ).scalar()
        if found:
            return str(found)
        default = conn.execute(
            sa.text(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
                "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = to_regclass(:t) AND a.attname = :c"
            ),
            {"t": self.dialect.quote_table(table), "c": column},
        ).scalar()
        match = _NEXTVAL.search(str(default or ""))
        return match.group("seq").replace("''", "'") if match else None

    def set_generator(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        sequence = self._sequence(conn, table, column)
        if sequence is None:
            return None
        largest = conn.execute(sa.select(sa.func.max(table.c[column]))).scalar()
        current = self._next(conn, sequence)
        wanted = max(int(largest) + 1 if largest is not None else 1, current)
        conn.execute(sa.text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": wanted})
        return wanted

    def next_generated(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        sequence = self._sequence(conn, table, column)
        return None if sequence is None else self._next(conn, sequence)

    @staticmethod
    def _next(conn: Connection, sequence: str) -> int:
        # The sequence's own row: pg_sequences shows no value before the first nextval.
        name, step = conn.execute(
            sa.text(
                "SELECT to_regclass(:s)::text, seqincrement FROM pg_sequence "
                "WHERE seqrelid = to_regclass(:s)"
            ),
            {"s": sequence},
        ).one()
        last, called = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {name}").one()
        return int(last) + (int(step) if called else 0)

    # -- partitioned tables ------------------------------------------------------------------

    def partitions(self, conn: Connection) -> dict[str, str]:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, r.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_class r ON r.oid = pg_partition_root(c.oid)"
                " WHERE c.relispartition AND c.relkind IN ('r', 'p', 'f')"
                " AND n.nspname = current_schema()"
            )
        )
        return {str(name): str(root) for name, root in rows}

    def partitioning(self, conn: Connection, table: str) -> Partitioning | None:
        """Declarative partitioning (``pg_get_partkeydef``); the key's columns are those the
        catalog records the table's key depending on (``pg_depend``), expressions included."""
        oid = conn.execute(
            sa.text("SELECT oid FROM pg_class WHERE oid = to_regclass(:t) AND relkind = 'p'"),
            {"t": self.dialect.quote(table)},
        ).scalar()
        if oid is None:
            return None
        key = conn.execute(sa.text("SELECT pg_get_partkeydef(:oid)"), {"oid": oid}).scalar_one()
        columns = conn.execute(
            sa.text(
                "SELECT a.attname FROM pg_depend d JOIN pg_attribute a"
                " ON a.attrelid = d.objid AND a.attnum = d.objsubid"
                " WHERE d.classid = 'pg_class'::regclass AND d.objid = :oid"
                " AND d.refobjid = :oid AND d.refobjsubid = 0 AND d.deptype = 'i'"
                " ORDER BY a.attnum"
            ),
            {"oid": oid},
        ).scalars()
        parts = conn.execute(
            sa.text(
                "SELECT c.relname, p.relname, pg_get_expr(c.relpartbound, c.oid),"
                " CASE c.relkind WHEN 'p' THEN pg_get_partkeydef(c.oid) END"
                " FROM pg_partition_tree(:oid) t JOIN pg_class c ON c.oid = t.relid"
                " JOIN pg_class p ON p.oid = t.parentrelid"
                " WHERE t.level > 0 ORDER BY t.level, c.relname"
            ),
            {"oid": oid},
        )
        return Partitioning(
            engine=self.dialect.NAME,
            key=str(key),
            columns=tuple(map(str, columns)),
            partitions=tuple(Partition(str(n), str(p), str(b), by) for n, p, b, by in parts),
        )

    def can_partition_as(self, scheme: Partitioning) -> bool:
        return scheme.engine == self.dialect.NAME

    def partitioned_table_kwargs(self, scheme: Partitioning) -> dict[str, Any]:
        return {"postgresql_partition_by": scheme.key}

    def create_partitions(self, conn: Connection, table: sa.Table, scheme: Partitioning) -> None:
        schema = f"{self.dialect.quote(table.schema)}." if table.schema else ""
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:  # no parameters: a '%' in a bound stays a '%'
            for part in scheme.partitions:
                by = f" PARTITION BY {part.partition_by}" if part.partition_by else ""
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {schema}{self.dialect.quote(part.name)} "
                    f"PARTITION OF {schema}{self.dialect.quote(part.parent)} {part.bound}{by}"
                )
