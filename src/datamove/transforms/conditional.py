"""``when``: a value kept only where the source row matches a SQL condition (SQL only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, kept_original, one_way

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect


class When(Transform):
    """``when: SQL`` — the value where the source row matches the SQL condition, else NULL.

    The condition is the source database's SQL over the source row (e.g. ``is_deleted = 1``),
    so this step is always computed by the source: it cannot follow a Python-only step. Soft
    deletes use it to fill the target's delete column.
    """

    name = "when"
    SQL_ONLY = True

    def validate(self) -> None:
        args = self.args if isinstance(self.args, dict) else {"sql": self.args}
        if set(args) - {"sql", "value"} or not isinstance(args.get("sql"), str):
            raise self.fail("when takes a SQL condition, or {sql: CONDITION, value: CONSTANT}")
        if isinstance(args.get("value"), dict | list):
            raise self.fail("when value must be a scalar")
        self.sql: str = args["sql"].strip()
        self.constant = args.get("value")
        if not self.sql:
            raise self.fail("when needs a SQL condition on the source row")

    def apply(self, value: Any) -> Any:
        return value  # computed by the source's SQL; Python sees the result

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        then = expr if self.constant is None else sa.literal(self.constant)
        return sa.case((sa.text(f"({self.sql})"), then), else_=sa.null())

    def output_type(self) -> sa.types.TypeEngine[Any] | None:
        if isinstance(self.constant, bool):
            return sa.Boolean()
        if isinstance(self.constant, int):
            return sa.BigInteger()
        if isinstance(self.constant, float):
            return sa.Float(53)
        return sa.Text() if isinstance(self.constant, str) else None

    def may_return_null(self) -> bool:
        return True

    def inversion(self, given: Given) -> Inversion:
        if self.constant is not None:
            return one_way(
                f"a marker computed by SQL from the source row ({self.sql}): nothing to write "
                "back; freeze it when the columns it reads are mapped"
            )
        return kept_original(f"the value is NULL where not {self.sql}: the original is lost")

    def describe(self) -> str:
        what = "the value" if self.constant is None else repr(self.constant)
        return f"{what} where {self.sql}, NULL elsewhere"
