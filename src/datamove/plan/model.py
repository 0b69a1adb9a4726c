"""The Plan: the spec resolved against the live schemas.

Per target column: its source column, transform chain and types; per table: key, order,
estimates and the DDL datamove will run; plus every finding. ``Plan`` is what ``run`` executes
and what ``plan --json`` prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.core.types import TypeInfo
from datamove.dialects.partitioning import Partitioning
from datamove.dialects.schemasql import IndexShape
from datamove.transforms import Transform

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect
    from datamove.plan.inverse import ColumnRollback, TableRollback


class Severity(StrEnum):
    """How bad a finding is: errors stop ``run``; warnings and notes are for the reviewer."""

    error = "error"
    warning = "warning"
    note = "note"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    spec_path: str
    table: str | None = None
    column: str | None = None
    acknowledged: bool = False
    """The spec's ``acknowledge:`` covers it: counted, not repeated; an acknowledged error
    no longer stops ``run`` (only the codes in ``spec.codes.ACKNOWLEDGEABLE_ERRORS`` can be)."""
    reason: str | None = None
    """The acknowledgement's reason."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "spec_path": self.spec_path,
            "table": self.table,
            "column": self.column,
            "acknowledged": self.acknowledged,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ForeignKeyPlan:
    """A foreign key the target gets once every table is loaded (target names throughout)."""

    name: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    ondelete: str | None = None
    onupdate: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.name} ({', '.join(self.columns)}) -> "
            f"{self.parent} ({', '.join(self.parent_columns)})"
        )


IndexPlan = IndexShape
"""A secondary index (or unique key) a created table gets after its load: the dialects' neutral
shape of an index, with target names."""


@dataclass(frozen=True)
class CheckPlan:
    """A CHECK constraint of a created table, in the target's SQL over target columns."""

    name: str
    sql: str
    source: str
    """Where it comes from: ``enum`` (the mapped values of an enum) or the source CHECK's name."""


@dataclass(frozen=True)
class LookupPlan:
    """How a foreign-key column is translated: through the parent's legacy → new key pairs,
    read from the parent's target table (complete before the child's chunks start, or, when
    ``deferred``, before the second pass that fills the column)."""

    parent: str
    parent_table: sa.Table
    legacy_column: str
    key_column: str
    on_orphan: str
    deferred: bool = False
    """The parent is this table or loads after it (a cycle): the column is written NULL and
    filled by a second pass once the parent is loaded."""


@dataclass
class ColumnPlan:
    """How one target column is filled."""

    target: str
    source: str | None
    transforms: list[Transform]
    source_info: TypeInfo | None
    target_type: sa.types.TypeEngine[Any] | None
    target_type_text: str
    nullable: bool
    pushdown: bool
    """Every transform has SQL the source can compute: Python only moves the values."""
    pii: bool = False
    generated: bool = False
    """Filled by the target (a remapped key): not written by datamove."""
    legacy: bool = False
    """Holds the source key of a remapped table (chunk ranges use it in the target)."""
    lookup_table: str | None = None
    sql_only: bool = False
    """Some step exists only as SQL: the source computes this column even on the careful path."""
    lookup: LookupPlan | None = None
    on_orphan: str = "reject"
    identity: bool = False
    """The target generates this column's values when a row leaves it out (an identity or
    auto-increment column, as the source's): its generator is set past the copied values."""
    default_sql: str | None = None
    """The target column's default, in the target's SQL (None: no default)."""
    rollback: ColumnRollback | None = None
    """How its value goes back on a rollback (``plan.inverse``)."""

    def sql(self, expr: sa.ColumnElement[Any], dialect: Dialect) -> sa.ColumnElement[Any]:
        """The transform chain as the source's SQL over ``expr`` (only for ``pushdown``
        columns): what the copy pushes down and verification recomputes."""
        for t in self.transforms:
            step = t.to_sql(expr, dialect)
            assert step is not None, f"{t.name} has no SQL: the column is not pushdown"
            expr = step
        return expr

    @property
    def second_pass(self) -> bool:
        """Written NULL by the load and filled by the second pass (a deferred lookup)."""
        return self.lookup is not None and self.lookup.deferred

    @property
    def stored_bytes(self) -> bool:
        """A text column copied untransformed into a binary column: read as the bytes it
        stores (``Dialect.sql_stored_bytes``), never converted to Unicode."""
        info = self.source_info
        return (
            isinstance(self.target_type, sa.types._Binary)
            and not self.transforms
            and info is not None
            and info.kind in {"string", "text"}
        )

    @property
    def converts_text(self) -> bool:
        """Its source column's text leaves the source converted to Unicode, so a value with
        no Unicode form must be caught (``Dialect.sql_unconvertible``); not when it is read
        as stored bytes, nor under a ``sql`` step, which reads the stored value itself."""
        return (
            self.source is not None
            and not self.stored_bytes
            and not any(t.name == "sql" for t in self.transforms)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "source": self.source,
            "source_type": self.source_info.label if self.source_info else None,
            "target_type": self.target_type_text,
            "nullable": self.nullable,
            "transforms": [t.fingerprint() for t in self.transforms],
            "computed": "sql" if self.pushdown else "python",
            "pii": self.pii,
            "generated": self.generated,
            "legacy": self.legacy,
            "lookup": self.lookup_table,
            "second_pass": self.second_pass,
            "identity": self.identity,
            "default": self.default_sql,
            "rollback": self.rollback.to_dict() if self.rollback else None,
        }


