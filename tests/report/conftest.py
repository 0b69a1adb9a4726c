"""A small migration for the report tests: SQLite accounts into PostgreSQL, with an invariant,
a shadow query and a two-hour reconcile window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from tests.conftest import execute
from tests.helpers import write_spec

ROWS = 300
EXTRA = """checks:
  shadow:
    - name: richest accounts
      source: SELECT id, balance FROM accounts ORDER BY balance DESC, id LIMIT 5
      target: SELECT id, balance FROM accounts ORDER BY balance DESC, id LIMIT 5
      ordered: true
invariants:
  - name: total balance
    source: SELECT SUM(balance) FROM accounts
    target: SELECT SUM(balance) FROM accounts
signoff: {reconcile_window: 2h}
"""
TABLE = """  accounts:
    columns: {id: , currency: , balance: , email: {pii: true}}
"""


@pytest.fixture
def accounts(make_db: Any, tmp_path: Path) -> tuple[Migration, str, str, Path]:
    """(migration, source URL, target URL, spec path); nothing has run."""
    source, target = make_db("sqlite", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, currency CHAR(3) NOT NULL, "
        "balance DECIMAL(12,2) NOT NULL, email VARCHAR(80))",
    )
    rows = [
        {"i": n, "c": ("EUR", "USD")[n % 2], "b": f"{n * 3 % 1000}.25", "e": f"u{n}@example.com"}
        for n in range(1, ROWS + 1)
    ]
    execute(source, "INSERT INTO accounts VALUES (:i, :c, :b, :e)", params=rows)  # type: ignore[arg-type]
    spec = write_spec(tmp_path / "m.yaml", source, target, TABLE, batch_size=100)
    spec.write_text(spec.read_text().replace("tables:\n", EXTRA + "tables:\n"))
    return Migration.from_file(spec), source, target, spec
