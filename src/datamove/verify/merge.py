"""The fallback comparison: both sides streamed in key order and merged in Python.

Used for columns the source database cannot compute (a ``python:`` transform: the source rows
go through the same conversion as the copy) or that have no common canonical SQL (JSON
across engines). Memory stays bounded by the stream batch, whatever the table size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canonical
from datamove.core.keys import CanonKey, KeyRange
from datamove.dialects.base import Dialect, Row
from datamove.errors import RowError
from datamove.plan.compiled import CompiledTable
from datamove.verify.mapped import Compared, MappedTable
from datamove.verify.result import ChangedRow, TableDiff, shown

BATCH = 5000
Keyed = tuple[tuple[Any, ...], CanonKey, Sequence[str | None], tuple[Any, ...]]
"""(sort key, canonical key, canonical values, raw key) of one row."""


def merge_diff(
    mapped: MappedTable,
    source: tuple[Dialect, Connection],
    target: tuple[Dialect, Connection],
    diff: TableDiff,
    max_diff_rows: int,
    show_values: bool,
    with_keys: bool,
    lookups: Connection,
) -> None:
    """Compare ``mapped.in_python`` columns row by row; with ``with_keys`` also report
    missing and extra rows (when no checksum pass did). ``lookups`` is a second target
    connection: lookups cannot share one with a streaming read."""
    columns = mapped.in_python
    canons = [k.canon for k in mapped.keys]
    s_rows = _source_rows(mapped, source, lookups, columns, canons)
    t_rows = _target_rows(mapped, target, columns, canons)
    changed = {row.key: row for row in diff.changed}
    s_count = t_count = 0
    s_next, t_next = next(s_rows, None), next(t_rows, None)
    while s_next is not None or t_next is not None:
        if t_next is None or (s_next is not None and s_next[0] < t_next[0]):
            assert s_next is not None
            s_count += 1
            if with_keys:
                _note(diff, max_diff_rows, diff.missing, s_next)
            s_next = next(s_rows, None)
            continue
        if s_next is None or t_next[0] < s_next[0]:
            t_count += 1
            if with_keys:
                _note(diff, max_diff_rows, diff.extra, t_next)
            t_next = next(t_rows, None)
            continue
        s_count, t_count = s_count + 1, t_count + 1
        differing = {
            col.name: (shown(a, col.pii, show_values), shown(b, col.pii, show_values))
            for col, a, b in zip(columns, s_next[2], t_next[2], strict=True)
            if a != b
        }
        if differing:
            row = changed.get(s_next[1])
            if row is not None:
                row.columns.update(differing)
            elif diff.differences < max_diff_rows:
                changed[s_next[1]] = ChangedRow(s_next[1], differing)
                diff.changed.append(changed[s_next[1]])
                diff.raw_keys[s_next[1]] = s_next[3]
            else:
                past_limit(diff)
        s_next, t_next = next(s_rows, None), next(t_rows, None)
    if with_keys:
        diff.source_rows, diff.target_rows = s_count, t_count


def convert_or_skip(compiled: CompiledTable, batch: Sequence[Row], tgt: Connection) -> list[Row]:
    """The batch as the copy converts it (second-pass columns as that pass leaves them),
    without the rows the copy rejects (they are not in the target by design, and recorded
    as rejects)."""
    try:
        return compiled.convert(batch, tgt, final=True)
    except RowError:
        out: list[Row] = []
        for row in batch:
            try:
                out.extend(compiled.convert([row], tgt, final=True))
            except RowError:
                continue
        return out


def _note(diff: TableDiff, limit: int, found: list[CanonKey], row: Keyed) -> None:
    if diff.differences < limit:
        found.append(row[1])
        diff.raw_keys[row[1]] = row[3]
    else:
        past_limit(diff)


def past_limit(diff: TableDiff) -> None:
    """Counted, not kept: the whole key space is then unresolved (for ``repair``)."""
    diff.not_fetched += 1
    if not diff.unresolved:
        diff.unresolved.append(KeyRange())


def sort_key(canons: Sequence[Canon], key: CanonKey) -> tuple[Any, ...]:
    """Python's order of canonical keys as the databases order the keys."""
    if len(key) == 1 and canons[0].kind == "integer" and key[0] is not None:
        try:
            return (int(key[0]),)  # orders as Decimal would, in a third of the time
        except ValueError:
            pass
    return tuple(
        Decimal(v) if c.kind in {"integer", "decimal"} and v is not None else (v or "")
        for c, v in zip(canons, key, strict=True)
    )


def _source_rows(
    mapped: MappedTable,
    source: tuple[Dialect, Connection],
    tgt: Connection,
    columns: Sequence[Compared],
    canons: Sequence[Canon],
) -> Iterator[Keyed]:
    dialect, conn = source
    compiled = mapped.compiled
    stmt = compiled.select(final=True).order_by(*compiled.source_key)
    positions = [compiled.columns.index(c.name) for c in columns]
    for batch in dialect.stream(conn, stmt, BATCH):
        for row in convert_or_skip(compiled, batch, tgt):
            raw = compiled.key_of(row)
            key = tuple(canonical(v, c) for v, c in zip(raw, canons, strict=True))
            values = [canonical(row[p], c.canon) for p, c in zip(positions, columns, strict=True)]
            yield sort_key(canons, key), key, values, raw


def _target_rows(
    mapped: MappedTable,
    target: tuple[Dialect, Connection],
    columns: Sequence[Compared],
    canons: Sequence[Canon],
) -> Iterator[Keyed]:
    dialect, conn = target
    table = mapped.plan.target_table
    n = len(mapped.keys)
    stmt = (
        sa.select(*[k.target for k in mapped.keys], *[table.c[c.name] for c in columns])
        .select_from(table)
        .where(mapped.plan.target_filter)
        .order_by(*[k.target_sortable for k in mapped.keys])
    )
    for batch in dialect.stream(conn, stmt, BATCH):
        for row in batch:
            key = tuple(canonical(v, c) for v, c in zip(row[:n], canons, strict=True))
            values = [canonical(v, c.canon) for v, c in zip(row[n:], columns, strict=True)]
            yield sort_key(canons, key), key, values, tuple(row[:n])
