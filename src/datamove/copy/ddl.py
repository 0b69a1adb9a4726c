"""Target DDL from the plan: a created table, its indexes, foreign keys and restart drop.

Loading into a table without secondary indexes and foreign keys is much faster, and foreign
keys added after every table is loaded make the load order inside a cycle irrelevant. Each
function does one schema action; ``copy.schema`` records each as a step.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.dialects.schemasql import ForeignKeyRef, IndexShape
from datamove.plan.model import ForeignKeyPlan, TablePlan


def create_table(conn: Connection, target: Dialect, plan: TablePlan) -> None:
    """Create the table as the plan describes it: columns, primary key, NOT NULL, identities,
    defaults and CHECKs.

    Where the engine cannot add foreign keys later (SQLite), they go into CREATE TABLE; SQLite
    does not enforce them on datamove's connections, so the load order still does not matter.
    """
    assert plan.desired_table is not None
    md = sa.MetaData()
    table = plan.desired_table.to_metadata(md)
    if not target.FOREIGN_KEYS_AFTER_LOAD:
        for fk in plan.foreign_keys:
            table.append_constraint(constraint(fk, md, target))
    table.create(conn, checkfirst=True)
    create_partitions(conn, target, plan)


def create_partitions(conn: Connection, target: Dialect, plan: TablePlan) -> None:
    """The partitions of a table created partitioned (``TablePlan.partitioning``) that are
    not there yet: the target routes each row into one, so they exist before any chunk."""
    if plan.partitioning is not None:
        target.schema.create_partitions(conn, plan.target_table, plan.partitioning)


def drop_table(conn: Connection, plan: TablePlan) -> None:
    """Drop a table datamove created (``--restart``: it is made again from the current plan)."""
    sa.Table(plan.name, sa.MetaData()).drop(conn, checkfirst=True)


def clear_table(conn: Connection, plan: TablePlan) -> None:
    """Delete every target row (``--restart``): DELETE, not TRUNCATE, so it is transactional."""
    conn.execute(sa.delete(plan.target_table))


def constraint(fk: ForeignKeyPlan, md: sa.MetaData, target: Dialect) -> sa.ForeignKeyConstraint:
    """The SQLAlchemy constraint; a parent not in ``md`` gets a stub there, which is all the
    DDL compiler needs to name the referenced columns.

    Deferrable where the engine can defer: a chunk copied again (``repair``) deletes and
    re-inserts parent rows that children reference, checked at commit."""
    if fk.parent not in md.tables:
        sa.Table(fk.parent, md, *[sa.Column(c, sa.Integer) for c in fk.parent_columns])
    return sa.ForeignKeyConstraint(
        list(fk.columns),
        [f"{fk.parent}.{c}" for c in fk.parent_columns],
        name=fk.name,
        ondelete=fk.ondelete,
        onupdate=fk.onupdate,
        deferrable=True if target.DEFERRABLE_FOREIGN_KEYS else None,
        initially="IMMEDIATE" if target.DEFERRABLE_FOREIGN_KEYS else None,
    )


def add_foreign_key(conn: Connection, target: Dialect, plan: TablePlan, fk: ForeignKeyPlan) -> None:
    """Add ``fk`` to the table without checking its rows (``validate_foreign_key`` does)."""
    md = sa.MetaData()
    names = dict.fromkeys([*fk.columns, *(fk.parent_columns if fk.parent == plan.name else ())])
    child = sa.Table(plan.name, md, *[sa.Column(c, sa.Integer) for c in names])
    made = constraint(fk, md, target)
    child.append_constraint(made)
    target.schema.add_foreign_key(conn, made)


def create_index(conn: Connection, target: Dialect, plan: TablePlan, index: IndexShape) -> None:
    target.schema.create_index(conn, plan.target_table, index)


def foreign_key_ref(plan: TablePlan, parent: TablePlan, fk: ForeignKeyPlan) -> ForeignKeyRef:
    return ForeignKeyRef(
        fk.name,
        plan.target_table,
        fk.columns,
        parent.target_table,
        fk.parent_columns,
        tuple(plan.target_key),
    )
