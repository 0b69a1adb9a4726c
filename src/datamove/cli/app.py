"""The ``datamove`` command: parse, call the library, render. No logic lives here.

Exit codes: 0 ok, 1 checks failed, 2 bad spec or usage, 3 runtime failure, 130 stopped by
Ctrl-C (``cli.stopping``; ``sync --follow`` stopped so ends 0).
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from datamove import __version__
from datamove.cli import render
from datamove.cli import report as report_commands
from datamove.cli.common import (
    ExcludeOpt,
    JsonOpt,
    LogFileOpt,
    PhaseOpt,
    SpecArg,
    TablesOpt,
    guard,
    settings,
)
from datamove.cli.cutover import cutover, fence_app, flag_app, rollback
from datamove.cli.eventlog import JsonLinesLog
from datamove.cli.flags import Group
from datamove.cli.progress import DEFAULT_INTERVAL, ProgressDisplay, ProgressMode, run_progress
from datamove.cli.reconcile import reconcile
from datamove.cli.stopping import ctrl_c
from datamove.events import tee
from datamove.migration import Migration
from datamove.redact import RedactingStream, redact_text

app = typer.Typer(
    cls=Group,
    name="datamove",
    help="Move data between relational databases with an explicit mapping, restartable "
    "batches and proof.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

_display: dict[str, Any] = {"mode": ProgressMode.auto, "interval": DEFAULT_INTERVAL}


def _version(shown: bool) -> None:
    if shown:
        render.out.print(f"datamove {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            envvar="DATAMOVE_PROGRESS",
            help="Progress on stderr: a live bar, plain lines for logs, or none; auto picks "
            "the bar on a terminal and lines elsewhere.",
        ),
    ] = ProgressMode.auto,
    progress_interval: Annotated[
        float,
        typer.Option(
            min=0,
            envvar="DATAMOVE_PROGRESS_INTERVAL",
            help="Seconds between plain progress lines (0: one per chunk).",
        ),
    ] = DEFAULT_INTERVAL,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    settings["debug"], settings["quiet"] = debug, quiet
    _display["mode"], _display["interval"] = progress, progress_interval
    if not debug:  # a pool returning a dropped connection logs a traceback: the error says it
        logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
        logging.getLogger("sqlalchemy").propagate = False


def _run_display(quiet: bool) -> ProgressDisplay:
    """The copy's progress display that ``--progress`` and the stream ask for."""
    mode, interval = _display["mode"], _display["interval"]
    return run_progress(render.err, mode, settings["quiet"] or quiet, interval)


@app.command()
def init(
    source: Annotated[str, typer.Option(help="Source database URL.")],
    target: Annotated[str, typer.Option(help="Target database URL.")],
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the spec here instead of stdout.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Migration name (default: source database name).")
    ] = None,
) -> None:
    """Scaffold a complete, commented spec from the live schemas."""
    from datamove.spec.scaffold import scaffold

    text, notes = guard(lambda: scaffold(source, target, tables or (), name, exclude or ()))
    if output:
        output.write_text(redact_text(text), encoding="utf-8")
        render.err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)
    for note in notes:
        render.err.print(f"[yellow]note:[/] {note}")


@app.command()
def plan(
    spec: SpecArg,
    phase: PhaseOpt = None,
    as_json: JsonOpt = False,
    doc: Annotated[
        Path | None, typer.Option("--doc", help="Also write the mapping document (.md or .html).")
    ] = None,
    only: Annotated[
        render.Only | None,
        typer.Option("--only", help="List only the findings of this severity (text output)."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the errors and the summary line.")
    ] = False,
) -> None:
    """Resolve the spec against the live schemas; list columns, order, estimates and findings.

    Repeated findings are grouped; those the spec acknowledges are counted, not listed (--json
    lists every finding, with acknowledged and reason). Exits 2 when an error is left.
    """
    migration = guard(lambda: Migration.from_file(spec, phase))
    result = guard(migration.plan)
    if doc is not None:
        guard(lambda: migration.write_document(result, doc))
        render.err.print(f"wrote {doc}")
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.plan_text(result, only.severity if only else None, quiet)
    if result.errors:
        raise typer.Exit(2)


@app.command()
def run(
    spec: SpecArg,
    phase: PhaseOpt = None,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    workers: Annotated[int, typer.Option(min=1, help="Parallel chunk workers.")] = 1,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Rows per chunk for newly planned tables.")
    ] = None,
    max_rows_per_second: Annotated[
        float | None, typer.Option(min=1, help="Throttle across all workers.")
    ] = None,
    restart: Annotated[
        list[str] | None, typer.Option("--restart", help="Copy this table anew (repeat).")
    ] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    log_file: LogFileOpt = None,
) -> None:
    """Copy the data chunk by chunk; safe to kill and run again (it resumes).

    Ctrl-C stops it: no new chunk starts, the running ones roll back (exit 130).
    """
    migration = guard(lambda: Migration.from_file(spec, phase))
    log = guard(lambda: JsonLinesLog.open(log_file))
    with ctrl_c() as stop, log, _run_display(quiet) as progress:
        result = guard(
            lambda: migration.run(
                tables=tuple(tables or ()),
                exclude=tuple(exclude or ()),
                workers=workers,
                batch_size=batch_size,
                max_rows_per_second=max_rows_per_second,
                restart=tuple(restart or ()),
                on_event=tee(progress, log),
                stop=stop,
            ),
            resume=f"datamove run {shlex.quote(str(spec))}",
        )
    if as_json:
        render.emit_json(render.run_json(result))
    else:
        render.run_summary(result)


ChecksOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--checks",
        help="Only these kinds of check (repeat): count, checksum, "
        "legacy_key, foreign_key, aggregates, sample, invariant, shadow.",
    ),
]
MaxDiffOpt = Annotated[
    int, typer.Option(min=1, help="Differing rows fetched in full; more are only counted.")
]
ShowValuesOpt = Annotated[
    bool, typer.Option("--show-values", help="Show values unmasked (PII included).")
]
DiffOutOpt = Annotated[
    Path | None, typer.Option("--diff-out", help="Write every difference found as JSON here.")
]


@app.command()
def verify(
    spec: SpecArg,
    phase: PhaseOpt = None,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    checks: ChecksOpt = None,
    max_diff_rows: MaxDiffOpt = 1000,
    show_values: ShowValuesOpt = False,
    diff_out: DiffOutOpt = None,
    as_json: JsonOpt = False,
    log_file: LogFileOpt = None,
) -> None:
    """Prove that the target equals the mapping of the source; exit 1 if any check fails.

    Every check runs and is recorded in the state store, even when an earlier one fails.
    """
    from datamove.verify.runner import VerifyOptions

    options = VerifyOptions(tuple(tables or ()), tuple(checks or ()), max_diff_rows, show_values)
    migration = guard(lambda: Migration.from_file(spec, phase))
    log = guard(lambda: JsonLinesLog.open(log_file))
    with log, render.Spinner("verifying", settings["quiet"] or as_json) as spinner:
        result = guard(lambda: migration.verify(options, tee(spinner, log), tuple(exclude or ())))
    _verify_output(result, diff_out, as_json)


@app.command()
def diff(
    source_url: Annotated[str, typer.Argument(help="Source database URL.", show_default=False)],
    target_url: Annotated[str, typer.Argument(help="Target database URL.", show_default=False)],
    table: Annotated[str, typer.Option("--table", help="Source table.")],
    target_table: Annotated[
        str | None, typer.Option("--target-table", help="Target table (default: the same name).")
    ] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", help="Key column (repeat; default: primary key).")
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", help="Compare only these columns (repeat); the key always."),
    ] = None,
    where: Annotated[str | None, typer.Option(help="SQL filter on source rows.")] = None,
    max_diff_rows: MaxDiffOpt = 1000,
    show_values: ShowValuesOpt = False,
    diff_out: DiffOutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two tables without a spec: counts and the exact differing rows and columns.

    Exits 1 when they differ.
    """
    from datamove.verify.standalone import diff_tables

    with render.Spinner("comparing", settings["quiet"] or as_json):
        result = guard(
            lambda: diff_tables(
                source_url,
                target_url,
                table,
                target_table=target_table,
                key=tuple(key or ()),
                columns=tuple(columns or ()),
                where=where,
                max_diff_rows=max_diff_rows,
                show_values=show_values,
            )
        )
    _verify_output(result, diff_out, as_json, "diff")


@app.command()
def repair(
    spec: SpecArg,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
    log_file: LogFileOpt = None,
) -> None:
    """Re-copy exactly the chunks holding rows that verify finds different, then verify again.

    Exits 1 if differences remain.
    """
    migration = guard(lambda: Migration.from_file(spec))
    log = guard(lambda: JsonLinesLog.open(log_file))
    with ctrl_c() as stop, log, _run_display(as_json) as progress:
        result = guard(
            lambda: migration.repair(
                tables=tuple(tables or ()),
                exclude=tuple(exclude or ()),
                on_event=tee(progress, log),
                stop=stop,
            ),
            resume=f"datamove repair {shlex.quote(str(spec))}",
        )
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.repair_text(result)
    if not result.ok:
        raise typer.Exit(1)


def _verify_output(
    result: Any, diff_out: Path | None, as_json: bool, command: str = "verify"
) -> None:
    if diff_out is not None:
        diffs = json.dumps([d.to_dict() for d in result.diffs], indent=2, default=str)
        diff_out.write_text(redact_text(diffs) + "\n", encoding="utf-8")
        render.err.print(f"wrote {diff_out}")
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.verify_text(result, command)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def status(
    spec: SpecArg,
    phase: PhaseOpt = None,
    rejects: Annotated[bool, typer.Option("--rejects", help="List rejected rows.")] = False,
    table: Annotated[str | None, typer.Option(help="Only rejects of this table.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rejects.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Per table of the spec (not started ones too): chunks done/total, rows, rejects,
    throughput and the last error."""
    result = guard(
        lambda: Migration.from_file(spec, phase).status(rejects=rejects, table=table, limit=limit)
    )
    if as_json:
        render.emit_json(result.to_dict())
        return
    render.status_text(result)


