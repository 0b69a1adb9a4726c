"""The one retry seam: a step that fails with a ``TransientError`` runs again, with backoff.

Copy chunks, second passes, schema steps and sync batches all retry here, and only here. What
is worth retrying is decided once, where a driver's error is turned into a datamove error (the
dialect's ``translate``): a dropped connection, a deadlock, a serialization failure, a lock
timeout become ``TransientError``; anything else is raised at once. A step must be safe to run
again (each is one target transaction, or looks in the catalog first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from datamove.core.stop import Stop
from datamove.errors import DatamoveError, Interrupted, TransientError

T = TypeVar("T")

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Seconds waited before each retry: six retries, ~31 s in all."""

Translate = Callable[[BaseException], DatamoveError]
OnRetry = Callable[[int, TransientError, float], None]
"""Called before each wait: (attempt that failed, its error, seconds to wait)."""


def retrying(
    step: Callable[[], T],
    translate: Translate,
    on_retry: OnRetry,
    delays: tuple[float, ...] = RETRY_DELAYS,
    stop: Stop | None = None,
) -> T:
    """``step()``; after a failure translated to ``TransientError``, ``on_retry`` and a wait,
    then again, ``len(delays)`` times at most. Any other failure is raised at once, as a
    datamove error (the driver's error chained); the last transient one says it gave up.
    Once ``stop`` is requested, any failure (a cancelled statement) is ``Interrupted``, and
    so is a wait it cuts short."""
    stop = stop or Stop()
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - classified by ``translate``, raised below
            if stop.requested and not isinstance(exc, Interrupted):
                raise Interrupted("stopped by request; the running step was rolled back") from exc
            err = exc if isinstance(exc, DatamoveError) else translate(exc)
            if not isinstance(err, TransientError):
                if err is exc:
                    raise
                raise err from exc
            if delay is None:
                err.message = f"{err.message} (gave up after {attempt} attempts)"
                if err is exc:
                    raise
                raise err from exc
            on_retry(attempt, err, delay)
            if stop.wait(delay):
                stop.check()
    raise AssertionError("unreachable")
