"""MySQL's and MariaDB's schema objects: FULLTEXT, SPATIAL, prefix and descending indexes read
from the catalog, AUTO_INCREMENT columns and their counters."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.partitioning import Partition, Partitioning
from datamove.dialects.schemasql import DefaultInfo, IndexShape, SchemaSQL

_KINDS = {"FULLTEXT": "fulltext", "SPATIAL": "spatial"}
_BACKQUOTED = re.compile(r"`((?:[^`]|``)+)`")


class MySQLSchemaSQL(SchemaSQL):
    def url_in(self, namespace: str) -> str:
        # A MySQL schema is a database: the connection's default database resolves names.
        url = sa.engine.make_url(self.dialect.url).set(database=namespace)
        return url.render_as_string(hide_password=False)

    def indexes(self, conn: Connection, table: sa.Table) -> list[IndexShape]:
        # The catalog, not SQLAlchemy's reflection: it knows descending columns and keeps
        # prefixes, FULLTEXT and SPATIAL together.
        rows = conn.execute(
            sa.text(
                "SELECT index_name, column_name, sub_part, collation, non_unique, index_type "
                "FROM information_schema.statistics "
                "WHERE table_schema = DATABASE() AND table_name = :t AND index_name <> 'PRIMARY' "
                "ORDER BY index_name, seq_in_index"
            ),
            {"t": table.name},
        ).all()
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(str(row.index_name), []).append(row)
        out = []
        for name, parts in grouped.items():
            first = parts[0]
            out.append(
                IndexShape(
                    name=name,
                    columns=tuple(str(p.column_name) for p in parts),
                    unique=not int(first.non_unique),
                    source=name,
                    kind=_KINDS.get(str(first.index_type).upper(), "btree"),
                    descending=frozenset(str(p.column_name) for p in parts if p.collation == "D"),
                    prefix=tuple(
                        (str(p.column_name), int(p.sub_part)) for p in parts if p.sub_part
                    ),
                )
            )
        return out

    def index_problem(self, shape: IndexShape, same_engine: bool) -> str | None:
        if shape.kind in {"fulltext", "spatial"} and same_engine:
            return None
        return super().index_problem(shape, same_engine)

    def create_index(self, conn: Connection, table: sa.Table, shape: IndexShape) -> None:
        # Written out: SQLAlchemy cannot combine a prefix length with DESC.
        q, prefix = self.dialect.quote, dict(shape.prefix)
        parts = [
            q(c)
            + (f"({prefix[c]})" if c in prefix else "")
            + (" DESC" if c in shape.descending else "")
            for c in shape.columns
        ]
        kind = "UNIQUE " if shape.unique else ""
        if shape.kind in _KINDS.values():
            kind = shape.kind.upper() + " "
        conn.exec_driver_sql(
            f"CREATE {kind}INDEX {q(shape.name)} ON {q(table.name)} ({', '.join(parts)})"
        )

    def render_default(self, info: DefaultInfo, type_: sa.types.TypeEngine[Any]) -> str | None:
        if info.kind == "now" and isinstance(type_, sa.DateTime):
            fsp = getattr(type_, "fsp", None)  # the default's precision must be the column's
            return f"CURRENT_TIMESTAMP({fsp})" if fsp else "CURRENT_TIMESTAMP"
        if info.kind in {"now", "today"} and isinstance(type_, sa.Date):
            return "(CURRENT_DATE)"
        return super().render_default(info, type_)

    def identity(
        self, type_: sa.types.TypeEngine[Any], first_key: bool, sole_key: bool
    ) -> tuple[sa.types.TypeEngine[Any], list[Any]] | None:
        # AUTO_INCREMENT must lead an index: the primary key's first column.
        if first_key and isinstance(type_, sa.Integer):
            return type_, []
        return None

    def set_generator(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        if not self._auto(conn, table, column):
            return None
        largest = conn.execute(sa.select(sa.func.max(table.c[column]))).scalar()
        wanted = int(largest) + 1 if largest is not None else 1
        # InnoDB never sets the counter below the largest value plus one.
        name = self.dialect.quote(table.name)
        conn.exec_driver_sql(f"ALTER TABLE {name} AUTO_INCREMENT = {int(wanted)}")
        return self.next_generated(conn, table, column)

    def next_generated(self, conn: Connection, table: sa.Table, column: str) -> int | None:
        if not self._auto(conn, table, column):
            return None
        value = conn.execute(
            sa.text(
                "SELECT auto_increment FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = :t"
            ),
            {"t": table.name},
        ).scalar()
        return None if value is None else int(value)

    @staticmethod
    def _auto(conn: Connection, table: sa.Table, column: str) -> bool:
        extra = conn.execute(
            sa.text(
                "SELECT extra FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = :t AND column_name = :c"
            ),
            {"t": table.name, "c": column},
        ).scalar()
        return "auto_increment" in str(extra or "").lower()

    def partitioning(self, conn: Connection, table: str) -> Partitioning | None:
        """MySQL partitions (``information_schema.PARTITIONS``); they are not tables, so
        ``partitions`` stays empty. The key's columns are the backquoted names in its
        expressions (none for ``KEY ()``, which partitions by the primary key)."""
        rows = conn.execute(
            sa.text(
                "SELECT partition_name, subpartition_name, partition_method, partition_expression,"
                " subpartition_method, subpartition_expression, partition_description"
                " FROM information_schema.partitions WHERE table_schema = DATABASE()"
                " AND table_name = :t AND partition_name IS NOT NULL"
                " ORDER BY partition_ordinal_position, subpartition_ordinal_position"
            ),
            {"t": table},
        ).all()
        if not rows:
            return None
        _, _, method, expression, sub_method, sub_expression, _ = rows[0]
        key = f"{method} ({expression or ''})"
        if sub_method:
            key += f" SUBPARTITION BY {sub_method} ({sub_expression or ''})"
        parts = {r[0]: Partition(r[0], table, r[6] or "") for r in rows}
        subs = [Partition(r[1], r[0], "") for r in rows if r[1]]
        names = _BACKQUOTED.findall(f"{expression or ''} {sub_expression or ''}")
        return Partitioning(
            engine=self.dialect.NAME,
            key=key,
            columns=tuple(dict.fromkeys(n.replace("``", "`") for n in names)),
            partitions=(*parts.values(), *subs),
        )
