"""What ``status`` shows of a dual-write migration: the stage the flag holds, the drift rows
still open on each side, and the shadow reads (mismatches since the last green verify)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from datamove.dialects.base import Dialect
from datamove.errors import DatamoveError
from datamove.flags.store import FlagStore
from datamove.plan.model import Plan
from datamove.state.drift import DriftTable
from datamove.state.shadows import ShadowReads, ShadowSummary
from datamove.state.store import StateStore
from datamove.state.verified import last_green_verify


@dataclass(frozen=True)
class DualWriteStatus:
    stage: str | None
    """The flag's value for every key (None: not set, the application writes old only)."""
    drift_old: int | None
    """Open drift rows in the old store (``sync`` repairs them); None: it could not be read."""
    drift_new: int | None
    """Open drift rows in the new store (written while the new store was authoritative)."""
    shadow: ShadowSummary
    """Every shadow read recorded."""
    mismatches_since_verify: int
    """Shadow mismatches after the last green verify: they fail the verified_within gate."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open_drift(dialect: Dialect) -> int | None:
    try:
        with dialect.connect() as conn:
            return DriftTable().count_open(conn)
    except DatamoveError:  # a store that is down: status still shows the rest
        return None


def dual_write_status(
    plan: Plan, source: Dialect, target: Dialect, migration: str, flag: str
) -> DualWriteStatus:
    state = StateStore(target, migration)
    reads = ShadowReads(target, migration)
    with target.connect() as conn:
        reading = FlagStore(target, migration).read(conn, flag) if state.readable(conn) else None
        green = last_green_verify(conn, state, plan.mapping_hash)
        since = reads.summary(conn, green.finished_at) if green else reads.summary(conn)
        shadow = reads.summary(conn)
    stage = None if reading is None or reading.setting is None else str(reading.setting.value)
    return DualWriteStatus(
        stage, _open_drift(source), _open_drift(target), shadow, since.mismatched
    )
