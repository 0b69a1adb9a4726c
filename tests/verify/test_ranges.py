"""Every engine numbers key ranges and sums row digests alike, exactly as the Python reference.

The checksum compares, range by range, sums one database computes with sums another computes:
a bucket number or a digest sum that differs between engines would make every range differ
(and verify would list every row instead of failing fast). So each engine's grouped scan is
held to the reference here, on a table whose digests overflow 64-bit sums within a range.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from datamove.core.canonical import Canon, digest
from datamove.dialects.base import Dialect
from datamove.verify.rangesum import Bucketing, Side
from tests.conftest import ENGINES, execute

ROWS = 5000
NOTES = ["", "a|1:b", "-", "Ünïcødé ✓", None]


@pytest.mark.parametrize("engine", ENGINES)
def test_bucket_sums_match_the_reference(engine: str, make_db: Any) -> None:
    """Wide ranges in one scan; 125 narrow ones, which MySQL scans as two halves at once."""
    url = make_db(engine, "ranges")
    execute(url, "CREATE TABLE r (id BIGINT PRIMARY KEY, note VARCHAR(40))")
    rows = [{"id": n, "note": NOTES[n % len(NOTES)]} for n in range(1, ROWS + 1)]
    execute(url, "INSERT INTO r (id, note) VALUES (:id, :note)", params=rows)  # type: ignore[arg-type]
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn:
            table = sa.Table("r", sa.MetaData(), autoload_with=conn)
            key, note = Canon("integer"), Canon("text")
            side = Side(
                dialect,
                conn,
                table,
                [table.c.id],
                [table.c.id],
                [dialect.canonical.text(table.c.id, key, None)],  # type: ignore[list-item]
                [dialect.canonical.text(table.c.note, note, None)],  # type: ignore[list-item]
                [False, True],
                sa.true(),
            )
            found = {w: side.first_sums(Bucketing(1, w), -(-ROWS // w)) for w in (1000, 40)}
    finally:
        dialect.dispose()
    for width, sums in found.items():
        expected: dict[int, tuple[int, int]] = {}
        for row in rows:
            n = (row["id"] - 1) // width
            count, total = expected.get(n, (0, 0))
            row_digest = digest([str(row["id"]), row["note"]], [False, True])
            expected[n] = (count + 1, total + row_digest)
        assert sums == expected, width
    assert max(total for _, total in found[1000].values()) > 2**63  # the sums must be exact