capture_app = typer.Typer(
    cls=Group,
    help="Change capture on the source: a changelog and key-only triggers (before the backfill).",
    no_args_is_help=True,
)
app.add_typer(capture_app, name="capture")


@capture_app.command("install")
def capture_install(
    spec: SpecArg,
    tables: TablesOpt = None,
    exclude: ExcludeOpt = None,
) -> None:
    """Create the changelog table and the triggers on the source (idempotent)."""
    migration = guard(lambda: Migration.from_file(spec))
    done = guard(lambda: migration.capture_install(tuple(tables or ()), tuple(exclude or ())))
    render.out.print(f"capture installed on {len(done)} table(s): {', '.join(done)}")


@capture_app.command("status")
def capture_status(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Per table: triggers present, capture active at backfill, pending changes; the lag."""
    result = guard(lambda: Migration.from_file(spec).capture_status())
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.capture_text(result)


@capture_app.command("uninstall")
def capture_uninstall(spec: SpecArg) -> None:
    """Remove every capture trigger and the changelog table from the source."""
    guard(lambda: Migration.from_file(spec).capture_uninstall())
    render.out.print("capture removed")


@app.command()
def uninstall(
    spec: SpecArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_evidence: Annotated[
        Path | None,
        typer.Option(help="First write the evidence (runs, chunks, checks, ...) here as JSON."),
    ] = None,
) -> None:
    """Remove what datamove added to the source and the target, after showing the list.

    Capture triggers and functions, the changelog, the state store (only this migration's
    rows while another migration uses it). The migrated tables are kept. Without --yes it
    asks; without a terminal to ask on it refuses (exit 2).
    """
    from datamove.errors import UsageError

    def confirm(items: list[Any], others: list[str]) -> bool:
        render.uninstall_list(items, others)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                "uninstall removes the objects above and asks first, but there is no "
                "terminal to ask on",
                hint="run `datamove uninstall SPEC --yes` to remove them without asking",
            )
        return typer.confirm("remove them?", default=False)

    migration = guard(lambda: Migration.from_file(spec))
    result = guard(lambda: migration.uninstall(keep_evidence=keep_evidence, confirm=confirm))
    if result.evidence:
        render.err.print(f"wrote the evidence to {result.evidence}")
    if not result.found:
        render.out.print("nothing of datamove is left in the source or the target")
    elif result.removed:
        render.out.print(f"removed {len(result.removed)} object(s); the migrated tables are kept")
    else:
        render.out.print("nothing was removed")


@app.command()
def sync(
    spec: SpecArg,
    phase: PhaseOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep applying until Ctrl-C (then exit 0).")
    ] = False,
    until_lag: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Exit 0 once the oldest unapplied change is this many "
            "seconds old or less (0: nothing pending).",
        ),
    ] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Changes per target transaction.")] = 5000,
    as_json: JsonOpt = False,
    log_file: LogFileOpt = None,
) -> None:
    """Apply captured changes: re-read each changed row and upsert or delete it in the target.

    Safe to kill and start again: the checkpoint commits with the changes it covers.
    """
    from datamove.sync.runner import SyncOptions

    options = SyncOptions(follow=follow, until_lag=until_lag, max_batch=max_batch)
    migration = guard(lambda: Migration.from_file(spec, phase))
    log = guard(lambda: JsonLinesLog.open(log_file))
    with (
        ctrl_c() as stop,
        log,
        render.SyncDisplay(
            settings["quiet"] or as_json or _display["mode"] is ProgressMode.none,
            _display["interval"],
        ) as display,
    ):
        result = guard(
            lambda: migration.sync(options, on_event=tee(display, log), stop=stop),
            resume=f"datamove sync {shlex.quote(str(spec))}",
        )
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.sync_text(result)


@app.command("spec-schema")
def spec_schema() -> None:
    """Print the spec's JSON Schema (for editor completion and validation)."""
    from datamove.spec.models import MigrationSpec

    sys.stdout.write(json.dumps(MigrationSpec.model_json_schema(by_alias=True), indent=2) + "\n")


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to put the demo files.")
    ] = None,
) -> None:
    """Run the embedded demo: a legacy SQLite shop moved into a new SQLite database."""
    from datamove.demo.shop import run_demo

    guard(lambda: run_demo(directory, quiet=settings["quiet"]))


app.command()(cutover)
app.command()(rollback)
app.add_typer(fence_app, name="fence")
app.add_typer(flag_app, name="flag")
app.command()(reconcile)
report_commands.register(app)


def main() -> None:
    """The console script: every byte printed passes ``RedactingStream`` (the one seam where
    output leaves the process), so no known secret reaches a terminal, a pipe or a log."""
    sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    app()
