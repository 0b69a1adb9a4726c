"""Schema steps: every action on the target's schema, done once and recorded.

A created table's steps are recorded ``pending`` before the first of them runs: the table
itself, then after its load each index and each generator (identity, sequence,
auto-increment) set past the copied values, then once both tables are loaded each foreign key
(added unchecked) and its validation. Each step checks the catalog first, so one that
committed on the server but not in the step log (a kill in between; MySQL's DDL commits by
itself) is recognised, not done twice. A step that fails is recorded ``failed`` with its error
and stops the run; the next run retries exactly the steps not done. With change capture on,
rows may still arrive through ``sync``: validations wait for ``sync`` to catch up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import partial

import sqlalchemy as sa

from datamove.copy import ddl
from datamove.core.evidence import Step, StepKind
from datamove.core.retry import retrying
from datamove.dialects.base import Dialect
from datamove.dialects.schemasql import IndexShape, orphans
from datamove.errors import DatamoveError, TerminalError, TransientError
from datamove.events import EventHandler, Message
from datamove.plan.model import ForeignKeyPlan, Plan, TablePlan
from datamove.redact import redact_text
from datamove.state.store import StateStore

AFTER_LOAD = "after the table's load"
AFTER_TABLES = "once both tables are loaded"
AFTER_FK = "right after its foreign key is added"
ORPHANS_READ = 10_000
"""Orphans read to tell rows under the run's own rejects from the others."""
AFTER_SYNC = "when `datamove sync` has caught up (capture is on: rows may still arrive)"


