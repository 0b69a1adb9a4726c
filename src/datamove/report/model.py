"""A report: the evidence, the checklist it ticks, and each sign-off with whether it still
stands. Rendered as HTML (one self-contained file), Markdown or JSON (``report.render``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from datamove.report.checklist import Line, checklist, stale_reasons
from datamove.report.evidence import Evidence, Signoff
from datamove.spec.models import MigrationSpec


@dataclass(frozen=True)
class SignoffView:
    """A sign-off and why later evidence outdates it (none: it stands)."""

    signoff: Signoff
    stale: list[str]

    def to_dict(self) -> dict[str, Any]:
        s = self.signoff
        return {
            "name": s.name,
            "role": s.role,
            "digest": s.digest,
            "signed_at": s.signed_at,
            "stale": bool(self.stale),
            "stale_reasons": self.stale,
        }


@dataclass(frozen=True)
class Report:
    """What ``datamove report`` renders."""

    spec: MigrationSpec
    evidence: Evidence
    lines: list[Line]
    signoffs: list[SignoffView]
    generated_at: dt.datetime

    @classmethod
    def of(cls, spec: MigrationSpec, evidence: Evidence) -> Report:
        views = [SignoffView(s, stale_reasons(s, evidence)) for s in evidence.signoffs]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return cls(spec, evidence, checklist(evidence, spec), views, now)

    @property
    def ticked(self) -> int:
        return sum(line.ticked for line in self.lines)

    @property
    def missing(self) -> list[Line]:
        return [line for line in self.lines if not line.ticked]

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration": self.spec.name,
            "generated_at": self.generated_at,
            "scope": sorted(self.spec.tables),
            "invariants": [i.name for i in self.spec.invariants],
            "checklist": [line.to_dict() for line in self.lines],
            "signoffs": [v.to_dict() for v in self.signoffs],
            "evidence": self.evidence.to_dict(),
        }
