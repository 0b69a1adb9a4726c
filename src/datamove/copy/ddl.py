"""Target DDL from the plan: tables before the load, indexes and foreign keys after it.

Loading into a table without secondary indexes and foreign keys is much faster, and foreign
keys created after every table is loaded make the load order inside a cycle irrelevant.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint

from datamove.dialects.base import Dialect
from datamove.plan.model import ForeignKeyPlan, TablePlan


def create_table(conn: Connection, target: Dialect, plan: TablePlan) -> None:
    """Create a missing target table: columns, primary key, NOT NULL and CHECKs.

    Where the engine cannot add foreign keys later (SQLite), they go into CREATE TABLE; SQLite
    does not enforce them on datamove's connections, so the load order still does not matter.
    """
    if not target.FOREIGN_KEYS_AFTER_LOAD:
        for fk in plan.foreign_keys:
            constraint = _constraint(fk, plan.target_table.metadata, target)
            plan.target_table.append_constraint(constraint)
    plan.target_table.create(conn, checkfirst=True)
    create_partitions(conn, target, plan)


def create_partitions(conn: Connection, target: Dialect, plan: TablePlan) -> None:
    """The partitions of a table created partitioned (``TablePlan.partitioning``) that are
    not there yet: the target routes each row into one, so they exist before any chunk."""
    if plan.partitioning is not None:
        target.create_partitions(conn, plan.target_table, plan.partitioning)


def _constraint(fk: ForeignKeyPlan, md: sa.MetaData, target: Dialect) -> sa.ForeignKeyConstraint:
    """The SQLAlchemy constraint; a parent outside ``md`` (an existing table) gets a stub there,
    which is all the DDL compiler needs to name the referenced columns.

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


def create_indexes(conn: Connection, plan: TablePlan) -> list[str]:
    """Create the secondary indexes that are not there yet; returns their names."""
    existing = {i["name"] for i in sa.inspect(conn).get_indexes(plan.name)}
    made = []
    for index in plan.indexes:
        if index.name not in existing:
            table = plan.target_table
            sa.Index(index.name, *[table.c[c] for c in index.columns], unique=index.unique).create(
                conn
            )
            made.append(index.name)
    return made


def create_foreign_keys(conn: Connection, target: Dialect, plan: TablePlan) -> list[str]:
    """Add the plan's foreign keys that are not there yet; returns their names."""
    if not target.FOREIGN_KEYS_AFTER_LOAD:
        return []
    existing = {fk["name"] for fk in sa.inspect(conn).get_foreign_keys(plan.name)}
    made = []
    for fk in plan.foreign_keys:
        if fk.name in existing:
            continue
        constraint = _constraint(fk, plan.target_table.metadata, target)
        plan.target_table.append_constraint(constraint)
        conn.execute(AddConstraint(constraint))
        made.append(str(fk.name))
    return made


def clear_table(conn: Connection, plan: TablePlan) -> None:
    """Delete every target row (``--restart``): DELETE, not TRUNCATE, so it is transactional."""
    conn.execute(sa.delete(plan.target_table))
