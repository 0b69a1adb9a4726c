"""``--log-file``: every event of a command as one JSON object per line, for CI logs and tools.

One more renderer: it subscribes to the engine's events like the progress display does. Each
line is ``{"ts": ISO-8601 UTC, "event": kind, ...the event's fields}``; every text passes
``redact_text``, so a URL's password never reaches the file. The file is appended to (several
commands may share one log) and each line is flushed as it is written (a killed run keeps
every line before the kill).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any, TextIO

from datamove.errors import UsageError
from datamove.events import Event
from datamove.redact import redact_text


def event_kind(event: Event) -> str:
    """``TableStarted`` → ``table_started``: the ``event`` field of a line."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def event_record(event: Event, now: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON object one event becomes (texts redacted)."""
    fields = {
        name: redact_text(value) if isinstance(value, str) else value
        for name, value in dataclasses.asdict(event).items()
    }
    ts = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds")
    return {"ts": ts, "event": event_kind(event), **fields}


class JsonLinesLog:
    """A thread-safe event handler writing JSON lines to a file (None: writes nothing)."""

    def __init__(self, file: TextIO | None) -> None:
        self.file = file
        self.lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | None) -> JsonLinesLog:
        """The log appending to ``path``; a path that cannot be written is a usage error."""
        if path is None:
            return cls(None)
        try:
            return cls(path.open("a", encoding="utf-8"))
        except OSError as exc:
            raise UsageError(
                f"--log-file {path}: cannot open it for writing ({exc.strerror})",
                hint="give a path in a directory that exists and that you may write to",
            ) from None

    def __enter__(self) -> JsonLinesLog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def __call__(self, event: Event) -> None:
        if self.file is None:
            return
        line = json.dumps(event_record(event), default=str, ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()
