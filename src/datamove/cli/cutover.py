"""Stage 6 commands for operators: the cutover's runbook, the write fence, the read-path flag."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datamove.cli import render
from datamove.cli.common import (
    ExcludeOpt,
    JsonOpt,
    PhaseOpt,
    SpecArg,
    TablesOpt,
    duration_option,
    guard,
    settings,
)
from datamove.cli.flags import Group
from datamove.cutover.fence import Side
from datamove.cutover.runbook import CutoverReport, StepView
from datamove.errors import ChecksFailed
from datamove.events import Event, Message
from datamove.migration import Migration


def cutover(
    spec: SpecArg,
    phase: PhaseOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the steps and each gate's value; change nothing."),
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Where it stands: steps, the flag, the fences.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--as", help="Who flips, as recorded (default: the OS user).")
    ] = None,
    rehearse: Annotated[
        bool,
        typer.Option(
            "--rehearse",
            help="Run the runbook then the rollback on the same databases, recorded as the "
            "rehearsal the `rehearsed` gate asks for; ends where it started.",
        ),
    ] = False,
    staging_source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="With --rehearse: rehearse against this staging source URL instead.",
            show_default=False,
        ),
    ] = None,
    staging_target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="With --rehearse: rehearse against this staging target URL (its state store "
            "keeps the staging run); the evidence is recorded in the spec's.",
            show_default=False,
        ),
    ] = None,
    no_watch: Annotated[
        bool, typer.Option("--no-watch", help="End after the runbook: no watch of the triggers.")
    ] = False,
    watch_for: Annotated[
        str | None,
        typer.Option(
            "--watch-for",
            help="Watch the triggers this long (e.g. 30s, 5m) instead of the spec's watch.for.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Switch to the target: gates, fence the source, drain, verify, flip the read-path flag,
    then watch the rollback triggers.

    Every step is recorded; run it again after a failure or a kill to resume at the first
    step not done. A failed gate or check exits 1, a failed step 3. To abandon a stopped
    cutover: `datamove fence off SPEC`. The watch evaluates cutover.rollback.triggers every
    watch.every for watch.for (Ctrl-C ends it); a trigger that fires rolls back by itself
    and exits 1. After a completed rollback, cutover starts over. --rehearse runs the
    runbook and the rollback in turn and records the rehearsal; with --source/--target, on
    staging databases, the evidence recorded in the spec's state store.
    """
    migration = guard(lambda: Migration.from_file(spec, phase))
    quiet = settings["quiet"] or as_json

    def show(event: Event) -> None:
        if isinstance(event, Message) and not quiet:
            render.err.print(escape(event.text), markup=True)

    staged = staging_source is not None or staging_target is not None
    if staged and not rehearse:
        raise typer.BadParameter("--source/--target are for --rehearse", param_hint="--target")
    if status:
        report = guard(migration.cutover_status)
    elif staged:
        report = guard(
            lambda: migration.rehearse_on(staging_source, staging_target, by=by, on_event=show)
        )
    else:
        seconds = 0.0 if no_watch else duration_option("--watch-for", watch_for)
        report = guard(
            lambda: migration.cutover(
                dry_run=dry_run, by=by, on_event=show, watch_for=seconds, rehearse=rehearse
            ),
            resume=f"datamove cutover {shlex.quote(str(spec))}",
        )
    render.emit_json(report.to_dict()) if as_json else _report_text(report)
    if report.watch is not None and report.watch.rolled_back:
        raise typer.Exit(ChecksFailed.exit_code)


def _report_text(report: CutoverReport) -> None:
    """The runbook's steps with their status, the gates measured, the flag and the fences."""
    if report.gates:
        gates = Table(title="gates", title_justify="left")
        for name in ("gate", "status", "measured", "needs", "why"):
            gates.add_column(name)
        for g in report.gates:
            mark = "[green]passed[/]" if g.ok else "[red]failed[/]"
            why = escape(str(g.details.get("reason", "")))
            gates.add_row(escape(g.name), mark, escape(g.actual), escape(g.expected), why)
        render.out.print(gates)
    if report.rehearsal:
        timings = Table(title="rehearsal (recorded; the runbook and the rollback both ran)")
        for name in ("step", "took", "output"):
            timings.add_column(name)
        for c in report.rehearsal:
            said = str(c.details.get("output", "")).strip().splitlines() or [""]
            timings.add_row(escape(c.name), escape(c.actual), escape(said[-1]))
        render.out.print(timings)
        return
    _steps_text("runbook" + (" (dry run: nothing changed)" if report.dry_run else ""), report.steps)
    render.out.print(f"flag {escape(report.flag)}: {escape(json.dumps(report.flag_value))}")
    for fence in (report.source_fence, report.target_fence):
        if fence is not None:
            word = "on" if fence.on else ("off" if fence.off else "partly on")
            render.out.print(f"write fence on the {fence.side.value}: {word}")
    watch = report.watch
    if report.complete and not (watch and watch.rolled_back):
        render.out.print("the cutover is complete")
    if watch is not None and watch.fired is not None:
        back = "rolled back" if watch.rolled_back else "not rolled back"
        render.out.print(f"[red]{back}[/]: {escape(watch.why)}")
    elif watch is not None:
        ended = ", ended by Ctrl-C" if watch.interrupted else ""
        render.out.print(f"watch: quiet after {watch.rounds} round(s){ended}")


