"""Reverse capture and its replay: what the target accepted after the switch goes back to the
source through the inverse mapping (``rollback.reverse: true``).

Capture: the runbook's ``reverse-capture`` step (before ``flip``, so before target writes
open) puts capture triggers (``REVERSE_PREFIX``, engine-neutral ``CaptureSQL``) on every
target table in scope, appending the changed target keys to ``REVERSE_CHANGELOG`` on the
target. The step starts it afresh: changes of an earlier switch are not replayed again.

Replay (``datamove rollback``, under the target's fence): every key the changelog holds is
re-read from the target — present, the row is mapped back column by column (each column's
``ColumnRollback.undo``; a frozen column is not written, the source keeps its value) and
upserted into the source; gone, the source row is deleted. The latest state wins, so a replay
stopped at any instant and run again writes the same rows (an increment is never applied
twice). The source connection carries the fence's bypass marker: the source's fence lets it
through and its capture triggers do not record it (no loop).

Kept originals need no side table: under both fences the source holds exactly the values it
had at the switch. A kept-original column (rounding, trim, ``'' → NULL``) of a row the source
has keeps the source's value when the target's still equals the mapping of it (the original is
never written, only compared: no cost on the copy path); a value the application changed, or a
row it inserted, goes back through the chain's best inverse (``ColumnRollback.undo``). A
source column the mapping drops is not written: a source row keeps its own, an inserted row
gets the column's default (the plan makes a NOT NULL one without a default one-way).

A remapped key goes back through its legacy column and a lookup through its parent's
(``cutover.remapback``: rows the application inserted get a source key written into the target
first, so a replay run again never inserts twice).

Not built (refused, naming the table and column): a key column that is not an integer, text, a
date, a timestamp or a UUID (a decimal, a float: a JSON number does not come back exactly), a
kept-original column without a best inverse (a lossy cast, ``concat``, ``json_path``,
a ``map`` with ``else``) or computed from several source columns, a row the application
inserted into a remapped table whose source key is not an integer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from datamove.core.keys import any_key
from datamove.cutover.remapback import (
    Translations,
    allocate,
    captured_key,
    legacy_column,
    row_key,
)
from datamove.dialects.base import Dialect
from datamove.dialects.capturesql import REVERSE_PREFIX
from datamove.errors import RowError, RuntimeFailure, SpecError
from datamove.plan.inverse import ColumnRollback, Undo
from datamove.plan.model import LookupPlan, Plan, TablePlan
from datamove.sync.changelog import REVERSE_CHANGELOG, Changelog
from datamove.transforms.inversion import RollbackClass

READ_BATCH = 500
"""Keys re-read from the target (and written to the source) per statement."""


def install_reverse_capture(plan: Plan, target: Dialect) -> int:
    """Create (afresh) the target's reverse changelog and capture triggers on every target
    table in scope; returns the number of tables captured."""
    changelog = Changelog(target, REVERSE_CHANGELOG)
    tables = [plan.tables[n] for n in plan.order]
    with target.connect() as conn, conn.begin():
        _drop(conn, plan, target)
        changelog.metadata.create_all(conn)
        for table in tables:
            name, key = table.target_table.name, captured_key(table)
            for stmt in target.capture.create_ddl(name, key, REVERSE_CHANGELOG, REVERSE_PREFIX):
                conn.exec_driver_sql(stmt)
    return len(tables)


def remove_reverse_capture(plan: Plan, target: Dialect) -> None:
    """Drop the target's reverse capture triggers and changelog (after a rehearsal: the
    real cutover's ``reverse-capture`` step makes them afresh)."""
    with target.connect() as conn, conn.begin():
        _drop(conn, plan, target)


def _drop(conn: sa.Connection, plan: Plan, target: Dialect) -> None:
    for name in plan.order:
        for stmt in target.capture.drop_ddl(plan.tables[name].target_table.name, REVERSE_PREFIX):
            conn.exec_driver_sql(stmt)
    Changelog(target, REVERSE_CHANGELOG).table.drop(conn, checkfirst=True)


@dataclass(frozen=True)
class _Back:
    """One target column written back: into ``source`` through ``undo``."""

    target: str
    source: str
    undo: Undo
    forward: Undo | None = None
    """A kept original: the mapping of the source's value, to tell an untouched one."""
    lookup: LookupPlan | None = None
    """A lookup column: back through the parent's legacy column first."""


