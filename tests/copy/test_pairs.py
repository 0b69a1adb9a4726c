"""Every ordered pair of engines, end to end: init → run → the target equals the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamove import Migration
from tests.conftest import ENGINES
from tests.helpers import create_orders, table_rows, write_spec

PAIRS = [(s, t) for s in ENGINES for t in ENGINES]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_pair_copies_every_row_and_value(make_db, tmp_path: Path, source: str, target: str) -> None:
    src = make_db(source, "src")
    tgt = make_db(target, "tgt")
    create_orders(src, source, 2500)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=1000)

    result = Migration.from_file(spec).run(workers=2)

    assert result.rows == 2500
    expected_path = {
        ("postgresql", "postgresql"): "copy-binary",  # identical types: binary COPY
        ("mysql", "postgresql"): "copy",  # raw MySQL text encoded as COPY text
    }.get((source, target), "rows")
    assert result.tables[0].paths == {expected_path}
    assert result.tables[0].chunks_total == 3
    assert table_rows(tgt, "orders") == table_rows(src, "orders")
    verified = Migration.from_file(spec).verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]
    # A second run finds every chunk committed and copies nothing again.
    again = Migration.from_file(spec).run()
    assert again.tables[0].chunks_skipped == 3
    assert again.rows == 2500
    assert table_rows(tgt, "orders") == table_rows(src, "orders")
