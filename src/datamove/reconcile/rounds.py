"""One reconciliation round: full, or incremental (only the keys touched since the last
green round), its checks judged as ``moving`` says.

A **full** round scans every table in scope (the checksum's range checksums and bisection),
judges the differing keys, derives each table's count from the judged row diff (two counts
taken at different instants of a moving table prove nothing; a row diff with no missing or
extra key left proves the counts equal), then runs the target's own checks (legacy keys,
foreign keys, schema) and the configured checks (aggregates, invariants, shadow queries;
``forward`` only: after a switch they would compare a live side with a frozen one), each
failing one run again after sync settles, up to ``persist_for`` times.

An **incremental** round compares only the keys the source's changelog shows changed since
the last green round's mark (sync's applied position when that round started: every change
up to it was in the target then, and that round proved the rows), so a 100M-row table with
little written is re-verified in seconds. It runs when all of these hold, else the round is
full and says why: the whole mapping is in scope, trigger capture feeds sync (``forward``),
the previous round was green, a green round of this mapping exists, fewer than
``full_every`` rounds ran since the last full one, and the changelog still holds every change
after that mark. A red round is always followed by a full one: a quiet corrupted row is in
no changelog, so only a full pass can clear it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlalchemy as sa

from datamove.core.evidence import Check, RunCommand
from datamove.core.stop import Stop
from datamove.events import EventHandler
from datamove.plan.compiled import CompiledPlan
from datamove.reconcile.live import Direction, LiveSide, RawKey
from datamove.reconcile.moving import Judge, Judged, Unjudged
from datamove.spec.models import MigrationSpec
from datamove.state.store import StateStore
from datamove.state.verified import GreenVerify, last_green
from datamove.sync.marks import ChangedKeys, changed_since
from datamove.verify.result import TableDiff
from datamove.verify.runner import Verifier, VerifyOptions

TARGET_CHECKS = ("legacy_key", "foreign_key", "schema")
CONFIGURED = ("aggregates", "invariant", "shadow")


@dataclass(frozen=True)
class RoundKind:
    """What a round compares, and why."""

    full: bool
    why: str
    basis: GreenVerify | None = None
    changed: ChangedKeys | None = None

    @property
    def name(self) -> str:
        return "full" if self.full else "incremental"


@dataclass
class RoundResult:
    """One recorded round: its checks and what is new since the round before."""

    run_id: str
    kind: str
    why: str
    direction: Direction
    checks: list[Check]
    new_failures: list[str] = field(default_factory=list)
    """Checks failing now that passed (or did not run) in the round before."""
    seconds: float = 0.0
    notified: bool = False

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "why": self.why,
            "direction": self.direction.value,
            "ok": self.ok,
            "new_failures": self.new_failures,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_dict() for c in self.checks],
        }


class Round:
    """Chooses and runs one round over ``tables`` (empty: the whole mapping)."""

    def __init__(
        self,
        compiled: CompiledPlan,
        spec: MigrationSpec,
        state: StateStore,
        tables: tuple[str, ...],
        way: Direction,
        stop: Stop,
        on_event: EventHandler,
    ) -> None:
        self.compiled = compiled
        self.spec = spec
        self.state = state
        self.tables = tables
        self.direction = way
        self.stop = stop
        self.emit = on_event
        self.policy = spec.reconcile
        self.live = LiveSide.of(compiled, spec.name, spec.sync.mode, way)

    def kind(self) -> RoundKind:
        """Full or incremental, by the rules of the module docstring."""
        if self.tables:
            return RoundKind(True, "--tables: a round over part of the mapping is full")
        if not self.live.applies:
            return RoundKind(True, f"no trigger capture feeding sync ({self.direction.value})")
        mapping = self.compiled.plan.mapping_hash
        with self.state.dialect.connect() as conn:
            previous = self._previous_ok(conn)
            green = last_green(conn, self.state, mapping, RunCommand.reconcile)
            since_full = self._rounds_since_full(conn)
        if previous is False:
            return RoundKind(True, "the previous round failed")
        if green is None or green.changelog_seq is None:
            return RoundKind(True, "no green round of this mapping with a changelog mark yet")
        if since_full is None or since_full + 1 >= self.policy.full_every:
            return RoundKind(True, f"a full pass every {self.policy.full_every} round(s)")
        found = changed_since(self.compiled, self.spec.name, green.changelog_seq)
        if isinstance(found, str):
            return RoundKind(True, found)
        why = f"{found.count} key(s) changed since round {green.run_id}"
        return RoundKind(False, why, green, found)

    def run(self, kind: RoundKind) -> list[Check]:
        """Every check of the round, judged (see the module docstring)."""
        judge = Judge(self._verifier(()), self.live, self.policy, self.stop)
        names = [n for n in self.compiled.plan.order if not self.tables or n in self.tables]
        out: list[Check] = []
        for name in names:
            self.stop.check()
            if kind.changed is not None:
                out.append(self._changed(judge, name, kind.changed.keys.get(name, []), kind))
            else:
                out.extend(self._scanned(judge, name))
                out.extend(self._confirmed(partial(self._verifier, (name,), TARGET_CHECKS)))
        if not self.tables and self.direction is Direction.forward:
            out.extend(self._confirmed(partial(self._verifier, (), CONFIGURED)))
        return out

    def _verifier(
        self, tables: tuple[str, ...], checks: tuple[str, ...] = ("checksum",)
    ) -> Verifier:
        options = VerifyOptions(tables, checks)
        return Verifier(self.compiled, self.spec, options, self.emit)

    def _scanned(self, judge: Judge, name: str) -> list[Check]:
        """A table's checksum from a full scan, judged, and its count from the judged diff."""
        since, fence = self.live.applied(), self.live.high_water()
        result = self._verifier((name,)).run()
        scan, diff = result.checks[0], result.diffs[0]
        if scan.status == "error":
            return [scan]
        keys = [diff.raw_keys[k] for k in [*diff.missing, *diff.extra]]
        keys += [diff.raw_keys[c.key] for c in diff.changed]
        try:
            judged = judge.judge(name, keys, since)
        except Unjudged as exc:
            return [exc.check]
        moving = {"sync_position": since, "fence": fence, **judged.details()}
        return [_checksum(scan, diff, judged, moving), _count(name, diff, judged)]

    def _changed(self, judge: Judge, name: str, keys: list[RawKey], kind: RoundKind) -> Check:
        """The keys changed since the basis round, compared after sync settles, the differing
        ones judged."""
        basis = kind.basis
        settled = self.live.settle(self.policy.max_lag, self.policy.settle_timeout, self.stop)
        since = self.live.applied()
        scan = judge.verifier.keyed_check(name, keys, len(keys))
        if scan.status == "error":
            return scan
        found = {tuple(d["key"]): d for d in scan.details.get("differences", [])}
        by_canon = judge.canonical(name, {k: k for k in keys})
        try:
            judged = judge.judge(name, [by_canon[k] for k in found if k in by_canon], since)
        except Unjudged as exc:
            return exc.check
        # a difference whose key is not one asked for cannot be re-read: reported as found
        reported = [*judged.reported.values(), *(d for k, d in found.items() if k not in by_canon)]
        scan.status = "failed" if reported else "passed"
        scan.actual = f"{len(keys) - len(reported)} equal, {len(reported)} differ" + _moved(judged)
        scan.details.update(
            differences=reported[:50],
            rows_scanned=len(keys),
            drift=len(reported),
            round="incremental",
            basis={"run_id": basis.run_id if basis else None, "mark": _mark(basis)},
            moving={"sync_position": since, "settled": settled or "yes", **judged.details()},
        )
        return scan

    def _confirmed(self, verifier: Callable[[], Verifier]) -> list[Check]:
        """Checks run, and each failing one run again after sync settles, ``persist_for``
        times: it stays failed only if it failed every time."""
        checks = verifier().run().checks
        for attempt in range(1, self.policy.persist_for + 1):
            failing = [i for i, c in enumerate(checks) if c.status == "failed"]
            if not failing:
                break
            why = self.live.settle(self.policy.max_lag, self.policy.settle_timeout, self.stop)
            if why is not None:
                for i in failing:
                    checks[i].details["not_rechecked"] = why
                break
            again = {c.name: c for c in verifier().run().checks}
            for i in failing:
                found = again.get(checks[i].name, checks[i])
                found.details["rechecks"] = attempt
                if found.ok:
                    found.details["resolved"] = f"failed, then passed at re-check {attempt}"
                checks[i] = found
        for c in checks:
            c.details.setdefault("drift", _drift(c))
        return checks

    def _previous_ok(self, conn: sa.Connection) -> bool | None:
        r = self.state.runs
        row = conn.execute(
            sa.select(r.c.status)
            .where(
                r.c.migration == self.state.migration,
                r.c.command == RunCommand.reconcile.value,
                r.c.status != "running",
            )
            .order_by(r.c.started_at.desc())
            .limit(1)
        ).first()
        return None if row is None else row[0] == "ok"

    def _rounds_since_full(self, conn: sa.Connection) -> int | None:
        """Rounds started after the last full one (None: no full round recorded)."""
        r, c = self.state.runs, self.state.schema.checks
        mine = (r.c.migration == self.state.migration) & (r.c.command == RunCommand.reconcile.value)
        last_full = conn.execute(
            sa.select(sa.func.max(r.c.started_at))
            .select_from(r.join(c, c.c.run_id == r.c.run_id))
            .where(mine, c.c.kind == "checksum")
        ).scalar()
        if last_full is None:
            return None
        later = sa.select(sa.func.count()).where(mine, r.c.started_at > last_full)
        return int(conn.execute(later).scalar_one())


