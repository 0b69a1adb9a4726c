"""The copy engine: schedules chunks in FK order over worker threads, with retries and a throttle.

A table's chunks start once all its parents are complete; independent tables, and the chunks
of one large table, run in parallel on ``workers`` threads. Each chunk commits with its
checkpoint, so a new run simply skips what is already done. A table with deferred lookups
(to itself, or across a broken cycle) gets a second pass once it and those parents are
complete (``second_pass``); foreign keys are created after everything else.

A stop (``core.stop``, the first Ctrl-C) ends the run early: no chunk starts after it, the
chunks running are cancelled on the servers and roll back, and the run raises ``Interrupted``
saying what is committed; a new run resumes from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from datamove.copy import ddl
from datamove.copy.chunk import ChunkCopier, ChunkResult
from datamove.copy.scheduler import Scheduler
from datamove.copy.schema import SchemaSteps
from datamove.copy.tasks import ChunkTask, Executor, ThreadExecutor, WorkerContext
from datamove.copy.throttle import Throttle
from datamove.core.retry import retrying
from datamove.core.stop import Stop
from datamove.dialects.base import error_translator
from datamove.errors import (
    Interrupted,
    MappingChanged,
    RejectLimitExceeded,
    TransientError,
    UsageError,
)
from datamove.events import (
    ChunkCommitted,
    EventHandler,
    Message,
    Stopping,
    TableFinished,
    TableStarted,
)
from datamove.plan.compiled import CompiledPlan
from datamove.plan.model import TablePlan
from datamove.state.store import ChunkState, StateStore

T = TypeVar("T")


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
        compiled: CompiledPlan,
        state: StateStore,
        on_event: EventHandler,
        max_rejects: int,
        online: bool = False,
        stop: Stop | None = None,
    ) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.source = compiled.source
        self.target = compiled.target
        self.state = state
        self.emit = on_event
        self.max_rejects = max_rejects
        self.online = online
        """Change capture is on: rows may still arrive, so foreign keys wait for ``sync``."""
        self.stop = stop or Stop()

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
        self._retried("preparing the tables", partial(self._prepare, tables, opts, schema))
        throttle = Throttle(opts.max_rows_per_second, self.stop)
        context = WorkerContext(self.compiled, self.state, run_id, throttle, self.emit)
        run = _Run(self, schema, context, tables)
        executor = ThreadExecutor(context, opts.workers)
        try:
            run.drive(executor)
        except KeyboardInterrupt:  # a library caller's Ctrl-C stops as the CLI's first one
            self.stop.request()
        except Exception:
            if not self.stop.requested:
                raise  # else a statement the stop cancelled: the stop is the outcome
        finally:
            executor.close(cancel=run.failure is not None or self.stop.requested)
        if self.stop.requested:
            raise run.interrupted()
        if run.failure is not None:
            raise run.failure
        if run.rejects_total > self.max_rejects:
            raise self._too_many_rejects(run.rejects_total)
        complete = run.scheduler.complete
        schema.foreign_keys(tables, lambda name: name in complete or self._loaded(name))
        outcomes = list(run.outcomes.values())
        return RunResult(run_id, outcomes, run.rejects_total, time.monotonic() - started)

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

    def _finish_table(self, schema: SchemaSteps, plan: TablePlan, out: TableOutcome) -> None:
        """After a table's last chunk: its indexes and generators (schema steps)."""
        schema.finish_table(plan)
        self._retried(f"{plan.name}: finishing", partial(self._finalized, plan.name))
        self.emit(TableFinished(plan.name, out.rows, out.rejects, out.seconds))

    def _finalized(self, name: str) -> None:
        with self.target.connect() as tgt, tgt.begin():
            self.state.finalize_table(tgt, name)

    def _retried(self, what: str, step: Callable[[], T]) -> T:
        """``step`` (which the run may repeat) through the retry seam, saying so when it is."""

        def retried(attempt: int, err: TransientError, delay: float) -> None:
            self.emit(Message(f"{what}: {err.message}; retrying in {delay:.1f}s", "warning"))

        translate = error_translator(self.source, self.target)
        return retrying(step, translate, retried, stop=self.stop)

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


