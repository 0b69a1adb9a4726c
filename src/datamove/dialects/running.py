"""Cancelling the statements a dialect's connections are running, from another thread.

A stop (``core.stop``) must not wait for a chunk's COPY or a long SELECT to end: every
connection the dialect's pool has handed out is tracked, and ``cancel`` asks the server to
cancel what each one runs. The statement fails in the thread that runs it, so its
transaction rolls back there; a connection with nothing running is left as it is (the
servers ignore a cancel request for an idle session). Each engine has its own way, one class
each:

- PostgreSQL: a cancel request on the side channel (psycopg's ``cancel_safe``).
- MySQL/MariaDB: ``KILL QUERY <connection id>`` from a connection of its own, outside the
  pool (which the running chunks may hold entirely).
- SQLite: ``sqlite3.Connection.interrupt``.

``cancel`` may run inside a signal handler: it takes only a re-entrant lock.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class RunningStatements:
    """The DBAPI connections an engine's pool has handed out; the base cancels nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._out: dict[int, Any] = {}
        event.listen(engine, "checkout", self._checked_out)
        event.listen(engine, "checkin", self._checked_in)

    def _checked_out(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        with self._lock:
            self._out[id(dbapi_conn)] = dbapi_conn

    def _checked_in(self, dbapi_conn: Any, _record: Any) -> None:
        with self._lock:
            self._out.pop(id(dbapi_conn), None)

    def cancel(self) -> None:
        """Ask the server to cancel the statement each handed-out connection runs; errors
        are ignored (a connection may be closing: its statement ends anyway)."""
        with self._lock:
            connections = list(self._out.values())
        for dbapi_conn in connections:
            try:
                self.cancel_one(dbapi_conn)
            except Exception:  # noqa: BLE001, S112 - best effort: the stop goes on regardless
                continue

    def cancel_one(self, dbapi_conn: Any) -> None:
        """Cancel the statement ``dbapi_conn`` runs (if any)."""


class PgRunningStatements(RunningStatements):
    def cancel_one(self, dbapi_conn: Any) -> None:
        dbapi_conn.cancel_safe(timeout=5.0)


class MySQLRunningStatements(RunningStatements):
    def cancel_one(self, dbapi_conn: Any) -> None:
        # mysql-connector names it ``connection_id``, PyMySQL ``thread_id()``: both are
        # read from the handshake, with no round trip.
        found = getattr(dbapi_conn, "connection_id", None)
        thread_id = found if found is not None else dbapi_conn.thread_id()
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        killer = self.engine.dialect.connect(*cargs, **cparams)
        try:
            cursor = killer.cursor()
            cursor.execute(f"KILL QUERY {int(thread_id)}")
            cursor.close()
        finally:
            killer.close()


class SQLiteRunningStatements(RunningStatements):
    def cancel_one(self, dbapi_conn: Any) -> None:
        dbapi_conn.interrupt()
