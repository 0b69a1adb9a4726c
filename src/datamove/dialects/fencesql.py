"""The write fence's DDL, engine by engine: BEFORE triggers that refuse every write to a table
with a clear error, unless the writing session carries datamove's bypass marker.

Each ``Dialect`` owns one ``FenceSQL`` (``dialect.fence``). It is stateless: it writes the
statements for the caller to run and reads the catalog on the connection it is given. Trigger
(and function) names start with ``FENCE_PREFIX``, one of ``OWNED_PREFIXES``, so ``datamove
uninstall`` finds a fence left on. The fence refuses a write before the row changes, so the
capture triggers (AFTER triggers) never see a refused write; the statement fails at once
(no lock is waited for) with:

- PostgreSQL: SQLSTATE ``25006`` (read_only_sql_transaction, what a hot standby answers), the
  message and a hint; TRUNCATE is refused too (a statement trigger). Bypass: the session
  setting ``datamove.bypass_fence = on``.
- MySQL/MariaDB: SQLSTATE ``45000`` (error 1644) with the message. TRUNCATE fires no trigger
  there: it is not fenced. Bypass: the user variable ``@datamove_bypass_fence = 1``.
- SQLite: ``RAISE(ABORT, message)`` (SQLITE_CONSTRAINT). Bypass: a SQL function registered on
  datamove's own connection only; the trigger looks it up in ``pragma_function_list``, so any
  other connection (which lacks it) is refused with the same message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.capturesql import FENCE_PREFIX
from datamove.dialects.quoting import sql_string

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect

Statement = tuple[str | None, str]
"""One statement of a fence's DDL and the trigger it creates (None: something the triggers
need, such as a function, made again each time)."""

BYPASS_SETTING = "datamove.bypass_fence"
"""PostgreSQL: the session setting a fenced write is let through under (``on``)."""
BYPASS_VARIABLE = "@datamove_bypass_fence"
"""MySQL/MariaDB: the user variable a fenced write is let through under (``1``)."""
BYPASS_FUNCTION = "dm_fence_bypass"
"""SQLite: the function whose presence on a connection lets its writes through."""


_MESSAGE = (
    'datamove write fence on table "{table}": writes are refused during the cutover of '
    'migration "{migration}"'
)


def _cut(name: str, room: int) -> str:
    return name if len(name) <= room else name[: max(room - 1, 0)] + "~"


def fence_name(table: str, suffix: str = "") -> str:
    """The name of a fence trigger (or function) of ``table``, within every engine's limit."""
    return f"{FENCE_PREFIX}{table}"[:56] + suffix


