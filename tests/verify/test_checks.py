"""verify's configured checks, methods and bad input, end to end on real databases.

Most cases run SQLite → PostgreSQL (a cross-engine pair that is quick to set up); the text-key
bisection and the Python-computed (merge) columns run on MariaDB → PostgreSQL too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.core.evidence import Check
from datamove.dialects.base import Dialect
from datamove.errors import PlanHasErrors, UsageError
from datamove.state.store import StateStore
from datamove.verify.runner import VerifyOptions
from datamove.verify.standalone import diff_tables
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = 6000


def _accounts(url: str, text_key: bool = False) -> None:
    # NOT NULL: SQLite lets a PRIMARY KEY other than INTEGER hold NULL (a plan error).
    key = "code VARCHAR(20) NOT NULL PRIMARY KEY" if text_key else "id INTEGER PRIMARY KEY"
    execute(
        url,
        f"CREATE TABLE accounts ({key}, currency CHAR(3) NOT NULL, balance DECIMAL(12,2) "
        "NOT NULL, email VARCHAR(80), opened TIMESTAMP NOT NULL)",
    )
    rows = [
        {
            "k": f"acct-{n:05d}-{'é' if n % 7 == 0 else 'x'}" if text_key else n,
            "c": ("EUR", "USD", "GBP")[n % 3],
            "b": f"{(n * 37) % 100000 / 100:.2f}",
            "e": f"user{n}@example.com",
            "o": f"2024-01-{1 + n % 28:02d} 10:{n % 60:02d}:00",
        }
        for n in range(1, ROWS + 1)
    ]
    name = "code" if text_key else "id"
    execute(
        url,
        f"INSERT INTO accounts ({name}, currency, balance, email, opened) "
        "VALUES (:k, :c, :b, :e, :o)",
        params=rows,  # type: ignore[arg-type]
    )


CHECKS = """checks:
  aggregates:
    - {table: accounts, columns: [balance], group_by: [currency], count_distinct: [email]}
  samples:
    - {table: accounts, rows: 50}
  shadow:
    - name: richest accounts
      source: SELECT id, balance FROM accounts ORDER BY balance DESC, id LIMIT 5
      target: SELECT id, balance FROM accounts ORDER BY balance DESC, id LIMIT 5
      ordered: true
invariants:
  - name: balances per currency
    source: SELECT currency, SUM(balance) FROM accounts GROUP BY currency
    target: SELECT currency, SUM(balance) FROM accounts GROUP BY currency
    tolerance: {abs: 0.001}
"""

TABLE = """  accounts:
    columns:
      id: {}
      currency: {}
      balance: {}
      email: {pii: true}
      opened: {}
