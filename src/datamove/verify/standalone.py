"""``datamove diff``: compare two tables without a spec, with verify's engine and output.

For people who only want to know whether two tables hold the same rows (what a standalone
diff tool is used for): the comparison is an identity mapping of the chosen columns, planned
against both live schemas, so types are compared in canonical form across engines.

A table may be named ``schema.table`` (a PostgreSQL schema, a MySQL/MariaDB database): that
side's connection then resolves unqualified names in that schema, so the plan, the checksums
and the row fetches all read the named table. A name holding a dot is quoted (``"my.table"``,
or with backticks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from datamove.dialects.base import Dialect
from datamove.errors import PlanHasErrors, SpecError, UsageError
from datamove.plan import resolve_plan
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec
from datamove.verify.runner import Verifier, VerifyOptions, VerifyResult

BLOCKING = {
    "unknown-table",
    "missing-target-table",
    "unknown-column",
    "no-key",
    "unmappable-type",
    "key-not-mapped",
}
"""Plan errors that make a comparison impossible (others concern creating or loading)."""


def diff_tables(
    source_url: str,
    target_url: str,
    table: str,
    *,
    target_table: str | None = None,
    key: Sequence[str] = (),
    columns: Sequence[str] = (),
    where: str | None = None,
    max_diff_rows: int = 1000,
    show_values: bool = False,
) -> VerifyResult:
    """Count and row-level diff of ``table`` (source) against ``target_table`` (target);
    ``columns`` narrows the compared columns (the key is always compared)."""
    source_schema, table = split_name(table, "--table")
    target_schema, target_name = (
        split_name(target_table, "--target-table") if target_table else (source_schema, table)
    )
    with ExitStack() as opened:
        source = _open(source_url, "source", source_schema, "--table")
        opened.callback(source.dispose)
        target = _open(target_url, "target", target_schema, "--target-table")
        opened.callback(target.dispose)
        spec = _spec(source, source.url, target.url, table, target_name, key, columns, where)
        plan = resolve_plan(spec, source, target, data_lints=False)
        blocking = [f for f in plan.errors if f.code in BLOCKING]
        if blocking:
            lines = "\n".join(f"  {f.message}" for f in blocking)
            names = _qualified(source_schema, table), _qualified(target_schema, target_name)
            raise PlanHasErrors(f"cannot compare {names[0]} with {names[1]}:\n{lines}")
        options = VerifyOptions((), ("count", "checksum"), max_diff_rows, show_values)
        compiled = CompiledPlan(plan, source, target)
        return Verifier(compiled, spec, options).run(record_rejects=False)


_PART = re.compile(r'"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|([^."`]+)')


def split_name(text: str, option: str) -> tuple[str | None, str]:
    """``schema.table`` or ``table`` as (schema or None, table); a part in double quotes or
    backticks keeps its dots (a doubled quote inside stands for one)."""
    parts: list[str] = []
    pos = 0
    while True:
        found = _PART.match(text, pos)
        if found is None:
            break
        quoted, ticked, bare = found.groups()
        parts.append(
            quoted.replace('""', '"') if quoted else ticked.replace("``", "`") if ticked else bare
        )
        pos = found.end()
        if pos == len(text) or text[pos] != ".":
            break
        pos += 1
    if pos != len(text) or not 1 <= len(parts) <= 2:
        raise UsageError(
            f"{option} {text!r}: expected TABLE or SCHEMA.TABLE",
            hint="quote a name that holds a dot or a quote: --table 'sales.\"pay.ments\"'",
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _open(url: str, role: str, schema: str | None, option: str) -> Dialect:
    """The ``role`` side's dialect, its unqualified names resolved in ``schema`` if given
    (which must exist: else the engine would silently resolve nowhere)."""
    dialect = Dialect.for_url(url, role=role, read_only=True)
    if schema is None:
        return dialect
    try:
        scoped = dialect.schema.url_in(schema)
        if scoped is None:
            raise UsageError(
                f"{option}: a {dialect.NAME} {role} has no schemas; name the table alone"
            )
        with dialect.connect() as conn:
            known = sa.inspect(conn).get_schema_names()
        if schema not in known:
            raise UsageError(
                f"{option}: the {role} has no schema {schema!r}",
                hint=f"schemas there: {', '.join(sorted(known))}",
            )
    finally:
        dialect.dispose()
    return Dialect.for_url(scoped, role=role, read_only=True)


def _spec(
    source: Dialect,
    source_url: str,
    target_url: str,
    table: str,
    target_table: str | None,
    key: Sequence[str],
    columns: Sequence[str],
    where: str | None,
) -> MigrationSpec:
    tspec: dict[str, Any] = {"source": table}
    if key:
        tspec["key"] = {"columns": list(key)}
    if where:
        tspec["where"] = where
    if columns:
        keys = list(key) or _primary_key(source, table)
        tspec["columns"] = {c: {} for c in [*keys, *[c for c in columns if c not in keys]]}
    try:
        return MigrationSpec.model_validate(
            {
                "name": "diff",
                "source": source_url,
                "target": target_url,
                "create_tables": False,
                "tables": {target_table or table: tspec},
            }
        )
    except ValidationError as exc:
        raise SpecError(f"invalid diff options: {exc.errors()[0]['msg']}") from None


def _primary_key(source: Dialect, table: str) -> list[str]:
    """The source table's primary key columns (none when it has none, or no such table:
    the plan then says what is wrong)."""
    with source.connect() as conn:
        try:
            found = sa.inspect(conn).get_pk_constraint(table)
        except sa.exc.NoSuchTableError:
            return []
    return list(found.get("constrained_columns") or [])
