"""What every part of the resolver shares: the spec, both dialects, and the findings."""

from __future__ import annotations

import difflib
from typing import Any

import sqlalchemy as sa

from datamove.core.types import TypeInfo
from datamove.dialects.base import Dialect
from datamove.dialects.types import describe
from datamove.plan.model import (
    CheckPlan,
    ColumnPlan,
    Finding,
    Severity,
)
from datamove.spec.models import (
    ColumnSpec,
    MigrationSpec,
)

E, W, N = Severity.error, Severity.warning, Severity.note


def closest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"; did you mean '{close[0]}'?" if close else ""


class ResolverBase:
    """State and helpers of a resolver; the parts (keys, target schema) build on it."""

    def __init__(self, spec: MigrationSpec, source: Dialect, target: Dialect) -> None:
        self.spec = spec
        self.source = source
        self.target = target
        self.same_engine = source.same_engine(target)
        self.findings: list[Finding] = []
        self.target_md = sa.MetaData()
        self.created: set[str] = set()
        """Tables datamove created in an earlier run (their ``table`` step is recorded)."""
        self.object_names: set[str] = set()
        """Index and constraint names given so far (unique per schema on PostgreSQL)."""

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        path: str,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        self.findings.append(Finding(severity, code, message, path, table, column))

    def source_info(self, col: sa.Column[Any], overrides: dict[str, TypeInfo]) -> TypeInfo | None:
        """How the source dialect describes a source column (a catalog override first)."""
        label = describe(col.type, self.source.engine.dialect)
        return overrides.get(col.name) or self.source.classify(col.type, label)

    def _column(
        self,
        table: str,
        target: str,
        cspec: ColumnSpec,
        src_table: sa.Table,
        overrides: dict[str, TypeInfo],
        existing: sa.Table | None,
        key: list[str],
        path: str,
    ) -> ColumnPlan | None:
        """Plan one target column (implemented by ``Resolver``)."""
        raise NotImplementedError

    def _target_table(
        self, name: str, columns: list[ColumnPlan], key: list[str], checks: list[CheckPlan]
    ) -> sa.Table:
        """The table datamove creates (implemented by ``TargetSchema``)."""
        raise NotImplementedError
