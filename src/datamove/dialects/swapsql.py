"""The blue/green swap's rename, engine by engine: every rename of a swap (``orders`` ->
``orders__old``, ``orders__new`` -> ``orders``) happens in one atomic step or not at all, so a
lock that cannot be had, or a kill between statements, leaves the old state or the new, never
half.

- PostgreSQL: the ``ALTER TABLE … RENAME`` statements in one transaction under ``SET LOCAL
  lock_timeout``; a lock timeout (SQLSTATE ``55P03``) rolls the whole transaction back and is
  retried a bounded number of times.
- MySQL/MariaDB: one multi-table ``RENAME TABLE a WAIT n TO b, c TO d`` (atomic DDL; a lock
  wait timeout, error 1205, renames nothing) retried the same way.
- SQLite: the renames in one ``BEGIN IMMEDIATE`` transaction (DDL is transactional).

Stateless like ``FenceSQL``: it runs the statements on the connection it is given. What the
rename leaves pointing at the old table (child foreign keys, triggers, views) is measured in
tests/swap/test_rename_measure.py; re-pointing it is not done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.errors import TerminalError

Rename = tuple[str, str]
"""One rename of a swap: (current name, new name)."""


class SwapSQL:
    """The atomic rename of one engine (this base: SQLite's, one transaction)."""

    LOCK_ERRORS: ClassVar[tuple[str, ...]] = ("database is locked",)
    """Text (or SQLSTATE/error number) of the errors that mean a lock was not had in time."""

    def quote(self, conn: Connection, name: str) -> str:
        return str(conn.dialect.identifier_preparer.quote(name))

    def statements(self, conn: Connection, renames: Sequence[Rename], wait: int) -> list[str]:
        """The statements of one attempt, run in one transaction."""
        return [
            f"ALTER TABLE {self.quote(conn, old)} RENAME TO {self.quote(conn, new)}"
            for old, new in renames
        ]

    def begin(self, conn: Connection, wait: int) -> None:
        """Open the attempt's transaction (SQLite: take the write lock at once)."""
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def is_lock_error(self, exc: sa.exc.DBAPIError) -> bool:
        text = f"{getattr(exc.orig, 'sqlstate', '')} {exc.orig}"
        return any(marker in text for marker in self.LOCK_ERRORS)

    def rename(
        self, conn: Connection, renames: Sequence[Rename], *, wait: int = 5, retries: int = 3
    ) -> None:
        """Run ``renames`` atomically, retrying up to ``retries`` times when a lock is not had
        within ``wait`` seconds; then fail naming the tables, nothing renamed."""
        for _attempt in range(retries):
            try:
                self.begin(conn, wait)
                for stmt in self.statements(conn, renames, wait):
                    conn.exec_driver_sql(stmt)
                conn.commit()
                return
            except sa.exc.DBAPIError as exc:
                conn.rollback()
                if not self.is_lock_error(exc):
                    raise
        names = ", ".join(old for old, _ in renames)
        raise TerminalError(
            f"swap: could not lock {names} within {wait}s after {retries} attempts; "
            "nothing was renamed",
            hint="find the session holding a lock on these tables, or raise swap.wait/retries",
            table=renames[0][0],
        )


class PostgresSwapSQL(SwapSQL):
    """PostgreSQL: transactional DDL under ``lock_timeout``."""

    LOCK_ERRORS = ("55P03",)

    def begin(self, conn: Connection, wait: int) -> None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait)}s'")


class MySQLSwapSQL(SwapSQL):
    """MySQL/MariaDB: one multi-table ``RENAME TABLE a WAIT n TO b, …`` (atomic on its own)."""

    LOCK_ERRORS = ("1205 (HY000)",)

    def begin(self, conn: Connection, wait: int) -> None:
        """No transaction to open: RENAME TABLE commits implicitly and is atomic itself."""

    def statements(self, conn: Connection, renames: Sequence[Rename], wait: int) -> list[str]:
        pairs = [f"{self.quote(conn, old)} TO {self.quote(conn, new)}" for old, new in renames]
        pairs[0] = pairs[0].replace(" TO ", f" WAIT {int(wait)} TO ", 1)
        return ["RENAME TABLE " + ", ".join(pairs)]


def swap_sql(conn: Connection) -> SwapSQL:
    """The ``SwapSQL`` of the engine ``conn`` is connected to."""
    name = conn.dialect.name
    if name == "postgresql":
        return PostgresSwapSQL()
    if name in ("mysql", "mariadb"):
        return MySQLSwapSQL()
    return SwapSQL()