"""


@pytest.fixture
def moved(make_db: Any, tmp_path: Path) -> tuple[Migration, str, str, Path]:
    source, target = make_db("sqlite", "src"), make_db("postgresql", "tgt")
    _accounts(source)
    spec = write_spec(tmp_path / "m.yaml", source, target, TABLE, batch_size=1000)
    spec.write_text(spec.read_text().replace("tables:\n", CHECKS + "tables:\n"))
    migration = Migration.from_file(spec)
    migration.run()
    return migration, source, target, spec


def _by_kind(result: Any, kind: str) -> list[Any]:
    return [c for c in result.checks if c.kind == kind]


def test_configured_checks_pass_then_each_catches_its_difference(moved: Any) -> None:
    migration, _, target, _ = moved
    clean = migration.verify()
    assert clean.ok, [c.to_dict() for c in clean.checks if not c.ok]
    assert {c.kind for c in clean.checks} == {
        "count",
        "checksum",
        "aggregates",
        "sample",
        "shadow",
        "invariant",
        "schema",
    }

    execute(target, "UPDATE accounts SET balance = balance + 1000 WHERE id = 10")
    result = migration.verify()
    failed = {c.kind for c in result.checks if not c.ok}
    # a sample of 50 rows may or may not draw row 10: every other check must see it
    assert {"checksum", "aggregates", "shadow", "invariant"} <= failed
    agg = _by_kind(result, "aggregates")[0]
    bad = {(d["group"][0], d["column"]) for d in agg.details["differences"]}
    assert ("USD", "balance.sum") in bad and {g for g, _ in bad} == {"USD"}
    inv = _by_kind(result, "invariant")[0]
    assert inv.details["differences"][0]["source"] != inv.details["differences"][0]["target"]

    # A lost row: the count takes the checksum's exact counts, or counts alone when asked.
    execute(target, "DELETE FROM accounts WHERE id = 11")
    for checks, counted_by in ((("count", "checksum"), "checksum"), (("count",), "count")):
        (count,) = _by_kind(migration.verify(VerifyOptions(checks=checks)), "count")
        assert count.status == "failed" and (count.expected, count.actual) == (
            str(ROWS),
            str(ROWS - 1),
        )
        assert count.details["counted_by"] == counted_by


def test_tolerance_lets_a_rounding_difference_pass(moved: Any, tmp_path: Path) -> None:
    migration, _, target, spec = moved
    execute(target, "UPDATE accounts SET balance = balance + 0.01 WHERE id = 11")
    strict = migration.verify(VerifyOptions(checks=("invariant",)))
    assert not strict.ok
    spec.write_text(spec.read_text().replace("{abs: 0.001}", "{abs: 0.02}"))
    loose = Migration.from_file(spec).verify(VerifyOptions(checks=("invariant",)))
    assert loose.ok


def test_sample_compares_field_by_field(moved: Any) -> None:
    migration, _, target, _ = moved
    execute(target, "UPDATE accounts SET opened = opened + interval '1 hour'")
    result = migration.verify(VerifyOptions(checks=("sample",)))
    sample = result.checks[0]
    assert sample.status == "failed"
    assert sample.details["sampled"] == 50
    assert all(set(d["columns"]) == {"opened"} for d in sample.details["differences"])


def test_a_failing_check_query_names_the_check_and_side(moved: Any) -> None:
    migration, _, _, spec = moved
    spec.write_text(
        spec.read_text().replace(
            "target: SELECT currency, SUM(balance) FROM accounts GROUP BY currency",
            "target: SELECT currency, SUM(balanse) FROM accounts GROUP BY currency",
        )
    )
    result = Migration.from_file(spec).verify()
    inv = _by_kind(result, "invariant")[0]
    assert inv.status == "error" and inv.name == "balances per currency"
    assert "target query failed" in inv.details["error"] and "balanse" in inv.details["error"]
    others = [c for c in result.checks if c.kind != "invariant"]
    assert others and all(c.ok for c in others)  # the other checks still ran


def test_pii_masked_unless_show_values_and_max_diff_rows(moved: Any) -> None:
    migration, _, target, _ = moved
    execute(target, "UPDATE accounts SET email = 'leak@evil.example' WHERE id <= 30")
    result = migration.verify(VerifyOptions(checks=("checksum",), max_diff_rows=5))
    diff = result.diffs[0]
    assert len(diff.changed) == 5 and diff.not_fetched >= 1
    assert "more" in result.checks[0].actual
    shown = json.dumps([r.to_dict() for r in diff.changed])
    assert "leak@evil" not in shown and "user1@example" not in shown
    plain = migration.verify(VerifyOptions(checks=("checksum",), show_values=True))
    assert len(plain.diffs[0].changed) == 30
    assert "leak@evil.example" in json.dumps([r.to_dict() for r in plain.diffs[0].changed])


def test_checks_are_recorded_in_the_state_store(moved: Any) -> None:
    migration, _, target, _ = moved
    result = migration.verify()
    dialect = Dialect.for_url(target, role="target")
    try:
        with dialect.connect() as conn:
            state = StateStore(dialect, migration.spec.name)
            rows = state.checks.for_run(conn, result.run_id or "")
    finally:
        dialect.dispose()
    assert [r.check.name for r in rows] == [c.name for c in result.checks]
    assert all(r.check.status == "passed" for r in rows)
    runs = fetch(target, "SELECT command, status FROM datamove.runs ORDER BY started_at")
    assert runs[-1] == ("verify", "ok")


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_long_details_are_recorded_whole(engine: str, make_db: Any) -> None:
    """A thousand differing rows make details far past MySQL's 64 KiB TEXT: kept whole."""
    url = make_db(engine, "state")
    dialect = Dialect.for_url(url, role="target")
    changed = [{"key": [str(n)], "columns": {"doc": ["é" * 100, "x" * 100]}} for n in range(1000)]
    check = Check("t: checksum", "checksum", "t", "failed", details={"changed": changed})
    state = StateStore(dialect, "m")
    try:
        with dialect.connect() as conn:
            state.ensure(conn)
            state.checks.record(conn, "run-1", [check])
            conn.commit()
            (row,) = state.checks.for_run(conn, "run-1")
    finally:
        dialect.dispose()
    assert len(json.dumps(changed)) > 200_000
    assert row.check.details == {"changed": changed}


def test_bad_input(moved: Any, make_db: Any, tmp_path: Path) -> None:
    migration, source, target, spec = moved
    with pytest.raises(UsageError, match="unknown check kind"):
        migration.verify(VerifyOptions(checks=("checksums",)))
    with pytest.raises(
        UsageError, match="no table matches 'acounts'\\n  hint: did you mean accounts"
    ):
        migration.verify(VerifyOptions(tables=("acounts",)))
    execute(source, "CREATE TABLE notes (body TEXT)")  # no key at all
    keyless = write_spec(tmp_path / "k.yaml", source, target, "  notes: {}\n", name="k")
    with pytest.raises(PlanHasErrors, match="key"):
        Migration.from_file(keyless).verify()


