"""Every piece of SQL the user wrote, and every table datamove will create, tried at ``plan``.

A bad ``where:`` or a type the target refuses used to fail in the middle of ``run``, after
the state store and the first tables existed. Here each is judged by the server that will
run it, without running it or leaving anything behind:

- the source SELECT each table is copied with (``where``, ``deletes.when``, ``sql`` steps
  pushed into it), with ``LIMIT 0``; when it fails, each fragment alone, to name the one;
- each invariant's and shadow query's SQL, with ``EXPLAIN``, on the side it runs on (a
  target query that fails only because the run has not created its table yet is a note);
- each table datamove creates, as a temporary table (``SchemaSQL.probe_table``);
- the tables and columns that ``checks`` name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.plan.compiled import CompiledTable
from datamove.plan.context import E, N, ResolverBase, closest
from datamove.plan.model import TablePlan
from datamove.redact import redact_text
from datamove.spec.models import Invariant, SyncMode


def refusal(conn: Connection, stmt: sa.Executable) -> sa.exc.StatementError | None:
    """The server's error for ``stmt``, or None when it runs (the connection's transaction is
    rolled back after an error, so the next statement runs)."""
    try:
        conn.execute(stmt).close()
    except sa.exc.StatementError as exc:
        conn.rollback()
        return exc
    return None


def reason(exc: sa.exc.StatementError) -> str:
    """The first line of the server's message (passwords masked)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return redact_text(text.splitlines()[0] if text else type(exc).__name__)


