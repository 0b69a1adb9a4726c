"""Adapters: functions making a Python value acceptable to a target's bulk write.

A dialect's ``adapter`` hook picks one per target column; ``adapt_column`` applies it to a
whole column, skipping the pass when the adapter declares it returns every value's type as is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

Adapter = Callable[[Any], Any]

_UNCHANGED: dict[Adapter, frozenset[type]] = {}


def returns_unchanged(*types: type) -> Callable[[Adapter], Adapter]:
    """Declare that an adapter returns a value of exactly one of ``types`` as it is."""

    def mark(adapter: Adapter) -> Adapter:
        _UNCHANGED[adapter] = frozenset(types)
        return adapter

    return mark


def adapt_column(adapter: Adapter, values: list[Any]) -> list[Any]:
    """``adapter`` on each of a column's values; ``values`` itself when the adapter returns
    every value's type unchanged (one C-speed pass over the types instead of a call a value)."""
    unchanged = _UNCHANGED.get(adapter)
    if unchanged is not None and unchanged.issuperset(map(type, values)):
        return values
    return [adapter(v) for v in values]


@returns_unchanged(type(None), str, bytes, int, float, bool)
def text_value(value: Any) -> Any:
    """A value bound for a text column: sets (MySQL SET) joined, containers as sorted JSON,
    other objects (UUID, IP address, interval) as their text form."""
    if value is None or isinstance(value, str | bytes | int | float | bool):
        return value
    if isinstance(value, set | frozenset):
        return ",".join(sorted(value))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


@returns_unchanged(type(None), str, bytes)
def json_text(value: Any) -> Any:
    """JSON for engines that take JSON as text: containers serialised, text passed through."""
    if isinstance(value, dict | list | int | float | bool) and value is not None:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


@returns_unchanged(type(None), bool)
def int_bool(value: Any) -> Any:
    """MySQL's BOOLEAN is TINYINT: 0/1 become False/True, which a bound parameter into a real
    boolean column needs (COPY text would take 1/0; an INSERT or upsert would not)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    return value


def naive_utc(value: Any) -> Any:
    """An aware timestamp going into a naive column is stored as UTC (the plan says so)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@returns_unchanged(type(None), str, dt.time)
def time_of_day(value: Any) -> Any:
    """MySQL returns TIME as a duration; a time of day within 0–24h becomes ``datetime.time``."""
    if isinstance(value, dt.timedelta) and dt.timedelta(0) <= value < dt.timedelta(days=1):
        return (dt.datetime.min + value).time()
    return value
