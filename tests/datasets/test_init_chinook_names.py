"""``init`` from Chinook's snake_case PostgreSQL edition onto its PascalCase SQLite edition:
every table and column is matched ignoring case and separators, and the spec plans clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.datasets.conftest import user_tables

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args], capture_output=True, text=True, check=False
    )


def test_chinook_snake_case_onto_pascal_case(
    chinook_postgresql: str, chinook_sqlite: str, tmp_path: Path
) -> None:
    spec = tmp_path / "m.yaml"
    init = _cli("init", "--source", chinook_postgresql, "--target", chinook_sqlite, "-o", str(spec))
    assert init.returncode == 0, init.stderr
    assert "source table invoice_line maps onto the target's existing InvoiceLine" in init.stderr
    tables = yaml.safe_load(spec.read_text("utf-8"))["tables"]
    assert sorted(tables) == user_tables(chinook_sqlite)
    assert tables["InvoiceLine"]["source"] == "invoice_line"
    assert tables["InvoiceLine"]["columns"]["InvoiceLineId"] == {"from": "invoice_line_id"}
    assert tables["Employee"]["columns"]["ReportsTo"] == {"from": "reports_to"}
    plan = _cli("plan", str(spec))
    assert plan.returncode == 0, plan.stdout + plan.stderr
