"""Strict cast: exact or reject, never rounded or guessed (property tests)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datamove.core.keys import decode_key, encode_key
from datamove.errors import RowError
from datamove.transforms.builtin import Cast, Default


def cast(arg: str) -> Cast:
    return Cast(arg, "test")


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_decimal_cast_keeps_exact_values(value: Decimal) -> None:
    assert cast("decimal(12,2)").apply(value) == value
    assert cast("decimal(12,2)").apply(str(value)) == value


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=9))
def test_decimal_cast_rejects_extra_places(whole: int, extra: int) -> None:
    value = Decimal(whole) + Decimal(extra) / 1000
    with pytest.raises(RowError, match="decimal places"):
        cast("decimal(12,2)").apply(value)


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_integer_cast_round_trips_text(value: int) -> None:
    assert cast("integer").apply(str(value)) == value


@given(st.integers(min_value=2**31, max_value=2**62))
def test_integer_cast_rejects_out_of_range(value: int) -> None:
    with pytest.raises(RowError, match="out of range"):
        cast("integer").apply(value)


@pytest.mark.parametrize("bad", ["abc", "1.5", "", "1e3"])
def test_integer_cast_rejects_non_integers(bad: str) -> None:
    with pytest.raises(RowError):
        cast("bigint").apply(bad)


def test_float_money_casts_exactly_or_rejects() -> None:
    assert cast("decimal(12,2)").apply(19.99) == Decimal("19.99")
    with pytest.raises(RowError):
        cast("decimal(12,2)").apply(19.999)
    with pytest.raises(RowError, match="integer digits"):
        cast("decimal(4,2)").apply(123.5)


def test_other_casts() -> None:
    assert cast("boolean").apply("yes") is True
    assert cast("boolean").apply(0) is False
    with pytest.raises(RowError):
        cast("boolean").apply(2)
    assert cast("date").apply("2024-02-29") == dt.date(2024, 2, 29)
    with pytest.raises(RowError):
        cast("date").apply(dt.datetime(2024, 1, 1, 10, 30))
    assert cast("varchar(3)").apply("abc") == "abc"
    with pytest.raises(RowError, match="varchar"):
        cast("varchar(3)").apply("abcd")
    with pytest.raises(RowError, match="UTF-8"):
        cast("text").apply(b"\xff\xfe")
    assert cast("json").apply('{"a": 1}') == {"a": 1}
    assert cast("integer").apply(None) is None


@given(st.one_of(st.none(), st.integers(), st.text()))
def test_default_only_replaces_null(value: object) -> None:
    assert Default("fallback", "t").apply(value) == ("fallback" if value is None else value)


@given(
    st.tuples(
        st.integers(),
        st.text(),
        st.dates(),
        st.datetimes(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.binary(max_size=16),
    )
)
def test_key_codec_round_trips_every_key_type(key: tuple[object, ...]) -> None:
    assert decode_key(encode_key(key)) == key
