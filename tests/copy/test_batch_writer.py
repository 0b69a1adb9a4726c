"""The rows path's batch writer on PostgreSQL: one COPY per chunk, binary where it is exact.

Binary COPY is chosen per batch from the value types in each column; what it stores must be
exactly what the text COPY (``Dialect.write``, also the careful path's write) stores, and a
batch whose values binary would misread (a bool into an integer, an int out of range, a
naive timestamp into timestamptz, an int into text) must go the text way, with text's result
or text's error.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from datamove.dialects.base import Dialect
from datamove.dialects.postgresql import _CopyWriter
from tests.conftest import execute, fetch

COLUMNS = {
    "b": "boolean",
    "i2": "smallint",
    "i4": "integer",
    "i8": "bigint",
    "t": "text",
    "c": "char(4)",
    "v": "varchar(8)",
    "f": "double precision",
    "n": "numeric",
    "n2": "numeric(12,2)",
    "d": "date",
    "ts": "timestamp",
    "tz": "timestamptz",
    "u": "uuid",
}
BERLIN = ZoneInfo("Europe/Berlin")
ROWS: list[list[Any]] = [
    [True, -(2**15), -(2**31), -(2**63), "a\tb\nc\\d", "ab", "Straße", -0.0, Decimal("-0.00"),
     Decimal("1.005"), dt.date(1, 1, 1), dt.datetime(1, 1, 1), dt.datetime(1, 1, 1, tzinfo=dt.UTC),
     uuid.UUID(int=0)],
    [False, 2**15 - 1, 2**31 - 1, 2**63 - 1, "", "abcd", "", float("inf"), Decimal("NaN"),
     Decimal("-2.675"), dt.date(9999, 12, 31), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
     dt.datetime(2020, 10, 25, 2, 30, fold=1, tzinfo=BERLIN), uuid.UUID(int=2**128 - 1)],
    [None, 0, 0, 0, "ünïcödé ✓ \\N", " ", " x ", 1e-310, Decimal("1E+3"), Decimal("5"),
     dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 12, 0, 0, 1),
     dt.datetime(2020, 3, 29, 2, 30, tzinfo=BERLIN), uuid.uuid5(uuid.NAMESPACE_DNS, "x")],
    [None] * 14,
    [True, 7, 8, 9, "x", None, None, float("nan"), Decimal("123456789012345678901234567890.5"),
     -3, None, None, dt.datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("UTC")), None],
]  # fmt: skip


@pytest.fixture
def pg(pg_db: str) -> Iterator[tuple[str, Dialect]]:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    execute(pg_db, f"CREATE TABLE by_text ({columns})", f"CREATE TABLE by_batch ({columns})")
    dialect = Dialect.for_url(pg_db, role="target")
    yield pg_db, dialect
    dialect.dispose()


def table(dialect: Dialect, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *(sa.Column(c) for c in COLUMNS))


def as_text(url: str, name: str, columns: list[str]) -> list[tuple[object, ...]]:
    cols = ", ".join(f"{c}::text" for c in columns)
    return fetch(url, f"SELECT {cols} FROM {name} ORDER BY {cols}")


def write_batches(dialect: Dialect, name: str, batches: list[list[list[Any]]]) -> list[bool]:
    """Write ``batches`` (each a list of rows) through the batch writer; the format of each."""
    formats: list[bool] = []
    with dialect.connect() as conn, conn.begin():
        with dialect.batch_writer(conn, table(dialect, name), list(COLUMNS)) as writer:
            assert isinstance(writer, _CopyWriter)
            for rows in batches:
                writer.write([list(c) for c in zip(*rows, strict=True)])
                formats.append(writer.binary)
    return formats


def test_binary_batches_store_what_text_copy_stores(pg) -> None:
    url, dialect = pg
    with dialect.connect() as conn, conn.begin():
        dialect.write(conn, table(dialect, "by_text"), list(COLUMNS), ROWS)
    assert write_batches(dialect, "by_batch", [ROWS[:2], ROWS[2:]]) == [True, True]
    assert as_text(url, "by_batch", list(COLUMNS)) == as_text(url, "by_text", list(COLUMNS))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("i8", True),  # binary would store 1; text refuses 't'
        ("i4", 2**31),  # binary would wrap around to -2**31
        ("i2", -(2**15) - 1),
        ("n", 1.5),  # a float into numeric: psycopg's binary numeric refuses it
        ("t", 5),  # an int into text: text COPY stores '5'
        ("tz", dt.datetime(2024, 1, 1, 12)),  # naive into timestamptz: text reads it as UTC
        ("tz", dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
        ("ts", dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)),  # aware into timestamp
        ("d", dt.datetime(2024, 1, 1, 12)),  # a datetime into date
        ("f", 1),  # an int into double precision
    ],
)
def test_values_binary_would_misread_go_the_text_way(pg, column: str, value: Any) -> None:
    url, dialect = pg
    row = list(ROWS[4])
    row[list(COLUMNS).index(column)] = value
    outcome: dict[str, Any] = {}
    for name, write in (
        ("by_text", lambda: _write_text(dialect, [row])),
        ("by_batch", lambda: write_batches(dialect, "by_batch", [ROWS[:1], [row], ROWS[1:2]])),
    ):
        try:
            outcome[name] = write()
        except sa.exc.DBAPIError as exc:  # the text write's error, or binary's (compared below)
            outcome[name] = ("error", type(exc.orig).__name__, dialect.is_data_error(exc))
        except Exception as exc:  # noqa: BLE001 - a Python error would not be a data error
            outcome[name] = ("error", type(exc).__name__, dialect.is_data_error(exc))
    if isinstance(outcome["by_text"], tuple):  # text refuses the value: so must the batch
        assert isinstance(outcome["by_batch"], tuple)
        assert outcome["by_batch"][2] is True  # a data error: the chunk is redone carefully
        assert fetch(url, "SELECT count(*) FROM by_batch") == [(0,)]
    else:
        assert outcome["by_batch"] == [True, False, True]  # binary, text, binary again
        stored = as_text(url, "by_batch", [column])
        assert as_text(url, "by_text", [column])[0] in stored


def _write_text(dialect: Dialect, rows: list[list[Any]]) -> None:
    with dialect.connect() as conn, conn.begin():
        dialect.write(conn, table(dialect, "by_text"), list(COLUMNS), rows)


def test_one_copy_per_chunk_and_pause_between_queries(pg) -> None:
    url, dialect = pg
    with dialect.connect() as conn, conn.begin():
        with dialect.batch_writer(conn, table(dialect, "by_batch"), list(COLUMNS)) as writer:
            writer.write([list(c) for c in zip(*ROWS[:2], strict=True)])
            open_copy = writer.open
            writer.write([list(c) for c in zip(*ROWS[2:], strict=True)])
            assert writer.open is open_copy  # the same COPY statement for both batches
            writer.pause()
            assert conn.exec_driver_sql("SELECT count(*) FROM by_batch").scalar() == len(ROWS)
            writer.write([list(c) for c in zip(*ROWS[:1], strict=True)])
    assert fetch(url, "SELECT count(*) FROM by_batch") == [(len(ROWS) + 1,)]


def test_a_failure_abandons_the_copy(pg) -> None:
    url, dialect = pg
    with pytest.raises(ZeroDivisionError), dialect.connect() as conn, conn.begin():
        with dialect.batch_writer(conn, table(dialect, "by_batch"), list(COLUMNS)) as writer:
            writer.write([list(c) for c in zip(*ROWS, strict=True)])
            raise ZeroDivisionError  # e.g. a transform failing on the next batch
    assert fetch(url, "SELECT count(*) FROM by_batch") == [(0,)]
