"""The checks besides the row-level diff: counts, legacy keys, referential integrity,
aggregates, invariants and shadow queries. Each returns a ``Check``; none raises for what it
finds (a failing SQL becomes a check in ``error`` naming the check and the side)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canonical
from datamove.core.evidence import Check
from datamove.plan.model import TablePlan
from datamove.redact import redact_text
from datamove.spec.models import AggregateCheck, Invariant, ShadowQuery, Tolerance
from datamove.verify.mapped import MappedTable

EXAMPLES = 10
ORPHANS_READ = 10_000
"""Orphans read to tell those under recorded rejects from the others."""


class SideFailed(Exception):
    """A check's SQL failed on one side."""

    def __init__(self, side: str, error: BaseException) -> None:
        orig = getattr(error, "orig", error)
        message = redact_text(str(orig)).strip().splitlines()[0] if str(orig) else repr(orig)
        super().__init__(f"the {side} query failed: {message}")


def timed(name: str, kind: str, table: str | None, body: Callable[[], Check]) -> Check:
    """Run ``body``; a side failure becomes an ``error`` check instead of stopping verify."""
    started = time.monotonic()
    try:
        check = body()
    except SideFailed as exc:
        check = Check(name, kind, table, "error", details={"error": str(exc)})
    check.seconds = time.monotonic() - started
    return check


def _fetch(side: str, conn: Connection, stmt: Any) -> list[Sequence[Any]]:
    """The rows of ``stmt``; a failing SQL is the check's error (``SideFailed``), but a
    dropped connection is not the check's: it propagates, and verify retries the table."""
    try:
        return [tuple(r) for r in conn.execute(stmt)]
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        conn.rollback()
        raise SideFailed(side, exc) from None


# -- per table defaults ----------------------------------------------------------------------


def count_check(
    mapped: MappedTable,
    src: Connection,
    tgt: Connection,
    rejected: int,
    counted: tuple[int, int] | None = None,
) -> Check:
    """Source rows in scope (filter and delete rules) minus recorded rejects = target rows;
    ``rejected`` counts rows, not keys (two rejects may share one); ``counted``: both counts
    of compared rows as the checksum's scans found them (no second scan). Rows whose key is
    NULL are never compared: they are counted here, by a query of their own."""
    plan = mapped.plan

    def body() -> Check:
        source_rows = sa.select(sa.func.count()).select_from(plan.source_table)
        if counted is not None:
            s, t = counted
        else:
            s = _fetch("source", src, source_rows.where(mapped.source_filter))[0][0]
            target_rows = sa.select(sa.func.count()).select_from(plan.target_table)
            t = _fetch("target", tgt, target_rows.where(mapped.plan.target_filter))[0][0]
        null_keys = 0
        if mapped.null_keys is not None:
            null_keys = int(_fetch("source", src, source_rows.where(mapped.null_keys))[0][0])
        expected = int(s) + null_keys - rejected
        ok = int(t) == expected
        details: dict[str, Any] = {
            "source_rows": int(s) + null_keys,
            "rejected": rejected,
            "target_rows": int(t),
            "counted_by": "checksum" if counted is not None else "count",
        }
        if mapped.null_keys is not None:
            details["null_key_rows"] = null_keys
        return Check(
            f"{plan.name}: count",
            "count",
            plan.name,
            "passed" if ok else "failed",
            str(expected),
            str(int(t)),
            details,
        )

    return timed(f"{plan.name}: count", "count", plan.name, body)


def legacy_key_check(plan: TablePlan, tgt: Connection) -> Check | None:
    """Every migrated row of a remapped table carries a non-null, unique legacy key."""
    legacy = [c.target for c in plan.columns if c.legacy]
    if not legacy:
        return None
    name = f"{plan.name}: legacy key"

    def body() -> Check:
        col = plan.target_table.c[legacy[0]]
        rows, filled, distinct = _fetch(
            "target",
            tgt,
            sa.select(sa.func.count(), sa.func.count(col), sa.func.count(sa.distinct(col))),
        )[0]
        nulls, dups = int(rows) - int(filled), int(filled) - int(distinct)
        ok = nulls == 0 and dups == 0
        return Check(
            name,
            "legacy_key",
            plan.name,
            "passed" if ok else "failed",
            "0 NULL, 0 duplicate",
            f"{nulls} NULL, {dups} duplicate",
            {"column": legacy[0], "null": nulls, "duplicate": dups},
        )

    return timed(name, "legacy_key", plan.name, body)


