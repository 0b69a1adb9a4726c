"""PostgreSQL's COPY text format, as the interchange format of the pipe path.

A source that can produce it (PostgreSQL natively; MySQL by building each line in its own
SELECT) feeds a target that can consume it (PostgreSQL's COPY FROM STDIN) with no Python
object per value: one line per row, values separated by tabs, NULL as ``\\N``, and backslash,
tab, newline and carriage return escaped. Binary values are written as ``\\x`` hex (bytea).
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["plain", "text", "binary", "check"]
"""How a value's text form is encoded: ``plain`` values (numbers, dates, booleans) never hold
a tab, newline or backslash and pass as they are; ``text`` is escaped; ``binary`` is hex.
A ``check`` is not a column: NULL adds nothing to the line, any other value one field too
many, so the target refuses the line (a data error: the chunk is then copied carefully).
Only a source whose dialect makes checks (``sql_unconvertible``) is given one."""
