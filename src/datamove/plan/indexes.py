"""The indexes and unique keys a created table gets after its load, from the source's.

Every source index is either carried (columns renamed to target names; a kind, prefix,
expression or condition only where the target can make it) or named in a finding that says
why not. Nothing is guessed: a FULLTEXT index never becomes a btree index on a long text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from datamove.dialects.schemasql import IndexShape, column_names
from datamove.plan.context import N, ResolverBase, W
from datamove.plan.model import ColumnPlan, IndexPlan
from datamove.spec.models import TableSpec

MAX_NAME = 63
"""PostgreSQL's identifier limit, the shortest of the engines'."""


def object_name(table: str, parts: Sequence[str], suffix: str, taken: set[str]) -> str:
    """A schema object name unique in ``taken`` (index and constraint names are per schema on
    PostgreSQL), within every engine's limit; a hash keeps long names apart."""
    name = f"{table}_{'_'.join(parts)}_{suffix}"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - len(suffix) - 10]}_{digest}_{suffix}"
    base, n = name, 2
    while name in taken:
        name = f"{base[: MAX_NAME - len(str(n)) - 1]}_{n}"
        n += 1
    taken.add(name)
    return name


class IndexRules(ResolverBase):
    """Plans the indexes of created tables (a part of the ``Resolver``)."""

    def _indexes(
        self,
        name: str,
        tspec: TableSpec,
        shapes: list[IndexShape],
        columns: list[ColumnPlan],
        primary: list[str],
    ) -> list[IndexPlan]:
        path = f"tables.{name}"
        by_source = {c.source: c for c in columns if c.source and not c.legacy}
        out: list[IndexPlan] = []
        for shape in sorted(shapes, key=lambda s: s.name):
            if shape.name in tspec.skip_indexes:
                continue
            unmapped = [c for c in shape.columns if c not in by_source]
            problem = (
                f"its column(s) {', '.join(unmapped)} are not moved" if unmapped else None
            ) or self.target.schema.index_problem(shape, self.same_engine)
            if problem is None and (shape.expressions or shape.where):
                problem = self._sql_problem(shape, by_source)
            if problem is not None:
                self.add(
                    W if shape.unique and not unmapped else N,
                    "index-not-carried",
                    f"index '{shape.name}' of '{name}' ({_what(shape)}) is not carried into "
                    f"the {self.target.NAME} target: {problem}; create an equivalent after the "
                    f"run if the application needs it (skip_indexes: [{shape.name}] silences "
                    "this)",
                    f"{path}.skip_indexes",
                    name,
                )
                continue
            targets = tuple(by_source[c].target for c in shape.columns)
            if not shape.expressions and not shape.where and list(targets) == primary:
                continue  # the primary key is this index already
            out.append(
                IndexShape(
                    name=object_name(
                        name,
                        targets if not shape.expressions else (shape.name,),
                        "uidx" if shape.unique else "idx",
                        self.object_names,
                    ),
                    columns=targets,
                    unique=shape.unique,
                    source=shape.name,
                    kind=shape.kind,
                    descending=frozenset(by_source[c].target for c in shape.descending),
                    prefix=tuple((by_source[c].target, n) for c, n in shape.prefix),
                    expressions=shape.expressions,
                    where=shape.where,
                )
            )
        return out

    def _sql_problem(self, shape: IndexShape, by_source: dict[str, ColumnPlan]) -> str | None:
        """Why an expression or condition (engine SQL over source names) cannot be carried
        as it is: it must read only columns moved unchanged under their own names."""
        for sql in (*shape.expressions, *([shape.where] if shape.where else [])):
            names = column_names(sql, self.source.SQLGLOT)
            if names is None:
                return f"its SQL cannot be read: {sql}"
            changed = [
                n
                for n in names
                if n not in by_source or by_source[n].transforms or by_source[n].target != n
            ]
            if changed:
                return f"it reads {', '.join(sorted(changed))}, renamed, transformed or not moved"
        return None


def _what(shape: IndexShape) -> str:
    kind = "" if shape.kind == "btree" else f"{shape.kind.upper()} "
    cols = ", ".join(shape.expressions or shape.columns)
    return f"{'unique ' if shape.unique else ''}{kind}on {cols}" + (
        f" where {shape.where}" if shape.where else ""
    )
