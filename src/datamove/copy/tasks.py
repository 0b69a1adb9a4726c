"""Chunk tasks and the executors that run them.

A ``ChunkTask`` is plain data (the table, the mapping it was planned under, the key range, the
pass, the attempt): it can be pickled and run by a worker anywhere that can reach both
databases. The worker's ``WorkerContext`` — the compiled plan, the state store, the run, the
throttle — is built where the worker runs (``WorkerContext.rebuild`` from the spec), never sent
with a task. ``ThreadExecutor`` runs tasks on threads of this process; another executor (Dask,
processes) needs only to call ``WorkerContext.run`` where it runs them.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from datamove.copy.chunk import ChunkCopier, ChunkResult
from datamove.copy.second_pass import SecondPass
from datamove.copy.throttle import Throttle
from datamove.core.keys import KeyValue
from datamove.core.retry import retrying
from datamove.core.stop import signals_to_main_thread
from datamove.dialects.base import Dialect, error_translator
from datamove.errors import MappingChanged, TransientError
from datamove.events import ChunkRetried, EventHandler, ignore
from datamove.plan.compiled import CompiledPlan
from datamove.plan.resolve import resolve_plan
from datamove.plan.scope import scoped
from datamove.spec.models import MigrationSpec
from datamove.state.store import ChunkState, StateStore


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one table to copy (or to fill, for a second pass): serialisable."""

    table: str
    mapping_hash: str
    """The mapping the chunk was planned under: a worker whose plan differs refuses it."""
    chunk_no: int
    lo: KeyValue | None
    hi: KeyValue | None
    second_pass: bool = False

    @classmethod
    def of(cls, table: str, mapping_hash: str, chunk: ChunkState, second_pass: bool) -> ChunkTask:
        return cls(table, mapping_hash, chunk.chunk_no, chunk.lo, chunk.hi, second_pass)

    @property
    def chunk(self) -> ChunkState:
        return ChunkState(self.chunk_no, self.lo, self.hi, False, 0)


class WorkerContext:
    """What tasks of one run are executed with (holds no connection between tasks)."""

    def __init__(
        self,
        compiled: CompiledPlan,
        state: StateStore,
        run_id: str,
        throttle: Throttle,
        emit: EventHandler = ignore,
    ) -> None:
        self.compiled = compiled
        self.state = state
        self.run_id = run_id
        self.throttle = throttle
        self.emit = emit
        self._copiers: dict[str, ChunkCopier] = {}

    @classmethod
    def rebuild(cls, spec: MigrationSpec, run_id: str) -> WorkerContext:
        """A context for a worker of another process: the dialects from the spec's URLs, the
        plan resolved and compiled there (tasks check it is the mapping they were planned
        under)."""
        source = Dialect.for_url(spec.source, role="source")
        target = Dialect.for_url(spec.target, role="target")
        plan = resolve_plan(scoped(spec, source), source, target, data_lints=False)
        state = StateStore(target, spec.name)
        return cls(CompiledPlan(plan, source, target), state, run_id, Throttle(None))

    def copier(self, table: str) -> ChunkCopier:
        found = self._copiers.get(table)
        if found is None:
            found = self._copiers[table] = ChunkCopier(
                self.compiled[table], self.state, self.run_id, self.throttle
            )
        return found

    def run(self, task: ChunkTask) -> ChunkResult:
        """Run ``task`` in one target transaction, retrying transient failures."""
        plan = self.compiled.plan.tables[task.table]
        if plan.mapping_hash != task.mapping_hash:
            raise MappingChanged(
                f"the mapping of table '{task.table}' differs from the one chunk "
                f"{task.chunk_no} was planned under",
                table=task.table,
                hint="run every worker with the same spec",
            )
        copier = self.copier(task.table)
        work = SecondPass(copier) if task.second_pass else copier
        source, target = self.compiled.source, self.compiled.target

        def retried(attempt: int, err: TransientError, delay: float) -> None:
            where = f"{task.table} chunk {task.chunk_no}: {err.message}"
            self.emit(ChunkRetried(task.table, task.chunk_no, attempt, where, delay))

        translate = error_translator(source, target)
        return retrying(partial(work.run, task.chunk), translate, retried, stop=self.throttle.stop)


class Executor(Protocol):
    """Runs chunk tasks somewhere; the engine only submits and collects."""

    def submit(self, task: ChunkTask) -> Future[ChunkResult]: ...

    def close(self, cancel: bool) -> None:
        """Stop: wait for the running tasks; ``cancel`` drops the ones not started."""


class ThreadExecutor:
    """Tasks on ``workers`` threads of this process, sharing one context: the drivers release
    the GIL during I/O and COPY."""

    def __init__(self, context: WorkerContext, workers: int) -> None:
        self.context = context
        self.pool = ThreadPoolExecutor(
            max(1, workers), thread_name_prefix="datamove", initializer=signals_to_main_thread
        )

    def submit(self, task: ChunkTask) -> Future[ChunkResult]:
        return self.pool.submit(self.context.run, task)

    def close(self, cancel: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)
