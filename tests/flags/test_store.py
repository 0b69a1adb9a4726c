"""The flag store on every engine: a value per targeting key overrides the flag's own, each
set is recorded with who, when and the value before, and bad input touches no database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.errors import UsageError
from datamove.flags import FlagStore
from datamove.flags.values import parse
from datamove.state.schema import CURRENT_VERSION
from datamove.state.upgrade import stored_version
from tests.conftest import ENGINES


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, make_db: Any) -> Iterator[FlagStore]:
    dialect = Dialect.for_url(make_db(request.param, "tgt"), role="target")
    yield FlagStore(dialect, "shop")
    dialect.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_a_tenants_value_overrides_the_flags_own(store: FlagStore) -> None:
    with store.dialect.connect() as conn:
        assert store.read(conn, "read_path", "acme").setting is None, "nothing set, no store"
        assert store.listing(conn).to_dict() == {"flags": [], "history": []}

    store.set("read_path", "legacy", by="ops")
    store.set("read_path", "platform", targeting_key="acme", by="ops")
    FlagStore(store.dialect, "other").set("read_path", "other-migration", by="ops")

    with store.dialect.connect() as conn:
        assert stored_version(conn, store.schema) == CURRENT_VERSION
        acme = store.read(conn, "read_path", "acme")
        assert acme.setting is not None
        assert (acme.setting.value, acme.matched) == ("platform", "targeting_key")
        globex = store.read(conn, "read_path", "globex")
        assert globex.setting is not None
        assert (globex.setting.value, globex.matched) == ("legacy", "flag")
        assert store.read(conn, "read_path").to_dict()["value"] == "legacy"
        assert store.snapshot(conn) == {
            ("read_path", ""): "legacy",
            ("read_path", "acme"): "platform",
        }, "only this migration's flags"


def test_every_set_records_who_when_and_the_value_before(store: FlagStore) -> None:
    start = _now().replace(microsecond=0)  # MariaDB's DATETIME keeps whole seconds
    store.set("read_path", False, by="alice", note="rehearsal")
    store.set("read_path", True, by="bob")
    store.set("limits", {"rps": 50, "burst": [1, 2.5]})  # the OS user
    end = _now()

    with store.dialect.connect() as conn:
        listing = store.listing(conn)
    assert [(s.name, s.value, s.updated_by) for s in listing.settings] == [
        ("limits", {"burst": [1, 2.5], "rps": 50}, listing.settings[0].updated_by),
        ("read_path", True, "bob"),
    ]
    assert listing.settings[0].updated_by not in ("", "unknown")
    changes = [(c.name, c.previous, c.value, c.changed_by, c.note) for c in listing.changes]
    assert changes == [
        ("limits", None, {"burst": [1, 2.5], "rps": 50}, listing.settings[0].updated_by, None),
        ("read_path", False, True, "bob", None),
        ("read_path", None, False, "alice", "rehearsal"),
    ]
    times = [c.changed_at for c in listing.changes]
    assert all(start <= t <= end for t in times) and times == sorted(times, reverse=True)


def test_a_set_and_its_history_row_commit_together(store: FlagStore) -> None:
    """``record`` writes inside the caller's transaction: rolled back, neither is kept (the
    runbook's flip step records its step in the same transaction)."""
    store.set("read_path", "legacy", by="ops")
    with store.dialect.connect() as conn:
        with conn.begin() as tx:
            store.record(conn, "read_path", "platform", by="flip")
            tx.rollback()
        assert store.read(conn, "read_path").to_dict()["value"] == "legacy"
        assert [c.value for c in store.changes(conn)] == ["legacy"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.set("read_path", None), "cannot be null"),
        (lambda s: s.set("read_path", float("nan")), "finite number"),
        (lambda s: s.set("read_path", {1, 2}), "must be JSON"),
        (lambda s: s.set("", True), "flag name is empty"),
        (lambda s: s.set("x" * 256, True), "longer than 255"),
        (lambda s: s.set("read_path", True, targeting_key=""), "targeting key is empty"),
        (lambda s: s.set("read_path", True, by=" "), "--as name is empty"),
    ],
)
def test_bad_input_is_refused_before_the_store_is_touched(
    store: FlagStore, call: Any, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        call(store)
    with store.dialect.connect() as conn:
        assert stored_version(conn, store.schema) is None, "no store was created"
        assert not sa.inspect(conn).get_table_names(schema=store.flags.schema)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("0", 0),
        ("2.5", 2.5),
        ('"platform"', "platform"),
        ('{"a": [1]}', {"a": [1]}),
    ],
)
def test_an_operators_value_is_json(text: str, value: Any) -> None:
    parsed = parse(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["platform", "True", "ture", "null", "NaN", "-Infinity", ""])
def test_an_operators_value_that_is_not_json_is_refused(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse(text)
    assert "not JSON" in str(refused.value) or "null" in str(refused.value)
