"""PostgreSQL's COPY text format, as the interchange format of the pipe path.

A source that can produce it (PostgreSQL natively, MySQL from raw protocol bytes) feeds a
target that can consume it (PostgreSQL's COPY FROM STDIN) with no Python object per value:
one line per row, values separated by tabs, NULL as ``\\N``, and backslash, tab, newline and
carriage return escaped. Binary values are written as ``\\x`` hex (bytea input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

Kind = Literal["plain", "text", "binary"]
"""How a value's text form is encoded: ``plain`` values (numbers, dates, booleans) never hold
a tab, newline or backslash and pass as they are; ``text`` is escaped; ``binary`` is hex."""


def _escape(value: bytes) -> bytes:
    return (
        value.replace(b"\\", b"\\\\")
        .replace(b"\t", b"\\t")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
    )


def _hex(value: bytes) -> bytes:
    return b"\\\\x" + bytes(value).hex().encode("ascii")


def encoder(kinds: Sequence[Kind]) -> Callable[[Sequence[Sequence[bytes | None]]], bytes]:
    """A function turning rows of raw text values (bytes or None) into one COPY text block."""
    steps = [None if k == "plain" else _escape if k == "text" else _hex for k in kinds]

    def encode(rows: Sequence[Sequence[bytes | None]]) -> bytes:
        lines = [
            b"\t".join(
                [
                    b"\\N" if v is None else (v if f is None else f(v))
                    for v, f in zip(row, steps, strict=True)
                ]
            )
            for row in rows
        ]
        lines.append(b"")
        return b"\n".join(lines)

    return encode
