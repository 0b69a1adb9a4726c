"""A fix to SQLAlchemy's MySQL reflection: a column name holding a backtick comes back with it
doubled (``back``tick``), as ``SHOW CREATE TABLE`` escapes it, in columns, keys and foreign
keys alike; every statement built on the reflected table then names a column that does not
exist. The parser's two readers of names are wrapped once, when this module is imported,
to unescape them (SQLAlchemy 2.1 unescapes only the table name)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from sqlalchemy.dialects.mysql.reflection import MySQLTableDefinitionParser

_Parser = MySQLTableDefinitionParser


def _unescaped_column(parse: Callable[..., None]) -> Callable[..., None]:
    @wraps(parse)
    def parse_column(self: _Parser, line: str, state: Any) -> None:
        before = len(state.columns)
        parse(self, line, state)
        for column in state.columns[before:]:
            column["name"] = self.preparer._unescape_identifier(column["name"])

    return parse_column


def _unescaped_keys(parse: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    @wraps(parse)
    def parse_keyexprs(self: _Parser, identifiers: str) -> list[Any]:
        return [
            (self.preparer._unescape_identifier(name), *rest)
            for name, *rest in parse(self, identifiers)
        ]

    return parse_keyexprs


if not getattr(_Parser, "_datamove_unescapes", False):
    _Parser._parse_column = _unescaped_column(_Parser._parse_column)  # type: ignore[method-assign]
    _Parser._parse_keyexprs = _unescaped_keys(_Parser._parse_keyexprs)  # type: ignore[method-assign]
    _Parser._datamove_unescapes = True  # type: ignore[attr-defined]
