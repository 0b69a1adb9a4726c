"""Every mapped column classified for a rollback: how the new side's value goes back.

A lossless rollback replays what the new side accepted after the switch back into the old
side through the inverse mapping. Before the switch, the plan says for each target column (and
each source column that is not moved) which rollback class it is in (``transforms.inversion``):
``invertible`` (with its inverse, as data and as a function of the value), ``kept_original``
(the rollback needs the original: the fenced source still holds it, see ``cutover.reverse``;
a changed value goes back through the chain's best inverse, when every step has one) or
``one_way`` (also a source column the mapping drops that is NOT NULL without a default: a row
the target inserts has no value for it). The chain of a column is as bad as its worst step;
each step declares its own class (``Transform.inversion``), the plan only adds the wiring:
renames, type checks, a remapped key through its legacy column, a lookup through its
parent's legacy column.

The spec decides where the plan cannot: ``rollback: freeze`` (not written back: the old side
keeps its old value) or ``rollback: {inverse: [...]}`` (transforms from the target value back
to the source value). ``one_way_columns`` lists the one-way columns that are not frozen: a
reverse cutover refuses them. Not done here: capturing or replaying anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from datamove.core.types import TypeInfo
from datamove.errors import RowError, SpecError
from datamove.plan.model import ColumnPlan, Finding, Plan, Severity, TablePlan
from datamove.spec.models import ColumnSpec, TableSpec
from datamove.transforms import Transform, build
from datamove.transforms.inversion import Given, Inversion, RollbackClass

Undo = Callable[[Any], Any]


@dataclass(frozen=True)
class ColumnRollback:
    """How one column goes back on a rollback."""

    table: str
    column: str
    """The target column (for a source column not moved: that source column)."""
    kind: RollbackClass
    reason: str
    sources: tuple[str, ...] = ()
    """The source column(s) the value goes back to."""
    inverse: tuple[dict[str, Any], ...] = ()
    """``invertible``: the steps back, in the order the rollback applies them."""
    frozen: bool = False
    """The spec freezes it: not written back, the old side keeps its old value."""
    declared: bool = False
    """The spec declares its inverse (``rollback.inverse``)."""
    moved: bool = True
    """False for a source column the mapping does not move (dropped or not mapped)."""
    undo: Undo | None = field(default=None, compare=False, repr=False)
    """``invertible`` and computed from the value alone: target value → source value, or
    ``ValueError`` when the value cannot be one the mapping gave (its range, its image).
    ``kept_original``: the best inverse of a changed value (None when there is none)."""
    forward: Undo | None = field(default=None, compare=False, repr=False)
    """``kept_original`` with one source column: source value → target value (the mapping in
    Python), so a rollback tells an original the target left alone from a changed one."""

    @property
    def place(self) -> str:
        return f"{self.table}.{self.column}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.kind.value,
            "reason": self.reason,
            "sources": list(self.sources),
            "inverse": list(self.inverse),
            "frozen": self.frozen,
            "declared": self.declared,
        }


@dataclass(frozen=True)
class TableRollback:
    """A table's columns by rollback class (the plan's per-table summary)."""

    table: str
    columns: tuple[ColumnRollback, ...]
    """The target columns in plan order, then the source columns not moved."""

    def count(self, kind: RollbackClass) -> int:
        return sum(1 for c in self.columns if c.kind is kind)

    @property
    def frozen(self) -> int:
        return sum(1 for c in self.columns if c.frozen)

    def summary(self) -> str:
        """``3 invertible, 1 kept-original, 0 one-way`` (plus the frozen, if any)."""
        text = ", ".join(f"{self.count(k)} {k.value.replace('_', '-')}" for k in RollbackClass)
        return text + (f" ({self.frozen} frozen)" if self.frozen else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k.value: self.count(k) for k in RollbackClass},
            "frozen": self.frozen,
            "not_moved": {c.column: c.to_dict() for c in self.columns if not c.moved},
        }


def classify(table: TablePlan, spec: TableSpec | None) -> list[Finding]:
    """Classify every column of ``table`` (setting ``ColumnPlan.rollback`` and
    ``TablePlan.rollback``) and return a ``one-way-column`` warning per one-way column that
    is not frozen. A declared inverse that cannot be built is a ``SpecError``."""
    specs = (spec.columns or {}) if spec is not None else {}
    out: list[ColumnRollback] = []
    for col in table.columns:
        col.rollback = _column(table, col, specs.get(col.target))
        out.append(col.rollback)
    out += _not_moved(table)
    table.rollback = TableRollback(table.name, tuple(out))
    return [
        Finding(
            Severity.warning,
            "one-way-column",
            f"'{c.place}' cannot go back on a rollback: {c.reason}; a reverse cutover refuses "
            "it until the spec freezes it (rollback: freeze) or declares its inverse "
            "(rollback: {inverse: [...]})",
            f"tables.{table.name}.columns.{c.column}",
            table.name,
            c.column,
        )
        for c in out
        if c.kind is RollbackClass.one_way and not c.frozen
    ]


def one_way_columns(plan: Plan) -> list[ColumnRollback]:
    """The one-way columns a rollback would lose, in plan order: those not frozen. A reverse
    cutover refuses to start while there is one, naming them."""
    return [
        c
        for name in plan.order
        if (rollback := plan.tables[name].rollback) is not None
        for c in rollback.columns
        if c.kind is RollbackClass.one_way and not c.frozen
    ]


# -- one column ------------------------------------------------------------------------------


def _column(table: TablePlan, col: ColumnPlan, cspec: ColumnSpec | None) -> ColumnRollback:
    frozen = bool(cspec and cspec.rollback and cspec.rollback.freeze)
    sources = (col.source,) if col.source else tuple(n for t in col.transforms for n in t.columns)
    made = _wired(table, col) or _chain(table, col)
    declared = cspec.rollback.inverse if cspec and cspec.rollback else []
    if declared:
        path = f"tables.{table.name}.columns.{col.target}.rollback.inverse"
        made = _declared(
            col, [_inverse_step(c.name, c.args, f"{path}[{i}]") for i, c in enumerate(declared)]
        )
    return ColumnRollback(
        table.name,
        col.target,
        made.kind,
        made.reason,
        sources,
        tuple(made.steps) if made.kind is RollbackClass.invertible else (),
        frozen,
        bool(declared),
        undo=made.undo if made.kind is not RollbackClass.one_way else None,
        forward=_forward(col) if made.kind is RollbackClass.kept_original else None,
    )


@dataclass
class _Made:
    kind: RollbackClass
    reason: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    undo: Undo | None = None


def _wired(table: TablePlan, col: ColumnPlan) -> _Made | None:
    """Columns whose way back is wiring, not a transform: a remapped key, a lookup."""
    legacy = next((c.target for c in table.columns if c.legacy), None)
    if table.strategy != "preserve" and col.source == table.key[0] and not col.legacy:
        return _Made(
            RollbackClass.invertible,
            f"a new key made by the target; the source key comes back from {legacy}",
            [{"op": "legacy_key", "column": legacy}],
        )
    if col.lookup is None:
        return None
    if col.lookup.on_orphan != "reject":
        what = "set to NULL" if col.lookup.on_orphan == "null" else "kept untranslated"
        return _Made(RollbackClass.kept_original, f"values with no parent row were {what}")
    return _Made(
        RollbackClass.invertible,
        f"translated back through {col.lookup.parent}.{col.lookup.legacy_column}",
        [
            {
                "op": "lookup",
                "parent": col.lookup.parent,
                "key_column": col.lookup.key_column,
                "legacy_column": col.lookup.legacy_column,
            }
        ],
    )


def _chain(table: TablePlan, col: ColumnPlan) -> _Made:
    """A column's transform chain, each step by its own ``inversion``; the worst decides."""
    src = table.source_table.c
    nullable = col.source is None or col.source not in src or bool(src[col.source].nullable)
    info = col.source_info
    given = Given(nullable, info.kind if info is not None else None)
    steps: list[Inversion] = []
    for step in col.transforms:
        steps.append(step.inversion(given))
        given = Given(step.nullable_after(given.nullable), _kind_after(step, given.kind))
    worst = max((s.kind for s in steps), key=lambda k: k.rank, default=RollbackClass.invertible)
    fits = _fits_step(info)
    if worst is not RollbackClass.invertible:
        reasons = [
            f"{t.name}: {s.reason}"
            for t, s in zip(col.transforms, steps, strict=True)
            if s.kind is worst
        ]
        best = [s.undo for s in reversed(steps)]
        kept = worst is RollbackClass.kept_original and None not in best
        return _Made(worst, "; ".join(reasons), undo=_best(best, fits) if kept else None)
    inverse = [s.inverse for s in reversed(steps)] + ([fits[0]] if fits else [])
    undos = [s.undo for s in reversed(steps) if s.undo is not None]
    if not col.transforms:
        reason = (
            f"renamed from {col.source}" if col.source != col.target else "the same value"
        ) + (f"; back into {fits[0]['type']} with a range check" if fits else "")
        inverse.insert(0, {"op": "rename", "to": col.source})
    else:
        reason = "; ".join(
            f"{t.name}: {s.reason}" for t, s in zip(col.transforms, steps, strict=True)
        )
    return _Made(
        RollbackClass.invertible,
        reason,
        inverse,
        _checked(undos, col.transforms, fits[1] if fits else None),
    )


