"""``DualWriter``: the application's writes to both stores while the read-path flag's stage
says so, with its own SQLAlchemy engines::

    flags = FlagClient(STATE_URL, "shop")
    dual = DualWriter(old=old_engine, new=new_engine, flags=flags)

    def save(conn):                       # the same statement on either store
        conn.execute(sa.text("UPDATE orders SET qty = :q WHERE id = :id"), {...})

    dual.write("orders", order_id, save)  # old then new, or new then old, by stage
    rows = dual.read(lambda conn: conn.execute(...).all(), name="order", key=order_id)

Each write runs ``fn`` in a transaction of its own on each store the stage writes
(``dualwrite.stages``), the authoritative store first: its failure raises, as the application
expects. A failure of the second store (down, its connection killed, a constraint) is logged
and recorded as a drift row in the authoritative store (``state.drift``), never raised: ``sync``
re-copies those keys. ``key`` is the row's key in the spec's source table ``table``.

A process that dies between the two writes leaves no drift row: change capture
(``sync: {mode: triggers}``) covers that window, the drift table covers the store being down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dualwrite.shadow import ShadowLog
from datamove.dualwrite.stages import ROUTES, Route, Stage, Store, parse_stage
from datamove.flags.client import FlagClient
from datamove.state.drift import DriftTable

log = logging.getLogger("datamove.dualwrite")

T = TypeVar("T")
Write = Callable[[Connection], Any]
Read = Callable[[Connection], T]


def _key(key: Any) -> tuple[Any, ...]:
    return tuple(key) if isinstance(key, tuple | list) else (key,)


class DualWriter:
    """Routes an application's reads and writes by the dual-write stage (module docstring)."""

    def __init__(
        self,
        *,
        old: sa.Engine,
        new: sa.Engine,
        flags: FlagClient | None = None,
        flag: str = "read_path",
        stage: Callable[[str | None], str] | None = None,
        shadow_ratio: float = 0.0,
    ) -> None:
        """``flags`` gives the stage (flag ``flag``, per targeting key) and records shadow
        reads in its state store; ``stage`` (a function of the targeting key) replaces the
        flag. ``shadow_ratio``: the share of reads compared in the shadow and live stages."""
        if flags is None and stage is None:
            raise ValueError("give flags= (the read-path flag client) or stage=")
        if not 0.0 <= shadow_ratio <= 1.0:
            raise ValueError(f"shadow_ratio must be between 0 and 1, not {shadow_ratio}")
        self.engines: dict[Store, sa.Engine] = {"old": old, "new": new}
        self.flags = flags
        self.flag = flag
        self._stage = stage
        self.drift = DriftTable()
        self.shadow = ShadowLog(flags, shadow_ratio)
        self._unknown: set[str] = set()

    def stage(self, targeting_key: str | None = None) -> Stage:
        """The stage for ``targeting_key``: the flag's value; a value that names no stage
        (or no value) is ``off``, logged once per value."""
        if self._stage is not None:
            value: object = self._stage(targeting_key)
        else:
            assert self.flags is not None
            value = self.flags.get(self.flag, targeting_key=targeting_key)
        found = parse_stage(value)
        if found is None:
            if str(value) not in self._unknown:
                self._unknown.add(str(value))
                log.warning(
                    "flag %s is %r, not a dual-write stage: writing old only", self.flag, value
                )
            return Stage.off
        return found

    def route(self, targeting_key: str | None = None) -> tuple[Stage, Route]:
        stage = self.stage(targeting_key)
        return stage, ROUTES[stage]

    def write(
        self,
        table: str,
        key: Any,
        fn: Write,
        *,
        new_fn: Write | None = None,
        targeting_key: str | None = None,
    ) -> Any:
        """``fn`` on the authoritative store, then on the secondary (``new_fn`` there when
        the new store's schema differs); returns the authoritative store's result."""
        stage, route = self.route(targeting_key)
        fns: dict[Store, Write] = {"old": fn, "new": new_fn or fn}
        with self.engines[route.authority].begin() as conn:
            result = fns[route.authority](conn)
        if route.secondary is not None:
            self._secondary(route, stage, table, _key(key), fns[route.secondary])
        return result

    def _secondary(
        self, route: Route, stage: Stage, table: str, key: tuple[Any, ...], fn: Write
    ) -> None:
        assert route.secondary is not None
        try:
            with self.engines[route.secondary].begin() as conn:
                fn(conn)
        except Exception as exc:  # noqa: BLE001  (the request goes on; the key is drift)
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.warning(
                "write of %s %r to the %s store failed, recorded as drift: %s",
                table,
                key,
                route.secondary,
                error,
            )
            self._record_drift(route, stage, table, key, error)

    def _record_drift(
        self, route: Route, stage: Stage, table: str, key: tuple[Any, ...], error: str
    ) -> None:
        """The drift row, in the store that just took the write; if that fails too, the
        request still succeeded: logged as an error naming the key (a full verify finds it)."""
        try:
            with self.engines[route.authority].begin() as conn:
                self.drift.record(conn, table, key, stage.value, error)
        except Exception:  # noqa: BLE001
            log.exception(
                "drift of %s %r could not be recorded in the %s store: run a full verify",
                table,
                key,
                route.authority,
            )

    def read(
        self,
        fn: Read[T],
        *,
        name: str,
        key: Any = None,
        targeting_key: str | None = None,
        new_fn: Read[T] | None = None,
    ) -> T:
        """``fn`` on the authoritative store; in the shadow and live stages a sampled share
        (``shadow_ratio``) also runs on the other store and the two results are compared
        and recorded as a shadow check named ``name`` (never raised into the caller)."""
        stage, route = self.route(targeting_key)
        fns: dict[Store, Read[T]] = {"old": fn, "new": new_fn or fn}
        with self.engines[route.authority].connect() as conn:
            result = fns[route.authority](conn)
        if route.shadow and self.shadow.sampled():
            other: Store = "new" if route.authority == "old" else "old"
            self.shadow.compare(
                name, stage, key, result, lambda: self._read_other(other, fns[other])
            )
        return result

    def _read_other(self, store: Store, fn: Read[T]) -> T:
        with self.engines[store].connect() as conn:
            return fn(conn)
