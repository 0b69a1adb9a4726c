"""Key values and key ranges: how chunks are described, stored and turned into SQL.

A chunk is the half-open key range ``(lo, hi]`` in key order; ``None`` stands for minus or plus
infinity, so the chunks of a table always cover the whole key space — rows inserted after the
chunks were planned still fall into exactly one chunk. ``KeyRange`` is that rule, once: in
Python (``contains``, ``overlaps``, ``split``) and as SQL (``predicate``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

KeyValue = tuple[Any, ...]
"""A key as the database holds it: one value per key column."""
CanonKey = tuple[str | None, ...]
"""A key in canonical form (``core.canonical``): comparable across engines."""


@dataclass(frozen=True)
class KeyRange:
    """The half-open key range ``(lo, hi]``; ``None`` is minus (``lo``) or plus (``hi``)
    infinity."""

    lo: KeyValue | None = None
    hi: KeyValue | None = None

    def __iter__(self) -> Iterator[KeyValue | None]:
        """``lo, hi = key_range``."""
        return iter((self.lo, self.hi))

    def contains(self, key: KeyValue) -> bool:
        """Whether ``key`` is in the range (keys compare as tuples, as the database does)."""
        return (self.lo is None or key > self.lo) and (self.hi is None or key <= self.hi)

    def overlaps(self, other: KeyRange) -> bool:
        """Whether some key is in both ranges."""
        return not (
            (self.hi is not None and other.lo is not None and self.hi <= other.lo)
            or (self.lo is not None and other.hi is not None and self.lo >= other.hi)
        )

    def split(self, cuts: Sequence[KeyValue]) -> list[KeyRange]:
        """The range cut after each of ``cuts`` inside it (in key order): adjacent ranges
        that cover exactly this one."""
        inside = sorted(k for k in cuts if self.contains(k) and k != self.hi)
        edges: list[KeyValue | None] = [self.lo, *inside, self.hi]
        return [KeyRange(a, b) for a, b in zip(edges, edges[1:], strict=False)]

    def predicate(self, columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[bool]:
        """The SQL selecting the rows whose ``columns`` are in the range."""
        parts: list[sa.ColumnElement[bool]] = []
        if self.lo is not None:
            parts.append(after(columns, self.lo))
        if self.hi is not None:
            parts.append(at_most(columns, self.hi))
        return sa.and_(sa.true(), *parts)


def _encode_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return {"$float": repr(v)}
    if isinstance(v, Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, dt.datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, dt.time):
        return {"$time": v.isoformat()}
    if isinstance(v, dt.timedelta):
        return {"$timedelta": v.total_seconds()}
    if isinstance(v, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    return {"$str": str(v)}  # UUID and other scalar types compare by their text form


def _decode_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    ((tag, raw),) = v.items()
    match tag:
        case "$float":
            return float(raw)
        case "$decimal":
            return Decimal(raw)
        case "$datetime":
            return dt.datetime.fromisoformat(raw)
        case "$date":
            return dt.date.fromisoformat(raw)
        case "$time":
            return dt.time.fromisoformat(raw)
        case "$timedelta":
            return dt.timedelta(seconds=raw)
        case "$bytes":
            return base64.b64decode(raw)
    return raw


def encode_key(key: KeyValue | None) -> str | None:
    """JSON text for a key value; types survive the round trip (dates stay dates)."""
    if key is None:
        return None
    return json.dumps([_encode_value(v) for v in key], separators=(",", ":"))


def decode_key(text: str | None) -> KeyValue | None:
    if text is None:
        return None
    return tuple(_decode_value(v) for v in json.loads(text))


def _bound(col: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[Any]:
    """``value`` bound with the column's own type: a key read from another engine (a SQLite
    date is text) is then converted by the database, not compared as text."""
    return sa.literal(value, type_=col.type)


def after(columns: Sequence[sa.ColumnElement[Any]], key: KeyValue) -> sa.ColumnElement[bool]:
    """``(c1, c2, ...) > key`` in expanded form (index-friendly on every engine)."""
    (first, *rest), (raw, *values) = columns, key
    value = _bound(first, raw)
    if not rest:
        gt: sa.ColumnElement[bool] = first > value
        return gt
    return sa.or_(first > value, sa.and_(first == value, after(rest, tuple(values))))


def at_most(columns: Sequence[sa.ColumnElement[Any]], key: KeyValue) -> sa.ColumnElement[bool]:
    """``(c1, c2, ...) <= key`` in expanded form."""
    (first, *rest), (raw, *values) = columns, key
    value = _bound(first, raw)
    if not rest:
        le: sa.ColumnElement[bool] = first <= value
        return le
    return sa.or_(first < value, sa.and_(first == value, at_most(rest, tuple(values))))


def key_present(columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[bool]:
    """No column of ``columns`` is NULL: the rows a key range can hold. ``(lo, hi]`` never
    holds a NULL key, but the one range ``(None, None)`` of a small table would."""
    return sa.and_(sa.true(), *[c.is_not(None) for c in columns])


def key_null(columns: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[bool]:
    """Some column of ``columns`` is NULL: the rows no key range holds."""
    return sa.or_(sa.false(), *[c.is_(None) for c in columns])


def any_key(
    columns: Sequence[sa.ColumnElement[Any]], keys: Sequence[Sequence[Any]]
) -> sa.ColumnElement[bool]:
    """``columns`` equal to one of ``keys``, each value bound with its column's type.

    A one-column key is an IN list (of plain parameters: statements are compiled without
    SQLAlchemy's expanding ones): half the compile time of an OR of equalities, and one index
    scan for the server."""
    if len(columns) == 1:
        (col,) = columns
        return col.in_([_bound(col, key[0]) for key in keys])
    return sa.or_(
        sa.false(),
        *[sa.and_(*[c == _bound(c, v) for c, v in zip(columns, key, strict=True)]) for key in keys],
    )
