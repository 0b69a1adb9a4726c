"""MySQL SQL that writes values as the canonical text of ``core.canonical``.

Kept apart from the dialect: small expression builders shared by its canonical forms, each
exact for every value of its column type (the conformance test holds them).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles


class TrimTrailing(sa.sql.functions.GenericFunction[Any]):
    """``TRIM(TRAILING chars FROM text)``."""

    name = "trim_trailing"
    side = "TRAILING"
    inherit_cache = True


class TrimLeading(TrimTrailing):
    """``TRIM(LEADING chars FROM text)``."""

    name = "trim_leading"
    side = "LEADING"
    inherit_cache = True


class TrimBoth(TrimTrailing):
    """``TRIM(BOTH chars FROM text)``."""

    name = "trim_both"
    side = "BOTH"
    inherit_cache = True


@compiles(TrimTrailing)
@compiles(TrimLeading)
@compiles(TrimBoth)
def _compile_trim(element: TrimTrailing, compiler: Any, **kw: Any) -> str:
    chars, text = list(element.clauses)
    where = f"{compiler.process(chars, **kw)} FROM {compiler.process(text, **kw)}"
    return f"TRIM({element.side} {where})"


class OwnText(sa.sql.functions.GenericFunction[str]):
    """A column whose own text is (or, trimmed, makes) its canonical form and is UTF-8 in a
    digest without a cast (a number, a DATETIME, a utf8mb3/utf8mb4 string): ``utf8_text(expr)``
    where a value is fetched; the bare column in a digest (``MySQLCanonicalSQL.digest_text``)."""

    name = "own_text"
    type = sa.String()
    inherit_cache = True


@compiles(OwnText)
def _compile_own_text(element: OwnText, compiler: Any, **kw: Any) -> str:
    (expr,) = element.clauses
    text: str = compiler.process(utf8_text(expr), **kw)
    return text


class ConvertUsing(sa.sql.functions.GenericFunction[str]):
    """``CONVERT(text USING charset)``: ``text`` in another character set (the server writes
    '?' for a character that set has no form for)."""

    name = "convert_using"
    type = sa.String()
    inherit_cache = True

    def __init__(self, text: sa.ColumnElement[Any], charset: str) -> None:
        quoted = "`" + charset.replace("`", "``") + "`"  # a name from the catalog, quoted
        super().__init__(text, sa.literal_column(quoted))


@compiles(ConvertUsing)
def _compile_convert_using(element: ConvertUsing, compiler: Any, **kw: Any) -> str:
    text, charset = (compiler.process(c, **kw) for c in element.clauses)
    return f"CONVERT({text} USING {charset})"


def first_unconvertible(text: sa.ColumnElement[Any], charset: str) -> sa.ColumnElement[Any]:
    """NULL where ``text`` (a column in ``charset``) has a Unicode form, NULL included; else
    the hex of the stored bytes of its first character without one.

    A value the round trip through utf8mb4 gives back byte for byte has one (~0.1 s per 1M
    values more than the conversion the server makes anyway). A value it changes either lost
    a character (written as '?', or U+FFFD where the charset's table says so: big5, tis620)
    or holds one of two byte sequences the charset maps to one character (cp932's ED40 and
    FA5C): with the value's own '?' replaced first, any '?' or U+FFFD left in its utf8mb4
    form is a lost character, at the same character position.
    """
    unicode = ConvertUsing(text, "utf8mb4")
    same = sa.func.binary(ConvertUsing(unicode, charset)) == sa.func.binary(text)
    marked = ConvertUsing(sa.func.replace(text, "?", "x"), "utf8mb4").collate("utf8mb4_bin")
    mark, replacement = sa.func.locate("?", marked), sa.func.locate("\ufffd", marked)
    first = sa.case(
        ((replacement == 0) | ((mark > 0) & (mark < replacement)), mark), else_=replacement
    )
    return sa.case(
        (same, sa.null()),
        ((mark > 0) | (replacement > 0), sa.func.hex(sa.func.substring(text, first, 1))),
        else_=sa.null(),
    )


def utf8_text(expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """Text in utf8mb4, so a digest hashes the same UTF-8 bytes as on any other engine."""
    return sa.cast(expr, mysql.CHAR(charset="utf8mb4"))


def trim_zeros(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A decimal's text without trailing fractional zeros, ``-0`` as ``0``."""
    trimmed = sa.case(
        (sa.func.locate(".", text) > 0, TrimTrailing(".", TrimTrailing("0", text))),
        else_=text,
    )
    return no_negative_zero(trimmed)


def trim_fraction(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A timestamp's text with a fraction (``.`` and 1-6 digits) as ``canonical`` writes it:
    no trailing zeros, no point without digits."""
    return TrimTrailing(".", TrimTrailing("0", text))


def no_negative_zero(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``-0.00`` (which MySQL can print for a rounded tiny negative) as ``0.00``."""
    digits = sa.func.replace(sa.func.replace(text, "0", ""), ".", "")
    return sa.case((digits == "-", sa.func.substr(text, 2)), else_=text)
