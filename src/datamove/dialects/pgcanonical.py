"""PostgreSQL SQL that writes values as the canonical text of ``core.canonical``, and its
row digests (between two PostgreSQL databases, ``pghash``'s native hash where it can)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from datamove.core.canonical import DIGEST_HEX, Canon, Frame, frames_of
from datamove.core.types import TypeInfo
from datamove.dialects import pghash
from datamove.dialects.canonsql import CanonicalSQL, NativeHash, plain_column


class PgCanonicalSQL(CanonicalSQL):
    """PostgreSQL's canonical SQL: text casts where they are already canonical (cheaper than
    ``format``), numerics through ``numeric``, digests joined with ``||``."""

    NATIVE_HASH: ClassVar[NativeHash | None] = pghash

    NATIVE_JSON_CANONICAL = True  # jsonb text: keys ordered and de-duplicated by the server

    def utf8(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # text::bytea would read backslashes as escapes; convert_to takes the text as it is.
        return sa.func.convert_to(sa.cast(expr, sa.Text), "UTF8", type_=sa.LargeBinary)

    def text(
        self, expr: sa.ColumnElement[Any], canon: Canon, info: TypeInfo | None
    ) -> sa.ColumnElement[Any] | None:
        kind = info.kind if info is not None else "text"
        if info is not None and plain_column(expr):
            # A column of exactly the type ``info`` describes: its text cast is already the
            # canonical form, cheaper than format() or round() (same result; ~0.3 s of CPU
            # per million rows on the orders benchmark).
            if canon.kind == "text" and kind in {"string", "text"} and not info.fixed:
                return _text(expr)
            if canon.kind == "char" and kind == "string" and info.fixed:
                return _text(expr)  # character(n) to text drops the trailing spaces
            if (
                canon.kind == "decimal"
                and kind == "decimal"
                and canon.scale is not None
                and info.scale == canon.scale
            ):
                return _text(expr)  # numeric(p, s) prints exactly s digits
        if canon.kind in {"integer", "boolean"}:
            if kind == "boolean":
                return sa.case((expr, "1"), (sa.not_(expr), "0"))
            if canon.kind == "boolean":
                return sa.case((expr != 0, "1"), (expr == 0, "0"))
            if kind == "integer":
                return _text(expr)
            return _text(sa.func.trim_scale(self._exact(expr, kind)))
        if canon.kind == "decimal":
            exact = self._exact(expr, kind)
            if canon.scale is None:
                return _text(sa.func.trim_scale(exact))
            return _text(sa.func.round(exact, canon.scale))
        if canon.kind == "float":
            return self._float_canonical(expr, canon, kind)
        if canon.kind == "char":
            return sa.func.rtrim(_text(expr), " ")
        if canon.kind == "text":
            # format() renders with the type's output function: CHAR(n) keeps its padding,
            # as COPY wrote it into the target.
            return sa.case((expr.is_(None), sa.null()), else_=sa.func.format("%s", expr))
        if canon.kind == "date":
            return sa.func.to_char(expr, "YYYY-MM-DD")
        if canon.kind == "time":
            return sa.func.to_char(sa.cast(expr, pg.INTERVAL), "HH24:MI:SS.US")
        if canon.kind == "timestamp":
            # The ISO output (the session's DateStyle) is the canonical text for years 1-9999,
            # at a third of to_char's cost.
            if info is not None and info.timezone:
                expr = sa.func.timezone("UTC", expr)
            elif not (plain_column(expr) and info is not None and info.kind == "timestamp"):
                expr = sa.cast(expr, pg.TIMESTAMP())
            return _text(expr)
        if canon.kind == "json":
            return _text(sa.cast(expr, pg.JSONB))
        if canon.kind == "bytes":
            return sa.func.encode(expr, "hex")
        if canon.kind == "uuid":
            return sa.func.lower(_text(expr))
        return None

    @staticmethod
    def _exact(expr: sa.ColumnElement[Any], kind: str) -> sa.ColumnElement[Any]:
        """``expr`` as numeric; a float at its shortest text form (see ``canonical``)."""
        if kind == "float":
            expr = sa.cast(expr, sa.Text)
        return sa.cast(expr, sa.Numeric)

    def _float_canonical(
        self, expr: sa.ColumnElement[Any], canon: Canon, kind: str
    ) -> sa.ColumnElement[Any]:
        # All in numeric, whose text is exact at any magnitude (1e-300, 5e-324, 1e300): the
        # exponent is read off the digits, never off a log (a double's log10 of a value just
        # below a power of ten rounds up), and the rounding is a numeric one.
        n = self._exact(expr, kind)
        rounded = sa.func.round(sa.func.abs(n), canon.digits - 1 - _exponent(sa.func.abs(n)))
        digits = sa.func.rtrim(sa.func.ltrim(sa.func.replace(_text(rounded), ".", ""), "0"), "0")
        rest = sa.func.substr(digits, 2)
        special = sa.cast(expr, sa.Text)
        return sa.case(
            (expr.is_(None), sa.null()),
            (special == "NaN", "nan"),
            (special == "Infinity", "inf"),
            (special == "-Infinity", "-inf"),
            (n == 0, "0"),
            else_=sa.func.concat(
                sa.case((n < 0, "-"), else_=""),
                sa.func.left(digits, 1),
                sa.case((rest == "", ""), else_=sa.func.concat(".", rest)),
                "e",
                _text(_exponent(rounded)),
            ),
        )

    def hex_int(self, expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        bits = sa.cast(sa.literal("x") + expr, pg.BIT(4 * DIGEST_HEX))
        return sa.cast(bits, sa.BigInteger)

    def row_hash(
        self, parts: Sequence[sa.ColumnElement[Any]], frames: Sequence[bool]
    ) -> sa.ColumnElement[Any]:
        """The base class's encoding joined with ``||``, not the variadic concat() call
        (~15% of the CPU of a checksum scan)."""
        encoded = [self.digest_part(p, f) for p, f in zip(parts, frames_of(frames), strict=True)]
        out = encoded[0]
        for e in encoded[1:]:
            out = out.op("||")(sa.literal("|")).op("||")(e)
        return sa.func.md5(out)

    def digest_part(self, p: sa.ColumnElement[Any], frame: Frame) -> sa.ColumnElement[Any]:
        # ``||`` propagates NULL, so coalesce() gives a NULL part's ``-`` with no CASE.
        if frame == "length":
            p = _text(sa.func.char_length(p)).op("||")(sa.literal(":")).op("||")(p)
        elif frame == "prefix":
            p = sa.literal(":").op("||")(p)
        return sa.func.coalesce(p, "-")


def _text(expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(expr, sa.Text)


def _exponent(m: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The decimal exponent of a positive numeric, from its digits: ``123.4`` → 2,
    ``0.00123`` → -3."""
    zeros = sa.func.substring(_text(m), r"^0\.(0*)")
    return sa.case(
        (m >= 1, sa.func.length(_text(sa.func.trunc(m))) - 1),
        else_=-sa.func.length(zeros) - 1,
    )
