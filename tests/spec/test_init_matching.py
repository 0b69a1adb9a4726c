"""``init`` against a target whose tables already exist under another spelling
(``Customer``/``CustomerId`` for the source's ``customer``/``customer_id``) maps onto them,
says so on stderr and in the spec, instead of proposing new tables."""

from __future__ import annotations

import subprocess
import sys

import yaml

from datamove import Migration
from tests.conftest import execute, fetch


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args], capture_output=True, text=True, check=False
    )


def test_init_matches_pascal_case_target_tables_and_columns(tmp_path, sqlite_db, pg_db) -> None:
    src = sqlite_db("src")
    execute(
        src,
        "CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL)",
        "CREATE TABLE invoice_line (invoice_line_id INTEGER PRIMARY KEY, "
        "customer_id INTEGER NOT NULL REFERENCES customer (customer_id))",
        "INSERT INTO customer VALUES (1, 'Ada'), (2, 'Grace')",
        "INSERT INTO invoice_line VALUES (10, 1), (11, 2), (12, 2)",
    )
    execute(
        pg_db,
        'CREATE TABLE "Customer" ("CustomerId" INTEGER PRIMARY KEY, "FirstName" TEXT NOT NULL)',
        'CREATE TABLE "InvoiceLine" ("InvoiceLineId" INTEGER PRIMARY KEY, '
        '"CustomerId" INTEGER NOT NULL REFERENCES "Customer" ("CustomerId"))',
    )
    spec = tmp_path / "m.yaml"
    init = _cli("init", "--source", src, "--target", pg_db, "-o", str(spec))
    assert init.returncode == 0, init.stderr
    assert "source table invoice_line maps onto the target's existing InvoiceLine" in init.stderr
    assert "customer.customer_id maps onto the target's Customer.CustomerId" in init.stderr

    text = spec.read_text("utf-8")
    tables = yaml.safe_load(text)["tables"]
    assert list(tables) == ["Customer", "InvoiceLine"]
    assert tables["Customer"]["source"] == "customer"
    assert tables["Customer"]["key"] == {"columns": ["customer_id"]}  # key names source columns
    assert tables["Customer"]["columns"] == {
        "CustomerId": {"from": "customer_id"},
        "FirstName": {"from": "first_name"},
    }
    assert "# INTEGER NOT NULL; matches target column CustomerId" in text
    assert "# target table exists in the target (matched to source invoice_line" in text

    plan = _cli("plan", str(spec))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    migration = Migration.from_file(spec)
    migration.run()
    assert migration.verify().ok
    assert fetch(pg_db, 'SELECT "InvoiceLineId", "CustomerId" FROM "InvoiceLine" ORDER BY 1') == [
        (10, 1),
        (11, 2),
        (12, 2),
    ]
