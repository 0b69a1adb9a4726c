"""Help without a value type on flags: ``--follow``, not ``--follow <bool>``.

Typer's help shows every option's type, a flag's too, though a flag takes no value. The
command group gives each flag of its commands (``--help`` included) an empty metavar as it
hands them out, so every command and sub-group built with ``cls=Group`` shows flags bare.
"""

from __future__ import annotations

from typer import _click as click  # the click Typer vendors and builds commands with
from typer.core import TyperGroup, TyperOption


def _bare_flags(command: click.Command, ctx: click.Context) -> None:
    for param in [*command.params, command.get_help_option(ctx)]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


class Group(TyperGroup):
    """A Typer group whose help, and its commands' help, shows flags without a type."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        _bare_flags(self, ctx)
        return super().get_params(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _bare_flags(command, ctx)
        return command