def _steps_text(title: str, views: list[StepView]) -> None:
    steps = Table(title=title)
    for name in ("step", "kind", "status", "output"):
        steps.add_column(name)
    for s in views:
        error, output = (s.record.error, s.record.output) if s.record else (None, None)
        lines = (error or output or "").strip().splitlines() or [""]
        said = lines[0] if error else lines[-1]  # what went wrong, or how it ended
        steps.add_row(escape(s.name), s.kind, s.status, escape(said))
    render.out.print(steps)


def rollback(
    spec: SpecArg,
    phase: PhaseOpt = None,
    by: Annotated[
        str | None, typer.Option("--as", help="Who flips back, as recorded (default: the OS user).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Go back to the source after a cutover, losing nothing the target accepted since.

    Needs `cutover.rollback.reverse: true`. Fences the target, replays its captured changes
    into the source through the inverse mapping, verifies, flips the flag back to its old
    value and lifts the source fence. Every step is recorded; run it again after a failure or
    a kill to resume. A failed check exits 1, a failed step 3.
    """
    migration = guard(lambda: Migration.from_file(spec, phase))
    quiet = settings["quiet"] or as_json

    def show(event: Event) -> None:
        if isinstance(event, Message) and not quiet:
            render.err.print(escape(event.text), markup=True)

    views = guard(
        lambda: migration.rollback(by=by, on_event=show),
        resume=f"datamove rollback {shlex.quote(str(spec))}",
    )
    if as_json:
        render.emit_json({"steps": [v.to_dict() for v in views]})
    else:
        _steps_text("rollback", views)


fence_app = typer.Typer(
    cls=Group,
    help="The cutover's write fence: triggers that refuse writes to the tables in scope.",
    no_args_is_help=True,
)
SideOpt = Annotated[
    Side, typer.Option("--side", help="The database whose writes are refused (or let through).")
]


@fence_app.command("on")
def fence_on(
    spec: SpecArg,
    side: SideOpt = Side.source,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refuse INSERT, UPDATE and DELETE on every table in scope, with a clear error.

    One transaction on PostgreSQL and SQLite; table by table on MySQL/MariaDB. Idempotent;
    a stopped run is finished by running it again.
    """
    scope = tuple(tables or ()), tuple(exclude or ())
    result = guard(lambda: Migration.from_file(spec).fence_on(side, *scope))
    render.emit_json(result.to_dict()) if as_json else render.fence_text(result)


@fence_app.command("off")
def fence_off(
    spec: SpecArg,
    side: SideOpt = Side.source,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lift the fence: writes go through again.

    From the tables chosen, or (none chosen) from every fenced table of that database.
    """
    scope = tuple(tables or ()), tuple(exclude or ())
    result = guard(lambda: Migration.from_file(spec).fence_off(side, *scope))
    render.emit_json(result.to_dict()) if as_json else render.fence_text(result)


@fence_app.command("status")
def fence_status(
    spec: SpecArg,
    side: SideOpt = Side.source,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per table in scope: whether the fence is on, and its recorded step."""
    scope = tuple(tables or ()), tuple(exclude or ())
    result = guard(lambda: Migration.from_file(spec).fence_status(side, *scope))
    render.emit_json(result.to_dict()) if as_json else render.fence_text(result)


flag_app = typer.Typer(
    cls=Group,
    help="The read-path flag that applications read per tenant (datamove.flags): get, set, "
    "list with who and when.",
    no_args_is_help=True,
)
FlagNameArg = Annotated[str, typer.Argument(help="The flag's name.", show_default=False)]
TenantOpt = Annotated[
    str | None,
    typer.Option("--tenant", help="A targeting key (tenant, phase): its own value overrides."),
]


@flag_app.command("get")
def flag_get(
    spec: SpecArg, name: FlagNameArg, tenant: TenantOpt = None, as_json: JsonOpt = False
) -> None:
    """The flag's value for --tenant (its own, else the flag's), read from the state store now."""
    result = guard(lambda: Migration.from_file(spec).flag_get(name, tenant))
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.flag_text(result)


@flag_app.command("set")
def flag_set(
    spec: SpecArg,
    name: FlagNameArg,
    value: Annotated[
        str,
        typer.Argument(
            help="JSON: true, false, a number, or text in double quotes ('\"platform\"'); "
            "anything else is refused.",
            show_default=False,
        ),
    ],
    tenant: TenantOpt = None,
    by: Annotated[
        str | None, typer.Option("--as", help="Who sets it, as recorded (default: the OS user).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the flag for --tenant, or for every tenant without a value of its own.

    Who (--as, else the OS user) and when are recorded with the value, in one transaction.
    """
    from datamove.flags.values import parse

    migration = guard(lambda: Migration.from_file(spec))
    change = guard(lambda: migration.flag_set(name, parse(value), tenant=tenant, by=by))
    if as_json:
        render.emit_json(change.to_dict())
    else:
        render.flag_change_text(change)


@flag_app.command("list")
def flag_list(
    spec: SpecArg,
    limit: Annotated[int, typer.Option(min=1, help="At most this many history rows.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Every flag's current values, then each set: the value before, who and when.

    The history is newest first.
    """
    result = guard(lambda: Migration.from_file(spec).flag_list(limit))
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.flags_text(result)
