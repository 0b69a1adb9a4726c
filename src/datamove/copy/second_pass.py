"""The second pass: lookup columns that could not be translated while their table loaded.

A lookup to the table itself (``employees.manager_id lookup: employees``), or to a table that
loads after this one (a broken foreign-key cycle), has no parent key to translate to while the
rows are copied. The load writes such a column NULL; once the table and the parent are both
loaded, this pass reads the source's (key, value) pairs chunk by chunk (the table's stored key
ranges), translates the values through the parent's legacy column, stages them in a temporary
table with the target's bulk write, and UPDATEs the target rows joined to it by their legacy
(or preserved) key: one set-based statement per chunk, in portable SQL.

Each chunk is one target transaction that also records the chunk's second pass as done, with
its rejects: a crash redoes only chunks that did not commit, and redoing one writes the same
values again. An orphan follows ``on_orphan``; with ``reject`` the row stays in the target
(other rows may already reference its new key) with the column NULL, and the reject counts
against ``max_rejects`` like any other.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.copy.chunk import ChunkCopier, ChunkResult
from datamove.core.evidence import RejectRecord
from datamove.core.keys import encode_key
from datamove.dialects.adapters import Adapter
from datamove.dialects.base import Row
from datamove.errors import RowError
from datamove.plan.lookup import translator
from datamove.redact import mask_value
from datamove.state.store import SECOND_PASS_REJECT, ChunkState

STAGING = "datamove_fill_staging"
"""The temporary table a chunk's new values are staged in (each connection has its own; the
name is no state table's, which it would hide while it exists)."""


class SecondPass:
    """Fills one table's deferred lookup columns, chunk by chunk; safe to share between
    worker threads (holds no connection)."""

    def __init__(self, copier: ChunkCopier) -> None:
        self.copier = copier
        self.plan = plan = copier.plan
        self.columns = plan.second_pass
        source, target = copier.source, copier.target
        infos = {c.source: c.source_info for c in plan.columns if c.source}
        src = plan.source_table
        names = [*plan.key, *(c.source for c in self.columns if c.source is not None)]
        self.exprs = [source.read_expr(src.c[n], infos.get(n)) for n in names]
        self.readers: list[Adapter | None] = [
            source.reader(info) if (info := infos.get(n)) is not None else None for n in names
        ]
        compiled = copier.compiled
        self.key_adapters = [compiled.adapters[i] for i in compiled.key_positions]
        self.adapters: list[Adapter | None] = [
            target.adapter(c.target_type) if c.target_type is not None else None
            for c in self.columns
        ]
        table = plan.target_table
        self.match = [table.c[t] for t in plan.target_key]

    def run(self, chunk: ChunkState) -> ChunkResult:
        """Fill the chunk's rows in one target transaction with its record of being done."""
        started = time.monotonic()
        copier, state = self.copier, self.copier.state
        nkey = len(self.plan.key)
        values_present = sa.or_(*(e.is_not(None) for e in self.exprs[nkey:]))
        stmt = sa.select(*self.exprs).select_from(self.plan.source_table)
        stmt = stmt.where(copier.compiled.source_filter(chunk.range), values_present)
        rows = 0
        rejects: list[RejectRecord] = []
        target = copier.target
        with copier.source.connect() as src, target.connect() as tgt, tgt.begin():
            rejected = state.chunk_rejected_keys(tgt, self.plan.name, chunk.chunk_no)
            with target.temporary_table(tgt, STAGING, self._staging_columns()) as staging:
                names = [c.name for c in staging.columns]
                for batch in copier.source.stream(src, stmt, target.WRITE_BATCH_ROWS):
                    copier.throttle(len(batch))
                    kept = [r for r in batch if encode_key(tuple(r[:nkey])) not in rejected]
                    staged = self._translate(tgt, chunk, kept, rejects)
                    target.write(tgt, staging, names, staged)
                    rows += len(staged)
                if rows:
                    tgt.execute(self._update_from(staging))
            state.commit_second_pass(
                tgt,
                self.plan.name,
                chunk.chunk_no,
                rows=rows,
                rejects=rejects,
                run_id=copier.run_id,
            )
        return ChunkResult(rows, len(rejects), "second-pass", time.monotonic() - started)

    def _translate(
        self, tgt: Connection, chunk: ChunkState, batch: list[Row], rejects: list[RejectRecord]
    ) -> list[Row]:
        """The staging rows of ``batch`` (key, then new values; rows whose values all stay
        NULL are left out); orphans under ``reject`` become rejects naming the parent and the
        key. Keys and values are what the target's adapters make them, as the load wrote."""
        nkey = len(self.plan.key)
        readers = self.readers
        rows = [
            [
                f(v) if f is not None and v is not None else v
                for v, f in zip(r, readers, strict=True)
            ]
            for r in batch
        ]
        translate = [
            translator(tgt, col, (r[nkey + j] for r in rows)) for j, col in enumerate(self.columns)
        ]
        out: list[Row] = []
        for raw, row in zip(batch, rows, strict=True):
            values: list[Any] = []
            for j, col in enumerate(self.columns):
                try:
                    value = translate[j](row[nkey + j])
                except RowError as err:
                    shown = "(pii)" if col.pii else mask_value(row[nkey + j])
                    reason = f"{SECOND_PASS_REJECT}{err.reason}; {col.target} is left NULL"
                    rejects.append(
                        RejectRecord(
                            self.plan.name,
                            chunk.chunk_no,
                            tuple(raw[:nkey]),
                            col.target,
                            reason,
                            shown,
                        )
                    )
                    value = None
                adapt = self.adapters[j]
                values.append(adapt(value) if adapt is not None and value is not None else value)
            if any(v is not None for v in values):
                key = [
                    a(v) if a is not None else v
                    for v, a in zip(row, self.key_adapters, strict=False)
                ]
                out.append(key + values)
        return out

    def _staging_columns(self) -> list[sa.Column[Any]]:
        """The staging table: the target key columns, then the new values, with the target
        columns' own types (so a staged key equals the stored one)."""
        table = self.plan.target_table
        keys = [sa.Column(f"k{i}", c.type) for i, c in enumerate(self.match)]
        values = [sa.Column(f"v{j}", table.c[c.target].type) for j, c in enumerate(self.columns)]
        return keys + values

    def _update_from(self, staging: sa.Table) -> sa.Update:
        """One UPDATE of the target rows joined to the staged ones; a column staged NULL
        keeps its value (several deferred columns of one row are staged together)."""
        table = self.plan.target_table
        sets = {
            c.target: sa.func.coalesce(staging.c[f"v{j}"], table.c[c.target])
            for j, c in enumerate(self.columns)
        }
        same = [m == staging.c[f"k{i}"] for i, m in enumerate(self.match)]
        return sa.update(table).values(sets).where(*same)