class SqlChecks(ResolverBase):
    """The checks above, as findings (part of the ``Resolver``)."""

    def check_sql(
        self, src: Connection, tgt: Connection, tables: dict[str, TablePlan], queries: bool
    ) -> set[str]:
        """Add a finding for each refusal; returns the tables whose source SELECT the source
        refuses (their data lints, which run it, are skipped). ``queries``: also the
        invariants and shadow queries (not for ``verify``, which runs them as its checks and
        records a refusal as that check's error, the other checks still running)."""
        refused = {name for name, plan in tables.items() if not self._source_select(src, plan)}
        for plan in tables.values():
            if plan.create and not plan.exists and not self.target.read_only:
                self._created_table(tgt, plan)
        pending = any(p.create and not p.exists for p in tables.values())
        for kind, listed in (
            ("invariants", self.spec.invariants if queries else []),
            ("checks.shadow", self.spec.checks.shadow if queries else []),
        ):
            for i, query in enumerate(listed):
                self._query(src, tgt, query, f"{kind}[{i}]", pending)
        self._check_references(tables)
        return refused

    # -- the source SELECT ----------------------------------------------------------------

    def _source_select(self, src: Connection, plan: TablePlan) -> bool:
        if any(f.table == plan.name and f.severity is E for f in self.findings):
            return True  # the table has errors already: fix those first
        compiled = CompiledTable(plan, self.source, self.target)
        refused = refusal(src, compiled.select().limit(0))
        if refused is None:
            return True
        path = f"tables.{plan.name}"
        found = False
        for fragment_path, stmt in self._fragments(plan, compiled, path):
            error = refusal(src, stmt.limit(0))
            if error is not None:
                found = True
                message = f"the source refuses this SQL: {reason(error)}"
                self.add(E, "source-sql", message, fragment_path, plan.name)
        if not found:
            message = f"the source refuses the table's SELECT: {reason(refused)}"
            self.add(E, "source-sql", message, path, plan.name)
        return False

    def _fragments(
        self, plan: TablePlan, compiled: CompiledTable, path: str
    ) -> Iterable[tuple[str, sa.Select[Any]]]:
        """Each user-written piece of the SELECT alone, with its spec path."""
        tspec = self.spec.tables[plan.name]
        one = sa.select(sa.literal(1)).select_from(plan.source_table)
        if tspec.where:
            yield f"{path}.where", one.where(sa.text(f"({tspec.where})"))
        if tspec.deletes.when:
            yield f"{path}.deletes.when", one.where(sa.text(f"({tspec.deletes.when})"))
        for col in compiled.written:
            yield f"{path}.columns.{col.target}", one.add_columns(compiled.expr(col))

    # -- the tables datamove creates --------------------------------------------------------

    def _created_table(self, tgt: Connection, plan: TablePlan) -> None:
        if plan.desired_table is None:
            return
        try:
            self.target.schema.probe_table(tgt, plan.desired_table)
        except sa.exc.StatementError as exc:
            column = self._refused_column(tgt, plan.desired_table)
            path = f"tables.{plan.name}" + (f".columns.{column}" if column else "")
            self.add(
                E,
                "target-ddl",
                f"the target refuses to create this table: {reason(exc)}",
                path,
                plan.name,
                column,
            )

    def _refused_column(self, tgt: Connection, table: sa.Table) -> str | None:
        """The first column the target refuses on its own (its type or default)."""
        for col in table.columns:
            default = col.server_default
            arg = default.arg if isinstance(default, sa.DefaultClause) else None
            alone = sa.Table(
                table.name,
                sa.MetaData(),
                sa.Column(col.name, col.type, server_default=arg),  # type: ignore[arg-type]
            )
            try:
                self.target.schema.probe_table(tgt, alone)
            except sa.exc.StatementError:
                return col.name
        return None

    # -- invariants and shadow queries ----------------------------------------------------

    def _query(
        self, src: Connection, tgt: Connection, query: Invariant, path: str, pending: bool
    ) -> None:
        sides = (
            ("source", src, self.source, query.source),
            ("target", tgt, self.target, query.target),
        )
        for side, conn, dialect, sql in sides:
            error = refusal(conn, sa.text(f"EXPLAIN {sql}"))
            if error is None:
                continue
            if side == "target" and pending and dialect.is_missing_table(error):
                message = (
                    "not checked yet: it reads a table the run has not created yet "
                    f"({reason(error)})"
                )
                self.add(N, "query-unchecked", message, f"{path}.{side}")
            else:
                message = f"the {side} refuses this SQL: {reason(error)}"
                self.add(E, "query-sql", message, f"{path}.{side}")

    # -- checks: tables and columns ---------------------------------------------------------

    def _check_references(self, tables: dict[str, TablePlan]) -> None:
        self._watermark_column(tables)
        checks = self.spec.checks
        configured = [
            (f"checks.aggregates[{i}]", c.table, [*c.columns, *c.group_by, *c.count_distinct])
            for i, c in enumerate(checks.aggregates)
        ]
        configured += [(f"checks.samples[{i}]", c.table, []) for i, c in enumerate(checks.samples)]
        names = list(self.spec.tables)
        for path, table, columns in configured:
            if table not in self.spec.tables:
                self.add(
                    E,
                    "unknown-table",
                    f"'{table}' is not a table of the spec{closest(table, names)}",
                    f"{path}.table",
                    table,
                )
                continue
            plan = tables.get(table)
            known = [c.target for c in plan.columns] if plan is not None else []
            for column in columns if plan is not None else []:
                if column not in known:
                    self.add(
                        E,
                        "unknown-column",
                        f"'{column}' is not a target column of '{table}'{closest(column, known)}",
                        path,
                        table,
                        column,
                    )

    def _watermark_column(self, tables: dict[str, TablePlan]) -> None:
        """``sync: {mode: watermark}`` re-reads rows by a source column every table must have."""
        column = self.spec.sync.column
        if self.spec.sync.mode is not SyncMode.watermark or column is None:
            return
        for name, plan in tables.items():
            if column not in plan.source_table.c:
                known = list(plan.source_table.c.keys())
                self.add(
                    E,
                    "unknown-column",
                    f"source table '{plan.source_name}' has no column '{column}'"
                    f"{closest(column, known)}: the watermark is read from every table",
                    "sync.column",
                    name,
                )
