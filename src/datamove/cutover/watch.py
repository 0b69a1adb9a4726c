"""The watch after the flip: the spec's rollback triggers, evaluated every ``watch.every`` for
``watch.for`` (``cutover.rollback.triggers``; no triggers, no watch).

Each round evaluates every trigger and records each as a check (kind ``trigger``) of the
cutover's run: ``passed`` (quiet), ``failed`` (it fired, with the value measured) or ``error``
(it could not be evaluated: a query that fails, a capture that is not there). The first round
runs at once; the watch ends quiet when ``watch.for`` has passed, early on Ctrl-C (a normal
end), or at the first trigger that fires — or errs, unless that trigger says
``on_error: record`` — and ``Migration.cutover`` then starts the rollback.

- ``failed_check: any``: a verify run recorded failed since the flip (``datamove verify``
  by an operator or a scheduler, any checks), or verify's checks that read the target alone
  (``foreign_key``: no orphans), run each round. Counts and checksums against the fenced
  source are not run by the watch: they differ as soon as the application writes to the
  target, which is the switch working, not a failure.
- ``query:`` + ``on:`` + ``above:``: the query's single number is above the threshold.
- ``lag_above:``: the age of the oldest change reverse capture holds on the target (what a
  rollback would bring back; nothing replays it before the rollback).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from datamove.core.evidence import Check, RunCommand, RunStatus
from datamove.errors import DatamoveError
from datamove.events import EventHandler, Message
from datamove.plan.compiled import CompiledPlan
from datamove.redact import redact_text
from datamove.spec.cutover import Trigger
from datamove.spec.models import MigrationSpec
from datamove.state.store import StateStore
from datamove.sync.changelog import REVERSE_CHANGELOG, Changelog
from datamove.verify.runner import Verifier, VerifyOptions

KIND = "trigger"


@dataclass
class WatchOutcome:
    """How the watch ended: rounds evaluated, the trigger that fired (None: quiet), whether
    Ctrl-C ended it and whether the rollback it started completed."""

    rounds: int = 0
    fired: Check | None = None
    interrupted: bool = False
    rolled_back: bool = False
    last: list[Check] = field(default_factory=list)
    """The last round's checks."""

    @property
    def why(self) -> str:
        """The fired trigger and its value (or error), as recorded."""
        if self.fired is None:
            return ""
        said = self.fired.details.get("error") or self.fired.actual
        return f"{self.fired.name}: {said} (needs {self.fired.expected})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "fired": self.fired.to_dict() if self.fired else None,
            "why": self.why or None,
            "interrupted": self.interrupted,
            "rolled_back": self.rolled_back,
            "last": [c.to_dict() for c in self.last],
        }


def _label(trigger: Trigger) -> str:
    if trigger.query is not None:
        return f"query on the {trigger.on}"
    if trigger.lag_above is not None:
        return "lag_above"
    return "failed_check"


