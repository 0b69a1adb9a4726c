"""Which copy work may start now: the table DAG and the second-pass gates, and nothing else.

A table's chunks start once every parent it waits for is complete (a parent across a broken
cycle is filled by the second pass instead); a table is complete once its last chunk committed
and its finalization ran (indexes, generators). A second pass starts once its table and every
parent it looks up are complete. The scheduler holds no connection and runs nothing: the engine
asks it what is ready, plans and submits the chunk tasks, and tells it what finished.
"""

from __future__ import annotations

from collections.abc import Iterable

from datamove.plan.model import TablePlan


class Scheduler:
    """The state of one run's tables: waiting, loading, filling (second pass), complete."""

    def __init__(self, tables: Iterable[TablePlan]) -> None:
        tables = list(tables)
        self.selected = {t.name for t in tables}
        self.waiting = list(tables)
        self.filling = [t for t in tables if t.second_pass]
        self.complete: set[str] = set()
        self.remaining: dict[tuple[str, bool], int] = {}
        """Chunk tasks not finished yet, per (table, second pass)."""

    @property
    def active(self) -> bool:
        """Whether any work is waiting, ready or running."""
        return bool(self.waiting or self.filling or any(self.remaining.values()))

    def loadable(self) -> list[TablePlan]:
        """Tables whose load may start now (each is returned once)."""
        ready = [
            t
            for t in self.waiting
            if (t.parents - t.deferred_parents) & self.selected <= self.complete
        ]
        self.waiting = [t for t in self.waiting if t not in ready]
        return ready

    def fillable(self) -> list[TablePlan]:
        """Tables whose second pass may start now (each is returned once)."""
        ready = [
            t
            for t in self.filling
            if ({c.lookup.parent for c in t.second_pass if c.lookup} | {t.name}) & self.selected
            <= self.complete
        ]
        self.filling = [t for t in self.filling if t not in ready]
        return ready

    def started(self, table: str, second_pass: bool, tasks: int) -> None:
        """``tasks`` chunk tasks of the table's load (or second pass) were submitted."""
        self.remaining[table, second_pass] = tasks

    def finished(self, table: str, second_pass: bool) -> bool:
        """One task finished; whether it was the last of that load (or second pass)."""
        self.remaining[table, second_pass] -= 1
        return self.remaining[table, second_pass] == 0

    def completed(self, table: str) -> None:
        """The table is loaded and finalized: the tables that wait for it may start."""
        self.complete.add(table)
