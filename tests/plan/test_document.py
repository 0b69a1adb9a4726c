"""The mapping document: a golden test on the demo spec, and the HTML form."""

from __future__ import annotations

import os
from pathlib import Path

from datamove import Migration
from datamove.demo.shop import create_legacy, write_spec

GOLDEN = Path(__file__).parent / "golden" / "demo-mapping.md"


def _demo_document(tmp_path: Path, suffix: str) -> str:
    create_legacy(tmp_path / "legacy.sqlite")
    spec = tmp_path / "migration.yaml"
    write_spec(spec, tmp_path / "legacy.sqlite", tmp_path / "platform.sqlite")
    migration = Migration.from_file(spec)
    path = migration.write_document(migration.plan(), tmp_path / f"mapping{suffix}")
    return path.read_text(encoding="utf-8").replace(tmp_path.resolve().as_posix(), "DEMO_DIR")


def test_demo_mapping_document_matches_the_golden_file(tmp_path) -> None:
    text = _demo_document(tmp_path, ".md")
    if os.environ.get("DATAMOVE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    # What a reviewer must be able to read without the YAML:
    assert "Reads local Europe/Berlin time and converts it to UTC" in text
    assert "Rounded to 2 decimal place(s), half to even" in text
    assert "Mapped 0 → new, 1 → paid" in text
    assert "| **Load order** | customers → orders → order_items → payments |" in text
    assert "`payments`: `cc_last4` — card digits are not kept in the new platform" in text


def test_html_document_escapes_and_lists_every_table(tmp_path) -> None:
    html = _demo_document(tmp_path, ".html")
    assert html.startswith("<!doctype html>")
    for table in ("customers", "orders", "order_items", "payments"):
        assert f"<code>{table}</code>" in html
    assert "→ new" in html and "<script" not in html
