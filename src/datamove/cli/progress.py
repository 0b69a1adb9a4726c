"""Progress of a copy on stderr: a live bar on a terminal, plain lines in a pipe or a CI log.

A Rich bar draws nothing when stderr is not a terminal, so a run in CI used to be silent for
its whole length. ``--progress`` picks the display (``auto``: the bar on a terminal, lines
elsewhere); the lines are one per table start and finish, and a progress line per running
table every ``--progress-interval`` seconds (rows, rows/s, ETA).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from datamove.core.stop import signals_to_main_thread
from datamove.events import (
    ChunkCommitted,
    ChunkRetried,
    Event,
    Message,
    Stopping,
    TableFinished,
    TableStarted,
)

DEFAULT_INTERVAL = 10.0
"""Seconds between progress lines in ``plain`` mode."""


class ProgressMode(StrEnum):
    """How progress is shown on stderr."""

    auto = "auto"
    """``bar`` when stderr is a terminal, else ``plain``."""
    bar = "bar"
    """A live bar per table (chunks, rows, rows/s, elapsed, ETA)."""
    plain = "plain"
    """Plain lines: each table's start and finish, and progress at a steady interval."""
    none = "none"
    """Nothing (the same as ``--quiet``)."""


_STYLES = {"warning": "yellow", "error": "red"}


def _message(console: Console, event: Message) -> None:
    console.print(f"[{_STYLES.get(event.level, 'dim')}]{escape(event.text)}[/]")


def _stopping(console: Console) -> None:
    console.print(
        "stopping: no new chunk starts; the running chunks are cancelled and roll back "
        "(Ctrl-C again to quit at once)",
        markup=False,
    )


def _retry(console: Console, event: ChunkRetried) -> None:
    console.print(
        f"[yellow]retry {event.attempt}[/] {escape(event.error)} "
        f"(waiting {event.wait_seconds:.1f}s)"
    )


class RunProgress:
    """One bar per table (chunks, rows/s, ETA) on stderr; thread-safe event sink."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.enabled = not quiet
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TextColumn("{task.fields[rows]:>10,} rows"),
            TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet or not console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        with self.lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, TableStarted):
            self.rows[event.table] = 0
            self.started[event.table] = time.monotonic()
            self.tasks[event.table] = self.progress.add_task(
                event.table, total=event.chunks_total, completed=event.chunks_done, rows=0, rate=0.0
            )
        elif isinstance(event, ChunkCommitted):
            self.rows[event.table] += event.rows
            elapsed = time.monotonic() - self.started[event.table]  # wall time: all workers
            rate = self.rows[event.table] / elapsed if elapsed > 0 else 0.0
            self.progress.update(
                self.tasks[event.table], advance=1, rows=self.rows[event.table], rate=rate
            )
        elif isinstance(event, ChunkRetried) and self.enabled:
            _retry(self.progress.console, event)
        elif isinstance(event, Stopping) and self.enabled:
            _stopping(self.progress.console)
        elif isinstance(event, Message) and self.enabled:
            _message(self.progress.console, event)


@dataclass
class _Table:
    """A running table as the plain lines count it (this run's chunks and rows only)."""

    chunks_total: int
    chunks_done: int
    rows_estimate: int | None
    started: float
    chunks_this_run: int = 0
    rows: int = 0


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


class PlainProgress:
    """Plain lines on stderr for logs: a table's start and finish, and every ``interval``
    seconds one line per running table (chunks, rows, rows/s, ETA); thread-safe.

    A line is due at a chunk's commit or, between commits, on a timer thread (a long chunk
    still shows the run alive); ``interval`` 0 writes a line at every commit (and starts no
    timer).
    """

    def __init__(
        self,
        console: Console,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.interval = interval
        self.clock = clock
        self.tables: dict[str, _Table] = {}
        self.lock = threading.Lock()
        self.last_line = clock()
        self.stopped = threading.Event()
        self.timer = threading.Thread(target=self._tick, daemon=True, name="datamove-progress")

    def __enter__(self) -> PlainProgress:
        if self.interval > 0:
            self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.timer.is_alive():
            self.timer.join()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self._handle(event)

    def _tick(self) -> None:
        signals_to_main_thread()
        while not self.stopped.wait(max(0.0, self.interval - (self.clock() - self.last_line))):
            with self.lock:
                self._lines_if_due()

    def _handle(self, event: Event) -> None:
        if isinstance(event, TableStarted):
            self.tables[event.table] = _Table(
                event.chunks_total, event.chunks_done, event.rows_estimate, self.clock()
            )
            todo = event.chunks_total - event.chunks_done
            est = f", ~{event.rows_estimate:,} rows" if event.rows_estimate is not None else ""
            self.console.print(
                f"{event.table}: started, {todo} of {event.chunks_total} chunk(s) to copy{est}"
            )
        elif isinstance(event, ChunkCommitted) and event.table in self.tables:
            table = self.tables[event.table]
            table.chunks_done += 1
            table.chunks_this_run += 1
            table.rows += event.rows
            self._lines_if_due()
        elif isinstance(event, TableFinished):
            self.tables.pop(event.table, None)
            rate = f" ({event.rows / event.seconds:,.0f} rows/s)" if event.seconds > 0 else ""
            self.console.print(
                f"{event.table}: finished, {event.rows:,} rows, {event.rejects} reject(s) "
                f"in {event.seconds:.1f}s{rate}"
            )
        elif isinstance(event, ChunkRetried):
            _retry(self.console, event)
        elif isinstance(event, Stopping):
            _stopping(self.console)
        elif isinstance(event, Message):
            _message(self.console, event)

    def _lines_if_due(self) -> None:
        now = self.clock()
        if now - self.last_line < self.interval:
            return
        self.last_line = now
        for name, table in self.tables.items():
            self.console.print(self._line(name, table, now))

    @staticmethod
    def _line(name: str, table: _Table, now: float) -> str:
        elapsed = now - table.started
        rate = table.rows / elapsed if elapsed > 0 else 0.0
        left = table.chunks_total - table.chunks_done
        if table.chunks_this_run:
            eta = _duration(elapsed / table.chunks_this_run * left)
        else:
            eta = "unknown"
        return (
            f"{name}: {table.chunks_done}/{table.chunks_total} chunks, {table.rows:,} rows, "
            f"{rate:,.0f} rows/s, ETA {eta}"
        )


ProgressDisplay = RunProgress | PlainProgress


def run_progress(
    console: Console, mode: ProgressMode, quiet: bool, interval: float
) -> ProgressDisplay:
    """The display ``mode`` asks for (``quiet`` wins); ``auto`` looks at ``console``."""
    if quiet or mode is ProgressMode.none:
        return RunProgress(console, quiet=True)
    if mode is ProgressMode.bar or (mode is ProgressMode.auto and console.is_terminal):
        return RunProgress(console, quiet=False)
    return PlainProgress(console, interval)
