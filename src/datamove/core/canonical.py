"""The canonical comparison form: the Python reference every dialect's SQL must match.

Verification compares source (through the mapping) and target value by value in one text
form that does not depend on the engine or driver that produced the value:

=========== =================================================================================
integer     decimal digits (``-12``); booleans are ``1``/``0``
boolean     ``1`` / ``0`` (so ``boolean`` and ``TINYINT(1)`` compare equal)
decimal     exact, rounded half away from zero at the target column's scale (``12.30``); a
            decimal without scale has its trailing zeros removed (``12.3``); never ``-0``
float       the value's shortest text form, rounded half away from zero to ``digits``
            significant digits (15 by default, 6 for single precision), written as one digit,
            the others after a point (trailing zeros removed) and the decimal exponent:
            ``3.32028571428571e-15``, ``-2.5e0``, ``1e300``; ``0`` for a zero (``-0.0`` too).
            Exact for every double, subnormals and the range's ends included: tolerance by
            quantization, not by epsilon
text        exact, code point for code point (a trailing space is a difference)
char        trailing spaces removed: a CHAR(n) column pads, so they carry no meaning
date        ``YYYY-MM-DD``
time        ``HH:MM:SS.ffffff``
timestamp   ``YYYY-MM-DD HH:MM:SS[.f]``: the fraction without trailing zeros, none for a
            whole second (PostgreSQL's own ISO text); a zoned value is converted to UTC first
json        keys sorted, no insignificant white space, numbers as exact decimals
bytes       lower-case hex
uuid        lower-case, with dashes
=========== =================================================================================

NULL has no canonical text (``None``), so it is never equal to an empty string.

A row's **digest** is the MD5 of its canonical values joined by ``|``, NULL written as ``-``
and each value of a kind whose text is free (text, char, JSON) framed as ``length:value``,
except the last such value, written ``:value``; the other kinds' texts can hold neither ``|``
nor stand alone as ``-``, so no two different rows encode alike (read from the left, each
value before the last free text ends where its frame or the next ``|`` says; read from the
right, so does each value after it; what is left is that value), and the databases compute
each of those values once. A length costs a scan of the text on both servers (~0.14 s per 1M
rows of the benchmark's longest text, a side). The first 56 bits of the MD5
are summed per key range (exactly: ``numeric``/``DECIMAL`` sums, an exact aggregate on
SQLite); a differing row changes the sum with probability 1 - 2^-56.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Literal

from datamove.core.types import TypeInfo

CanonKind = Literal[
    "integer",
    "boolean",
    "decimal",
    "float",
    "text",
    "char",
    "date",
    "time",
    "timestamp",
    "json",
    "bytes",
    "uuid",
]

FLOAT_DIGITS = 15
"""Significant digits floats are compared at (the most every engine computes exactly)."""
DIGEST_HEX = 14
"""Hex digits of the MD5 a row's digest keeps (56 bits)."""


@dataclass(frozen=True)
class Canon:
    """How one compared column is brought into canonical form (decided by the target type)."""

    kind: CanonKind
    scale: int | None = None
    digits: int = FLOAT_DIGITS

    @property
    def label(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.scale})" if self.scale is not None else "decimal"
        if self.kind == "float":
            return f"float({self.digits} digits)"
        return self.kind


def canon_for(info: TypeInfo | None, float_digits: int = FLOAT_DIGITS) -> Canon:
    """The canonical form a target column described by ``info`` is compared in."""
    kind = info.kind if info is not None else "text"
    if kind in _SAME:
        return Canon(_SAME[kind])
    if kind == "decimal":
        return Canon("decimal", scale=info.scale if info is not None else None)
    if kind == "float":
        single = info is not None and (info.bits or 53) <= 24
        return Canon("float", digits=min(float_digits, 6) if single else float_digits)
    if kind == "string" and info is not None and info.fixed:
        return Canon("char")
    return Canon("text")


_SAME: dict[str, CanonKind] = {
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "json": "json",
    "binary": "bytes",
    "uuid": "uuid",
}


def canonical(value: Any, canon: Canon) -> str | None:
    """``value`` (as any driver returns it) in canonical text form; ``None`` for NULL.

    A value that cannot be read as the column's kind gets a marker naming its type, which
    never equals a canonical value: it shows as a difference, not as a crash.
    """
    if value is None:
        return None
    try:
        return _FORMS[canon.kind](value, canon)
    except (ValueError, TypeError, ArithmeticError, UnicodeDecodeError):
        return f"\x00unreadable {type(value).__name__} as {canon.label}"


def _integer(value: Any, canon: Canon) -> str:
    if type(value) is int:  # the common case, as _trimmed(_to_decimal(value)) writes it
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return _trimmed(_to_decimal(value))


def _boolean(value: Any, canon: Canon) -> str:
    if isinstance(value, str):
        return "1" if value.strip().lower() in {"1", "t", "true", "y", "yes", "on"} else "0"
    return "1" if value else "0"


