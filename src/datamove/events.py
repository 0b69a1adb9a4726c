"""Events the engine emits while it works; renderers (the CLI) subscribe.

The engine never imports Rich: it calls the ``on_event`` callback it was given, from any worker
thread, and the renderer decides what to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunStarted:
    """A recorded run began (``run``, ``verify``, ``sync``; ``repair`` opens several)."""

    run_id: str
    command: str


@dataclass(frozen=True)
class RunFinished:
    """A recorded run ended: ``ok`` or ``failed`` with the (redacted) reason it recorded."""

    run_id: str
    command: str
    status: str
    rows: int
    error: str | None


@dataclass(frozen=True)
class TableStarted:
    table: str
    chunks_total: int
    chunks_done: int
    rows_estimate: int | None


@dataclass(frozen=True)
class ChunkCommitted:
    table: str
    chunk_no: int
    rows: int
    rejects: int
    seconds: float
    path: str


@dataclass(frozen=True)
class ChunkRetried:
    table: str
    chunk_no: int
    attempt: int
    error: str
    wait_seconds: float


@dataclass(frozen=True)
class TableFinished:
    table: str
    rows: int
    rejects: int
    seconds: float


@dataclass(frozen=True)
class Message:
    """A line worth showing to the person running the command."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class Stopping:
    """A stop was requested (the first Ctrl-C): nothing new starts, and the chunks that
    were running are cancelled on the servers and roll back."""


@dataclass(frozen=True)
class SyncProgress:
    """Catch-up state after a batch (or an idle poll): what is left and how fast it goes."""

    pending: int
    lag_seconds: float
    """Age of the oldest unapplied change, by the source's clock."""
    applied_total: int
    rate: float
    """Changes applied per second over the last batches."""
    applied_seq: int


Event = (
    RunStarted
    | RunFinished
    | TableStarted
    | ChunkCommitted
    | ChunkRetried
    | TableFinished
    | Message
    | Stopping
    | SyncProgress
)
EventHandler = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default handler: library callers that want no progress get none."""


def tee(*handlers: EventHandler) -> EventHandler:
    """One handler that passes each event to every one of ``handlers``, in order (a progress
    display and an event log, say)."""

    def each(event: Event) -> None:
        for handler in handlers:
            handler(event)

    return each
