"""A version-1 state store, frozen: the tables exactly as the release before versions created
them (``state/store.py``, ``state/checks.py``, ``state/steps.py``, ``sync/state.py`` at commit
48e27fa, three MetaData, ``create_all(checkfirst)``), filled with one migration's evidence.

Never edit these definitions to follow the code: they are what existing targets hold.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.dialects.base import Dialect
from datamove.dialects.types import LONG_TEXT

STARTED = dt.datetime(2024, 5, 1, 12, 0, 0)
FINISHED = dt.datetime(2024, 5, 1, 12, 5, 0)


def _store_tables(dialect: Dialect) -> sa.MetaData:
    md = sa.MetaData()

    def table(name: str, *cols: Any) -> sa.Table:
        schema, tname = dialect.state_table_name(name)
        return sa.Table(tname, md, *cols, schema=schema)

    table(
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
    )
    table(
        "tables",
        sa.Column("migration", sa.String(100), primary_key=True),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("mapping_hash", sa.String(64), nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("planned_at", sa.DateTime, nullable=False),
        sa.Column("finalized_at", sa.DateTime),
    )
    table(
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
    table(
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
    table(
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
    table(
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
    )
    return md


def _check_tables(dialect: Dialect) -> sa.MetaData:
    md = sa.MetaData()
    schema, name = dialect.state_table_name("checks")
    sa.Table(
        name,
        md,
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
        schema=schema,
    )
    return md


def _sync_tables(dialect: Dialect) -> sa.MetaData:
    md = sa.MetaData()

    def table(name: str, *cols: Any) -> sa.Table:
        schema, tname = dialect.state_table_name(name)
        return sa.Table(tname, md, *cols, schema=schema)

    table(
        "sync",
        sa.Column("migration", sa.String(100), primary_key=True),
        sa.Column("applied_seq", sa.BigInteger, nullable=False),
        sa.Column("watermark", sa.Text),
        sa.Column("applied_total", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    table(
        "captures",
        sa.Column("migration", sa.String(100), primary_key=True),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("active_at_backfill", sa.Boolean, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
    )
    table(
        "watermarks",
        sa.Column("migration", sa.String(100), primary_key=True),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("watermark", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    return md


def v1_tables(dialect: Dialect) -> dict[str, sa.Table]:
    """Every version-1 state table by its short name (``runs``, ``checks``, ``sync``, ...)."""
    tables: dict[str, sa.Table] = {}
    for md in (_store_tables(dialect), _check_tables(dialect), _sync_tables(dialect)):
        for t in md.tables.values():
            tables[t.name.removeprefix("datamove_")] = t
    return tables


def create_v1(conn: Connection, dialect: Dialect) -> dict[str, sa.Table]:
    """Create the version-1 store as that release did (its ``ensure`` calls)."""
    dialect.ensure_state_schema(conn)
    for md in (_store_tables(dialect), _check_tables(dialect), _sync_tables(dialect)):
        md.create_all(conn, checkfirst=True)
    return v1_tables(dialect)


EVIDENCE: dict[str, list[dict[str, Any]]] = {
    "runs": [
        {
            "run_id": "run-1",
            "migration": "m",
            "command": "run",
            "status": "ok",
            "started_at": STARTED,
            "finished_at": FINISHED,
            "rows": 3,
            "rejects": 1,
            "error": None,
        },
        {
            "run_id": "verify-1",
            "migration": "m",
            "command": "verify",
            "status": "failed",
            "started_at": FINISHED,
            "finished_at": FINISHED,
            "rows": 0,
            "rejects": 0,
            "error": "1 check(s) failed",
        },
    ],
    "tables": [
        {
            "migration": "m",
            "table_name": "orders",
            "mapping_hash": "h" * 64,
            "chunks_total": 2,
            "planned_at": STARTED,
            "finalized_at": FINISHED,
        }
    ],
    "checkpoints": [
        {
            "migration": "m",
            "table_name": "orders",
            "chunk_no": n,
            "lo": lo,
            "hi": hi,
            "status": "done",
            "rows": rows,
            "rejects": rejects,
            "path": "rows",
            "seconds": 0.5,
            "commits": 1,
            "run_id": "run-1",
            "committed_at": FINISHED,
        }
        for n, lo, hi, rows, rejects in ((0, None, "[2]", 2, 0), (1, "[2]", None, 1, 1))
    ],
    "second_pass": [
        {
            "migration": "m",
            "table_name": "orders",
            "chunk_no": n,
            "status": "done",
            "rows": 1,
            "rejects": 0,
            "run_id": "run-1",
            "committed_at": FINISHED,
        }
        for n in (0, 1)
    ],
    "rejects": [
        {
            "migration": "m",
            "table_name": "orders",
            "chunk_no": 1,
            "key": '[{"$date":"2024-05-01"},4]',
            "column_name": "amount",
            "reason": "cast: decimal(12,2) has 2 decimal places",
            "value": "Decimal(19*****, len=6)",
            "run_id": "run-1",
            "created_at": FINISHED,
        }
    ],
    "steps": [
        {
            "migration": "m",
            "table_name": "orders",
            "kind": kind,
            "name": name,
            "status": status,
            "run_when": "after the table's load",
            "error": error,
            "run_id": "run-1",
            "updated_at": FINISHED,
        }
        for kind, name, status, error in (
            ("table", "orders", "done", None),
            ("foreign_key", "orders_customer_fkey", "failed", "no customers row 9"),
        )
    ],
    "checks": [
        {
            "migration": "m",
            "run_id": "verify-1",
            "name": "orders: count",
            "kind": "count",
            "table_name": "orders",
            "status": "failed",
            "expected": "3",
            "actual": "2",
            "details": json.dumps({"source_rows": 3}),
            "seconds": 0.25,
            "created_at": FINISHED,
        }
    ],
    "sync": [
        {
            "migration": "m",
            "applied_seq": 42,
            "watermark": None,
            "applied_total": 40,
            "updated_at": FINISHED,
        }
    ],
    "captures": [
        {
            "migration": "m",
            "table_name": "orders",
            "active_at_backfill": True,
            "checked_at": STARTED,
        }
    ],
    "watermarks": [
        {"migration": "m", "table_name": "orders", "watermark": "[7]", "updated_at": FINISHED}
    ],
}
"""One migration's evidence in every version-1 table (``rejects`` and ``checks`` without
their generated ids)."""


def fill_v1(conn: Connection, tables: dict[str, sa.Table]) -> None:
    for name, rows in EVIDENCE.items():
        conn.execute(tables[name].insert(), rows)


def v1_rows(conn: Connection, tables: dict[str, sa.Table]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every version-1 table, version-1 columns only, in a stable order."""
    out = {}
    for name, t in tables.items():
        rows = conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()
        out[name] = [tuple(r) for r in rows]
    return out
