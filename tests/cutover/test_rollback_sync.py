"""``datamove sync`` after a rollback: the target stays fenced and the source is live again;
the sync writes the source's new changes into the fenced target through the fence's bypass (a
second cutover starts caught up), while the application's writes there are still refused and
the target's reverse capture records none of the sync's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute, fetch
from tests.cutover.test_rollback_kept import _setup


@pytest.mark.parametrize(
    "pair", [("postgresql", "postgresql"), ("mysql", "postgresql"), ("postgresql", "mysql")]
)
def test_sync_after_a_rollback_writes_through_the_target_fence(
    pair: tuple[str, str], make_db: Any, tmp_path: Path
) -> None:
    source, target, migration = _setup(pair, make_db, tmp_path)
    execute(target, "UPDATE products SET name = 'on target' WHERE id = 2")
    migration.rollback(by="ops-test")
    reverse = fetch(target, "SELECT count(*) FROM datamove_reverse_changelog")
    execute(
        source,
        "INSERT INTO products (id, price, name, note) VALUES (20, 9.991, ' later ', '')",
        "UPDATE products SET price = 30.004 WHERE id = 3",
        "DELETE FROM products WHERE id = 4",
    )
    done = CliRunner().invoke(app, ["sync", str(tmp_path / "m.yaml")])
    assert done.exit_code == 0, done.output
    assert fetch(target, "SELECT id, price, name, note FROM products ORDER BY id") == [
        (1, Decimal("20.00"), "padded", None),
        (2, Decimal("5.12"), "on target", "x"),  # half to even
        (3, Decimal("30.00"), "three", None),
        (5, Decimal("2.50"), "five", None),
        (20, Decimal("9.99"), "later", None),
    ]
    assert fetch(target, "SELECT count(*) FROM datamove_reverse_changelog") == reverse
    with pytest.raises(sa.exc.DBAPIError, match="datamove write fence"):
        execute(target, "UPDATE products SET name = 'app' WHERE id = 1")
