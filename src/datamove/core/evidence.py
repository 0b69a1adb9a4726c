"""The evidence records: what a command leaves in the state store, as typed values.

A ``Check`` (one validation with its evidence), a ``RejectRecord`` (a source row that could not
be moved, with why) and a ``Step`` (one schema action on the target). Every layer above makes
or reads them; none of them knows where they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from datamove.core.keys import KeyValue


@dataclass
class Check:
    """One validation with its evidence: recorded in the state store by ``verify``."""

    name: str
    kind: str
    table: str | None
    status: str
    """``passed``, ``failed`` or ``error`` (the check itself could not run)."""
    expected: str = ""
    actual: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "table": self.table,
            "status": self.status,
            "expected": self.expected,
            "actual": self.actual,
            "details": self.details,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class RejectRecord:
    """A source row that could not be moved: its table, chunk, key, column and why; ``value``
    is already masked."""

    table: str
    chunk_no: int
    key: KeyValue
    column: str | None
    reason: str
    value: str


class StepKind(StrEnum):
    """What a step does to the target."""

    table = "table"
    """Create the table (columns, primary key, NOT NULL, defaults, CHECKs)."""
    secondary_index = "index"
    """Create a secondary index or unique key, after the table's load (``str.index`` takes
    the plain name)."""
    foreign_key = "foreign_key"
    """Add a foreign key once both tables are loaded (not yet checked against their rows)."""
    validate = "validate"
    """Check a foreign key against every row (after ``sync`` catches up, when capture is on)."""
    sequence = "sequence"
    """Set a column's generator (identity, sequence, auto-increment) past the copied values."""
    fence = "fence"
    """The cutover's write fence on the table, on the side the step names (``source`` or
    ``target``): ``done`` while it is on, ``lifted`` once removed, ``pending`` while ``fence
    on``/``off`` is under way or was stopped (its ``when`` says which). Not a schema step."""
    cutover = "cutover"
    """A step of the cutover's runbook (``cutover.runbook``; table ``RUNBOOK``): ``pending``,
    ``running`` (started, no finish recorded: under way or killed), ``done`` or ``failed``.
    Not a schema step."""


@dataclass(frozen=True)
class Step:
    """One schema action on one table; ``when`` says, in words, when it runs."""

    table: str
    kind: StepKind
    name: str
    when: str

    @property
    def label(self) -> str:
        return f"{self.table}: {self.kind.value.replace('_', ' ')} {self.name}"


class RunCommand(StrEnum):
    """The command a recorded run was: the vocabulary of ``runs.command`` (checked on write)."""

    run = "run"
    """Copy the tables in scope, chunk by chunk (resumable)."""
    verify = "verify"
    """Check target = mapping(source); its checks are recorded with the run."""
    sync = "sync"
    """Apply captured changes (or changes past the watermark) to the target."""
    repair = "repair"
    """Re-copy the chunks verification found different."""
    capture = "capture"
    """Install or remove change capture on the source."""
    fence = "fence"
    """Put on or lift the write fence of one side (``cutover.fence``)."""
    cutover = "cutover"
    """The cutover's runbook (``cutover.runbook``): gates, fence, drain, verify, flip."""
    rollback = "rollback"
    """The way back after a cutover (``cutover.rollback``): fence the target, replay, flip."""
    rehearsal = "rehearsal"
    """The runbook then the rollback, as a rehearsal (``cutover.rehearsal``)."""
    reconcile = "reconcile"
    """One round of scheduled reconciliation (``reconcile.rounds``): its checks are recorded
    with the run."""


class RunStatus(StrEnum):
    """Where a recorded run stands."""

    running = "running"
    """Started, no finish recorded: still running, or killed."""
    ok = "ok"
    """Finished; for ``verify``, every check passed."""
    failed = "failed"
    """Stopped on an error (recorded with the run), or ``verify`` found failed checks."""
