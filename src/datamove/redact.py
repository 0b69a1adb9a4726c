"""Everything that reaches output about a URL or a row value passes here.

Passwords never appear in logs, errors, reports or the state store; values in rejects are
masked so that a reject table can be shared without leaking the row's content.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_PASSWORD_IN_TEXT = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (unparseable text is scrubbed too)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return redact_text(url)


def redact_text(text: str) -> str:
    """Scrub anything that looks like ``scheme://user:password@`` from free text."""
    return _PASSWORD_IN_TEXT.sub(lambda m: m.group("head") + "***", text)


def mask_value(value: Any, keep: int = 2) -> str:
    """A masked rendering of a row value: type, length and the first ``keep`` characters.

    Enough for a person to recognise which value failed, not enough to leak it.
    """
    if value is None:
        return "NULL"
    text = value.hex() if isinstance(value, bytes | bytearray | memoryview) else str(value)
    if len(text) <= keep:
        return f"{type(value).__name__}({'*' * len(text)})"
    return f"{type(value).__name__}({text[:keep]}{'*' * min(len(text) - keep, 8)}, len={len(text)})"
