"""Statement text that survives mysql-connector's parameter formatter.

mysql-connector puts parameters into the statement on the client: every ``%(name)s`` in the
text is replaced by the value bound to ``name``, wherever it stands, and the pattern has no
escape for a ``%(`` that is not a parameter. A quoted name or string holding ``%(x)s`` (a legal
column name) is taken for a parameter and the statement fails (``KeyError: b'x'``) or, worse,
names another column. The formatter does read one escape: ``%(any)%`` becomes ``%``. So, just
before a statement with parameters reaches the connector, every ``%`` inside a quoted token is
written that way and reaches the server as it was.

Statements without parameters are sent as they are, and so is ``executemany`` of an INSERT
(the connector formats only its ``VALUES`` row, which holds nothing but parameters).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

_QUOTED = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"", re.S)
"""A backtick-quoted name or a string (MySQL's default ``sql_mode``: backslash escapes)."""
_ESCAPED_PERCENT = "%(_)%"


def protected(statement: str) -> str:
    """``statement`` with every ``%`` inside a quoted token escaped for the formatter."""
    if "%" not in statement:
        return statement
    return _QUOTED.sub(lambda m: m.group(0).replace("%", _ESCAPED_PERCENT), statement)


def install(engine: sa.Engine) -> None:
    """Protect every statement SQLAlchemy sends through ``engine`` (a mysql-connector one)."""
    # The connector's own test for the INSERTs it batches (imported here: it is an extra).
    from mysql.connector.cursor import RE_SQL_INSERT_STMT

    def before(
        _conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool
    ) -> tuple[str, Any]:
        if params and not (many and RE_SQL_INSERT_STMT.match(statement)):
            statement = protected(statement)
        return statement, params

    sa.event.listen(engine, "before_cursor_execute", before, retval=True)