@pytest.mark.parametrize("source_engine", ["mysql", "sqlite"])
def test_text_keys_bisect_to_the_exact_rows(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    _accounts(source, text_key=True)
    spec = write_spec(tmp_path / "m.yaml", source, target, "  accounts: {}\n", batch_size=1000)
    migration = Migration.from_file(spec)
    migration.run()
    assert migration.verify().ok
    execute(
        target,
        "DELETE FROM accounts WHERE code = 'acct-00007-é'",
        "UPDATE accounts SET currency = 'XXX' WHERE code = 'acct-04000-x'",
        "INSERT INTO accounts SELECT 'acct-04000-x ', currency, balance, email, opened "
        "FROM accounts WHERE code = 'acct-04000-x'",
    )
    result = migration.verify(VerifyOptions(checks=("checksum",)))
    diff = result.diffs[0]
    assert diff.missing == [("acct-00007-é",)]
    assert diff.extra == [("acct-04000-x ",)]  # a trailing space makes another key
    assert [(r.key, set(r.columns)) for r in diff.changed] == [(("acct-04000-x",), {"currency"})]
    assert diff.ranges_differing == 1 and diff.queries > 4  # bisected, not listed whole


def test_python_transform_columns_are_merged(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("mysql", "src"), make_db("postgresql", "tgt")
    _accounts(source)
    table = TABLE.replace("email: {pii: true}", "email: {pii: true, transform: [upper]}")
    table = table.replace(
        "opened: {}", "opened: {transform: [{timezone: {assume: Europe/Berlin}}]}"
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, table)
    migration = Migration.from_file(spec)
    migration.run()
    clean = migration.verify()
    assert clean.ok, [c.to_dict() for c in clean.checks if not c.ok]
    check = _by_kind(clean, "checksum")[0]
    assert check.details["method"] == "checksum+merge"
    assert set(check.details["compared_in_python"]) == {"email", "opened"}
    execute(
        target,
        "UPDATE accounts SET opened = opened + interval '1 hour' WHERE id = 5",
        "UPDATE accounts SET email = lower(email) WHERE id = 6",
        "UPDATE accounts SET balance = 0 WHERE id = 7",
    )
    diff = migration.verify(VerifyOptions(checks=("checksum",))).diffs[0]
    assert {int(r.key[0]): set(r.columns) for r in diff.changed} == {
        5: {"opened"},
        6: {"email"},
        7: {"balance"},
    }


def test_repair_recopies_the_damaged_chunks(moved: Any) -> None:
    migration, _, target, _ = moved
    execute(
        target,
        "DELETE FROM accounts WHERE id = 1500",
        "UPDATE accounts SET currency = 'XXX' WHERE id = 4200",
    )
    repaired = migration.repair()
    assert repaired.reopened == {"accounts": [1, 4]}  # chunks of 1000 rows: ids 1001-2000, ...
    assert repaired.ok and repaired.run is not None
    assert sum(t.copied for t in repaired.run.tables) == 2000
    assert fetch(target, "SELECT currency FROM accounts WHERE id = 4200") == [("EUR",)]


def test_diff_command(make_db: Any) -> None:
    source, target = make_db("sqlite", "src"), make_db("postgresql", "tgt")
    _accounts(source)
    _accounts(target)
    execute(target, "UPDATE accounts SET email = NULL WHERE id = 3")
    same = diff_tables(source, target, "accounts", columns=("id", "currency", "balance"))
    assert same.ok
    # --columns without the key (as reladiff's -c is used): the primary key is compared too.
    narrowed = diff_tables(source, target, "accounts", columns=("currency", "email"))
    assert not narrowed.ok
    (changed,) = narrowed.diffs[0].changed
    assert changed.key == ("3",) and set(changed.columns) == {"email"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "datamove",
            "diff",
            source,
            target,
            "--table",
            "accounts",
            "--key",
            "id",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    checksum = next(c for c in report["checks"] if c["kind"] == "checksum")
    assert checksum["details"]["changed"][0]["key"] == ["3"]
    assert set(checksum["details"]["changed"][0]["columns"]) == {"email"}
    assert sa.engine.make_url(target).password is None or "***" not in proc.stdout


def test_verify_command_exit_codes_and_diff_out(moved: Any, tmp_path: Path) -> None:
    _, _, target, spec = moved
    run = [sys.executable, "-m", "datamove", "--quiet", "verify", str(spec)]
    ok = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all checks passed" in ok.stdout
    execute(target, "DELETE FROM accounts WHERE id = 77")
    out = tmp_path / "diff.json"
    bad = subprocess.run(
        [*run, "--diff-out", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert bad.returncode == 1
    assert "missing in target (1): key 77" in bad.stdout
    assert json.loads(out.read_text())[0]["missing"] == [["77"]]
