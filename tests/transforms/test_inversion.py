"""Every transform declares how it goes back on a rollback; the invertible ones really do.

The table below is the whole transform library: a transform added without a row here (and
without its own ``inversion``) fails the first test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datamove.errors import RowError
from datamove.transforms import REGISTRY, build
from datamove.transforms.inversion import Given, RollbackClass

INV, KEPT, ONE = RollbackClass.invertible, RollbackClass.kept_original, RollbackClass.one_way
NOT_NULL_INT, NULLABLE_TEXT = Given(False, "integer"), Given(True, "string")
STAMP = Given(True, "timestamp")

# name → [(args, what the step is handed, expected class), ...]; the first case of each name
# is its usual use.
LIBRARY: dict[str, list[tuple[Any, Given, RollbackClass]]] = {
    "default": [(0, Given(True, "integer"), KEPT), (0, NOT_NULL_INT, INV)],
    "cast": [
        ("bigint", NOT_NULL_INT, INV),
        ("text", NOT_NULL_INT, INV),
        ("decimal(12,2)", Given(False, "float"), INV),
        ("integer", NULLABLE_TEXT, KEPT),  # '07' and '7' both become 7
        ("float", NOT_NULL_INT, KEPT),  # beyond 2**53 integers are not exact
        ("integer", Given(False, None), KEPT),  # handed values of an unknown type
    ],
    "concat": [({"columns": ["first", "last"], "separator": " "}, NULLABLE_TEXT, KEPT)],
    "when": [
        ("is_paid = 1", NULLABLE_TEXT, KEPT),
        ({"sql": "deleted = 1", "value": True}, NULLABLE_TEXT, ONE),
    ],
    "python": [("json:dumps", NULLABLE_TEXT, ONE)],
    "round": [({"places": 2}, Given(False, "float"), KEPT)],
    "sql": [("upper(name)", NULLABLE_TEXT, ONE), ("name", NULLABLE_TEXT, INV)],
    "trim": [(None, NULLABLE_TEXT, KEPT)],
    "lower": [(None, NULLABLE_TEXT, KEPT)],
    "upper": [(None, NULLABLE_TEXT, KEPT)],
    "normalize": [("NFC", NULLABLE_TEXT, KEPT)],
    "regex_replace": [({"pattern": "-", "replace": ""}, NULLABLE_TEXT, KEPT)],
    "encoding": [
        ({"decode": "latin1"}, Given(True, "binary"), INV),
        ({"decode": "utf-8-sig"}, Given(True, "binary"), KEPT),  # the BOM is optional
    ],
    "fix_mojibake": [(None, NULLABLE_TEXT, KEPT)],
    "split": [({"sep": " ", "index": 0}, NULLABLE_TEXT, KEPT)],
    "timezone": [
        ({"assume": "Europe/Berlin"}, STAMP, INV),
        ({"assume": "Europe/Berlin", "to": "UTC", "result": "naive"}, STAMP, INV),
        ({"assume": "UTC", "to": "Europe/Berlin", "result": "naive"}, STAMP, KEPT),
        ({"assume": "Europe/Berlin", "nonexistent": "later"}, STAMP, KEPT),
    ],
    "map": [
        ({0: "new", 1: "paid"}, NOT_NULL_INT, INV),
        ({0: "open", 1: "open", 2: "paid"}, NOT_NULL_INT, KEPT),  # not bijective
        ({"values": {0: "new"}, "else": "keep"}, NOT_NULL_INT, KEPT),
        ({"values": {0: "new"}, "else": None}, NOT_NULL_INT, KEPT),
        ({0: None, 1: "paid"}, Given(True, "integer"), KEPT),  # NULL and 0 both become NULL
        ({0: None, 1: "paid"}, NOT_NULL_INT, INV),
    ],
    "nullif": [("", NULLABLE_TEXT, KEPT), ("", Given(False, "string"), INV)],
    "json_path": [("$.a", NULLABLE_TEXT, KEPT)],
    "uuid5": [({"namespace": str(uuid.uuid4()), "name": "t"}, NOT_NULL_INT, ONE)],
}


def test_every_transform_declares_its_rollback_class() -> None:
    assert sorted(REGISTRY) == sorted(LIBRARY), "add the new transform to LIBRARY"
    for name, cls in REGISTRY.items():
        assert "inversion" in cls.__dict__, f"{name} declares no inversion of its own"


@pytest.mark.parametrize(
    ("name", "args", "handed", "expected"),
    [(name, *case) for name, cases in LIBRARY.items() for case in cases],
)
def test_each_transform_is_classified(name, args, handed, expected) -> None:
    inversion = build(name, args, "t").inversion(handed)
    assert inversion.kind is expected, inversion.reason
    assert inversion.reason
    if expected is not KEPT:  # a kept-original step may have a best inverse (below)
        assert (inversion.undo is not None) == (expected is INV)
    assert bool(inversion.inverse) == (expected is INV)


@pytest.mark.parametrize(
    ("name", "args", "value"),
    [
        ("round", {"places": 2}, Decimal("19.999")),
        ("trim", None, "  padded "),
        ("lower", None, "MiXed"),
        ("upper", None, "MiXed"),
        ("normalize", "NFC", "e\u0301"),
        ("default", "none", None),
        ("nullif", "", ""),
    ],
)
def test_a_kept_original_step_that_keeps_its_results_is_its_own_best_inverse(
    name: str, args: object, value: object
) -> None:
    """A value the application writes is one such a step gives (a rounded number rounds to
    itself): the rollback writes it back as is; the step maps it to itself."""
    step = build(name, args, "t")
    inversion = step.inversion(NULLABLE_TEXT)
    assert inversion.kind is KEPT and inversion.undo is not None
    made = step.apply(value)
    assert step.apply(inversion.undo(made)) == made


def test_a_kept_original_step_without_best_inverse_has_no_undo() -> None:
    for name, args in (("json_path", "$.a"), ("map", {"values": {"a": "b"}, "else": "keep"})):
        assert build(name, args, "t").inversion(NULLABLE_TEXT).undo is None


def test_a_non_bijective_map_names_the_values_that_collide() -> None:
    inversion = build("map", {0: "open", 1: "open", 2: "paid"}, "t").inversion(NOT_NULL_INT)
    assert inversion.kind is KEPT
    assert "not one-to-one: open" in inversion.reason


# -- round trips: transform, then its inverse, gives the original --------------------------


def _round_trip(name: str, args: Any, handed: Given, value: Any) -> None:
    step = build(name, args, "t")
    undo = step.inversion(handed).undo
    assert undo is not None
    try:
        moved = step.apply(value)
    except RowError:
        return  # a value the transform does not accept never reaches the new side
    assert undo(moved) == value


naive = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))


@given(naive)
def test_timezone_shift_goes_back(value: dt.datetime) -> None:
    _round_trip("timezone", {"assume": "Europe/Berlin"}, Given(True, "timestamp"), value)


@given(naive)
def test_timezone_shift_to_naive_utc_goes_back(value: dt.datetime) -> None:
    args = {"assume": "America/New_York", "ambiguous": "later", "result": "naive"}
    _round_trip("timezone", args, Given(True, "timestamp"), value)


@given(st.sampled_from([0, 1, 2, 3, 9]))
def test_bijective_map_goes_back(value: int) -> None:
    table = {0: "new", 1: "paid", 2: "shipped", 3: "cancelled", 9: "refunded"}
    _round_trip("map", table, NOT_NULL_INT, value)


@given(st.sampled_from(["0", "1", "2"]))
def test_bijective_map_of_text_gives_text_back(value: str) -> None:
    _round_trip("map", {0: "no", 1: "yes", 2: "maybe"}, Given(False, "string"), value)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_widening_cast_goes_back(value: int) -> None:
    _round_trip("cast", "bigint", NOT_NULL_INT, value)
    _round_trip("cast", "decimal(20,0)", NOT_NULL_INT, value)
    _round_trip("cast", "text", NOT_NULL_INT, value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_to_exact_decimal_goes_back(value: float) -> None:
    _round_trip("cast", "decimal(38,10)", Given(False, "float"), value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**8))
def test_decimal_to_text_goes_back(value: Decimal) -> None:
    _round_trip("cast", "text", Given(False, "decimal"), value)


@given(st.datetimes())
def test_timestamp_to_text_goes_back(value: dt.datetime) -> None:
    _round_trip("cast", "text", Given(False, "timestamp"), value)


@given(st.binary())
def test_decoded_latin1_goes_back(value: bytes) -> None:
    _round_trip("encoding", {"decode": "latin1"}, Given(False, "binary"), value)


@given(st.text())
def test_nullif_on_a_column_without_null_goes_back(value: str) -> None:
    _round_trip("nullif", "", Given(False, "string"), value)


@given(st.integers())
def test_default_on_a_column_without_null_goes_back(value: int) -> None:
    _round_trip("default", 0, NOT_NULL_INT, value)
