"""The SQL transforms push down, engine by engine: each expression computes in the database
exactly what the transform computes in Python, or is None (Python computes it).

Each ``Dialect`` owns one ``PushdownSQL`` (``dialect.pushdown``). It is stateless: it builds
expressions, compiled later by its dialect's engine. This base class is the SQL that several
engines share; each engine's module overrides the rest next to its dialect.
``tests/transforms/test_pushdown.py`` holds each expression to its transform's Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect


class PushdownSQL:
    """The transform-pushdown SQL of one engine (this base: what several engines share)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def round(
        self, expr: sa.ColumnElement[Any], places: int, mode: str
    ) -> sa.ColumnElement[Any] | None:
        """Exact decimal rounding of ``expr`` to ``places`` in ``mode`` (see ``round``)."""
        return None

    def normalize(self, expr: sa.ColumnElement[Any], form: str) -> sa.ColumnElement[Any] | None:
        """Unicode normalization of ``expr`` to ``form`` (NFC, NFD, NFKC, NFKD)."""
        return None

    def same_text(self, expr: sa.ColumnElement[Any], value: str) -> sa.ColumnElement[bool]:
        """``expr`` equals the text ``value`` exactly (no collation padding or folding)."""
        same: sa.ColumnElement[bool] = expr == sa.literal(value)
        return same

    def text_form(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any] | None:
        """``expr``'s text form as ``transforms.values.text_form`` writes it."""
        return sa.cast(expr, sa.Text)

    def concat(self, parts: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        """Text concatenation of non-NULL ``parts`` (verify's row digests use it too)."""
        return sa.func.concat(*parts)
