"""The engine-neutral description of a column type that type mapping works from.

A source dialect classifies its reflected SQLAlchemy type into a ``TypeInfo``; the target
dialect renders a ``TypeInfo`` into its own SQLAlchemy type. Lossy-type findings compare two
``TypeInfo`` values, so they need no engine knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import LONGTEXT

Kind = Literal[
    "integer",
    "decimal",
    "float",
    "string",
    "text",
    "boolean",
    "date",
    "time",
    "timestamp",
    "json",
    "binary",
    "uuid",
    "enum",
    "other",
]


@dataclass(frozen=True)
class TypeInfo:
    """What a column holds, independent of the engine.

    ``low``/``high`` bound integers; ``precision``/``scale`` decimals (``precision`` is the
    fractional-second digits of a timestamp); ``bits`` floats (24 or 53); ``length`` strings
    (``fixed`` for CHAR); ``timezone`` timestamps; ``values`` enums.
    ``native`` is the source type itself, reusable when source and target are the same engine.
    """

    kind: Kind
    label: str
    low: int | None = None
    high: int | None = None
    precision: int | None = None
    scale: int | None = None
    bits: int | None = None
    length: int | None = None
    fixed: bool = False
    timezone: bool = False
    values: tuple[str, ...] = ()
    note: str | None = None
    native: Any = None
    charset: str | None = None
    """The column's character set where the engine has one per column (None: full Unicode)."""


INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def integer(label: str, low: int, high: int, note: str | None = None) -> TypeInfo:
    return TypeInfo("integer", label, low=low, high=high, note=note)


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