@dataclass(frozen=True)
class TableBack:
    """How one table's target rows go back to source rows."""

    table: TablePlan
    key: tuple[_Back, ...]
    """The target key's columns, in the source key's order."""
    columns: tuple[_Back, ...]
    """Every column written back (the key's included), in source order."""
    legacy: str | None = None
    """A remapped table's legacy column: the source key (``key`` reads it)."""

    def source_key(self, row: dict[str, Any], place: str) -> tuple[Any, ...]:
        """The source key of a target row (or of its key's columns: a dict of them)."""
        return tuple(_undone(b, row[b.target], place) for b in self.key)

    @property
    def kept(self) -> tuple[_Back, ...]:
        """The kept-original columns: their source values are read before the upsert."""
        return tuple(b for b in self.columns if b.forward is not None)

    def source_row(
        self, row: dict[str, Any], place: str, original: dict[str, Any] | None = None
    ) -> tuple[Any, ...]:
        """``row`` mapped back; ``original``: the source row of its key, if there is one."""
        return tuple(_undone(b, row[b.target], place, original) for b in self.columns)


def _undone(back: _Back, value: Any, place: str, original: dict[str, Any] | None = None) -> Any:
    if back.forward is not None and original is not None:
        kept = original[back.source]
        try:
            if back.forward(kept) == value:
                return kept  # the target left it alone: the original, byte for byte
        except (ValueError, TypeError, ArithmeticError, RowError):
            pass  # an original the mapping rejects now: the target's value decides
    try:
        return back.undo(value)
    except ValueError as exc:
        raise RowError(back.target, f"{place}: cannot go back into the source: {exc}") from None


def table_back(table: TablePlan) -> TableBack:
    """The way back of ``table``, or a ``SpecError`` naming what the replay cannot invert."""
    path = f"tables.{table.name}"
    odd = [k for k in row_key(table) if _python_type(table.target_table.c[k].type) is None]
    if odd:
        raise SpecError(
            f"rollback: table {table.name} has a key column that is not an integer, text, a "
            f"date, a timestamp or a UUID ({', '.join(odd)}); replaying such keys is not built "
            "yet",
            spec_path=f"{path}.key",
            hint="roll this table back by hand",
        )
    assert table.rollback is not None, "the plan classifies every column"
    backs: list[_Back] = []
    for col in table.rollback.columns:
        if col.frozen:
            continue
        backs += _column_back(table, col, path)
    by_source = {b.source: b for b in backs}
    missing = [k for k in table.key if k not in by_source]
    if missing:
        raise SpecError(
            f"rollback: key column(s) {', '.join(missing)} of {table.name} are not written "
            "back (frozen, or not mapped one to one)",
            spec_path=f"{path}.columns",
            hint="the key must go back: do not freeze it",
        )
    order = [c.name for c in table.source_table.columns if c.name in by_source]
    return TableBack(
        table,
        tuple(by_source[k] for k in table.key),
        tuple(by_source[n] for n in order),
        legacy_column(table),
    )


def _column_back(table: TablePlan, col: ColumnRollback, path: str) -> list[_Back]:
    where = f"{path}.columns.{col.column}"
    kept = col.kind is RollbackClass.kept_original
    if kept and not col.moved:
        return []  # dropped: the source row keeps its own, an inserted one gets the default
    if not kept and col.kind is not RollbackClass.invertible or kept and col.undo is None:
        raise SpecError(
            f"rollback: {col.place} cannot go back: {col.reason}"
            + (" (and a changed value has no best inverse)" if kept else ""),
            spec_path=where,
            hint="give it `rollback: freeze` (the source keeps its value) or declare "
            "`rollback: {inverse: [...]}`",
        )
    if kept and (col.forward is None or len(col.sources) != 1):
        raise SpecError(
            f"rollback: {col.place} cannot go back: {col.reason}; it is computed from "
            f"{', '.join(col.sources) or 'SQL'}, so the source's original cannot be compared",
            spec_path=where,
            hint="give it `rollback: freeze`, or roll this table back by hand",
        )
    if not col.sources or (col.inverse and col.inverse[0].get("op") == "legacy_key"):
        return []  # made by the mapping (no source column, a key the target made): not written
    lookup = next((c.lookup for c in table.columns if c.target == col.column), None)
    if lookup is not None and col.kind is RollbackClass.invertible:
        return [_Back(col.column, col.sources[0], _same, lookup=lookup)]
    if col.undo is None or len(col.sources) != 1:
        raise SpecError(
            f"rollback: replaying {col.place} back ({col.reason}) is not built yet",
            spec_path=where,
            hint="give it `rollback: freeze`, or roll this table back by hand",
        )
    return [_Back(col.column, col.sources[0], col.undo, col.forward if kept else None)]


def _same(value: Any) -> Any:
    return value


@dataclass
class ReplayResult:
    changes: int = 0
    upserted: int = 0
    deleted: int = 0
    keyed: int = 0
    """Rows the application inserted into a remapped table, given a source key."""

    def text(self) -> str:
        keyed = f" ({self.keyed} new row(s) given a source key)" if self.keyed else ""
        return (
            f"{self.changes} captured change(s) replayed: {self.upserted} row(s) upserted"
            f"{keyed}, {self.deleted} deleted in the source"
        )


