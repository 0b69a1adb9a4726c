"""The cutover's gates: what must hold before anything changes, each measured now.

Every gate the spec names (``cutover.gates``) becomes a ``Check`` (kind ``gate``) with its
measured value (``actual``) and threshold (``expected``); the runbook records all of them as
evidence, then stops on any that failed, naming each. A gate that cannot be measured (no
verify recorded, no capture to read a lag from) is a failure with its reason, never a pass.

- ``max_lag``: the age of the oldest change capture recorded that sync has not applied
  (``sync.capture.status``); trigger capture only (a watermark has no backlog to measure).
- ``verified_within``: the latest verify run with every check passed, of the whole mapping
  (no ``--tables``/``--checks``), whose ``mapping_hash`` is the current plan's; and no
  dual-write shadow read mismatch recorded after it (``state.shadows``).
- ``invariants``: the spec's invariants, through verify's invariant check. Where the source
  may still take writes (a sync mode other than ``none``), source and target differ by the
  sync lag, so the gate is deferred: it passes recording ``deferred`` and the runbook's
  ``invariants`` step runs them under the fence, after the drain (``Runbook``); with sync
  mode ``none`` nothing writes and they run now.
- ``rehearsed``: a successful rehearsal (``datamove cutover SPEC --rehearse``,
  ``cutover.rehearsal``) recorded on the current mapping hash.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from datamove.core.evidence import Check, RunCommand, RunStatus
from datamove.errors import DatamoveError
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec, SyncMode
from datamove.state import upgrade
from datamove.state.shadows import ShadowReads
from datamove.state.store import StateStore
from datamove.state.verified import last_green_verify
from datamove.sync import capture
from datamove.verify.runner import Verifier, VerifyOptions

KIND = "gate"
DEFERRED = "run by the runbook step 'invariants', under the fence after the drain"
"""Why the ``invariants`` gate passes without running them while the source takes writes."""


def run_invariants(compiled: CompiledPlan, spec: MigrationSpec) -> list[Check]:
    """The spec's invariants, run now through verify's invariant check (one check each)."""
    options = VerifyOptions(checks=("invariant",))
    return Verifier(compiled, spec, options).run(record_rejects=False).checks


def _span(seconds: float) -> str:
    """``5s``, ``30m``, ``24h``, ``1.5s``: how the spec writes durations."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass
