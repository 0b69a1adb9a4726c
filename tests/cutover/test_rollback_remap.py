"""A rollback through remapped keys and lookups, on real servers: ``customers`` has a key the
target makes (``strategy: remap``, the source key in ``legacy_id``) and ``orders.customer_id``
is a ``lookup``. After the switch the application inserts a customer (no legacy value) and an
order of it, moves an order to another customer, renames one and deletes another with its
orders. The rollback maps every row back through the legacy column, gives the new customer the
next source key (written into the target's legacy column first) and sets the source's
generator past it. A ``kill -9`` once that key is written, then ``rollback`` again, inserts the
customer once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.cutover.remapback import Translations
from datamove.errors import SpecError
from datamove.plan.model import LookupPlan
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
TABLES = """  customers:
    key: {columns: [id], strategy: remap, legacy_column: legacy_id}
    columns:  # the application inserts customers without a source key after the switch
      id: {}
      name: {}
      legacy_id: {from: id, nullable: true}
  orders:
    columns:
      id: {}
      customer_id: {lookup: customers}
      total: {}"""
GENERATED = {"postgresql": "SERIAL PRIMARY KEY", "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY"}


def _setup(pair: tuple[str, str], make_db: Any, tmp: Path) -> tuple[str, str, Path]:
    source, target = make_db(pair[0], "src"), make_db(pair[1], "tgt")
    execute(
        source,
        f"CREATE TABLE customers (id {GENERATED[pair[0]]}, name VARCHAR(40) NOT NULL)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
        "REFERENCES customers (id), total INTEGER NOT NULL)",
    )
    execute(
        source,
        "INSERT INTO customers (id, name) VALUES (:i, :n)",
        params=[{"i": i, "n": f"c{i}"} for i in (10, 20, 30, 40, 50)],
    )
    execute(
        source,
        "INSERT INTO orders VALUES (:i, :c, :t)",
        params=[{"i": i, "c": 10 * (1 + i % 5), "t": i} for i in range(1, 11)],
    )
    spec = write_spec(
        tmp / "m.yaml", source, target, TABLES, cutover="\n  rollback: {reverse: true}"
    )
    migration = Migration.from_file(spec)
    migration.run()
    migration.cutover(by="ops-test")
    return source, target, spec


def _app_writes(target: str) -> None:
    def new_key(legacy: int) -> int:
        return int(fetch(target, f"SELECT id FROM customers WHERE legacy_id = {legacy}")[0][0])  # type: ignore[call-overload]

    execute(target, "INSERT INTO customers (name) VALUES ('new one')")
    (made,) = fetch(target, "SELECT id FROM customers WHERE legacy_id IS NULL")
    execute(
        target,
        f"INSERT INTO orders (id, customer_id, total) VALUES (100, {made[0]}, 7)",
        f"UPDATE orders SET customer_id = {new_key(10)} WHERE id = 2",
        "UPDATE customers SET name = 'renamed' WHERE legacy_id = 20",
        "DELETE FROM orders WHERE id IN (3, 4, 9)",
        "DELETE FROM customers WHERE legacy_id = 50",
    )


def _assert_back(source: str, target: str) -> None:
    assert fetch(source, "SELECT id, name FROM customers ORDER BY id") == [
        (10, "c10"), (20, "renamed"), (30, "c30"), (40, "c40"), (51, "new one"),
    ]  # fmt: skip
    assert fetch(source, "SELECT id, customer_id, total FROM orders ORDER BY id") == [
        (1, 20, 1), (2, 10, 2), (5, 10, 5), (6, 20, 6), (7, 30, 7), (8, 40, 8), (10, 10, 10),
        (100, 51, 7),
    ]  # fmt: skip
    assert fetch(target, "SELECT legacy_id FROM customers WHERE name = 'new one'") == [(51,)]
    execute(source, "INSERT INTO customers (name) VALUES ('after')")  # the generator is past 51
    assert fetch(source, "SELECT id FROM customers WHERE name = 'after'") == [(52,)]


@pytest.mark.parametrize(
    "pair", [("postgresql", "postgresql"), ("mysql", "postgresql"), ("postgresql", "mysql")]
)
def test_rollback_through_remapped_keys_and_lookups(
    pair: tuple[str, str], make_db: Any, tmp_path: Path
) -> None:
    source, target, spec = _setup(pair, make_db, tmp_path)
    _app_writes(target)
    steps = Migration.from_file(spec).rollback(by="ops-test")
    replay = next(s for s in steps if s.name == "replay")
    assert replay.record is not None and "1 new row(s) given a source key" in (
        replay.record.output or ""
    )
    _assert_back(source, target)


def test_kill_once_the_new_key_is_written_then_rollback_again(make_db: Any, tmp_path: Path) -> None:
    source, target, spec = _setup(("postgresql", "postgresql"), make_db, tmp_path)
    _app_writes(target)
    engine = sa.create_engine(source)
    holder = engine.connect()
    try:
        holder.exec_driver_sql("SELECT 1 FROM customers WHERE id = 20 FOR UPDATE")  # it waits
        proc = subprocess.Popen(
            [sys.executable, "-m", "datamove", "rollback", str(spec)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:  # until the new customer's source key is in the target (the replay then waits)
            for _ in range(1200):
                keyed = "SELECT count(*) FROM customers WHERE legacy_id IS NULL"
                if fetch(target, keyed) == [(0,)] or proc.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    statuses = {s.name: s.status for s in Migration.from_file(spec).rollback_status()}
    assert statuses["replay"] == "running"
    assert fetch(target, "SELECT legacy_id FROM customers WHERE name = 'new one'") == [(51,)]
    assert fetch(source, "SELECT count(*) FROM customers WHERE name = 'new one'") == [(0,)]
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "rollback", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_back(source, target)  # one 'new one', with the key written before the kill


def test_a_lookup_that_is_not_one_to_one_is_refused_naming_the_values(make_db: Any) -> None:
    """A parent table the user made without a unique legacy column: two rows share a legacy
    value, so a child's value would go back to one of two source keys."""
    url = make_db("postgresql", "tgt")
    execute(url, "CREATE TABLE parents (id INTEGER, legacy_id INTEGER)")
    execute(url, "INSERT INTO parents VALUES (1, 10), (2, 10), (3, 30)")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            table = sa.Table("parents", sa.MetaData(), autoload_with=conn)
            lookup = LookupPlan("parents", table, "legacy_id", "id", "reject")
            Translations().load(conn, lookup, [3])  # one to one where it is read: fine
            with pytest.raises(SpecError, match=r"parents\.legacy_id is not one to one: 10"):
                Translations().load(conn, lookup, [1, 2, 3])
    finally:
        engine.dispose()
