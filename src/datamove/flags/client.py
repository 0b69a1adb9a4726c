"""``FlagClient``: the read-path flags as an application reads them, from a cache that a
background thread refreshes, so a request never waits on the flag store nor fails with it.

It needs only the state store's database URL and the migration's name (no spec, no source)::

    with FlagClient("postgresql+psycopg://app@db/platform", "shop", poll_interval=5) as flags:
        if flags.get("read_path", targeting_key=tenant_id, default="legacy") == "platform":
            ...

The first read happens in the constructor; then a daemon thread reads every flag of the
migration each ``poll_interval`` seconds (one SELECT) and swaps the cache whole. ``get`` reads
only the cache: when the store cannot be reached, the last values read are served (logged
once per outage as a warning), and a client that never read the store serves the caller's
default. Nothing raises into the caller; ``resolve`` tells which case a value is. (The
constructor does raise for a URL that is not one, or a driver that is not installed: a
configuration error, found at start.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from datamove.core.stop import signals_to_main_thread
from datamove.dialects.base import Dialect
from datamove.errors import DatamoveError, UsageError
from datamove.flags.store import FlagChange, FlagStore, Matched, Snapshot, lookup
from datamove.flags.values import FlagValue, encode

log = logging.getLogger("datamove.flags")


@dataclass(frozen=True)
class Resolution:
    """What the cache says about one flag for one targeting key."""

    value: FlagValue | None
    """The value, or None when the flag is not set (or was never read)."""
    matched: Matched | None
    """Which row gave it: the targeting key's own, or the flag's for every key."""
    loaded: bool
    """The store has answered at least once: the cache holds its values."""
    fresh: bool
    """The last read of the store succeeded (False: the values are the last known ones)."""
    error: str | None = None
    """Why the last read failed."""


@dataclass(frozen=True)
class Poll:
    """One read of the store, as the client's listeners hear it."""

    ok: bool
    changed: frozenset[str]
    """Flags whose value changed for some targeting key (all of them on the first read)."""
    error: str | None = None


@dataclass(frozen=True)
class _Cache:
    values: Snapshot | None
    """None until the store first answers."""
    error: str | None = None


def _same(a: Snapshot, b: Snapshot, key: tuple[str, str]) -> bool:
    """Whether ``key`` has one value in both, as JSON text: ``true`` is not ``1``, though
    Python finds them equal."""
    x, y = a.get(key), b.get(key)
    return x is not None and y is not None and encode(x) == encode(y)


class FlagClient:
    """The flags of one migration, cached and polled (see the module docstring)."""

    def __init__(
        self,
        url: str,
        migration: str,
        *,
        poll_interval: float = 5.0,
        default: FlagValue | None = None,
    ) -> None:
        if not poll_interval > 0:
            raise UsageError(f"poll_interval must be more than 0 seconds, not {poll_interval}")
        self.migration = migration
        self.poll_interval = poll_interval
        self.default = default
        """The value of a flag that neither the store nor the caller gives one."""
        self._store = FlagStore(Dialect.for_url(url, role="flag store", pool_size=1), migration)
        self._cache = _Cache(None)
        self._listeners: list[Callable[[Poll], None]] = []
        self._lock = threading.Lock()  # one read at a time: a set's refresh and the poller's
        self._stop = threading.Event()
        self.refresh()
        self._thread = threading.Thread(
            target=self._poll, name=f"datamove-flags-{migration}", daemon=True
        )
        self._thread.start()

    @property
    def loaded(self) -> bool:
        """The store has answered at least once."""
        return self._cache.values is not None

    @property
    def dialect(self) -> Dialect:
        """The state store the flags live in (dual-write records its shadow reads there)."""
        return self._store.dialect

    @property
    def url(self) -> str:
        """The store's URL, password hidden."""
        return self._store.dialect.safe_url

    # -- reading ---------------------------------------------------------------------------

    def get(
        self, name: str, targeting_key: str | None = None, default: FlagValue | None = None
    ) -> FlagValue | None:
        """The value of ``name`` for ``targeting_key`` (its own value, else the flag's), from
        the cache; not set or never read: ``default``, else the client's default."""
        value = self.resolve(name, targeting_key).value
        if value is not None:
            return value
        return default if default is not None else self.default

    def resolve(self, name: str, targeting_key: str | None = None) -> Resolution:
        """``get`` with where the value comes from and how fresh the cache is."""
        cache = self._cache
        if cache.values is None:
            return Resolution(None, None, loaded=False, fresh=False, error=cache.error)
        found = lookup(cache.values, name, targeting_key)
        value, matched = found if found else (None, None)
        return Resolution(value, matched, True, cache.error is None, cache.error)

    def on_poll(self, listener: Callable[[Poll], None]) -> None:
        """Call ``listener`` after each read of the store, on the reading thread (its errors
        are logged, never raised)."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Read the store now and swap the cache; True when it answered. Never raises."""
        with self._lock:
            try:
                with self._store.dialect.connect() as conn:
                    values = self._store.snapshot(conn)
            except Exception as exc:  # noqa: BLE001  (whatever the store does, reads go on)
                poll = self._failed(exc)
            else:
                poll = self._loaded(values)
        for listener in list(self._listeners):
            try:
                listener(poll)
            except Exception:  # noqa: BLE001
                log.exception("a flag listener failed")
        return poll.ok

    def _loaded(self, values: Snapshot) -> Poll:
        before = self._cache.values
        if self._cache.error is not None:
            log.info("flag store %s answers again", self.url)
        if before is None:
            changed = {name for name, _ in values}
        else:
            changed = {k[0] for k in before.keys() | values.keys() if not _same(before, values, k)}
        self._cache = _Cache(dict(values))
        return Poll(True, frozenset(changed))

    def _failed(self, exc: Exception) -> Poll:
        before = self._cache
        if isinstance(exc, DatamoveError):
            reason = exc.message
        else:
            reason = f"{type(exc).__name__}: {self._store.dialect.error_text(exc)}"
        if before.error is None:  # once per outage
            serving = "the last known values" if before.values is not None else "the defaults"
            log.warning("flag store %s cannot be read, serving %s: %s", self.url, serving, reason)
        self._cache = _Cache(before.values, reason)
        return Poll(False, frozenset(), reason)

    def _poll(self) -> None:
        signals_to_main_thread()  # an application's Ctrl-C is its main thread's
        while not self._stop.wait(self.poll_interval):
            self.refresh()

    # -- writing ---------------------------------------------------------------------------

    def set(
        self,
        name: str,
        value: FlagValue,
        *,
        targeting_key: str | None = None,
        by: str | None = None,
        note: str | None = None,
    ) -> FlagChange:
        """Set ``name`` (for ``targeting_key``; None: every key) and record who (``by``, else
        the OS user) and when, in one transaction; then refresh the cache. Unlike ``get``,
        this raises when the store cannot be written (an operator's action, not a read)."""
        change = self._store.set(name, value, targeting_key=targeting_key, by=by, note=note)
        self.refresh()
        return change

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the poller and close the connections (idempotent)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=self.poll_interval + 30)
        self._store.dialect.dispose()

    def __enter__(self) -> FlagClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