class Gates:
    """Evaluates the spec's gates against the live databases and the state store (reads only:
    ``--dry-run`` shows the same values)."""

    compiled: CompiledPlan
    spec: MigrationSpec
    state: StateStore

    def evaluate(self) -> list[Check]:
        """A check per gate the spec names, in the spec's order (none: no check)."""
        gates = self.spec.cutover.gates
        measured: list[tuple[str, Callable[[], Check]]] = []
        if gates.max_lag is not None:
            measured.append(("max_lag", self._max_lag))
        if gates.verified_within is not None:
            measured.append(("verified_within", self._verified_within))
        if gates.invariants is not None:
            measured.append(("invariants", self._invariants))
        if gates.rehearsed:
            measured.append(("rehearsed", self._rehearsed))
        return [self._timed(name, body) for name, body in measured]

    @staticmethod
    def _timed(name: str, body: Callable[[], Check]) -> Check:
        started = time.monotonic()
        try:
            check = body()
        except DatamoveError as exc:  # a gate that cannot be measured does not hold
            check = _gate(name, False, "", "not measured", f"could not be measured: {exc.message}")
        check.seconds = time.monotonic() - started
        return check

    def _max_lag(self) -> Check:
        bound = self.spec.cutover.gates.max_lag or 0.0
        expected = f"<= {_span(bound)}"
        if self.spec.sync.mode is not SyncMode.triggers:
            why = (
                "no change capture to measure a lag from (sync mode "
                f"{self.spec.sync.mode.value}); use sync: {{mode: triggers}} or drop the gate"
            )
            return _gate("max_lag", False, expected, "not measured", why)
        plan = self.compiled.plan
        found = capture.status(plan, self.compiled.source, self.compiled.target, self.spec.name)
        if not found.installed:
            why = "change capture is not installed on the source: run `datamove capture install`"
            return _gate("max_lag", False, expected, "not measured", why)
        actual = f"{found.lag_seconds:.1f}s ({found.pending} change(s) pending)"
        ok = found.lag_seconds <= bound
        why = "" if ok else "sync is behind: run `datamove sync SPEC` (or --follow) first"
        return _gate("max_lag", ok, expected, actual, why, lag_seconds=found.lag_seconds)

    def _verified_within(self) -> Check:
        within = self.spec.cutover.gates.verified_within or 0.0
        expected = f"a green verify of this mapping within {_span(within)}"
        with self.state.dialect.connect() as conn:
            green = last_green_verify(conn, self.state, self.compiled.plan.mapping_hash)
        if green is None:
            why = "no verify with every check passed is recorded for the current mapping"
            hint = "run `datamove verify SPEC` (all tables, all checks)"
            return _gate("verified_within", False, expected, "none", f"{why}: {hint}")
        last = green.finished_at
        age = (_now() - last).total_seconds()
        actual = f"{_span(round(age))} ago ({last.isoformat(sep=' ', timespec='seconds')} UTC)"
        ok = age <= within
        why = "" if ok else "the last green verify is too old: run `datamove verify SPEC` again"
        with self.state.dialect.connect() as conn:
            shadow = ShadowReads(self.state.dialect, self.spec.name).summary(conn, since=last)
        if ok and shadow.mismatched:
            ok, actual = False, f"{actual}; {shadow.mismatched} shadow read mismatch(es) since"
            why = (
                f"{shadow.mismatched} shadow read(s) differed between the stores after the "
                "last green verify (`datamove status` lists them): repair (`datamove sync "
                "SPEC`), then verify again"
            )
            return _gate("verified_within", ok, expected, actual, why, shadow=shadow.examples)
        return _gate("verified_within", ok, expected, actual, why)

    def _invariants(self) -> Check:
        if not self.spec.invariants:
            why = "the spec has no invariants to run (spec path: invariants)"
            return _gate("invariants", False, "pass", "none declared", why)
        if self.spec.sync.mode is not SyncMode.none:
            actual = f"deferred: {DEFERRED}"
            return _gate("invariants", True, "pass", actual, "", deferred=True)
        checks = run_invariants(self.compiled, self.spec)
        failed = [c.name for c in checks if not c.ok]
        actual = f"{len(checks) - len(failed)}/{len(checks)} passed"
        why = f"failed: {', '.join(failed)}" if failed else ""
        return _gate("invariants", not failed, "pass", actual, why, failed=failed)

    def _rehearsed(self) -> Check:
        expected = "a recorded rehearsal of this mapping"
        mapping = self.compiled.plan.mapping_hash
        with self.state.dialect.connect() as conn:
            last = _last_ok(conn, self.state, RunCommand.rehearsal, mapping)
        if last is None:
            why = "no rehearsal of the current mapping: run `datamove cutover SPEC --rehearse`"
            return _gate("rehearsed", False, expected, "none", why)
        actual = f"rehearsed {last.isoformat(sep=' ', timespec='seconds')} UTC"
        return _gate("rehearsed", True, expected, actual, "")


def _gate(name: str, ok: bool, expected: str, actual: str, why: str, **details: object) -> Check:
    return Check(
        f"gate {name}",
        KIND,
        None,
        "passed" if ok else "failed",
        expected,
        actual,
        {"reason": why, **details} if why else dict(details),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _last_ok(
    conn: sa.Connection, state: StateStore, command: RunCommand, mapping_hash: str
) -> dt.datetime | None:
    """When the latest ``command`` run of the whole ``mapping_hash`` that ended ok (a verify:
    every check passed) ended."""
    if not state.readable(conn) or (upgrade.stored_version(conn, state.schema) or 0) < 5:
        return None  # no store, or one from before verify runs recorded their mapping
    r = state.runs
    return conn.execute(
        sa.select(sa.func.max(r.c.finished_at)).where(
            r.c.migration == state.migration,
            r.c.command == command.value,
            r.c.status == RunStatus.ok.value,
            r.c.mapping_hash == mapping_hash,
        )
    ).scalar()


def failed_gates(checks: list[Check]) -> list[Check]:
    """The gates that do not hold."""
    return [c for c in checks if not c.ok]
