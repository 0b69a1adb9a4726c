"""The sample check: random source rows, fetched from both sides, compared field by field.

Rows are drawn with a per-row random filter inside the source (a scan that stops after enough
rows, never a sort of the whole table by a random value), then both sides' values go through
the same conversion as the copy, so a Python transform is checked too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import canonical
from datamove.core.evidence import Check
from datamove.core.keys import any_key
from datamove.dialects.base import Dialect
from datamove.verify.checks import EXAMPLES, SideFailed, timed
from datamove.verify.mapped import MappedTable
from datamove.verify.merge import convert_or_skip
from datamove.verify.result import shown


def sample_check(
    mapped: MappedTable,
    rows: int,
    source: tuple[Dialect, Connection],
    target: tuple[Dialect, Connection],
    show_values: bool,
) -> Check:
    name = f"{mapped.name}: sample"

    def body() -> Check:
        keys = _draw(mapped, rows, *source)
        s_rows = source_values(mapped, keys, source, target[1])
        t_rows = target_values(mapped, keys, target)
        differences: list[dict[str, Any]] = []
        for key, s in s_rows.items():
            t = t_rows.get(key)
            if t is None:
                differences.append({"key": list(key), "missing": True})
                continue
            cols = {
                c.name: [shown(a, c.pii, show_values), shown(b, c.pii, show_values)]
                for c, a, b in zip(mapped.columns, s, t, strict=True)
                if a != b
            }
            if cols:
                differences.append({"key": list(key), "columns": cols})
        status = "failed" if differences else "passed"
        return Check(
            name,
            "sample",
            mapped.name,
            status,
            f"{len(s_rows)} rows equal",
            f"{len(s_rows) - len(differences)} rows equal",
            {"sampled": len(s_rows), "differences": differences[:EXAMPLES]},
        )

    return timed(name, "sample", mapped.name, body)


def _draw(
    mapped: MappedTable, rows: int, dialect: Dialect, conn: Connection
) -> list[tuple[Any, ...]]:
    table = mapped.plan.source_table
    keys = [k.source for k in mapped.keys]
    try:
        total = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(mapped.source_filter)
            ).scalar_one()
        )
        fraction = min(1.0, 3.0 * rows / total) if total else 1.0
        stmt = (
            sa.select(*keys)
            .select_from(table)
            .where(mapped.source_filter, dialect.canonical.random() < fraction)
            .limit(rows)
        )
        return [tuple(r) for r in conn.execute(stmt)]
    except sa.exc.DBAPIError as exc:
        raise SideFailed("source", exc) from None


def source_values(
    mapped: MappedTable,
    keys: list[tuple[Any, ...]],
    source: tuple[Dialect, Connection],
    tgt: Connection,
) -> dict[tuple[str | None, ...], list[str | None]]:
    dialect, conn = source
    compiled = mapped.compiled
    keyed = any_key([k.source for k in mapped.keys], keys)
    stmt = compiled.select(final=True).where(mapped.source_filter, keyed)
    positions = [compiled.columns.index(c.name) for c in mapped.columns]
    out = {}
    for batch in dialect.stream(conn, stmt, 1000):
        for row in convert_or_skip(compiled, batch, tgt):
            raw = compiled.key_of(row)
            key = tuple(canonical(v, k.canon) for v, k in zip(raw, mapped.keys, strict=True))
            out[key] = [
                canonical(row[p], c.canon) for p, c in zip(positions, mapped.columns, strict=True)
            ]
    return out


def target_values(
    mapped: MappedTable, keys: list[tuple[Any, ...]], target: tuple[Dialect, Connection]
) -> dict[tuple[str | None, ...], list[str | None]]:
    dialect, conn = target
    table = mapped.plan.target_table
    n = len(mapped.keys)
    cols = [k.target for k in mapped.keys]
    stmt = sa.select(*cols, *[table.c[c.name] for c in mapped.columns]).where(any_key(cols, keys))
    out = {}
    for batch in dialect.stream(conn, stmt, 1000):
        for row in batch:
            key = tuple(canonical(v, k.canon) for v, k in zip(row[:n], mapped.keys, strict=True))
            out[key] = [canonical(v, c.canon) for v, c in zip(row[n:], mapped.columns, strict=True)]
    return out