class SchemaSteps:
    """Runs and records the schema steps of one plan's tables for one command."""

    def __init__(
        self,
        plan: Plan,
        target: Dialect,
        state: StateStore,
        run_id: str,
        emit: EventHandler,
        online: bool,
    ) -> None:
        self.plan = plan
        self.target = target
        self.state = state
        self.run_id = run_id
        self.emit = emit
        self.online = online

    def steps(self, table: TablePlan) -> list[Step]:
        """Every schema step of ``table``, in the order they run."""
        name = table.name
        out: list[Step] = []
        if table.create:
            out.append(Step(name, StepKind.table, name, "before the load"))
            out += [Step(name, StepKind.secondary_index, i.name, AFTER_LOAD) for i in table.indexes]
        out += [Step(name, StepKind.sequence, c, AFTER_LOAD) for c in table.sequences]
        for fk in table.foreign_keys:
            out.append(Step(name, StepKind.foreign_key, fk.name, AFTER_TABLES))
            out.append(
                Step(name, StepKind.validate, fk.name, AFTER_SYNC if self.online else AFTER_FK)
            )
        return out

    def record(self, tables: Iterable[TablePlan]) -> None:
        """Record the steps of ``tables`` as pending where they are not recorded yet."""
        with self.target.connect() as tgt, tgt.begin():
            self.state.steps.record(tgt, [s for t in tables for s in self.steps(t)])

    # -- running steps ---------------------------------------------------------------------

    def _statuses(self, table: str) -> dict[tuple[str, str], str]:
        with self.target.connect() as tgt:
            return self.state.step_statuses(tgt, table)

    def _run(
        self,
        step: Step,
        action: Callable[[sa.Connection], bool | str],
        recorded: str | None = None,
    ) -> bool:
        """Run one step in its own transaction and record it done in the same one (PostgreSQL
        and SQLite make the DDL and its record one commit); a transient failure (a dropped
        connection, a lock timeout) runs it again (``core.retry``: the step looks in the
        catalog first), any other is recorded as the step's and stops the command. ``action``
        returns whether it changed the target (False: it found the object already there, and
        a step ``recorded`` done keeps its record), or why it was accepted undone (recorded
        ``accepted`` with that note)."""

        def attempt() -> bool | str:
            with self.target.connect() as tgt, tgt.begin():
                done = action(tgt)
                if isinstance(done, str):
                    self.state.steps.mark(tgt, step, "accepted", self.run_id, done)
                    self.emit(Message(f"{step.label}: {done}", "warning"))
                elif done or recorded != "done":
                    self.state.steps.mark(tgt, step, "done", self.run_id)
                return done

        def translate(exc: BaseException) -> DatamoveError:
            err = self.target.translate(exc)
            err.message, err.table = f"{step.label} failed: {err.message}", step.table
            err.hint = (
                "the copied rows are kept; fix the cause (or leave the object out of the spec) "
                "and run again: only the steps not done run"
            )
            return err

        def retried(attempt: int, err: TransientError, delay: float) -> None:
            self.emit(Message(f"{err.message}; retrying in {delay:.1f}s", "warning"))

        try:
            done = retrying(attempt, translate, retried)
        except DatamoveError as exc:
            self._failed(step, exc.message)
            raise
        return bool(done)

    def _failed(self, step: Step, error: str) -> None:
        """Record the step failed, if the target can still be reached (the error that
        stopped the step is what the command reports either way)."""
        with suppress(DatamoveError, sa.exc.DBAPIError), self.target.connect() as tgt:
            with tgt.begin():
                self.state.steps.mark(tgt, step, "failed", self.run_id, redact_text(error))

    def create_table(self, table: TablePlan) -> None:
        """Create a table datamove creates (or recognise it, made before a kill)."""
        step = Step(table.name, StepKind.table, table.name, "before the load")
        self._run(step, partial(self._create_table, table=table))

    def finish_table(self, table: TablePlan) -> None:
        """After a table's load: its indexes and its generators, each one recorded step. An
        index recorded done is looked for too: one dropped since is made again."""
        statuses = self._statuses(table.name)
        with self.target.connect() as tgt:  # looked up once: nothing else makes them
            present = (
                self.target.schema.index_names(tgt, table.target_table) if table.create else set()
            )
        made = 0
        for index in table.indexes if table.create else []:
            step = Step(table.name, StepKind.secondary_index, index.name, AFTER_LOAD)
            action = partial(self._create_index, table=table, index=index, present=present)
            made += self._run(step, action, statuses.get((step.kind.value, step.name)))
        if made:
            self.emit(Message(f"{table.name}: created {made} index(es) after the load"))
        self.set_generators([table])

    def set_generators(self, tables: Iterable[TablePlan]) -> None:
        """Set each generator past the largest copied value (after a load, and after ``sync``,
        whose rows may carry larger ones)."""
        for table in tables:
            for column in table.sequences:
                step = Step(table.name, StepKind.sequence, column, AFTER_LOAD)
                self._run(step, partial(self._set_generator, table=table, column=column))

    def foreign_keys(self, tables: Iterable[TablePlan], loaded: Callable[[str], bool]) -> None:
        """Add the foreign keys whose two tables are loaded, then validate them (or leave that
        to ``sync`` when capture is on)."""
        tables = list(tables)
        added = waiting = 0
        for table in tables:
            statuses = self._statuses(table.name)
            if not table.foreign_keys:
                continue
            with self.target.connect() as tgt:
                found = sa.inspect(tgt).get_foreign_keys(table.name)
            present = {str(f["name"]) for f in found}
            for fk in table.foreign_keys:
                if not (loaded(table.name) and loaded(fk.parent)):
                    continue
                step = Step(table.name, StepKind.foreign_key, fk.name, AFTER_TABLES)
                action = partial(self._add_foreign_key, table=table, fk=fk, present=present)
                added += self._run(step, action, statuses.get((step.kind.value, step.name)))
                waiting += statuses.get((StepKind.validate.value, fk.name)) != "done"
        if added:
            self.emit(Message(f"added {added} foreign key(s) after the load"))
        if not self.online:
            self.validate(tables)
        elif waiting:
            self.emit(
                Message(
                    f"{waiting} foreign key(s) are not validated yet: capture is on, so rows may "
                    "still arrive; `datamove sync SPEC` validates them once it has caught up",
                    "warning",
                )
            )

    def validate(self, tables: Iterable[TablePlan]) -> int:
        """Validate every added foreign key not validated yet; returns how many were."""
        count = 0
        for table in tables:
            statuses = self._statuses(table.name)
            for fk in table.foreign_keys:
                added = statuses.get((StepKind.foreign_key.value, fk.name)) == "done"
                if not added or statuses.get((StepKind.validate.value, fk.name)) == "done":
                    continue
                when = AFTER_SYNC if self.online else AFTER_FK
                step = Step(table.name, StepKind.validate, fk.name, when)
                count += self._run(step, partial(self._validate, table=table, fk=fk))
        return count

    # -- the actions (each returns whether it changed the target) ---------------------------

    def _create_table(self, tgt: sa.Connection, table: TablePlan) -> bool:
        if sa.inspect(tgt).has_table(table.name):
            return False  # created before a kill, whose step record did not commit
        ddl.create_table(tgt, self.target, table)
        return True

    def _create_index(
        self, tgt: sa.Connection, table: TablePlan, index: IndexShape, present: set[str]
    ) -> bool:
        if index.name in present:
            return False
        ddl.create_index(tgt, self.target, table, index)
        return True

    def _set_generator(self, tgt: sa.Connection, table: TablePlan, column: str) -> bool:
        return self.target.schema.set_generator(tgt, table.target_table, column) is not None

    def _add_foreign_key(
        self, tgt: sa.Connection, table: TablePlan, fk: ForeignKeyPlan, present: set[str]
    ) -> bool:
        if fk.name in present or not self.target.FOREIGN_KEYS_AFTER_LOAD:
            return False
        ddl.add_foreign_key(tgt, self.target, table, fk)
        # Added (again): whatever an earlier validation found, it is checked anew.
        when = AFTER_SYNC if self.online else AFTER_FK
        self.state.steps.mark(
            tgt, Step(table.name, StepKind.validate, fk.name, when), "pending", self.run_id
        )
        return True

    def _validate(self, tgt: sa.Connection, table: TablePlan, fk: ForeignKeyPlan) -> bool | str:
        parent = self.plan.tables[fk.parent]
        ref = ddl.foreign_key_ref(table, parent, fk)
        found = self.target.schema.validate_foreign_key(tgt, ref)
        if not found:
            return True
        kept = [
            c.target
            for c in table.columns
            if c.target in fk.columns and c.lookup is not None and c.on_orphan == "keep"
        ]
        if kept:
            return (
                f"not validated: on_orphan: keep on {', '.join(kept)} keeps values with no parent"
            )
        width = len(fk.columns)
        every = orphans(tgt, ref, ORPHANS_READ)
        rejected = {tuple(map(str, k)) for k in self.state.rejected_keys(tgt).get(fk.parent, ())}
        if len(every) < ORPHANS_READ and all(
            tuple(map(str, o[-width:])) in rejected for o in every
        ):
            # The run's own rejects (within max_rejects) explain them: the parent rows are
            # recorded as not moved, so the key cannot hold until they are fixed.
            return (
                f"not validated: {len(every)} row(s) reference parent rows of '{fk.parent}' that "
                "were rejected (`datamove status SPEC --rejects`); fix those and run again"
            )
        keys = "; ".join(", ".join(map(str, o)) for o in found)
        raise TerminalError(
            f"foreign key {fk} does not hold: rows of '{table.name}' without a parent in "
            f"'{fk.parent}' (key, value): {keys}",
            table=table.name,
            hint="the rows are in the target; fix them (in the source, then `datamove sync`, "
            "or in the target) and run again to validate it",
        )
