"""Every state table, defined once: one MetaData per target, with the store's version.

The state store is one schema with one version number (``schema_version``), whatever reads or
writes it (runs, chunks, rejects, steps, checks, sync positions, flags). A table or column added
here is a new version: ``state/upgrade.py`` takes an existing store there in place. On PostgreSQL
the tables live in a ``datamove`` schema; elsewhere they are ``datamove_*``
(``Dialect.state_table_name``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.dialects.types import LONG_TEXT

CURRENT_VERSION = 8
"""The state store version this datamove reads and writes (``state/upgrade.py`` lists how each
version differs from the one before)."""

STORE = "state"
"""The ``schema_version`` row of this schema (one row: the store's version number)."""


class StateSchema:
    """The state tables of one target database, named the target's way."""

    def __init__(self, dialect: Dialect) -> None:
        self.metadata = md = sa.MetaData()

        def table(name: str, *items: sa.Column[Any] | sa.Index) -> sa.Table:
            schema, tname = dialect.state_table_name(name)
            return sa.Table(tname, md, *items, schema=schema)

        self.version = table(
            "schema_version",
            sa.Column("store", sa.String(30), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("upgraded_at", sa.DateTime, nullable=False),
        )
        self.runs = table(
            "runs",
            sa.Column("run_id", sa.String(36), primary_key=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("command", sa.String(20), nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("rows", sa.BigInteger),
            sa.Column("rejects", sa.Integer),
            sa.Column("error", LONG_TEXT),
            sa.Column("datamove_version", sa.String(40)),  # version 2
            sa.Column("mapping_hash", sa.String(64)),  # version 5: a full verify's mapping
            sa.Column("changelog_seq", sa.BigInteger),  # version 6: a full verify's capture mark
        )
        self.tables = table(
            "tables",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("mapping_hash", sa.String(64), nullable=False),
            sa.Column("chunks_total", sa.Integer, nullable=False),
            sa.Column("planned_at", sa.DateTime, nullable=False),
            sa.Column("finalized_at", sa.DateTime),
        )
        self.checkpoints = table(
            "checkpoints",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("chunk_no", sa.Integer, primary_key=True),
            sa.Column("lo", sa.Text),
            sa.Column("hi", sa.Text),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("rejects", sa.Integer, nullable=False),
            sa.Column("path", sa.String(20)),
            sa.Column("seconds", sa.Float),
            sa.Column("commits", sa.Integer, nullable=False),
            sa.Column("run_id", sa.String(36)),
            sa.Column("committed_at", sa.DateTime),
        )
        self.second_pass = table(
            "second_pass",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("chunk_no", sa.Integer, primary_key=True),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("rejects", sa.Integer, nullable=False),
            sa.Column("run_id", sa.String(36)),
            sa.Column("committed_at", sa.DateTime),
        )
        self.rejects = table(
            "rejects",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("table_name", sa.String(255), nullable=False),
            sa.Column("chunk_no", sa.Integer, nullable=False),
            sa.Column("key", sa.Text, nullable=False),
            sa.Column("column_name", sa.String(255)),
            sa.Column("reason", LONG_TEXT, nullable=False),
            sa.Column("value", LONG_TEXT),
            sa.Column("run_id", sa.String(36)),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Index(None, "migration", "table_name", "chunk_no"),
        )
        self.steps = table(
            "steps",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("kind", sa.String(20), primary_key=True),
            sa.Column("name", sa.String(255), primary_key=True),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("run_when", sa.String(200), nullable=False),
            sa.Column("error", LONG_TEXT),
            sa.Column("run_id", sa.String(36)),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("started_at", sa.DateTime),  # version 5: a cutover step's start
            sa.Column("output", LONG_TEXT),  # version 5: a cutover step's output (redacted)
        )
        self.checks = table(
            "checks",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("run_id", sa.String(36), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(30), nullable=False),
            sa.Column("table_name", sa.String(255)),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("expected", LONG_TEXT),
            sa.Column("actual", LONG_TEXT),
            sa.Column("details", LONG_TEXT),
            sa.Column("seconds", sa.Float),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Index(None, "migration", "run_id"),
        )
        self.sync = table(
            "sync",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("applied_seq", sa.BigInteger, nullable=False),
            sa.Column("watermark", sa.Text),
            sa.Column("applied_total", sa.BigInteger, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
        self.captures = table(
            "captures",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("active_at_backfill", sa.Boolean, nullable=False),
            sa.Column("checked_at", sa.DateTime, nullable=False),
            sa.Column("warned_at", sa.DateTime),  # version 4
        )
        self.watermarks = table(
            "watermarks",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("table_name", sa.String(255), primary_key=True),
            sa.Column("watermark", sa.Text),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
        self.flags = table(  # version 3: the read-path flags (``datamove.flags``)
            "flags",
            sa.Column("migration", sa.String(100), primary_key=True),
            sa.Column("name", sa.String(255), primary_key=True),
            sa.Column("targeting_key", sa.String(255), primary_key=True),  # '': every tenant
            sa.Column("value", LONG_TEXT, nullable=False),  # JSON
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("updated_by", sa.String(255), nullable=False),
        )
        self.flag_history = table(  # version 3: every flag set, who and when
            "flag_history",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("targeting_key", sa.String(255), nullable=False),
            sa.Column("previous", LONG_TEXT),  # JSON; NULL: was not set
            sa.Column("value", LONG_TEXT, nullable=False),
            sa.Column("changed_at", sa.DateTime, nullable=False),
            sa.Column("changed_by", sa.String(255), nullable=False),
            sa.Column("note", sa.String(255)),
            sa.Index(None, "migration", "name"),
        )
        self.documents = table(  # version 7: each mapping document written, for the report
            "documents",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("mapping_hash", sa.String(64), nullable=False),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("digest", sa.String(64), nullable=False),  # sha256 of the text written
            sa.Column("invariants", sa.Integer, nullable=False),
            sa.Column("written_at", sa.DateTime, nullable=False),
        )
        self.signoffs = table(  # version 7: named approvals, each bound to what it saw
            "signoffs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("role", sa.String(255)),
            sa.Column("digest", sa.String(64), nullable=False),  # of the evidence it saw
            sa.Column("mapping_hash", sa.String(64)),
            sa.Column("last_check_id", sa.Integer),  # the newest check it saw
            sa.Column("evidence", LONG_TEXT, nullable=False),  # JSON: the checklist it saw
            sa.Column("signed_at", sa.DateTime, nullable=False),
        )
        self.shadow_reads = table(  # version 8: dual-write's sampled shadow comparisons
            "shadow_reads",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("migration", sa.String(100), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("stage", sa.String(20), nullable=False),
            sa.Column("ratio", sa.Float, nullable=False),  # the share of reads compared
            sa.Column("status", sa.String(20), nullable=False),  # passed, failed, error
            sa.Column("row_key", sa.Text),
            sa.Column("details", LONG_TEXT),  # JSON: both results, or the error
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Index(None, "migration", "created_at"),
        )

    @property
    def data_tables(self) -> list[sa.Table]:
        """Every state table but ``schema_version``: one of them present without a version
        row is a store from before versions (version 1)."""
        return [t for t in self.metadata.sorted_tables if t is not self.version]
