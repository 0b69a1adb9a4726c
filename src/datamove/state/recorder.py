"""The recorder: every run opened and closed in one place, in the target's state store.

``with recorder.run(RunCommand.sync) as run:`` makes the state store current, records the run
``running`` and yields its handle; leaving the block records ``ok`` (or ``failed`` with the
reason given to ``run.fail``), or ``failed`` with the error that left it, and the totals set on
the handle. A process killed inside the block records nothing more: the run stays ``running``,
which ``status`` shows as "no finish recorded".
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata

import sqlalchemy as sa

from datamove.core.evidence import Check, RunCommand, RunStatus
from datamove.errors import DatamoveError, UsageError
from datamove.events import EventHandler, RunFinished, RunStarted, ignore
from datamove.redact import redact_text
from datamove.state.store import StateStore


def _installed_version() -> str | None:
    try:
        return metadata.version("datamove")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return None


DATAMOVE_VERSION = _installed_version()
"""Recorded with each run (``runs.datamove_version``): which datamove produced the evidence."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class RunHandle:
    """An open run: its id for the rows it records, and the totals its finish records."""

    id: str
    command: RunCommand
    rows: int = 0
    rejects: int | None = None
    """None: the migration's recorded rejects, counted at the finish."""
    failure: str | None = None

    def fail(self, reason: str) -> None:
        """Finish ``failed`` with ``reason`` though nothing was raised (``verify``'s failed
        checks)."""
        self.failure = reason


def run_command(value: RunCommand | str) -> RunCommand:
    """``value`` as a command of the vocabulary (``runs.command`` holds nothing else)."""
    try:
        return RunCommand(value)
    except ValueError:
        known = ", ".join(RunCommand)
        raise UsageError(f"unknown run command {value!r}", hint=f"one of: {known}") from None


def failure_message(exc: BaseException) -> str:
    """What a run records of the error that stopped it (redacted as it is recorded): a
    datamove error's message, else only the exception's type (a driver's text may hold row
    values)."""
    return str(exc) if isinstance(exc, DatamoveError) else type(exc).__name__


class Recorder:
    """Opens and closes the runs of one migration in its target's state store."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    @contextmanager
    def run(
        self,
        command: RunCommand | str,
        on_event: EventHandler = ignore,
        mapping_hash: str | None = None,
        changelog_seq: int | None = None,
    ) -> Iterator[RunHandle]:
        """Record a run around the block (see the module docstring); the block's error is
        re-raised, even when the target is gone and the finish cannot be recorded.

        ``on_event`` hears ``RunStarted`` once the run is recorded and ``RunFinished`` with
        what its finish recorded (an event log's first and last lines). ``mapping_hash``:
        the plan's (``Plan.mapping_hash``) when the run covers the whole mapping; ``changelog_seq``:
        a whole verify's capture position (``state.verified``)."""
        handle = RunHandle(str(uuid.uuid4()), run_command(command))
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.ensure(conn)
            conn.execute(
                self.state.runs.insert().values(
                    run_id=handle.id,
                    migration=self.state.migration,
                    command=handle.command.value,
                    status=RunStatus.running.value,
                    started_at=_now(),
                    datamove_version=DATAMOVE_VERSION,
                    mapping_hash=mapping_hash,
                    changelog_seq=changelog_seq,
                )
            )
        on_event(RunStarted(handle.id, handle.command.value))
        try:
            yield handle
        except BaseException as exc:
            self._finish(handle, RunStatus.failed, failure_message(exc), on_event)
            raise
        failed = handle.failure is not None
        status = RunStatus.failed if failed else RunStatus.ok
        self._finish(handle, status, handle.failure, on_event)

    def record_checks(self, run: RunHandle, checks: Sequence[Check]) -> None:
        """Record ``checks`` as evidence of ``run`` (before any decision is taken on them)."""
        with self.state.dialect.connect() as conn, conn.begin():
            self.state.checks.record(conn, run.id, checks)

    def _finish(
        self, run: RunHandle, status: RunStatus, error: str | None, on_event: EventHandler
    ) -> None:
        error = None if error is None else redact_text(error)
        on_event(RunFinished(run.id, run.command.value, status.value, run.rows, error))
        r = self.state.runs
        try:
            with self.state.dialect.connect() as conn, conn.begin():
                rejects = run.rejects
                if rejects is None:
                    rejects = self.state.reject_count(conn)
                conn.execute(
                    r.update()
                    .where(r.c.run_id == run.id)
                    .values(
                        status=status.value,
                        finished_at=_now(),
                        rows=run.rows,
                        rejects=rejects,
                        error=error,
                    )
                )
        except (DatamoveError, sa.exc.DBAPIError):
            pass  # the target is gone: the run's own outcome is the one worth reporting
