"""The engine-neutral description of a column type: what type mapping, lossy-type findings and
the canonical comparison form work from (a source dialect classifies into it, a target dialect
renders from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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
