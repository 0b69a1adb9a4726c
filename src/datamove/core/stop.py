"""A request to stop a command, shared by its threads: the first Ctrl-C.

Whoever owns the command (the CLI, on SIGINT) calls ``request``; from then on the scheduler
starts no new chunk, the throttle and the retry waits end at once, and the hooks registered by
the session run — they cancel the statements running on both servers, so each running chunk
fails, its target transaction rolls back, and what committed before stays committed.

``request`` may run inside a signal handler, between any two bytecodes of the main thread: it
takes only a re-entrant lock, and the hooks must do the same (a lock the interrupted code holds
would never be released).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from datamove.errors import Interrupted

Hook = Callable[[], None]


class Stop:
    """Set once, never cleared; ``wait`` is a sleep that a request cuts short."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.RLock())
        self._requested = False
        self._hooks: list[Hook] = []

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        """Ask every thread to stop and run the hooks (once; a repeated request does
        nothing)."""
        with self._changed:
            if self._requested:
                return
            self._requested = True
            self._changed.notify_all()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    def on_request(self, hook: Hook) -> Callable[[], None]:
        """Run ``hook`` when a stop is requested; returns the function that unregisters it."""
        with self._changed:
            self._hooks.append(hook)

        def remove() -> None:
            with self._changed:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True at once if a stop is (or gets) requested."""
        with self._changed:
            return self._changed.wait_for(lambda: self._requested, timeout=seconds)

    def check(self) -> None:
        """Raise ``Interrupted`` once a stop is requested: for code about to start work."""
        if self._requested:
            raise Interrupted("stopped by request before this step started")


def signals_to_main_thread() -> None:
    """Block SIGINT in the calling thread (one datamove starts), so that the kernel hands
    Ctrl-C to the main thread. A process-wide signal may be given to any thread that does not
    block it, and Python runs its handler only in the main thread, when that thread next runs
    bytecode: a Ctrl-C taken by a worker waited until the main thread's wait on that worker
    ended (a throttled chunk then committed two seconds after the signal)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
