"""Rendering for the CLI: progress on stderr, results on stdout (human or JSON)."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from datamove.copy import RunResult
from datamove.core.evidence import RunStatus
from datamove.events import (
    ChunkCommitted,
    ChunkRetried,
    Event,
    Message,
    Stopping,
    SyncProgress,
    TableFinished,
    TableStarted,
)
from datamove.migration import Status
from datamove.plan import Plan, Severity
from datamove.state.records import StepRecord

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


class RunProgress:
    """One bar per table (chunks, rows/s, ETA) on stderr; thread-safe event sink."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TextColumn("{task.fields[rows]:>10,} rows"),
            TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet or not err.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        with self.lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, TableStarted):
            self.rows[event.table] = 0
            self.started[event.table] = time.monotonic()
            self.tasks[event.table] = self.progress.add_task(
                event.table, total=event.chunks_total, completed=event.chunks_done, rows=0, rate=0.0
            )
        elif isinstance(event, ChunkCommitted):
            self.rows[event.table] += event.rows
            elapsed = time.monotonic() - self.started[event.table]  # wall time: all workers
            rate = self.rows[event.table] / elapsed if elapsed > 0 else 0.0
            self.progress.update(
                self.tasks[event.table], advance=1, rows=self.rows[event.table], rate=rate
            )
        elif isinstance(event, ChunkRetried):
            if self.enabled:
                self.progress.console.print(
                    f"[yellow]retry {event.attempt}[/] {event.error} "
                    f"(waiting {event.wait_seconds:.1f}s)"
                )
        elif isinstance(event, TableFinished):
            pass
        elif isinstance(event, Stopping) and self.enabled:
            self.progress.console.print(stopping_text(event))
        elif isinstance(event, Message) and self.enabled:
            style = {"warning": "yellow", "error": "red"}.get(event.level, "dim")
            self.progress.console.print(f"[{style}]{event.text}[/]")


def stopping_text(event: Stopping) -> str:
    return (
        "stopping: no new chunk starts; the running chunks are cancelled and roll back "
        "(Ctrl-C again to quit at once)"
    )


def run_summary(result: RunResult) -> None:
    table = Table(title=f"run {result.run_id}", title_justify="left")
    for name in ("table", "chunks", "skipped", "rows", "rejects", "rows/s", "path"):
        table.add_column(name, justify="left" if name in ("table", "path") else "right")
    for t in result.tables:
        rate = f"{t.rows_per_second:,.0f}" if t.rows_per_second else "-"
        table.add_row(
            t.table,
            f"{t.chunks_total}",
            f"{t.chunks_skipped}",
            f"{t.rows:,}",
            f"{t.rejects}",
            rate,
            ",".join(sorted(t.paths)) or "-",
        )
    out.print(table)
    out.print(f"{result.rows:,} rows in {result.seconds:.1f}s; {result.rejects_total} reject(s)")


def run_json(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "rows": result.rows,
        "rejects": result.rejects_total,
        "seconds": round(result.seconds, 3),
        "tables": [
            {
                "table": t.table,
                "chunks_total": t.chunks_total,
                "chunks_skipped": t.chunks_skipped,
                "rows": t.rows,
                "copied": t.copied,
                "filled": t.filled,
                "rejects": t.rejects,
                "seconds": round(t.seconds, 3),
                "paths": sorted(t.paths),
            }
            for t in result.tables
        ],
    }


_COLORS = {Severity.error: "red", Severity.warning: "yellow", Severity.note: "cyan"}


def schema_objects(t: Any, online: bool) -> list[tuple[str, list[str]]]:
    """A table's schema steps in words, grouped by when they run (``plan``)."""
    validated = "validated by `datamove sync` once caught up" if online else "then validated"
    groups = [
        ("with the table", [f"CHECK {c.name}" for c in t.checks]),
        ("after the load", [f"index {i}" for i in t.indexes]),
        ("generators set past the copied values (again after sync)", list(t.sequences)),
        (
            f"once both tables are loaded ({validated})",
            [f"foreign key {fk}" for fk in t.foreign_keys],
        ),
    ]
    return [(when, objects) for when, objects in groups if objects]


