"""How MySQL's values are read where the driver's own reading would lose or vary: a BIT as
what its target column holds, a date as the server's text (zero dates are rejects)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from datamove.core.types import Kind, TypeInfo
from datamove.dialects.adapters import Adapter
from datamove.errors import RowError


class ServerText(sa.sql.elements.Cast[str]):
    """A date or timestamp read as the server's own text (``CAST(col AS CHAR)``): the driver
    would turn a zero date into None. Its canonical form is the column's own (``unread``)."""

    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        super().__init__(column, sa.CHAR)
        self.column = column


def unread(expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column behind a ``ServerText`` read (its text is the value's), else ``expr``."""
    if isinstance(expr, ServerText):
        column: sa.ColumnElement[Any] = expr.column
        return column
    return expr


def bit_info(t: mysql.BIT, label: str) -> TypeInfo:
    """A BIT(n) column as classified: BIT(1) a boolean, a wider one the unsigned integer
    0..2^n-1 it holds (``read_as`` may read it as either, or as bytes)."""
    n = t.length or 1
    kind: Kind = "boolean" if n == 1 else "integer"
    note = "one bit as a boolean" if n == 1 else f"the bits as an unsigned integer (0..2^{n}-1)"
    note += "; type: binary copies the bytes"
    return TypeInfo(kind, label, low=0, high=2**n - 1, native=t, note=note)


def bit_width(info: TypeInfo | None) -> int | None:
    """n for a BIT(n) column (whatever it is read as), None for any other type."""
    if info is not None and isinstance(info.native, mysql.BIT):
        return int(info.native.length or 1)
    return None


def bit_value(col: sa.ColumnElement[Any], kind: str) -> sa.ColumnElement[Any]:
    """A BIT column's value as ``kind`` wants it, the same from every driver and in COPY text.

    A bare BIT comes from mysql-connector as an int, from PyMySQL as bytes, and as bytes in
    a COPY line (its ceil(n/8) big-endian bytes: 00 08 for b'1000' in a BIT(16)), while HEX()
    writes it as a number ('8'). Cast to BINARY it is those bytes everywhere, cast to
    UNSIGNED the number (its digits in a COPY line)."""
    if kind == "binary":
        return sa.cast(col, sa.LargeBinary)
    return sa.cast(col, mysql.INTEGER(unsigned=True))


def bit_boolean(label: str) -> Adapter:
    """A BIT read as a number (``bit_value``) into a boolean: 0 and 1 only, else a reject."""

    def read(value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if value in (0, 1):
            return value == 1
        raise RowError(
            None,
            f"{label} value {value} is not a boolean (0 or 1); declare type: integer or "
            "binary, or map it with a transform",
            value,
        )

    return read


def date_parser(date_only: bool) -> Adapter:
    """Parse MySQL's text form of a DATE/DATETIME/TIMESTAMP; zero dates become rejects."""
    parse = dt.date.fromisoformat if date_only else dt.datetime.fromisoformat

    def read(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("ascii")
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except ValueError:
            raise RowError(
                None,
                f"MySQL date {value!r} does not exist (a zero or partial date); fix it in the "
                "source or map it with a transform",
                value,
            ) from None

    return read
