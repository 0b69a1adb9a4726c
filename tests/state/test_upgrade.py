"""The state store's version: a version-1 store (the release before versions) is upgraded in
place with every row kept; a fresh target gets the current version; a newer store is refused."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from datamove.core.evidence import RunCommand, StepKind
from datamove.dialects.base import Dialect
from datamove.errors import UsageError
from datamove.state.recorder import DATAMOVE_VERSION, Recorder
from datamove.state.records import Progress, SecondPassProgress, TableSummary
from datamove.state.schema import CURRENT_VERSION, StateSchema
from datamove.state.store import StateStore
from datamove.state.upgrade import UPGRADES, stored_version
from datamove.sync.state import SyncState
from tests.conftest import ENGINES
from tests.state.v1 import FINISHED, STARTED, create_v1, fill_v1, v1_rows


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, make_db: Any) -> Iterator[Dialect]:
    dialect = Dialect.for_url(make_db(request.param, "tgt"), role="target")
    yield dialect
    dialect.dispose()


def _columns(conn: sa.Connection, table: sa.Table) -> list[str]:
    return [c["name"] for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)]


def test_upgrades_are_numbered_one_after_another() -> None:
    assert [u.version for u in UPGRADES] == list(range(2, CURRENT_VERSION + 1))


def test_a_version_1_store_is_upgraded_in_place(target: Dialect) -> None:
    state = StateStore(target, "m")
    with target.connect() as conn, conn.begin():
        old = create_v1(conn, target)
        fill_v1(conn, old)
        before = v1_rows(conn, old)
    with target.connect() as conn:
        assert stored_version(conn, state.schema) == 1, "no version row: version 1"
        assert "datamove_version" not in _columns(conn, state.runs)

    with target.connect() as conn, conn.begin():
        state.ensure(conn)

    with target.connect() as conn:
        assert stored_version(conn, state.schema) == CURRENT_VERSION
        assert v1_rows(conn, old) == before, "every row of every table kept"
        for table in state.schema.metadata.sorted_tables:
            assert _columns(conn, table) == [c.name for c in table.columns], table.name
        assert conn.execute(sa.select(state.runs.c.datamove_version)).scalars().all() == [
            None,
            None,
        ]
        _assert_reads_v1_evidence(state, conn)


def _assert_reads_v1_evidence(state: StateStore, conn: sa.Connection) -> None:
    """The read models give back the version-1 rows."""
    run = state.last_run(conn)
    assert run is not None
    assert (run.run_id, run.command, run.status) == ("verify-1", RunCommand.verify, "failed")
    assert run.to_dict() == {
        "run_id": "verify-1",
        "status": "failed",
        "started_at": FINISHED,
        "finished_at": FINISHED,
        "error": "1 check(s) failed",
    }
    assert state.table_summaries(conn) == [
        TableSummary("orders", 2, 2, 3, 1, 1.0, Progress(1, 2), SecondPassProgress(2, 2, 0))
    ]
    (reject,) = state.list_rejects(conn)
    assert reject.key == (dt.date(2024, 5, 1), 4)
    assert reject.to_dict()["key"] == [{"$date": "2024-05-01"}, 4]
    (step,) = state.unfinished_steps(conn)
    assert (step.kind, step.name, step.error) == (
        StepKind.foreign_key,
        "orders_customer_fkey",
        "no customers row 9",
    )
    (check,) = state.checks.for_run(conn, "verify-1")
    assert (check.check.name, check.check.actual, check.check.details) == (
        "orders: count",
        "2",
        {"source_rows": 3},
    )
    sync = SyncState(state.dialect, "m")
    assert sync.position(conn).applied_seq == 42
    assert sync.captures_at_backfill(conn) == {"orders": True}
    assert sync.watermark(conn, "orders") == 7


def test_an_older_store_reads_as_it_is_until_a_command_writes(target: Dialect) -> None:
    """``status`` only reads: a version-1 store answers it unchanged (and stays version 1)."""
    state = StateStore(target, "m")
    with target.connect() as conn, conn.begin():
        fill_v1(conn, create_v1(conn, target))
    with target.connect() as conn:
        assert state.readable(conn)
        _assert_reads_v1_evidence(state, conn)
        assert stored_version(conn, state.schema) == 1


def test_a_new_run_on_an_upgraded_store_records_the_datamove_version(target: Dialect) -> None:
    state = StateStore(target, "m")
    with target.connect() as conn, conn.begin():
        fill_v1(conn, create_v1(conn, target))
    with Recorder(state).run(RunCommand.sync) as run:
        pass
    with target.connect() as conn:
        recorded = conn.execute(
            sa.select(state.runs.c.status, state.runs.c.datamove_version).where(
                state.runs.c.run_id == run.id
            )
        ).one()
        assert tuple(recorded) == ("ok", DATAMOVE_VERSION)
        assert stored_version(conn, state.schema) == CURRENT_VERSION


def test_a_fresh_target_gets_the_current_version(target: Dialect) -> None:
    state = StateStore(target, "m")
    with target.connect() as conn:
        assert stored_version(conn, state.schema) is None
        assert not state.readable(conn)
    with target.connect() as conn, conn.begin():
        state.ensure(conn)
        state.ensure(conn)  # idempotent
    with target.connect() as conn:
        assert stored_version(conn, state.schema) == CURRENT_VERSION
        v = state.schema.version
        assert conn.execute(sa.select(v.c.store, v.c.version)).all() == [("state", CURRENT_VERSION)]
        for table in state.schema.metadata.sorted_tables:
            assert _columns(conn, table) == [c.name for c in table.columns], table.name


def test_a_half_done_upgrade_is_finished(target: Dialect) -> None:
    """MySQL commits each DDL statement: a process killed after an upgrade's DDL but before the
    version row leaves that DDL done; the next ``ensure`` does the rest. Here the store also
    lacks tables (capture was installed before any run: only the sync tables exist)."""
    schema = StateSchema(target)
    with target.connect() as conn, conn.begin():
        v1 = create_v1(conn, target)
        for name in ("runs", "tables", "checkpoints", "second_pass", "rejects", "steps"):
            v1[name].drop(conn)
        conn.execute(
            v1["sync"].insert(),
            [{"migration": "m", "applied_seq": 5, "applied_total": 5, "updated_at": STARTED}],
        )
    with target.connect() as conn:
        assert stored_version(conn, schema) == 1
    with target.connect() as conn, conn.begin():
        SyncState(target, "m").ensure(conn)
    with target.connect() as conn:
        assert stored_version(conn, schema) == CURRENT_VERSION
        assert SyncState(target, "m").position(conn).applied_seq == 5
        for table in schema.metadata.sorted_tables:
            assert _columns(conn, table) == [c.name for c in table.columns], table.name


def test_a_newer_store_is_refused(target: Dialect) -> None:
    state = StateStore(target, "m")
    with target.connect() as conn, conn.begin():
        state.ensure(conn)
        conn.execute(state.schema.version.update().values(version=CURRENT_VERSION + 3))
    message = (
        f"state store version {CURRENT_VERSION + 3} is newer than this datamove "
        f"({CURRENT_VERSION}): upgrade datamove"
    )
    with target.connect() as conn, pytest.raises(UsageError, match=re.escape(message)):
        state.ensure(conn)
    with target.connect() as conn, pytest.raises(UsageError, match="newer than this datamove"):
        state.readable(conn)
    with pytest.raises(UsageError, match="newer than this datamove"):
        with Recorder(state).run(RunCommand.run):
            pytest.fail("no run starts on a newer store")
    with target.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(state.runs)).scalar() == 0
        assert state.last_run(conn) is None


def test_a_version_2_store_gets_the_flag_tables_in_place(target: Dialect) -> None:
    """Version 3 adds the read-path flags (``flags``, ``flag_history``): a version-2 store
    gets them, keeps every row, and a flag can be set and read at once."""
    from datamove.flags import FlagStore
    from tests.state.v1 import v1_rows
    from tests.state.v2 import create_v2

    state = StateStore(target, "m")
    with target.connect() as conn, conn.begin():
        old = create_v2(conn, target)
        before = v1_rows(conn, old)
    with target.connect() as conn:
        assert stored_version(conn, state.schema) == 2
        assert not sa.inspect(conn).has_table(state.schema.flags.name, state.schema.flags.schema)

    FlagStore(target, "m").set("read_path", "platform", by="ops")

    with target.connect() as conn:
        assert stored_version(conn, state.schema) == CURRENT_VERSION  # 3, then 4
        assert v1_rows(conn, old) == before, "every row of every table kept"
        for table in state.schema.metadata.sorted_tables:
            assert _columns(conn, table) == [c.name for c in table.columns], table.name
        reading = FlagStore(target, "m").read(conn, "read_path")
        assert reading.setting is not None and reading.setting.value == "platform"
        run = state.last_run(conn)
        assert run is not None and run.run_id == "sync-2"
