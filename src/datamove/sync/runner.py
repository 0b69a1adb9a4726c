"""``sync``: apply captured changes until caught up, a lag bound is met, or forever.

Without ``follow`` or ``until_lag`` it applies what is pending and stops; ``until_lag`` keeps
going until the oldest unapplied change is at most that many seconds old (``0``: nothing
pending) — the cutover uses it; ``follow`` keeps going until a stop (Ctrl-C), which for it
is the normal end: the batch running rolls back and the result shows the last checkpoint. A
stop ends any other sync with ``Interrupted``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar

from datamove.core.retry import retrying
from datamove.core.stop import Stop
from datamove.dialects.base import error_translator
from datamove.errors import Interrupted, TransientError, UsageError
from datamove.events import EventHandler, Message, SyncProgress, ignore
from datamove.plan.compiled import CompiledPlan
from datamove.spec.cutover import CutoverMode
from datamove.spec.models import MigrationSpec, SyncMode
from datamove.spec.phases import siblings
from datamove.state.store import StateStore
from datamove.sync.apply import Applier
from datamove.sync.changelog import Changelog, Pending
from datamove.sync.marks import kept_after
from datamove.sync.repair import repair_drift
from datamove.sync.state import SyncState
from datamove.sync.watermark import WatermarkPass

T = TypeVar("T")


@dataclass(frozen=True)
class SyncOptions:
    follow: bool = False
    until_lag: float | None = None
    max_batch: int = 5000
    poll_seconds: float = 0.5


@dataclass
class SyncResult:
    batches: int = 0
    changes: int = 0
    upserted: int = 0
    deleted: int = 0
    rejects: int = 0
    drift_repaired: int = 0
    """Dual-write drift rows whose keys were re-copied (``sync.repair``)."""
    applied_seq: int = 0
    pending: int = 0
    lag_seconds: float = 0.0
    seconds: float = 0.0
    warnings: list[SyncWarning] = field(default_factory=list)
    stopped: bool = False
    """``follow`` ended by a stop (Ctrl-C): its normal end."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: every field, each warning a ``{table, code, message}``."""
        return asdict(self)


@dataclass(frozen=True)
class SyncWarning:
    """Something ``sync`` says once, about one table; ``code`` names the kind for tools."""

    table: str
    code: str
    message: str


def backfill_warnings(unwarned: set[str], tables: list[str]) -> list[SyncWarning]:
    """Tables whose backfill started while capture was off: changes then may be missing."""
    return [
        SyncWarning(
            t,
            "backfilled-before-capture",
            f"'{t}' was backfilled before change capture was installed: changes made during "
            f"its backfill may be missing; run `datamove run SPEC --restart {t}` (capture is "
            "on now), or verify it",
        )
        for t in tables
        if t in unwarned
    ]


