"""Source values as the target column holds them: what a default or an enum's CHECK becomes.

A default and an enum's allowed values are values of the *source* column; the target column
holds them after the mapping. So they go through the column's transform chain in Python
(exactly as a row's value would) and are then coerced to the target column's kind. Anything
that does not survive (a SQL-only step, a rejected value, a literal the target kind cannot
hold) is None: the plan then says the object is not carried, never guesses.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from datamove.core.types import TypeInfo
from datamove.errors import RowError
from datamove.transforms import Transform

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def mapped(transforms: Sequence[Transform], values: Sequence[Any]) -> list[Any] | None:
    """``values`` through a column's transform chain (None when a step exists only as SQL
    or a value would be rejected)."""
    if any(t.SQL_ONLY for t in transforms):
        return None
    out = list(values)
    try:
        for step in transforms:
            out = [step.apply(v) for v in out]
    except RowError:
        return None
    return out


def coerce(value: Any, target: TypeInfo) -> Any:
    """``value`` as a literal of the ``target`` kind (None when it cannot be one)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        match target.kind:
            case "boolean":
                if isinstance(value, bool):
                    return value
                word = text.lower()
                return True if word in _TRUE else False if word in _FALSE else None
            case "integer":
                number = Decimal(text)
                return int(number) if number == number.to_integral_value() else None
            case "decimal" | "float":
                return Decimal(text)
            case "string" | "text" | "enum":
                return value if isinstance(value, str) else text
            case "date":
                dt.date.fromisoformat(text)
                return text
            case "timestamp":
                dt.datetime.fromisoformat(text)
                return text
            case "time":
                dt.time.fromisoformat(text)
                return text
            case "uuid":
                return str(uuid.UUID(text))
            case "json":
                json.loads(text)
                return text
    except (ValueError, InvalidOperation):
        return None
    return None