class FenceSQL:
    """The write-fence DDL of one engine (this base: none; ``create_ddl`` says so)."""

    ATOMIC: ClassVar[bool] = True
    """One transaction installs (or removes) the fence of every table: DDL is transactional."""
    SQLSTATE: ClassVar[str] = ""
    """The SQLSTATE a refused write fails with."""
    MAX_MESSAGE: ClassVar[int] = 1000
    """The longest error message the engine keeps whole."""
    SUFFIXES: ClassVar[tuple[str, ...]] = ("_i", "_u", "_d")
    """A complete fence: one trigger per suffix (``fence_name(table, suffix)``)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def message(self, table: str, migration: str) -> str:
        """What a refused write says: the table, that it is datamove's cutover fence, and the
        migration; the migration's name (then the table's) is cut to fit ``MAX_MESSAGE``."""
        room = self.MAX_MESSAGE - len(_MESSAGE.format(table="", migration=""))
        migration = _cut(migration, max(room - len(table), 8))
        return _MESSAGE.format(table=_cut(table, room - len(migration)), migration=migration)

    def trigger_names(self, table: str) -> list[str]:
        """The triggers a complete fence of ``table`` has."""
        return [fence_name(table, s) for s in self.SUFFIXES]

    def create_ddl(self, conn: Connection, table: str, migration: str) -> list[Statement]:
        """Statements creating the fence of ``table`` (BEFORE triggers refusing INSERT,
        UPDATE and DELETE, ordered before the table's other BEFORE triggers where the engine
        orders them), each with the trigger it creates: the caller runs only those of the
        triggers missing, so a fence already on is never lifted, not even for an instant."""
        raise NotImplementedError(f"the write fence is not implemented for {self.dialect.NAME}")

    def drop_ddl(self, table: str) -> list[str]:
        """Statements removing ``create_ddl``'s triggers (and functions), if present."""
        q = self.dialect.quote
        return [f"DROP TRIGGER IF EXISTS {q(name)}" for name in self.trigger_names(table)]

    def fences(self, conn: Connection) -> dict[str, set[str]]:
        """The fence triggers present in this database: table → trigger names."""
        out: dict[str, set[str]] = {}
        for name, table in self.dialect.capture.triggers(conn).items():
            if name.startswith(FENCE_PREFIX):
                out.setdefault(table, set()).add(name)
        return out

    def lock_timeout(self, seconds: float) -> tuple[list[str], list[str]]:
        """Statements bounding how long the fence's DDL waits for a table's lock (a writer in
        a long transaction holds it; applications queue behind a waiting DDL), and those
        restoring the session afterwards."""
        return [], []

    def bypass_sql(self) -> list[str]:
        """Statements marking a session as datamove's own, let through the fence."""
        raise NotImplementedError(f"the write fence is not implemented for {self.dialect.NAME}")

    @contextmanager
    def bypass(self, conn: Connection) -> Iterator[Connection]:
        """``conn`` marked as datamove's own writer (see the module docstring) for the block;
        afterwards the connection is closed, never returned to the pool with the mark."""
        try:
            for stmt in self.bypass_sql():
                conn.exec_driver_sql(stmt)
            conn.commit()  # PostgreSQL: a setting made in a transaction rolled back is undone
            yield conn
        finally:
            conn.invalidate()


