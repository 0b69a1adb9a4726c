"""Overlap reading and writing: a producer thread fills a bounded queue the writer drains.

Drivers release the GIL while they wait on the network, so the source's next block is read
while the target writes the previous one; the queue bound keeps memory at ``depth`` blocks.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from datamove.core.stop import signals_to_main_thread

T = TypeVar("T")
_DONE = object()
_YOUNG_THRESHOLD = 100_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved = gc.get_threshold()


def prefetch(source: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Iterate ``source`` in a background thread, ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; when the consumer stops early
    (an error on the write side), the producer is told to stop and is joined.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        signals_to_main_thread()
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    items.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=produce, name="datamove-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join()


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector every 100,000 container allocations instead of 700
    while rows stream (restored when the last streaming chunk of the process ends).

    Streaming allocates a few containers per row (row tuples, column lists) that reference
    counting frees; at the default threshold the collector runs every 700 of them and every
    100th run walks every object of the process (SQLAlchemy metadata, the plan, modules):
    0.6 s of CPU per million rows of bench/transforms.py's Python-only copy. Cycles are
    still collected, ~140 times less often.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], _YOUNG_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
