"""SQLAlchemy's generic types to and from the engine-neutral ``core.types.TypeInfo``.

A source dialect classifies its reflected SQLAlchemy type into a ``TypeInfo`` (engines handle
their quirks first, then ``classify_generic``); the target dialect renders a ``TypeInfo`` into
its own SQLAlchemy type (``render_generic`` for what is the same everywhere).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import LONGTEXT

from datamove.core.types import INT_RANGES, TypeInfo, integer


def classify_generic(t: sa.types.TypeEngine[Any], label: str) -> TypeInfo | None:
    """Classify SQLAlchemy's generic type families; engines handle their quirks first."""
    if isinstance(t, sa.Boolean):
        return TypeInfo("boolean", label)
    if isinstance(t, sa.SmallInteger):
        return integer(label, *INT_RANGES["smallint"])
    if isinstance(t, sa.BigInteger):
        return integer(label, *INT_RANGES["bigint"])
    if isinstance(t, sa.Integer):
        return integer(label, *INT_RANGES["integer"])
    if isinstance(t, sa.Float):
        bits = 24 if (t.precision is not None and t.precision <= 24) else 53
        return TypeInfo("float", label, bits=bits)
    if isinstance(t, sa.Numeric):
        return TypeInfo("decimal", label, precision=t.precision, scale=t.scale or 0)
    if isinstance(t, sa.Enum):
        return TypeInfo("enum", label, values=tuple(t.enums))
    if isinstance(t, sa.Uuid):
        return TypeInfo("uuid", label)
    if isinstance(t, sa.Text | sa.UnicodeText) or (isinstance(t, sa.String) and not t.length):
        return TypeInfo("text", label)
    if isinstance(t, sa.String):
        fixed = isinstance(t, sa.CHAR | sa.NCHAR)
        return TypeInfo("string", label, length=t.length, fixed=fixed)
    if isinstance(t, sa.DateTime):
        return TypeInfo("timestamp", label, timezone=bool(t.timezone))
    if isinstance(t, sa.Date):
        return TypeInfo("date", label)
    if isinstance(t, sa.Time):
        return TypeInfo("time", label, timezone=bool(getattr(t, "timezone", False)))
    if isinstance(t, sa.JSON):
        return TypeInfo("json", label)
    if isinstance(t, sa.LargeBinary | sa.types._Binary):
        return TypeInfo("binary", label)
    return None


def render_generic(info: TypeInfo) -> sa.types.TypeEngine[Any] | None:
    """The generic SQLAlchemy type for ``info``; engines override what they must."""
    match info.kind:
        case "integer":
            if info.low is not None and info.high is not None:
                for name, (low, high) in INT_RANGES.items():
                    if low <= info.low and info.high <= high:
                        return {
                            "smallint": sa.SmallInteger(),
                            "integer": sa.Integer(),
                            "bigint": sa.BigInteger(),
                        }[name]
                return sa.Numeric(len(str(max(abs(info.low), info.high))), 0)
            return sa.BigInteger()
        case "decimal":
            return sa.Numeric(info.precision, info.scale) if info.precision else sa.Numeric()
        case "float":
            return sa.Float(info.bits or 53)
        case "string":
            return sa.CHAR(info.length) if info.fixed else sa.String(info.length)
        case "text" | "enum":
            return sa.Text()
        case "boolean":
            return sa.Boolean()
        case "date":
            return sa.Date()
        case "time":
            return sa.Time()
        case "timestamp":
            return sa.DateTime(timezone=info.timezone)
        case "json":
            return sa.JSON()
        case "binary":
            return sa.LargeBinary()
        case "uuid":
            return sa.Uuid()
    return None


def describe(t: sa.types.TypeEngine[Any], dialect: sa.engine.Dialect) -> str:
    """A type as the engine would write it in DDL (for plans and messages)."""
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - any compile failure just means "show the class name"
        return type(t).__name__.upper()


LONG_TEXT = sa.Text().with_variant(LONGTEXT(), "mysql", "mariadb")
"""Text of any length, for datamove's own tables: a MySQL ``TEXT`` stops at 64 KiB (a check's
details listing a thousand differing rows, a rejected document)."""
