"""``datamove capture install | status | uninstall`` and the capture-before-backfill record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.errors import UsageError
from datamove.plan.model import Plan, TablePlan
from datamove.spec.models import SyncMode, SyncSpec
from datamove.state.store import StateStore
from datamove.sync.changelog import Changelog
from datamove.sync.state import SyncState


@dataclass
class CaptureStatus:
    """Capture on the source and catch-up in the target, per table."""

    installed: bool
    applied_seq: int = 0
    pending: int = 0
    lag_seconds: float = 0.0
    tables: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "applied_seq": self.applied_seq,
            "pending": self.pending,
            "lag_seconds": round(self.lag_seconds, 3),
            "tables": self.tables,
        }


def require_triggers(sync: SyncSpec) -> None:
    """Refuses, before anything is created on the source, a spec whose catch-up does not
    read capture triggers: it would never apply what they record."""
    if sync.mode is SyncMode.watermark:
        raise UsageError(
            f"capture install: sync mode watermark catches up by the {sync.column!r} column "
            "and reads no changelog; nothing was installed",
            spec_path="sync.mode",
            hint="for trigger capture set `mode: triggers` (and drop `column:`)",
        )
    if sync.mode is not SyncMode.triggers:
        raise UsageError(
            "capture install: the spec has no `sync:` (no catch-up), so nothing would apply "
            "what capture records; nothing was installed",
            spec_path="sync",
            hint="add to the spec, then run `datamove capture install SPEC` before `datamove "
            "run SPEC`:\n\n    sync:\n      mode: triggers\n",
        )


def install(
    plan: Plan, source: Dialect, target: Dialect, migration: str, tables: Sequence[str] = ()
) -> list[str]:
    """Create the changelog and the triggers of ``tables`` (default: all in the plan); a new
    changelog numbers from 1 again, so the target's sync position starts over with it."""
    names = list(tables) or plan.order
    with source.connect() as conn, conn.begin():
        created = Changelog(source).install(conn, plan, names)
    if created:
        sync_state = SyncState(target, migration)
        with target.connect() as tgt, tgt.begin():
            sync_state.ensure(tgt)
            sync_state.reset(tgt)
    return names


def uninstall(plan: Plan, source: Dialect) -> None:
    with source.connect() as conn, conn.begin():
        Changelog(source).uninstall(conn, plan)


def status(plan: Plan, source: Dialect, target: Dialect, migration: str) -> CaptureStatus:
    changelog = Changelog(source)
    sync_state = SyncState(target, migration)
    with target.connect() as tgt:
        tracked = sync_state.exists(tgt)
        applied = sync_state.position(tgt).applied_seq if tracked else 0
        at_backfill = sync_state.captures_at_backfill(tgt) if tracked else {}
    with source.connect() as src:
        if not changelog.exists(src):
            return CaptureStatus(False)
        captured = changelog.captured(src, plan)
        pending = changelog.pending(src, applied)
    tables = [
        {
            "table": name,
            "capture": captured.get(name, False),
            "active_at_backfill": at_backfill.get(name),
            "pending": pending.per_table.get(plan.tables[name].source_name, 0),
        }
        for name in plan.order
    ]
    return CaptureStatus(True, applied, pending.count, pending.age, tables)


def record_backfill(
    plan: Plan,
    source: Dialect,
    target: Dialect,
    state: StateStore,
    tables: Sequence[str],
    restart: Sequence[str],
    watermark_column: str | None,
) -> None:
    """Record, for every table whose backfill starts now, whether capture is active — and in
    watermark mode the column's highest value before the copy reads a row (changes from
    then on are caught up)."""
    changelog, sync_state = Changelog(source), SyncState(target, state.migration)
    with target.connect() as tgt:
        starting = [
            name
            for name in tables or plan.order
            if name in restart or not (state.exists(tgt) and state.chunks(tgt, name))
        ]
    if not starting:
        return
    with source.connect() as src:
        captured = changelog.captured(src, plan) if changelog.exists(src) else {}
        marks = {
            name: watermark_start(src, plan.tables[name], watermark_column)
            for name in starting
            if watermark_column
        }
    with target.connect() as tgt, tgt.begin():
        sync_state.ensure(tgt)
        for name in starting:
            if name in restart:
                sync_state.forget_capture(tgt, name)
            sync_state.record_capture(tgt, name, captured.get(name, False))
            if name in marks:
                sync_state.set_watermark(tgt, name, marks[name], only_if_unset=True)


def watermark_start(src: Connection, table: TablePlan, column: str | None) -> Any:
    """The highest value of the watermark column in ``table`` now (None: empty table)."""
    if column is None or column not in table.source_table.c:
        return None
    col = table.source_table.c[column]
    return src.execute(sa.select(sa.func.max(col))).scalar_one_or_none()
