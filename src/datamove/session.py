"""One command's context: the two databases, the plan resolved once and compiled, the
evidence store and its recorder.

Every ``Migration`` method opens one ``Session`` and hands its parts down, so no command
resolves the plan more than once (``repair`` verifies, copies and verifies again on one plan)
and every stage consumes the same compiled mapping. The command's ``Stop`` is here too: a
stop request cancels the statements running on both databases.
"""

from __future__ import annotations

from types import TracebackType

from datamove.core.stop import Stop
from datamove.dialects.base import Dialect
from datamove.errors import PlanHasErrors
from datamove.plan import Plan, resolve_plan
from datamove.plan.compiled import CompiledPlan
from datamove.plan.findings import acknowledge
from datamove.plan.scope import scoped
from datamove.spec import MigrationSpec
from datamove.spec.models import SyncMode
from datamove.state import StateStore
from datamove.state.recorder import Recorder
from datamove.verify.foreign import foreign_row_findings


class Session:
    """Both dialects (``workers`` sizes their pools), the plan, the compiled plan, the state
    store and its recorder; a context manager that disposes the connections."""

    def __init__(
        self,
        spec: MigrationSpec,
        *,
        workers: int = 1,
        read_only: bool = False,
        stop: Stop | None = None,
    ) -> None:
        self.spec = spec
        self.stop = stop or Stop()
        self.source = Dialect.for_url(spec.source, role="source", pool_size=workers + 1)
        try:
            self.target = Dialect.for_url(
                spec.target, role="target", pool_size=workers + 2, read_only=read_only
            )
        except BaseException:
            self.source.dispose()
            raise
        self.state = StateStore(self.target, spec.name)
        self.recorder = Recorder(self.state)
        self._unhook = self.stop.on_request(self._cancel_running)
        self._plan: Plan | None = None
        self._compiled: CompiledPlan | None = None
        self._guarded: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def online(self) -> bool:
        """A sync mode is set: rows may still arrive after the backfill."""
        return self.spec.sync.mode is not SyncMode.none

    def plan(
        self,
        consequence: str | None = None,
        data_lints: bool = True,
        recreate: frozenset[str] = frozenset(),
        guard: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    ) -> Plan:
        """The spec resolved against the live schemas, once per session (``recreate``: the
        tables a restart drops, planned anew as absent). ``guard`` (a run's tables and
        restarts; ``((), ())`` for all): also count the target rows ``replace_range`` chunks
        would delete though the source lacks them, as error findings (``verify.foreign``).
        With ``consequence`` (what did not happen), a plan with error findings raises
        ``PlanHasErrors`` listing them."""
        if self._plan is None or recreate:
            self.spec = scoped(self.spec, self.source)  # include: patterns → tables:
            self._plan = resolve_plan(self.spec, self.source, self.target, data_lints, recreate)
            self._compiled = self._guarded = None
        if guard is not None and guard != self._guarded and not self._plan.errors:
            found = foreign_row_findings(self.compiled, self.spec, self.state, *guard)
            self._plan.findings += acknowledge(found, self.spec.acknowledge, report_unused=False)
            self._guarded = guard
        if consequence is not None and self._plan.errors:
            lines = "\n".join(f"  {f.spec_path}: {f.message}" for f in self._plan.errors)
            raise PlanHasErrors(
                f"the plan has {len(self._plan.errors)} error(s); {consequence}:\n{lines}",
                hint="run `datamove plan SPEC` for every finding",
            )
        return self._plan

    @property
    def compiled(self) -> CompiledPlan:
        """The plan compiled for these two databases (each table on first use)."""
        if self._compiled is None:
            self._compiled = CompiledPlan(self.plan(), self.source, self.target)
        return self._compiled

    def _cancel_running(self) -> None:
        self.source.running.cancel()
        self.target.running.cancel()

    def close(self) -> None:
        self._unhook()
        self.source.dispose()
        self.target.dispose()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
