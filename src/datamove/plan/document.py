"""The mapping document: the plan written for a reviewer who has never seen the YAML.

``datamove plan SPEC --doc mapping.md`` (or ``.html``) renders, per table, every target column
with its source, types and transforms in plain words, the key, the filter, the load order and
every finding. It is the stage-2 deliverable a reviewer reads and signs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from datamove.errors import UsageError
from datamove.plan.model import ColumnPlan, Finding, Plan, Severity
from datamove.spec.models import Invariant

FORMATS = {".md": "mapping.md.j2", ".markdown": "mapping.md.j2", ".html": "mapping.html.j2"}


def describe_column(column: ColumnPlan) -> str:
    """What happens to a column's value, in plain words."""
    steps = [t.describe() for t in column.transforms]
    if column.source is None:
        steps.insert(0, "no source column")
    if not steps:
        return "copied as is"
    text = "; ".join(steps)
    return text[0].upper() + text[1:]


def render(plan: Plan, fmt: str, invariants: list[Invariant], max_rejects: int) -> str:
    """The document text in ``fmt`` ('.md' or '.html')."""
    template_name = FORMATS.get(fmt.lower())
    if template_name is None:
        raise UsageError(
            f"no mapping document format for {fmt!r}", hint="name the file .md or .html"
        )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datamove.plan", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["code"] = lambda value: f"`{value}`"
    by_table: dict[str, list[Finding]] = {}
    general: list[Finding] = []
    for finding in plan.findings:
        if finding.table in plan.tables:
            by_table.setdefault(finding.table, []).append(finding)
        else:
            general.append(finding)
    counts = {s.value: sum(1 for f in plan.findings if f.severity is s) for s in Severity}
    context: dict[str, Any] = {
        "plan": plan,
        "tables": [plan.tables[name] for name in plan.order],
        "findings_by_table": by_table,
        "general": general,
        "counts": counts,
        "invariants": invariants,
        "max_rejects": max_rejects,
        "how": describe_column,
    }
    return env.get_template(template_name).render(**context)


def write(plan: Plan, path: Path, invariants: list[Invariant], max_rejects: int) -> None:
    path.write_text(render(plan, path.suffix, invariants, max_rejects), encoding="utf-8")
