"""The one exception family datamove raises.

Every error says what happened, where (table, column, key, spec path) and what to do.
The CLI prints ``str(exc)`` without a traceback and exits with ``exc.exit_code`` (0 when
nothing is raised)::

    DatamoveError
    ├── SpecError            exit 2  the spec is invalid (names the spec path)
    │   └── MappingChanged   exit 2  resuming under a changed mapping
    ├── UsageError           exit 2  bad command-line usage or a plan with error findings
    │   └── PlanHasErrors    exit 2
    ├── ChecksFailed         exit 1  validation ran and found differences
    ├── RuntimeFailure       exit 3  the run stopped; committed work is kept
    │   ├── RejectLimitExceeded
    │   ├── TransientError           retried (``core.retry``): a deadlock, a serialization
    │   │   │                        failure, a lock timeout, a dropped connection
    │   │   └── ConnectionFailed     a server cannot be reached
    │   └── TerminalError            not retryable: anything else a database raised (a
    │                                refused login too)
    └── Interrupted          exit 130  stopped by request (Ctrl-C): nothing new started,
                                       what was running rolled back, committed work kept
"""

from __future__ import annotations

from typing import Any, ClassVar


class DatamoveError(Exception):
    """Base of every error datamove raises on purpose."""

    exit_code: ClassVar[int] = 3

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        spec_path: str | None = None,
        table: str | None = None,
        column: str | None = None,
        key: Any = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.spec_path = spec_path
        self.table = table
        self.column = column
        self.key = key
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.spec_path:
            parts.append(f"{self.spec_path}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f"\n  hint: {self.hint}")
        return "".join(parts)


class SpecError(DatamoveError):
    """The spec file is unreadable or invalid."""

    exit_code = 2


class MappingChanged(SpecError):
    """A table's resolved mapping differs from the one its checkpoints were made with."""


class UsageError(DatamoveError):
    """The command was called wrongly."""

    exit_code = 2


class PlanHasErrors(UsageError):
    """The plan has error findings; nothing is copied until they are fixed."""


class ChecksFailed(DatamoveError):
    """Validation ran and found differences."""

    exit_code = 1


class RuntimeFailure(DatamoveError):
    """The run stopped; everything committed before stays committed."""

    exit_code = 3


class RejectLimitExceeded(RuntimeFailure):
    """More rows were rejected than the spec's ``max_rejects`` allows."""


class TransientError(RuntimeFailure):
    """A failure worth retrying: dropped connection, deadlock, serialization failure."""


class ConnectionFailed(TransientError):
    """A server could not be reached (retried where a step is; a command's first connection
    is not)."""


class TerminalError(RuntimeFailure):
    """A database error that retrying will not fix."""


class Interrupted(DatamoveError):
    """Stopped by request (the first Ctrl-C, ``core.stop``): no new work started, the
    statements running were cancelled and their transactions rolled back; every chunk or
    batch committed before stays, and running the command again resumes. 130 is the shell's
    code for a process ended by SIGINT."""

    exit_code = 130


class RowError(Exception):
    """One value of one row cannot be moved; becomes a reject (never escapes a chunk)."""

    def __init__(self, column: str | None, reason: str, value: Any = None) -> None:
        self.column = column
        self.reason = reason
        self.value = value
        super().__init__(reason)
