"""Plain progress lines: at a steady interval, with rows/s and an ETA; the display ``auto``
picks by whether stderr is a terminal."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from datamove.cli.progress import (
    PlainProgress,
    ProgressMode,
    RunProgress,
    run_progress,
)
from datamove.events import ChunkCommitted, Message, TableFinished, TableStarted


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _console(terminal: bool = False) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=200)


def _lines(console: Console) -> list[str]:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().splitlines()


def _chunk(no: int, rows: int = 100) -> ChunkCommitted:
    return ChunkCommitted("orders", no, rows, 0, 1.0, "copy")


def test_a_progress_line_once_per_interval_with_rows_per_second_and_eta() -> None:
    console, clock = _console(), Clock()
    progress = PlainProgress(console, interval=10, clock=clock)
    progress(TableStarted("orders", 10, 2, 1000))
    assert _lines(console) == ["orders: started, 8 of 10 chunk(s) to copy, ~1,000 rows"]
    clock.now += 4
    progress(_chunk(2))  # 4 s since the last line: not due
    clock.now += 6
    progress(_chunk(3))  # 10 s: due
    clock.now += 1
    progress(_chunk(4))  # 1 s later: not due again
    assert _lines(console)[1:] == ["orders: 4/10 chunks, 200 rows, 20 rows/s, ETA 0:00:30"]
    clock.now += 10
    progress(Message("orders: created 1 index(es) after the load"))
    progress(_chunk(5))
    assert _lines(console)[2:] == [
        "orders: created 1 index(es) after the load",
        "orders: 6/10 chunks, 400 rows, 19 rows/s, ETA 0:00:21",
    ]
    progress(TableFinished("orders", 1000, 1, 21.0))
    assert _lines(console)[-1] == "orders: finished, 1,000 rows, 1 reject(s) in 21.0s (48 rows/s)"


class Lines(io.StringIO):
    """A stream that says when a progress line (one with an ETA) has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_line = threading.Event()

    def write(self, text: str) -> int:
        if "ETA" in text:
            self.progress_line.set()
        return super().write(text)


def test_the_timer_shows_the_run_alive_between_commits() -> None:
    """No commit for an interval still writes a line (a long chunk in a CI log)."""
    stream = Lines()
    console = Console(file=stream, width=200)
    with PlainProgress(console, interval=0.01) as progress:
        progress(TableStarted("orders", 3, 0, None))
        assert stream.progress_line.wait(timeout=30)
    assert _lines(console)[1] == "orders: 0/3 chunks, 0 rows, 0 rows/s, ETA unknown"


def test_auto_is_the_bar_on_a_terminal_and_lines_elsewhere() -> None:
    assert isinstance(run_progress(_console(True), ProgressMode.auto, False, 10), RunProgress)
    assert isinstance(run_progress(_console(), ProgressMode.auto, False, 10), PlainProgress)
    assert isinstance(run_progress(_console(True), ProgressMode.plain, False, 10), PlainProgress)
    quiet = run_progress(_console(), ProgressMode.plain, True, 10)
    assert isinstance(quiet, RunProgress) and not quiet.enabled
