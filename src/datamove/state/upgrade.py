"""Forward migrations of the state store: from the version a target holds to ``CURRENT_VERSION``,
in place, keeping every row.

Version 1 is the store of the releases before versions: the tables of ``state/schema.py`` less
what a later version added, and no ``schema_version`` row. ``ensure`` makes a target current:
a fresh one gets the current tables and version directly; an older one gets its missing tables
(created current), then each upgrade after its version, then its new version. Every upgrade is
idempotent (it looks in the catalog before it acts), because MySQL commits each DDL statement by
itself: a process killed half-way leaves a store the next ``ensure`` finishes. Concurrent
processes take ``Dialect.state_lock`` and look again under it, so one upgrades and the others
find the store current.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.errors import UsageError
from datamove.state.schema import CURRENT_VERSION, STORE, StateSchema


@dataclass(frozen=True)
class Upgrade:
    """One step from version ``version - 1`` to ``version`` (idempotent)."""

    version: int
    summary: str
    apply: Callable[[Connection, StateSchema], None]


def _add_column(conn: Connection, column: sa.Column[Any]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` as the schema defines the column, unless it is there."""
    table = column.table
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    if column.name in present:
        return
    spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
    name = conn.dialect.identifier_preparer.format_table(table)
    conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {spec}")


def _runs_record_the_datamove_version(conn: Connection, schema: StateSchema) -> None:
    _add_column(conn, schema.runs.c.datamove_version)


def _flags_and_their_history(conn: Connection, schema: StateSchema) -> None:
    for table in (schema.flags, schema.flag_history):
        table.create(conn, checkfirst=True)


def _captures_remember_the_warning(conn: Connection, schema: StateSchema) -> None:
    _add_column(conn, schema.captures.c.warned_at)


def _cutover_evidence(conn: Connection, schema: StateSchema) -> None:
    _add_column(conn, schema.runs.c.mapping_hash)
    _add_column(conn, schema.steps.c.started_at)
    _add_column(conn, schema.steps.c.output)


def _verify_marks(conn: Connection, schema: StateSchema) -> None:
    _add_column(conn, schema.runs.c.changelog_seq)


def _signoff_evidence(conn: Connection, schema: StateSchema) -> None:
    for table in (schema.documents, schema.signoffs):
        table.create(conn, checkfirst=True)


def _shadow_reads(conn: Connection, schema: StateSchema) -> None:
    schema.shadow_reads.create(conn, checkfirst=True)


UPGRADES: tuple[Upgrade, ...] = (
    Upgrade(
        2,
        "runs.datamove_version: the datamove that recorded each run (NULL for older runs)",
        _runs_record_the_datamove_version,
    ),
    Upgrade(
        3,
        "flags and flag_history: the read-path flags and who set each, when (datamove.flags)",
        _flags_and_their_history,
    ),
    Upgrade(
        4,
        "captures.warned_at: when sync warned that the table was backfilled before capture "
        "(NULL: not yet; a store upgraded from an older version warns once more)",
        _captures_remember_the_warning,
    ),
    Upgrade(
        5,
        "runs.mapping_hash (a full verify's mapping, for the cutover's verified_within gate), "
        "steps.started_at and steps.output (the cutover's recorded steps)",
        _cutover_evidence,
    ),
    Upgrade(
        6,
        "runs.changelog_seq: the capture changelog position a full verify started at (the "
        "cutover's final verify checks only the keys changed after it; NULL: no capture)",
        _verify_marks,
    ),
    Upgrade(
        7,
        "documents and signoffs: each mapping document written (its mapping and digest) and "
        "each named sign-off with the digest of the evidence it saw (``datamove report``)",
        _signoff_evidence,
    ),
    Upgrade(
        8,
        "shadow_reads: dual-write's sampled comparisons of one read on both stores, with the "
        "sampling ratio (``datamove.dualwrite``); a mismatch fails the verified_within gate",
        _shadow_reads,
    ),
)
"""Version 2 onwards, in order: ``UPGRADES[i].version == i + 2``, the last is current."""


def stored_version(conn: Connection, schema: StateSchema, *, locking: bool = False) -> int | None:
    """The target's state store version: its ``schema_version`` row; 1 for state tables
    without one (a store from before versions); None when there is no state store.
    ``locking`` reads the row as the latest committed one and locks it (under the state lock)."""
    version = schema.version
    present = set(sa.inspect(conn).get_table_names(schema=version.schema))
    if version.name in present:
        query = sa.select(version.c.version).where(version.c.store == STORE)
        found = conn.execute(query.with_for_update() if locking else query).scalar()
        if found is not None:
            return int(found)
    return 1 if any(t.name in present for t in schema.data_tables) else None


def refuse_newer(version: int | None) -> None:
    """A store written by a newer datamove may hold what this one cannot read or would undo."""
    if version is not None and version > CURRENT_VERSION:
        raise UsageError(
            f"state store version {version} is newer than this datamove ({CURRENT_VERSION}): "
            "upgrade datamove",
            hint="install the datamove release that last wrote this target's state store",
        )


def ensure(conn: Connection, dialect: Dialect, schema: StateSchema) -> None:
    """Make the target's state store current (create or upgrade it in place), inside the
    caller's transaction; a store newer than this datamove is refused (``UsageError``)."""
    found = stored_version(conn, schema)
    refuse_newer(found)
    if found == CURRENT_VERSION:
        return
    with dialect.state_lock(conn):
        found = stored_version(conn, schema, locking=True)
        refuse_newer(found)
        if found == CURRENT_VERSION:
            return  # another process made it current while this one waited
        dialect.ensure_state_schema(conn)
        schema.metadata.create_all(conn, checkfirst=True)
        for step in UPGRADES:
            if found is not None and step.version > found:
                step.apply(conn, schema)
        _set_version(conn, schema)


def _set_version(conn: Connection, schema: StateSchema) -> None:
    v = schema.version
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    values = {"version": CURRENT_VERSION, "upgraded_at": now}
    if not conn.execute(v.update().where(v.c.store == STORE).values(values)).rowcount:
        conn.execute(v.insert().values(store=STORE, **values))
