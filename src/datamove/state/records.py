"""What the state store says, as typed values: the read models of ``status``, checks and steps.

Each is frozen; ``to_dict`` is its ``--json`` form (the shape ``status --json`` has always had).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from datamove.core.evidence import Check, RunCommand, RunStatus, StepKind
from datamove.core.keys import KeyValue, decode_key


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: ``running`` with no finish after a crash (or while it runs)."""

    run_id: str
    command: RunCommand
    status: RunStatus
    started_at: dt.datetime
    """UTC, naive (as every state store time)."""
    finished_at: dt.datetime | None
    rows: int | None
    rejects: int | None
    error: str | None
    """Why it failed (redacted), or why ``verify`` did: ``N check(s) failed``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` (a table's schema steps)."""

    done: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total}


@dataclass(frozen=True)
class SecondPassProgress(Progress):
    """A table's second-pass chunks done of total, and the rejects they recorded."""

    rejects: int

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"rejects": self.rejects}


@dataclass(frozen=True)
class TableSummary:
    """One table's progress: chunks, rows, rejects (the load's and the second pass's), time."""

    table: str
    chunks_done: int
    chunks_total: int
    rows: int
    rejects: int
    seconds: float
    steps: Progress | None
    """Its schema steps, when any are recorded."""
    second_pass: SecondPassProgress | None
    """Its second pass, when it has one."""

    @classmethod
    def not_started(cls, table: str) -> TableSummary:
        """A table in the spec's scope that no run has planned chunks for yet."""
        return cls(table, 0, 0, 0, 0, 0.0, None, None)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None

    @property
    def state(self) -> str:
        """``not started`` (no chunk planned), ``in progress`` or ``done`` (every chunk
        committed; its schema steps and second pass are counted apart)."""
        if not self.chunks_total:
            return "not started"
        return "done" if self.chunks_done == self.chunks_total else "in progress"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "state": self.state,
            "chunks_done": self.chunks_done,
            "chunks_total": self.chunks_total,
            "rows": self.rows,
            "rejects": self.rejects,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "steps": self.steps.to_dict() if self.steps else None,
            "second_pass": self.second_pass.to_dict() if self.second_pass else None,
        }


def in_scope(summaries: list[TableSummary], tables: Iterable[str]) -> list[TableSummary]:
    """The summaries of ``tables`` in their order, ``not started`` for those with none; then
    any other table the store holds (one the spec no longer names)."""
    by_name = {s.table: s for s in summaries}
    named = [by_name.pop(t) if t in by_name else TableSummary.not_started(t) for t in tables]
    return named + list(by_name.values())


@dataclass(frozen=True)
class RejectView:
    """A recorded reject as ``status --rejects`` lists it; ``value`` is masked."""

    table: str
    stored_key: str
    """The key as the store holds it: JSON, typed values tagged (``{"$date": "..."}``)."""
    column: str | None
    reason: str
    value: str | None

    @property
    def key(self) -> KeyValue:
        """The key's values, typed (a date key is a date)."""
        return decode_key(self.stored_key) or ()

    @property
    def key_text(self) -> str:
        """The key as ``status`` prints it: its JSON."""
        return json.dumps(json.loads(self.stored_key))

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": json.loads(self.stored_key),
            "column": self.column,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass(frozen=True)
class StepRecord:
    """A recorded schema step: its status (``pending``, ``done``, ``failed``, ``accepted``),
    when it runs, and its last error."""

    table: str
    kind: StepKind
    name: str
    status: str
    when: str
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "kind": self.kind.value,
            "name": self.name,
            "status": self.status,
            "when": self.when,
            "error": self.error,
        }


@dataclass(frozen=True)
class RecordedCheck:
    """A check as ``verify`` recorded it: the run it belongs to and when."""

    run_id: str
    recorded_at: dt.datetime
    check: Check
