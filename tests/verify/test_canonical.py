"""Conformance: every dialect's canonical SQL gives exactly the Python reference's text.

For each engine a table with one column per type family is filled with edge cases and seeded
random values; each column is read twice — through the dialect's ``canonical.text`` and as the
driver returns it, through ``core.canonical.canonical`` — and the two must be equal, row for
row. The digest slices computed in SQL, from each value as a digest takes it
(``canonical.digest_text``: on MySQL a number's bare column), must equal the Python ``digest`` of
the same row.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamove.core.canonical import (
    Canon,
    canon_for,
    canonical,
    digest,
    encode_row,
    framed,
    frames_of,
)
from datamove.dialects.base import Dialect
from datamove.dialects.types import classify_generic
from tests.conftest import ENGINES, execute

# (column, PostgreSQL type, MySQL type, SQLite type, values)
_rng = random.Random(20261124)
_DECIMALS = [Decimal(_rng.randint(-(10**11), 10**11)) / 100 for _ in range(40)]
_FLOATS = [_rng.uniform(-1e6, 1e6) for _ in range(30)] + [
    _rng.random() * 10 ** _rng.randint(-20, 30) for _ in range(30)
]
_TEXTS = ["", " ", "a ", " a", "Ünïcødé ✓", "tab\there", "new\nline", "emoji 😀", "back\\slash"]
_TIMES = [
    dt.datetime(2020, 3, 29, 1, 59, 59, 999999),
    dt.datetime(1999, 12, 31, 23, 59, 59),
    dt.datetime(2038, 1, 19, 3, 14, 7, 999999),
    dt.datetime(2024, 2, 29, 12, 0, 0, 500000),
]

COLUMNS: list[tuple[str, str, str, str, list[Any]]] = [
    ("i", "bigint", "BIGINT", "INTEGER", [0, -1, 2**62, -(2**62), 42]),
    ("b", "boolean", "TINYINT(1)", "BOOLEAN", [True, False]),
    (
        "d",
        "numeric(14,2)",
        "DECIMAL(14,2)",
        "NUMERIC(14,2)",
        [Decimal("0.00"), Decimal("-0.01"), Decimal("12.30"), *_DECIMALS],
    ),
    (
        "f",
        "double precision",
        "DOUBLE",
        "REAL",
        [0.0, -0.0, 0.1, 1 / 3, -2.5, 1e-300, 1.5e300, 123456789012345678.0, *_FLOATS],
    ),
    ("t", "text", "TEXT", "TEXT", _TEXTS),
    ("c", "char(5)", "CHAR(5)", "CHAR(5)", ["ab", "", "abcde", "é"]),
    # Hashed as UTF-8 whatever the column's charset (MySQL hashes a UTF-8 column uncast).
    ("l", "text", "TEXT CHARACTER SET latin1", "TEXT", ["é", "ab", "", "£ x"]),
    ("cl", "char(4)", "CHAR(4) CHARACTER SET latin1", "CHAR(4)", ["ü", "a b", ""]),
    ("dt", "date", "DATE", "DATE", [dt.date(2020, 2, 29), dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
    ("ts", "timestamp(6)", "DATETIME(6)", "DATETIME", _TIMES),
    ("tz", "timestamptz(6)", "TIMESTAMP(6) NULL", "DATETIME", _TIMES),
    (
        "t3",
        "timestamp(3)",
        "DATETIME(3)",
        "DATETIME",
        [*_TIMES, dt.datetime(2021, 5, 6, 7, 8, 9, 120000)],
    ),
    ("t0", "timestamp(0)", "DATETIME", "DATETIME", _TIMES),
    ("tm", "time(6)", "TIME(6)", "TIME", [dt.time(0, 0), dt.time(23, 59, 59, 999999)]),
    ("bl", "bytea", "BLOB", "BLOB", [b"", b"\x00\xff", "é".encode()]),
    ("u", "uuid", "UUID", "TEXT", [uuid.UUID(int=_rng.getrandbits(128)) for _ in range(3)]),
]


def _rows() -> list[dict[str, Any]]:
    longest = max(len(c[4]) for c in COLUMNS)
    rows = []
    for n in range(longest + 1):  # the last row is all NULL
        rows.append({c[0]: (c[4][n] if n < len(c[4]) else None) for c in COLUMNS} | {"id": n})
    return rows


def _create(url: str, engine: str) -> None:
    pick = {"postgresql": 1, "mysql": 2, "sqlite": 3}[engine]
    cols = ", ".join(f"{c[0]} {c[pick]}" for c in COLUMNS)
    execute(url, f"CREATE TABLE conf (id INTEGER PRIMARY KEY, {cols})")
    rows = _rows()
    if engine == "sqlite":  # stored the way datamove's SQLite adapter writes them
        for r in rows:
            for k, v in r.items():
                if isinstance(v, Decimal | uuid.UUID):
                    r[k] = str(v)
                elif isinstance(v, dt.datetime):
                    r[k] = v.isoformat(sep=" ")
                elif isinstance(v, dt.date | dt.time):
                    r[k] = v.isoformat()
    if engine == "mysql":
        for r in rows:
            r["u"] = str(r["u"]) if r["u"] is not None else None
    names = ["id"] + [c[0] for c in COLUMNS]
    execute(
        url,
        f"INSERT INTO conf ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})",
        params=rows,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_sql_canonical_matches_the_python_reference(engine: str, make_db: Any) -> None:
    url = make_db(engine, "conf")
    _create(url, engine)
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn:
            table = sa.Table("conf", sa.MetaData(), autoload_with=conn)
            overrides = dialect.reflect_overrides(conn, table)  # MySQL: charsets, as verify
            infos = {
                c.name: overrides.get(c.name) or dialect.classify(c.type, str(c.type))
                for c in table.columns
            }
            canons = {name: canon_for(info) for name, info in infos.items()}
            exprs = [
                dialect.canonical.text(table.c[c[0]], canons[c[0]], infos[c[0]]) for c in COLUMNS
            ]
            assert all(e is not None for e in exprs), "every kind but JSON is computed in SQL"
            sql_parts = [e.label(f"s_{c[0]}") for e, c in zip(exprs, COLUMNS, strict=True)]  # type: ignore[union-attr]
            frames = [framed(canons[c[0]]) for c in COLUMNS]
            digested = [dialect.canonical.digest_text(e) for e in exprs]  # type: ignore[arg-type]
            row_hash = dialect.canonical.row_hash(digested, frames)
            row_digest = dialect.canonical.digest(row_hash).label("dm_digest")
            # Each value alone too: in a row, CONCAT converts a latin1 part to another part's
            # utf8mb4; alone, only a cast makes its text UTF-8.
            alone = [
                dialect.canonical.digest(dialect.canonical.row_hash([d], [f])).label(f"a_{c[0]}")
                for d, f, c in zip(digested, frames, COLUMNS, strict=True)
            ]
            stmt = sa.select(
                table.c.id, *[table.c[c[0]] for c in COLUMNS], *sql_parts, *alone, row_digest
            ).order_by(table.c.id)
            mismatches = []
            rows = [r for batch in dialect.stream(conn, stmt, 1000) for r in batch]
            for row in rows:  # raw driver values, as verification reads them
                n = len(COLUMNS)
                raw, sql = row[1 : 1 + n], row[1 + n : 1 + 2 * n]
                expected = [canonical(v, canons[c[0]]) for v, c in zip(raw, COLUMNS, strict=True)]
                for c, want, got in zip(COLUMNS, expected, sql, strict=True):
                    if want != got:
                        mismatches.append((row[0], c[0], canons[c[0]].label, want, got))
                assert row[-1] == digest(sql, frames)
                singles = row[1 + 2 * n : 1 + 3 * n]
                assert list(singles) == [digest([v], [f]) for v, f in zip(sql, frames, strict=True)]
            assert not mismatches, mismatches
            # The range sum is exact (SQLite's sum() would stop at 2^63).
            total = sa.select(dialect.canonical.exact_sum(stmt.subquery().c.dm_digest))
            assert int(conn.execute(total).scalar_one()) == sum(int(r[-1]) for r in rows)
    finally:
        dialect.dispose()


# MySQL BIT(n): every width, read for each kind of target column it can fill (as
# ``Dialect.read_as`` reads it for a target of that type); NULL in the last row.
BIT_VALUES = {1: [0, 1], 16: [0, 1, 8, 65535], 64: [0, 1, 8, 2**63, 2**64 - 1]}
BIT_TARGETS: dict[str, sa.types.TypeEngine[Any]] = {
    "boolean": sa.Boolean(),
    "bigint": sa.BigInteger(),
    "numeric(20)": sa.Numeric(20, 0),
    "text": sa.Text(),
    "binary": sa.LargeBinary(),
}


@pytest.mark.parametrize("driver", ["mysqlconnector", "pymysql"])
def test_mysql_bit_canonical_matches_the_python_reference(driver: str, mysql_db: str) -> None:
    """The source side of a BIT column in SQL equals the Python reference of the value the
    copy reads, for every target kind, from both drivers (the connector returns a BIT as an
    int, PyMySQL as bytes)."""
    cols = {f"b{n}": n for n in BIT_VALUES}
    execute(mysql_db, "CREATE TABLE bits (id INT PRIMARY KEY, b1 BIT(1), b16 BIT(16), b64 BIT(64))")
    longest = max(map(len, BIT_VALUES.values()))
    rows = [
        {"id": i} | {f"b{n}": (v[i] if i < len(v) else None) for n, v in BIT_VALUES.items()}
        for i in range(longest + 1)
    ]
    execute(mysql_db, "INSERT INTO bits VALUES (:id, :b1, :b16, :b64)", params=rows)
    url = mysql_db.replace("+mysqlconnector://", f"+{driver}://")
    dialect = Dialect.for_url(url, role="source")
    try:
        with dialect.connect() as conn:
            table = sa.Table("bits", sa.MetaData(), autoload_with=conn)
            cases = []  # (column, target, read info, canon)
            for c, n in cols.items():
                base = dialect.classify(table.c[c].type, f"BIT({n})")
                assert base is not None
                for name, target_type in BIT_TARGETS.items():
                    if name == "boolean" and n > 1:
                        continue  # values past 1 are rejects, not booleans
                    target = classify_generic(target_type, name)
                    cases.append((c, name, dialect.read_as(base, target), canon_for(target)))
            reads = [dialect.read_expr(table.c[c], info) for c, _, info, _ in cases]
            sqls = [dialect.canonical.text(table.c[c], canon, info) for c, _, info, canon in cases]
            assert all(e is not None for e in sqls)
            frames = [framed(canon) for *_, canon in cases]
            digested = [dialect.canonical.digest_text(e) for e in sqls]  # type: ignore[arg-type]
            row_digest = dialect.canonical.digest(dialect.canonical.row_hash(digested, frames))
            stmt = sa.select(table.c.id, *reads, *sqls, row_digest).order_by(table.c.id)
            got = [r for batch in dialect.stream(conn, stmt, 100) for r in batch]
    finally:
        dialect.dispose()
    mismatches = []
    k = len(cases)
    for row in got:
        read, sql = row[1 : 1 + k], row[1 + k : 1 + 2 * k]
        for (c, name, info, canon), value, text in zip(cases, read, sql, strict=True):
            adapt = dialect.reader(info)
            want = canonical(adapt(value) if adapt else value, canon)
            if want != text:
                mismatches.append((row[0], c, name, want, text))
        assert row[-1] == digest(sql, frames)
    assert not mismatches, mismatches
    by_case = {(c, name): [r[1 + k + i] for r in got] for i, (c, name, _, _) in enumerate(cases)}
    assert by_case[("b16", "binary")] == ["0000", "0001", "0008", "ffff", None, None]
    assert by_case[("b64", "numeric(20)")][-2] == str(2**64 - 1)
    assert by_case[("b1", "boolean")] == ["0", "1", None, None, None, None]


def test_canonical_forms_by_example() -> None:
    assert canonical(Decimal("-0.001"), Canon("decimal", 2)) == "0.00"
    assert canonical(Decimal("2.675"), Canon("decimal", 2)) == "2.68"
    assert canonical(2.675, Canon("decimal", 2)) == "2.68"  # the float's text form, not binary
    assert canonical(Decimal("12.300"), Canon("decimal")) == "12.3"
    assert canonical(0.1 + 0.2, Canon("float")) == "3e-1"
    assert canonical(0.1 + 0.2, Canon("float", digits=17)) == "3.0000000000000004e-1"
    # issue 14: rounded once, from the shortest text, at any magnitude
    assert canonical(3.3202857142857145e-15, Canon("float")) == "3.32028571428571e-15"
    assert canonical(5e-324, Canon("float")) == "5e-324"
    assert canonical(-1.7976931348623157e308, Canon("float")) == "-1.79769313486232e308"
    assert canonical(-0.0, Canon("float")) == "0"
    assert canonical(999999999999999.9, Canon("float")) == "1e15"
    assert canonical(True, Canon("integer")) == canonical(1, Canon("boolean")) == "1"
    aware = dt.datetime(2020, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert canonical(aware, Canon("timestamp")) == "2020-01-01 00:00:00"
    assert canonical(dt.datetime(2020, 1, 1, 0, 0, 1, 500000), Canon("timestamp")) == (
        "2020-01-01 00:00:01.5"
    )
    assert (
        canonical("2020-01-01 00:00:01.000010", Canon("timestamp")) == "2020-01-01 00:00:01.00001"
    )
    assert canonical("x ", Canon("text")) != canonical("x", Canon("text"))
    assert canonical("x ", Canon("char")) == "x"
    assert canonical("", Canon("text")) == "" and canonical(None, Canon("text")) is None
    assert canonical('{"b": 1.0, "a": [1, {"y": null}]}', Canon("json")) == canonical(
        {"a": [1, {"y": None}], "b": 1}, Canon("json")
    )
    assert canonical({"a": {"b": 2}}, Canon("json")) != canonical({"a": {"b": 3}}, Canon("json"))
    assert canonical(b"\x00\xff", Canon("bytes")) == "00ff"
    assert canonical(8, Canon("bytes")) == "\x00unreadable int as bytes"  # not 8 zero bytes
    assert canonical("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", Canon("uuid")) == (
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    )
    assert digest(["1", None], [False, False]) != digest([None, "1"], [False, False])
    assert digest(["a|1:b"], [True]) != digest(["a", "b"], [True, True])
    assert digest(["-"], [True]) != digest([None], [True])


# A row of fixed forms (digits: no ``|``, never ``-`` alone) and free texts of the characters
# an encoding could confuse; NULL anywhere.
_free = st.none() | st.text("ab|:-1", max_size=5)
_fixed = st.none() | st.from_regex(r"-?[0-9]{1,3}", fullmatch=True)
_ROW_KINDS = [True, False, True, True, False]  # free, fixed, free, free, fixed


def _decode(text: str, kinds: list[bool]) -> tuple[str | None, ...]:
    """The row an encoding stands for, read as the module docstring says it can be: from the
    left up to the last free text, from the right after it; that value is what is left."""
    frames = frames_of(kinds)
    last = frames.index("prefix") if "prefix" in frames else len(frames)
    values: list[str | None] = [None] * len(frames)
    pos = 0
    for i in range(last):
        if frames[i] == "length" and text[pos] != "-":
            colon = text.index(":", pos)
            end = colon + 1 + int(text[pos:colon])
            values[i] = text[colon + 1 : end]
        else:
            end = text.find("|", pos) if "|" in text[pos:] else len(text)
            values[i] = None if text[pos:end] == "-" else text[pos:end]
        pos = end + 1
    rest = text[pos:]
    for i in range(len(frames) - 1, last, -1):
        rest, _, field = rest.rpartition("|")
        values[i] = None if field == "-" else field
    if last < len(frames):
        values[last] = None if rest == "-" else rest.removeprefix(":")
    return tuple(values)


@settings(max_examples=500, deadline=None)
@given(st.tuples(*[_free if f else _fixed for f in _ROW_KINDS]))
def test_a_row_encoding_reads_back(row: tuple[str | None, ...]) -> None:
    """Free texts framed ``length:``, the last one only ``:``: one row per encoding."""
    assert _decode(encode_row(row, _ROW_KINDS), _ROW_KINDS) == row


DOUBLES = st.floats(allow_nan=False, allow_infinity=False, width=64)
EDGES = [
    3.3202857142857145e-15,
    5e-324,
    2.2250738585072014e-308,
    1e-300,
    1e300,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    999999999999999.9,
    9.999999999999999e22,
    1e23,
    0.1,
    -0.0,
    123456789012345678.0,
    0.00001234,
]


@pytest.mark.parametrize("engine", ENGINES)
@given(values=st.lists(DOUBLES, min_size=1, max_size=60))
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_float_canonical_is_exact_for_every_double(engine: str, make_db: Any, values) -> None:
    """Issue 14: MariaDB's DOUBLE 3.3202857142857145e-15 compared as ...28572 against
    PostgreSQL's ...28571 (cast to DECIMAL(65,30), then rounded: twice). Any double, the
    subnormals and the ends of the range included, gives the Python reference's text."""
    url = make_db(engine, "floats")  # one database; each example makes its table anew
    column = {"postgresql": "double precision", "mysql": "DOUBLE", "sqlite": "REAL"}[engine]
    execute(url, "DROP TABLE IF EXISTS fl", f"CREATE TABLE fl (id INTEGER PRIMARY KEY, x {column})")
    rows = [{"i": i, "x": v} for i, v in enumerate([*EDGES, *values])]
    execute(url, "INSERT INTO fl (id, x) VALUES (:i, :x)", params=rows)
    dialect = Dialect.for_url(url, role="target")
    try:
        with dialect.connect() as conn:
            table = sa.Table("fl", sa.MetaData(), autoload_with=conn)
            info = dialect.classify(table.c.x.type, str(table.c.x.type))
            canon = canon_for(info)
            sql = dialect.canonical.text(table.c.x, canon, info)
            assert sql is not None
            stmt = sa.select(table.c.x, sql).order_by(table.c.id)
            got = [r for batch in dialect.stream(conn, stmt, 1000) for r in batch]  # as verify
    finally:
        dialect.dispose()
    wrong = [(x, canonical(x, canon), text) for x, text in got if canonical(x, canon) != text]
    assert wrong == []