def _declared(col: ColumnPlan, steps: Sequence[Transform]) -> _Made:
    """The spec's inverse: its transforms, applied in order, checked like any other."""
    return _Made(
        RollbackClass.invertible,
        "declared by the spec (rollback.inverse): " + "; ".join(s.describe() for s in steps),
        [{"op": "transform", "step": s.fingerprint()} for s in steps],
        _checked([s.apply for s in steps], col.transforms, None),
    )


def _inverse_step(name: str, args: Any, path: str) -> Transform:
    step = build(name, args, path)
    if step.SQL_ONLY:
        raise SpecError(
            f"{name} reads source columns by name; an inverse turns one value into another",
            spec_path=path,
            hint="use a transform computed in Python (map, cast, python, …)",
        )
    return step


def _checked(undos: list[Undo], forward: Sequence[Transform], fits: Undo | None) -> Undo:
    """The steps back, then a check that the mapping takes the result to the very value it
    came from (a value the mapping could not have made — out of range, not in a map — is a
    ``ValueError``), then the source column's range."""

    python = not any(t.SQL_ONLY for t in forward)  # else the source's SQL computes it

    def undo(value: Any) -> Any:
        back = again = value
        try:
            for step in undos:
                back = step(back)
            again = back
            for t in forward if python else ():
                again = t.apply(again)
        except (ValueError, TypeError, ArithmeticError, RowError) as exc:
            raise ValueError(f"{value!r} cannot go back: {exc}") from None
        if python and again != value:
            raise ValueError(f"{value!r} cannot go back: {back!r} maps to {again!r}")
        return fits(back) if fits is not None else back

    return undo