def foreign_key_checks(
    plan: TablePlan,
    tables: dict[str, TablePlan],
    tgt: Connection,
    rejected: dict[str, set[tuple[Any, ...]]],
) -> list[Check]:
    """No orphans in the target for each foreign key of the plan, enforced or not.

    An orphan whose parent key is a recorded reject of the parent table is explained (the
    copy reported it); any other orphan fails the check.
    """
    out = []
    for fk in plan.references:
        parent = tables.get(fk.parent)
        if parent is None:
            continue
        name = f"{plan.name}: references {fk.parent} ({', '.join(fk.columns)})"
        known = {_text_key(k) for k in rejected.get(fk.parent, set())}

        def body(
            fk: Any = fk, parent: TablePlan = parent, known: set[Any] = known, name: str = name
        ) -> Check:
            # An alias, so a self-reference (employee.reports_to) is not correlated away.
            child_t, parent_t = plan.target_table, parent.target_table.alias("dm_parent")
            cols = [child_t.c[c] for c in fk.columns]
            orphan = sa.and_(
                *[c.is_not(None) for c in cols],
                ~sa.exists().where(
                    *[parent_t.c[p] == c for p, c in zip(fk.parent_columns, cols, strict=True)]
                ),
            )
            key = [child_t.c[k] for k in plan.target_key]
            count = int(_fetch("target", tgt, sa.select(sa.func.count()).where(orphan))[0][0])
            rows = _fetch("target", tgt, sa.select(*key, *cols).where(orphan).limit(ORPHANS_READ))
            unexplained = [r for r in rows if _text_key(r[len(key) :]) not in known]
            explained = len(rows) - len(unexplained) if count <= ORPHANS_READ else 0
            examples = [
                {"key": [str(v) for v in r[: len(key)]], "value": [str(v) for v in r[len(key) :]]}
                for r in (unexplained or rows)[:EXAMPLES]
            ]
            bad = count - explained
            return Check(
                name,
                "foreign_key",
                plan.name,
                "failed" if bad else "passed",
                "0 orphans",
                f"{bad} orphans" + (f" (+{explained} under rejected parents)" if explained else ""),
                {"foreign_key": str(fk), "orphans": examples, "under_rejects": explained},
            )

        out.append(timed(name, "foreign_key", plan.name, body))
    return out


