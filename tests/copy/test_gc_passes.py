"""``fewer_gc_passes``: the collector's first threshold raised while any chunk streams rows."""

from __future__ import annotations

import gc
import threading

from datamove.copy.pipeline import fewer_gc_passes


def test_threshold_raised_while_any_user_streams_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    first_in, second_in, second_done = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, ...]] = []

    def second() -> None:
        first_in.wait()
        with fewer_gc_passes():
            second_in.set()
            second_done.wait()
        seen.append(gc.get_threshold())  # the first user still streams: still raised

    thread = threading.Thread(target=second)
    thread.start()
    with fewer_gc_passes():
        first_in.set()
        second_in.wait()
        raised = gc.get_threshold()
        second_done.set()
        thread.join()
    assert raised[0] >= 100_000 and raised[1:] == before[1:]
    assert seen == [raised]
    assert gc.get_threshold() == before


def test_restored_after_a_failure() -> None:
    before = gc.get_threshold()
    try:
        with fewer_gc_passes():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.get_threshold() == before
