"""Change capture's DDL, engine by engine: the row triggers that append changed keys to the
changelog (``sync.changelog``), and the changelog's column types.

Each ``Dialect`` owns one ``CaptureSQL`` (``dialect.capture``). It is stateless: it writes
statements for the caller to run and reads the catalog on the connection it is given. Each
engine's module overrides this base next to its dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect

CAPTURE_PREFIX = "dm_capture_"
"""Every capture trigger's (and trigger function's) name starts with it."""
FENCE_PREFIX = "dm_fence_"
"""Every write-fence trigger's (and trigger function's) name starts with it (``fencesql``)."""
REVERSE_PREFIX = "dm_rcapture_"
"""Reverse capture's triggers (on the target, from the switch on: ``cutover.reverse``)."""
OWNED_PREFIXES = (CAPTURE_PREFIX, FENCE_PREFIX, REVERSE_PREFIX)
"""The name prefixes of every trigger and trigger function datamove creates, on either side:
``uninstall`` finds them in the catalog by these. A new kind (a write fence, reverse capture)
adds its prefix here, so an uninstall by an older plan still removes it."""


class CaptureSQL:
    """The change-capture DDL of one engine (this base: none; ``create_ddl`` says so)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def create_ddl(
        self, table: str, key: Sequence[str], changelog: str, prefix: str = CAPTURE_PREFIX
    ) -> list[str]:
        """Statements creating AFTER INSERT/UPDATE/DELETE row triggers on ``table`` (named by
        ``prefix``) that append (table, key as a JSON array, operation) to ``changelog``: the
        key only, never a row copy. An update that changes the key records the old and the new
        key. A write by a session carrying datamove's fence bypass marker (``fencesql``: a
        rollback replaying into the source) is not recorded: what datamove applies is never
        captured back."""
        raise NotImplementedError(f"change capture is not implemented for {self.dialect.NAME}")

    def drop_ddl(self, table: str, prefix: str = CAPTURE_PREFIX) -> list[str]:
        """Statements removing ``create_ddl``'s triggers (and functions), if present."""
        raise NotImplementedError(f"change capture is not implemented for {self.dialect.NAME}")

    def triggers(self, conn: Connection) -> dict[str, str]:
        """datamove's triggers in this database, name → table: those whose name starts with
        one of ``OWNED_PREFIXES``."""
        return {}

    def functions(self, conn: Connection) -> list[str]:
        """datamove's trigger functions in this database (by ``OWNED_PREFIXES``); engines
        whose triggers have no functions: none."""
        return []

    def drop_trigger_ddl(self, name: str, table: str) -> str:
        """The statement dropping trigger ``name`` of ``table``, if present."""
        return f"DROP TRIGGER IF EXISTS {self.dialect.quote(name)}"

    def drop_function_ddl(self, name: str) -> str:
        """The statement dropping trigger function ``name`` (engines listing ``functions``)."""
        raise NotImplementedError(f"{self.dialect.NAME} has no trigger functions")

    def trigger_names(self, conn: Connection) -> set[str]:
        """Names of the datamove capture triggers present in this database."""
        return {n for n in self.triggers(conn) if n.startswith(CAPTURE_PREFIX)}

    def captured(self, conn: Connection, tables: Sequence[str]) -> set[str]:
        """Those of ``tables`` whose capture triggers are present in this database."""
        names = self.trigger_names(conn)
        return {t for t in tables if any(n.startswith(capture_name(t)) for n in names)}

    def changelog_sequence(self) -> tuple[sa.types.TypeEngine[Any], dict[str, Any]]:
        """The changelog's generated sequence column type, and table options that make sure
        a number is never handed out twice (not even after a purge empties the table)."""
        return sa.BigInteger(), {}

    def change_time_type(self) -> sa.types.TypeEngine[Any]:
        """The changelog's time column: an absolute time whatever the writer's time zone."""
        return sa.DateTime(timezone=True)


def capture_name(table: str, suffix: str = "", prefix: str = CAPTURE_PREFIX) -> str:
    """The name of a capture trigger (or function) of ``table``, within every engine's limit."""
    return f"{prefix}{table}"[:56] + suffix


class TriggerPerOperation(CaptureSQL):
    """Engines without trigger functions: one trigger per operation, named
    ``capture_name(table, suffix)`` for ``_i``, ``_u`` and ``_d`` (MySQL, SQLite)."""

    SUFFIXES = ("_i", "_u", "_d")

    def drop_ddl(self, table: str, prefix: str = CAPTURE_PREFIX) -> list[str]:
        name, q = capture_name(table, prefix=prefix), self.dialect.quote
        return [f"DROP TRIGGER IF EXISTS {q(name + s)}" for s in self.SUFFIXES]