def _best(undos: list[Undo | None], fits: tuple[dict[str, Any], Undo] | None) -> Undo:
    """A kept-original chain's best inverse: each step's, then the source column's range (no
    check that the mapping gives the value back: the application may have written a value
    the mapping never makes, as an untrimmed text; verify judges it after the replay)."""

    def undo(value: Any) -> Any:
        back = value
        try:
            for step in undos:
                assert step is not None
                back = step(back)
        except (ValueError, TypeError, ArithmeticError, RowError) as exc:
            raise ValueError(f"{value!r} cannot go back: {exc}") from None
        return fits[1](back) if fits is not None else back

    return undo


def _forward(col: ColumnPlan) -> Undo | None:
    """The column's mapping of one source value, in Python (None when SQL computes it or it
    reads several source columns)."""
    if not col.source or any(t.SQL_ONLY or len(t.columns) > 1 for t in col.transforms):
        return None
    steps = list(col.transforms)

    def forward(value: Any) -> Any:
        for t in steps:
            value = t.apply(value)
        return value

    return forward


def _fits_step(info: TypeInfo | None) -> tuple[dict[str, Any], Undo] | None:
    """The range check back into the source type (integers' bounds, strings' length)."""
    if info is None:
        return None
    low, high, length = info.low, info.high, info.length
    if low is None and high is None and length is None:
        return None

    def fits(value: Any) -> Any:
        if (
            value is not None
            and low is not None
            and high is not None
            and not (low <= value <= high)
        ):
            raise ValueError(f"{value!r} is out of range for {info.label} [{low}, {high}]")
        if isinstance(value, str) and length is not None and len(value) > length:
            raise ValueError(f"{len(value)} characters do not fit {info.label}")
        return value

    data = {"op": "fits", "type": info.label, "low": low, "high": high, "length": length}
    return {k: v for k, v in data.items() if v is not None}, fits


_KINDS: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),
    (sa.Numeric, "decimal"),
    (sa.DateTime, "timestamp"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.LargeBinary, "binary"),
    (sa.Uuid, "uuid"),
    (sa.String, "string"),
)


def _kind_after(step: Transform, before: str | None) -> str | None:
    """The kind of the values a step gives (its output type's, else the kind it was handed)."""
    out = step.output_type()
    if out is None:
        return before
    return next((kind for cls, kind in _KINDS if isinstance(out, cls)), None)


def _not_moved(table: TablePlan) -> list[ColumnRollback]:
    """Source columns the target does not get: their originals must be kept aside."""
    used = {c.source for c in table.columns} | {
        n for c in table.columns for t in c.transforms for n in t.columns
    }
    out = []
    for name in (c.name for c in table.source_table.columns):
        if name in used:
            continue
        why = (
            f"dropped ({table.dropped[name]})"
            if table.dropped.get(name)
            else "dropped"
            if name in table.dropped
            else "not mapped"
        )
        column = table.source_table.c[name]
        bare = not column.nullable and column.server_default is None and not _generated(column)
        out.append(
            ColumnRollback(
                table.name,
                name,
                RollbackClass.one_way if bare else RollbackClass.kept_original,
                f"{why}: not in the target; NOT NULL without a default, so a row the new side "
                "inserts has no value for it (give the source column a default)"
                if bare
                else f"{why}: not in the target; the source keeps it, a row the new side "
                "inserts gets its default",
                (name,),
                moved=False,
            )
        )
    return out


def _generated(column: sa.Column[Any]) -> bool:
    """The database fills it on insert (an identity, a computed column, an autoincrement)."""
    return (
        column.identity is not None
        or column.computed is not None
        or (column.autoincrement is True and column.primary_key)
    )
