"""Stage 7 commands: ``report``, ``signoff`` and ``trace`` (registered by ``register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datamove.cli import render
from datamove.cli.common import JsonOpt, SpecArg, guard
from datamove.migration import Migration
from datamove.report.model import Report
from datamove.report.trace import Trace


def report(
    spec: SpecArg,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html (one self-contained file), md or json.")
    ] = "html",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file (default: stdout)."),
    ] = None,
) -> None:
    """The migration's report, computed only from the state store and the spec: the checklist
    ticked by evidence, runs, checks, cutover steps, rehearsals, reconciliation, sign-offs.

    With no runs yet it says what is missing (not an error). Exits 0 whatever it finds.
    """
    migration = guard(lambda: Migration.from_file(spec))
    result = guard(lambda: migration.report(fmt, output))
    if output is None:
        typer.echo(result.text, nl=False)
        return
    render.err.print(f"wrote {output}")
    _checklist_text(result.report, render.err)


def signoff(
    spec: SpecArg,
    name: Annotated[str, typer.Option("--as", help="Who signs off, as recorded.")],
    role: Annotated[str | None, typer.Option("--role", help="Their role, as recorded.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a named approval bound to a digest of the evidence it saw; later evidence (a
    failing check or reconcile round, a changed mapping) marks it stale in the report and in
    `datamove status`."""
    migration = guard(lambda: Migration.from_file(spec))
    result = guard(lambda: migration.signoff(name, role))
    if as_json:
        render.emit_json(result.to_dict())
        return
    render.out.print(f"signed off by {escape(result.name)}: evidence digest {result.digest}")
    _checklist_text(result.report, render.out)


def trace(
    spec: SpecArg,
    table: Annotated[str, typer.Argument(help="The target table (the spec's name).")],
    key: Annotated[
        str, typer.Argument(help="The source key, or a remapped table's new key; a,b if composite.")
    ],
    show_values: Annotated[
        bool, typer.Option("--show-values", help="Show personal data (pii columns) unmasked.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """What happened to one row: the source and target rows now, each column's transforms
    (value before and after each), the chunk and run that copied it, its sync changes, its
    rejects and the latest check on its table. Personal data is masked unless --show-values."""
    migration = guard(lambda: Migration.from_file(spec))
    found = guard(lambda: migration.trace(table, key, show_values))
    render.emit_json(found.to_dict()) if as_json else trace_text(found)


def _checklist_text(built: Report, console: render.WideWhenPiped) -> None:
    for line in built.lines:
        mark = "[green]☑[/]" if line.ticked else "[red]☐[/]"
        console.print(f"{mark} {escape(line.title)}: {escape(line.evidence)}")
        if not line.ticked:
            console.print(f"    missing: {escape(line.missing)}; run: {escape(line.command)}")
    for v in built.signoffs:
        state = f"[red]stale[/] ({escape('; '.join(v.stale))})" if v.stale else "stands"
        console.print(f"sign-off by {escape(v.signoff.name)}: {state}")


def trace_text(found: Trace) -> None:
    out = render.out
    keys = f"source key {found.source_key}" + (
        f", target key {found.target_key}" if found.target_key else ""
    )
    out.print(f"[bold]{escape(found.table)}[/] {escape(found.key)}: found in {found.found}; {keys}")
    out.print(f"table mapping {(found.mapping_hash or '-')[:12]}")
    if found.columns:
        grid = Table(title="columns: each step of the mapping", title_justify="left")
        for name in ("column", "steps (value after each)", "target now"):
            grid.add_column(name)
        for c in found.columns:
            steps = "\n".join(f"{s}: {v}" for s, v in c.steps)
            grid.add_row(escape(c.column), escape(steps), escape(c.target))
        out.print(grid)
    if found.chunk:
        ch = found.chunk
        out.print(
            f"copied by chunk {ch['chunk_no']} ({ch['status']}) of run {ch['run_id']}, "
            f"committed {ch['committed_at']} ({ch['commits']} commit(s))"
        )
    for ev in found.changes:
        state = "applied" if ev["applied"] else "pending"
        out.print(f"sync change {ev['seq']}: {ev['op']} at {ev['changed_at']} ({state})")
    for r in found.rejects:
        out.print(f"[red]rejected[/] by run {r['run_id']}: {escape(str(r['reason']))}")
    if found.check:
        last = found.check
        out.print(
            f"latest check {escape(last['name'])} ({last['kind']}): {last['status']}, "
            f"run {last['run_id']}"
        )
    for note in found.notes:
        out.print(escape(note))


def register(app: typer.Typer) -> None:
    """Add ``report``, ``signoff`` and ``trace`` to the CLI."""
    for command in (report, signoff, trace):
        app.command()(command)
