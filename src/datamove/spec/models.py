"""The spec: what the user writes, as typed models (validated from YAML by ``spec.loader``).

Every model forbids unknown fields, so a typo is an error naming its spec path rather than a
setting silently ignored.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datamove.dialects.urls import url_problem
from datamove.spec.codes import ACKNOWLEDGEABLE_ERRORS, ERROR_CODES, FINDING_CODES
from datamove.spec.cutover import CutoverMode as CutoverMode  # re-exported (plan.keys)
from datamove.spec.cutover import CutoverSpec
from datamove.spec.durations import parse_duration
from datamove.spec.phases import PhasesSpec
from datamove.spec.reconcile import NotifySpec, ReconcileSpec
from datamove.spec.signoff import SignoffSpec


class KeyStrategy(StrEnum):
    """What becomes of a table's key in the target."""

    preserve = "preserve"
    """The target keeps the source key."""
    remap = "remap"
    """The target generates its own key; the source key is kept in ``legacy_column``."""
    uuid5 = "uuid5"
    """The target key is a UUID made from ``namespace``, the table and the source key: the same
    on every run and every machine; the source key is kept in ``legacy_column``."""


class OrphanPolicy(StrEnum):
    """What a ``lookup`` does with a value whose parent row is not in the target."""

    reject = "reject"
    null = "null"
    keep = "keep"


class DeleteMode(StrEnum):
    """How rows deleted in the source are represented in the target."""

    hard = "hard"
    """A deleted row is gone: marked rows are none; ``sync`` deletes target rows."""
    soft = "soft"
    """Rows marked deleted (``when``) are moved with ``column`` set (from ``from`` or
    ``value``); other rows get NULL there."""
    skip = "skip"
    """Rows marked deleted (``when``) are not moved at all."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TransformCall(_Model):
    """One step of a column's transform chain: a registered transform name and its arguments."""

    name: str
    args: Any = None

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, data: Any) -> Any:
        # `trim` or `{cast: integer}` in YAML; `{name:, args:}` is the canonical form.
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, dict) and len(data) == 1 and "name" not in data:
            ((name, args),) = data.items()
            return {"name": name, "args": args}
        return data


