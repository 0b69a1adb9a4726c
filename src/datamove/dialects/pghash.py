"""PostgreSQL's own type hashes as verify's row digest between two PostgreSQL databases.

Turning every value into canonical text and hashing the text with MD5 costs about three times
a plain scan. Between two PostgreSQL servers a column of the same type on both sides can be
hashed as it is stored: ``hash_record_extended`` (PostgreSQL 14+) combines the types' extended
hash functions, the ones hash partitioning relies on, which are therefore kept stable across
versions; a grouped checksum scan then costs less than reading every value as text once.

A type qualifies when equal hashes mean equal canonical forms (``core.canonical``) and equal
canonical forms of two equal-typed values mean equal hashes. So: no enums (their hash is an OID
of one database), no collation other than the default (a non-deterministic collation hashes its
sort key), no json (no hash at all); numerics and timestamps only with the same scale and
precision on both sides (the canonical form is at the target's). Floats hash exactly, which is
finer than the canonical 15 digits: a range that differs only below that is listed, and its
rows compare equal column by column, so nothing is reported.

``hash_record_extended`` only folds the column hashes (``31 * h + next``); a sum of such values
would not change if two rows swapped a column's values, so each row's fold is hashed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from datamove.dialects.quoting import sql_string

_SIMPLE: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.BigInteger, "int8"),
    (sa.SmallInteger, "int2"),
    (sa.Integer, "int4"),
    (pg.DOUBLE_PRECISION, "float8"),
    (pg.REAL, "float4"),
    (sa.Boolean, "bool"),
    (sa.Date, "date"),
    (pg.JSONB, "jsonb"),
    (pg.BYTEA, "bytea"),
    (pg.UUID, "uuid"),
)

# One value per family, each chosen to exercise what could differ between two servers
# (byte order, float layout, multibyte text, numeric digit groups, jsonb nesting).
_PROBE_VALUES = {
    "int8": "-9007199254740993",
    "int2": "-12345",
    "int4": "2147483647",
    "float8": "0.1",
    "float4": "-3.25",
    "bool": "true",
    "date": "2020-02-29",
    "jsonb": '{"a": [1, 2.50, "é"], "bb": {"c": null}}',
    "bytea": "\\x00ff10",
    "uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "numeric": "-1234567890.123456789",
    "text": "Größe – 注文 ✓ ",
    "bpchar": "ab  ",
    "timestamp": "2020-02-29 23:59:58.123456",
    "timestamptz": "2020-02-29 23:59:58.123456+00",
}


def family(t: sa.types.TypeEngine[Any]) -> str | None:
    """The hash family of a PostgreSQL column type, with what must match besides the type
    (scale, precision); None when the type's own hash cannot stand for its canonical form."""
    if isinstance(t, pg.DOMAIN):
        return family(t.data_type)
    if isinstance(t, pg.ENUM | pg.ARRAY):
        return None
    if isinstance(t, pg.TIMESTAMP):
        return f"{'timestamptz' if t.timezone else 'timestamp'}({t.precision})"
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return f"numeric({t.precision},{t.scale})"
    if isinstance(t, sa.String) and not isinstance(t, sa.Enum):
        if getattr(t, "collation", None) not in (None, "default", "C", "POSIX"):
            return None
        return "bpchar" if isinstance(t, sa.CHAR) else "text"
    for cls, name in _SIMPLE:
        if isinstance(t, cls):
            return name
    return None


def row_hash(values: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    """A well-mixed signed 64-bit hash of a row of values (NULLs included)."""
    fold = sa.func.hash_record_extended(sa.func.row(*values), 0)  # ROW(), even of one
    return sa.func.hashint8extended(fold, 0)


def digest(h: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The row hash itself: ``sum(bigint)`` over a range is exact (a ``numeric``)."""
    return h


def probe(conn: Connection, families: Sequence[str]) -> int | None:
    """The hash of one sample value per family as this server computes it (None before
    PostgreSQL 14, which has no ``hash_record_extended``): two servers that agree on it hash
    these types alike."""
    version = conn.dialect.server_version_info or (0,)
    if version < (14,):
        return None
    values = []
    for family in families:
        base = family.split("(")[0]  # the hash functions do not depend on scale or precision
        values.append(f"CAST({sql_string(_PROBE_VALUES[base])} AS {base})")
    sql = f"SELECT hashint8extended(hash_record_extended(ROW({', '.join(values)}), 0), 0)"
    return int(conn.exec_driver_sql(sql).scalar_one())
