"""Unique values that move between rows in one source transaction never jam ``sync``.

The source commits a swap, a rotation or a move of unique values; the target checks its unique
keys row by row. ``sync --until-lag 0`` must converge and ``verify`` pass; a batch that truly
cannot apply (the source holds a duplicate a target-only unique key refuses, a target CHECK)
becomes rejects with reasons, the checkpoint advances, and no value reaches any output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.helpers import assert_verified, write_spec

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [
    ("postgresql", "postgresql"),
    ("postgresql", "mysql"),
    ("mysql", "postgresql"),
    ("sqlite", "postgresql"),
]
EMAILS = ["alice@example.org", "bob@example.org", "carol@example.org"]


def _source(url: str, unique: bool = True, email: str = "VARCHAR(60)") -> None:
    execute(
        url,
        f"CREATE TABLE customers (id INTEGER PRIMARY KEY, email {email}, name VARCHAR(20))",
        *(["CREATE UNIQUE INDEX customers_email ON customers (email)"] if unique else []),
    )
    execute(
        url,
        "INSERT INTO customers VALUES (:i, :e, :n)",
        params=[{"i": i, "e": e, "n": f"name {i}"} for i, e in enumerate(EMAILS, start=1)],
    )


def _migration(tmp: Path, source: str, target: str, table: str = "  customers: {}\n") -> Migration:
    spec = write_spec(tmp / "m.yaml", source, target, table, sync="{mode: triggers}")
    migration = Migration.from_file(spec)
    assert migration.capture_install() == ["customers"]
    migration.run()
    return migration


def _emails(url: str) -> dict[int, str | None]:
    return {int(i): e for i, e in fetch(url, "SELECT id, email FROM customers")}  # type: ignore[misc]


def _datamove(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_a_swap_in_one_transaction_converges(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """The issue's reproduction: email moves from customer 1 to 2 and back, one transaction;
    ``datamove sync --until-lag 0`` exits 0 and the copy verifies."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _source(source)
    migration = _migration(tmp_path, source, target)
    a, b, _ = EMAILS
    execute(
        source,
        "UPDATE customers SET email = NULL WHERE id = 1",
        f"UPDATE customers SET email = '{a}' WHERE id = 2",
        f"UPDATE customers SET email = '{b}' WHERE id = 1",
    )
    done = _datamove("sync", str(tmp_path / "m.yaml"), "--until-lag", "0")
    assert done.returncode == 0, done.stderr
    assert _emails(target) == {1: b, 2: a, 3: EMAILS[2]}
    assert_verified(migration)


def test_a_swap_cut_by_the_batch_boundary_converges(make_db: Any, tmp_path: Path) -> None:
    """With one change per batch, the first batch sees only customer 1's change: the row
    holding its new value (customer 2) is read and written in the same batch."""
    source, target = make_db("postgresql", "src"), make_db("mysql", "tgt")
    _source(source, email="VARCHAR(60) NOT NULL")
    migration = _migration(tmp_path, source, target)
    a, b, _ = EMAILS
    execute(
        source,
        "UPDATE customers SET email = 'x' WHERE id = 1",
        f"UPDATE customers SET email = '{a}' WHERE id = 2",
        f"UPDATE customers SET email = '{b}' WHERE id = 1",
    )
    result = migration.sync(SyncOptions(until_lag=0, max_batch=1))
    assert result.pending == 0 and result.rejects == 0 and result.batches >= 3
    assert _emails(target)[1] == b
    assert_verified(migration)


