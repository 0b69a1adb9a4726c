"""``FlagClient``: values from a polled cache; a store that goes away serves the last known
values, a store never reached the defaults, and neither raises into the caller."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from datamove.flags import FlagClient, FlagStore
from datamove.flags.client import Poll
from tests.conftest import ENGINES
from tests.flags.outage import blocked, unreachable_urls

NEVER = 3600.0
"""A poll interval no test waits for: only the explicit ``refresh`` calls read the store."""


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "datamove.flags" and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_poller_serves_what_another_writer_sets(make_db: Any, engine: str) -> None:
    url = make_db(engine, "tgt")
    with FlagStore.open(url, "shop") as store:
        store.set("read_path", "legacy", by="ops")
    polls: list[Poll] = []
    changed = threading.Event()

    def heard(poll: Poll) -> None:
        polls.append(poll)
        if "read_path" in poll.changed:
            changed.set()

    with FlagClient(url, "shop", poll_interval=0.2, default="unset") as client:
        assert client.get("read_path", "acme") == "legacy"
        assert client.get("write_path") == "unset", "the client's default"
        assert client.get("write_path", default="old") == "old", "the caller's wins"
        client.on_poll(heard)
        with FlagStore.open(url, "shop") as other:
            other.set("read_path", "platform", targeting_key="acme", by="runbook")
        assert changed.wait(timeout=30), "the poller never saw the set"
        assert client.get("read_path", "acme") == "platform"
        assert client.get("read_path", "globex") == "legacy"
        found = client.resolve("read_path", "acme")
        assert (found.matched, found.loaded, found.fresh) == ("targeting_key", True, True)
        thread = client._thread
    assert not thread.is_alive(), "close() stops the poller"
    assert all(p.ok for p in polls)


def test_a_store_that_goes_away_serves_the_last_known_values(
    pg_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    with FlagStore.open(pg_db, "shop") as store:
        store.set("read_path", "platform", by="ops")
    caplog.set_level(logging.INFO, logger="datamove.flags")
    with FlagClient(pg_db, "shop", poll_interval=NEVER) as client:
        assert client.get("read_path", default="legacy") == "platform"
        with blocked(pg_db):
            assert client.refresh() is False
            assert client.refresh() is False
            assert client.get("read_path", default="legacy") == "platform", "last known value"
            assert client.get("write_path", default="legacy") == "legacy", "never set: default"
            found = client.resolve("read_path")
            assert (found.value, found.loaded, found.fresh) == ("platform", True, False)
            assert found.error and "cannot connect" in found.error
            (warning,) = _warnings(caplog)  # once per outage, not once per poll
            assert "serving the last known values" in warning
        assert client.refresh() is True
        assert client.resolve("read_path").fresh
        with blocked(pg_db):
            assert client.refresh() is False
        assert len(_warnings(caplog)) == 2, "a second outage warns again"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_store_never_reached_serves_the_defaults(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = unreachable_urls()[engine]
    with FlagClient(url, "shop", poll_interval=NEVER, default=False) as client:
        assert client.get("read_path") is False
        assert client.get("read_path", "acme", default="legacy") == "legacy"
        assert not client.loaded
        found = client.resolve("read_path")
        assert (found.value, found.loaded, found.fresh) == (None, False, False)
        assert found.error
        assert client.refresh() is False
    (warning,) = _warnings(caplog)
    assert "serving the defaults" in warning and "s3cret-pw" not in caplog.text


def test_a_refresh_tells_which_flags_changed(sqlite_db: Any) -> None:
    """``true`` after ``1`` is a change (Python finds them equal); an unchanged flag is not."""
    url = sqlite_db("tgt")
    with FlagStore.open(url, "shop") as store:
        store.set("n", 1, by="ops")
        store.set("same", "x", by="ops")
        polls: list[Poll] = []
        with FlagClient(url, "shop", poll_interval=NEVER) as client:
            client.on_poll(polls.append)
            store.set("n", True, by="ops")
            store.set("same", "x", by="ops")
            store.set("new", "y", targeting_key="acme", by="ops")
            assert client.refresh()
            assert client.get("n") is True
    assert polls == [Poll(True, frozenset({"n", "new"}))]