def _checksum(scan: Check, diff: TableDiff, judged: Judged, moving: dict[str, Any]) -> Check:
    """The scan's checksum check, keeping only the keys the judge reported."""
    kept = set(judged.reported)
    details = diff.to_dict()
    details["missing"] = [list(k) for k in diff.missing if k in kept]
    details["extra"] = [list(k) for k in diff.extra if k in kept]
    details["changed"] = [c.to_dict() for c in diff.changed if c.key in kept]
    drift = len(kept) + diff.not_fetched
    details.update(moving=moving, rows_scanned=diff.source_rows, drift=drift, round="full")
    m, e, c = (len(details[k]) for k in ("missing", "extra", "changed"))
    more = f", {diff.not_fetched}+ more" if diff.not_fetched else ""
    actual = f"{m} missing, {e} extra, {c} changed{more}" + _moved(judged)
    status = "failed" if drift else "passed"
    return Check(
        scan.name, scan.kind, scan.table, status, scan.expected, actual, details, scan.seconds
    )


def _count(name: str, diff: TableDiff, judged: Judged) -> Check:
    """The count under writes: equal exactly when no missing or extra key is left."""
    kept = set(judged.reported)
    unmatched = sum(k in kept for k in [*diff.missing, *diff.extra]) + diff.not_fetched
    return Check(
        f"{name}: count",
        "count",
        name,
        "failed" if unmatched else "passed",
        "every source row in scope (minus rejects) in the target",
        f"{unmatched} row(s) missing or extra after re-checks (scanned: source "
        f"{diff.source_rows}, target {diff.target_rows})",
        {"source_rows": diff.source_rows, "target_rows": diff.target_rows, "drift": unmatched},
    )


def _moved(judged: Judged) -> str:
    parts = [f"{len(judged.deferred)} deferred"] if judged.deferred else []
    parts += [f"{len(judged.resolved)} resolved on re-check"] if judged.resolved else []
    return f" ({', '.join(parts)})" if parts else ""


def _mark(basis: GreenVerify | None) -> int | None:
    return None if basis is None else basis.changelog_seq


def _drift(check: Check) -> float:
    """Rows differing, or an invariant's summed numeric delta (what the trend shows)."""
    diffs = check.details.get("differences", [])
    total = 0.0
    numeric = False
    for d in diffs if isinstance(diffs, list) else []:
        try:
            total += abs(float(d["target"]) - float(d["source"]))
            numeric = True
        except (KeyError, TypeError, ValueError):
            continue
    if check.kind in ("invariant", "aggregates", "shadow") and numeric:
        return round(total, 6)
    return float(len(diffs)) if isinstance(diffs, list) else 0.0
