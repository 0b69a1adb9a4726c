"""Which side is live, from the cutover's recorded steps, and what its changelog says.

Reconcile always compares the target with the mapping of the source: the one comparison the
mapping defines. What changes with the cutover is which side takes writes, so which
changelog explains a difference and whether anything will apply it:

- ``forward`` (no cutover yet, or one under way): the source is live; its changelog
  (``sync.changelog``) records each changed key and sync applies them, so a difference on a
  key changed after the fence point is re-checked once sync has applied it;
- ``switched`` (the runbook's flip is done): the target is live and the source fenced; keys
  in the target's reverse changelog were written by the application after the switch and
  only a rollback replays them: their differences are deferred, never reported; every other
  row must still equal the mapping of the frozen source;
- ``rolled_back`` (a completed rollback): the source is live again and the target fenced;
  sync cannot write there until the next cutover lifts the fence, so keys the source's
  changelog holds past sync's position are deferred, and every other row (proved equal by
  the rollback's verify) must still be equal.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from datamove.core.stop import Stop
from datamove.cutover.rollback import ROLLBACK
from datamove.cutover.runbook import RUNBOOK
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import SyncMode
from datamove.state.store import StateStore
from datamove.sync.changelog import REVERSE_CHANGELOG, Changelog
from datamove.sync.state import SyncState

RawKey = tuple[Any, ...]


class Direction(StrEnum):
    """Which side takes writes (see the module docstring)."""

    forward = "forward"
    """The source is live; sync applies its changes to the target."""
    switched = "switched"
    """The cutover flipped: the target is live, the source fenced."""
    rolled_back = "rolled_back"
    """A completed rollback: the source is live again, the target fenced."""


def direction(state: StateStore) -> Direction:
    """The direction the recorded runbook and rollback steps say."""
    with state.dialect.connect() as conn:
        if not state.readable(conn):
            return Direction.forward
        runbook = state.steps.runbook(conn, RUNBOOK)
        back = state.steps.runbook(conn, ROLLBACK)
    if back and all(r.status == "done" for r in back.values()):
        return Direction.rolled_back
    flip = runbook.get("flip")
    return Direction.switched if flip is not None and flip.status == "done" else Direction.forward


@dataclass
class LiveSide:
    """The live side's changelog, as reconcile reads it (``None``: no capture to read)."""

    compiled: CompiledPlan
    migration: str
    direction: Direction
    changelog: Changelog | None
    names: dict[str, str]
    """Changelog table name -> plan table name."""

    @classmethod
    def of(cls, compiled: CompiledPlan, migration: str, mode: SyncMode, way: Direction) -> LiveSide:
        plan = compiled.plan
        log: Changelog | None
        if way is Direction.switched:
            log = Changelog(compiled.target, REVERSE_CHANGELOG)
            names = {t.target_table.name: t.name for t in plan.tables.values()}
        else:
            log = Changelog(compiled.source) if mode is SyncMode.triggers else None
            names = {t.source_name: t.name for t in plan.tables.values()}
        if log is not None:
            with log.dialect.connect() as conn:
                log = log if log.exists(conn) else None
        return cls(compiled, migration, way, log, names)

    @property
    def applies(self) -> bool:
        """Whether sync applies the changelog to the target now (so re-checks wait for it)."""
        return self.changelog is not None and self.direction is Direction.forward

    def high_water(self) -> int:
        """The changelog's newest sequence number now (0: empty or none)."""
        if self.changelog is None:
            return 0
        c = self.changelog.table.c
        with self.changelog.dialect.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(c.seq))).scalar() or 0)

    def applied(self) -> int:
        """Sync's applied position (``switched``: 0, nothing applies the reverse changelog)."""
        if self.direction is Direction.switched:
            return 0
        state = SyncState(self.compiled.target, self.migration)
        with self.compiled.target.connect() as tgt:
            return state.position(tgt).applied_seq if state.exists(tgt) else 0

    def changes_after(self, table: str, seq: int) -> dict[RawKey, int]:
        """Keys of plan table ``table`` the changelog holds after ``seq``: key -> newest seq."""
        if self.changelog is None:
            return {}
        c = self.changelog.table.c
        names = [n for n, t in self.names.items() if t == table]
        with self.changelog.dialect.connect() as conn:
            rows = conn.execute(
                sa.select(c.row_key, sa.func.max(c.seq))
                .where(c.seq > seq, c.table_name.in_(names))
                .group_by(c.row_key)
            ).all()
        return {tuple(json.loads(k)): int(s) for k, s in rows}

    def settle(self, max_lag: float, timeout: float, stop: Stop) -> str | None:
        """Wait until sync has applied every change captured now and its lag is at most
        ``max_lag``; None when it has, else why not (after ``timeout`` seconds)."""
        log = self.changelog
        if log is None or not self.applies:
            return None
        goal = self.high_water()
        deadline = time.monotonic() + timeout
        lag = 0.0
        while True:
            applied = self.applied()
            with log.dialect.connect() as conn:
                lag = log.pending(conn, applied).age
            if applied >= goal and lag <= max_lag:
                return None
            if time.monotonic() >= deadline or stop.wait(0.2):
                return (
                    f"sync had not applied change {goal} (at {applied}, lag {lag:.1f}s) within "
                    f"{timeout:g}s: is `datamove sync SPEC --follow` running?"
                )
