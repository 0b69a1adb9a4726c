"""The ``datamove`` command: parse, call the library, render. No logic lives here.

Exit codes: 0 ok, 1 checks failed, 2 bad spec or usage, 3 runtime failure, 130 stopped by
Ctrl-C (``cli.stopping``; ``sync --follow`` stopped so ends 0).
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from datamove import __version__
from datamove.cli import render
from datamove.cli.flags import Group
from datamove.cli.stopping import ctrl_c
from datamove.errors import DatamoveError, Interrupted
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

_state: dict[str, bool] = {"debug": False, "quiet": False}

SpecArg = Annotated[Path, typer.Argument(help="The migration spec (YAML).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _version(shown: bool) -> None:
    if shown:
        render.out.print(f"datamove {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"], _state["quiet"] = debug, quiet
    if not debug:  # a pool returning a dropped connection logs a traceback: the error says it
        logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
        logging.getLogger("sqlalchemy").propagate = False


def _guard(fn: Callable[[], Any], resume: str | None = None) -> Any:
    """The one catch site: a datamove error prints its message and exits with its code
    (``resume``: the command that resumes a stopped one)."""
    try:
        return fn()
    except Interrupted as exc:
        again = f"; run `{resume}` to resume" if resume else ""
        render.err.print(f"stopped: {exc.message}{again}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except DatamoveError as exc:
        if _state["debug"]:
            traceback.print_exc()
        render.err.print(f"[red]error:[/] {redact_text(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        render.err.print("interrupted")
        raise typer.Exit(Interrupted.exit_code) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if _state["debug"]:
            traceback.print_exc()
        render.err.print(
            f"[red]internal error:[/] {redact_text(type(exc).__name__ + ': ' + str(exc))}"
            "\n  run with --debug for the traceback, and please report it"
        )
        raise typer.Exit(3) from None


@app.command()
def init(
    source: Annotated[str, typer.Option(help="Source database URL.")],
    target: Annotated[str, typer.Option(help="Target database URL.")],
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Tables in scope (repeat); default all.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the spec here instead of stdout.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Migration name (default: source database name).")
    ] = None,
) -> None:
    """Scaffold a complete, commented spec from the live schemas."""
    from datamove.spec.scaffold import scaffold

    text, notes = _guard(lambda: scaffold(source, target, tables or (), name))
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
    as_json: JsonOpt = False,
    doc: Annotated[
        Path | None, typer.Option("--doc", help="Also write the mapping document (.md or .html).")
    ] = None,
) -> None:
    """Resolve the spec against the live schemas; list columns, order, estimates and findings.

    Exits 2 when any finding is an error.
    """
    migration = _guard(lambda: Migration.from_file(spec))
    result = _guard(migration.plan)
    if doc is not None:
        _guard(lambda: migration.write_document(result, doc))
        render.err.print(f"wrote {doc}")
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.plan_text(result)
    if result.errors:
        raise typer.Exit(2)


@app.command()
def run(
    spec: SpecArg,
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (repeat).")
    ] = None,
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
) -> None:
    """Copy the data chunk by chunk; safe to kill and run again (it resumes).

    Ctrl-C stops it: no new chunk starts, the running ones roll back (exit 130).
    """
    migration = _guard(lambda: Migration.from_file(spec))
    with ctrl_c() as stop, render.RunProgress(_state["quiet"] or quiet) as progress:
        result = _guard(
            lambda: migration.run(
                tables=tuple(tables or ()),
                workers=workers,
                batch_size=batch_size,
                max_rows_per_second=max_rows_per_second,
                restart=tuple(restart or ()),
                on_event=progress,
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
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (repeat).")
    ] = None,
    checks: ChecksOpt = None,
    max_diff_rows: MaxDiffOpt = 1000,
    show_values: ShowValuesOpt = False,
    diff_out: DiffOutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove that the target equals the mapping of the source; exit 1 if any check fails.

    Every check runs and is recorded in the state store, even when an earlier one fails.
    """
    from datamove.verify.runner import VerifyOptions

    options = VerifyOptions(tuple(tables or ()), tuple(checks or ()), max_diff_rows, show_values)
    migration = _guard(lambda: Migration.from_file(spec))
    with render.Spinner("verifying", _state["quiet"] or as_json) as spinner:
        result = _guard(lambda: migration.verify(options, spinner))
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

    with render.Spinner("comparing", _state["quiet"] or as_json):
        result = _guard(
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
    _verify_output(result, diff_out, as_json)


@app.command()
def repair(
    spec: SpecArg,
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (repeat).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-copy exactly the chunks holding rows that verify finds different, then verify again.

    Exits 1 if differences remain.
    """
    migration = _guard(lambda: Migration.from_file(spec))
    with ctrl_c() as stop, render.RunProgress(_state["quiet"] or as_json) as progress:
        result = _guard(
            lambda: migration.repair(tables=tuple(tables or ()), on_event=progress, stop=stop),
            resume=f"datamove repair {shlex.quote(str(spec))}",
        )
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.repair_text(result)
    if not result.ok:
        raise typer.Exit(1)


def _verify_output(result: Any, diff_out: Path | None, as_json: bool) -> None:
    if diff_out is not None:
        diffs = json.dumps([d.to_dict() for d in result.diffs], indent=2, default=str)
        diff_out.write_text(redact_text(diffs) + "\n", encoding="utf-8")
        render.err.print(f"wrote {diff_out}")
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.verify_text(result)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def status(
    spec: SpecArg,
    rejects: Annotated[bool, typer.Option("--rejects", help="List rejected rows.")] = False,
    table: Annotated[str | None, typer.Option(help="Only rejects of this table.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rejects.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Per table: chunks done/total, rows, rejects, throughput and the last error."""
    result = _guard(
        lambda: Migration.from_file(spec).status(rejects=rejects, table=table, limit=limit)
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
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (repeat).")
    ] = None,
) -> None:
    """Create the changelog table and the triggers on the source (idempotent)."""
    migration = _guard(lambda: Migration.from_file(spec))
    done = _guard(lambda: migration.capture_install(tuple(tables or ())))
    render.out.print(f"capture installed on {len(done)} table(s): {', '.join(done)}")


@capture_app.command("status")
def capture_status(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Per table: triggers present, capture active at backfill, pending changes; the lag."""
    result = _guard(lambda: Migration.from_file(spec).capture_status())
    if as_json:
        render.emit_json(result.to_dict())
    else:
        render.capture_text(result)


@capture_app.command("uninstall")
def capture_uninstall(spec: SpecArg) -> None:
    """Remove every capture trigger and the changelog table from the source."""
    _guard(lambda: Migration.from_file(spec).capture_uninstall())
    render.out.print("capture removed")


@app.command()
def sync(
    spec: SpecArg,
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
) -> None:
    """Apply captured changes: re-read each changed row and upsert or delete it in the target.

    Safe to kill and start again: the checkpoint commits with the changes it covers.
    """
    from datamove.sync.runner import SyncOptions

    options = SyncOptions(follow=follow, until_lag=until_lag, max_batch=max_batch)
    migration = _guard(lambda: Migration.from_file(spec))
    with ctrl_c() as stop, render.SyncDisplay(_state["quiet"] or as_json) as display:
        result = _guard(
            lambda: migration.sync(options, on_event=display, stop=stop),
            resume=f"datamove sync {shlex.quote(str(spec))}",
        )
    if as_json:
        render.emit_json(result.__dict__)
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

    _guard(lambda: run_demo(directory, quiet=_state["quiet"]))


def main() -> None:
    """The console script: every byte printed passes ``RedactingStream`` (the one seam where
    output leaves the process), so no known secret reaches a terminal, a pipe or a log."""
    sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    app()