class PgFenceSQL(FenceSQL):
    """One function per table; a row trigger for INSERT/UPDATE/DELETE and a statement
    trigger for TRUNCATE calling it. PostgreSQL fires a table's triggers in name order: any
    trigger that ran first is undone with the refused statement."""

    SQLSTATE = "25006"
    SUFFIXES = ("", "_t")

    def create_ddl(self, conn: Connection, table: str, migration: str) -> list[Statement]:
        q, name = self.dialect.quote, fence_name(table)
        body = (
            "BEGIN\n"
            f"  IF current_setting({sql_string(BYPASS_SETTING)}, true) = 'on' THEN\n"
            "    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n"
            "    RETURN NEW;\n"
            "  END IF;\n"
            f"  RAISE EXCEPTION USING ERRCODE = {sql_string(self.SQLSTATE)},\n"
            f"    MESSAGE = {sql_string(self.message(table, migration))},\n"
            "    HINT = 'the database is being switched over; retry once the cutover is done "
            "(operators: datamove fence status SPEC)';\n"
            "END"
        )
        return [
            (
                None,
                f"CREATE OR REPLACE FUNCTION {q(name)}() RETURNS trigger LANGUAGE plpgsql "
                f"AS {sql_string(body)}",
            ),
            (
                name,
                f"CREATE TRIGGER {q(name)} BEFORE INSERT OR UPDATE OR DELETE ON {q(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {q(name)}()",
            ),
            (
                name + "_t",
                f"CREATE TRIGGER {q(name + '_t')} BEFORE TRUNCATE ON {q(table)} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {q(name)}()",
            ),
        ]

    def drop_ddl(self, table: str) -> list[str]:
        q, name = self.dialect.quote, fence_name(table)
        return [
            *(f"DROP TRIGGER IF EXISTS {q(t)} ON {q(table)}" for t in self.trigger_names(table)),
            f"DROP FUNCTION IF EXISTS {q(name)}()",
        ]

    def lock_timeout(self, seconds: float) -> tuple[list[str], list[str]]:
        return [f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'"], []

    def bypass_sql(self) -> list[str]:
        return [f"SELECT set_config({sql_string(BYPASS_SETTING)}, 'on', false)"]


class MySQLFenceSQL(FenceSQL):
    """Three BEFORE triggers a table, each placed before the table's other BEFORE trigger of
    its event (``PRECEDES``); DDL commits by itself, so tables are fenced one by one."""

    ATOMIC = False
    SQLSTATE = "45000"
    MAX_MESSAGE = 128  # MESSAGE_TEXT's length in MySQL
    _EVENTS = {"_i": "INSERT", "_u": "UPDATE", "_d": "DELETE"}

    def create_ddl(self, conn: Connection, table: str, migration: str) -> list[Statement]:
        q, text = self.dialect.quote, sql_string(self.message(table, migration), backslashes=True)
        first = self._first_before(conn, table)
        out: list[Statement] = []
        for suffix, event in self._EVENTS.items():
            name = fence_name(table, suffix)
            order = f" PRECEDES {q(first[event])}" if event in first else ""
            out.append(
                (
                    name,
                    f"CREATE TRIGGER {q(name)} BEFORE {event} ON {q(table)} FOR EACH ROW{order} "
                    f"BEGIN IF COALESCE({BYPASS_VARIABLE}, 0) <> 1 THEN "
                    f"SIGNAL SQLSTATE '{self.SQLSTATE}' SET MESSAGE_TEXT = {text}; END IF; END",
                )
            )
        return out

    @staticmethod
    def _first_before(conn: Connection, table: str) -> dict[str, str]:
        """Per event: the table's first BEFORE trigger that is not a fence's."""
        rows = conn.execute(
            sa.text(
                "SELECT event_manipulation, trigger_name FROM information_schema.triggers "
                "WHERE trigger_schema = DATABASE() AND event_object_table = :t "
                "AND action_timing = 'BEFORE' ORDER BY action_order DESC"
            ),
            {"t": table},
        )
        return {r[0]: r[1] for r in rows if not r[1].startswith(FENCE_PREFIX)}

    def lock_timeout(self, seconds: float) -> tuple[list[str], list[str]]:
        return (
            [f"SET SESSION lock_wait_timeout = {max(1, round(seconds))}"],
            ["SET SESSION lock_wait_timeout = DEFAULT"],
        )

    def bypass_sql(self) -> list[str]:
        return [f"SET {BYPASS_VARIABLE} = 1"]


class SQLiteFenceSQL(FenceSQL):
    """Three BEFORE triggers a table raising ABORT unless the connection has the bypass
    function. Needs SQLite 3.30 (``pragma_function_list``); with ``PRAGMA trusted_schema =
    OFF`` a fenced write still fails, with "unsafe use of virtual table" instead."""

    SQLSTATE = ""

    def create_ddl(self, conn: Connection, table: str, migration: str) -> list[Statement]:
        q, text = self.dialect.quote, sql_string(self.message(table, migration))
        unmarked = (
            "NOT EXISTS (SELECT 1 FROM pragma_function_list "
            f"WHERE name = {sql_string(BYPASS_FUNCTION)})"
        )
        return [
            (
                fence_name(table, suffix),
                f"CREATE TRIGGER {q(fence_name(table, suffix))} BEFORE {event} ON {q(table)} "
                f"FOR EACH ROW WHEN {unmarked} BEGIN SELECT RAISE(ABORT, {text}); END",
            )
            for suffix, event in MySQLFenceSQL._EVENTS.items()
        ]

    def bypass_sql(self) -> list[str]:
        return []

    @contextmanager
    def bypass(self, conn: Connection) -> Iterator[Connection]:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        try:
            dbapi.create_function(BYPASS_FUNCTION, 0, lambda: 1)
            yield conn
        finally:
            conn.invalidate()  # a deleted function stays listed: the connection goes instead
