"""One session per command: the plan is resolved once (``repair`` verifies, copies and
verifies again on it; it resolved the plan four times)."""

from __future__ import annotations

from typing import Any

import datamove.session
from datamove import Migration
from tests.conftest import execute
from tests.helpers import create_orders, write_spec


def test_repair_resolves_the_plan_once(sqlite_db, pg_db, tmp_path, monkeypatch) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 300)
    migration = Migration.from_file(write_spec(tmp_path / "m.yaml", src, pg_db, "  orders:"))
    migration.run()
    execute(pg_db, "UPDATE orders SET qty = qty + 1 WHERE id = 7")
    calls: list[Any] = []
    resolve = datamove.session.resolve_plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return resolve(*args, **kwargs)

    monkeypatch.setattr(datamove.session, "resolve_plan", counted)
    result = migration.repair()
    assert result.ok and result.reopened == {"orders": [0]}
    assert len(calls) == 1
