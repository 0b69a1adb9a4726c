"""Rows that cannot be written become rejects with table, key, column and reason."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.errors import RejectLimitExceeded
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = [
    (1, "ok", "10.50", "a"),
    (2, "too long for five", "1.00", "b"),  # value too long for varchar(5)
    (3, "fine", "abc", "c"),  # cast to decimal fails
    (4, "null", "2.00", None),  # NOT NULL violation in the target
    (5, "good", "3.25", "e"),
    (6, "three", "4.999", "f"),  # more places than decimal(12,2)
]


@pytest.fixture
def source(sqlite_db) -> str:
    url = sqlite_db("src")
    execute(url, "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, price TEXT, code TEXT)")
    execute(
        url,
        "INSERT INTO items VALUES (:a, :b, :c, :d)",
        params=[dict(zip("abcd", r, strict=True)) for r in ROWS],
    )
    return url


MAPPING = """  items:
    columns:
      id:
      label:
      price: {cast: "decimal(12,2)"}
      code:"""


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_bad_rows_become_rejects_and_good_rows_land(source, make_db, tmp_path, engine) -> None:
    target = make_db(engine, "tgt")
    execute(
        target,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(5), "
        "price DECIMAL(12,2), code VARCHAR(10) NOT NULL)",
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, MAPPING, max_rejects=10)
    result = Migration.from_file(spec).run()

    ids = [r[0] for r in fetch(target, "SELECT id FROM items ORDER BY id")]
    rejects = {r.key[0]: r for r in Migration.from_file(spec).status(rejects=True).rejects}
    # SQLite does not enforce VARCHAR lengths; datamove's row check does, on every engine.
    expected_rejects = {2, 3, 4, 6}
    assert set(rejects) == expected_rejects
    assert ids == sorted({1, 2, 3, 4, 5, 6} - expected_rejects)
    assert result.rejects_total == len(expected_rejects)
    assert rejects[3].column == "price" and "cast" in rejects[3].reason
    assert rejects[6].column == "price" and "decimal places" in rejects[6].reason
    assert rejects[4].column == "code" and "NOT NULL" in rejects[4].reason
    assert "abc" not in (rejects[3].value or "")  # values are masked
    assert rejects[2].column == "label" and "do not fit" in rejects[2].reason


def test_run_stops_when_rejects_pass_the_limit(source, pg_db, tmp_path) -> None:
    execute(
        pg_db,
        "CREATE TABLE items (id int PRIMARY KEY, label varchar(5), "
        "price numeric(12,2), code text NOT NULL)",
    )
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, MAPPING)
    with pytest.raises(RejectLimitExceeded, match="max_rejects=0") as err:
        Migration.from_file(spec).run()
    assert "status SPEC --rejects" in str(err.value)
    status = Migration.from_file(spec).status()
    assert status.rejects_total == 4
    assert "max_rejects" in (status.last_error or "")
    # The committed chunk is kept: good rows are in the target.
    assert [r[0] for r in fetch(pg_db, "SELECT id FROM items ORDER BY id")] == [1, 5]


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_mysql_zero_dates_are_rejects_not_nulls(mysql_db, make_db, tmp_path, engine) -> None:
    engine_url = sa.create_engine(mysql_db)
    with engine_url.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")  # legacy data: zero dates allowed
        conn.exec_driver_sql("CREATE TABLE ev (id INT PRIMARY KEY, day DATE, at DATETIME(6))")
        conn.exec_driver_sql(
            "INSERT INTO ev VALUES (1, '2024-01-31', '2024-01-31 10:00:00.5'), "
            "(2, '0000-00-00', '2024-01-31 10:00:00'), (3, NULL, NULL), "
            "(4, '2024-02-01', '0000-00-00 00:00:00')"
        )
    engine_url.dispose()
    target = make_db(engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", mysql_db, target, "  ev:", max_rejects=5)
    result = Migration.from_file(spec).run()
    assert result.rejects_total == 2
    rejects = Migration.from_file(spec).status(rejects=True).rejects
    assert {(r.key[0], r.column) for r in rejects} == {(2, "day"), (4, "at")}
    assert all("zero or partial date" in r.reason for r in rejects)
    rows = fetch(target, "SELECT id, day, at FROM ev ORDER BY id")
    assert [r[0] for r in rows] == [1, 3]
    assert rows[1][1] is None and rows[1][2] is None  # a real NULL stays NULL
    assert str(rows[0][2]).startswith("2024-01-31 10:00:00.5")


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_refused_rows_reason_names_the_key_not_the_value(sqlite_db, make_db, tmp_path, engine):
    """The server's message quotes the row (PostgreSQL's DETAIL, MySQL's ``Duplicate entry
    '...'``): a reject's reason keeps what it names and masks the value."""
    source, target = sqlite_db("src"), make_db(engine, "tgt")
    execute(source, "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
    execute(source, "INSERT INTO items VALUES (1, 'secret-label'), (2, 'secret-label')")
    execute(
        target,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(40), "
        "CONSTRAINT one_label UNIQUE (label))",
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, "  items: {}\n", max_rejects=10)
    Migration.from_file(spec).run()
    (reject,) = Migration.from_file(spec).status(rejects=True).rejects
    assert "one_label" in reject.reason and "secret" not in reject.reason
