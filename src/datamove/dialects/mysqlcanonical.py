"""MySQL and MariaDB SQL that writes values as the canonical text of ``core.canonical``, and
its row digests; the expression builders it shares are in ``mysqltext``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.visitors import replacement_traverse

from datamove.core.canonical import Canon, Frame
from datamove.core.types import TypeInfo
from datamove.dialects.canonsql import CanonicalSQL, plain_column
from datamove.dialects.mysqltext import (
    OwnText,
    TrimBoth,
    TrimLeading,
    no_negative_zero,
    trim_fraction,
    trim_zeros,
    utf8_text,
)
from datamove.dialects.mysqlvalues import bit_value, bit_width, unread


class MySQLCanonicalSQL(CanonicalSQL):
    """MySQL's canonical SQL: a column's own text where it is already canonical (no cast in a
    digest), no fenced layers, one core per query."""

    FENCED_LAYERS = False  # a fenced derived table is materialized: 2x slower than recomputing
    ONE_CORE_PER_QUERY = True
    NATIVE_JSON_CANONICAL = True

    def text(
        self, expr: sa.ColumnElement[Any], canon: Canon, info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        expr = unread(expr)  # a date read as its text compares as the date itself
        kind = info.kind if info is not None else "text"
        plain = plain_column(expr)
        if bit_width(info) is not None:
            # A BIT compares as its bytes or as the number it holds, whatever it is read as.
            kind = "binary" if canon.kind == "bytes" else "integer"
            expr, plain = bit_value(expr, kind), False
        if canon.kind in {"integer", "boolean"}:
            if kind == "boolean" or canon.kind == "boolean":
                return sa.case((expr != 0, "1"), (expr == 0, "0"))
            if kind == "integer" and plain:
                # An integer column's text has no fraction and no -0 to trim (the trimming
                # CASE costs ~15% of a checksum scan's CPU on the orders benchmark).
                return OwnText(expr)
            return trim_zeros(utf8_text(self._exact(expr, kind)))
        if canon.kind == "decimal":
            if plain and kind == "decimal" and info is not None and info.scale == canon.scale:
                # DECIMAL(p, s) prints exactly s digits, and stores no -0.
                return OwnText(expr)
            exact = self._exact(expr, kind)
            if canon.scale is None:
                return trim_zeros(utf8_text(exact))
            rounded = sa.cast(sa.func.round(exact, canon.scale), mysql.DECIMAL(65, canon.scale))
            return no_negative_zero(utf8_text(rounded))
        if canon.kind == "float":
            return self._float_canonical(expr, canon, kind)
        if canon.kind in {"char", "text"}:
            utf8 = plain and info is not None and (info.charset or "").startswith("utf8")
            text = OwnText(expr) if utf8 else utf8_text(expr)
            return sa.func.rtrim(text) if canon.kind == "char" else text
        if canon.kind == "date":
            return sa.func.date_format(expr, "%Y-%m-%d")
        if canon.kind == "time":
            return sa.func.time_format(expr, "%H:%i:%s.%f")
        if canon.kind == "timestamp":
            # The session is UTC. A DATETIME(p) prints p fractional digits (none for p = 0),
            # DATE_FORMAT six: trailing zeros and a bare point are trimmed after the point.
            if plain and kind == "timestamp" and info is not None and info.precision is not None:
                own = OwnText(expr)
                return trim_fraction(own) if info.precision else own
            return trim_fraction(sa.func.date_format(expr, "%Y-%m-%d %H:%i:%s.%f"))
        if canon.kind == "json":
            return self._json_canonical(expr)
        if canon.kind == "bytes":
            return sa.func.lower(sa.func.hex(expr))
        if canon.kind == "uuid":
            return sa.func.lower(utf8_text(expr))
        return None

    def digest_text(self, canonical: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # CONCAT writes a number or a DATETIME as CAST does, and a UTF-8 column's text is
        # already UTF-8 bytes: the bare columns save the casts (~20% of the orders benchmark's
        # scan). A DATETIME's text is trimmed as bytes (ASCII): TRIM on utf8mb4 text cost
        # 0.33 s more per two columns and 1M rows.
        def bare(element: Any, **_: Any) -> Any:
            if not isinstance(element, OwnText):
                return None
            (column,) = element.clauses
            temporal = isinstance(column.type, sa.DateTime)
            return sa.cast(column, sa.LargeBinary) if temporal else column

        digested: sa.ColumnElement[Any] = replacement_traverse(canonical, {}, bare)
        return digested

    def utf8(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # A utf8mb3/utf8mb4 column (MariaDB's JSON among them) holds UTF-8 bytes already: one
        # cast, not two (0.2 s less per 1M documents).
        charset = str(getattr(expr.type, "charset", None) or "").lower()
        if isinstance(expr, sa.Column) and charset.startswith("utf8"):
            return sa.cast(expr, sa.LargeBinary)
        return super().utf8(expr)

    def random(self) -> sa.ColumnElement[Any]:
        return sa.func.rand()

    def _json_canonical(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # MariaDB (also behind a mysql:// URL) has no JSON type to cast to, but normalizes.
        if getattr(self.dialect.engine.dialect, "is_mariadb", False):
            return sa.func.json_normalize(expr)
        return utf8_text(sa.cast(expr, sa.JSON))

    @staticmethod
    def _exact(expr: sa.ColumnElement[Any], kind: str) -> sa.ColumnElement[Any]:
        """``expr`` as DECIMAL; a float at its shortest text form (see ``canonical``)."""
        if kind == "float":
            return sa.cast(utf8_text(expr), mysql.DECIMAL(65, 30))
        return expr

    def _float_canonical(
        self, expr: sa.ColumnElement[Any], canon: Canon, kind: str
    ) -> sa.ColumnElement[Any]:
        # The shortest text splits into a mantissa of at most 17 digits, which DECIMAL(65,38)
        # holds exactly even written out (MariaDB writes 3.3e-15 with 31 decimals), and an
        # exponent: any double, 5e-324 to 1.8e308, rounds exactly, in DECIMAL. (It was cast
        # whole to DECIMAL(65,30), which cut digits first and rounded twice.)
        text = utf8_text(expr)
        mantissa = sa.func.abs(
            sa.cast(sa.func.substring_index(text, "e", 1), mysql.DECIMAL(65, _SCALE))
        )
        written = sa.cast(sa.func.substring_index(text, "e", -1), mysql.INTEGER())
        shift = sa.case((sa.func.locate("e", text) > 0, written), else_=0)
        rounded = sa.func.round(mantissa, canon.digits - 1 - _exponent(mantissa))
        digits = TrimBoth(sa.literal("0"), sa.func.replace(utf8_text(rounded), ".", ""))
        rest = sa.func.substr(digits, 2)
        return sa.case(
            (expr == 0, "0"),
            else_=sa.func.concat(
                sa.case((expr < 0, "-"), else_=""),
                sa.func.left(digits, 1),
                sa.case((rest == "", ""), else_=sa.func.concat(".", rest)),
                "e",
                _exponent(rounded) + shift,
            ),
        )

    def int_div(self, a: sa.ColumnElement[Any], b: int) -> sa.ColumnElement[Any]:
        return a.self_group().op("DIV")(b)  # // is FLOOR(a / b): DECIMAL, ~20% of a scan

    def digest_part(self, p: sa.ColumnElement[Any], frame: Frame) -> sa.ColumnElement[Any]:
        """CONCAT is NULL when a part is: coalesce() gives a NULL part's ``-`` with each
        value computed twice at most (a CASE computes it three times: no fenced layers)."""
        if frame != "none":
            p = sa.func.concat(*([sa.func.char_length(p)] if frame == "length" else []), ":", p)
        return sa.func.coalesce(p, "-")

    def hex_int(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.cast(sa.func.conv(expr, 16, 10), mysql.INTEGER(unsigned=True))


_SCALE = 38
"""MySQL's largest DECIMAL scale: a float's mantissa written out needs up to 32 decimals."""


def _exponent(m: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The decimal exponent of a positive DECIMAL, from its digits: ``123.4`` → 2,
    ``0.00123`` → -3."""
    text = utf8_text(m)
    fraction = sa.func.substring_index(text, ".", -1)
    zeros = sa.func.length(fraction) - sa.func.length(TrimLeading(sa.literal("0"), fraction))
    return sa.case(
        (m >= 1, sa.func.length(sa.func.substring_index(text, ".", 1)) - 1),
        else_=-zeros - 1,
    )
