"""Chinook between engines: scaffold the spec (as ``datamove init`` does), run, compare.

Every table's row count must match the source's exactly, the invoice money must add up to the
cent, and a second run must copy nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.spec.scaffold import scaffold
from tests.datasets.conftest import row_counts, scalar, to_cents, user_tables

pytestmark = pytest.mark.slow

CHINOOK_TABLES = 11
CHINOOK_ROWS = 15_607

# (invoice table, total column, line table, unit price column, quantity column) per source engine
MONEY = {
    "mysql": ("Invoice", "Total", "InvoiceLine", "UnitPrice", "Quantity"),
    "sqlite": ("Invoice", "Total", "InvoiceLine", "UnitPrice", "Quantity"),
    "postgresql": ("invoice", "total", "invoice_line", "unit_price", "quantity"),
}

PAIRS = [
    ("mysql", "postgresql"),
    ("postgresql", "sqlite"),
    ("sqlite", "mysql"),
    ("mysql", "sqlite"),
]


def money(url: str, engine: str) -> tuple[object, object]:
    """(SUM of invoice totals, SUM of unit price × quantity), both to the cent."""
    invoice, total, line, price, qty = MONEY[engine]
    invoiced = scalar(url, sa.select(sa.func.sum(sa.column(total))).select_from(sa.table(invoice)))
    lines = scalar(
        url,
        sa.select(sa.func.sum(sa.column(price) * sa.column(qty))).select_from(sa.table(line)),
    )
    return to_cents(invoiced), to_cents(lines)


def assert_same_data(source_url: str, target_url: str, source_engine: str) -> None:
    tables = user_tables(source_url)
    assert len(tables) == CHINOOK_TABLES
    assert user_tables(target_url) == tables
    expected = row_counts(source_url, tables)
    assert sum(expected.values()) == CHINOOK_ROWS
    assert row_counts(target_url, tables) == expected
    assert money(target_url, source_engine) == money(source_url, source_engine)


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS, ids=lambda e: str(e))
def test_chinook_scaffold_and_run(
    source_engine: str,
    target_engine: str,
    chinook: Callable[[str], str],
    make_db: Callable[[str, str], str],
    tmp_path: Path,
) -> None:
    source_url = chinook(source_engine)
    target_url = make_db(target_engine, "target")
    text, notes = scaffold(source_url, target_url, (), None)
    assert notes == []
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")

    first = Migration.from_file(spec).run(workers=2)
    assert first.rejects_total == 0
    assert first.rows == CHINOOK_ROWS
    assert_same_data(source_url, target_url, source_engine)
    verified = Migration.from_file(spec).verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]

    second = Migration.from_file(spec).run(workers=2)
    assert {t.table for t in second.tables} == {t.table for t in first.tables}
    for outcome in second.tables:
        assert outcome.chunks_done == 0, outcome
        assert outcome.chunks_skipped == outcome.chunks_total, outcome
    assert second.rejects_total == 0
    assert_same_data(source_url, target_url, source_engine)


def test_chinook_cli_init_and_run(
    chinook: Callable[[str], str], make_db: Callable[[str, str], str], tmp_path: Path
) -> None:
    source_url = chinook("postgresql")
    target_url = make_db("mysql", "target")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "datamove", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    init = cli("init", "--source", source_url, "--target", target_url, "-o", "spec.yaml")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "spec.yaml").is_file()
    run = cli("run", "spec.yaml", "--quiet")
    assert run.returncode == 0, run.stderr
    assert_same_data(source_url, target_url, "postgresql")
