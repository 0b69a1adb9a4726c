"""Findings as a reviewer acts on them: the spec's acknowledgements applied, and repeated
findings grouped (the same warning on 20 columns is one finding listing the columns)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from datamove.plan.model import Finding, Severity
from datamove.spec.codes import RUN_GUARD_CODES
from datamove.spec.models import Acknowledgement

_QUOTED = re.compile(r"'([^']*)'")


def acknowledge(
    findings: list[Finding], acks: list[Acknowledgement], report_unused: bool = True
) -> list[Finding]:
    """``findings`` with those an acknowledgement covers marked (with its reason), plus a note
    per acknowledgement that covers none (``report_unused``), so stale ones get cleaned up."""
    used = [False] * len(acks)
    out: list[Finding] = []
    for finding in findings:
        for i, ack in enumerate(acks):
            if _covers(ack, finding):
                used[i] = True
                finding = dataclasses.replace(finding, acknowledged=True, reason=ack.reason)
                break
        out.append(finding)
    for i, ack in enumerate(acks):
        if report_unused and not used[i] and ack.code not in RUN_GUARD_CODES:
            where = f"table '{ack.table}'" + (f", column '{ack.column}'" if ack.column else "")
            out.append(
                Finding(
                    Severity.note,
                    "acknowledge-unused",
                    f"acknowledgement of {ack.code} ({where}) matches no finding: remove it",
                    f"acknowledge[{i}]",
                )
            )
    return out


def _covers(ack: Acknowledgement, finding: Finding) -> bool:
    if ack.code != finding.code:
        return False
    if not fnmatchcase(finding.table or "", ack.table):
        return False
    return ack.column is None or fnmatchcase(finding.column or "", ack.column)


@dataclass(frozen=True)
class FindingGroup:
    """Findings with one severity, code and message apart from the names they are about."""

    severity: Severity
    code: str
    message: str
    """The first finding's message, or, when several share it, its template with their own
    names replaced by ``…``."""
    findings: tuple[Finding, ...]

    @property
    def places(self) -> list[str]:
        """Where each finding is: ``table.column``, the table, or the spec path."""
        return [_place(f) for f in self.findings]


def group(findings: list[Finding]) -> list[FindingGroup]:
    """Findings grouped by (severity, code, message template), errors first, in first-seen
    order otherwise."""
    groups: dict[tuple[Severity, str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.code, _template(finding)), []).append(finding)
    order = list(Severity)
    out = [
        FindingGroup(severity, code, template if len(same) > 1 else same[0].message, tuple(same))
        for (severity, code, template), same in groups.items()
    ]
    return sorted(out, key=lambda g: order.index(g.severity))


def _template(finding: Finding) -> str:
    """The message with the quoted names of its own table and column replaced by ``…``."""
    names = {finding.table, finding.column} - {None}

    def mask(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        return "'…'" if parts and set(parts) <= names else match.group(0)

    return _QUOTED.sub(mask, finding.message)


def _place(finding: Finding) -> str:
    if finding.table and finding.column:
        return f"{finding.table}.{finding.column}"
    return finding.table or finding.spec_path
