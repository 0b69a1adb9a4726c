"""Reconciliation history: each round's checks over time, and the drift as a trend.

Read from the state store only (recorded ``reconcile`` runs and their checks), never from the
databases compared. Drift is what each check recorded in ``details.drift``: rows differing for
a checksum, changed-keys or count check, the summed numeric delta for an invariant, aggregate
or shadow query.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from datamove.core.evidence import RunCommand
from datamove.state.store import StateStore


@dataclass(frozen=True)
class Point:
    """One check in one round."""

    run_id: str
    at: dt.datetime
    status: str
    drift: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "at": self.at.isoformat(),
            "status": self.status,
            "drift": self.drift,
        }


@dataclass
class Series:
    """One table's check over the rounds, oldest first."""

    check: str
    table: str | None
    points: list[Point] = field(default_factory=list)

    @property
    def trend(self) -> str:
        """``rising``, ``falling`` or ``flat``: the last drift against the first."""
        if len(self.points) < 2 or self.points[-1].drift == self.points[0].drift:
            return "flat"
        return "rising" if self.points[-1].drift > self.points[0].drift else "falling"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "table": self.table,
            "trend": self.trend,
            "points": [p.to_dict() for p in self.points],
        }


@dataclass(frozen=True)
class RoundRecord:
    run_id: str
    started_at: dt.datetime
    status: str
    error: str | None
    notify: str | None
    """The webhook's outcome for this round (its ``notify`` check), if one was called."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "status": self.status,
            "error": self.error,
            "notify": self.notify,
        }


@dataclass
class History:
    rounds: list[RoundRecord]
    series: list[Series]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": [r.to_dict() for r in self.rounds],
            "series": [s.to_dict() for s in self.series],
        }


def read_history(state: StateStore, tables: tuple[str, ...] = (), limit: int = 50) -> History:
    """The last ``limit`` rounds, oldest first, and per table and check their series."""
    with state.dialect.connect() as conn:
        if not state.readable(conn):
            return History([], [])
        r, c = state.runs, state.schema.checks
        runs = conn.execute(
            sa.select(r.c.run_id, r.c.started_at, r.c.status, r.c.error)
            .where(r.c.migration == state.migration, r.c.command == RunCommand.reconcile.value)
            .order_by(r.c.started_at.desc())
            .limit(limit)
        ).all()
        ids = [row[0] for row in runs]
        checks = (
            conn.execute(
                sa.select(
                    c.c.run_id,
                    c.c.name,
                    c.c.kind,
                    c.c.table_name,
                    c.c.status,
                    c.c.actual,
                    c.c.details,
                )
                .where(c.c.migration == state.migration, c.c.run_id.in_(ids))
                .order_by(c.c.id)
            ).all()
            if ids
            else []
        )
    started = {row[0]: row[1] for row in runs}
    notified = {row[0]: f"{row[4]}: {row[5]}" for row in checks if row[2] == "notify"}
    rounds = [
        RoundRecord(row[0], row[1], row[2], row[3], notified.get(row[0])) for row in reversed(runs)
    ]
    series: dict[str, Series] = {}
    for run_id, name, kind, table, status, _, details in sorted(
        checks, key=lambda row: started[row[0]]
    ):
        if kind == "notify" or (tables and table not in tables):
            continue
        drift = float(json.loads(details or "{}").get("drift", 0) or 0)
        found = series.setdefault(name, Series(name, table))
        found.points.append(Point(run_id, started[run_id], status, drift))
    return History(rounds, list(series.values()))


def last_round_failures(state: StateStore) -> set[str]:
    """The checks that failed in the latest finished round (a failure is new when absent)."""
    with state.dialect.connect() as conn:
        if not state.readable(conn):
            return set()
        r, c = state.runs, state.schema.checks
        last = conn.execute(
            sa.select(r.c.run_id)
            .where(
                r.c.migration == state.migration,
                r.c.command == RunCommand.reconcile.value,
                r.c.status != "running",
            )
            .order_by(r.c.started_at.desc())
            .limit(1)
        ).scalar()
        if last is None:
            return set()
        rows = conn.execute(
            sa.select(c.c.name).where(
                c.c.migration == state.migration,
                c.c.run_id == last,
                c.c.kind != "notify",
                c.c.status != "passed",
            )
        )
        return {row[0] for row in rows}
