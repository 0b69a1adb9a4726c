"""The evidence a report is computed from: every row the state store holds for one migration.

Read once, in one pass, as plain records; the checklist, the digest a sign-off binds to and the
rendered report are all computed from this and nothing else (no database is compared here).
A target without a state store gives empty evidence: the report then says what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import RunCommand, StepKind
from datamove.state import upgrade
from datamove.state.records import TableSummary
from datamove.state.store import StateStore


@dataclass(frozen=True)
class RunFigures:
    """One recorded run with its figures."""

    run_id: str
    command: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows: int | None
    rejects: int | None
    error: str | None
    mapping_hash: str | None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class CheckRow:
    """One recorded check, with the command of the run that recorded it."""

    id: int
    run_id: str
    command: str
    name: str
    kind: str
    table: str | None
    status: str
    expected: str
    actual: str
    drift: float
    created_at: dt.datetime


@dataclass(frozen=True)
class RejectReason:
    """How many rows of a table were rejected for one reason."""

    table: str
    reason: str
    rows: int


@dataclass(frozen=True)
class StepRow:
    """A recorded cutover step (or a schema step), with its output."""

    table: str
    kind: str
    name: str
    status: str
    started_at: dt.datetime | None
    updated_at: dt.datetime
    output: str | None
    error: str | None


@dataclass(frozen=True)
class Document:
    """A mapping document written by ``plan --doc``."""

    mapping_hash: str
    path: str
    digest: str
    invariants: int
    written_at: dt.datetime


@dataclass(frozen=True)
class Signoff:
    """A named approval, and the evidence digest it was bound to."""

    id: int
    name: str
    role: str | None
    digest: str
    mapping_hash: str | None
    last_check_id: int | None
    signed_at: dt.datetime


@dataclass
class Evidence:
    """Everything the state store holds for one migration (empty without a store)."""

    migration: str
    store_version: int | None = None
    mapping_hash: str | None = None
    """The digest of the mapping the tables were last copied with (as ``Plan.mapping_hash``)."""
    tables: list[TableSummary] = field(default_factory=list)
    retried_chunks: dict[str, int] = field(default_factory=dict)
    """Per table, the chunks committed more than once (a resume or a repair re-copied them)."""
    chunks_without_checkpoint: dict[str, int] = field(default_factory=dict)
    """Per table, the chunks not committed with a checkpoint (still pending)."""
    runs: list[RunFigures] = field(default_factory=list)
    checks: list[CheckRow] = field(default_factory=list)
    rejects: list[RejectReason] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    signoffs: list[Signoff] = field(default_factory=list)

    def runs_of(self, command: RunCommand) -> list[RunFigures]:
        return [r for r in self.runs if r.command == command.value]

    def checks_of(self, run_id: str) -> list[CheckRow]:
        return [c for c in self.checks if c.run_id == run_id]

    @property
    def digest(self) -> str:
        """A digest of what a sign-off sees: the mapping, every run's outcome and every
        check's verdict (a new run or check, or a changed mapping, changes it)."""
        doc = {
            "mapping": self.mapping_hash,
            "runs": [(r.run_id, r.status) for r in self.runs],
            "checks": [(c.id, c.status) for c in self.checks],
            "documents": [d.digest for d in self.documents],
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tables"] = [t.to_dict() for t in self.tables]
        out["digest"] = self.digest
        return out


def mapping_digest(hashes: dict[str, str]) -> str | None:
    """``Plan.mapping_hash`` of the tables' recorded mapping hashes (None: none recorded)."""
    if not hashes:
        return None
    doc = {name: hashes[name] for name in sorted(hashes)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def collect(conn: Connection, state: StateStore) -> Evidence:
    """Read the migration's evidence from its state store (empty when there is none)."""
    found = Evidence(state.migration)
    if not state.readable(conn):
        return found
    found.store_version = version = upgrade.stored_version(conn, state.schema)
    m = state.migration
    s = state.schema
    t = s.tables
    hashes = dict(
        conn.execute(sa.select(t.c.table_name, t.c.mapping_hash).where(t.c.migration == m)).all()
    )
    found.mapping_hash = mapping_digest({str(k): str(v) for k, v in hashes.items()})
    found.tables = state.table_summaries(conn)
    c = s.checkpoints
    for table, commits, status in conn.execute(
        sa.select(c.c.table_name, c.c.commits, c.c.status).where(c.c.migration == m)
    ):
        if commits > 1:
            found.retried_chunks[table] = found.retried_chunks.get(table, 0) + 1
        if status != "done":
            found.chunks_without_checkpoint[table] = (
                found.chunks_without_checkpoint.get(table, 0) + 1
            )
    found.runs = _runs(conn, state, version or 1)
    commands = {r.run_id: r.command for r in found.runs}
    found.checks = [
        CheckRow(
            r.id,
            r.run_id,
            commands.get(r.run_id, "?"),
            r.name,
            r.kind,
            r.table_name,
            r.status,
            r.expected or "",
            r.actual or "",
            _drift(r.details),
            r.created_at,
        )
        for r in conn.execute(
            sa.select(s.checks).where(s.checks.c.migration == m).order_by(s.checks.c.id)
        )
    ]
    rj = s.rejects
    found.rejects = [
        RejectReason(r.table_name, r.reason, int(r.n))
        for r in conn.execute(
            sa.select(rj.c.table_name, rj.c.reason, sa.func.count().label("n"))
            .where(rj.c.migration == m)
            .group_by(rj.c.table_name, rj.c.reason)
            .order_by(rj.c.table_name, rj.c.reason)
        )
    ]
    st = s.steps
    if (version or 1) >= 5:
        found.steps = [
            StepRow(
                r.table_name,
                r.kind,
                r.name,
                r.status,
                r.started_at,
                r.updated_at,
                r.output,
                r.error,
            )
            for r in conn.execute(
                sa.select(st)
                .where(st.c.migration == m, st.c.kind == StepKind.cutover.value)
                .order_by(st.c.table_name, sa.func.coalesce(st.c.started_at, st.c.updated_at))
            )
        ]
    if (version or 1) >= 7:
        d, so = s.documents, s.signoffs
        found.documents = [
            Document(r.mapping_hash, r.path, r.digest, r.invariants, r.written_at)
            for r in conn.execute(sa.select(d).where(d.c.migration == m).order_by(d.c.id))
        ]
        found.signoffs = [
            Signoff(r.id, r.name, r.role, r.digest, r.mapping_hash, r.last_check_id, r.signed_at)
            for r in conn.execute(sa.select(so).where(so.c.migration == m).order_by(so.c.id))
        ]
    return found


def _runs(conn: Connection, state: StateStore, version: int) -> list[RunFigures]:
    r = state.runs
    mapping = r.c.mapping_hash if version >= 5 else sa.null().label("mapping_hash")
    rows = conn.execute(
        sa.select(
            r.c.run_id,
            r.c.command,
            r.c.status,
            r.c.started_at,
            r.c.finished_at,
            r.c.rows,
            r.c.rejects,
            r.c.error,
            mapping,
        )
        .where(r.c.migration == state.migration)
        .order_by(r.c.started_at, r.c.run_id)
    )
    return [RunFigures(*row) for row in rows]


def _drift(details: str | None) -> float:
    """What a check recorded as its drift (rows differing, an invariant's delta); 0 if none."""
    try:
        value = json.loads(details or "{}").get("drift", 0)
        return float(value or 0)
    except (ValueError, TypeError, AttributeError):
        return 0.0
