"""What every command shares: the global options, the argument types, and the one catch site
that turns an error into its message and exit code."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from datamove.cli import render
from datamove.errors import DatamoveError, Interrupted
from datamove.redact import redact_text
from datamove.spec.durations import parse_duration

settings: dict[str, bool] = {"debug": False, "quiet": False}
"""The global ``--debug`` and ``--quiet``, set by the main callback."""

SpecArg = Annotated[Path, typer.Argument(help="The migration spec (YAML).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
TablesOpt = Annotated[
    list[str] | None,
    typer.Option("--tables", help="Only these tables: names or globs like 'payment*' (repeat)."),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Leave out these tables: names or globs (repeat)."),
]
PhaseOpt = Annotated[
    str | None,
    typer.Option(
        "--phase", help="Only this phase's rows (phases: in the spec), as its own migration."
    ),
]
LogFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-file",
        help="Append every event of the command to this file as JSON lines (secrets redacted).",
    ),
]


def guard(fn: Callable[[], Any], resume: str | None = None) -> Any:
    """The one catch site: a datamove error prints its message and exits with its code
    (``resume``: the command that resumes a stopped one)."""
    try:
        return fn()
    except Interrupted as exc:
        again = f"; run `{resume}` to resume" if resume else ""
        render.err.print(f"stopped: {exc.message}{again}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except DatamoveError as exc:
        if settings["debug"]:
            traceback.print_exc()
        render.err.print(f"[red]error:[/] {redact_text(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        render.err.print("interrupted")
        raise typer.Exit(Interrupted.exit_code) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if settings["debug"]:
            traceback.print_exc()
        render.err.print(
            f"[red]internal error:[/] {redact_text(type(exc).__name__ + ': ' + str(exc))}"
            "\n  run with --debug for the traceback, and please report it"
        )
        raise typer.Exit(3) from None


def duration_option(option: str, value: str | None) -> float | None:
    """A duration option's seconds (``30s``, ``15m``, ``72h``; None: not given), a bad one
    refused naming the option (exit 2)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