@dataclass
class TablePlan:
    """One table: where its rows come from, how they are chunked, and how the target is made."""

    name: str
    source_name: str
    source_table: sa.Table
    target_table: sa.Table
    key: list[str]
    target_key: list[str]
    where: str | None
    columns: list[ColumnPlan]
    batch_size: int
    create: bool
    """datamove creates this table, or created it in an earlier run: its schema (indexes,
    foreign keys, CHECKs, defaults) is datamove's to finish, check, drop and recreate."""
    exists: bool = False
    """The table is in the target now."""
    parents: set[str] = field(default_factory=set)
    deferred_parents: set[str] = field(default_factory=set)
    desired_table: sa.Table | None = None
    """The table as datamove creates it from this plan (also when the target table exists
    already: verify's schema check compares a table datamove created with it)."""
    indexes: list[IndexPlan] = field(default_factory=list)
    """Secondary indexes and unique keys a table datamove creates gets after its load."""
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)
    """Foreign keys a table datamove creates gets once every table is loaded."""
    checks: list[CheckPlan] = field(default_factory=list)
    """CHECK constraints a table datamove creates gets with the table."""
    references: list[ForeignKeyPlan] = field(default_factory=list)
    """Every source foreign key in target names, created or not (verify checks orphans)."""
    rows_estimate: int | None = None
    target_where: str | None = None
    """The target rows verify compares (None: all of them)."""

    @property
    def target_filter(self) -> sa.ColumnElement[bool]:
        """The target rows that are this plan's (a phase's: ``target_where``; else every one):
        what verify compares and what a ``replace_range`` chunk may delete."""
        where = self.target_where
        return sa.text(f"({where})") if where else sa.true()  # type: ignore[return-value]

    bytes_estimate: int | None = None
    strategy: str = "preserve"
    deletes: str = "hard"
    """The delete semantics in plain words."""
    write_mode: str = "replace_range"
    newer_column: str | None = None
    """``upsert_if_newer``: the target column compared."""
    partitioning: Partitioning | None = None
    """The source's partitioning, which the created target table gets (None: a plain table,
    whether or not the source is partitioned)."""
    nullable_key: list[str] = field(default_factory=list)
    dropped: dict[str, str | None] = field(default_factory=dict)
    """Source columns the spec drops (``drop:``), each with its reason (None: none given)."""
    """Source key columns that can hold NULL (declared ``not_null``): rows with NULL in one
    are in no key range; the first chunk rejects them and verification leaves them out."""
    rollback: TableRollback | None = None
    """Its columns by rollback class (``plan.inverse``)."""

    @property
    def lookup_parents(self) -> set[str]:
        """The tables this one's ``lookup:`` columns translate through."""
        return {c.lookup.parent for c in self.columns if c.lookup is not None}

    @property
    def sequences(self) -> list[str]:
        """Target columns whose generator is set past the copied values after the load."""
        return [c.target for c in self.columns if c.identity and not c.generated]

    @property
    def second_pass(self) -> list[ColumnPlan]:
        """The lookup columns written NULL by the load and filled by a second pass."""
        return [c for c in self.columns if c.second_pass]

    @property
    def mapping_hash(self) -> str:
        """A hash of everything that decides the target rows; pinned by the checkpoints.

        Target types are left out: they are fixed when the table is created, and a second run
        sees them as reflected from the target, spelled the engine's way.
        """
        doc: dict[str, Any] = {
            "source": self.source_name,
            "key": self.key,
            "key_strategy": self.strategy,
            "deletes": self.deletes,
            "where": self.where,
            "columns": [
                [c.target, c.source, [t.fingerprint() for t in c.transforms]] for c in self.columns
            ],
        }
        lookups = {
            c.target: [c.lookup_table, c.on_orphan] + (["second pass"] if c.second_pass else [])
            for c in self.columns
            if c.lookup_table
        }
        if self.strategy != "preserve" or lookups:  # absent otherwise: older hashes stay valid
            doc["keys"] = {"strategy": self.strategy, "lookups": lookups}
        if self.write_mode != "replace_range":  # absent otherwise: older hashes stay valid
            doc["write_mode"] = [self.write_mode, self.newer_column]
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "source": self.source_name,
            "key": self.key,
            "where": self.where,
            "write_mode": self.write_mode,
            "create": self.create,
            "exists": self.exists,
            "rows_estimate": self.rows_estimate,
            "bytes_estimate": self.bytes_estimate,
            "batch_size": self.batch_size,
            "parents": sorted(self.parents),
            "deferred_parents": sorted(self.deferred_parents),
            "indexes_after_load": [str(i) for i in self.indexes],
            "foreign_keys_after_load": [str(fk) for fk in self.foreign_keys],
            "checks": [c.name for c in self.checks],
            "sequences_after_load": self.sequences,
            "second_pass": [c.target for c in self.second_pass],
            "dropped": self.dropped,
            "partitioned_by": self.partitioning.key if self.partitioning else None,
            "partitions": [p.name for p in self.partitioning.partitions]
            if self.partitioning
            else [],
            "mapping_hash": self.mapping_hash,
            "rollback": self.rollback.to_dict() if self.rollback else None,
            "columns": [c.to_dict() for c in self.columns],
        }


