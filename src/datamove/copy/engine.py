"""The copy engine: schedules chunks in FK order over worker threads, with retries and a throttle.

A table's chunks start once all its parents are complete; independent tables, and the chunks
of one large table, run in parallel on ``workers`` threads. Each chunk commits with its
checkpoint, so a new run simply skips what is already done. A table with deferred lookups
(to itself, or across a broken cycle) gets a second pass once it and those parents are
complete (``second_pass``); foreign keys are created after everything else.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import sqlalchemy as sa

from datamove.copy import ddl
from datamove.copy.chunk import ChunkCopier, ChunkResult
from datamove.copy.schema import SchemaSteps
from datamove.copy.second_pass import SecondPass
from datamove.copy.throttle import Throttle
from datamove.dialects.base import Dialect
from datamove.errors import (
    ConnectionFailed,
    DatamoveError,
    MappingChanged,
    RejectLimitExceeded,
    TerminalError,
    TransientError,
    UsageError,
)
from datamove.events import (
    ChunkCommitted,
    ChunkRetried,
    EventHandler,
    Message,
    TableFinished,
    TableStarted,
)
from datamove.plan.compiled import CompiledPlan
from datamove.plan.model import Plan, TablePlan
from datamove.redact import redact_text
from datamove.state.store import ChunkState, StateStore

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class RunOptions:
    tables: tuple[str, ...] = ()
    workers: int = 1
    batch_size: int | None = None
    max_rows_per_second: float | None = None
    restart: tuple[str, ...] = ()


@dataclass
class TableOutcome:
    table: str
    rows: int = 0
    rejects: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    chunks_skipped: int = 0
    copied: int = 0
    """Rows copied by this run (``rows`` also counts chunks committed by earlier runs)."""
    filled: int = 0
    """Rows whose deferred lookup columns the second pass filled in this run."""
    seconds: float = 0.0
    """Wall time from the table's start to its last chunk, in this run."""
    paths: set[str] = field(default_factory=set)
    started: float = field(default=0.0, repr=False)

    @property
    def rows_per_second(self) -> float | None:
        return self.copied / self.seconds if self.seconds > 0 else None


@dataclass
class RunResult:
    run_id: str
    tables: list[TableOutcome]
    rejects_total: int
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