class Replay:
    """Replays the target's captured changes into the source (see the module docstring)."""

    def __init__(self, plan: Plan, source: Dialect, target: Dialect) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.changelog = Changelog(target, REVERSE_CHANGELOG)

    def ways_back(self) -> dict[str, TableBack]:
        """Each table's way back; refuses, before anything is changed, what is not built."""
        return {name: table_back(self.plan.tables[name]) for name in self.plan.order}

    def run(self) -> ReplayResult:
        """Every captured key brought to the target's current state in the source, in one
        source transaction (deletes children first, then upserts parents first). A value
        that cannot go back stops it, naming the column (nothing of it committed)."""
        try:
            return self._run()
        except RowError as exc:
            raise RuntimeFailure(
                f"rollback: {exc.reason}",
                column=exc.column,
                hint="give the column `rollback: freeze` or declare `rollback: {inverse: "
                "[...]}`, then run `datamove rollback SPEC` again",
            ) from None

    def _run(self) -> ReplayResult:
        backs = self.ways_back()
        with self.target.connect() as tgt:
            if not self.changelog.exists(tgt):
                raise SpecError(
                    "rollback: no reverse capture on the target (the cutover's reverse-capture "
                    "step did not run)",
                    spec_path="cutover.rollback.reverse",
                    hint="set `reverse: true` before the cutover; a switch without it is "
                    "rolled back by hand",
                )
            changes = self.changelog.read(tgt, 0, 2**62)
            names = {self.plan.tables[n].target_table.name: n for n in self.plan.order}
            keys: dict[str, dict[str, tuple[Any, ...]]] = {}
            seen: dict[str, dict[str, Any]] = {}
            """A remapped table's legacy value captured with each target key."""
            for change in changes:
                name = names[change.table]
                width = len(row_key(self.plan.tables[name]))
                key = tuple(change.key[:width])
                keys.setdefault(name, {})[repr(key)] = key
                if len(change.key) > width and change.key[width] is not None:
                    seen.setdefault(name, {})[repr(key)] = change.key[width]
            rows = {
                name: self._current(tgt, backs[name].table, list(keys[name].values()))
                for name in self.plan.order
                if name in keys
            }
        result = ReplayResult(len(changes))
        for name, (present, _) in rows.items():  # parents first: their children look them up
            result.keyed += allocate(self.source, self.target, backs[name].table, present)
        translations = self._translations(backs, rows)
        with self.source.connect() as conn, self.source.fence.bypass(conn), conn.begin():
            for name in reversed(list(rows)):
                back, (_, gone) = backs[name], rows[name]
                result.deleted += self._delete(conn, back, _gone(back, gone, seen.get(name, {})))
            for name, (present, _) in rows.items():
                back = backs[name]
                result.upserted += self._upsert(conn, back, present, translations)
                if back.legacy is not None:  # past the keys given to the new rows
                    self.source.schema.set_generator(
                        conn, back.table.source_table, back.key[0].source
                    )
        return result

    def _translations(
        self, backs: dict[str, TableBack], rows: dict[str, tuple[list[dict[str, Any]], Any]]
    ) -> Translations:
        """The lookup columns' parent keys → legacy values, read once every new parent row
        has its legacy value."""
        out = Translations()
        wanted = [
            (b.lookup, [r[b.target] for r in present])
            for name, (present, _) in rows.items()
            for b in backs[name].columns
            if b.lookup is not None
        ]
        if wanted:
            with self.target.connect() as tgt:
                for lookup, values in wanted:
                    assert lookup is not None
                    out.load(tgt, lookup, values)
        return out

    def _current(
        self, tgt: sa.Connection, table: TablePlan, keys: list[tuple[Any, ...]]
    ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
        """The target rows of ``keys`` as they are now, and the keys whose row is gone."""
        t, names = table.target_table, row_key(table)
        cols = [t.c[k] for k in names]
        typed = [_typed(t, names, k) for k in keys]
        present: list[dict[str, Any]] = []
        for start in range(0, len(typed), READ_BATCH):
            stmt = sa.select(t).where(any_key(cols, typed[start : start + READ_BATCH]))
            present += [dict(r._mapping) for r in tgt.execute(stmt)]
        found = {tuple(r[k] for k in names) for r in present}
        gone = [k for k, key in zip(keys, typed, strict=True) if key not in found]
        return present, gone

    def _delete(
        self, conn: sa.Connection, back: TableBack, source_keys: list[tuple[Any, ...]]
    ) -> int:
        table = back.table
        cols = [table.source_table.c[k] for k in table.key]
        deleted = 0
        for start in range(0, len(source_keys), READ_BATCH):
            part = source_keys[start : start + READ_BATCH]
            stmt = table.source_table.delete().where(any_key(cols, part))
            deleted += int(conn.execute(stmt).rowcount or 0)
        return deleted

    def _upsert(
        self,
        conn: sa.Connection,
        back: TableBack,
        rows: list[dict[str, Any]],
        translations: Translations,
    ) -> int:
        table = back.table
        place = f"table {table.name}"
        columns = [b.source for b in back.columns]
        adapters = [self.source.adapter(table.source_table.c[c].type) for c in columns]
        looked = [b for b in back.columns if b.lookup is not None]
        for start in range(0, len(rows), READ_BATCH):
            part = rows[start : start + READ_BATCH]
            if looked:  # a parent's new key → its source key
                part = [r | translations.row(looked, r, place) for r in part]
            originals = _originals(conn, back, part, place)
            present: list[tuple[Any, ...]] = []
            new: list[tuple[Any, ...]] = []
            for row in part:
                key = back.source_key(row, place)
                values = back.source_row(row, place, originals.get(key))
                bound = tuple(
                    v if a is None else a(v) for a, v in zip(adapters, values, strict=True)
                )
                (present if key in originals else new).append(bound)
            _update(conn, table.source_table, columns, table.key, present)
            self.source.upsert(conn, table.source_table, columns, table.key, new)
        return len(rows)


def _gone(
    back: TableBack, gone: list[tuple[Any, ...]], seen: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The source keys of target rows that are gone: their target key mapped back, or for a
    remapped table the legacy value captured with it (none: inserted after the switch and
    deleted again, never in the source)."""
    table, place = back.table, f"table {back.table.name}"
    if back.legacy is None:
        target = table.target_table
        names = table.target_key
        return [
            back.source_key(dict(zip(names, _typed(target, names, k), strict=True)), place)
            for k in gone
        ]
    legacy = back.legacy
    return [back.source_key({legacy: seen[repr(k)]}, place) for k in gone if repr(k) in seen]


def _originals(
    conn: sa.Connection, back: TableBack, rows: list[dict[str, Any]], place: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The source's kept-original columns of ``rows``' keys, as they were at the switch (the
    source is fenced): source key → values, one entry for every key the source has."""
    if not rows:
        return {}
    table = back.table
    src = table.source_table
    keys = [back.source_key(r, place) for r in rows]
    cols = [src.c[k] for k in table.key]
    stmt = sa.select(*cols, *(src.c[b.source] for b in back.kept)).where(any_key(cols, keys))
    out = {}
    for found in conn.execute(stmt):
        values = dict(found._mapping)
        out[tuple(values[k] for k in table.key)] = values
    return out


def _update(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Write ``rows`` over the source rows of their keys: an UPDATE, not an upsert, so the
    columns the replay does not write (frozen, dropped) are never part of the statement (an
    ``INSERT … ON CONFLICT`` without a NOT NULL column is refused before the conflict is seen).
    Values are bound as ``Dialect.upsert`` binds them (adapted, no SQLAlchemy processing)."""
    others = [c for c in columns if c not in key]
    if not rows or not others:
        return
    t = sa.table(table.name, *[sa.column(c) for c in columns], schema=table.schema)
    stmt = (
        sa.update(t)
        .where(*[t.c[k] == sa.bindparam(f"k{n}") for n, k in enumerate(key)])
        .values({c: sa.bindparam(f"v{n}") for n, c in enumerate(others)})
    )
    params = []
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        bound = {f"k{n}": values[k] for n, k in enumerate(key)}
        params.append(bound | {f"v{n}": values[c] for n, c in enumerate(others)})
    conn.execute(stmt, params)


_FROM_JSON: dict[type, Callable[[Any], Any]] = {
    int: int,
    str: str,
    dt.date: dt.date.fromisoformat,
    dt.datetime: dt.datetime.fromisoformat,
    uuid.UUID: uuid.UUID,
}
"""Key types a changelog key (JSON) is turned back into exactly. Not a decimal or float: JSON
numbers are parsed as binary floats, which would not find the row."""


def _typed(table: sa.Table, key: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
    """A changelog key (JSON values) as the target's driver returns it (``_FROM_JSON``;
    ``table_back`` refuses other key types)."""
    out = []
    for name, value in zip(key, values, strict=True):
        python = _python_type(table.c[name].type)
        out.append(python(value) if python is not None and value is not None else value)
    return tuple(out)


def _python_type(type_: sa.types.TypeEngine[Any]) -> Any:
    try:
        python = type_.python_type
    except NotImplementedError:
        return None
    return _FROM_JSON.get(python)
