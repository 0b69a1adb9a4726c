"""Ctrl-C for commands that copy or apply: the first stops cleanly, a second quits at once.

The first SIGINT requests the command's ``Stop`` (``core.stop``): no new chunk or batch starts,
the running statements are cancelled on both servers and their transactions roll back; the
command then ends with what is committed (``run``: exit 130; ``sync --follow``: exit 0). A
second SIGINT does not wait for that: the process exits 130 at once, and the servers roll back
whatever its dropped connections had open — as after ``kill -9``, nothing is half-committed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from datamove.core.stop import Stop

QUIT_AT_ONCE = (
    "\ninterrupted again: quitting now; the servers roll back what was running, "
    "committed work is kept\n"
)


@contextmanager
def ctrl_c() -> Iterator[Stop]:
    """A ``Stop`` that the first Ctrl-C requests, while the block runs; outside the main
    thread (no signals there) the stop is only requested by its caller."""
    stop = Stop()

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            os.write(2, QUIT_AT_ONCE.encode())
            os._exit(130)
        stop.request()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread
        yield stop
        return
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
