"""``datamove diff``: compare two tables without a spec, with verify's engine and output.

For people who only want to know whether two tables hold the same rows (what a standalone
diff tool is used for): the comparison is an identity mapping of the chosen columns, planned
against both live schemas, so types are compared in canonical form across engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from datamove.dialects.base import Dialect
from datamove.errors import PlanHasErrors, SpecError
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
    source = Dialect.for_url(source_url, role="source", read_only=True)
    target = Dialect.for_url(target_url, role="target", read_only=True)
    try:
        spec = _spec(source, source_url, target_url, table, target_table, key, columns, where)
        plan = resolve_plan(spec, source, target, data_lints=False)
        blocking = [f for f in plan.errors if f.code in BLOCKING]
        if blocking:
            lines = "\n".join(f"  {f.message}" for f in blocking)
            raise PlanHasErrors(f"cannot compare:\n{lines}")
        options = VerifyOptions((), ("count", "checksum"), max_diff_rows, show_values)
        compiled = CompiledPlan(plan, source, target)
        return Verifier(compiled, spec, options).run(record_rejects=False)
    finally:
        source.dispose()
        target.dispose()


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
