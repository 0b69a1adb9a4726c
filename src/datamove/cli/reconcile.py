"""``datamove reconcile``: verification rounds on a schedule, in the foreground, and their
history (stage 7)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datamove.cli import render
from datamove.cli.common import (
    ExcludeOpt,
    JsonOpt,
    SpecArg,
    TablesOpt,
    duration_option,
    guard,
    settings,
)
from datamove.cli.stopping import ctrl_c
from datamove.errors import ChecksFailed
from datamove.events import Event, Message
from datamove.migration import Migration
from datamove.migration.reconcile import ReconcileResult
from datamove.reconcile.history import History

SPARK = "▁▂▃▄▅▆▇█"


def reconcile(
    spec: SpecArg,
    every: Annotated[
        str | None,
        typer.Option(
            help="Time between rounds, e.g. 15m (default: reconcile.every).", show_default=False
        ),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Keep going this long, e.g. 72h (default: reconcile.for; none: until Ctrl-C).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit (for cron).")] = False,
    history: Annotated[
        bool,
        typer.Option("--history", help="Show the recorded rounds and the drift; run nothing."),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="--history: rounds shown.")] = 50,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify on a schedule while writes go on: counts, checksums, invariants, aggregates and
    shadow queries, each round a recorded run; exit 1 if a round failed.

    A difference on a row being written is re-checked after sync applies it and reported only
    if it persists (reconcile.persist_for). Between full passes (reconcile.full_every) a round
    checks only the keys changed since the last green round. A check failing that did not
    fail in the round before calls the notify webhook. Ctrl-C between rounds ends it; during a
    round it stops that round (recorded failed) and exits 130.
    """
    migration = guard(lambda: Migration.from_file(spec))
    chosen = tuple(tables or ())
    if history:
        found = guard(lambda: migration.reconcile_history(chosen, limit))
        render.emit_json(found.to_dict()) if as_json else _history_text(found)
        return
    quiet = settings["quiet"] or as_json

    def show(event: Event) -> None:
        if isinstance(event, Message) and not quiet:
            render.err.print(escape(event.text), markup=True)

    seconds = duration_option("--every", every), duration_option("--for", for_)
    with ctrl_c() as stop:
        result = guard(
            lambda: migration.reconcile(
                every=seconds[0],
                for_=seconds[1],
                tables=chosen,
                exclude=tuple(exclude or ()),
                once=once,
                on_event=show,
                stop=stop,
            )
        )
    render.emit_json(result.to_dict()) if as_json else _result_text(result)
    if not result.ok:
        raise typer.Exit(ChecksFailed.exit_code)


def _result_text(result: ReconcileResult) -> None:
    for r in result.rounds:
        mark = "[green]ok[/]" if r.ok else "[red]failed[/]"
        render.out.print(
            f"round {r.run_id} ({r.kind}, {r.direction.value}): {mark}, "
            f"{len(r.checks)} check(s) in {r.seconds:.1f}s",
            markup=True,
        )
        for c in r.checks:
            if not c.ok:
                new = " (new)" if c.name in r.new_failures else ""
                render.out.print(f"  {escape(c.name)}: {escape(c.actual)}{new}", markup=True)


def _history_text(history: History) -> None:
    """Per table and check: the results over time and the drift as a sparkline."""
    if not history.rounds:
        render.out.print("no reconciliation round is recorded: run `datamove reconcile SPEC`")
        return
    table = Table(title=f"reconciliation: {len(history.rounds)} round(s)", title_justify="left")
    for name in ("check", "results (oldest first)", "drift", "last", "trend"):
        table.add_column(name)
    for s in history.series:
        results = "".join("[green]✓[/]" if p.status == "passed" else "[red]✗[/]" for p in s.points)
        drifts = [p.drift for p in s.points]
        top = max(drifts) or 1.0
        spark = "".join(SPARK[min(7, int(d / top * 7))] for d in drifts)
        table.add_row(escape(s.check), results, spark, f"{drifts[-1]:g}", s.trend)
    render.out.print(table)
    failed = [r for r in history.rounds if r.notify and not r.notify.startswith("passed")]
    for r in failed:
        render.out.print(f"webhook of round {r.run_id}: {escape(r.notify or '')}")
