"""Overlap reading and writing: a producer thread fills a bounded queue the writer drains.

Drivers release the GIL while they wait on the network, so the source's next block is read
while the target writes the previous one; the queue bound keeps memory at ``depth`` blocks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(source: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Iterate ``source`` in a background thread, ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; when the consumer stops early
    (an error on the write side), the producer is told to stop and is joined.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
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
