"""``sql``: a column computed by a SQL expression over the source row, transpiled by sqlglot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, invertible, one_way

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect


class Sql(Transform):
    """``sql: "EXPRESSION"`` or ``sql: {expr: EXPRESSION, dialect: mysql}``.

    An expression over the source row's columns (by name), written in PostgreSQL's SQL unless
    ``dialect`` says otherwise, and transpiled to the source's SQL (sqlglot): e.g.
    ``first_name || ' ' || last_name`` becomes ``CONCAT(...)`` on MySQL. Always computed by
    the source; it is the first step of its column's chain (its result replaces the value).
    """

    name = "sql"
    SQL_ONLY = True

    def validate(self) -> None:
        import sqlglot
        from sqlglot import exp

        args = self.args if isinstance(self.args, dict) else {"expr": self.args}
        if set(args) - {"expr", "dialect"} or not isinstance(args.get("expr"), str):
            raise self.fail("sql takes an expression, or {expr: EXPRESSION, dialect: DIALECT}")
        self.read = str(args.get("dialect", "postgres"))
        try:
            self.tree = sqlglot.parse_one(args["expr"], read=self.read)
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError) as exc:
            raise self.fail(f"cannot parse the SQL expression: {exc}") from None
        for column in self.tree.find_all(exp.Column):
            column.this.set("quoted", True)  # names are used as written, in every engine
        self.columns = sorted({c.name for c in self.tree.find_all(exp.Column)})

    def apply(self, value: Any) -> Any:
        return value  # computed by the source's SQL; Python sees the result

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        return sa.literal_column(f"({self.tree.sql(dialect=dialect.SQLGLOT)})")

    def may_return_null(self) -> bool:
        return True

    def inversion(self, given: Given) -> Inversion:
        from sqlglot import exp

        if isinstance(self.tree, exp.Column) and not self.tree.table:
            return invertible(
                f"the source column {self.tree.name}, as it is", "same", column=self.tree.name
            )
        return one_way(f"the SQL expression {self.tree.sql(dialect=self.read)} has no inverse")

    def describe(self) -> str:
        return f"computed by the SQL expression {self.tree.sql(dialect=self.read)}"