def plan_text(plan: Plan) -> None:
    out.print(f"[bold]{plan.name}[/]: {plan.source_url} → {plan.target_url}")
    out.print(f"order: {' → '.join(plan.order) or '(nothing)'}")
    for name in plan.order:
        t = plan.tables[name]
        est = f"~{t.rows_estimate:,} rows" if t.rows_estimate is not None else "rows unknown"
        if t.bytes_estimate:
            est += f", ~{t.bytes_estimate / 1e6:,.1f} MB"
        action = "create" if t.create else "existing"
        out.print(
            f"\n[bold]{name}[/] ← {t.source_name}  key ({', '.join(t.key)})  {est}  "
            f"target: {action}, chunks of {t.batch_size:,}"
        )
        if t.where:
            out.print(f"  where: {t.where}")
        grid = Table(show_header=True, box=None, padding=(0, 2))
        for col in ("target", "type", "source", "source type", "transforms", "computed"):
            grid.add_column(col)
        for c in t.columns:
            grid.add_row(
                c.target,
                c.target_type_text + ("" if c.nullable else " NOT NULL"),
                c.source or "-",
                c.source_info.label if c.source_info else "-",
                ", ".join(x.describe() for x in c.transforms) or "-",
                "second pass" if c.second_pass else "sql" if c.pushdown else "python",
            )
        out.print(grid)
        for when, objects in schema_objects(t, plan.online):
            out.print(f"  {when}: {escape('; '.join(objects))}")
    if plan.findings:
        out.print("\n[bold]findings[/]")
        for f in plan.findings:
            out.print(
                f"  [{_COLORS[f.severity]}]{f.severity.value:7}[/] "
                f"{escape(f.spec_path)}: {escape(f.message)}"
            )
    counts = {s: sum(1 for f in plan.findings if f.severity is s) for s in Severity}
    out.print(
        f"\n{counts[Severity.error]} error(s), {counts[Severity.warning]} warning(s), "
        f"{counts[Severity.note]} note(s)"
    )


def steps_text(steps: list[StepRecord]) -> None:
    """Schema steps not done yet, each with when it runs (and its error, if it failed)."""
    grid = Table(title="schema steps not done", title_justify="left")
    for name in ("table", "step", "status", "runs"):
        grid.add_column(name)
    for s in steps:
        status = s.status + (f": {s.error}" if s.error else "")
        step = f"{s.kind.value.replace('_', ' ')} {s.name}"
        grid.add_row(s.table, escape(step), escape(status), escape(s.when))
    out.print(grid)


