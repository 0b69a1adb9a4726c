"""Throttling: a token bucket shared by all workers of a run."""

from __future__ import annotations

import threading
import time

from datamove.core.stop import Stop


class Throttle:
    """A token bucket shared by all workers: at most ``rate`` rows per second on average.
    A stop ends the wait at once (``Interrupted``): a throttled chunk is mostly waiting."""

    def __init__(self, rate: float | None, stop: Stop | None = None) -> None:
        self.rate = rate
        self.stop = stop or Stop()
        self.lock = threading.Lock()
        self.next_free = time.monotonic()

    def __call__(self, rows: int) -> None:
        if not self.rate or rows <= 0:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + rows / self.rate
            wait_for = start - now
        if wait_for > 0 and self.stop.wait(wait_for):
            self.stop.check()
