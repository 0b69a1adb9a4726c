"""``KeyRange`` is the one ``(lo, hi]`` rule: its Python side (``contains``, ``overlaps``,
``split``) and its SQL side (``predicate``) agree, on composite keys too."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from datamove.core.keys import KeyRange, decode_key, encode_key

keys = st.tuples(st.integers(0, 6), st.integers(0, 6))
bounds = st.one_of(st.none(), keys)
ranges = st.builds(KeyRange, bounds, bounds)


@given(ranges, st.lists(keys, max_size=20))
@settings(max_examples=60, deadline=None)
def test_predicate_selects_exactly_what_contains_says(span: KeyRange, rows: list) -> None:
    engine = sa.create_engine("sqlite://")
    md = sa.MetaData()
    table = sa.Table("t", md, sa.Column("a", sa.Integer), sa.Column("b", sa.Integer))
    with engine.begin() as conn:
        md.create_all(conn)
        if rows:
            conn.execute(table.insert(), [{"a": a, "b": b} for a, b in rows])
        selected = conn.execute(
            sa.select(table.c.a, table.c.b).where(span.predicate([table.c.a, table.c.b]))
        ).all()
    assert sorted(map(tuple, selected)) == sorted(k for k in rows if span.contains(k))


@given(ranges, st.lists(keys, max_size=6), keys)
def test_split_covers_the_range_exactly_once(span: KeyRange, cuts: list, key: tuple) -> None:
    parts = span.split(cuts)
    holding = [p for p in parts if p.contains(key)]
    assert len(holding) == (1 if span.contains(key) else 0)
    assert parts[0].lo == span.lo and parts[-1].hi == span.hi


@given(ranges, ranges, keys)
def test_overlap_is_sharing_a_key(a: KeyRange, b: KeyRange, key: tuple) -> None:
    if a.contains(key) and b.contains(key):
        assert a.overlaps(b) and b.overlaps(a)


def test_key_codec_keeps_types() -> None:
    import datetime as dt
    from decimal import Decimal

    key = (1, "x", Decimal("1.50"), dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4), b"\x00")
    assert decode_key(encode_key(key)) == key
