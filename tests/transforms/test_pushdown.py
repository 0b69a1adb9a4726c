"""Pushed-down SQL gives exactly what Python gives, on PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.spec.models import TransformCall
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
                transform = build(TransformCall(name=name, args=args), "test")
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
