"""A row's lineage for support: "what happened to row K?".

The source row now and each target column computed from it step by step (the value read, then
after each transform), the target row now, the mapping hash the table was copied with, the
chunk and run that copied it, the changelog entries for its key (applied or pending), its
rejects and the latest check verdict on its table. The key is the source key or, for a
remapped table, the target key too (found through the legacy column). A key found nowhere says
so, and whether the spec's ``where`` filters it out or a reject holds it. Personal data
(``pii`` columns) is masked unless asked for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.keys import KeyValue, encode_key
from datamove.errors import RowError, UsageError
from datamove.plan.compiled import CompiledTable
from datamove.plan.model import ColumnPlan
from datamove.redact import mask_value
from datamove.state.store import StateStore
from datamove.sync.changelog import Changelog
from datamove.sync.state import SyncState

CHANGES_SHOWN = 1000
"""At most this many changelog entries of one key are read (a hot row's history)."""


@dataclass(frozen=True)
class ColumnTrace:
    """One target column: where it came from and its value after each step."""

    column: str
    source: str | None
    steps: list[tuple[str, str]]
    """(step, value after it), from the value read to the value written."""
    target: str
    """The target row's value now."""


@dataclass
class Trace:
    """Everything known about one key of one table (see the module docstring)."""

    table: str
    key: str
    source_key: list[str] | None = None
    target_key: list[str] | None = None
    found: str = ""
    """``both``, ``source only``, ``target only`` or ``nowhere``."""
    filtered_out: bool = False
    """The source row exists but the spec's ``where`` leaves it out."""
    mapping_hash: str | None = None
    recorded_mapping_hash: str | None = None
    columns: list[ColumnTrace] = field(default_factory=list)
    chunk: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    check: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_key(table: CompiledTable, text: str) -> KeyValue:
    """``text`` as the table's source key: comma-separated for a composite key, each part in
    its column's Python type (an integer key as an int)."""
    parts = [p.strip() for p in text.split(",")] if len(table.plan.key) > 1 else [text]
    if len(parts) != len(table.plan.key):
        raise UsageError(
            f"'{table.plan.name}' has a key of {len(table.plan.key)} column(s) "
            f"({', '.join(table.plan.key)}); got {len(parts)} value(s)",
            hint="give the key values separated by commas, in that order",
        )
    out: list[Any] = []
    for name, part in zip(table.plan.key, parts, strict=True):
        col = table.plan.source_table.c[name]
        try:
            kind = col.type.python_type
        except NotImplementedError:
            kind = str
        try:
            out.append(kind(part) if kind in (int, float) else part)
        except ValueError:
            raise UsageError(
                f"key column '{name}' of '{table.plan.name}' holds numbers, not {part!r}",
                hint="give the key as its column stores it",
            ) from None
    return tuple(out)


class Tracer:
    """Traces keys of one compiled table (``src``, ``tgt``: open connections)."""

    def __init__(
        self,
        table: CompiledTable,
        state: StateStore,
        src: Connection,
        tgt: Connection,
        show_values: bool,
    ) -> None:
        self.t = table
        self.state = state
        self.src = src
        self.tgt = tgt
        self.show = show_values

    def trace(self, text: str) -> Trace:
        plan = self.t.plan
        out = Trace(plan.name, text, mapping_hash=plan.mapping_hash)
        out.recorded_mapping_hash = self.state.table_hash(self.tgt, plan.name)
        key = parse_key(self.t, text)
        source = self._source_row(key)
        target = self._target_row(key)
        if source is None and target is None and self._legacy is not None:
            target = self._target_by_target_key(text)  # a remapped table's new key
            if target is not None:
                key = (target[self._legacy],)
                source = self._source_row(key)
        out.source_key = [str(v) for v in key]
        if target is not None:
            out.target_key = [str(target[k]) for k in plan.target_key]
        out.filtered_out = source is None and plan.where is not None and self._unfiltered(key)
        out.found = {
            (True, True): "both",
            (True, False): "source only",
            (False, True): "target only",
            (False, False): "nowhere",
        }[(source is not None, target is not None)]
        if source is not None:
            out.columns = self._columns(key, source, target)
        out.chunk = self._chunk(key)
        out.changes = self._changes(key)
        out.rejects = self._rejects(key)
        out.check = self._check()
        out.notes = self._notes(out)
        return out

    # -- the rows ----------------------------------------------------------------------------

    @property
    def _legacy(self) -> str | None:
        found = [c.target for c in self.t.plan.columns if c.legacy]
        return found[0] if found else None

    def _key_filter(self, columns: list[sa.ColumnElement[Any]], key: KeyValue) -> Any:
        return sa.and_(
            *(c == sa.bindparam(None, v, type_=c.type) for c, v in zip(columns, key, strict=True))
        )

    def _source_row(self, key: KeyValue) -> sa.Row[Any] | None:
        src = self.t.plan.source_table
        stmt = self.t.select(pushdown=False).where(
            self._key_filter([src.c[k] for k in self.t.plan.key], key)
        )
        return self.src.execute(stmt).first()

    def _unfiltered(self, key: KeyValue) -> bool:
        """Whether the source holds ``key`` when the spec's ``where`` is left out."""
        src = self.t.plan.source_table
        stmt = (
            sa.select(sa.literal(1))
            .select_from(src)
            .where(self._key_filter([src.c[k] for k in self.t.plan.key], key))
        )
        return self.src.execute(stmt).first() is not None

    def _target_row(self, key: KeyValue) -> dict[str, Any] | None:
        tgt = self.t.plan.target_table
        names = [self._legacy] if self._legacy else self.t.plan.target_key
        row = self.tgt.execute(
            sa.select(tgt).where(self._key_filter([tgt.c[n] for n in names], key))
        ).first()
        return dict(row._mapping) if row is not None else None

    def _target_by_target_key(self, text: str) -> dict[str, Any] | None:
        tgt = self.t.plan.target_table
        (name,) = self.t.plan.target_key
        try:
            value: Any = int(text) if tgt.c[name].type.python_type is int else text
        except (ValueError, NotImplementedError):
            return None
        row = self.tgt.execute(
            sa.select(tgt).where(self._key_filter([tgt.c[name]], (value,)))
        ).first()
        return dict(row._mapping) if row is not None else None

    def _columns(
        self, key: KeyValue, source: sa.Row[Any], target: dict[str, Any] | None
    ) -> list[ColumnTrace]:
        lookups = self.t.lookups(self.tgt, [list(source)], final=True)
        out = []
        for i, col in enumerate(self.t.written):
            steps = self._steps(i, col, source[i], lookups, key)
            now = target.get(col.target) if target is not None else None
            shown = self._show(col, now) if target is not None else "(no target row)"
            out.append(ColumnTrace(col.target, col.source, steps, shown))
        return out

    def _steps(
        self, i: int, col: ColumnPlan, raw: Any, lookups: dict[int, Any], key: KeyValue
    ) -> list[tuple[str, str]]:
        """The value read, then after each step the copy applies (as ``convert_one`` does)."""
        steps = [(f"read {col.source}" if col.source else "no source column", self._show(col, raw))]
        value = raw
        try:
            if self.t.readers[i] is not None:
                value = self.t.readers[i](value)  # type: ignore[misc]
            if i in lookups:
                value = lookups[i](value)
                steps.append(
                    (f"lookup {col.lookup.parent if col.lookup else ''}", self._show(col, value))
                )
            if col.sql_only and col.pushdown:
                src = self.t.plan.source_table
                where = self._key_filter([src.c[k] for k in self.t.plan.key], key)
                stmt = sa.select(self.t.mapped(col)).select_from(src).where(where)
                computed = self.src.execute(stmt).scalar()
                return [*steps, ("computed by the source (SQL)", self._show(col, computed))]
            for t in col.transforms:
                value = t.apply(value)
                steps.append((t.describe(), self._show(col, value)))
            adapt = self.t.adapters[i]
            if adapt is not None:
                adapted = adapt(value)
                if adapted != value:
                    steps.append(("the target's form", self._show(col, adapted)))
        except RowError as err:
            steps.append(("rejected", err.reason))
        return steps

    def _show(self, col: ColumnPlan, value: Any) -> str:
        if value is None:
            return "NULL"
        return mask_value(value) if col.pii and not self.show else str(value)

    # -- the evidence --------------------------------------------------------------------------

    def _chunk(self, key: KeyValue) -> dict[str, Any] | None:
        c = self.state.checkpoints
        if not self.state.exists(self.tgt):
            return None
        for chunk in self.state.chunks(self.tgt, self.t.plan.name):
            if chunk.range.contains(key):
                row = self.tgt.execute(
                    sa.select(c.c.run_id, c.c.committed_at, c.c.commits, c.c.status).where(
                        c.c.migration == self.state.migration,
                        c.c.table_name == self.t.plan.name,
                        c.c.chunk_no == chunk.chunk_no,
                    )
                ).one()
                return {
                    "chunk_no": chunk.chunk_no,
                    "lo": encode_key(chunk.lo),
                    "hi": encode_key(chunk.hi),
                    "status": row.status,
                    "run_id": row.run_id,
                    "committed_at": row.committed_at,
                    "commits": row.commits,
                }
        return None

    def _changes(self, key: KeyValue) -> list[dict[str, Any]]:
        log = Changelog(self.t.source)
        if not log.exists(self.src):
            return []
        applied = (
            SyncState(self.state.dialect, self.state.migration).position(self.tgt).applied_seq
            if self.state.exists(self.tgt)
            else 0
        )
        c = log.table.c
        wanted = [str(v) for v in key]
        out = []
        for seq, row_key, op, at in self.src.execute(
            sa.select(c.seq, c.row_key, c.op, c.changed_at)
            .where(c.table_name == self.t.plan.source_name)
            .order_by(c.seq)
        ):
            if [str(v) for v in json.loads(row_key)] == wanted:
                out.append(
                    {"seq": int(seq), "op": op, "changed_at": at, "applied": int(seq) <= applied}
                )
                if len(out) >= CHANGES_SHOWN:
                    break
        return out

    def _rejects(self, key: KeyValue) -> list[dict[str, Any]]:
        if not self.state.exists(self.tgt):
            return []
        r = self.state.rejects
        rows = self.tgt.execute(
            sa.select(r.c.chunk_no, r.c.column_name, r.c.reason, r.c.run_id, r.c.created_at)
            .where(
                r.c.migration == self.state.migration,
                r.c.table_name == self.t.plan.name,
                r.c.key == encode_key(key),
            )
            .order_by(r.c.id)
        )
        return [dict(x._mapping) for x in rows]

    def _check(self) -> dict[str, Any] | None:
        """The latest recorded check on the table (or, with none, the latest on everything)."""
        if not self.state.exists(self.tgt):
            return None
        c = self.state.checks.t.c
        for where in (c.table_name == self.t.plan.name, c.table_name.is_(None)):
            row = self.tgt.execute(
                sa.select(c.run_id, c.name, c.kind, c.status, c.expected, c.actual, c.created_at)
                .where(c.migration == self.state.migration, where)
                .order_by(c.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                return dict(row._mapping)
        return None

    def _notes(self, out: Trace) -> list[str]:
        notes = []
        if out.found == "nowhere":
            why = []
            if out.filtered_out:
                where = self.t.plan.where
                why.append(f"the source row exists but the spec's where ({where}) filters it out")
            if out.rejects:
                why.append(f"it was rejected: {out.rejects[-1]['reason']}")
            notes.append(
                f"key {out.key} is in neither the source nor the target"
                + ("; " + "; ".join(why) if why else ": it never existed (or was deleted)")
            )
        elif out.found == "source only":
            if out.rejects:
                notes.append(f"not in the target: rejected ({out.rejects[-1]['reason']})")
            elif out.changes and not out.changes[-1]["applied"]:
                notes.append("not in the target yet: its change is pending for sync")
            else:
                notes.append("not in the target: copy or sync it (datamove run / sync)")
        elif out.found == "target only":
            notes.append(
                "in the target only: deleted in the source"
                + (
                    ", deletion pending for sync"
                    if out.changes and not out.changes[-1]["applied"]
                    else ""
                )
            )
        if out.recorded_mapping_hash and out.recorded_mapping_hash != out.mapping_hash:
            notes.append("the table was copied with another mapping than the spec's now")
        return notes
