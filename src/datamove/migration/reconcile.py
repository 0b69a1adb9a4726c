"""The reconciliation commands: rounds on a schedule, and their history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from datamove.core.evidence import Check, RunCommand
from datamove.core.stop import Stop
from datamove.events import EventHandler, Message, ignore
from datamove.migration.base import MigrationBase
from datamove.reconcile.history import History, last_round_failures, read_history
from datamove.reconcile.live import direction
from datamove.reconcile.notify import Notifier, payload
from datamove.reconcile.rounds import Round, RoundResult
from datamove.session import Session
from datamove.sync.marks import verify_mark


@dataclass
class ReconcileResult:
    """The rounds one ``reconcile`` ran."""

    rounds: list[RoundResult]
    stopped: bool = False

    @property
    def ok(self) -> bool:
        """Every round green (``reconcile`` exits 1 otherwise)."""
        return all(r.ok for r in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stopped": self.stopped,
            "rounds": [r.to_dict() for r in self.rounds],
        }


class ReconcileCommands(MigrationBase):
    """Stage 7: reconciliation rounds and their history."""

    def reconcile(
        self,
        *,
        every: float | None = None,
        for_: float | None = None,
        tables: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        once: bool = False,
        on_event: EventHandler = ignore,
        stop: Stop | None = None,
    ) -> ReconcileResult:
        """Reconciliation rounds (``reconcile.rounds``), one every ``every`` seconds for
        ``for_`` seconds (None: the spec's ``reconcile:``; no ``for``: until a stop), or one
        (``once``). Each round is a recorded run with its checks; a check failing that did
        not fail in the round before calls the spec's ``notify`` webhook."""
        every = self.spec.reconcile.every if every is None else every
        for_ = self.spec.reconcile.for_ if for_ is None else for_
        stop = stop or Stop()
        deadline = None if for_ is None else time.monotonic() + for_
        rounds: list[RoundResult] = []
        with self._session(stop=stop) as session:
            plan = session.plan("nothing was reconciled", data_lints=False)
            names = self._scope(plan, tables, exclude)
            notifier = self._notifier(session, stop)
            try:
                while True:
                    rounds.append(self._round(session, names, stop, on_event, notifier))
                    if once or (deadline is not None and time.monotonic() + every > deadline):
                        break
                    if stop.wait(every):
                        break
            finally:
                if notifier is not None:
                    notifier.wait()
        return ReconcileResult(rounds, stop.requested)

    def reconcile_history(self, tables: tuple[str, ...] = (), limit: int = 50) -> History:
        """The last ``limit`` rounds and, per table and check, results and drift over time
        (the state store only)."""
        with self._session(read_only=True) as session:
            return read_history(session.state, tables, limit)

    def _notifier(self, session: Session, stop: Stop) -> Notifier | None:
        if self.spec.notify is None:
            return None
        state = session.state

        def record(run_id: str, check: Check) -> None:
            with state.dialect.connect() as conn, conn.begin():
                state.checks.record(conn, run_id, [check])

        return Notifier(self.spec.notify, record, stop)

    def _round(
        self,
        session: Session,
        names: tuple[str, ...],
        stop: Stop,
        on_event: EventHandler,
        notifier: Notifier | None,
    ) -> RoundResult:
        started = time.monotonic()
        spec, state = session.spec, session.state
        way = direction(state)
        step = Round(session.compiled, spec, state, names, way, stop, on_event)
        kind = step.kind()
        on_event(Message(f"reconcile: {kind.name} round ({kind.why}); {way.value}"))
        before = last_round_failures(state)
        # Every round records its mark: sync keeps the changes after it while the round runs
        # (its re-checks read them); only a whole round's mapping makes it a basis.
        mark = verify_mark(session.compiled, spec.name, spec.sync.mode)
        digest = None if names else session.compiled.plan.mapping_hash
        with session.recorder.run(RunCommand.reconcile, on_event, digest, mark) as run:
            run.rejects = 0
            checks = step.run(kind)
            session.recorder.record_checks(run, checks)
            failed = [c for c in checks if not c.ok]
            if failed:
                run.fail(f"{len(failed)} check(s) failed")
        result = RoundResult(run.id, kind.name, kind.why, way, checks)
        result.seconds = time.monotonic() - started
        new = [c for c in failed if c.name not in before]
        result.new_failures = [c.name for c in new]
        if new and notifier is not None:
            notifier.send(run.id, payload(spec.name, result.to_dict(), new))
            result.notified = True
        return result
