"""``concat``: several source columns joined into one text, with the same result on every engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, kept_original

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect

NULLS = ("skip", "null")


class Concat(Transform):
    """``concat: {columns: [first_name, last_name], separator: " ", nulls: skip | null}``

    The parts are source columns (text or integers), in order, with ``separator`` between
    them (default: none). ``nulls: skip`` (default) leaves NULL parts out, as SQL's concat_ws
    does, and the result is NULL only when every part is; ``nulls: null`` makes the result
    NULL when any part is. An empty string is a part like any other. ``concat: [a, b]`` is
    short for ``{columns: [a, b]}``.

    Like ``sql``, it makes the column's value: it is the first step of its chain (later steps
    see the joined text) and the column has no ``from``. The source computes it, on every
    engine: ``join`` is the contract in Python, and tests hold each engine's SQL to it.
    """

    name = "concat"
    SQL_ONLY = True

    def validate(self) -> None:
        args = {"columns": self.args} if isinstance(self.args, list) else self.args
        if not isinstance(args, dict) or set(args) - {"columns", "separator", "nulls"}:
            raise self.fail(
                "concat takes {columns: [A, B, ...], separator: TEXT, nulls: skip|null}"
            )
        columns = args.get("columns")
        if (
            not isinstance(columns, list)
            or len(columns) < 2
            or not all(isinstance(c, str) and c for c in columns)
        ):
            raise self.fail("concat needs columns: a list of at least two source column names")
        separator = args.get("separator", "")
        if not isinstance(separator, str):
            raise self.fail(f"concat separator must be text (quote it): {separator!r}")
        nulls = args.get("nulls", "skip")
        nulls = "null" if nulls is None else nulls  # YAML reads an unquoted `null` as None
        if nulls not in NULLS:
            raise self.fail(f"concat nulls is skip or null, not {nulls!r}")
        self.columns: list[str] = columns
        self.separator: str = separator
        self.skip_nulls = nulls == "skip"

    def join(self, parts: Sequence[Any]) -> str | None:
        """The contract: ``parts`` (values of ``columns`` as the source returns them) joined."""
        if not self.skip_nulls and any(p is None for p in parts):
            return None
        present = [_text(p) for p in parts if p is not None]
        return self.separator.join(present) if present else None

    def apply(self, value: Any) -> Any:
        return value  # computed by the source's SQL; Python sees the result

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        parts: list[ColumnElement[Any]] = [sa.column(name) for name in self.columns]
        separator = sa.literal(self.separator, sa.Text)
        if not self.skip_nulls:
            body = [parts[0]]
            for part in parts[1:]:
                body += [separator, part] if self.separator else [part]
            any_null = sa.or_(*(p.is_(None) for p in parts))
            return sa.case((any_null, sa.null()), else_=dialect.pushdown.concat(body))
        # Every part after its separator, or nothing when NULL; then the first separator off.
        empty = sa.literal("", sa.Text)
        pieces = [
            sa.case((p.is_(None), empty), else_=dialect.pushdown.concat([separator, p]))
            if self.separator
            else sa.func.coalesce(p, empty)
            for p in parts
        ]
        joined = dialect.pushdown.concat(pieces)
        if self.separator:
            joined = sa.func.substr(joined, len(self.separator) + 1)
        all_null = sa.and_(*(p.is_(None) for p in parts))
        return sa.case((all_null, sa.null()), else_=joined)

    def nullable_after(self, nullable: bool) -> bool:
        return nullable  # the resolver passes the parts' nullability (``result_nullable``)

    def result_nullable(self, parts_nullable: Sequence[bool]) -> bool:
        """Whether the result can be NULL, given which parts can."""
        return all(parts_nullable) if self.skip_nulls else any(parts_nullable)

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def inversion(self, given: Given) -> Inversion:
        return kept_original(
            f"the parts of {', '.join(self.columns)} cannot be told apart once joined (a part "
            "may hold the separator, a NULL part may be left out)"
        )

    def describe(self) -> str:
        names = ", ".join(self.columns[:-1]) + f" and {self.columns[-1]}"
        how = f"joined by {self.separator!r}" if self.separator else "joined"
        nulls = (
            "NULL parts left out; NULL when all are NULL"
            if self.skip_nulls
            else "NULL when any of them is NULL"
        )
        return f"the texts of {names} {how} ({nulls})"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RowError(None, f"concat: expected text or an integer, got {type(value).__name__}", value)
