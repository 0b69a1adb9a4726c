"""The quick JSON form never hides a difference the canonical form sees.

``jsonmerge.quick_form`` compares documents across engines in their ``orjson`` form; equal
quick forms must mean equal canonical forms (``core.canonical``), for any two texts — the
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
from datamove.core.canonical import Canon, canonical
from datamove.verify import jsonmerge
from datamove.verify.jsonmerge import quick_form, same_documents
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


_nullable_docs = st.one_of(st.none(), _doc(_scalars))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_nullable_docs, _nullable_docs), max_size=6))
def test_a_run_shown_equal_is_equal_document_by_document(pairs: list[tuple[Any, Any]]) -> None:
    a_docs, b_docs = [a for a, _ in pairs], [b for _, b in pairs]
    if same_documents(a_docs, b_docs):
        for a, b in pairs:
            assert (a is None) == (b is None), (a, b)
            assert a is None or _same(a, b), (a, b)


def test_a_run_of_reordered_documents_is_equal_at_once() -> None:
    a_docs = [f'{{"b": {n}, "a": [1, "é"]}}' for n in range(50)] + [None]
    b_docs = [f'{{"a": [1, "\\u00e9"], "b": {n}}}' for n in range(50)] + [None]
    assert same_documents(a_docs, b_docs)
    assert not same_documents(a_docs, [*b_docs[:-1], "null"])  # SQL NULL is not JSON null
    assert not same_documents(a_docs, [*b_docs[:7], '{"a": [1, "é"], "b": 8}', *b_docs[8:]])
    assert not same_documents(['{"x": 0.10000000000000001}'], ['{"x": 0.1}'])  # the guard


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 60)), st.sets(st.integers(0, 60)), st.integers(1, 9))
def test_rows_are_paired_by_key_across_runs(
    a_keys: set[int], b_keys: set[int], paired: int
) -> None:
    """Every key on both sides is paired once, in order; rows on one side only are skipped."""
    saved, jsonmerge.PAIRED = jsonmerge.PAIRED, paired
    try:
        a_rows = iter([(k, f"a{k}") for k in sorted(a_keys)])
        b_rows = iter([(k, f"b{k}") for k in sorted(b_keys)])
        runs = list(jsonmerge._paired(a_rows, b_rows))
    finally:
        jsonmerge.PAIRED = saved
    pairs = [(x, y) for a_run, b_run in runs for x, y in zip(a_run, b_run, strict=True)]
    assert [(x[0], y[0]) for x, y in pairs] == [(k, k) for k in sorted(a_keys & b_keys)]
    assert all(len(a_run) == len(b_run) > 0 for a_run, b_run in runs)


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


@pytest.mark.parametrize(
    ("source_engine", "target_engine"), [("mysql", "postgresql"), ("postgresql", "mysql")]
)
def test_a_table_of_documents_only(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    """Key and JSON alone: the key is checksummed in SQL and the documents compared beside it
    (not the whole-row merge), and every kind of difference is still found: missing and extra
    rows, a changed nested value, SQL NULL against JSON ``null``, a long number changed past
    a double's digits."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    json_type = "jsonb" if source_engine == "postgresql" else "JSON"
    execute(source, f"CREATE TABLE docs (id INTEGER PRIMARY KEY, doc {json_type})")

    def doc(n: int) -> str | None:
        if n % 11 == 0:
            return None
        if n % 13 == 0:
            return f'{{"big": 1234567890.12345678901{n % 10}}}'
        ok = "true" if n % 2 else "false"
        return f'{{"n": {n}, "deep": {{"list": [1, 2.5, "é{n % 5}"]}}, "ok": {ok}}}'

    rows = [{"i": n, "d": doc(n)} for n in range(1, 9001)]
    execute(source, "INSERT INTO docs (id, doc) VALUES (:i, :d)", params=rows)  # type: ignore[arg-type]
    spec = write_spec(tmp_path / "m.yaml", source, target, "  docs: {}\n", batch_size=2000)
    migration = Migration.from_file(spec)
    migration.run()
    clean = migration.verify(VerifyOptions(checks=("checksum", "count")))
    assert clean.ok, [c.to_dict() for c in clean.checks]
    assert clean.diffs[0].method == "checksum+merge"
    assert clean.checks[0].details["counted_by"] == "checksum"

    changes = [
        ("DELETE FROM docs WHERE id = 2000", None),
        ("INSERT INTO docs (id, doc) VALUES (20000, :d)", '{"n": 1}'),
        (
            "UPDATE docs SET doc = :d WHERE id = 4001",
            '{"n": 4001, "deep": {"list": [1, 2.5, "é2"]}, "ok": false}',
        ),
        ("UPDATE docs SET doc = :d WHERE id = 5500", "null"),  # SQL NULL before
        ("UPDATE docs SET doc = :d WHERE id = 6500", '{"big": 1234567890.123456789015}'),
    ]
    for statement, doc in changes:
        execute(target, statement, params=[{"d": doc}])
    result = migration.verify(VerifyOptions(checks=("checksum",)))
    diff = result.diffs[0]
    assert diff.missing == [("2000",)] and diff.extra == [("20000",)]
    assert {row.key: set(row.columns) for row in diff.changed} == {
        ("4001",): {"doc"},
        ("5500",): {"doc"},
        ("6500",): {"doc"},
    }
