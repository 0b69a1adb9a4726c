"""The mapping document a reviewer signs: summary and contents at the top, every dropped column
with its reason, time-zone conversions named, invariants with their tolerances, findings
grouped; the HTML form checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.plan.document import describe_column, tolerance_words
from datamove.plan.model import ColumnPlan
from datamove.spec.models import Tolerance
from tests.conftest import execute
from tests.helpers import chromium, write_spec

TABLES = """\
  orders:
    columns: {id: , created: , changed: }
    drop: {legacy_flag: never read since the 2019 rewrite}
  notes:
    columns: {id: , body: }
    drop: [fax]"""
EXTRA = {
    "invariants": "[{name: order count, source: SELECT count(*) FROM orders, "
    "target: SELECT count(*) FROM orders, tolerance: {abs: 2}}]",
    "acknowledge": "[{code: naive-to-zoned, table: orders, column: changed, "
    "reason: the shop server ran on UTC}]",
}


@pytest.fixture
def document(sqlite_db, pg_db, tmp_path) -> Iterator[Any]:
    """Writes the document (.md or .html) of a spec with dropped columns, naive timestamps
    into zoned columns, two unmapped columns, an invariant and an acknowledgement."""
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, created DATETIME, changed DATETIME, "
        "legacy_flag INTEGER)",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, fax TEXT, n1 TEXT, n2 TEXT)",
    )
    execute(
        pg_db,
        "CREATE TABLE orders (id bigint PRIMARY KEY, created timestamptz, changed timestamptz)",
    )
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, TABLES, **EXTRA)
    migration = Migration.from_file(spec)
    plan = migration.plan()

    def write(suffix: str) -> Path:
        return migration.write_document(plan, tmp_path / f"mapping{suffix}")

    yield write


def test_the_markdown_document_is_what_a_reviewer_signs(document) -> None:
    text = document(".md").read_text(encoding="utf-8")
    top = text[: text.index("## Tables")]
    assert "| **Columns** | 5 moved, 2 dropped |" in top
    assert "| **Findings** | 0 error(s), 3 warning(s), 0 note(s); 1 acknowledged |" in top
    assert "## Contents" in top and "  - [orders](#table-orders)" in top
    # Every dropped column, with its reason (or the lack of one).
    assert "- `orders`: `legacy_flag` — never read since the 2019 rewrite" in text
    assert "- `notes`: `fax` — no reason given in the spec" in text
    # A naive timestamp into a zoned column is a conversion, not "copied as is".
    row = next(line for line in text.splitlines() if line.startswith("| `created` |"))
    assert "Read as UTC" in row and "copied as is" not in row
    assert (
        "must equal target `SELECT count(*) FROM orders`, numbers may differ by at most 2." in text
    )
    # The two unmapped columns are one finding listing both; the acknowledged one has its reason.
    findings = text[text.index("## Findings") :]
    assert "- **warning** `unmapped-column` ×2: source column '…' is not mapped" in findings
    assert "  - `notes.n1` at `tables.notes.columns`\n  - `notes.n2` at" in findings
    assert (
        "`naive-to-zoned` (`tables.orders.columns.changed`) — the shop server ran on UTC"
        in findings
    )


def test_the_html_document_in_a_headless_browser(document) -> None:
    executable = chromium()
    from playwright.sync_api import expect, sync_playwright

    html = document(".html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(html.resolve().as_uri())
            # The summary table and the contents are visible at the top, without scrolling.
            for selector in ("#summary", "#contents"):
                expect(page.locator(selector)).to_be_in_viewport()
            expect(page.locator("#summary")).to_contain_text("5 moved, 2 dropped")
            expect(page.locator("#contents a[href='#table-notes']")).to_be_visible()
            # A dropped column is listed with its reason.
            dropped = page.locator("#dropped-columns tr", has_text="legacy_flag")
            expect(dropped).to_contain_text("never read since the 2019 rewrite")
            # A folded findings group opens on a click and lists where it applies.
            group = page.locator("details.finding", has_text="unmapped-column")
            places = group.locator("li", has_text="notes.n2")
            expect(places).to_be_hidden()
            group.locator("summary").click()
            expect(places).to_be_visible()
            expect(group.locator("summary")).to_contain_text("×2")
        finally:
            browser.close()


def test_zone_conversions_and_tolerances_in_words() -> None:
    column = ColumnPlan("at", "at", [], None, sa.DateTime(), "timestamp", True, True)
    assert describe_column(column) == "copied as is"
    assert describe_column(column, frozenset({"zoned-to-naive"})) == (
        "Converted to UTC and stored without a time zone"
    )
    assert tolerance_words(Tolerance()) == "exactly"
    both = Tolerance(abs=Decimal("0.01"), pct=Decimal("1"))
    assert tolerance_words(both) == "numbers may differ by at most 0.01 or by at most 1 %"
