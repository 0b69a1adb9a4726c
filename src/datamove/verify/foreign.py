"""Target rows foreign to the source: what ``replace_range`` chunks would delete.

A ``replace_range`` chunk deletes its key range in the target before writing the source's rows,
and a table's chunks cover the whole key space (``core.keys``): every target row whose key the
source (in scope) does not hold goes — rows the application wrote into a table datamove did not
create, inside the source's key span or past it. Such a table is an error finding from ``plan``
(and ``run``) until the user picks a write mode that keeps them (``upsert``,
``insert_missing``) or acknowledges the loss.

The rows are counted with the key-only range checksum ``sync`` uses to find deleted rows: one
grouped aggregate scan per side when the key sets agree, bisection down to the differing keys
where they do not. Nothing but aggregates and differing keys travels, so the count is cheap on a
big table whose target holds few foreign rows; it is exact up to ``LIMIT`` rows and a lower
bound ("at least") beyond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from datamove.core.keys import KeyRange, key_present
from datamove.plan.compiled import CompiledPlan
from datamove.plan.model import Finding, Severity, TablePlan
from datamove.spec.models import MigrationSpec
from datamove.state.store import StateStore
from datamove.verify.checksum import ChecksumDiff, sides
from datamove.verify.mapped import map_table
from datamove.verify.result import TableDiff

CODE = "replace-range-foreign-rows"
LIMIT = 100_000
"""Foreign keys fetched (to tell those in pending chunks apart) before counting stops."""


@dataclass(frozen=True)
class ForeignRows:
    """Target rows of one table with no source row that ``replace_range`` would delete."""

    table: str
    count: int
    exact: bool
    """False: at least ``count`` (past ``LIMIT``)."""


def at_risk(table: TablePlan) -> bool:
    """A table whose chunks delete what they find: ``replace_range`` into a table that
    existed before datamove (one it created holds only what it copied)."""
    return table.write_mode == "replace_range" and table.exists and not table.create


def foreign_row_findings(
    compiled: CompiledPlan,
    spec: MigrationSpec,
    state: StateStore,
    tables: Sequence[str] = (),
    restart: Sequence[str] = (),
) -> list[Finding]:
    """An error finding per table of a run (``tables``: only those; ``restart``: copied anew)
    whose ``replace_range`` chunks still to copy would delete target rows the source lacks."""
    out: list[Finding] = []
    with compiled.target.connect() as tgt:
        recorded = state.readable(tgt)
        chunks = {
            name: state.chunks(tgt, name) if recorded and name not in restart else []
            for name, table in compiled.plan.tables.items()
            if at_risk(table) and (not tables or name in tables)
        }
    for name, planned in chunks.items():
        pending = [c.range for c in planned if not c.done] if planned else None
        if pending == []:
            continue  # every chunk is committed: nothing is deleted any more
        rows = count_foreign_rows(compiled, name, pending)
        if rows.count:
            path = f"tables.{name}.write_mode" if spec.tables[name].write_mode else "write_mode"
            out.append(finding(rows, path))
    return out


def count_foreign_rows(
    compiled: CompiledPlan, name: str, pending: Sequence[KeyRange] | None = None
) -> ForeignRows:
    """The target rows of ``name`` whose key the source does not hold, within ``pending``
    (the key ranges still to be copied; None: every key). A target row whose key is NULL (a
    remapped table's row the application inserted) is in no chunk and not counted."""
    table = compiled[name]
    source, target = compiled.source, compiled.target
    diff = TableDiff(name, "keys")
    with source.connect() as src, target.connect() as tgt:
        overrides = target.reflect_overrides(tgt, table.plan.target_table)
        mapped = map_table(compiled.plan, table, 15, overrides)
        s_side, t_side = sides(mapped, (source, src), (target, tgt), keys_only=True)
        t_side.where = sa.and_(t_side.where, key_present(t_side.keys))
        ChecksumDiff(mapped, s_side, t_side, LIMIT, False).run(diff)
    inside = [
        k
        for k in diff.extra
        if pending is None or any(r.contains(diff.raw_keys[k]) for r in pending)
    ]
    return ForeignRows(name, len(inside), not diff.not_fetched)


def finding(rows: ForeignRows, spec_path: str) -> Finding:
    """The error finding of ``rows`` (code ``replace-range-foreign-rows``), naming the
    table, the count and the write modes that keep the rows."""
    amount = f"{rows.count:,}" if rows.exact else f"at least {rows.count:,}"
    return Finding(
        Severity.error,
        CODE,
        f"target table '{rows.table}' already holds {amount} row(s) whose key the source does "
        "not have (inside or beyond the source's key span): write_mode replace_range "
        "deletes each chunk's key range first, so the run would delete them. "
        "Use write_mode: upsert (overwrite rows with the same key) or insert_missing (keep "
        "what is there), or acknowledge the deletion",
        spec_path,
        rows.table,
    )
