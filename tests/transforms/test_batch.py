"""``apply_batch`` fast paths give exactly what ``apply`` gives on each value, errors included.

The rows path transforms a column at a time with ``apply_batch``; several built-ins take a
shortcut there for the common value type. Each is checked here against ``apply`` on mixed
columns: plain values, None, other types, subclasses, and values that must become rejects.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamove.errors import RowError
from datamove.transforms import build
from datamove.transforms.base import Transform


def t(name: str, args: object = None) -> Transform:
    return build(name, args, "test")


def outcome(fn: Any, arg: Any) -> tuple[str, Any]:
    """What calling ``fn(arg)`` gives: its value (with tzinfo and fold, which == ignores), or
    the error's type and message."""
    try:
        value = fn(arg)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return "error", (type(exc).__name__, str(exc))
    return "value", _exact(value)


def _exact(value: Any) -> Any:
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, dt.datetime):
        return (value, value.tzinfo, value.fold)
    if isinstance(value, Decimal):
        return (value, str(value))  # Decimal('1.0') == Decimal('1.00'); the text is exact
    return (type(value), value)


def assert_batch_is_apply(transform: Transform, values: list[Any]) -> None:
    one_by_one = outcome(lambda vs: [transform.apply(v) for v in vs], values)
    assert outcome(transform.apply_batch, values) == one_by_one


class Code(enum.IntEnum):
    PAID = 1


class Label(str):
    def __str__(self) -> str:
        return "label:" + super().__str__()


# -- text --------------------------------------------------------------------------------

texts = st.lists(st.one_of(st.none(), st.text(), st.text().map(Label)), max_size=20)


@given(texts)
def test_case_and_trim_batches(values: list[Any]) -> None:
    for name in ("upper", "lower", "trim"):
        assert_batch_is_apply(t(name), values)


@given(texts)
def test_regex_replace_batch(values: list[Any]) -> None:
    assert_batch_is_apply(t("regex_replace", {"pattern": r"\s+", "replace": " "}), values)
    assert_batch_is_apply(t("regex_replace", {"pattern": r"(\w)(\d)", "replace": r"\2\1"}), values)


# Every character str.isspace() or \s knows, and some that are neither.
SPACES = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000\u200b\ufeffab"


@settings(max_examples=500)
@given(
    st.lists(st.one_of(st.none(), st.text(alphabet=SPACES), st.text()), max_size=20),
    st.sampled_from([" ", "", "_", "  ", "é"]),
)
def test_collapsing_white_space_is_the_regex(values: list[Any], replacement: str) -> None:
    collapse = t("regex_replace", {"pattern": r"\s+", "replace": replacement})
    assert collapse.collapses_space  # type: ignore[attr-defined]
    assert_batch_is_apply(collapse, values)
    assert_batch_is_apply(collapse, [*values, 5])  # a reject, as apply's


def test_text_batches_reject_what_apply_rejects() -> None:
    for name in ("upper", "lower", "trim"):
        assert_batch_is_apply(t(name), ["a", None, 5])
        with pytest.raises(RowError, match=f"{name}: expected text, got int"):
            t(name).apply_batch(["a", 5])
    bad_group = t("regex_replace", {"pattern": r"a", "replace": r"\3"})
    assert_batch_is_apply(bad_group, ["xyz", "bab"])  # no match: fine; a match: invalid group
    with pytest.raises(RowError, match="regex_replace: invalid group reference"):
        bad_group.apply_batch(["xyz", "bab"])


# -- round -------------------------------------------------------------------------------

numbers = st.one_of(
    st.none(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, max_value=10**9, min_value=-(10**9)
    ),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.sampled_from(["1.005", "abc", "-2.5"]),
)


@settings(max_examples=300)
@given(st.lists(numbers, max_size=12), st.sampled_from(["half_even", "half_up", "down", "up"]))
def test_round_batch(values: list[Any], mode: str) -> None:
    assert_batch_is_apply(t("round", {"places": 2, "mode": mode}), values)


def test_round_batch_edges() -> None:
    for places in (-2, 0, 2, 18):
        transform = t("round", {"places": places})
        assert_batch_is_apply(transform, [Decimal("2.345"), Decimal("-0.005"), Decimal("2.5E+3")])
        assert_batch_is_apply(transform, [Decimal("1"), Decimal("NaN")])
        assert_batch_is_apply(transform, [Decimal("sNaN")])
        assert_batch_is_apply(transform, [Decimal("-Infinity")])
        assert_batch_is_apply(transform, [Decimal("9" * 99)])  # beyond 100 digits once quantized
    with pytest.raises(RowError, match="round: Decimal\\('NaN'\\) is not a finite number"):
        t("round", {"places": 2}).apply_batch([Decimal("1"), Decimal("NaN")])


# -- map ---------------------------------------------------------------------------------

map_values = st.one_of(
    st.none(),
    st.integers(-3, 12),
    st.sampled_from(["0", "1", "01", "+1", "-0", " 1", "paid", "1.0", "true", "x"]),
    st.booleans(),
    st.sampled_from([0.0, 1.0, 1.5, Decimal("1"), Decimal("1.0"), Code.PAID, Label("1")]),
)
map_args = st.sampled_from(
    [
        {0: "pending", 1: "paid", 2: "refunded"},
        {"values": {"0": "zero", "01": "padded", "-1": "minus", True: "yes"}, "else": "keep"},
        {"values": {1: None, "x": 7}, "else": "null"},
        {"values": {"1.0": "one point oh", 10: "ten"}, "else": "other"},
    ]
)


@settings(max_examples=300)
@given(st.lists(map_values, max_size=12), map_args)
def test_map_batch(values: list[Any], args: dict[Any, Any]) -> None:
    assert_batch_is_apply(t("map", args), values)


# -- timezone ----------------------------------------------------------------------------

POLICIES = ("reject", "earlier", "later")
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.datetimes(min_value=dt.datetime(1850, 1, 1), max_value=dt.datetime(2100, 1, 1)),
            st.datetimes(allow_imaginary=False).map(lambda d: d.replace(fold=1)),
            st.dates(),
            st.just(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
            st.sampled_from(["2020-03-29 02:30:00", "2020-10-25 02:30", "nope", 5]),
        ),
        max_size=12,
    ),
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.sampled_from(POLICIES),
    st.sampled_from(POLICIES),
    st.sampled_from(["aware", "naive"]),
)
def test_timezone_batch(
    values: list[Any], assume: str, to: str, nonexistent: str, ambiguous: str, result: str
) -> None:
    args = {
        "assume": assume,
        "to": to,
        "nonexistent": nonexistent,
        "ambiguous": ambiguous,
        "result": result,
    }
    assert_batch_is_apply(t("timezone", args), values)


def test_timezone_batch_around_dst_changes() -> None:
    # Every minute of the days of both 2020 changes in Berlin, and the edges of datetime.
    days = [dt.datetime(2020, 3, 29), dt.datetime(2020, 10, 25)]
    walls = [day + dt.timedelta(minutes=m, seconds=7) for day in days for m in range(24 * 60)]
    edges = [dt.datetime.min, dt.datetime.max, dt.datetime(1, 1, 1, 0, 30)]
    for nonexistent in POLICIES:
        for ambiguous in POLICIES:
            args = {"assume": "Europe/Berlin", "nonexistent": nonexistent, "ambiguous": ambiguous}
            transform = t("timezone", args)
            assert_batch_is_apply(transform, walls)
            for edge in edges:
                assert_batch_is_apply(transform, [dt.datetime(2020, 1, 1), edge])