@dataclass
class Plan:
    name: str
    source_url: str
    target_url: str
    tables: dict[str, TablePlan]
    order: list[str]
    findings: list[Finding]
    online: bool = False
    """A sync mode is set: rows may arrive after the backfill, so foreign keys are validated
    by ``sync`` once it has caught up."""

    @property
    def errors(self) -> list[Finding]:
        """The errors that stop ``run`` (not those the spec acknowledges)."""
        return [f for f in self.findings if f.severity is Severity.error and not f.acknowledged]

    @property
    def mapping_hash(self) -> str:
        """One digest of every table's ``mapping_hash`` (and the tables in scope): a verify
        records it, so the cutover's ``verified_within`` gate counts only a verify of this
        very mapping."""
        doc = {name: self.tables[name].mapping_hash for name in sorted(self.tables)}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def dependents(self, names: Iterable[str]) -> list[str]:
        """``names`` and every table that references them, transitively, in plan order."""
        out = set(names)
        changed = True
        while changed:
            changed = False
            for plan in self.tables.values():
                if plan.name not in out and (plan.parents | plan.deferred_parents) & out:
                    out.add(plan.name)
                    changed = True
        return [n for n in self.order if n in out]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source_url,
            "target": self.target_url,
            "order": self.order,
            "foreign_keys_validated": "by sync, once caught up" if self.online else "by run",
            "tables": [self.tables[t].to_dict() for t in self.order],
            "findings": [f.to_dict() for f in self.findings],
        }
