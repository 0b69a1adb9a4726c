"""A verify's capture mark, and the keys the changelog shows changed after it.

A full verify records sync's applied changelog position as it starts (``verify_mark``): every
change up to it was in the target then, so a green verify proved those rows, and any row
changed later has a changelog entry past the mark. The cutover's final verify (under the
fence, after the drain) therefore compares only the keys ``changed_since`` the mark. Sync keeps
the changelog after the mark of the last green verify (``kept_after``; ``runner`` purges up to
it only), so they can still be read; when they cannot (no capture, a changelog renumbered or
purged past the mark by an older datamove), ``changed_since`` says why and the cutover falls
back to the full verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import SyncMode
from datamove.state.store import StateStore
from datamove.state.verified import last_green_verify, reconcile_hold
from datamove.sync.changelog import Changelog
from datamove.sync.state import SyncState


def verify_mark(compiled: CompiledPlan, migration: str, mode: SyncMode) -> int | None:
    """Sync's applied changelog position now, with trigger capture installed (else None)."""
    if mode is not SyncMode.triggers:
        return None
    with compiled.source.connect() as src:
        if not Changelog(compiled.source).exists(src):
            return None
    state = SyncState(compiled.target, migration)
    with compiled.target.connect() as tgt:
        return state.position(tgt).applied_seq if state.exists(tgt) else 0


def kept_after(tgt: Connection, state: StateStore, mapping_hash: str) -> int | None:
    """The changelog position sync must not purge past: the last green verify's mark, or
    reconcile's hold (``state.verified.reconcile_hold``) if that is lower."""
    green = last_green_verify(tgt, state, mapping_hash)
    marks = [green.changelog_seq] if green is not None else []
    marks.append(reconcile_hold(tgt, state, mapping_hash))
    found = [m for m in marks if m is not None]
    return min(found) if found else None


@dataclass(frozen=True)
class ChangedKeys:
    """Per plan table, the source keys changed after a mark (deleted ones included)."""

    keys: dict[str, list[tuple[Any, ...]]]

    @property
    def count(self) -> int:
        return sum(len(k) for k in self.keys.values())


def changed_since(compiled: CompiledPlan, migration: str, mark: int) -> ChangedKeys | str:
    """The keys changed after ``mark``, or why they cannot be known (the changelog is gone,
    or its entry ``mark + 1`` is: purged past the mark, or a rolled-back writer's hole)."""
    changelog = Changelog(compiled.source)
    c = changelog.table.c
    with compiled.source.connect() as src:
        if not changelog.exists(src):
            return "change capture is not installed on the source"
        first = src.execute(sa.select(sa.func.min(c.seq)).where(c.seq > mark)).scalar()
        if first is not None and int(first) != mark + 1:
            return f"the changelog no longer starts right after the verify's mark ({mark})"
        rows = src.execute(sa.select(c.table_name, c.row_key).where(c.seq > mark).distinct()).all()
    if first is None:
        state = SyncState(compiled.target, migration)
        with compiled.target.connect() as tgt:
            applied = state.position(tgt).applied_seq if state.exists(tgt) else 0
        if applied > mark:
            return f"the changes after the verify's mark ({mark}) were purged"
    by_source = {t.source_name: t.name for t in compiled.plan.tables.values()}
    keys: dict[str, list[tuple[Any, ...]]] = {name: [] for name in compiled.plan.order}
    for table, key in rows:
        if table in by_source:
            keys[by_source[table]].append(tuple(json.loads(key)))
    return ChangedKeys(keys)
