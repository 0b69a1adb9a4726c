"""``--version``/``-V``, and every command's help: flags are shown without a value type."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from datamove import __version__
from datamove.cli.app import app

runner = CliRunner()


def _command_paths(command: typer.core.TyperGroup, prefix: tuple[str, ...] = ()) -> list:
    """Every command and sub-group under ``command``, as the words that reach it."""
    paths = [prefix]
    for name, sub in command.commands.items():
        if isinstance(sub, typer.core.TyperGroup):
            paths += _command_paths(sub, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


PATHS = _command_paths(typer.main.get_command(app))


def test_every_command_is_checked() -> None:
    assert {("run",), ("sync",), ("capture", "install"), ()} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "datamove")
def test_help_shows_no_type_on_flags(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output, result.output


def test_flags_keep_their_types_elsewhere() -> None:
    """Only flags lose the type: an option that takes a value still shows it."""
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "120"})
    assert "<int range>" in result.output and "<list[str]>" in result.output


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = runner.invoke(app, [flag])
    assert result.exit_code == 0
    assert result.output == f"datamove {__version__}\n"


def test_version_from_the_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "--version"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, f"datamove {__version__}\n")
