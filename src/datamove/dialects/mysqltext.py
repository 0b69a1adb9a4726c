"""MySQL SQL that writes values as the canonical text of ``verify.canonical``.

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
    inherit_cache = True


@compiles(TrimTrailing)
def _compile_trim_trailing(element: TrimTrailing, compiler: Any, **kw: Any) -> str:
    chars, text = list(element.clauses)
    return f"TRIM(TRAILING {compiler.process(chars, **kw)} FROM {compiler.process(text, **kw)})"


class OwnText(sa.sql.functions.GenericFunction[str]):
    """A column whose own text is (or, trimmed, makes) its canonical form and is UTF-8 in a
    digest without a cast (a number, a DATETIME, a utf8mb3/utf8mb4 string): ``utf8_text(expr)``
    where a value is fetched; the bare column in a digest (``sql_digest_text``)."""

    name = "own_text"
    type = sa.String()
    inherit_cache = True


@compiles(OwnText)
def _compile_own_text(element: OwnText, compiler: Any, **kw: Any) -> str:
    (expr,) = element.clauses
    text: str = compiler.process(utf8_text(expr), **kw)
    return text


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
