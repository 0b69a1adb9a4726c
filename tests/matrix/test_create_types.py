"""Target-table creation across engines: every MySQL type gets the right PostgreSQL type and
its values arrive intact."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec

MYSQL_TABLE = """CREATE TABLE zoo (
    id INT UNSIGNED PRIMARY KEY, flag TINYINT(1), tiny TINYINT UNSIGNED, big BIGINT UNSIGNED,
    mood ENUM('happy','sad'), tags SET('a','b','c'), yr YEAR, price DECIMAL(10,3),
    at DATETIME(6), stamp TIMESTAMP NULL, doc JSON, raw BLOB, ratio DOUBLE, name VARCHAR(20),
    shape GEOMETRY NULL) CHARACTER SET utf8mb4"""

EXPECTED_PG = {
    "id": "bigint",
    "flag": "boolean",
    "tiny": "smallint",
    "big": "numeric",
    "mood": "text",
    "tags": "text",
    "yr": "smallint",
    "price": "numeric",
    "at": "timestamp without time zone",
    "stamp": "timestamp with time zone",
    "doc": "jsonb",
    "raw": "bytea",
    "ratio": "double precision",
    "name": "character varying",
    "shape": "bytea",
}


def test_mysql_types_into_created_postgresql_table(mysql_db, pg_db, tmp_path) -> None:
    execute(mysql_db, MYSQL_TABLE)
    execute(
        mysql_db,
        "INSERT INTO zoo VALUES (4294967295, 1, 255, 18446744073709551615, 'sad', 'c,a', 2155, "
        "1234567.125, '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07', '{\"k\": [1, 2]}', "
        "X'00FF10', 1.5e-10, 'Zoë 東京', ST_GeomFromText('POINT(1 2)'))",
    )
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, "  zoo:")
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors
    result = Migration.from_file(spec).run()
    assert result.tables[0].paths == {"copy"}  # raw MySQL text piped into COPY
    _assert_verified(spec)

    types = dict(
        fetch(
            pg_db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'zoo'",
        )
    )
    assert types == EXPECTED_PG
    engine = sa.create_engine(pg_db)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM zoo")).mappings().one()
        # ENUM became text with a CHECK that keeps the allowed values.
        checks = conn.execute(
            sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
        ).scalars()
        assert any("happy" in c and "sad" in c for c in checks)
    engine.dispose()
    assert row["id"] == 4294967295 and row["big"] == Decimal("18446744073709551615")
    assert row["flag"] is True and row["tiny"] == 255 and row["yr"] == 2155
    assert row["mood"] == "sad" and row["tags"] == "a,c"  # SET members in definition order
    assert row["price"] == Decimal("1234567.125")
    assert row["at"] == dt.datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert row["stamp"] == dt.datetime(2038, 1, 19, 3, 14, 7, tzinfo=dt.UTC)
    assert row["doc"] == {"k": [1, 2]} and bytes(row["raw"]) == b"\x00\xff\x10"
    assert row["ratio"] == 1.5e-10 and row["name"] == "Zoë 東京"
    assert len(bytes(row["shape"])) == 25  # SRID (4 bytes) + WKB point (21 bytes)


PG_TABLE = """CREATE TABLE zoo (
    id bigint PRIMARY KEY, flag boolean, small smallint, price numeric(12,2),
    ratio double precision, at timestamp(6), zoned timestamptz, day date, clock time,
    doc jsonb, raw bytea, uid uuid,
    tags text[], name varchar(10), code char(3), mood text)"""


def test_postgresql_types_into_created_mysql_and_sqlite_tables(pg_db, make_db, tmp_path) -> None:
    execute(pg_db, PG_TABLE)
    execute(
        pg_db,
        "INSERT INTO zoo VALUES (1, true, -32768, 1234567890.12, 0.1, "
        "'2024-02-29 23:59:59.123456', "
        "'2024-06-01 12:00:00+02', '0001-01-01', '23:59:59.5', '{\"b\": [1, {\"c\": null}]}', "
        "'\\x00ff', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', ARRAY['x', 'y'], 'Zoë', 'ab', 'ok'), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', "
        "NULL, NULL)",
    )
    for engine in ("mysql", "sqlite"):
        target = make_db(engine, f"tgt_{engine}")
        spec = write_spec(tmp_path / f"{engine}.yaml", pg_db, target, "  zoo:")
        assert not Migration.from_file(spec).plan().errors
        Migration.from_file(spec).run()
        _assert_verified(spec)
        eng = sa.create_engine(target)
        with eng.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM zoo ORDER BY id")).mappings().all()
        eng.dispose()
        first, second = rows
        assert bool(first["flag"]) is True and first["small"] == -32768
        assert Decimal(str(first["price"])) == Decimal("1234567890.12")
        assert float(first["ratio"]) == 0.1
        assert str(first["at"]).startswith("2024-02-29 23:59:59.123456")
        assert str(first["zoned"]).startswith("2024-06-01 10:00:00")  # stored as UTC
        assert str(first["day"]) == "0001-01-01"
        assert json.loads(first["doc"]) == {"b": [1, {"c": None}]}
        assert bytes(first["raw"]) == b"\x00\xff"
        assert first["uid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        assert json.loads(first["tags"]) == ["x", "y"]
        assert first["name"] == "Zoë" and first["code"].rstrip() == "ab"
        assert second["name"] == "" and all(
            second[c] is None for c in ("flag", "price", "at", "zoned", "doc", "raw", "uid")
        )


def _assert_verified(spec: Path) -> None:
    """No false positive: every type of the matrix compares equal in canonical form."""
    result = Migration.from_file(spec).verify()
    assert result.ok, [(c.name, c.details["changed"]) for c in result.checks if not c.ok]
