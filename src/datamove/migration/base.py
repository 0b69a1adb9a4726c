"""What every group of commands stands on: the spec, a session per command, and verify (the
runbook, the rollback and ``repair`` all verify through it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Self

from datamove.core.evidence import RunCommand
from datamove.core.stop import Stop
from datamove.events import EventHandler
from datamove.plan import Plan
from datamove.session import Session
from datamove.spec import MigrationSpec, load_spec
from datamove.spec.phases import phased
from datamove.spec.selection import select_tables
from datamove.sync.marks import verify_mark
from datamove.verify.runner import Verifier, VerifyOptions, VerifyResult


class MigrationBase:
    """A migration spec bound to its source and target databases."""

    def __init__(self, spec: MigrationSpec) -> None:
        self.spec = spec

    @classmethod
    def from_file(cls, path: str | Path, phase: str | None = None) -> Self:
        """The spec at ``path``; with ``phase``, that phase's own migration (``spec.phases``)."""
        spec = load_spec(path)
        return cls(phased(spec, phase) if phase else spec)

    def _session(
        self, workers: int = 1, read_only: bool = False, stop: Stop | None = None
    ) -> Session:
        """One command's context (``read_only``: the target is only read; ``stop``: what
        ends it early, see ``core.stop``)."""
        return Session(self.spec, workers=workers, read_only=read_only, stop=stop)

    def _verify(
        self,
        session: Session,
        options: VerifyOptions,
        on_event: EventHandler,
        exclude: tuple[str, ...] = (),
    ) -> VerifyResult:
        plan = session.plan("nothing was verified", data_lints=False)
        options = replace(options, tables=self._scope(plan, options.tables, exclude))
        whole = not options.tables and not options.checks  # the cutover's verified_within
        spec = session.spec
        mark = verify_mark(session.compiled, spec.name, spec.sync.mode) if whole else None
        result = Verifier(session.compiled, spec, options, on_event).run()
        digest = plan.mapping_hash if whole else None
        with session.recorder.run(RunCommand.verify, on_event, digest, mark) as run:
            result.run_id, run.rejects = run.id, 0
            session.recorder.record_checks(run, result.checks)
            failed = sum(not c.ok for c in result.checks)
            if failed:
                run.fail(f"{failed} check(s) failed")
        return result

    @staticmethod
    def _scope(plan: Plan, tables: tuple[str, ...], exclude: tuple[str, ...]) -> tuple[str, ...]:
        """The spec's tables that ``--tables``/``--exclude`` choose (``()``: all of them)."""
        if not tables and not exclude:
            return ()
        return tuple(select_tables(list(plan.tables), tables, exclude))