def _text_key(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


# -- configured ------------------------------------------------------------------------------


def aggregate_check(
    spec: AggregateCheck,
    mapped: MappedTable,
    src: Connection,
    tgt: Connection,
) -> Check:
    """count, NULL count, sum, min, max (and distinct counts) per column, optionally grouped,
    computed through the mapping on the source and directly on the target."""
    name = f"{spec.table}: aggregates"
    plan = mapped.plan
    by_name = {c.target: c for c in plan.columns}

    def body() -> Check:
        unknown = [
            c for c in [*spec.columns, *spec.group_by, *spec.count_distinct] if c not in by_name
        ]
        if unknown:
            return Check(
                name,
                "aggregates",
                spec.table,
                "error",
                details={"error": f"unknown target column(s): {', '.join(unknown)}"},
            )
        python = [c for c in spec.columns + spec.group_by if not by_name[c].pushdown]
        if python:
            return Check(
                name,
                "aggregates",
                spec.table,
                "error",
                details={
                    "error": f"{', '.join(python)} computed in Python: aggregates need SQL "
                    "(use a sample check, or the row-level diff)"
                },
            )

        def source_expr(col: str) -> sa.ColumnElement[Any]:
            return mapped.compiled.mapped(by_name[col])

        def target_expr(col: str) -> sa.ColumnElement[Any]:
            return plan.target_table.c[col]

        results = []
        for side, conn, expr, table, where in (
            ("source", src, source_expr, plan.source_table, mapped.source_filter),
            ("target", tgt, target_expr, plan.target_table, mapped.plan.target_filter),
        ):
            groups = [expr(g).label(f"g{i}") for i, g in enumerate(spec.group_by)]
            measures = _measures(spec, expr)
            stmt = sa.select(*groups, *measures).select_from(table).where(where)
            if groups:
                stmt = stmt.group_by(*groups)
            results.append(_fetch(side, conn, stmt))
        labels = [m.name for m in _measures(spec, target_expr)]
        return _compare_sets(
            name,
            "aggregates",
            spec.table,
            results[0],
            results[1],
            len(spec.group_by),
            spec.tolerance,
            labels,
        )

    return timed(name, "aggregates", spec.table, body)


def _measures(
    spec: AggregateCheck, expr: Callable[[str], sa.ColumnElement[Any]]
) -> list[sa.Label[Any]]:
    out: list[sa.Label[Any]] = [sa.func.count().label("rows")]
    for col in spec.columns:
        e = expr(col)
        out += [
            (sa.func.count() - sa.func.count(e)).label(f"{col}.nulls"),
            sa.func.sum(e).label(f"{col}.sum"),
            sa.func.min(e).label(f"{col}.min"),
            sa.func.max(e).label(f"{col}.max"),
        ]
    out += [sa.func.count(sa.distinct(expr(c))).label(f"{c}.distinct") for c in spec.count_distinct]
    return out


def query_check(q: Invariant, kind: str, src: Connection, tgt: Connection) -> Check:
    """An invariant or shadow query: both result sets equal (numbers within tolerance)."""
    name = q.name

    def body() -> Check:
        started = time.monotonic()
        s = _fetch("source", src, sa.text(q.source))
        s_time = time.monotonic() - started
        t = _fetch("target", tgt, sa.text(q.target))
        t_time = time.monotonic() - started - s_time
        ordered = isinstance(q, ShadowQuery) and q.ordered
        check = _compare_sets(name, kind, None, s, t, None, q.tolerance, None, ordered)
        if kind == "shadow":
            check.details["seconds"] = {"source": round(s_time, 3), "target": round(t_time, 3)}
        return check

    return timed(name, kind, None, body)


# -- comparing result sets --------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A result value in comparable form: numbers as exact decimals, others canonical text."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int | float | Decimal):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return canonical(value, Canon("timestamp"))
    if isinstance(value, dt.date):
        return canonical(value, Canon("date"))
    text = str(value)
    try:
        return Decimal(text) if text.strip() and text.strip()[0] in "-+.0123456789" else text
    except InvalidOperation:
        return text


def _close(a: Any, b: Any, tol: Tolerance) -> bool:
    if a == b:
        return True
    if not isinstance(a, Decimal) or not isinstance(b, Decimal):
        return False
    diff = abs(a - b)
    if tol.abs is not None and diff <= tol.abs:
        return True
    scale = max(abs(a), abs(b))
    return tol.pct is not None and scale > 0 and diff * 100 / scale <= tol.pct


def compare_results(
    name: str, kind: str, old: Sequence[Sequence[Any]], new: Sequence[Sequence[Any]]
) -> Check:
    """Two result sets of one read (old store, new store) compared as a shadow query's are
    (``dualwrite.shadow``)."""
    return _compare_sets(name, kind, None, old, new, None, Tolerance(), None)


def _compare_sets(
    name: str,
    kind: str,
    table: str | None,
    s_rows: Sequence[Sequence[Any]],
    t_rows: Sequence[Sequence[Any]],
    key_width: int | None,
    tol: Tolerance,
    labels: list[str] | None,
    ordered: bool = False,
) -> Check:
    """Rows matched by their first ``key_width`` columns (None: by position after sorting,
    unless ``ordered``); every other value must agree within ``tol``."""
    s = [tuple(_cell(v) for v in r) for r in s_rows]
    t = [tuple(_cell(v) for v in r) for r in t_rows]
    if not ordered:
        s.sort(key=_sortable)
        t.sort(key=_sortable)
    differences: list[dict[str, Any]] = []
    if key_width:
        s_map = {r[:key_width]: r for r in s}
        t_map = {r[:key_width]: r for r in t}
        pairs = [
            (s_map.get(k), t_map.get(k)) for k in sorted(s_map.keys() | t_map.keys(), key=_sortable)
        ]
    else:
        pairs = [
            (s[i] if i < len(s) else None, t[i] if i < len(t) else None)
            for i in range(max(len(s), len(t)))
        ]
    for n, (a, b) in enumerate(pairs):
        if a is None or b is None:
            differences.append({"row": n, "source": _show(a), "target": _show(b)})
            continue
        if len(a) != len(b):
            differences.append({"row": n, "error": "different column counts"})
            continue
        bad = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _close(x, y, tol)]
        for i in bad:
            label = (
                labels[i - (key_width or 0)]
                if labels and i >= (key_width or 0)
                else f"column {i + 1}"
            )
            differences.append(
                {
                    "row": n,
                    "group": _show(a[:key_width]) if key_width else None,
                    "column": label,
                    "source": _text(a[i]),
                    "target": _text(b[i]),
                }
            )
    status = "failed" if differences else "passed"
    return Check(
        name,
        kind,
        table,
        status,
        f"{len(s)} rows",
        f"{len(t)} rows, {len(differences)} differ",
        {"differences": differences[:50], "source_rows": len(s), "target_rows": len(t)},
    )


def _sortable(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple((0, v, "") if isinstance(v, Decimal) else (1, Decimal(0), str(v)) for v in row)


def _show(row: Sequence[Any] | None) -> Any:
    return None if row is None else [_text(v) for v in row]


def _text(value: Any) -> str | None:
    """A query's value in a check's details: its text (a decimal exact), NULL as None."""
    return None if value is None else str(value)
