"""Everything that reaches output about a URL or a row value passes here.

Passwords never appear in logs, errors, reports or the state store; values in rejects are
masked so that a reject table can be shared without leaking the row's content.

Two layers, because a pattern alone misses a password cut out of its URL (a YAML error's
snippet, a driver message quoting the connection string's tail):

- by *pattern*: ``scheme://user:password@`` and password-like query parameters
  (``?password=``, ``sslpassword=``, ``token=`` ...) are masked wherever they appear;
- by *value*: every secret this process has seen (each URL's password and password-like
  parameters, registered by ``remember_url``/``remember_secrets_in`` as URLs enter — the spec
  file's raw text, the interpolated spec, every database URL a dialect opens) is masked in
  any text, in its plain, URL-encoded and JSON-escaped forms.

The registry is process-wide on purpose: a secret learned while reading the spec must be
masked in whatever later leaves the process, by whichever module writes it. The CLI installs
``RedactingStream`` on stdout and stderr (the one seam for console, JSON and logs); the state
store's free text and the reports pass through ``redact_text``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, unquote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter secrets are masked by pattern only: masking every 'pw' in every message would make
output unreadable, and such a password protects nothing."""

_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|credential|api_?key|auth", re.IGNORECASE)
_PASSWORD_IN_TEXT = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")
_PARAM_IN_TEXT = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z_][\w.-]*)=)(?P<value>[^&\s'\"#]*)")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_param(name: str) -> bool:
    """Whether a URL query parameter holds a credential (its value is masked)."""
    return bool(_SECRET_PARAM.search(name))


def remember_secret(value: str | None) -> None:
    """Mask ``value`` (and its URL-encoded and JSON-escaped forms) in all later output."""
    global _pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, unquote(value), quote(value, safe=""), json.dumps(value)[1:-1]}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(f for f in forms if len(f) >= MIN_SECRET_LENGTH)
        longest_first = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in longest_first))


def remember_url(url: str) -> None:
    """Register the password and the password-like query parameters of ``url``; text that
    does not parse as a URL is scanned for URL-shaped secrets instead."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        remember_secrets_in(url)
        return
    remember_secret(parsed.password if isinstance(parsed.password, str) else None)
    for name, value in parsed.query.items():
        if is_secret_param(name):
            for v in (value,) if isinstance(value, str) else value:
                remember_secret(v)
    remember_secrets_in(url)


def remember_secrets_in(text: str) -> None:
    """Register every URL password and password-like parameter written anywhere in ``text``
    (a spec file before it is parsed: its URLs are secrets even if the YAML is broken)."""
    for match in _PASSWORD_IN_TEXT.finditer(text):
        remember_secret(match.group("pw"))
    for match in _PARAM_IN_TEXT.finditer(text):
        if is_secret_param(match.group("name")):
            remember_secret(match.group("value"))


def redact_url(url: str) -> str:
    """The URL with its password and password-like query parameters replaced by ``***``
    (unparseable text is scrubbed too)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return redact_text(url)
    query = {
        name: (MASK if is_secret_param(name) else value) for name, value in parsed.query.items()
    }
    return redact_text(parsed.set(query=query).render_as_string(hide_password=True))


def redact_text(text: str) -> str:
    """Scrub passwords from free text: URL-shaped ones by pattern, then every known secret
    by value."""
    text = _PASSWORD_IN_TEXT.sub(lambda m: m.group("head") + MASK, text)
    text = _PARAM_IN_TEXT.sub(
        lambda m: m.group("head") + MASK if is_secret_param(m.group("name")) else m.group(0),
        text,
    )
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


class RedactingStream:
    """A text stream that passes every write through ``redact_text``: installed on
    ``sys.stdout``/``sys.stderr`` by the CLI, so nothing printed — Rich's console, JSON, a
    traceback under ``--debug``, a warning — can carry a known secret out.

    Everything else (``isatty``, ``encoding``, ``fileno`` ...) is the wrapped stream's, so
    terminal detection and colours are unchanged."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact_text(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


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
