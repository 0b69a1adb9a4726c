"""Columns computed from source columns named in a step (``sql``, ``concat``): the checks."""

from __future__ import annotations

import sqlalchemy as sa

from datamove.core.types import TypeInfo
from datamove.plan.context import E, ResolverBase, closest
from datamove.transforms import Transform
from datamove.transforms.concat import Concat

_JOINABLE = {"string", "text", "enum", "integer"}
"""Kinds whose text form every engine writes as Python does (concat's parts)."""


class ComputedColumns(ResolverBase):
    """Checks the steps that read source columns by name."""

    def _lint_reads(
        self,
        table: str,
        target: str,
        transforms: list[Transform],
        src_table: sa.Table,
        overrides: dict[str, TypeInfo],
        cpath: str,
    ) -> None:
        """Such a step comes first (it makes the value) and names columns that exist; concat's
        parts are text or integers."""
        src_cols = [c.name for c in src_table.columns]
        for i, step in enumerate(transforms):
            if not step.columns:
                continue
            spath = f"{cpath}.transform[{i}]"
            if i:
                self.add(
                    E,
                    f"{step.name}-not-first",
                    f"a {step.name} step makes the value: make it the first step of the chain",
                    spath,
                    table,
                    target,
                )
            for name in step.columns:
                if name not in src_cols:
                    self.add(
                        E,
                        "unknown-column",
                        f"the {step.name} step names '{name}', which is not a source column"
                        f"{closest(name, src_cols)}",
                        spath,
                        table,
                        target,
                    )
                    continue
                info = self.source_info(src_table.c[name], overrides)
                if isinstance(step, Concat) and (info is None or info.kind not in _JOINABLE):
                    self.add(
                        E,
                        "concat-type",
                        f"concat joins text and integer columns; '{name}' is "
                        f"{info.label if info else 'of an unknown type'}: format it with an sql "
                        "step instead",
                        spath,
                        table,
                        target,
                    )

    @staticmethod
    def _reads_nullable(transforms: list[Transform], src_table: sa.Table, nullable: bool) -> bool:
        """Whether a concat column can be NULL, from its parts (other columns: ``nullable``)."""
        first = transforms[0] if transforms else None
        if not isinstance(first, Concat):
            return nullable
        return first.result_nullable(
            [bool(src_table.c[n].nullable) for n in first.columns if n in src_table.c]
        )