def status_text(status: Status) -> None:
    out.print(f"[bold]{status.name}[/] on {status.target}")
    if not status.tables:
        out.print("nothing has run yet")
        return
    table = Table()
    for name in ("table", "chunks", "rows", "rejects", "rows/s", "schema steps", "second pass"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for t in status.tables:
        rate = f"{t.rows_per_second:,.0f}" if t.rows_per_second else "-"
        table.add_row(
            t.table,
            f"{t.chunks_done}/{t.chunks_total}",
            f"{t.rows:,}",
            str(t.rejects),
            rate,
            f"{t.steps.done}/{t.steps.total}" if t.steps else "-",
            f"{t.second_pass.done}/{t.second_pass.total}" if t.second_pass else "-",
        )
    out.print(table)
    out.print(f"{status.rejects_total} reject(s)")
    if status.last_run:
        run = status.last_run
        crashed = " (no finish recorded: still running, or killed)"
        out.print(
            f"last run {run.run_id}: {run.status.value}, "
            f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC"
            f"{crashed if run.status is RunStatus.running else ''}"
        )
    if status.last_error:
        out.print(f"[red]last error:[/] {escape(status.last_error)}")
    if status.pending_steps:
        steps_text(status.pending_steps)
    if status.capture is not None:
        capture_text(status.capture)
    if status.rejects:
        grid = Table(title="rejects", title_justify="left")
        for name in ("table", "key", "column", "reason", "value"):
            grid.add_column(name)
        for r in status.rejects:
            grid.add_row(r.table, r.key_text, r.column or "-", r.reason, r.value or "")
        out.print(grid)


class Spinner:
    """A spinner with elapsed time on stderr while a long step without chunks runs."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.quiet = quiet
        self.status = None if quiet or not err.is_terminal else err.status(label + " …")

    def __call__(self, event: Event) -> None:
        """The step's messages (a retry, say), above the spinner."""
        if isinstance(event, Message) and not self.quiet:
            style = {"warning": "yellow", "error": "red"}.get(event.level, "dim")
            err.print(f"[{style}]{escape(event.text)}[/]")

    def __enter__(self) -> Spinner:
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()


_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta"}
_SHOWN_KEYS = 10


def verify_text(result: Any) -> None:
    """The checks as a table, then every difference the row-level diffs found."""
    table = Table(title=f"verify {result.run_id or ''}".strip(), title_justify="left")
    for name in ("check", "status", "expected", "actual", "seconds"):
        table.add_column(name, justify="right" if name == "seconds" else "left")
    for c in result.checks:
        style = _STATUS_STYLE.get(c.status, "")
        actual = c.actual or c.details.get("error", "")
        table.add_row(c.name, f"[{style}]{c.status}[/]", c.expected, actual, f"{c.seconds:.2f}")
    out.print(table)
    for diff in result.diffs:
        if not diff.differences:
            continue
        out.print(f"[bold]{diff.table}[/] ({diff.method}): differences")
        for label, keys in (("missing in target", diff.missing), ("extra in target", diff.extra)):
            if keys:
                shown = ", ".join("/".join(str(v) for v in k) for k in keys[:_SHOWN_KEYS])
                more = f" … and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else ""
                out.print(f"  {label} ({len(keys)}): key {shown}{more}")
        for row in diff.changed[:_SHOWN_KEYS]:
            cols = "; ".join(f"{c}: {s} → {t}" for c, (s, t) in row.columns.items())
            out.print(f"  changed key {'/'.join(str(v) for v in row.key)}: {cols}")
        if len(diff.changed) > _SHOWN_KEYS:
            out.print(f"  … and {len(diff.changed) - _SHOWN_KEYS} more changed rows")
        if diff.not_fetched:
            out.print(f"  at least {diff.not_fetched} more differences (beyond --max-diff-rows)")
    failed = [c for c in result.checks if not c.ok]
    verdict = (
        "[green]all checks passed[/]" if not failed else f"[red]{len(failed)} check(s) failed[/]"
    )
    out.print(f"{len(result.checks)} checks in {result.seconds:.1f}s; {verdict}")


def repair_text(result: Any) -> None:
    """What was found, which chunks were copied again, and the verification afterwards."""
    found = [d for d in result.before.diffs if d.differences]
    if not found:
        out.print("nothing to repair: every table matches")
    for diff in found:
        chunks = result.reopened.get(diff.table, [])
        out.print(
            f"{diff.table}: {diff.differences} difference(s) → re-copied {len(chunks)} "
            f"chunk(s) ({', '.join(map(str, chunks))})"
        )
    verify_text(result.after)


class SyncDisplay(Spinner):
    """A live line on stderr: pending changes, lag and apply rate; warnings as they come."""

    def __init__(self, quiet: bool) -> None:
        super().__init__("sync: starting", quiet)
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, SyncProgress) and self.status is not None:
            self.status.update(
                f"sync: {event.pending:,} pending, lag {event.lag_seconds:.1f}s, "
                f"{event.applied_total:,} applied ({event.rate:,.0f}/s), "
                f"checkpoint {event.applied_seq}"
            )
        elif isinstance(event, Message):
            style = "yellow" if event.level == "warning" else "dim"
            err.print(f"[{style}]{event.text}[/]")


def sync_text(result: Any) -> None:
    """What ``sync`` applied, and where it stands: the checkpoint it would resume from."""
    stopped = "stopped by Ctrl-C; " if result.stopped else ""
    out.print(
        f"{stopped}applied {result.changes:,} change(s) in {result.batches} batch(es): "
        f"{result.upserted:,} upserted, {result.deleted:,} deleted, {result.rejects} "
        f"reject(s); {result.pending:,} pending, lag {result.lag_seconds:.1f}s; "
        f"checkpoint {result.applied_seq}"
    )


def capture_text(status: Any) -> None:
    if not status.installed:
        out.print("capture is not installed (datamove capture install SPEC)")
        return
    table = Table(title="change capture", title_justify="left")
    for name in ("table", "triggers", "active at backfill", "pending"):
        table.add_column(name, justify="right" if name == "pending" else "left")
    for t in status.tables:
        at = {True: "yes", False: "[red]no[/]", None: "-"}[t["active_at_backfill"]]
        table.add_row(t["table"], "yes" if t["capture"] else "[red]no[/]", at, f"{t['pending']:,}")
    out.print(table)
    out.print(
        f"{status.pending:,} change(s) pending, oldest {status.lag_seconds:.1f}s; "
        f"last applied sequence {status.applied_seq}"
    )
