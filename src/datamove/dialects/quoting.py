"""How names and literals are written into SQL text that goes to the server as it is.

Identifiers are data: a name is always quoted, its quote character doubled, and nothing else
changed (SQLAlchemy's own quoting also doubles ``%`` for drivers that format parameters, which
only a statement that carries parameters wants; see ``mysqlformat`` for the driver side).
"""

from __future__ import annotations

from typing import Any


def quoted_name(preparer: Any, name: str) -> str:
    """``name`` quoted by ``preparer`` (a SQLAlchemy ``IdentifierPreparer``), always."""
    escaped = name.replace(preparer.escape_quote, preparer.escape_to_quote)
    return f"{preparer.initial_quote}{escaped}{preparer.final_quote}"


def sql_string(text: str, backslashes: bool = False) -> str:
    """A SQL string literal of ``text`` (a table name written into a trigger body, where no
    parameter can be bound); ``backslashes`` doubles them too (MySQL)."""
    if backslashes:
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"
