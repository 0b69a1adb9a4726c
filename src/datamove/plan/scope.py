"""The spec's tables in scope: its ``tables:`` entries plus the source tables that its
``include:`` patterns match (less ``exclude:``), each of those moved as is.

Resolved once per command against the live source, before the plan, so that every stage
(copy, verify, sync, a worker in another process) sees the same concrete ``tables:``.
"""

from __future__ import annotations

import sqlalchemy as sa

from datamove.core.retry import retrying
from datamove.dialects.base import Dialect, error_translator
from datamove.spec.models import MigrationSpec, TableSpec
from datamove.spec.selection import select_tables


def scoped(spec: MigrationSpec, source: Dialect) -> MigrationSpec:
    """``spec`` with every table ``include:`` selects under ``tables:`` (the same spec when
    it has no ``include:``). A pattern matching nothing is a ``SpecError`` naming it."""
    if not spec.include:
        return spec

    def names() -> tuple[list[str], set[str]]:
        with source.connect() as src:
            available = sa.inspect(src).get_table_names()
            partitions = source.schema.partitions(src)
        # datamove's own tables, and partitions (read through their root), only by exact name
        return available, {t for t in available if t.startswith("datamove_")} | set(partitions)

    available, hidden = retrying(names, error_translator(source), lambda *_: None)
    chosen = select_tables(
        available,
        spec.include,
        spec.exclude,
        hidden=hidden,
        include_at="include",
        exclude_at="exclude",
        spec=True,
    )
    mapped = {t.source or n for n, t in spec.tables.items()} | set(spec.tables)
    tables = dict(spec.tables)
    tables.update({name: TableSpec() for name in chosen if name not in mapped})
    return spec.model_copy(update={"tables": tables, "include": [], "exclude": []})
