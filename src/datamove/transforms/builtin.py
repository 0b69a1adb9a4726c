"""The core transforms: ``default`` (for NULL) and strict ``cast``.

Renames (``from``) and drops are not transforms: the plan handles them as column wiring.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, invertible, kept_original

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect


class Default(Transform):
    """``default: VALUE`` — a NULL becomes VALUE; anything else passes unchanged."""

    name = "default"

    def validate(self) -> None:
        if isinstance(self.args, dict | list):
            raise self.fail("default must be a scalar value (string, number, boolean)")

    def apply(self, value: Any) -> Any:
        return self.args if value is None else value

    def nullable_after(self, nullable: bool) -> bool:
        return self.args is None

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        return sa.func.coalesce(expr, sa.literal(self.args))

    def inversion(self, given: Given) -> Inversion:
        if not given.nullable:
            return invertible("no NULL to replace: the value passes unchanged", "same")
        return kept_original(f"NULL and {self.args!r} both become {self.args!r}", fixed=True)

    def describe(self) -> str:
        return f"NULL becomes {self.args!r}"


_INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "numeric": "decimal",
    "double": "float",
    "real": "float",
    "string": "text",
    "bool": "boolean",
    "datetime": "timestamp",
}
_CAST = re.compile(r"^\s*(?P<base>[a-z0-9 ]+?)\s*(?:\((?P<a>\d+)\s*(?:,\s*(?P<b>\d+))?\))?\s*$")
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


class Cast(Transform):
    """``cast: TYPE`` — convert to TYPE exactly, or reject the row.

    Types: smallint, integer, bigint, decimal(p,s), float, text, varchar(n), boolean, date,
    timestamp, json, binary. Strict means: no rounding (19.999 → decimal(12,2) is a reject; use a
    rounding transform first), no truncation, no guessing ('abc' → integer is a reject).
    """

    name = "cast"

    def validate(self) -> None:
        match = _CAST.match(str(self.args).lower()) if isinstance(self.args, str) else None
        base = _ALIASES.get(match.group("base"), match.group("base")) if match else None
        if match is None or base not in {
            *_INT_RANGES,
            "decimal",
            "float",
            "text",
            "varchar",
            "boolean",
            "date",
            "timestamp",
            "json",
            "binary",
        }:
            raise self.fail(
                f"cast to {self.args!r} is not supported",
            )
        self.base: str = base
        self.p = int(match.group("a")) if match.group("a") else None
        self.s = int(match.group("b")) if match.group("b") else 0
        if self.base == "decimal" and self.p is None:
            raise self.fail("cast to decimal needs precision and scale, e.g. decimal(12,2)")
        if self.base == "decimal" and self.p is not None and self.s > self.p:
            raise self.fail(f"decimal({self.p},{self.s}): scale cannot exceed precision")

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return self.sql_type()

    def sql_type(self) -> sa.types.TypeEngine[Any]:
        """The target column type this cast produces, when the table is created."""
        types: dict[str, sa.types.TypeEngine[Any]] = {
            "smallint": sa.SmallInteger(),
            "integer": sa.Integer(),
            "bigint": sa.BigInteger(),
            "float": sa.Float(53),
            "text": sa.Text(),
            "boolean": sa.Boolean(),
            "date": sa.Date(),
            "timestamp": sa.DateTime(),
            "json": sa.JSON(),
            "binary": sa.LargeBinary(),
        }
        if self.base == "decimal":
            return sa.Numeric(self.p, self.s)
        if self.base == "varchar":
            return sa.String(self.p) if self.p else sa.Text()
        return types[self.base]

    def inversion(self, given: Given) -> Inversion:
        back = BACK.get(given.kind or "")
        if back is None or self.base not in EXACT_CASTS.get(given.kind or "", ()):
            what = f"{given.kind} values" if given.kind else "values of an unknown type"
            return kept_original(f"{what} cast to {self.args} do not all come back exactly")
        return invertible(
            f"{given.kind} converted exactly; back to {given.kind} with a range check",
            "cast",
            back,
            to=given.kind,
        )

    def describe(self) -> str:
        return f"converted to {self.args} (rows that do not convert exactly are rejected)"

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return getattr(self, f"_to_{self.base}", self._to_int)(value)
        except RowError:
            raise
        except (ValueError, TypeError, InvalidOperation, ArithmeticError) as exc:
            raise RowError(None, f"cast to {self.args}: {exc}", value) from None

    def _reject(self, value: Any, why: str) -> RowError:
        return RowError(None, f"cast to {self.args}: {why}", value)

    def _to_int(self, value: Any) -> int:
        if isinstance(value, bool):
            out = int(value)
        elif isinstance(value, int):
            out = value
        elif isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
            out = int(value.strip())
        elif isinstance(value, Decimal | float) and value == int(value):
            out = int(value)
        else:
            raise self._reject(value, "not an integer")
        low, high = _INT_RANGES[self.base]
        if not low <= out <= high:
            raise self._reject(value, f"out of range [{low}, {high}]")
        return out

    def _to_decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise self._reject(value, f"{type(value).__name__} is not a number")
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        if not number.is_finite():
            raise self._reject(value, "not a finite number")
        exp = Decimal(1).scaleb(-self.s)
        quantized = number.quantize(exp)
        if quantized != number:
            raise self._reject(value, f"has more than {self.s} decimal places")
        assert self.p is not None
        if quantized.adjusted() >= self.p - self.s:
            raise self._reject(value, f"needs more than {self.p - self.s} integer digits")
        return quantized

    def _to_float(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self._reject(value, "boolean is not a number")
        return float(value)

    def _to_text(self, value: Any) -> str:
        if isinstance(value, bytes | bytearray | memoryview):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._reject(value, f"bytes are not valid UTF-8 ({exc.reason})") from None
        if isinstance(value, dt.datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        return str(value)

    def _to_varchar(self, value: Any) -> str:
        text = self._to_text(value)
        if self.p is not None and len(text) > self.p:
            raise self._reject(value, f"{len(text)} characters do not fit varchar({self.p})")
        return text

    def _to_boolean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | Decimal) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self._reject(value, "not a boolean (expected 0/1, true/false, yes/no)")

    def _to_date(self, value: Any) -> dt.date:
        if isinstance(value, dt.datetime):
            if value.time() != dt.time(0):
                raise self._reject(value, "has a time of day; a date would drop it")
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            return dt.date.fromisoformat(value.strip())
        raise self._reject(value, f"{type(value).__name__} is not a date")

    def _to_timestamp(self, value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.strip())
        raise self._reject(value, f"{type(value).__name__} is not a timestamp")

    def _to_binary(self, value: Any) -> bytes:
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        raise self._reject(value, f"{type(value).__name__} is not bytes")

    def _to_json(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise self._reject(value, f"not valid JSON ({exc.msg})") from None
        if isinstance(value, dict | list | int | float | bool):
            return value
        raise self._reject(value, f"{type(value).__name__} is not JSON")


_INTS = ("smallint", "integer", "bigint")
_TEXTS = ("text", "varchar")
EXACT_CASTS: dict[str, tuple[str, ...]] = {
    "integer": (*_INTS, "decimal", "boolean", *_TEXTS),
    "decimal": (*_INTS, "decimal", *_TEXTS),
    "float": (*_INTS, "float", "decimal", *_TEXTS),
    "string": (*_TEXTS, "binary"),
    "text": (*_TEXTS, "binary"),
    "enum": _TEXTS,
    "boolean": ("boolean", *_INTS, *_TEXTS),
    "date": ("date", "timestamp", *_TEXTS),
    "timestamp": ("timestamp", "date", *_TEXTS),
    "binary": ("binary", *_TEXTS),
    "json": ("json", *_TEXTS),
    "uuid": _TEXTS,
}
"""Per kind of value handed to ``cast``, the cast types it goes to and comes back from exactly
(a strict cast rejects what would not convert exactly, and no two values of the kind give
one result): e.g. text to integer is not here ('07' and '7' both become 7)."""


def _back_int(value: Any) -> int:
    number = Decimal(int(value)) if isinstance(value, bool) else Decimal(str(value).strip())
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _back_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"{type(value).__name__} is not text")
    return value


def _back_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"{value!r} is not a boolean")


def _back_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError(f"{value} has a time of day")
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _back_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(str(value))


def _back_binary(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _back_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _back_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


BACK: dict[str, Callable[[Any], Any]] = {
    "integer": _back_int,
    "decimal": lambda v: Decimal(str(int(v) if isinstance(v, bool) else v)),
    "float": float,
    "string": _back_text,
    "text": _back_text,
    "enum": _back_text,
    "boolean": _back_bool,
    "date": _back_date,
    "timestamp": _back_timestamp,
    "binary": _back_binary,
    "json": _back_json,
    "uuid": _back_uuid,
}
"""A value of a cast's result back to the kind it was cast from (``ValueError`` when it
cannot be one); the plan checks the result by casting it forward again."""
