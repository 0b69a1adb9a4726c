"""The report rendered: one self-contained HTML file (inline CSS and SVG charts, nothing
fetched), Markdown, or JSON — all from one ``Report``.

The charts are drawn here as plain geometry (a bar's width, a point's position) so the
templates only place them: per table, rows copied and seconds spent as bars; the reconcile
trend as a polyline of each round's drift (the sum of its checks' recorded drift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2

from datamove.core.evidence import RunCommand
from datamove.redact import redact_text
from datamove.report.model import Report

Format = Literal["html", "md", "json"]
FORMATS: tuple[str, ...] = ("html", "md", "json")
BAR_WIDTH = 300
TREND = (480, 120)
"""The reconcile trend's width and height, in SVG units."""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float
    text: str


@dataclass(frozen=True)
class Round:
    """One reconcile round on the trend: its drift and where it is drawn."""

    run_id: str
    started_at: Any
    status: str
    drift: float
    failed: int
    x: float
    y: float


def bars(values: dict[str, float], unit: str) -> list[Bar]:
    """One bar per label, the largest ``BAR_WIDTH`` wide."""
    top = max(values.values(), default=0) or 1
    return [
        Bar(
            label,
            v,
            round(v / top * BAR_WIDTH, 1),
            f"{v:,.0f} {unit}" if unit == "rows" else f"{v:.2f} {unit}",
        )
        for label, v in values.items()
    ]


def rounds(report: Report) -> list[Round]:
    """The reconcile rounds, oldest first, placed on the trend."""
    ev = report.evidence
    found = ev.runs_of(RunCommand.reconcile)
    drifts = [sum(c.drift for c in ev.checks_of(r.run_id)) for r in found]
    top = max(drifts, default=0) or 1
    width, height = TREND
    step = width / max(len(found) - 1, 1)
    return [
        Round(
            r.run_id,
            r.started_at,
            r.status,
            d,
            sum(c.status != "passed" for c in ev.checks_of(r.run_id)),
            round(i * step, 1),
            round(height - d / top * (height - 10) - 5, 1),
        )
        for i, (r, d) in enumerate(zip(found, drifts, strict=True))
    ]


def render(report: Report, fmt: Format) -> str:
    """The report text in ``fmt`` (secrets the spec or the evidence quote are masked)."""
    if fmt == "json":
        return redact_text(json.dumps(report.to_dict(), indent=2, default=str)) + "\n"
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datamove.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    ev = report.evidence
    context = {
        "r": report,
        "ev": ev,
        "rows": bars({t.table: float(t.rows) for t in ev.tables}, "rows"),
        "times": bars({t.table: t.seconds for t in ev.tables}, "s"),
        "rounds": rounds(report),
        "trend": TREND,
        "bar": BAR_WIDTH,
        "commands": {c.value: ev.runs_of(c) for c in RunCommand},
        "rehearsals": ev.runs_of(RunCommand.rehearsal),
    }
    return redact_text(env.get_template(f"report.{fmt}.j2").render(**context))


def write(report: Report, fmt: Format, path: Path) -> Path:
    path.write_text(render(report, fmt), encoding="utf-8")
    return path
