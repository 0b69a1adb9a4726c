"""The last green verify of a mapping: when it ended, and the capture position it started at.

The cutover's ``verified_within`` gate reads its time; its final verify reads its changelog
position (``runs.changelog_seq``) to check only the keys changed after it; sync keeps the
changelog after that position (``sync.runner``) so those keys can still be read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import RunCommand, RunStatus
from datamove.state import upgrade
from datamove.state.store import StateStore


@dataclass(frozen=True)
class GreenVerify:
    """A verify of the whole mapping with every check passed."""

    run_id: str
    finished_at: dt.datetime
    changelog_seq: int | None
    """Sync's applied changelog position when it started (None: no trigger capture)."""


def last_green_verify(conn: Connection, state: StateStore, mapping_hash: str) -> GreenVerify | None:
    """The latest verify of the whole ``mapping_hash`` with every check passed, or None."""
    return last_green(conn, state, mapping_hash, RunCommand.verify)


def last_green(
    conn: Connection, state: StateStore, mapping_hash: str, command: RunCommand
) -> GreenVerify | None:
    """The latest ``command`` run (``verify``, or a ``reconcile`` round) of the whole
    ``mapping_hash`` with every check passed, or None."""
    version = upgrade.stored_version(conn, state.schema) if state.readable(conn) else None
    if (version or 0) < 5:
        return None  # no store, or one from before verify runs recorded their mapping
    r = state.runs
    mark = r.c.changelog_seq if version and version >= 6 else sa.null()
    row = conn.execute(
        sa.select(r.c.run_id, r.c.finished_at, mark)
        .where(
            r.c.migration == state.migration,
            r.c.command == command.value,
            r.c.status == RunStatus.ok.value,
            r.c.mapping_hash == mapping_hash,
        )
        .order_by(r.c.finished_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return GreenVerify(row[0], row[1], None if row[2] is None else int(row[2]))


def reconcile_hold(conn: Connection, state: StateStore, mapping_hash: str) -> int | None:
    """The changelog position reconcile needs kept (``sync.marks.kept_after``): the last
    green round's mark (an incremental round reads the keys changed since it) and, while the
    newest round runs, its own start mark (its re-checks read the changes after it). A
    round killed while running holds its mark until the next round starts."""
    version = upgrade.stored_version(conn, state.schema) if state.readable(conn) else None
    if (version or 0) < 6:
        return None
    r = state.runs
    newest = conn.execute(
        sa.select(r.c.status, r.c.changelog_seq)
        .where(r.c.migration == state.migration, r.c.command == RunCommand.reconcile.value)
        .order_by(r.c.started_at.desc())
        .limit(1)
    ).first()
    green = last_green(conn, state, mapping_hash, RunCommand.reconcile)
    marks = [green.changelog_seq] if green is not None else []
    if newest is not None and newest[0] == RunStatus.running.value:
        marks.append(newest[1])
    found = [int(m) for m in marks if m is not None]
    return min(found) if found else None
