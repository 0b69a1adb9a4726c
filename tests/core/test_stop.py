"""Ctrl-C reaches the main thread: every thread datamove starts blocks SIGINT, so the kernel
cannot hand the signal to a worker (whose wait would then delay the handler until the main
thread next ran: a throttled chunk committed two seconds after the signal)."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import Future

import pytest

from datamove.copy.pipeline import prefetch
from datamove.copy.tasks import ThreadExecutor

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_sigmask"), reason="no per-thread signal masks here"
)


def _blocked() -> set[signal.Signals]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_the_prefetch_thread_leaves_sigint_to_the_main_thread() -> None:
    seen: list[set[signal.Signals]] = []

    def source() -> object:
        seen.append(_blocked())
        yield from range(3)

    assert list(prefetch(source())) == [0, 1, 2]
    assert signal.SIGINT in seen[0]
    assert signal.SIGINT not in _blocked(), "the main thread keeps taking it"


def test_chunk_worker_threads_leave_sigint_to_the_main_thread() -> None:
    class Context:
        def run(self, _task: object) -> set[signal.Signals]:
            assert threading.current_thread() is not threading.main_thread()
            return _blocked()

    executor = ThreadExecutor(Context(), 2)  # type: ignore[arg-type]
    try:
        done: Future[set[signal.Signals]] = executor.submit(object())  # type: ignore[arg-type]
        assert signal.SIGINT in done.result(timeout=10)
    finally:
        executor.close(cancel=False)
