"""Pushed-down SQL gives exactly what Python gives, on PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from datamove.dialects.base import Dialect
from datamove.transforms import build
from tests.conftest import ENGINES

TEXTS = ["  padded  ", "", " ", "x y", None, "\ttab ", "Zoë ", "e\u0301", "ﬁ", "a  "]
NUMBERS = ["2.3450", "-2.3450", "2.3550", "-0.0050", "0.0049", "123456.9999", None, "0"]
CODES = [0, 1, 2, 7, None]

CASES: list[tuple[str, Any, str]] = [
    ("trim", None, "txt"),
    ("nullif", "", "txt"),
    ("nullif", "a", "txt"),
    ("default", "fallback", "txt"),
    ("normalize", "NFC", "txt"),
    ("normalize", "NFKC", "txt"),
    ("round", {"places": 2, "mode": "half_up"}, "num"),
    ("round", {"places": 2, "mode": "down"}, "num"),
    ("round", {"places": 0, "mode": "half_up"}, "num"),
    ("map", {"values": {0: "pending", 1: "paid"}, "else": "null"}, "code"),
    ("map", {"values": {0: "pending", 1: "paid"}, "else": "unknown"}, "code"),
    ("default", 5, "code"),
]


def _comparable(value: Any) -> Any:
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    return value


@pytest.mark.parametrize("engine", ENGINES)
def test_pushdown_matches_python(make_db, engine: str) -> None:
    url = make_db(engine, "pd")
    dialect = Dialect.for_url(url, role="source")
    md = sa.MetaData()
    table = sa.Table(
        "pd",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("txt", sa.String(50)),
        sa.Column("num", sa.Numeric(12, 4)),
        sa.Column("code", sa.Integer),
    )
    rows = [
        {
            "id": i,
            "txt": TEXTS[i % len(TEXTS)],
            "num": None
            if NUMBERS[i % len(NUMBERS)] is None
            else Decimal(NUMBERS[i % len(NUMBERS)]),
            "code": CODES[i % len(CODES)],
        }
        for i in range(40)
    ]
    pushed = 0
    try:
        with dialect.engine.begin() as conn:
            md.create_all(conn)
            conn.execute(table.insert(), rows)
        with dialect.engine.connect() as conn:
            for name, args, column in CASES:
                transform = build(name, args, "test")
                sql = transform.to_sql(table.c[column], dialect)
                if sql is None:
                    continue  # not pushed down on this engine: Python computes it
                pushed += 1
                result = conn.execute(
                    sa.select(table.c[column], sql.label("out")).order_by(table.c.id)
                ).all()
                for raw, out in result:
                    expected = transform.apply(raw)
                    assert _comparable(out) == _comparable(expected), (name, args, raw)
    finally:
        dialect.dispose()
    assert pushed >= 4  # trim, nullif, default at least are pushed down on every engine


CONCAT_PARTS = [
    ("Ada", "Lovelace", 1815),
    ("Zoë", None, -7),
    (None, "Müller – 東京", None),
    (None, None, None),
    ("", "", 0),
    ("  padded ", "emoji 🎉", 2**40),
    ("tab\there", "line\nbreak", None),
    ("a", "", None),
    ("'quote'", "back\\slash", 5),
]
CONCATS = [
    {"columns": ["a", "b"], "separator": " "},
    {"columns": ["a", "b", "n"], "separator": ", ", "nulls": "skip"},
    {"columns": ["a", "b", "n"], "separator": " · ", "nulls": "null"},
    {"columns": ["b", "a"]},
    {"columns": ["a", "n", "b"], "nulls": "null"},
    {"columns": ["c", "a"], "separator": "|"},
]


@pytest.mark.parametrize("engine", ENGINES)
def test_concat_pushdown_matches_python(make_db, engine: str) -> None:
    """Every engine's concat SQL gives the Python contract's text, NULLs and '' included."""
    url = make_db(engine, "cc")
    dialect = Dialect.for_url(url, role="source")
    md = sa.MetaData()
    table = sa.Table(
        "cc",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.String(50)),
        sa.Column("b", sa.Text),
        sa.Column("n", sa.BigInteger),
        sa.Column("c", sa.CHAR(5)),
    )
    rows = [
        {"id": i, "a": a, "b": b, "n": n, "c": None if a is None else a[:3]}
        for i, (a, b, n) in enumerate(CONCAT_PARTS)
    ]
    try:
        with dialect.engine.begin() as conn:
            md.create_all(conn)
            conn.execute(table.insert(), rows)
        with dialect.engine.connect() as conn:
            for args in CONCATS:
                transform = build("concat", args, "test")
                sql = transform.to_sql(sa.null(), dialect)
                assert sql is not None
                columns = [table.c[name] for name in transform.columns]
                result = conn.execute(
                    sa.select(*columns, sql.label("out")).order_by(table.c.id)
                ).all()
                assert len(result) == len(CONCAT_PARTS)
                for *parts, out in result:
                    assert out == transform.join(parts), (args, parts)
    finally:
        dialect.dispose()


@pytest.fixture(scope="module")
def sqlite_parts(tmp_path_factory):
    """One SQLite table of three nullable text parts, shared by the property test's examples."""
    url = f"sqlite:///{tmp_path_factory.mktemp('concat') / 'parts.sqlite'}"
    dialect = Dialect.for_url(url, role="source")
    table = sa.Table("parts", sa.MetaData(), *(sa.Column(c, sa.Text) for c in "abc"))
    with dialect.engine.begin() as conn:
        table.create(conn)
    yield dialect, table
    dialect.dispose()


_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")  # what a text column holds
_PART = st.none() | st.text(alphabet=_CHARS, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.tuples(_PART, _PART, _PART),
    separator=st.text(alphabet=_CHARS, max_size=3),
    nulls=st.sampled_from(["skip", "null"]),
)
def test_concat_sql_equals_python_for_any_text(sqlite_parts, parts, separator, nulls) -> None:
    dialect, table = sqlite_parts
    args = {"columns": ["a", "b", "c"], "separator": separator, "nulls": nulls}
    transform = build("concat", args, "test")
    sql = transform.to_sql(sa.null(), dialect)
    assert sql is not None
    with dialect.engine.begin() as conn:
        conn.execute(table.delete())
        conn.execute(table.insert(), [dict(zip("abc", parts, strict=True))])
        assert conn.execute(sa.select(sql).select_from(table)).scalar_one() == transform.join(parts)
