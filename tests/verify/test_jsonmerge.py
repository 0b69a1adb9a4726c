"""The quick JSON form never hides a difference the canonical form sees.

``jsonmerge.quick_form`` compares documents across engines in their ``orjson`` form; equal
quick forms must mean equal canonical forms (``verify.canonical``), for any two texts — the
numbers a double cannot hold exactly included. Unequal quick forms are settled canonically,
so they only cost time.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamove import Migration
from datamove.verify.canonical import Canon, canonical
from datamove.verify.jsonmerge import quick_form
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute
from tests.helpers import write_spec

JSON = Canon("json")

# Numbers as texts, the troublesome ones often: long mantissas, tiny and huge exponents.
_digits = st.text("0123456789", min_size=1, max_size=25)
_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda a, b: f"{int(a)}.{b}", _digits, _digits),
    st.builds(lambda a, e: f"{int(a)}e{e}", _digits, st.integers(-420, 420)),
    st.sampled_from(["0", "-0", "0.0", "1", "1.0", "1e0", "100", "1e2", "0.1", "0.10"]),
)
_scalars = st.one_of(
    _numbers,
    st.sampled_from(["true", "false", "null", '"1"', '""', '"é\\u00e9"', '"a\\"b"']),
)


def _doc(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.dictionaries(st.sampled_from(["a", "b", "é", "aa"]), inner, max_size=3).map(
                lambda d: "{" + ",".join(f"{json.dumps(k)}: {v}" for k, v in d.items()) + "}"
            ),
        ),
        max_leaves=6,
    )


def _same(a: str, b: str) -> bool:
    return canonical(a, JSON) == canonical(b, JSON)


@settings(max_examples=400, deadline=None)
@given(_doc(_scalars), _doc(_scalars))
def test_equal_quick_forms_mean_equal_canonical_forms(a: str, b: str) -> None:
    if quick_form(a) == quick_form(b):
        assert _same(a, b), (a, b)


@settings(max_examples=300, deadline=None)
@given(_numbers, st.integers(0, 3))
def test_a_number_and_its_nearest_neighbours(text: str, digit: int) -> None:
    """A number against itself changed in one far digit: only equal if canonically equal."""
    value = Decimal(text)
    other = value + Decimal(1).scaleb(value.adjusted() - 17 - digit)
    a, b = f"[{text}]", f"[{other}]"
    if quick_form(a) == quick_form(b):
        assert _same(a, b), (a, b)


def test_the_cases_a_double_cannot_hold() -> None:
    pairs: list[tuple[Any, Any, bool]] = [
        ('{"x": 0.1000000000000000001}', '{"x": 0.1}', False),
        ('{"x": 1e-400}', '{"x": 0}', False),
        ('{"x": 123456789012345678901}', '{"x": 123456789012345678900}', False),
        ('{"x": 1e400}', '{"x": 1e400}', True),
        ('{"x": 1.0, "y": [1, 2]}', '{"y": [1, 2], "x": 1}', True),  # 1.0 = 1 canonically
        ('{"a": 1, "a": 2}', '{"a": 2}', True),  # the last duplicate wins on both
        ('{"x": true}', '{"x": 1}', False),
        ('{"s": "caf\\u00e9"}', '{"s": "café"}', True),
    ]
    for a, b, equal in pairs:
        assert _same(a, b) is equal, (a, b)
        if not equal:
            assert quick_form(a) != quick_form(b), (a, b)
    assert quick_form(None) is None


@pytest.mark.parametrize(
    ("source_engine", "target_engine"), [("mysql", "postgresql"), ("postgresql", "mysql")]
)
def test_json_across_engines_with_a_text_key(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """Text keys take the general ordering path; the documents' texts differ between engines
    (key order, spaces, 1.50 against 1.5 kept), and only a real change is reported."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    json_type = "jsonb" if source_engine == "postgresql" else "JSON"
    execute(
        source,
        f"CREATE TABLE docs (code VARCHAR(20) PRIMARY KEY, title VARCHAR(40), doc {json_type})",
    )
    rows = [
        {
            "k": f"k-{n:05d}{'é' if n % 7 == 0 else ''}",
            "t": f"title {n}",
            "d": f'{{"zeta": {n}, "a": {{"b": [1, 1.50, "x"], "c": null}}, "é": "{n % 3}"}}',
        }
        for n in range(1, 3001)
    ]
    execute(source, "INSERT INTO docs (code, title, doc) VALUES (:k, :t, :d)", params=rows)  # type: ignore[arg-type]
    spec = write_spec(tmp_path / "m.yaml", source, target, "  docs: {}\n", batch_size=1000)
    migration = Migration.from_file(spec)
    migration.run()
    clean = migration.verify(VerifyOptions(checks=("checksum",)))
    assert clean.ok, [c.to_dict() for c in clean.checks]
    # the title is checksummed in SQL while the documents are compared beside it
    assert clean.diffs[0].method == "checksum+merge"

    key = rows[1500]["k"]
    changed = rows[1500]["d"].replace('"b": [1, 1.50', '"b": [1, 1.51')
    execute(target, "UPDATE docs SET doc = :d WHERE code = :k", params=[{"d": changed, "k": key}])
    result = migration.verify(VerifyOptions(checks=("checksum",), show_values=True))
    (row,) = result.diffs[0].changed
    assert row.key == (key,) and set(row.columns) == {"doc"}
    assert "1.51" in row.columns["doc"][1] and "1.5" in row.columns["doc"][0]
