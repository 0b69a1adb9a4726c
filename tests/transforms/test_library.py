"""The transform library: each contract in Python, with property tests for the exact ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datamove.errors import RowError, SpecError
from datamove.transforms import build


def t(name: str, args: object = None):
    return build(name, args, "test")


# -- round -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("half_even", "2.345", "2.34"),
        ("half_even", "2.355", "2.36"),
        ("half_even", "-2.345", "-2.34"),
        ("half_up", "2.345", "2.35"),
        ("half_up", "-2.345", "-2.35"),
        ("down", "-2.349", "-2.34"),
        ("up", "2.341", "2.35"),
        ("up", "-2.341", "-2.35"),
    ],
)
def test_round_modes_on_ties_and_negatives(mode: str, value: str, expected: str) -> None:
    assert t("round", {"places": 2, "mode": mode}).apply(Decimal(value)) == Decimal(expected)


def test_round_takes_floats_at_their_shortest_text() -> None:
    # 2.675 is 2.67499999... in binary; datamove rounds the written value 2.675.
    assert t("round", {"places": 2, "mode": "half_up"}).apply(2.675) == Decimal("2.68")
    with pytest.raises(RowError):
        t("round", {"places": 2}).apply("abc")
    with pytest.raises(RowError):
        t("round", {"places": 2}).apply(float("nan"))
    with pytest.raises(SpecError):
        t("round", {"places": 2, "mode": "nearest"})


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
    )
)
def test_round_is_within_half_a_unit_and_idempotent(value: Decimal) -> None:
    rounded = t("round", {"places": 2}).apply(value)
    assert abs(rounded - value) <= Decimal("0.005")
    assert t("round", {"places": 2}).apply(rounded) == rounded


# -- timezone ----------------------------------------------------------------------------

BERLIN = {"assume": "Europe/Berlin"}


def test_timezone_converts_local_time_to_utc() -> None:
    out = t("timezone", BERLIN).apply(dt.datetime(2024, 6, 1, 12, 0))
    assert out == dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC)
    assert t("timezone", {**BERLIN, "result": "naive"}).apply("2024-01-15 12:00:00") == (
        dt.datetime(2024, 1, 15, 11, 0)
    )


def test_timezone_dst_gap_and_overlap_follow_their_policy() -> None:
    gap, overlap = dt.datetime(2024, 3, 31, 2, 30), dt.datetime(2024, 10, 27, 2, 30)
    with pytest.raises(RowError, match="does not exist"):
        t("timezone", BERLIN).apply(gap)
    with pytest.raises(RowError, match="exists twice"):
        t("timezone", BERLIN).apply(overlap)
    lenient = {**BERLIN, "nonexistent": "earlier", "ambiguous": "later"}
    assert t("timezone", lenient).apply(gap) == dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC)
    assert t("timezone", lenient).apply(overlap) == dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.UTC)
    later = {**BERLIN, "nonexistent": "later", "ambiguous": "earlier"}
    assert t("timezone", later).apply(gap) == dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC)
    assert t("timezone", later).apply(overlap) == dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC)


def test_timezone_refuses_aware_values_and_unknown_zones() -> None:
    with pytest.raises(RowError, match="already has a time zone"):
        t("timezone", BERLIN).apply(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(SpecError, match="unknown time zone"):
        t("timezone", {"assume": "Europe/Berlinn"})


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2037, 12, 31)))
def test_timezone_round_trips_every_wall_time_that_exists_once(wall: dt.datetime) -> None:
    zone = t(
        "timezone", {"assume": "America/New_York", "nonexistent": "later", "ambiguous": "earlier"}
    )
    back = t("timezone", {"assume": "UTC", "to": "America/New_York", "result": "naive"})
    utc = zone.apply(wall)
    assert utc.tzinfo is not None
    local_again = back.apply(utc.replace(tzinfo=None))
    shifted = local_again != wall  # only wall times inside the spring-forward gap move
    assert not shifted or local_again - wall == dt.timedelta(hours=1)


# -- text --------------------------------------------------------------------------------


def test_text_transforms() -> None:
    assert t("trim").apply("  a b \t") == "a b \t"  # spaces only, as SQL's TRIM
    assert t("lower").apply("MÜLLER") == "müller"
    assert t("upper").apply("straße") == "STRASSE"
    assert t("normalize", "NFC").apply("e\u0301") == "\u00e9"
    assert (
        t("regex_replace", {"pattern": r"(\d+)-(\d+)", "replace": r"\2-\1"}).apply("12-34")
        == "34-12"
    )
    with pytest.raises(RowError, match="expected text"):
        t("trim").apply(5)
    with pytest.raises(SpecError, match="invalid regular expression"):
        t("regex_replace", {"pattern": "(", "replace": ""})


def test_split_takes_one_part() -> None:
    first = t("split", {"sep": " ", "index": 0, "maxsplit": 1})
    rest = t("split", {"sep": " ", "index": 1, "maxsplit": 1})
    assert first.apply("Ada King Lovelace") == "Ada"
    assert rest.apply("Ada King Lovelace") == "King Lovelace"
    assert rest.apply("Plato") is None
    with pytest.raises(RowError, match="no part 1"):
        t("split", {"sep": ",", "index": 1, "missing": "reject"}).apply("a")
    assert t("split", {"sep": ",", "index": -1}).apply("a,b,c") == "c"


def test_encoding_and_mojibake() -> None:
    assert t("encoding", {"decode": "latin1"}).apply(b"M\xfcller") == "Müller"
    with pytest.raises(RowError, match="not valid utf-8"):
        t("encoding", {"decode": "utf-8"}).apply(b"M\xfcller")
    assert t("fix_mojibake").apply("MÃ¼ller") == "Müller"
    assert t("fix_mojibake").apply("Müller") == "Müller"  # not mojibake: unchanged
    assert t("fix_mojibake").apply("â‚¬ 5") == "€ 5"  # cp1252 mojibake
    with pytest.raises(SpecError, match="unknown encoding"):
        t("encoding", {"decode": "latin-99"})


@given(st.text())
def test_fix_mojibake_repairs_any_double_encoding(text: str) -> None:
    broken = text.encode("utf-8").decode("latin-1")
    assert t("fix_mojibake").apply(broken) == text


# -- values ------------------------------------------------------------------------------


def test_map_matches_by_text_form_and_applies_else() -> None:
    codes = t("map", {0: "pending", 1: "paid"})
    assert codes.apply(1) == "paid" and codes.apply("0") == "pending"
    with pytest.raises(RowError, match="not one of"):
        codes.apply(7)
    assert t("map", {"values": {0: "pending"}, "else": "keep"}).apply(7) == 7
    assert t("map", {"values": {0: "pending"}, "else": "null"}).apply(7) is None
    assert t("map", {"values": {0: "pending"}, "else": "other"}).apply(7) == "other"
    assert t("map", {"values": {True: "yes"}, "else": "no"}).apply(True) == "yes"
    # YAML reads an unquoted `else: null` as None: it means NULL, not "reject everything".
    assert t("map", {"values": {0: "pending"}, "else": None}).apply(7) is None


def test_nullif_and_json_path() -> None:
    assert t("nullif", "").apply("") is None and t("nullif", "").apply("x") == "x"
    assert t("nullif", 0).apply(0) is None and t("nullif", 0).apply(1) == 1
    path = t("json_path", "$.customer.tags[1]")
    assert path.apply('{"customer": {"tags": ["a", "b"]}}') == "b"
    assert path.apply({"customer": {}}) is None
    assert t("json_path", "$.a").apply('{"a": {"z": 1, "b": 2}}') == '{"b": 2, "z": 1}'
    with pytest.raises(RowError, match="not valid JSON"):
        path.apply("{nope")
    with pytest.raises(SpecError):
        t("json_path", "customer.name")


def test_python_transform_imports_and_rejects(tmp_path, monkeypatch) -> None:
    (tmp_path / "mytransforms.py").write_text(
        "def double(v):\n    if v == 13:\n        raise ValueError('unlucky')\n    return v * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = t("python", "mytransforms:double")
    assert fn.apply(21) == 42
    with pytest.raises(RowError, match="unlucky"):
        fn.apply(13)
    with pytest.raises(SpecError, match="cannot import"):
        t("python", "no_such_module_xyz:f")
    with pytest.raises(SpecError, match="has no function"):
        t("python", "mytransforms:triple")


def test_python_batch_transform_gets_the_whole_column(tmp_path, monkeypatch) -> None:
    (tmp_path / "batchfns.py").write_text(
        "from datamove.transforms import batch\n"
        "calls = []\n"
        "@batch\n"
        "def rank(values):\n"
        "    calls.append(len(values))\n"
        "    order = sorted(values)\n"
        "    return [order.index(v) for v in values]\n"
        "@batch\n"
        "def short(values):\n"
        "    return values[:-1]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import batchfns

    rank = t("python", "batchfns:rank")
    assert rank.apply_batch([30, 10, 20]) == [2, 0, 1]
    assert batchfns.calls == [3]  # one call for the batch
    assert rank.apply(5) == 0  # a single row (the careful path) is a batch of one
    with pytest.raises(RowError, match="returned 2 values for 3"):
        t("python", "batchfns:short").apply_batch([1, 2, 3])


# -- concat ------------------------------------------------------------------------------


def test_concat_contract() -> None:
    names = {"columns": ["first", "last"], "separator": " "}
    assert t("concat", names).join(["Ada", "Lovelace"]) == "Ada Lovelace"
    assert t("concat", names).join(["Ada", None]) == "Ada"  # skip: like concat_ws
    assert t("concat", names).join([None, None]) is None  # nothing to join: NULL, not ''
    assert t("concat", names).join(["", ""]) == " "  # '' is a part, not a NULL
    assert t("concat", {**names, "nulls": "null"}).join(["Ada", None]) is None
    assert t("concat", {**names, "nulls": None}).join(["Ada", None]) is None  # YAML `null`
    assert t("concat", ["a", "b"]).join(["x", 5]) == "x5"  # short form; integers as written
    with pytest.raises(RowError, match="expected text or an integer"):
        t("concat", ["a", "b"]).join(["x", 1.5])
    assert "first and last joined by ' '" in t("concat", names).describe()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"columns": ["a"]}, "at least two"),
        ({"columns": ["a", "b"], "sep": " "}, "concat takes"),
        ({"columns": ["a", "b"], "separator": 1}, "must be text"),
        ({"columns": ["a", "b"], "nulls": "keep"}, "skip or null"),
        ("a, b", "concat takes"),
    ],
)
def test_concat_arguments_are_checked_with_the_spec_path(args, message) -> None:
    with pytest.raises(SpecError, match=message) as err:
        build("concat", args, "tables.t.columns.c.transform[0]")
    assert err.value.spec_path == "tables.t.columns.c.transform[0]"


_PARTS = st.lists(st.none() | st.text() | st.integers(), min_size=2, max_size=5)


@given(_PARTS, st.text(max_size=3))
def test_concat_skip_is_the_non_null_parts_joined(parts, separator) -> None:
    columns = [f"c{i}" for i in range(len(parts))]
    skip = t("concat", {"columns": columns, "separator": separator})
    present = [str(p) for p in parts if p is not None]
    assert skip.join(parts) == (separator.join(present) if present else None)
    strict = t("concat", {"columns": columns, "separator": separator, "nulls": "null"})
    assert strict.join(parts) == (None if None in parts else skip.join(parts))


@given(st.lists(st.text(alphabet="abc", min_size=1), min_size=2, max_size=5))
def test_concat_can_be_split_back_when_the_separator_is_not_in_the_parts(parts) -> None:
    joined = t("concat", {"columns": [f"c{i}" for i in range(len(parts))], "separator": "|"})
    assert joined.join(parts).split("|") == parts
    assert t("split", {"sep": "|", "index": 1}).apply(joined.join(parts)) == parts[1]