class RollbackSpec(_Model):
    """How a column goes back to the old side on a rollback, where the plan cannot tell
    (``plan`` classifies every column; see the README's "Rollback classes of a mapping")."""

    freeze: bool = Field(
        default=False,
        description="Not written back on a rollback: the old side keeps its old value "
        "(`rollback: freeze`).",
    )
    inverse: list[TransformCall] = Field(
        default_factory=list,
        description="Transforms that turn the target value back into the source value "
        "(e.g. [{python: shop.codes:decode}]), for steps the plan cannot invert.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"freeze": True} if data == "freeze" else data

    @field_validator("inverse", mode="before")
    @classmethod
    def _single_step(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @model_validator(mode="after")
    def _one_of(self) -> RollbackSpec:
        if self.freeze and self.inverse:
            raise ValueError("a frozen column is not written back: drop freeze or inverse")
        if not self.freeze and not self.inverse:
            raise ValueError("rollback takes freeze, or inverse: [TRANSFORM, ...]")
        return self


class ColumnSpec(_Model):
    """How one target column is filled."""

    from_: str | None = Field(default=None, alias="from", description="Source column name.")
    transform: list[TransformCall] = Field(
        default_factory=list, description="Transforms applied in order to the source value."
    )
    cast: str | None = Field(
        default=None, description="Shorthand for a final `cast` transform (strict)."
    )
    default: Any = Field(
        default=None, description="Value used when the result is NULL (or when there is no source)."
    )
    type: str | None = Field(
        default=None, description="Target column type, when the table is created (e.g. text)."
    )
    nullable: bool | None = Field(default=None, description="Override the target NOT NULL.")
    lookup: str | None = Field(
        default=None, description="Translate this foreign key through that table's key remap."
    )
    on_orphan: OrphanPolicy = Field(
        default=OrphanPolicy.reject, description="A lookup value with no parent row."
    )
    pii: bool | None = Field(
        default=None,
        description="Personal data: masked in rejects and reports (true), or declared not (false).",
    )
    target_default: str | None = Field(
        default=None,
        description="The created column's default, in the target's SQL (null: no default); "
        "replaces the default carried from the source.",
    )
    rollback: RollbackSpec | None = Field(
        default=None,
        description="How the column goes back on a rollback: freeze, or {inverse: [...]}.",
    )

    @property
    def declares_target_default(self) -> bool:
        return "target_default" in self.model_fields_set

    @field_validator("on_orphan", mode="before")
    @classmethod
    def _yaml_null(cls, value: Any) -> Any:
        return "null" if value is None else value  # YAML reads `on_orphan: null` as None

    @field_validator("transform", mode="before")
    @classmethod
    def _single_transform(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    def chain(self) -> list[TransformCall]:
        """The full transform chain: ``transform`` steps, then ``cast``, then ``default``."""
        steps = list(self.transform)
        if self.cast is not None:
            steps.append(TransformCall(name="cast", args=self.cast))
        if self.has_default:
            steps.append(TransformCall(name="default", args=self.default))
        return steps


class KeySpec(_Model):
    """The key that chunks a table: its primary key or a declared unique key."""

    columns: list[str] = Field(
        min_length=1,
        description="The key's SOURCE column names (as the source table spells them, not the "
        "target's names under columns:).",
    )
    strategy: KeyStrategy = KeyStrategy.preserve
    legacy_column: str | None = Field(
        default=None, description="Target column keeping the source key (remap, uuid5)."
    )
    namespace: uuid.UUID | None = Field(default=None, description="UUID namespace for uuid5.")
    not_null: bool = Field(
        default=False,
        description="Assert that the key columns hold no NULL although the source allows it; "
        "a row with NULL in one becomes a reject (without it, a nullable key is a plan error).",
    )

    @model_validator(mode="after")
    def _strategy_needs(self) -> KeySpec:
        if self.strategy is not KeyStrategy.preserve and len(self.columns) != 1:
            raise ValueError(f"key strategy {self.strategy.value} needs a single key column")
        if self.strategy is KeyStrategy.uuid5 and self.namespace is None:
            raise ValueError("key strategy uuid5 needs a namespace (any UUID, kept forever)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"columns": [data]}
        if isinstance(data, list):
            return {"columns": data}
        return data


class WriteModeName(StrEnum):
    """How a chunk writes into the target."""

    replace_range = "replace_range"
    """Delete the chunk's key range, bulk-write it (a fresh target; the fastest)."""
    upsert = "upsert"
    """Insert, or overwrite the row with the same key."""
    insert_missing = "insert_missing"
    """Insert rows whose key is absent; never touch what is there (the application wrote it)."""
    upsert_if_newer = "upsert_if_newer"
    """Overwrite only rows whose ``column`` is older than the source's."""


class WriteMode(_Model):
    """``write_mode: upsert`` or ``write_mode: {upsert_if_newer: {column: updated_at}}``."""

    mode: WriteModeName = WriteModeName.replace_range
    column: str | None = Field(default=None, description="upsert_if_newer: the target column.")

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"mode": value}
        if isinstance(value, dict) and len(value) == 1 and "mode" not in value:
            ((mode, args),) = value.items()
            return {"mode": mode, **(args if isinstance(args, dict) else {})}
        return value

    @model_validator(mode="after")
    def _column(self) -> WriteMode:
        if (self.mode is WriteModeName.upsert_if_newer) != (self.column is not None):
            raise ValueError("upsert_if_newer needs column: (and only it takes one)")
        return self


class DeleteSpec(_Model):
    """Delete semantics of a table: ``hard`` (default), ``soft`` or ``skip``."""

    mode: DeleteMode = DeleteMode.hard
    when: str | None = Field(default=None, description="SQL on the source marking deleted rows.")
    column: str | None = Field(default=None, description="Target column set on soft delete.")
    from_: str | None = Field(
        default=None, alias="from", description="Source column whose value `column` gets."
    )
    value: Any = Field(default=None, description="Constant `column` gets (instead of from).")

    @model_validator(mode="before")
    @classmethod
    def _from_mode(cls, data: Any) -> Any:
        return {"mode": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _needs(self) -> DeleteSpec:
        if self.mode is not DeleteMode.hard and not self.when:
            raise ValueError(f"deletes mode {self.mode.value} needs when: SQL marking deleted rows")
        if self.mode is DeleteMode.soft:
            if not self.column:
                raise ValueError("deletes mode soft needs column: the target column to set")
            if (self.from_ is None) == (self.value is None):
                raise ValueError("deletes mode soft needs exactly one of from: or value:")
        return self


class TableSpec(_Model):
    """One target table and where its rows come from."""

    source: str | None = Field(default=None, description="Source table (default: same name).")
    key: KeySpec | None = Field(default=None, description="Chunking key (default: primary key).")
    where: str | None = Field(default=None, description="SQL filter on source rows.")
    target_where: str | None = Field(
        default=None,
        description="SQL filter on the target rows verify compares: what where: selects, as "
        "the target sees it (a phase sets it).",
    )
    phase_column: str | None = Field(
        default=None, description="This table's tenant column, where it is not phases.by."
    )
    columns: dict[str, ColumnSpec] | None = Field(
        default=None, description="Target columns; omitted means every source column as is."
    )
    drop: dict[str, str | None] = Field(
        default_factory=dict,
        description="Source columns not moved: a list of names, or names with the reason "
        "the mapping document gives the reviewer ({legacy_flag: unused since 2019}).",
    )
    deletes: DeleteSpec = Field(default_factory=DeleteSpec, description="Delete semantics.")
    batch_size: int | None = Field(default=None, gt=0, description="Rows per chunk.")
    write_mode: WriteMode | None = Field(
        default=None, description="How chunks write (default: the migration's write_mode)."
    )
    skip_indexes: list[str] = Field(
        default_factory=list,
        description="Source indexes (or unique constraints) not to create on the target.",
    )

    @field_validator("drop", mode="before")
    @classmethod
    def _drop_list(cls, value: Any) -> Any:
        # `drop: [a, b]` names columns without a reason.
        return dict.fromkeys(value) if isinstance(value, list) else value

    @field_validator("columns", mode="before")
    @classmethod
    def _column_short_forms(cls, value: Any) -> Any:
        # `email: {}` / `email:` (same name) and `email: mail_address` (rename) are allowed.
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for name, col in value.items():
            if col is None:
                out[name] = {}
            elif isinstance(col, str):
                out[name] = {"from": col}
            else:
                out[name] = col
        return out


class Tolerance(_Model):
    """How far numbers may differ and still agree (either bound suffices)."""

    abs: Decimal | None = Field(default=None, ge=0, description="Absolute difference allowed.")
    pct: Decimal | None = Field(default=None, ge=0, description="Difference allowed, in percent.")


class Invariant(_Model):
    """A business rule checked on both sides: the two result sets must be equal (rows sorted
    by their columns, numbers within ``tolerance``)."""

    name: str
    source: str = Field(description="SQL run on the source.")
    target: str = Field(description="SQL run on the target.")
    tolerance: Tolerance = Field(default_factory=Tolerance)


class ShadowQuery(Invariant):
    """A critical read query asked of old and new, each in its own schema's words."""

    ordered: bool = Field(default=False, description="Row order is part of the answer.")


class AggregateCheck(_Model):
    """Per column count, NULL count, sum, min and max, through the mapping, on both sides."""

    table: str
    columns: list[str] = Field(min_length=1, description="Target columns.")
    group_by: list[str] = Field(default_factory=list, description="Target columns to group by.")
    count_distinct: list[str] = Field(default_factory=list)
    tolerance: Tolerance = Field(default_factory=Tolerance)


class SampleCheck(_Model):
    """Random source rows fetched from both sides and compared field by field."""

    table: str
    rows: int = Field(default=100, gt=0, le=100_000)


class Checks(_Model):
    """Configured checks, in addition to the defaults every table gets."""

    aggregates: list[AggregateCheck] = Field(default_factory=list)
    samples: list[SampleCheck] = Field(default_factory=list)
    shadow: list[ShadowQuery] = Field(default_factory=list)
    float_digits: int = Field(
        default=15, ge=1, le=15, description="Significant digits floats are compared at."
    )


class SyncDirection(StrEnum):
    """Which way changes flow once the backfill is done."""

    one_way = "one_way"
    """Source → target only: the target follows the source until cutover."""
    bidirectional = "bidirectional"
    """Both ways: refused (see ``SyncSpec``)."""


class SyncMode(StrEnum):
    """How changes made during and after the backfill are caught up."""

    none = "none"
    """No catch-up: the source is frozen (read-only window) for the whole copy."""
    triggers = "triggers"
    """Triggers on the source record changed keys in a changelog (``datamove capture``)."""
    watermark = "watermark"
    """Rows are re-read by an ``updated_at``-like column; deletes found by a key diff."""


class SyncSpec(_Model):
    """Change capture and catch-up after the backfill (``datamove capture``, ``sync``)."""

    direction: SyncDirection = SyncDirection.one_way
    mode: SyncMode = Field(default=SyncMode.none, description="none, triggers or watermark.")
    column: str | None = Field(
        default=None, description="watermark: the source column every write updates."
    )
    skew_margin: float = Field(
        default=300.0,
        description="watermark: re-read this far behind the last watermark (clock skew, "
        "long transactions), e.g. 5m.",
    )

    @field_validator("skew_margin", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> SyncSpec:
        if self.mode is SyncMode.watermark and not self.column:
            raise ValueError("sync mode watermark needs column: the source's updated-at column")
        if self.direction is SyncDirection.bidirectional:
            raise ValueError(
                "bidirectional sync is refused: with writes on both sides, a conflict (the same "
                "row changed in both) has no correct winner without application rules, and "
                "echoes of applied changes would loop; use one_way, or dual writes by the "
                "application (cutover mode dual_write)"
            )
        return self


class Acknowledgement(_Model):
    """A finding the reviewer has judged: ``plan`` counts it instead of repeating it (and an
    acknowledgeable error no longer stops ``run``)."""

    code: str = Field(description="The finding's code (plan --json shows it).")
    table: str = Field(default="*", description="Target tables it covers (a glob).")
    column: str | None = Field(
        default=None, description="Target columns it covers (a glob; default: any)."
    )
    reason: str | None = Field(default=None, description="Why it is acceptable, for the record.")

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if value not in FINDING_CODES:
            raise ValueError(
                f"unknown finding code {value!r}; known codes: {', '.join(sorted(FINDING_CODES))}"
            )
        if value in ERROR_CODES - ACKNOWLEDGEABLE_ERRORS:
            allowed = ", ".join(sorted(ACKNOWLEDGEABLE_ERRORS))
            raise ValueError(
                f"{value!r} is an error that makes the mapping unworkable: fix it rather than "
                f"acknowledge it (errors that can be acknowledged: {allowed})"
            )
        return value


class MigrationSpec(_Model):
    """A whole migration: where from, where to, and how every table is mapped."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    source: str = Field(description="SQLAlchemy URL of the source database.")
    target: str = Field(description="SQLAlchemy URL of the target database.")
    cutover: CutoverSpec = Field(default_factory=CutoverSpec)
    sync: SyncSpec = Field(default_factory=SyncSpec)
    reconcile: ReconcileSpec = Field(default_factory=ReconcileSpec)
    notify: NotifySpec | None = Field(default=None, description="Webhook for new failures.")
    signoff: SignoffSpec = Field(default_factory=SignoffSpec)
    create_tables: bool = Field(default=True, description="Create missing target tables.")
    max_rejects: int = Field(default=0, ge=0, description="Rejected rows tolerated per run.")
    batch_size: int = Field(default=20_000, gt=0, description="Rows per chunk.")
    write_mode: WriteMode = Field(
        default_factory=WriteMode,
        description="replace_range (fresh target), upsert, insert_missing or "
        "{upsert_if_newer: {column: ...}} (a target the application already writes).",
    )
    invariants: list[Invariant] = Field(default_factory=list)
    checks: Checks = Field(default_factory=Checks)
    include: list[str] = Field(
        default_factory=list,
        description="Source tables in scope besides those under tables: names or shell globs, "
        "case-insensitive (e.g. 'payment*'); a match without a tables: entry is moved as is.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Source tables that include: patterns leave out: names or shell globs.",
    )
    acknowledge: list[Acknowledgement] = Field(
        default_factory=list, description="Findings judged acceptable: counted, not repeated."
    )
    tables: dict[str, TableSpec] = Field(
        default_factory=dict,
        description="Target tables and their mapping (the key is the target table's name).",
    )
    phases: PhasesSpec | None = Field(
        default=None, description="Groups of tenants that move one after another (--phase)."
    )

    @field_validator("source", "target")
    @classmethod
    def _database_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)  # never the URL itself: it may hold a password
        return value

    @field_validator("tables", mode="before")
    @classmethod
    def _empty_tables(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: ({} if spec is None else spec) for name, spec in value.items()}
        return value
