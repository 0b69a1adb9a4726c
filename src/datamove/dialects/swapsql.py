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
tests/swap/test_rename_measure.py; ``rename`` re-points the child foreign keys
(``child_keys``; SQLite cannot) and re-creates the triggers and views (``dependents``, read
before the renames, their DDL then binds to the table that has the name). PostgreSQL and
SQLite do all of it in the rename's transaction; MariaDB after its RENAME (not atomic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.errors import TerminalError

Rename = tuple[str, str]
"""One rename of a swap: (current name, new name)."""


@dataclass(frozen=True)
class ChildKey:
    """A foreign key of another table that refers to a swapped table, read before the swap."""

    child: str
    name: str
    columns: tuple[str, ...]
    referred: str
    referred_columns: tuple[str, ...]
    ondelete: str | None
    onupdate: str | None


def dependents(conn: Connection, table: str) -> list[Dependent]:
    """The triggers (and PostgreSQL/SQLite views) bound to ``table`` (a rename leaves them on
    the old table, tests/swap/test_rename_measure.py; a MariaDB view resolves by name)."""
    name = conn.dialect.name
    if name in ("mysql", "mariadb"):
        rows = [
            ("TRIGGER", r[0], table, r[1])
            for r in conn.execute(
                sa.text(
                    "SELECT trigger_name, concat('CREATE TRIGGER `', trigger_name, '` ', "
                    "action_timing, ' ', event_manipulation, ' ON `', event_object_table, "
                    "'` FOR EACH ROW ', action_statement) FROM information_schema.triggers "
                    "WHERE trigger_schema = DATABASE() AND event_object_table = :t"
                ),
                {"t": table},
            )
        ]
    else:
        rows = [tuple(r) for r in conn.execute(sa.text(_DEPENDENTS[name]), {"t": table})]
    conn.rollback()
    return [Dependent(str(k), str(n), str(t), str(c)) for k, n, t, c in rows]


def child_keys(conn: Connection, table: str) -> list[ChildKey]:
    """Every foreign key referring to ``table`` (what a swap must re-point: a rename leaves
    it on the old table, tests/swap/test_rename_measure.py)."""
    inspector = sa.inspect(conn)
    found = [
        ChildKey(
            child,
            str(fk["name"]),
            tuple(fk["constrained_columns"]),
            table,
            tuple(fk["referred_columns"]),
            fk.get("options", {}).get("ondelete"),
            fk.get("options", {}).get("onupdate"),
        )
        for child in inspector.get_table_names()
        for fk in inspector.get_foreign_keys(child)
        if fk["referred_table"] == table and fk["name"]
    ]
    conn.rollback()
    return found


@dataclass(frozen=True)
class Dependent:
    """A trigger or view bound to a swapped table, with the DDL that made it, read before the
    swap: run again after the renames, it binds to the table that now has the name."""

    kind: str  # "TRIGGER" or "VIEW"
    name: str
    table: str
    create: str


_DEPENDENTS = {
    "postgresql": (
        "SELECT 'TRIGGER', t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relname = :t "
        "AND c.relnamespace = current_schema()::regnamespace "
        "UNION ALL SELECT DISTINCT 'VIEW', v.relname, :t, "
        "'CREATE OR REPLACE VIEW ' || quote_ident(v.relname) || ' AS ' || pg_get_viewdef(v.oid) "
        "FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_class c ON c.oid = d.refobjid "
        "WHERE c.relname = :t AND v.oid <> c.oid "
        "AND c.relnamespace = current_schema()::regnamespace"
    ),
    "sqlite": "SELECT upper(type), name, :t, sql FROM sqlite_master "
    "WHERE type IN ('trigger', 'view') AND (tbl_name = :t OR (type = 'view' AND sql LIKE "
    "'%' || :t || '%'))",
}


_ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION")


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

    def repoint(self, conn: Connection, key: ChildKey) -> list[str]:
        """Statements re-pointing ``key`` at the table now named ``key.referred`` (this base:
        SQLite cannot alter a foreign key; it refuses)."""
        raise TerminalError(
            f"swap: foreign key {key.name} of {key.child} refers to {key.referred}; "
            f"this engine cannot re-point it without rebuilding {key.child}",
            table=key.child,
        )

    def key_sql(self, conn: Connection, key: ChildKey) -> str:
        """``FOREIGN KEY (…) REFERENCES …`` of ``key`` with its ON DELETE/UPDATE actions."""
        q = self.quote
        cols = ", ".join(q(conn, c) for c in key.columns)
        refs = ", ".join(q(conn, c) for c in key.referred_columns)
        text = f"FOREIGN KEY ({cols}) REFERENCES {q(conn, key.referred)} ({refs})"
        for action, rule in (("DELETE", key.ondelete), ("UPDATE", key.onupdate)):
            if rule and rule.upper() in _ACTIONS:
                text += f" ON {action} {rule.upper()}"
        return text

    def begin(self, conn: Connection, wait: int) -> None:
        """Open the attempt's transaction (SQLite: take the write lock at once)."""
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def is_lock_error(self, exc: sa.exc.DBAPIError) -> bool:
        text = f"{getattr(exc.orig, 'sqlstate', '')} {exc.orig}"
        return any(marker in text for marker in self.LOCK_ERRORS)

    def drop(self, conn: Connection, dep: Dependent, table: str) -> str:
        """Drop ``dep`` (now on ``table``, the old table's new name) before it is re-created."""
        return f"DROP {dep.kind} {self.quote(conn, dep.name)}"

    def validate(self, conn: Connection, key: ChildKey) -> list[str]:
        """Statements validating a re-pointed key after the swap committed (none here)."""
        return []

    def rename(
        self,
        conn: Connection,
        renames: Sequence[Rename],
        *,
        wait: int = 5,
        retries: int = 3,
        keys: Sequence[ChildKey] = (),
        deps: Sequence[Dependent] = (),
    ) -> None:
        """Run ``renames`` atomically, then re-point ``keys`` (read by ``child_keys`` before)
        at the table that now has their referred name; retry up to ``retries`` times when a
        lock is not had within ``wait`` seconds; then fail naming the tables, nothing
        renamed."""
        for _attempt in range(retries):
            try:
                self.begin(conn, wait)
                for stmt in self.statements(conn, renames, wait):
                    conn.exec_driver_sql(stmt)
                for key in keys:
                    for stmt in self.repoint(conn, key):
                        conn.exec_driver_sql(stmt)
                moved = dict(renames)
                for dep in deps:
                    conn.exec_driver_sql(self.drop(conn, dep, moved.get(dep.table, dep.table)))
                    conn.exec_driver_sql(dep.create)
                conn.commit()
                for key in keys:
                    for stmt in self.validate(conn, key):
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

    def repoint(self, conn: Connection, key: ChildKey) -> list[str]:
        """Dropped and re-added ``NOT VALID`` in the rename's transaction (no scan under the
        lock); validated after it commits."""
        child, name = self.quote(conn, key.child), self.quote(conn, key.name)
        return [
            f"ALTER TABLE {child} DROP CONSTRAINT {name}",
            f"ALTER TABLE {child} ADD CONSTRAINT {name} {self.key_sql(conn, key)} NOT VALID",
        ]

    def drop(self, conn: Connection, dep: Dependent, table: str) -> str:
        """A trigger is dropped from its (renamed) table; a view is replaced in place."""
        if dep.kind == "VIEW":
            return "SELECT 1"
        return f"DROP TRIGGER {self.quote(conn, dep.name)} ON {self.quote(conn, table)}"

    def validate(self, conn: Connection, key: ChildKey) -> list[str]:
        child, name = self.quote(conn, key.child), self.quote(conn, key.name)
        return [f"ALTER TABLE {child} VALIDATE CONSTRAINT {name}"]


class MySQLSwapSQL(SwapSQL):
    """MySQL/MariaDB: one multi-table ``RENAME TABLE a WAIT n TO b, …`` (atomic on its own)."""

    LOCK_ERRORS = ("1205 (HY000)",)

    def begin(self, conn: Connection, wait: int) -> None:
        """No transaction to open: RENAME TABLE commits implicitly and is atomic itself."""

    def statements(self, conn: Connection, renames: Sequence[Rename], wait: int) -> list[str]:
        pairs = [f"{self.quote(conn, old)} TO {self.quote(conn, new)}" for old, new in renames]
        pairs[0] = pairs[0].replace(" TO ", f" WAIT {int(wait)} TO ", 1)
        return ["RENAME TABLE " + ", ".join(pairs)]

    def repoint(self, conn: Connection, key: ChildKey) -> list[str]:
        """Two ALTERs after the RENAME (MariaDB refuses dropping and adding one name in one
        ALTER; DDL is not transactional here: a kill between them leaves the key dropped or on
        the old table, which a resumed swap step must re-point; not built yet)."""
        child, name = self.quote(conn, key.child), self.quote(conn, key.name)
        return [
            f"ALTER TABLE {child} DROP FOREIGN KEY {name}",
            f"ALTER TABLE {child} ADD CONSTRAINT {name} {self.key_sql(conn, key)}",
        ]


def swap_sql(conn: Connection) -> SwapSQL:
    """The ``SwapSQL`` of the engine ``conn`` is connected to."""
    name = conn.dialect.name
    if name == "postgresql":
        return PostgresSwapSQL()
    if name in ("mysql", "mariadb"):
        return MySQLSwapSQL()
    return SwapSQL()