class CopyEngine:
    def __init__(
        self,
        plan: Plan,
        source: Dialect,
        target: Dialect,
        state: StateStore,
        on_event: EventHandler,
        max_rejects: int,
        online: bool = False,
    ) -> None:
        self.plan = plan
        self.source = source
        self.target = target
        self.state = state
        self.emit = on_event
        self.max_rejects = max_rejects
        self.online = online
        """Change capture is on: rows may still arrive, so foreign keys wait for ``sync``."""
        self.compiled = CompiledPlan(plan, source, target)

    # -- selection and preparation ---------------------------------------------------------

    def _selected(self, opts: RunOptions) -> list[TablePlan]:
        unknown = [t for t in (*opts.tables, *opts.restart) if t not in self.plan.tables]
        if unknown:
            raise UsageError(
                f"unknown table(s): {', '.join(unknown)}",
                hint=f"tables in the plan: {', '.join(self.plan.order)}",
            )
        names = [t for t in self.plan.order if not opts.tables or t in opts.tables]
        return [self.plan.tables[n] for n in names]

    def _restart(self, names: tuple[str, ...]) -> None:
        """Start ``names`` and the tables that reference them over: a table datamove created
        is dropped (the plan makes it again, so a changed mapping never meets a stale
        constraint); another table keeps its schema and loses its rows."""
        restart = self.plan.dependents(names)
        if set(restart) != set(names):
            extra = sorted(set(restart) - set(names))
            self.emit(
                Message(
                    f"restart also covers tables that reference them: {', '.join(extra)}", "warning"
                )
            )
        with self.target.connect() as tgt, tgt.begin():
            for name in reversed(restart):  # children first: no row is left orphaned
                plan = self.plan.tables[name]
                self.state.forget_table(tgt, name)
                if plan.create:
                    self.state.steps.forget(tgt, name)
                    ddl.drop_table(tgt, plan)
                    self.emit(Message(f"{name}: dropped, recreated from the current plan"))
                # A merging write mode keeps what the application wrote: the copy goes over it.
                elif plan.write_mode == "replace_range" and sa.inspect(tgt).has_table(name):
                    ddl.clear_table(tgt, plan)
                    self.emit(
                        Message(
                            f"{name}: not created by datamove: its rows are deleted, its own "
                            "indexes and constraints stay"
                        )
                    )

    def _prepare(self, tables: list[TablePlan], opts: RunOptions, schema: SchemaSteps) -> None:
        """Apply restarts, record and create the tables, and refuse resumes under a changed
        mapping."""
        if opts.restart:
            self._restart(opts.restart)
        schema.record(tables)
        for plan in tables:
            if plan.create:
                schema.create_table(plan)
        with self.target.connect() as tgt:
            for plan in tables:
                recorded = self.state.table_hash(tgt, plan.name)
                if recorded is not None and recorded != plan.mapping_hash:
                    raise MappingChanged(
                        f"the mapping of table '{plan.name}' changed since its chunks were "
                        "committed; resuming would mix rows of two mappings",
                        table=plan.name,
                        hint=f"run again with --restart {plan.name} to copy it anew",
                    )

    def _chunks(self, copier: ChunkCopier, plan: TablePlan) -> list[ChunkState]:
        """The table's chunks, planning them (one key scan) on its first run."""
        with self.target.connect() as tgt:
            chunks = self.state.chunks(tgt, plan.name)
        if chunks:
            return chunks
        with self.source.connect() as src:
            bounds = copier.boundaries(src)
        with self.target.connect() as tgt, tgt.begin():
            self.state.plan_table(
                tgt, plan.name, plan.mapping_hash, bounds, second_pass=bool(plan.second_pass)
            )
            return self.state.chunks(tgt, plan.name)

    # -- the run ---------------------------------------------------------------------------

    def run(self, run_id: str, opts: RunOptions) -> RunResult:
        started = time.monotonic()
        tables = self._selected(opts)
        if opts.batch_size:
            for plan in tables:
                plan.batch_size = opts.batch_size
        schema = SchemaSteps(self.plan, self.target, self.state, run_id, self.emit, self.online)
        self._prepare(tables, opts, schema)
        with self.target.connect() as tgt:
            rejects_total = self.state.reject_count(tgt)
        throttle = Throttle(opts.max_rows_per_second)
        outcomes = {p.name: TableOutcome(p.name) for p in tables}
        selected = {p.name for p in tables}
        waiting = list(tables)
        fixing = [p for p in tables if p.second_pass]  # second passes not started yet
        complete: set[str] = set()
        # Per future: table, chunk, and whether it is the chunk's second pass.
        running: dict[Future[ChunkResult], tuple[str, ChunkState, bool]] = {}
        remaining: dict[tuple[str, bool], int] = {}
        copiers: dict[str, ChunkCopier] = {}
        failure: BaseException | None = None

        with ThreadPoolExecutor(
            max_workers=max(1, opts.workers), thread_name_prefix="datamove"
        ) as pool:
            while (waiting or fixing or running) and failure is None:
                for plan in list(waiting):
                    blockers = (plan.parents - plan.deferred_parents) & selected
                    if not blockers <= complete:
                        continue
                    waiting.remove(plan)
                    copier = copiers[plan.name] = ChunkCopier(
                        self.compiled[plan.name], self.state, run_id, throttle
                    )
                    chunks = self._chunks(copier, plan)
                    todo = [c for c in chunks if not c.done]
                    out = outcomes[plan.name]
                    out.chunks_total, out.chunks_skipped = len(chunks), len(chunks) - len(todo)
                    out.rows = sum(c.rows for c in chunks if c.done)
                    out.started = time.monotonic()
                    self.emit(
                        TableStarted(plan.name, len(chunks), out.chunks_skipped, plan.rows_estimate)
                    )
                    remaining[plan.name, False] = len(todo)
                    for chunk in todo:
                        fut = pool.submit(self._with_retries, copier, chunk)
                        running[fut] = (plan.name, chunk, False)
                    if not todo:
                        self._finish_table(schema, plan, outcomes[plan.name], complete)
                for plan in list(fixing):
                    needs = {c.lookup.parent for c in plan.second_pass if c.lookup} | {plan.name}
                    if not needs & selected <= complete:
                        continue
                    fixing.remove(plan)
                    filler = SecondPass(copiers[plan.name])
                    todo = self._second_pass_chunks(plan)
                    remaining[plan.name, True] = len(todo)
                    for chunk in todo:
                        fut = pool.submit(self._with_retries, filler, chunk)
                        running[fut] = (plan.name, chunk, True)
                if not running:
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    name, chunk, second = running.pop(fut)
                    try:
                        result = fut.result()
                    except BaseException as exc:  # noqa: BLE001 - re-raised after the drain
                        failure = failure or exc
                        continue
                    out = outcomes[name]
                    out.rejects += result.rejects
                    rejects_total += result.rejects
                    if second:
                        out.filled += result.rows
                    else:
                        out.rows += result.rows
                        out.chunks_done += 1
                        out.copied += result.rows
                        out.seconds = time.monotonic() - out.started
                        out.paths.add(result.path)
                        self.emit(
                            ChunkCommitted(
                                name,
                                chunk.chunk_no,
                                result.rows,
                                result.rejects,
                                result.seconds,
                                result.path,
                            )
                        )
                    if rejects_total > self.max_rejects:
                        failure = failure or self._too_many_rejects(rejects_total)
                    remaining[name, second] -= 1
                    if remaining[name, second] == 0 and second:
                        self.emit(Message(f"{name}: second pass done: {out.filled:,} row(s)"))
                    elif remaining[name, second] == 0:
                        self._finish_table(schema, self.plan.tables[name], out, complete)
            if failure is not None:
                for fut in running:
                    fut.cancel()
        if failure is not None:
            raise failure
        if rejects_total > self.max_rejects:
            raise self._too_many_rejects(rejects_total)
        schema.foreign_keys(tables, lambda name: name in complete or self._loaded(name))
        return RunResult(run_id, list(outcomes.values()), rejects_total, time.monotonic() - started)

    def _second_pass_chunks(self, plan: TablePlan) -> list[ChunkState]:
        """The table's chunks whose second pass has not committed (none once it is done)."""
        with self.target.connect() as tgt:
            chunks = self.state.chunks(tgt, plan.name)
            done = self.state.second_pass_done(tgt, plan.name)
        todo = [c for c in chunks if c.chunk_no not in done]
        columns = ", ".join(c.target for c in plan.second_pass)
        self.emit(
            Message(
                f"{plan.name}: second pass for {columns}: {len(todo)} of {len(chunks)} chunk(s) "
                "to fill"
            )
        )
        return todo

    def _too_many_rejects(self, count: int) -> RejectLimitExceeded:
        return RejectLimitExceeded(
            f"{count} row(s) rejected, more than max_rejects={self.max_rejects}; the run stopped "
            "(committed chunks are kept)",
            hint="inspect them with `datamove status SPEC --rejects`; fix the source or the "
            "mapping and `--restart TABLE`, or raise max_rejects to accept them",
        )

    def _finish_table(
        self, schema: SchemaSteps, plan: TablePlan, out: TableOutcome, complete: set[str]
    ) -> None:
        schema.finish_table(plan)
        with self.target.connect() as tgt, tgt.begin():
            self.state.finalize_table(tgt, plan.name)
        complete.add(plan.name)
        self.emit(TableFinished(plan.name, out.rows, out.rejects, out.seconds))

    def _loaded(self, name: str) -> bool:
        """Whether a table outside this run's selection has every chunk (and second pass)."""
        with self.target.connect() as tgt:
            chunks = self.state.chunks(tgt, name)
            filled = self.state.second_pass_done(tgt, name)
        plan = self.plan.tables[name]
        return (
            bool(chunks)
            and all(c.done for c in chunks)
            and (not plan.second_pass or len(filled) == len(chunks))
        )

    def _with_retries(self, copier: ChunkCopier | SecondPass, chunk: ChunkState) -> ChunkResult:
        """Run a chunk; transient failures are retried with backoff, anything else stops."""
        where = f"{copier.plan.name} chunk {chunk.chunk_no}"
        for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
            try:
                return copier.run(chunk)
            except ConnectionFailed as exc:
                message, transient = f"{where}: {exc.message}", True
            except DatamoveError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified at the dialect seams
                orig = getattr(exc, "orig", exc)
                message = f"{where}: {redact_text(str(orig)).strip()}"
                transient = self.source.is_transient(orig) or self.target.is_transient(orig)
                if not transient:
                    raise TerminalError(message, table=copier.plan.name) from exc
            if delay is None:
                raise TransientError(
                    f"{message} (gave up after {attempt} attempts)", table=copier.plan.name
                )
            self.emit(ChunkRetried(copier.plan.name, chunk.chunk_no, attempt, message, delay))
            time.sleep(delay)
        raise AssertionError("unreachable")
