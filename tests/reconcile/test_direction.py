"""Reconcile after a cutover and after a rollback (PostgreSQL → PostgreSQL): the cutover's
recorded steps say which side is live; a write the live side took since is deferred, never
reported, and a row changed behind every capture (a corruption) is still reported by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamove.reconcile.live import Direction
from tests.conftest import execute
from tests.reconcile.live import migrated

INVERTIBLE = "  items:\n    columns: {id: {}, name: {}, amount: {}}\n"
ROLLBACK = "\n  rollback: {reverse: true}"
BEHIND_CAPTURE = "SET session_replication_role = replica"
"""PostgreSQL: this session fires no trigger (no fence, no capture): a change nobody sees."""


def deferred_keys(checks: list[Any]) -> list[list[str]]:
    moving = [c.details.get("moving", {}) for c in checks]
    return [d["key"] for m in moving for d in m.get("deferred_keys", [])]


def test_after_the_switch_and_after_the_rollback(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, "{persist_for: 1}", INVERTIBLE, cutover=ROLLBACK)
    assert migration.reconcile(once=True).rounds[0].direction is Direction.forward
    migration.cutover(by="ops", watch_for=0)
    execute(target, "UPDATE items SET amount = 1 WHERE id = 10")  # the application, on the target
    switched = migration.reconcile(once=True).rounds[0]
    assert switched.direction is Direction.switched and switched.kind == "full"
    assert switched.ok, switched.to_dict()
    assert deferred_keys(switched.checks) == [["10"]]
    assert not any(c.kind in ("invariant", "aggregates", "shadow") for c in switched.checks)

    migration.rollback(by="ops")
    execute(source, "UPDATE items SET amount = 2 WHERE id = 20")  # the source is live again
    back = migration.reconcile(once=True).rounds[0]
    assert back.direction is Direction.rolled_back and back.ok, back.to_dict()
    assert deferred_keys(back.checks) == [["20"]]
    execute(target, BEHIND_CAPTURE, "UPDATE items SET amount = 4242 WHERE id = 1500")
    found = migration.reconcile(once=True).rounds[0]
    bad = [c for c in found.checks if not c.ok]
    assert [c.name for c in bad] == ["items: checksum"], [(c.name, c.actual) for c in bad]
    assert [c["key"] for c in bad[0].details["changed"]] == [["1500"]]
    assert deferred_keys(found.checks) == [["20"]]