REMAPPED = """  customers:
    key: {columns: [id], strategy: remap, legacy_column: legacy_id}
"""


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_a_rotation_of_three_keeps_each_rows_identity(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """1→2→3→1 on a NOT NULL unique column (no NULL to park a value in) of a remapped table:
    each row keeps the key the target generated for it."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _source(source, email="VARCHAR(60) NOT NULL")
    migration = _migration(tmp_path, source, target, REMAPPED)
    ids = dict(fetch(target, "SELECT legacy_id, id FROM customers"))
    a, b, c = EMAILS
    execute(
        source,
        "UPDATE customers SET email = 'parked' WHERE id = 1",
        f"UPDATE customers SET email = '{a}' WHERE id = 3",
        f"UPDATE customers SET email = '{c}' WHERE id = 2",
        f"UPDATE customers SET email = '{b}' WHERE id = 1",
    )
    result = migration.sync(SyncOptions(until_lag=0))
    assert result.pending == 0 and result.rejects == 0
    rows = fetch(target, "SELECT legacy_id, id, email FROM customers")
    assert {int(k): (i, e) for k, i, e in rows} == {  # type: ignore[call-overload]
        1: (ids[1], b),
        2: (ids[2], c),
        3: (ids[3], a),
    }
    assert_verified(migration)


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_a_value_moved_to_a_new_row_whose_old_row_is_deleted(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _source(source)
    migration = _migration(tmp_path, source, target)
    a, b, _ = EMAILS
    execute(
        source,
        "DELETE FROM customers WHERE id = 1",
        f"UPDATE customers SET email = '{a}' WHERE id = 2",
        f"INSERT INTO customers VALUES (4, '{b}', 'four')",
    )
    result = migration.sync(SyncOptions(until_lag=0))
    assert result.pending == 0 and result.rejects == 0 and result.deleted == 1
    assert _emails(target) == {2: a, 3: EMAILS[2], 4: b}
    assert_verified(migration)


PII = """  customers:
    columns: {id: {}, email: {pii: true}, name: {}}
"""


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_a_true_duplicate_becomes_a_reject_and_sync_moves_on(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """The source has no unique key on email; the target has one the user added. The source
    gives customer 2 customer 1's email: customer 2 is a reject naming the key and column,
    the value masked (``pii``), and its row leaves the target, as after the copy."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _source(source, unique=False)
    migration = _migration(tmp_path, source, target, PII)
    execute(target, "CREATE UNIQUE INDEX users_own_email ON customers (email)")
    a = EMAILS[0]
    execute(
        source,
        f"UPDATE customers SET email = '{a}' WHERE id = 2",
        "UPDATE customers SET name = 'renamed' WHERE id = 3",
    )
    done = _datamove("sync", str(tmp_path / "m.yaml"), "--until-lag", "0")
    assert done.returncode == 0, done.stderr
    assert a not in done.stdout + done.stderr and "alice" not in done.stdout + done.stderr

    status = migration.capture_status()
    assert status.pending == 0 and status.applied_seq == 2  # the checkpoint moved past both
    assert fetch(target, "SELECT name FROM customers WHERE id = 3") == [("renamed",)]
    (reject,) = migration.status(rejects=True).rejects
    assert reject.key == (2,) and reject.column == "email"
    assert "users_own_email" in reject.reason and "key 1" in reject.reason
    assert reject.value == "(pii)" and "alice" not in reject.reason
    assert _emails(target) == {1: a, 3: EMAILS[2]}
    assert_verified(migration)  # the missing row is the recorded reject


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql"])
def test_a_row_the_target_refuses_is_a_reject_without_its_value(
    target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """A target CHECK the source does not have: the refused row is isolated as a reject with
    the server's reason (no value in it), the other rows of the batch are applied."""
    source, target = make_db("postgresql", "src"), make_db(target_engine, "tgt")
    _source(source)
    migration = _migration(tmp_path, source, target)
    execute(target, "ALTER TABLE customers ADD CONSTRAINT short CHECK (length(email) < 40)")
    long = "a-very-long-secret-address@example.org".replace("@", "-padding@")
    execute(
        source,
        f"UPDATE customers SET email = '{long}' WHERE id = 1",
        "UPDATE customers SET name = 'renamed' WHERE id = 2",
    )
    result = migration.sync(SyncOptions(until_lag=0))
    assert result.pending == 0 and result.rejects == 1
    assert fetch(target, "SELECT name FROM customers WHERE id = 2") == [("renamed",)]
    (reject,) = migration.status(rejects=True).rejects
    assert reject.key == (1,) and "short" in reject.reason
    assert "secret" not in reject.reason + reject.value


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_batch_reads_one_snapshot_of_the_source(engine: str, make_db: Any) -> None:
    """A transaction committed between two reads of a batch is not seen by the second:
    half a swap would look like a duplicate."""
    from datamove.dialects.base import Dialect

    url = make_db(engine, "src")
    _source(url)
    source = Dialect.for_url(url, role="source")
    try:
        with source.connect() as conn:
            source.read_snapshot(conn)
            before = conn.exec_driver_sql("SELECT email FROM customers WHERE id = 1").scalar()
            execute(url, "UPDATE customers SET email = 'changed' WHERE id = 1")
            after = conn.exec_driver_sql("SELECT email FROM customers WHERE id = 1").scalar()
        assert before == after == EMAILS[0]
    finally:
        source.dispose()


def test_no_row_is_parked_where_a_foreign_key_acts_on_its_delete(
    make_db: Any, tmp_path: Path
) -> None:
    """Parking deletes a row for a moment; on PostgreSQL an ON DELETE CASCADE would take
    the rows referencing it along. So such a swap is two rejects naming the foreign key,
    and nothing is deleted: the referencing rows stay."""
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    _source(source, email="VARCHAR(60) NOT NULL")
    migration = _migration(tmp_path, source, target)
    execute(
        target,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_id INTEGER "
        "CONSTRAINT notes_customer REFERENCES customers (id) ON DELETE CASCADE)",
        "INSERT INTO notes VALUES (1, 1), (2, 2)",
    )
    a, b, _ = EMAILS
    execute(
        source,
        "UPDATE customers SET email = 'x' WHERE id = 1",
        f"UPDATE customers SET email = '{a}' WHERE id = 2",
        f"UPDATE customers SET email = '{b}' WHERE id = 1",
    )
    result = migration.sync(SyncOptions(until_lag=0))
    assert result.pending == 0 and result.rejects == 2
    assert fetch(target, "SELECT count(*) FROM notes") == [(2,)]
    assert _emails(target) == {1: a, 2: b, 3: EMAILS[2]}  # as they were
    reasons = [r.reason for r in migration.status(rejects=True).rejects]
    assert all("notes_customer" in r and "DEFERRABLE" in r for r in reasons), reasons


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_refusal_translated_into_an_error_carries_no_value(engine: str, make_db: Any) -> None:
    """PostgreSQL's DETAIL quotes the key's value, MySQL's message the entry itself."""
    import sqlalchemy as sa

    from datamove.dialects.base import Dialect

    url = make_db(engine, "db")
    _source(url)
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn, pytest.raises(sa.exc.IntegrityError) as caught:
            conn.exec_driver_sql(f"INSERT INTO customers VALUES (9, '{EMAILS[0]}', 'x')")
        message = dialect.translate(caught.value).message
        assert "customers_email" in message and "alice" not in message, message
    finally:
        dialect.dispose()
