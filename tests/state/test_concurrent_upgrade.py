"""Processes starting at once on one target (workers, a run beside a sync) each ``ensure`` the
state store: one creates or upgrades it, the others find it current; nothing fails twice over."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.state.schema import CURRENT_VERSION
from datamove.state.store import StateStore
from datamove.state.upgrade import stored_version
from tests.conftest import ENGINES
from tests.state.v1 import create_v1, fill_v1, v1_rows

CALLERS = 6


def _ensure_at_once(url: str) -> list[BaseException]:
    """``CALLERS`` threads, each with its own engine (as separate processes have), call
    ``ensure`` together; the errors they raised."""
    dialects = [Dialect.for_url(url, role="target") for _ in range(CALLERS)]
    start, errors = threading.Barrier(CALLERS), []

    def ensure(dialect: Dialect) -> None:
        try:
            start.wait()
            with dialect.connect() as conn, conn.begin():
                StateStore(dialect, "m").ensure(conn)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(d,)) for d in dialects]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for d in dialects:
        d.dispose()
    return errors


def _assert_one_current_store(url: str) -> None:
    dialect = Dialect.for_url(url, role="target")
    state = StateStore(dialect, "m")
    try:
        with dialect.connect() as conn:
            assert stored_version(conn, state.schema) == CURRENT_VERSION
            v = state.schema.version
            assert conn.execute(sa.select(v.c.version)).scalars().all() == [CURRENT_VERSION]
            inspector = sa.inspect(conn)
            for table in state.schema.metadata.sorted_tables:
                found = inspector.get_columns(table.name, schema=table.schema)
                assert [c["name"] for c in found] == [c.name for c in table.columns]
    finally:
        dialect.dispose()


@pytest.mark.parametrize("engine", ENGINES)
def test_concurrent_ensure_on_a_fresh_target(engine: str, make_db: Any) -> None:
    url = make_db(engine, "tgt")
    assert _ensure_at_once(url) == []
    _assert_one_current_store(url)


@pytest.mark.parametrize("engine", ENGINES)
def test_concurrent_upgrade_of_a_version_1_store(engine: str, make_db: Any) -> None:
    url = make_db(engine, "tgt")
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn, conn.begin():
            old = create_v1(conn, dialect)
            fill_v1(conn, old)
            before = v1_rows(conn, old)
        assert _ensure_at_once(url) == []
        _assert_one_current_store(url)
        with dialect.connect() as conn:
            assert v1_rows(conn, old) == before
    finally:
        dialect.dispose()
