"""The state store: runs, per-table plans, checkpoints and rejects, kept in the target database.

Living in the target is what makes "one chunk, one transaction" possible: a chunk's rows, its
rejects and its checkpoint commit together, so a crash leaves each chunk wholly done or not.
On PostgreSQL the tables live in a ``datamove`` schema; elsewhere they are ``datamove_*``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.evidence import RejectRecord
from datamove.core.keys import KeyRange, KeyValue, decode_key, encode_key
from datamove.dialects.base import Dialect
from datamove.dialects.types import LONG_TEXT
from datamove.state.steps import StepLog

SECOND_PASS_REJECT = "second pass: "
"""How the reason of a second-pass reject starts: its row is in the target (the column NULL),
unlike the load's rejects, whose rows are not."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ChunkState:
    """A chunk's recorded state: its key range ``(lo, hi]`` and whether it is committed."""

    chunk_no: int
    lo: KeyValue | None
    hi: KeyValue | None
    done: bool
    rows: int

    @property
    def range(self) -> KeyRange:
        return KeyRange(self.lo, self.hi)


class StateStore:
    """Typed access to the state tables of one migration in one target database."""

    def __init__(self, dialect: Dialect, migration: str) -> None:
        self.dialect = dialect
        self.migration = migration
        md = sa.MetaData()

        def table(name: str, *cols: sa.Column[Any] | sa.Constraint | sa.Index) -> sa.Table:
            schema, tname = dialect.state_table_name(name)
            return sa.Table(tname, md, *cols, schema=schema)

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
        self.steps = StepLog(table("steps", *StepLog.columns()), migration)
        """Every schema action on the target, with its status (``state.steps``)."""
        self.metadata = md

    # -- setup -----------------------------------------------------------------------------

    def ensure(self, conn: Connection) -> None:
        """Create the state schema and tables when missing (idempotent)."""
        self.dialect.ensure_state_schema(conn)
        self.metadata.create_all(conn, checkfirst=True)

    def exists(self, conn: Connection) -> bool:
        schema = self.runs.schema
        return bool(sa.inspect(conn).has_table(self.runs.name, schema=schema))

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, conn: Connection, command: str) -> str:
        run_id = str(uuid.uuid4())
        conn.execute(
            self.runs.insert().values(
                run_id=run_id,
                migration=self.migration,
                command=command,
                status="running",
                started_at=_now(),
            )
        )
        return run_id

    def finish_run(
        self,
        conn: Connection,
        run_id: str,
        status: str,
        rows: int,
        rejects: int,
        error: str | None = None,
    ) -> None:
        conn.execute(
            self.runs.update()
            .where(self.runs.c.run_id == run_id)
            .values(status=status, finished_at=_now(), rows=rows, rejects=rejects, error=error)
        )

    def last_run(self, conn: Connection) -> dict[str, Any] | None:
        """The most recent run: its status (``running`` after a crash too) and error."""
        r = self.runs
        row = conn.execute(
            sa.select(r.c.run_id, r.c.status, r.c.started_at, r.c.finished_at, r.c.error)
            .where(r.c.migration == self.migration)
            .order_by(r.c.started_at.desc())
            .limit(1)
        ).first()
        return None if row is None else dict(row._mapping)

    # -- tables and chunks -----------------------------------------------------------------

    def table_hash(self, conn: Connection, table: str) -> str | None:
        t = self.tables
        return conn.execute(
            sa.select(t.c.mapping_hash).where(
                t.c.migration == self.migration, t.c.table_name == table
            )
        ).scalar()

    def plan_table(
        self,
        conn: Connection,
        table: str,
        mapping_hash: str,
        bounds: Sequence[KeyValue],
        second_pass: bool = False,
    ) -> None:
        """Record a table's chunk plan: ``len(bounds) + 1`` ranges covering the whole key space
        (with ``second_pass``, each range is also pending for the second pass)."""
        self.forget_table(conn, table)
        edges: list[KeyValue | None] = [None, *bounds, None]
        conn.execute(
            self.tables.insert().values(
                migration=self.migration,
                table_name=table,
                mapping_hash=mapping_hash,
                chunks_total=len(edges) - 1,
                planned_at=_now(),
            )
        )
        conn.execute(
            self.checkpoints.insert(),
            [
                {
                    "migration": self.migration,
                    "table_name": table,
                    "chunk_no": i,
                    "lo": encode_key(lo),
                    "hi": encode_key(hi),
                    "status": "pending",
                    "rows": 0,
                    "rejects": 0,
                    "commits": 0,
                }
                for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))
            ],
        )
        if second_pass:
            conn.execute(
                self.second_pass.insert(),
                [
                    {
                        "migration": self.migration,
                        "table_name": table,
                        "chunk_no": i,
                        "status": "pending",
                        "rows": 0,
                        "rejects": 0,
                    }
                    for i in range(len(edges) - 1)
                ],
            )

    def forget_table(self, conn: Connection, table: str) -> None:
        """Forget the table's chunks, second pass and rejects (its steps stay: ``forget_steps``)."""
        for t in (self.tables, self.checkpoints, self.second_pass, self.rejects):
            conn.execute(t.delete().where(t.c.migration == self.migration, t.c.table_name == table))

    def chunks(self, conn: Connection, table: str) -> list[ChunkState]:
        c = self.checkpoints
        rows = conn.execute(
            sa.select(c.c.chunk_no, c.c.lo, c.c.hi, c.c.status, c.c.rows)
            .where(c.c.migration == self.migration, c.c.table_name == table)
            .order_by(c.c.chunk_no)
        ).all()
        return [
            ChunkState(r.chunk_no, decode_key(r.lo), decode_key(r.hi), r.status == "done", r.rows)
            for r in rows
        ]

    def commit_chunk(
        self,
        conn: Connection,
        table: str,
        chunk_no: int,
        *,
        rows: int,
        rejects: Sequence[RejectRecord],
        path: str,
        seconds: float,
        run_id: str,
    ) -> None:
        """Record a chunk as done and replace its rejects — inside the chunk's transaction."""
        r, c = self.rejects, self.checkpoints
        conn.execute(
            r.delete().where(
                r.c.migration == self.migration, r.c.table_name == table, r.c.chunk_no == chunk_no
            )
        )
        self._add_rejects(conn, rejects, run_id)
        conn.execute(
            c.update()
            .where(
                c.c.migration == self.migration, c.c.table_name == table, c.c.chunk_no == chunk_no
            )
            .values(
                status="done",
                rows=rows,
                rejects=len(rejects),
                path=path,
                seconds=seconds,
                run_id=run_id,
                committed_at=_now(),
                commits=c.c.commits + 1,
            )
        )

    def record_rejects(
        self, conn: Connection, rejects: Sequence[RejectRecord], run_id: str
    ) -> None:
        """Record rejects found outside a chunk (``sync``), in the caller's transaction."""
        self._add_rejects(conn, rejects, run_id)

    def _add_rejects(self, conn: Connection, rejects: Sequence[RejectRecord], run_id: str) -> None:
        if not rejects:
            return
        now = _now()
        conn.execute(
            self.rejects.insert(),
            [
                {
                    "migration": self.migration,
                    "table_name": x.table,
                    "chunk_no": x.chunk_no,
                    "key": encode_key(x.key),
                    "column_name": x.column,
                    "reason": x.reason,
                    "value": x.value,
                    "run_id": run_id,
                    "created_at": now,
                }
                for x in rejects
            ],
        )

    def chunk_rejected_keys(self, conn: Connection, table: str, chunk_no: int) -> set[str]:
        """The encoded keys of the chunk's rejected rows (rows the load did not write)."""
        r = self.rejects
        return set(
            conn.execute(
                sa.select(r.c.key).where(
                    r.c.migration == self.migration,
                    r.c.table_name == table,
                    r.c.chunk_no == chunk_no,
                )
            ).scalars()
        )

    def second_pass_done(self, conn: Connection, table: str) -> set[int]:
        """The chunks whose second pass has committed."""
        p = self.second_pass
        return set(
            conn.execute(
                sa.select(p.c.chunk_no).where(
                    p.c.migration == self.migration,
                    p.c.table_name == table,
                    p.c.status == "done",
                )
            ).scalars()
        )

    def commit_second_pass(
        self,
        conn: Connection,
        table: str,
        chunk_no: int,
        *,
        rows: int,
        rejects: Sequence[RejectRecord],
        run_id: str,
    ) -> None:
        """Record a chunk's second pass as done, with its rejects — inside its transaction.

        The rejects add to the chunk's own (a second pass runs once per committed chunk; a
        restart forgets both)."""
        self._add_rejects(conn, rejects, run_id)
        p = self.second_pass
        conn.execute(
            p.update()
            .where(
                p.c.migration == self.migration, p.c.table_name == table, p.c.chunk_no == chunk_no
            )
            .values(
                status="done", rows=rows, rejects=len(rejects), run_id=run_id, committed_at=_now()
            )
        )

    def finalize_table(self, conn: Connection, table: str) -> None:
        t = self.tables
        conn.execute(
            t.update()
            .where(t.c.migration == self.migration, t.c.table_name == table)
            .values(finalized_at=_now())
        )

    # -- reading state ---------------------------------------------------------------------

    def reject_count(self, conn: Connection) -> int:
        r = self.rejects
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.migration == self.migration)
            ).scalar_one()
        )

    def list_rejects(
        self, conn: Connection, table: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        r = self.rejects
        q = sa.select(r.c.table_name, r.c.key, r.c.column_name, r.c.reason, r.c.value).where(
            r.c.migration == self.migration
        )
        if table:
            q = q.where(r.c.table_name == table)
        rows = conn.execute(q.order_by(r.c.table_name, r.c.id).limit(limit)).all()
        return [
            {
                "table": x.table_name,
                "key": json.loads(x.key),
                "column": x.column_name,
                "reason": x.reason,
                "value": x.value,
            }
            for x in rows
        ]

    def reopen_chunks(self, conn: Connection, table: str, chunk_nos: Sequence[int]) -> None:
        """Mark committed chunks as to be copied again (``repair``); their second pass too."""
        if not chunk_nos:
            return
        c, p = self.checkpoints, self.second_pass
        for t in (c, p):
            conn.execute(
                t.update()
                .where(
                    t.c.migration == self.migration,
                    t.c.table_name == table,
                    t.c.chunk_no.in_(list(chunk_nos)),
                )
                .values(status="pending")
            )

    def rejected_keys(self, conn: Connection) -> dict[str, set[KeyValue]]:
        """Per table, the keys of the rows recorded as rejects (verification expects them
        missing from the target; a second-pass reject's row is there, so it is left out)."""
        r = self.rejects
        out: dict[str, set[KeyValue]] = {}
        for table, key in conn.execute(
            sa.select(r.c.table_name, r.c.key).where(
                r.c.migration == self.migration,
                sa.not_(r.c.reason.startswith(SECOND_PASS_REJECT, autoescape=True)),
            )
        ):
            decoded = decode_key(key)
            if decoded is not None:
                out.setdefault(table, set()).add(decoded)
        return out

    def rejected_rows(self, conn: Connection) -> dict[str, int]:
        """Per table, how many source rows the rejects keep out of the target (verification's
        count expects that many fewer). A chunk's reject is one row, even where two share a
        key (NULL keys; a declared key that is not unique); a key rejected outside a chunk
        (``record_rejects``, negative chunk numbers: ``sync`` rejects a key again at each
        change) counts once, and not at all if a chunk rejected it too. Second-pass rejects
        are left out: their rows are in the target."""
        r = self.rejects
        chunk_rows: dict[str, int] = {}
        in_chunks: dict[str, set[str]] = {}
        outside: dict[str, set[str]] = {}
        for table, chunk_no, key in conn.execute(
            sa.select(r.c.table_name, r.c.chunk_no, r.c.key).where(
                r.c.migration == self.migration,
                sa.not_(r.c.reason.startswith(SECOND_PASS_REJECT, autoescape=True)),
            )
        ):
            if chunk_no >= 0:
                chunk_rows[table] = chunk_rows.get(table, 0) + 1
                in_chunks.setdefault(table, set()).add(key)
            else:
                outside.setdefault(table, set()).add(key)
        return {
            t: chunk_rows.get(t, 0) + len(outside.get(t, set()) - in_chunks.get(t, set()))
            for t in chunk_rows.keys() | outside.keys()
        }

    def table_summaries(self, conn: Connection) -> list[dict[str, Any]]:
        """Per table: chunks done/total, rows, rejects, seconds spent and, for tables with
        one, second-pass chunks done/total — for ``status``."""
        c = self.checkpoints
        rows = conn.execute(
            sa.select(
                c.c.table_name,
                sa.func.count().label("chunks_total"),
                sa.func.sum(sa.case((c.c.status == "done", 1), else_=0)).label("chunks_done"),
                sa.func.coalesce(sa.func.sum(c.c.rows), 0).label("rows"),
                sa.func.coalesce(sa.func.sum(c.c.rejects), 0).label("rejects"),
                sa.func.coalesce(sa.func.sum(c.c.seconds), 0).label("seconds"),
                sa.func.max(c.c.commits).label("max_commits"),
            )
            .where(c.c.migration == self.migration)
            .group_by(c.c.table_name)
            .order_by(c.c.table_name)
        ).all()
        steps = self._has(self.steps.t, conn) and self.steps.summaries(conn)
        second = self._second_pass_summaries(conn)
        return [
            {
                "table": r.table_name,
                "chunks_done": int(r.chunks_done or 0),
                "chunks_total": int(r.chunks_total),
                "rows": int(r.rows),
                "rejects": int(r.rejects) + second.get(r.table_name, {}).get("rejects", 0),
                "seconds": float(r.seconds),
                "rows_per_second": (float(r.rows) / float(r.seconds)) if r.seconds else None,
                "steps": (steps or {}).get(r.table_name),
                "second_pass": second.get(r.table_name),
            }
            for r in rows
        ]

    @staticmethod
    def _has(table: sa.Table, conn: Connection) -> bool:
        """Whether a state table exists (a state store from an older datamove may lack it)."""
        return bool(sa.inspect(conn).has_table(table.name, schema=table.schema))

    def created_tables(self, conn: Connection) -> set[str]:
        """Tables datamove created (their ``table`` step is recorded); none without a store."""
        if not self.exists(conn) or not self._has(self.steps.t, conn):
            return set()
        return self.steps.created_tables(conn)

    def step_statuses(self, conn: Connection, table: str) -> dict[tuple[str, str], str]:
        """The table's recorded schema steps: (kind, name) → status."""
        if not self._has(self.steps.t, conn):
            return {}
        found = self.steps.statuses(conn, table)
        return {(kind, name): status for (_, kind, name), status in found.items()}

    def unfinished_steps(self, conn: Connection) -> list[dict[str, Any]]:
        """Schema steps not done yet, for ``status``."""
        return self.steps.unfinished(conn) if self._has(self.steps.t, conn) else []

    def _second_pass_summaries(self, conn: Connection) -> dict[str, dict[str, int]]:
        """Per table with a second pass: its chunks done/total and its rejects."""
        p = self.second_pass
        if not self._has(p, conn):
            return {}  # a state store from before second passes existed
        rows = conn.execute(
            sa.select(
                p.c.table_name,
                sa.func.count().label("total"),
                sa.func.sum(sa.case((p.c.status == "done", 1), else_=0)).label("done"),
                sa.func.coalesce(sa.func.sum(p.c.rejects), 0).label("rejects"),
            )
            .where(p.c.migration == self.migration)
            .group_by(p.c.table_name)
        )
        return {
            r.table_name: {
                "done": int(r.done or 0),
                "total": int(r.total),
                "rejects": int(r.rejects),
            }
            for r in rows
        }