def _to_decimal(value: Any) -> Decimal:
    """Exact decimal of a value; a float is taken at its shortest text form (what every
    engine prints), not at its binary expansion."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, bytes):
        value = value.decode()
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _plain(d: Decimal) -> str:
    """A decimal without exponent; ``-0`` as ``0``."""
    if d == 0:
        d = abs(d)
    return format(d, "f")


def _trimmed(d: Decimal) -> str:
    text = _plain(d)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def _decimal(value: Any, canon: Canon) -> str:
    d = _to_decimal(value)
    if not d.is_finite():
        return str(d).lower()
    if canon.scale is None:
        return _trimmed(d)
    return _plain(d.quantize(Decimal(1).scaleb(-canon.scale), rounding=ROUND_HALF_UP))


def _float(value: Any, canon: Canon) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    d = _to_decimal(value)
    if not d.is_finite():
        return str(d).lower().replace("infinity", "inf")
    if d == 0:
        return "0"
    rounded = Context(prec=canon.digits, rounding=ROUND_HALF_UP, Emin=-99999, Emax=99999).plus(d)
    sign, digits, _ = rounded.as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{rounded.adjusted()}"


def _text(value: Any, canon: Canon) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    if isinstance(value, set | frozenset):
        return ",".join(sorted(value))
    return str(value)


def _char(value: Any, canon: Canon) -> str:
    return _text(value, canon).rstrip(" ")


def _parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return dt.datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise ValueError(f"not a timestamp: {value!r}") from None


def _timestamp(value: Any, canon: Canon) -> str:
    ts = _parse_datetime(value)
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    fraction = f".{ts.microsecond:06d}".rstrip("0") if ts.microsecond else ""
    return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d} {ts:%H:%M:%S}{fraction}"


def _clock(t: dt.time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"


def _date(value: Any, canon: Canon) -> str:
    d = value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None
    d = d or _parse_datetime(value).date()
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _time(value: Any, canon: Canon) -> str:
    if isinstance(value, dt.timedelta):  # MySQL TIME
        value = (dt.datetime.min + value).time()
    if isinstance(value, dt.datetime):
        value = value.time()
    if not isinstance(value, dt.time):
        value = dt.time.fromisoformat(str(value).strip())
    return _clock(value)


def _json(value: Any, canon: Canon) -> str:
    doc = value
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8")
    if isinstance(value, str):
        try:
            return _JSON_ENCODE(_JSON_DECODE(value))
        except (_Inexact, ValueError, RecursionError):
            pass
        try:
            doc = json.loads(value, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            raise ValueError("not valid JSON") from None
    elif isinstance(doc, dict | list) and _exact_json(doc):
        return _JSON_ENCODE(doc)
    return _json_dump(doc)


class _Inexact(Exception):
    """A JSON number with a fraction or an exponent: the reference path writes it."""


def _inexact(_: str) -> Any:
    raise _Inexact


# Without fractional numbers, the C encoder with sorted keys writes exactly _json_dump's text
# (integers as digits, strings and literals as json.dumps): ~4x faster per document.
_JSON_DECODE = json.JSONDecoder(parse_float=_inexact, parse_constant=_inexact).decode
_JSON_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _exact_json(doc: Any) -> bool:
    """Only str keys, and integers, strings, booleans and nulls as values."""
    if isinstance(doc, dict):
        return all(type(k) is str and _exact_json(v) for k, v in doc.items())
    if isinstance(doc, list):
        return all(_exact_json(v) for v in doc)
    return doc is None or type(doc) in (str, int, bool)


def _json_dump(doc: Any) -> str:
    if isinstance(doc, dict):
        items = sorted((str(k), v) for k, v in doc.items())
        inner = ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_dump(v) for k, v in items)
        return "{" + inner + "}"
    if isinstance(doc, list | tuple):
        return "[" + ",".join(_json_dump(v) for v in doc) + "]"
    if isinstance(doc, bool) or doc is None:
        return json.dumps(doc)
    if isinstance(doc, int | float | Decimal):
        return _trimmed(_to_decimal(doc))
    return json.dumps(doc, ensure_ascii=False)


def _bytes(value: Any, canon: Canon) -> str:
    if isinstance(value, int):  # bytes(8) would be eight zero bytes
        raise TypeError("an integer is not bytes")
    if isinstance(value, str):
        return value.encode("utf-8").hex()
    return bytes(value).hex()


def _uuid(value: Any, canon: Canon) -> str:
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes=value))
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return text.lower()


_FORMS = {
    "integer": _integer,
    "boolean": _boolean,
    "decimal": _decimal,
    "float": _float,
    "text": _text,
    "char": _char,
    "date": _date,
    "time": _time,
    "timestamp": _timestamp,
    "json": _json,
    "bytes": _bytes,
    "uuid": _uuid,
}


_UNFRAMED = {"integer", "boolean", "decimal", "float", "date", "time", "timestamp", "bytes", "uuid"}


Frame = Literal["none", "length", "prefix"]
"""How a value is written in a digest: as it is, ``length:value``, or ``:value``."""


def framed(canon: Canon) -> bool:
    """Whether a value of this form is framed in a digest (free text)."""
    return canon.kind not in _UNFRAMED


def frames_of(framed: Sequence[bool]) -> list[Frame]:
    """The frame of each value of a row (see the module docstring): free text ``length``,
    the last free text ``prefix``, the rest ``none``."""
    frames: list[Frame] = ["length" if f else "none" for f in framed]
    if "length" in frames:
        frames[len(frames) - 1 - frames[::-1].index("length")] = "prefix"
    return frames


def encode_row(values: Sequence[str | None], framed: Sequence[bool]) -> str:
    """The digest input of a row's canonical values (see the module docstring)."""
    written = {"none": "{v}", "length": "{n}:{v}", "prefix": ":{v}"}
    return "|".join(
        "-" if v is None else written[f].format(n=len(v), v=v)
        for v, f in zip(values, frames_of(framed), strict=True)
    )


def digest(values: Sequence[str | None], frames: Sequence[bool]) -> int:
    """A row's digest, as the databases compute it."""
    text = encode_row(values, frames).encode("utf-8")
    return int(hashlib.md5(text, usedforsecurity=False).hexdigest()[:DIGEST_HEX], 16)