class Syncer:
    def __init__(
        self, compiled: CompiledPlan, spec: MigrationSpec, run_id: str, stop: Stop | None = None
    ) -> None:
        if spec.sync.mode is SyncMode.none and spec.cutover.mode is not CutoverMode.dual_write:
            raise UsageError(
                "the spec has no catch-up: set sync: {mode: triggers} (and run `datamove "
                "capture install SPEC` before the backfill) or sync: {mode: watermark, column: "
                "updated_at}"
            )
        self.plan = compiled.plan
        self.spec = spec
        self.source = compiled.source
        self.target = compiled.target
        self.applier = Applier(compiled, spec, run_id)
        self.changelog = Changelog(self.source)
        self.state = SyncState(self.target, spec.name)
        self.store = StateStore(self.target, spec.name)
        self.stop = stop or Stop()

    def _check_capture(self) -> list[SyncWarning]:
        """Refuses a sync without capture; the backfill warnings not given before (each
        table's once: ``capture status`` keeps showing it)."""
        with self.source.connect() as src:
            if not self.changelog.exists(src):
                raise UsageError(
                    "change capture is not installed on the source",
                    hint="run `datamove capture install SPEC` before the backfill",
                )
            missing = [t for t, on in self.changelog.captured(src, self.plan).items() if not on]
        if missing:
            raise UsageError(
                f"no capture triggers on: {', '.join(missing)}",
                hint="run `datamove capture install SPEC`",
            )
        with self.target.connect() as tgt, tgt.begin():
            self.state.ensure(tgt)
            unwarned = self.state.take_unwarned(tgt)
        return backfill_warnings(unwarned, self.plan.order)

    def _purge(self, applied: int) -> int:
        """Purge what is applied, but keep the changes after the last green verify's mark
        (the cutover's final verify reads their keys, ``sync.marks``) and those another phase
        has yet to apply (``spec.phases.siblings``)."""
        with self.target.connect() as tgt:
            kept = kept_after(tgt, self.store, self.plan.mapping_hash)
            for other in siblings(self.spec):
                applied = min(applied, SyncState(self.target, other).position(tgt).applied_seq)
        return self.applier.purge(applied if kept is None else min(applied, kept))

    def _pending(self, seq: int) -> Pending:
        with self.source.connect() as src:
            return self.changelog.pending(src, seq)

    def _retrying(self, step: Callable[[], T], on_event: EventHandler) -> T:
        """``step``, retried with backoff on transient errors (a lock, a deadlock with the
        application, a dropped connection): a replayed batch writes the same rows again."""

        def retried(attempt: int, err: TransientError, wait: float) -> None:
            on_event(Message(f"retrying in {wait:.1f}s: {err.message[:200]}"))

        translate = error_translator(self.source, self.target)
        return retrying(step, translate, retried, stop=self.stop)

    def _run_watermark(
        self,
        options: SyncOptions,
        on_event: EventHandler,
        caught_up: Callable[[], None],
        result: SyncResult,
    ) -> None:
        """Watermark passes: one, or (``follow``) one every poll until a stop. There is no
        changelog to measure a lag by: ``until_lag`` runs a single pass."""
        passes = WatermarkPass(self.applier)
        while True:
            batch = self._retrying(partial(passes.run, options.max_batch), on_event)
            result.batches += 1
            result.changes += batch.changes
            result.upserted += batch.upserted
            result.deleted += batch.deleted
            result.rejects += len(batch.rejects)
            on_event(SyncProgress(0, 0.0, result.upserted + result.deleted, 0.0, 0))
            if result.batches == 1:
                caught_up()
            if not options.follow or self.stop.wait(options.poll_seconds):
                break

    def run(
        self,
        options: SyncOptions,
        on_event: EventHandler = ignore,
        caught_up: Callable[[], None] = lambda: None,
    ) -> SyncResult:
        """Apply changes as ``options`` say; ``caught_up`` runs once, the first time nothing
        is pending (a watermark pass: once it is done), for work that waits for that."""
        started = time.monotonic()
        run = self._run_watermark if self.spec.sync.mode is SyncMode.watermark else self._run_log
        result = SyncResult()
        try:
            drift = self._retrying(partial(repair_drift, self.applier, options.max_batch), on_event)
            result.drift_repaired = drift.changes
            result.upserted, result.deleted = drift.upserted, drift.deleted
            result.rejects = len(drift.rejects)
            if self.spec.sync.mode is SyncMode.none:  # dual-write without capture: drift only
                caught_up()
            else:
                run(options, on_event, caught_up, result)
        except Interrupted:
            if not options.follow:
                raise
        result.seconds = time.monotonic() - started
        result.stopped = self.stop.requested
        if result.stopped and not options.follow:
            raise Interrupted(
                f"{result.batches} batch(es) applied, up to change {result.applied_seq}; the "
                "batch that was running rolled back"
            )
        return result

    def _run_log(
        self,
        options: SyncOptions,
        on_event: EventHandler,
        caught_up: Callable[[], None],
        result: SyncResult,
    ) -> None:
        """Changelog batches (``triggers`` mode) as ``options`` say, counted in ``result``
        as each commits."""
        result.warnings = self._check_capture()
        for warning in result.warnings:
            on_event(Message(warning.message, "warning"))
        with self.target.connect() as tgt:
            position = self.state.position(tgt)
        seq, total = position.applied_seq, position.applied_total
        result.applied_seq = seq
        recent: deque[tuple[float, int]] = deque(maxlen=20)
        reached = False
        while True:
            batch = self._retrying(
                partial(self.applier.apply_batch, seq, options.max_batch), on_event
            )
            if batch is not None:
                seq = result.applied_seq = batch.applied_seq
                self._retrying(partial(self._purge, seq), on_event)
                result.batches += 1
                result.changes += batch.changes
                result.upserted += batch.upserted
                result.deleted += batch.deleted
                result.rejects += len(batch.rejects)
                total += batch.upserted + batch.deleted
                recent.append((batch.seconds, batch.changes))
            pending = self._retrying(partial(self._pending, seq), on_event)
            spent = sum(s for s, _ in recent)
            rate = sum(n for _, n in recent) / spent if spent else 0.0
            on_event(SyncProgress(pending.count, pending.age, total, rate, seq))
            result.applied_seq, result.pending, result.lag_seconds = seq, pending.count, pending.age
            if pending.count == 0 and not reached:
                reached = True
                caught_up()
            # ``until_lag=0`` means nothing pending (the source clock may count whole seconds).
            within = pending.count == 0 or (
                options.until_lag is not None
                and options.until_lag > 0
                and pending.age <= options.until_lag
            )
            if options.until_lag is not None and within:
                break
            if batch is None and not options.follow and options.until_lag is None:
                break
            if self.stop.requested or (batch is None and self.stop.wait(options.poll_seconds)):
                break
