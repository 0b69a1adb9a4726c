"""Stage 6 commands for operators: the write fence and the read-path flag."""

from __future__ import annotations

from typing import Annotated

import typer

from datamove.cli import render
from datamove.cli.common import ExcludeOpt, JsonOpt, SpecArg, TablesOpt, guard
from datamove.cli.flags import Group
from datamove.cutover.fence import Side
from datamove.migration import Migration

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