class Watch:
    """Evaluates the triggers round after round (see the module docstring)."""

    def __init__(
        self,
        compiled: CompiledPlan,
        spec: MigrationSpec,
        state: StateStore,
        emit: EventHandler,
        since: dt.datetime,
    ) -> None:
        self.compiled = compiled
        self.since = since
        """When the flip was recorded: failed verify runs from then on count."""
        self.spec = spec
        self.state = state
        self.emit = emit

    def run(self, run_id: str, seconds: float, every: float) -> WatchOutcome:
        """Rounds until ``seconds`` pass, a trigger fires, or Ctrl-C."""
        out = WatchOutcome()
        deadline = time.monotonic() + seconds
        self.emit(Message(f"watch: the triggers every {every:g}s for {seconds:g}s"))
        try:
            while True:
                out.last = self.evaluate()
                out.rounds += 1
                with self.state.dialect.connect() as conn, conn.begin():
                    self.state.checks.record(conn, run_id, out.last)
                out.fired = next((c for c in out.last if c.details.get("fires")), None)
                if out.fired is None:
                    said = ", ".join(f"{c.name} {c.status}" for c in out.last)
                    self.emit(Message(f"watch: round {out.rounds}: {said}"))
                left = deadline - time.monotonic()
                if out.fired is not None or left <= 0:
                    break
                time.sleep(min(every, left))  # Ctrl-C cuts it short
        except KeyboardInterrupt:
            out.interrupted = True
            self.emit(Message("watch: ended by Ctrl-C", "warning"))
        if out.fired is not None:
            self.emit(Message(f"watch: trigger fired: {out.why}", "warning"))
        return out

    def evaluate(self) -> list[Check]:
        """One round: a check per trigger, in the spec's order."""
        triggers = self.spec.cutover.rollback.triggers
        return [self._timed(i, t) for i, t in enumerate(triggers)]

    def _timed(self, index: int, trigger: Trigger) -> Check:
        path = f"cutover.rollback.triggers[{index}]"
        name = f"trigger {index} ({_label(trigger)})"
        started = time.monotonic()
        try:
            check = self._measure(name, trigger)
        except Exception as exc:  # a trigger that cannot be evaluated is a recorded failure
            error = redact_text(self._translated(trigger, exc).message)
            fires = trigger.on_error == "rollback"
            details = {"error": error, "fires": fires}
            check = Check(name, KIND, None, "error", "evaluated", "not measured", details)
        check.details["spec_path"] = path
        check.seconds = time.monotonic() - started
        return check

    def _translated(self, trigger: Trigger, exc: Exception) -> DatamoveError:
        side = self.compiled.source if trigger.on == "source" else self.compiled.target
        return side.translate(exc)

    def _measure(self, name: str, trigger: Trigger) -> Check:
        if trigger.query is not None:
            value = self._query(trigger)
            above = float(trigger.above or 0.0)
            return _reading(name, value > above, f"<= {above:g}", f"{value:g}", value=value)
        if trigger.lag_above is not None:
            target = self.compiled.target
            changelog = Changelog(target, REVERSE_CHANGELOG)
            with target.connect() as conn:
                if not changelog.exists(conn):
                    raise DatamoveError("no reverse capture on the target to measure a lag from")
                pending = changelog.pending(conn, 0)
            bound = float(trigger.lag_above)
            actual = f"{pending.age:.1f}s ({pending.count} change(s))"
            return _reading(name, pending.age > bound, f"<= {bound:g}s", actual)
        runs = self._failed_verifies()
        options = VerifyOptions(checks=("foreign_key",))
        result = Verifier(self.compiled, self.spec, options).run(record_rejects=False)
        failed = [c.name for c in result.checks if not c.ok]
        actual = (
            f"{len(runs)} failed verify run(s) since the flip; "
            f"{len(failed)}/{len(result.checks)} target check(s) failed"
            + (f": {', '.join(failed)}" if failed else "")
        )
        fired = bool(runs or failed)
        return _reading(name, fired, "no failed check", actual, failed=failed, runs=runs)

    def _failed_verifies(self) -> list[str]:
        r = self.state.runs
        with self.state.dialect.connect() as conn:
            found = conn.execute(
                sa.select(r.c.run_id).where(
                    r.c.migration == self.state.migration,
                    r.c.command == RunCommand.verify.value,
                    r.c.status == RunStatus.failed.value,
                    r.c.started_at >= self.since,
                )
            )
            return list(found.scalars())

    def _query(self, trigger: Trigger) -> float:
        side = self.compiled.source if trigger.on == "source" else self.compiled.target
        with side.connect() as conn:
            rows = conn.exec_driver_sql(trigger.query or "").fetchall()
        if len(rows) != 1 or len(rows[0]) != 1 or rows[0][0] is None:
            raise DatamoveError(
                f"the query returned {len(rows)} row(s), not a single number: "
                "it needs one row with one number"
            )
        try:
            return float(rows[0][0])
        except (TypeError, ValueError):
            raise DatamoveError(f"the query returned {rows[0][0]!r}, not a number") from None


def _reading(name: str, fired: bool, expected: str, actual: str, **details: Any) -> Check:
    status = "failed" if fired else "passed"
    return Check(name, KIND, None, status, expected, actual, {"fires": fired, **details})
