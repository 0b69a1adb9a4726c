"""Rendering for the CLI: progress on stderr, results on stdout (human or JSON)."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import StrEnum
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table

from datamove.copy import RunResult
from datamove.core.evidence import RunStatus
from datamove.dualwrite.status import DualWriteStatus
from datamove.events import Event, Message, SyncProgress
from datamove.flags import FlagChange, FlagListing, FlagReading, FlagValue
from datamove.migration import Status
from datamove.plan import Plan, Severity
from datamove.plan.findings import group
from datamove.state.records import StepRecord
from datamove.verify.result import value_text

PIPE_WIDTH = 1000
"""Columns a table may take when the output is not a terminal: wide enough that no cell is
cut (``last_upda…``); a table is only as wide as its cells, so short ones stay short."""


class WideWhenPiped(Console):
    """A console as wide as the terminal, or ``PIPE_WIDTH`` in a pipe or a file (Rich would
    fall back to 80 columns and cut cells); ``COLUMNS`` still wins when set."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in os.environ:
            return ConsoleDimensions(PIPE_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


out = WideWhenPiped(highlight=False, soft_wrap=True)
err = WideWhenPiped(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


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


class Only(StrEnum):
    """``plan --only``: the findings of one severity."""

    errors = "errors"
    warnings = "warnings"
    notes = "notes"

    @property
    def severity(self) -> Severity:
        return Severity(self.value[:-1])


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


def plan_text(plan: Plan, only: Severity | None = None, quiet: bool = False) -> None:
    """The plan for a reader; ``only``: just the findings of that severity; ``quiet``: the
    errors and the summary line, nothing else."""
    if not quiet:
        _plan_tables(plan)
    shown = [f for f in plan.findings if not f.acknowledged]
    if quiet or only is not None:
        shown = [f for f in shown if f.severity is (Severity.error if quiet else only)]
    if shown:
        out.print("\n[bold]findings[/]")
    for g in group(shown):
        color = _COLORS[g.severity]
        if len(g.findings) == 1:
            f = g.findings[0]
            where = f"{escape(f.spec_path)}: "
        else:
            where = f"{len(g.findings)}× "
        out.print(
            f"  [{color}]{g.severity.value:7}[/] {where}{escape(g.message)} {escape(f'[{g.code}]')}"
        )
        if len(g.findings) > 1:
            out.print(f"           at {escape(', '.join(g.places))}")
    counts = {
        s: sum(1 for f in plan.findings if f.severity is s and not f.acknowledged) for s in Severity
    }
    acknowledged = sum(1 for f in plan.findings if f.acknowledged)
    out.print(
        f"\n{counts[Severity.error]} error(s), {counts[Severity.warning]} warning(s), "
        f"{counts[Severity.note]} note(s)"
        + (f"; {acknowledged} acknowledged" if acknowledged else "")
    )


def _plan_tables(plan: Plan) -> None:
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
        if t.rollback is not None:
            out.print(f"  rollback: {escape(t.rollback.summary())}")


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


def dual_write_text(d: DualWriteStatus) -> None:
    def drift(n: int | None) -> str:
        return "unreadable" if n is None else f"{n:,}" if not n else f"[red]{n:,}[/]"

    out.print(
        f"dual-write stage {escape(d.stage or 'not set (off)')}; open drift: old store "
        f"{drift(d.drift_old)}, new store {drift(d.drift_new)}"
    )
    bad = f"[red]{d.mismatches_since_verify}[/]" if d.mismatches_since_verify else "0"
    out.print(
        f"shadow reads: {d.shadow.compared:,} compared, {d.shadow.mismatched:,} differed, "
        f"{d.shadow.errors:,} failed; {bad} differed since the last green verify"
    )


def status_text(status: Status) -> None:
    out.print(f"[bold]{status.name}[/] on {status.target}")
    if status.last_run is None:
        out.print("nothing has run yet")
    table = Table()
    for name in ("table", "chunks", "rows", "rejects", "rows/s", "schema steps", "second pass"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for t in status.tables:
        rate = f"{t.rows_per_second:,.0f}" if t.rows_per_second else "-"
        table.add_row(
            t.table,
            f"{t.chunks_done}/{t.chunks_total}" if t.chunks_total else t.state,
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
    if status.dual_write is not None:
        dual_write_text(status.dual_write)
    for v in status.signoffs:
        s = v.signoff
        who = escape(s.name + (f" ({s.role})" if s.role else ""))
        stands = f"[red]stale:[/] {escape('; '.join(v.stale))}" if v.stale else "stands"
        out.print(f"sign-off by {who}, {s.signed_at:%Y-%m-%d %H:%M} UTC: {stands}")
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


def verify_text(result: Any, command: str = "verify") -> None:
    """The checks as a table, then every difference the row-level diffs found; titled with
    the ``command`` that compared (``verify``, ``diff``)."""
    table = Table(title=f"{command} {result.run_id or ''}".strip(), title_justify="left")
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
            cols = "; ".join(
                f"{escape(c)}: {escape(value_text(s))} → {escape(value_text(t))}"
                for c, (s, t) in row.columns.items()
            )
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


_SHOWN_REASONS = 5


def repair_text(result: Any) -> None:
    """What was found, which chunks were copied again (key range and why), and the
    verification afterwards."""
    found = [d for d in result.before.diffs if d.differences]
    if not found:
        out.print("nothing to repair: every table matches")
    for diff in found:
        chunks = [c for c in result.chunks if c.table == diff.table]
        out.print(
            f"{escape(diff.table)}: {diff.differences} difference(s) found by the checksum → "
            f"re-copied {len(chunks)} chunk(s)"
        )
        for c in chunks:
            shown = "; ".join(c.reasons[:_SHOWN_REASONS])
            more = len(c.reasons) - _SHOWN_REASONS
            out.print(
                f"  chunk {c.chunk_no}, keys {escape(c.range_text)}: {escape(shown)}"
                + (f"; and {more} more" if more > 0 else "")
            )
    verify_text(result.after)


class SyncDisplay(Spinner):
    """A live line on stderr: pending changes, lag and apply rate; warnings as they come.
    Not on a terminal, the same line is printed every ``interval`` seconds (for CI logs)."""

    def __init__(self, quiet: bool, interval: float) -> None:
        super().__init__("sync: starting", quiet)
        self.quiet = quiet
        self.interval = interval
        self.last_line: float | None = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, SyncProgress):
            line = (
                f"sync: {event.pending:,} pending, lag {event.lag_seconds:.1f}s, "
                f"{event.applied_total:,} applied ({event.rate:,.0f}/s), "
                f"checkpoint {event.applied_seq}"
            )
            if self.status is not None:
                self.status.update(line)
            elif self.last_line is None or time.monotonic() - self.last_line >= self.interval:
                self.last_line = time.monotonic()
                err.print(line)
        elif isinstance(event, Message):
            style = "yellow" if event.level == "warning" else "dim"
            err.print(f"[{style}]{event.text}[/]")


def uninstall_list(items: list[Any], others: list[str]) -> None:
    """What ``uninstall`` would remove (``sync.uninstall.Installed``), one per line."""
    out.print(f"datamove added {len(items)} object(s):")
    for item in items:
        out.print(f"  {item.describe()}")
    if others:
        out.print(
            f"the state store also holds migration(s) {', '.join(others)}: their rows and the "
            "state tables stay"
        )


def sync_text(result: Any) -> None:
    """What ``sync`` applied, and where it stands: the checkpoint it would resume from."""
    stopped = "stopped by Ctrl-C; " if result.stopped else ""
    out.print(
        f"{stopped}applied {result.changes:,} change(s) in {result.batches} batch(es): "
        f"{result.upserted:,} upserted, {result.deleted:,} deleted, {result.rejects} "
        f"reject(s); {result.pending:,} pending, lag {result.lag_seconds:.1f}s; "
        f"checkpoint {result.applied_seq}"
    )
    if result.drift_repaired:
        out.print(f"dual-write drift: {result.drift_repaired:,} row(s) re-copied and repaired")


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


def fence_text(status: Any) -> None:
    """A side's write fence per table, and fenced tables besides those asked about."""
    table = Table(title=f"write fence on the {status.side.value}", title_justify="left")
    for name in ("table", "fenced", "triggers", "step"):
        table.add_column(name)
    for t in status.tables:
        fenced = "yes" if t.on else ("[yellow]partly[/]" if t.present else "no")
        table.add_row(escape(t.table), fenced, f"{t.present}/{t.total}", t.step or "-")
    out.print(table)
    word = "on" if status.on else ("off" if status.off else "[yellow]partly on[/]")
    out.print(f"the fence is {word} for the {len(status.tables)} table(s) in scope")
    if status.others:
        out.print(f"also fenced in that database: {', '.join(status.others)}")


def _flag_value(value: FlagValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def _for(targeting_key: str | None) -> str:
    return f"tenant {targeting_key}" if targeting_key else "every tenant"


def flag_text(reading: FlagReading) -> None:
    """``flag get``: the value, and which row gave it, who and when."""
    s = reading.setting
    asked = f" for tenant {reading.targeting_key}" if reading.targeting_key else ""
    if s is None:
        out.print(f"{escape(reading.name)}{escape(asked)}: not set")
        return
    out.print(
        f"{escape(reading.name)}{escape(asked)} = {escape(_flag_value(s.value))}  "
        f"({'its own value' if s.targeting_key else 'the value for every tenant'}; "
        f"set by {escape(s.updated_by)} at {s.updated_at} UTC)"
    )


def flag_change_text(change: FlagChange) -> None:
    """``flag set``: what changed, from what."""
    before = "not set" if change.previous is None else _flag_value(change.previous)
    out.print(
        f"{escape(change.name)} = {escape(_flag_value(change.value))} for "
        f"{escape(_for(change.targeting_key))} (was {escape(before)}); recorded as set by "
        f"{escape(change.changed_by)} at {change.changed_at} UTC"
    )


def flags_text(listing: FlagListing) -> None:
    """``flag list``: the current values, then the history (newest first)."""
    if not listing.settings:
        out.print("no flag is set")
        return
    table = Table(title="flags", title_justify="left")
    for name in ("flag", "for", "value", "set by", "at (UTC)"):
        table.add_column(name)
    for s in listing.settings:
        table.add_row(
            escape(s.name),
            escape(_for(s.targeting_key)),
            escape(_flag_value(s.value)),
            escape(s.updated_by),
            str(s.updated_at),
        )
    out.print(table)
    history = Table(title="history (newest first)", title_justify="left")
    for name in ("at (UTC)", "flag", "for", "from", "to", "by", "note"):
        history.add_column(name)
    for c in listing.changes:
        history.add_row(
            str(c.changed_at),
            escape(c.name),
            escape(_for(c.targeting_key)),
            "-" if c.previous is None else escape(_flag_value(c.previous)),
            escape(_flag_value(c.value)),
            escape(c.changed_by),
            escape(c.note or ""),
        )
    out.print(history)
