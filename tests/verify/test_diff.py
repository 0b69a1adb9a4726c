"""``datamove diff`` as a reladiff user meets it, and the values in verify's JSON.

The differing values in ``--json`` and ``--diff-out`` are JSON values (NULL is null, every
other value its canonical text, a decimal exactly ``"9.99"``), never Python's repr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import execute
from tests.helpers import write_spec

PAYMENT = "CREATE TABLE {name} (id INT PRIMARY KEY, amount NUMERIC(5,2), note VARCHAR(20))"


def datamove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _payments(url: str, name: str, rows: str) -> None:
    execute(url, PAYMENT.format(name=name), f"INSERT INTO {name} VALUES {rows}")


def test_diff_json_holds_json_values_not_python_repr(pg_db: str, tmp_path: Path) -> None:
    _payments(pg_db, "a", "(1, 9.99, 'x'), (2, 1.00, NULL), (3, 2.50, '')")
    _payments(pg_db, "b", "(1, 9.98, 'x'), (2, 1.00, 'NULL'), (3, 2.50, 'it''s')")
    out = tmp_path / "diff.json"
    args = ("diff", pg_db, pg_db, "--table", "a", "--target-table", "b")
    proc = datamove(*args, "--json", "--diff-out", str(out))
    assert proc.returncode == 1, proc.stderr
    changed = {
        "1": {"amount": {"source": "9.99", "target": "9.98"}},
        "2": {"note": {"source": None, "target": "NULL"}},
        "3": {"note": {"source": "", "target": "it's"}},
    }
    report = json.loads(proc.stdout)
    checksum = next(c for c in report["checks"] if c["kind"] == "checksum")
    assert {r["key"][0]: r["columns"] for r in checksum["details"]["changed"]} == changed
    (written,) = json.loads(out.read_text())
    assert {r["key"][0]: r["columns"] for r in written["changed"]} == changed

    text = datamove(*args)
    assert text.returncode == 1
    assert text.stdout.startswith("diff"), text.stdout
    assert "verify" not in text.stdout
    assert "amount: '9.99' → '9.98'" in text.stdout
    assert "note: NULL → 'NULL'" in text.stdout
    assert "note: '' → \"it's\"" in text.stdout


def test_verify_json_values_are_json_and_pii_stays_masked(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE payment (id INT PRIMARY KEY, amount NUMERIC(5,2), email VARCHAR(40))",
        "INSERT INTO payment VALUES (1, 9.99, 'ann@example.com'), (2, 1.00, NULL)",
    )
    table = "  payment:\n    columns:\n      id: {}\n      amount: {}\n      email: {pii: true}\n"
    spec = write_spec(tmp_path / "m.yaml", source, target, table)
    spec.write_text(
        spec.read_text().replace(
            "tables:\n",
            "checks:\n  samples:\n    - {table: payment, rows: 10}\n  shadow:\n"
            "    - {name: cheap, ordered: true, source: &q 'SELECT id, NULLIF(amount, 9.99) "
            "FROM payment ORDER BY id', target: *q}\ntables:\n",
        )
    )
    assert datamove("--quiet", "run", str(spec)).returncode == 0
    execute(target, "UPDATE payment SET amount = 9.98, email = 'bob@example.com' WHERE id = 1")
    proc = datamove("verify", str(spec), "--json")
    assert proc.returncode == 1, proc.stderr
    checks = {c["kind"]: c for c in json.loads(proc.stdout)["checks"]}
    (row,) = checks["checksum"]["details"]["changed"]
    assert row["columns"]["amount"] == {"source": "9.99", "target": "9.98"}
    masked = row["columns"]["email"]
    assert masked["source"].startswith("str(an") and "example" not in masked["source"]
    (sampled,) = checks["sample"]["details"]["differences"]
    assert sampled["columns"]["amount"] == ["9.99", "9.98"]
    (shadow,) = checks["shadow"]["details"]["differences"]
    assert (shadow["source"], shadow["target"]) == (None, "9.98"), "NULL is null, not 'None'"
    assert "'" not in json.dumps(checks) and "None" not in json.dumps(checks)


def test_schema_qualified_names_read_the_named_tables(pg_db: str) -> None:
    """Tables of one name in two schemas (and public): each side reads the one it names."""
    execute(pg_db, "CREATE SCHEMA sales", "CREATE SCHEMA archive", 'CREATE SCHEMA "Odd.Schema"')
    _payments(pg_db, "sales.payment", "(1, 9.99, 'x'), (2, 1.00, 'y')")
    _payments(pg_db, "archive.payment", "(1, 9.99, 'x'), (2, 1.00, 'y')")
    _payments(pg_db, "public.payment", "(1, 9.98, 'x')")
    _payments(pg_db, '"Odd.Schema"."pay.ment"', "(1, 9.99, 'x'), (2, 1.00, 'z')")

    same = datamove(
        "diff",
        pg_db,
        pg_db,
        "--table",
        "sales.payment",
        "--target-table",
        "archive.payment",
        "--json",
    )
    assert same.returncode == 0, same.stdout + same.stderr
    counts = next(c for c in json.loads(same.stdout)["checks"] if c["kind"] == "count")
    assert counts["details"]["source_rows"] == counts["details"]["target_rows"] == 2

    # --target-table defaults to the source's name in the source's schema: the same table.
    assert datamove("diff", pg_db, pg_db, "--table", "sales.payment").returncode == 0

    public = datamove(
        "diff", pg_db, pg_db, "--table", "sales.payment", "--target-table", "payment", "--json"
    )
    assert public.returncode == 1
    (checksum,) = [c for c in json.loads(public.stdout)["checks"] if c["kind"] == "checksum"]
    assert checksum["details"]["missing"] == [["2"]]
    assert checksum["details"]["changed"][0]["columns"] == {
        "amount": {"source": "9.99", "target": "9.98"}
    }

    quoted = datamove(
        "diff",
        pg_db,
        pg_db,
        "--table",
        "archive.payment",
        "--target-table",
        '"Odd.Schema"."pay.ment"',
        "--json",
    )
    assert quoted.returncode == 1, quoted.stderr
    (checksum,) = [c for c in json.loads(quoted.stdout)["checks"] if c["kind"] == "checksum"]
    assert checksum["details"]["changed"][0]["columns"] == {"note": {"source": "y", "target": "z"}}


def test_schema_qualified_names_explain_what_is_wrong(pg_db: str, sqlite_db: Any) -> None:
    execute(pg_db, "CREATE SCHEMA sales")
    _payments(pg_db, "sales.payment", "(1, 9.99, 'x')")
    for args, message in (
        (("--table", "nope.payment"), "--table: the source has no schema 'nope'"),
        (
            ("--table", "sales.payment", "--target-table", "sales.nope"),
            "cannot compare sales.payment with sales.nope",
        ),
        (
            ("--table", 'sales."pay.ment'),
            "--table 'sales.\"pay.ment': expected TABLE or SCHEMA.TABLE",
        ),
        (("--table", "a.b.c"), "expected TABLE or SCHEMA.TABLE"),
    ):
        proc = datamove("diff", pg_db, pg_db, *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr, proc.stderr
    lite = sqlite_db("lite")
    proc = datamove("diff", pg_db, lite, "--table", "sales.payment", "--target-table", "x.payment")
    assert proc.returncode == 2
    assert "--target-table: a sqlite target has no schemas; name the table alone" in proc.stderr


def test_mariadb_database_qualified_names(make_db: Any, pg_db: str) -> None:
    """On MariaDB ``db.table`` names a database: the same table name in two databases."""
    one, two = make_db("mysql", "one"), make_db("mysql", "two")
    _payments(one, "payment", "(1, 9.99, 'x'), (2, 1.00, 'y')")
    _payments(two, "payment", "(1, 9.99, 'x'), (2, 1.50, 'y')")
    db_two = two.rsplit("/", 1)[1]
    proc = datamove(
        "diff", one, one, "--table", "payment", "--target-table", f"{db_two}.payment", "--json"
    )
    assert proc.returncode == 1, proc.stderr
    (checksum,) = [c for c in json.loads(proc.stdout)["checks"] if c["kind"] == "checksum"]
    assert checksum["details"]["changed"][0]["columns"] == {
        "amount": {"source": "1.00", "target": "1.50"}
    }
    # Across engines: a PostgreSQL schema against a MariaDB database.
    execute(pg_db, "CREATE SCHEMA sales")
    _payments(pg_db, "sales.payment", "(1, 9.99, 'x'), (2, 1.50, 'y')")
    across = datamove(
        "diff", pg_db, one, "--table", "sales.payment", "--target-table", f"{db_two}.payment"
    )
    assert across.returncode == 0, across.stdout + across.stderr


def test_a_postgresql_urls_own_options_are_kept(pg_db: str) -> None:
    """libpq ``options`` in the URL (a search_path) were replaced by datamove's session
    settings; now both apply."""
    execute(pg_db, "CREATE SCHEMA sales")
    _payments(pg_db, "sales.payment", "(1, 9.99, 'x'), (2, 1.00, 'y')")
    _payments(pg_db, "public.payment", "(1, 9.99, 'x')")
    _payments(pg_db, "public.copied", "(1, 9.99, 'x'), (2, 1.00, 'y')")
    in_sales = f"{pg_db}?options=-csearch_path%3Dsales"
    proc = datamove("diff", in_sales, pg_db, "--table", "payment", "--target-table", "copied")
    assert proc.returncode == 0, proc.stdout + proc.stderr
