"""The OpenFeature provider, through the real ``openfeature.api``: a flip that another process
makes is evaluated within the polling interval; a store that goes away is served stale, one
never reached is an evaluation error with the caller's default; nothing raises."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from datamove.flags import FlagClient, FlagStore
from datamove.flags.provider import FlagProvider
from tests.conftest import ENGINES
from tests.flags.outage import blocked, unreachable_urls
from tests.helpers import write_spec

POLL = 1.0
"""The provider's polling interval in these tests (seconds)."""
QUERY = 2.0
"""What a poll's one SELECT may take on a loaded test machine, beyond the interval."""
EVENT = 30.0
"""How long a test waits for an event that carries no timing claim."""

ACME, GLOBEX = EvaluationContext("acme"), EvaluationContext("globex")


@pytest.fixture
def openfeature() -> Iterator[Any]:
    """The global OpenFeature API, cleared after the test (providers shut down)."""
    yield api
    api.shutdown()


def _on(event: ProviderEvent) -> tuple[threading.Event, list[EventDetails]]:
    """A flag raised (and the details kept) when the SDK hears ``event``."""
    heard, details = threading.Event(), []

    def handler(d: EventDetails) -> None:
        details.append(d)
        heard.set()

    api.add_handler(event, handler)
    return heard, details


@pytest.mark.parametrize("engine", ENGINES)
def test_a_flip_by_another_process_is_evaluated_within_the_polling_interval(
    tmp_path: Path, make_db: Any, engine: str, openfeature: Any
) -> None:
    url = make_db(engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", make_db("sqlite", "src"), url, "  orders:", name="shop")
    with FlagStore.open(url, "shop") as store:
        store.set("read_path", "legacy", by="ops")
    api.set_provider_and_wait(FlagProvider(FlagClient(url, "shop", poll_interval=POLL)))
    flags = api.get_client()
    before = flags.get_string_details("read_path", "fallback", ACME)
    assert (before.value, before.reason, before.error_code) == ("legacy", Reason.STATIC, None)
    missing = flags.get_boolean_details("write_path", False, ACME)
    assert (missing.value, missing.reason, missing.error_code) == (False, Reason.DEFAULT, None)
    changed, details = _on(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)

    flip = subprocess.run(
        [sys.executable, "-m", "datamove", "flag", "set", str(spec), "read_path"]
        + ['"platform"', "--tenant", "acme", "--as", "runbook"],
        capture_output=True,
        text=True,
    )
    assert flip.returncode == 0, flip.stderr
    assert changed.wait(POLL + QUERY), "the flip was not read within the polling interval"

    after = flags.get_string_details("read_path", "fallback", ACME)
    assert (after.value, after.reason) == ("platform", Reason.TARGETING_MATCH)
    other = flags.get_string_details("read_path", "fallback", GLOBEX)
    assert (other.value, other.reason) == ("legacy", Reason.STATIC)
    assert details[0].flags_changed == ["read_path"]
    wrong = flags.get_boolean_details("read_path", False, ACME)
    assert (wrong.value, wrong.reason, wrong.error_code) == (
        False,
        Reason.ERROR,
        ErrorCode.TYPE_MISMATCH,
    )


def test_every_type_resolves(sqlite_db: Any, openfeature: Any) -> None:
    url = sqlite_db("tgt")
    with FlagStore.open(url, "shop") as store:
        for name, value in (("on", True), ("n", 3), ("ratio", 2), ("doc", {"a": [1]})):
            store.set(name, value, by="ops")
    api.set_provider_and_wait(FlagProvider(FlagClient(url, "shop", poll_interval=60)))
    flags = api.get_client()
    assert flags.get_boolean_value("on", False) is True
    assert flags.get_integer_value("n", 0) == 3
    assert flags.get_integer_details("on", 0).error_code == ErrorCode.TYPE_MISMATCH
    ratio = flags.get_float_value("ratio", 0.5)
    assert ratio == 2.0 and isinstance(ratio, float)
    assert flags.get_object_value("doc", {}) == {"a": [1]}
    assert flags.get_string_details("n", "x").error_code == ErrorCode.TYPE_MISMATCH


def test_a_store_that_goes_away_is_served_stale_until_it_answers(
    pg_db: str, openfeature: Any
) -> None:
    with FlagStore.open(pg_db, "shop") as store:
        store.set("read_path", True, by="ops")
    api.set_provider_and_wait(FlagProvider(FlagClient(pg_db, "shop", poll_interval=0.2)))
    flags = api.get_client()
    assert flags.get_boolean_details("read_path", False).reason == Reason.STATIC
    stale, details = _on(ProviderEvent.PROVIDER_STALE)
    with blocked(pg_db):
        assert stale.wait(EVENT), "no PROVIDER_STALE while the store is down"
        assert "cannot connect" in (details[0].message or "")
        assert flags.get_provider_status() == ProviderStatus.STALE
        served = flags.get_boolean_details("read_path", False)
        assert (served.value, served.reason, served.error_code) == (True, Reason.STALE, None)
        unset = flags.get_string_details("write_path", "legacy")
        assert (unset.value, unset.reason, unset.error_code) == ("legacy", Reason.STALE, None)
        ready, _ = _on(ProviderEvent.PROVIDER_READY)
    assert ready.wait(EVENT), "no PROVIDER_READY once the store answers"
    assert flags.get_boolean_details("read_path", False).reason == Reason.STATIC


@pytest.mark.parametrize("engine", ENGINES)
def test_a_store_never_reached_is_an_error_with_the_callers_default(
    engine: str, openfeature: Any
) -> None:
    client = FlagClient(unreachable_urls()[engine], "shop", poll_interval=0.2)
    errored, details = _on(ProviderEvent.PROVIDER_ERROR)
    api.set_provider_and_wait(FlagProvider(client))  # does not raise
    flags = api.get_client()
    served = flags.get_boolean_details("read_path", True, ACME)
    assert (served.value, served.reason, served.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.GENERAL,
    )
    assert "has not answered" in (served.error_message or "")
    assert "s3cret-pw" not in (served.error_message or "")
    assert errored.wait(EVENT), "no PROVIDER_ERROR from the poller"
    assert details[0].error_code == ErrorCode.GENERAL
    assert flags.get_string_value("read_path", "legacy", ACME) == "legacy"
