"""Flag values: JSON (``true``, ``"green"``, ``42``, ``1.5``, a list or an object), stored as
JSON text, so any application and any engine read the same value.

``parse`` is the operators' way in (``datamove flag set``): text that is not JSON is refused,
never taken as a string, because a flip is a production switch and ``ture`` or ``True`` must
not quietly become the string an application's boolean check cannot use. ``null``, ``NaN``
and ``Infinity`` are refused too: a flag that is set has a value.
"""

from __future__ import annotations

import getpass
import json
import math
from typing import Any

from datamove.errors import UsageError

FlagValue = bool | int | float | str | list[Any] | dict[str, Any]
"""What a flag holds: a JSON value other than null."""

MAX_NAME = 255
"""The longest flag name or targeting key (the state tables' column width)."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON value")


def encode(value: Any) -> str:
    """``value`` as the JSON text the store keeps (keys sorted); a value that is not a
    flag value (None, NaN, infinities, a set, a date, ...) is a ``UsageError``."""
    if value is None:
        raise UsageError("a flag's value cannot be null", hint="set true, false, a number or text")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"a flag's value must be a finite number, not {value}")
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"a flag's value must be JSON (bool, number, text, list or object): {exc}"
        ) from None


def decode(text: str) -> FlagValue:
    """The value of the JSON text the store keeps."""
    value: FlagValue = json.loads(text, parse_constant=_refuse_constant)
    return value


def parse(text: str) -> FlagValue:
    """An operator's VALUE (``datamove flag set``) as a flag value; not JSON is refused."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise UsageError(
            f"flag value {text!r} is not JSON",
            hint="write true, false, a number, or text in double quotes: '\"green\"'",
        ) from None
    if value is None:
        raise UsageError("a flag's value cannot be null", hint="set true, false, a number or text")
    encode(value)  # the same rules as the Python API
    result: FlagValue = value
    return result


def check_name(text: str, what: str) -> str:
    """``text`` as a flag name or targeting key (``what`` names it in the error)."""
    if not text or not text.strip():
        raise UsageError(
            f"the {what} is empty", hint=f"give a {what} of 1 to {MAX_NAME} characters"
        )
    if len(text) > MAX_NAME:
        raise UsageError(f"the {what} {text[:40]!r}... is longer than {MAX_NAME} characters")
    return text


def actor(name: str | None) -> str:
    """Who sets a flag: ``name`` (``--as``) or the OS user running the process."""
    if name is not None:
        return check_name(name, "--as name")
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor the password database
        return "unknown"
