"""The scheduler alone (no database): parents before children, a broken cycle's deferred
parent not waited for, a second pass after its table and the parents it looks up."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from datamove.copy.scheduler import Scheduler


def table(
    name: str,
    parents: set[str] = frozenset(),
    deferred: set[str] = frozenset(),
    lookups: tuple[str, ...] = (),
) -> Any:
    columns = [SimpleNamespace(lookup=SimpleNamespace(parent=p)) for p in lookups]
    return SimpleNamespace(
        name=name, parents=set(parents), deferred_parents=set(deferred), second_pass=columns
    )


def names(tables: list[Any]) -> list[str]:
    return [t.name for t in tables]


def test_children_wait_for_their_parents_and_a_cycle_is_broken_where_deferred() -> None:
    store = table("store", {"staff"}, deferred={"staff"}, lookups=("staff",))
    staff = table("staff", {"store"})
    orders = table("orders", {"customers"})
    customers = table("customers")
    s = Scheduler([store, staff, orders, customers])
    assert names(s.loadable()) == ["store", "customers"]
    assert s.loadable() == []  # each table is handed out once
    s.started("store", False, 2)
    s.started("customers", False, 0)
    s.completed("customers")
    assert names(s.loadable()) == ["orders"]
    assert not s.finished("store", False)
    assert s.fillable() == []  # the second pass waits for its table and for staff
    assert s.finished("store", False)
    s.completed("store")
    assert names(s.loadable()) == ["staff"]
    assert s.fillable() == []
    s.started("staff", False, 1)
    s.finished("staff", False)
    s.completed("staff")
    assert names(s.fillable()) == ["store"]
    s.started("store", True, 1)
    assert s.active
    s.finished("store", True)
    s.started("orders", False, 0)
    s.completed("orders")
    assert not s.active


def test_tables_outside_the_run_are_not_waited_for() -> None:
    s = Scheduler([table("orders", {"customers"})])  # customers is not selected
    assert names(s.loadable()) == ["orders"]