class _Run:
    """One run's loop: asks the scheduler what is ready, plans and submits its chunk tasks,
    and accounts for each result (outcomes, events, the reject limit)."""

    def __init__(
        self,
        engine: CopyEngine,
        schema: SchemaSteps,
        context: WorkerContext,
        tables: list[TablePlan],
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.context = context
        self.scheduler = Scheduler(tables)
        self.outcomes = {p.name: TableOutcome(p.name) for p in tables}
        self.rejects_total = engine._retried("counting the rejects", self._rejects)
        self.running: dict[Future[ChunkResult], ChunkTask] = {}
        self.failure: BaseException | None = None

    def _rejects(self) -> int:
        with self.engine.target.connect() as tgt:
            return self.engine.state.reject_count(tgt)

    def drive(self, executor: Executor) -> None:
        """Until every table is loaded, filled and finalized, a task failed, or a stop."""
        stopped: Future[None] = Future()  # wakes the wait below when a stop is requested
        unhook = self.engine.stop.on_request(lambda: stopped.set_result(None))
        try:
            self._drive(executor, stopped)
        finally:
            unhook()

    def _drive(self, executor: Executor, stopped: Future[None]) -> None:
        stop = self.engine.stop
        while self.scheduler.active and self.failure is None and not stop.requested:
            for plan in self.scheduler.loadable():
                self._load(plan, executor)
            for plan in self.scheduler.fillable():
                todo = self.engine._retried(
                    f"{plan.name}: planning the second pass",
                    partial(self.engine._second_pass_chunks, plan),
                )
                self._submit(plan, todo, executor, second_pass=True)
            if not self.running:
                continue
            watched: list[Future[Any]] = [*self.running, stopped]
            done, _ = wait(watched, return_when=FIRST_COMPLETED)
            for future in done:
                if future is not stopped:
                    self._collect(future, self.running.pop(future))
        if stop.requested:
            self.engine.emit(Stopping())

    def interrupted(self) -> Interrupted:
        """After a stop, once no task runs: the chunks that committed before it (and any whose
        commit was already under way), counted from the finished tasks."""
        for future, task in self.running.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                self._collect(future, task)
        self.running.clear()
        done = sum(o.chunks_skipped + o.chunks_done for o in self.outcomes.values())
        total = sum(o.chunks_total for o in self.outcomes.values())
        copied = sum(o.chunks_done for o in self.outcomes.values())
        return Interrupted(
            f"{copied} chunk(s) committed by this run, {done} of the {total} planned so far in "
            "all; the chunks that were running rolled back"
        )

    def _load(self, plan: TablePlan, executor: Executor) -> None:
        copier = self.context.copier(plan.name)
        chunks = self.engine._retried(
            f"{plan.name}: planning its chunks", partial(self.engine._chunks, copier, plan)
        )
        todo = [c for c in chunks if not c.done]
        out = self.outcomes[plan.name]
        out.chunks_total, out.chunks_skipped = len(chunks), len(chunks) - len(todo)
        out.rows = sum(c.rows for c in chunks if c.done)
        out.started = time.monotonic()
        self.engine.emit(
            TableStarted(plan.name, len(chunks), out.chunks_skipped, plan.rows_estimate)
        )
        self._submit(plan, todo, executor, second_pass=False)
        if not todo:
            self._finished(plan.name)

    def _submit(
        self, plan: TablePlan, todo: list[ChunkState], executor: Executor, second_pass: bool
    ) -> None:
        self.scheduler.started(plan.name, second_pass, len(todo))
        for chunk in todo:
            task = ChunkTask.of(plan.name, plan.mapping_hash, chunk, second_pass)
            self.running[executor.submit(task)] = task

    def _collect(self, future: Future[ChunkResult], task: ChunkTask) -> None:
        try:
            result = future.result()
        except BaseException as exc:  # noqa: BLE001 - re-raised once the running tasks end
            self.failure = self.failure or exc
            return
        out = self.outcomes[task.table]
        out.rejects += result.rejects
        self.rejects_total += result.rejects
        if task.second_pass:
            out.filled += result.rows
        else:
            out.rows += result.rows
            out.chunks_done += 1
            out.copied += result.rows
            out.seconds = time.monotonic() - out.started
            out.paths.add(result.path)
            self.engine.emit(
                ChunkCommitted(
                    task.table,
                    task.chunk_no,
                    result.rows,
                    result.rejects,
                    result.seconds,
                    result.path,
                )
            )
        if self.rejects_total > self.engine.max_rejects:
            self.failure = self.failure or self.engine._too_many_rejects(self.rejects_total)
        if not self.scheduler.finished(task.table, task.second_pass) or self.engine.stop.requested:
            return
        if task.second_pass:
            self.engine.emit(Message(f"{task.table}: second pass done: {out.filled:,} row(s)"))
        else:
            self._finished(task.table)

    def _finished(self, name: str) -> None:
        self.engine._finish_table(self.schema, self.engine.plan.tables[name], self.outcomes[name])
        self.scheduler.completed(name)
