"""The seed's final checklist, each line ticked only by evidence in the state store.

A line names the evidence that ticks it (an anchor of the report's section holding it) or,
unticked, what is missing and the command that produces it. Nothing here is a claim a user
can set: every tick is computed from ``report.evidence``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from datamove.core.evidence import RunCommand, RunStatus
from datamove.report.evidence import Evidence, RunFigures, Signoff
from datamove.spec.models import MigrationSpec

GO_LIVE_STEP = "flip"
"""The runbook step after which the target is live (``spec.cutover.BUILTIN_STEPS``)."""


@dataclass(frozen=True)
class Line:
    """One checklist line: ticked with its evidence, or what is missing and how to make it."""

    key: str
    title: str
    ticked: bool
    evidence: str
    """What ticks it (or what was found), in words."""
    anchor: str
    """The report section holding the evidence (``#runs``, ``#checks``, ...)."""
    missing: str = ""
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def checklist(evidence: Evidence, spec: MigrationSpec) -> list[Line]:
    """The five lines, in the seed's order."""
    return [
        _documented(evidence, spec),
        _checkpointed(evidence),
        _validated(evidence),
        _rehearsed(evidence),
        _reconciled(evidence, spec.signoff.reconcile_window),
    ]


def _documented(evidence: Evidence, spec: MigrationSpec) -> Line:
    title = "Invariants and mapping documented"
    docs = [d for d in evidence.documents if evidence.mapping_hash in (None, d.mapping_hash)]
    if not spec.invariants:
        return Line(
            "documented",
            title,
            False,
            "no invariants declared",
            "#documents",
            "the spec declares no invariants",
            "add invariants: to the spec, then datamove plan SPEC --doc mapping.html",
        )
    if not docs:
        return Line(
            "documented",
            title,
            False,
            f"{len(spec.invariants)} invariant(s) declared",
            "#documents",
            "no mapping document recorded for the current mapping",
            "datamove plan SPEC --doc mapping.html",
        )
    last = docs[-1]
    when = f"{last.written_at:%Y-%m-%d %H:%M} UTC"
    words = f"{len(spec.invariants)} invariant(s); mapping document {last.path} ({when})"
    return Line("documented", title, True, words, "#documents")


def _checkpointed(evidence: Evidence) -> Line:
    title = "Idempotent batches with checkpoints"
    command = "datamove run SPEC"
    if not evidence.tables:
        return Line(
            "checkpoints",
            title,
            False,
            "no chunk recorded",
            "#tables",
            "no table has been copied",
            command,
        )
    open_ = sum(evidence.chunks_without_checkpoint.values())
    chunks = sum(t.chunks_total for t in evidence.tables)
    runs = evidence.runs_of(RunCommand.run)
    if open_:
        return Line(
            "checkpoints",
            title,
            False,
            f"{chunks - open_} of {chunks} chunks committed",
            "#tables",
            f"{open_} chunk(s) without a committed checkpoint",
            f"{command} (resumes where it stopped)",
        )
    if not any(r.status == RunStatus.ok.value for r in runs):
        return Line(
            "checkpoints",
            title,
            False,
            f"{chunks} chunks committed",
            "#runs",
            "no run finished ok",
            command,
        )
    retried = sum(evidence.retried_chunks.values())
    words = (
        f"{chunks} chunks, each committed with its checkpoint, over {len(runs)} run(s); "
        f"{retried} chunk(s) committed more than once (repaired or restarted)"
    )
    return Line("checkpoints", title, True, words, "#tables")


def latest_whole_verify(evidence: Evidence) -> RunFigures | None:
    """The latest verify of the whole mapping (the only kind that records its mapping)."""
    whole = [r for r in evidence.runs_of(RunCommand.verify) if r.mapping_hash is not None]
    return whole[-1] if whole else None


def _validated(evidence: Evidence) -> Line:
    title = "Validation and shadow checks passed"
    command = "datamove verify SPEC"
    last = latest_whole_verify(evidence)
    if last is None:
        return Line(
            "validated",
            title,
            False,
            "no verify of the whole mapping",
            "#checks",
            "no verify of the whole mapping recorded",
            command,
        )
    if last.mapping_hash != evidence.mapping_hash:
        return Line(
            "validated",
            title,
            False,
            f"latest verify {last.run_id[:8]}",
            "#checks",
            "the latest verify checked another mapping than the one copied",
            command,
        )
    checks = evidence.checks_of(last.run_id)
    failed = [c for c in checks if c.status != "passed"]
    if last.status != RunStatus.ok.value or failed:
        return Line(
            "validated",
            title,
            False,
            f"latest verify {last.run_id[:8]}: {len(failed)} of {len(checks)} check(s) not passed",
            "#checks",
            "the latest verify is not green",
            f"datamove repair SPEC, then {command}",
        )
    shadow = [c for c in checks if c.kind == "shadow"]
    if not shadow:
        return Line(
            "validated",
            title,
            False,
            f"latest verify {last.run_id[:8]} green ({len(checks)} checks)",
            "#checks",
            "no shadow check recorded",
            f"declare checks.shadow in the spec, then {command}",
        )
    words = (
        f"latest verify {last.run_id[:8]} of the current mapping: {len(checks)} checks "
        f"passed, {len(shadow)} shadow"
    )
    return Line("validated", title, True, words, "#checks")


def _rehearsed(evidence: Evidence) -> Line:
    title = "Cutover/rollback runbook tested"
    ok = [r for r in evidence.runs_of(RunCommand.rehearsal) if r.status == RunStatus.ok.value]
    if not ok:
        return Line(
            "rehearsed",
            title,
            False,
            "no rehearsal recorded",
            "#rehearsals",
            "no rehearsal of the runbook and the rollback finished ok",
            "datamove cutover SPEC --rehearse",
        )
    last = ok[-1]
    words = (
        f"rehearsal {last.run_id[:8]} ok ({_seconds(last)}, {last.started_at:%Y-%m-%d %H:%M} UTC)"
    )
    return Line("rehearsed", title, True, words, "#rehearsals")


def go_live(evidence: Evidence) -> Any:
    """When the target went live: the latest recorded ``flip`` step done (None: not yet)."""
    flips = [s.updated_at for s in evidence.steps if s.name == GO_LIVE_STEP and s.status == "done"]
    return max(flips) if flips else None


def _reconciled(evidence: Evidence, window: float) -> Line:
    title = "Reconciliation after go-live"
    hours = f"{window / 3600:g}h"
    command = f"datamove reconcile SPEC --every 15m --for {hours}"
    live = go_live(evidence)
    rounds = [r for r in evidence.runs_of(RunCommand.reconcile) if r.finished_at is not None]
    if live is not None:
        rounds = [r for r in rounds if r.started_at >= live]
    if not rounds:
        return Line(
            "reconciled",
            title,
            False,
            "no reconcile round recorded",
            "#reconcile",
            f"no reconcile round after go-live (window {hours})",
            command,
        )
    span = (
        max(r.finished_at for r in rounds if r.finished_at) - rounds[0].started_at
    ).total_seconds()
    failed = [r for r in rounds if r.status != RunStatus.ok.value]
    words = f"{len(rounds)} round(s) over {span / 3600:.1f}h, {len(failed)} failed"
    if span < window:
        return Line(
            "reconciled",
            title,
            False,
            words,
            "#reconcile",
            f"the rounds span {span / 3600:.1f}h of the declared {hours}",
            command,
        )
    if rounds[-1].status != RunStatus.ok.value:
        return Line(
            "reconciled",
            title,
            False,
            words,
            "#reconcile",
            "the latest reconcile round failed",
            f"datamove repair SPEC, then {command}",
        )
    return Line("reconciled", title, True, words, "#reconcile")


def stale_reasons(signoff: Signoff, evidence: Evidence) -> list[str]:
    """Why later evidence outdates a sign-off: a changed mapping, failing checks or runs
    recorded after it (empty: it still stands)."""
    reasons: list[str] = []
    if signoff.mapping_hash != evidence.mapping_hash:
        reasons.append("the mapping changed since")
    seen = signoff.last_check_id or 0
    failing = [c for c in evidence.checks if c.id > seen and c.status != "passed"]
    if failing:
        reasons.append(f"{len(failing)} failing check(s) recorded since")
    failed = [
        r
        for r in evidence.runs
        if r.started_at >= signoff.signed_at
        and r.status == RunStatus.failed.value
        and r.command != RunCommand.verify.value
    ]
    if failed:
        reasons.append(
            f"{len(failed)} failed run(s) since ({', '.join(sorted({r.command for r in failed}))})"
        )
    return reasons


def _seconds(run: RunFigures) -> str:
    return "no finish recorded" if run.seconds is None else f"{run.seconds:.1f}s"
