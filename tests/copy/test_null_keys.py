"""Keys that can hold NULL: declared ``not_null``, their NULL rows are rejects on every copy
path (never silently skipped), and verify counts rejected rows, not rejected keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.dialects.base import Dialect
from datamove.state.store import StateStore
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = 40
NULL_KEYS = (1, 12, 25, 38)  # row numbers whose key is NULL: in no chunk's key range


def _items(url: str, key_type: str, long_label_at: int | None = None) -> None:
    """``items`` with a nullable, unique-where-present key column ``code``."""
    execute(url, f"CREATE TABLE items (code {key_type}, label VARCHAR(20) NOT NULL)")
    rows = [
        {
            "c": None if n in NULL_KEYS else (n if key_type == "INTEGER" else f"k{n:03d}"),
            "l": "much too long" if n == long_label_at else f"l{n}",
        }
        for n in range(1, ROWS + 1)
    ]
    execute(url, "INSERT INTO items (code, label) VALUES (:c, :l)", params=rows)  # type: ignore[arg-type]


def _chunk_paths(target: str) -> dict[int, str]:
    dialect = Dialect.for_url(target, role="target")
    try:
        c = StateStore(dialect, "test").checkpoints
        with dialect.connect() as conn:
            return dict(conn.execute(sa.select(c.c.chunk_no, c.c.path)).all())  # type: ignore[arg-type]
    finally:
        dialect.dispose()


def _count_check(spec: Path) -> tuple[str, str, str, dict[str, object]]:
    result = Migration.from_file(spec).verify()
    assert result.ok, [(c.name, c.status, c.actual) for c in result.checks if not c.ok]
    count = next(c for c in result.checks if c.kind == "count")
    return count.status, count.expected, count.actual, count.details


@pytest.mark.parametrize(
    ("source_engine", "target_engine", "key_type", "batch_size", "first_path"),
    [
        ("postgresql", "mysql", "VARCHAR(10)", 10, "rows"),
        ("mysql", "postgresql", "INTEGER", 10, "copy"),
        ("postgresql", "postgresql", "INTEGER", 10, "copy-binary"),
        ("sqlite", "sqlite", "VARCHAR(10)", 100, "rows"),  # one chunk: (None, None)
    ],
)
def test_null_keys_are_rejects_with_their_reason_and_verify_passes(
    make_db, tmp_path, source_engine, target_engine, key_type, batch_size, first_path
) -> None:
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    _items(source, key_type)
    tables = "  items:\n    key: {columns: [code], not_null: true}"
    spec = write_spec(
        tmp_path / "m.yaml", source, target, tables, max_rejects=10, batch_size=batch_size
    )
    result = Migration.from_file(spec).run()

    assert result.rejects_total == len(NULL_KEYS)
    rejects = Migration.from_file(spec).status(rejects=True).rejects
    assert [(r.key, r.column, r.reason) for r in rejects] == [
        ((None,), "code", "NULL in key column 'code'")
    ] * len(NULL_KEYS)
    assert fetch(target, "SELECT count(*) FROM items")[0][0] == ROWS - len(NULL_KEYS)
    assert _chunk_paths(target)[0] == first_path
    status, expected, actual, details = _count_check(spec)
    assert (status, expected, actual) == ("passed", "36", "36")
    assert details["source_rows"] == ROWS and details["null_key_rows"] == len(NULL_KEYS)
    assert details["rejected"] == len(NULL_KEYS)


def test_null_keys_on_the_careful_path_are_rejected_once(mysql_db, pg_db, tmp_path) -> None:
    """A bad row in the one chunk sends it down the careful path; the NULL-key rows are still
    rejected for their key, once each, beside the bad row's own reject."""
    _items(mysql_db, "VARCHAR(10)", long_label_at=5)
    execute(pg_db, "CREATE TABLE items (code varchar(10) PRIMARY KEY, label varchar(8) NOT NULL)")
    tables = "  items:\n    key: {columns: [code], not_null: true}"
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, tables, max_rejects=10)
    assert Migration.from_file(spec).run().rejects_total == len(NULL_KEYS) + 1

    rejects = Migration.from_file(spec).status(rejects=True).rejects
    by_key = sorted((r.key != (None,), r.key, r.column, r.reason) for r in rejects)
    assert by_key == [(False, (None,), "code", "NULL in key column 'code'")] * len(NULL_KEYS) + [
        (True, ("k005",), "label", "13 characters do not fit VARCHAR(8)")
    ]
    assert _chunk_paths(pg_db)[0] == "careful"
    status, expected, _, details = _count_check(spec)
    assert status == "passed" and expected == str(ROWS - len(NULL_KEYS) - 1)
    assert details["rejected"] == len(NULL_KEYS) + 1


def test_a_composite_key_rejects_a_row_for_its_null_part(sqlite_db, pg_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE stock (region TEXT NOT NULL, sku TEXT, qty INTEGER)",
        "INSERT INTO stock VALUES ('eu', 'a', 1), ('eu', NULL, 2), ('us', 'a', 3)",
    )
    tables = "  stock:\n    key: {columns: [region, sku], not_null: true}"
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, tables, max_rejects=1)
    Migration.from_file(spec).run()
    (reject,) = Migration.from_file(spec).status(rejects=True).rejects
    assert (reject.key, reject.column) == (("eu", None), "sku")
    assert reject.reason == "NULL in key column 'sku'"
    assert fetch(pg_db, "SELECT region, sku FROM stock ORDER BY 1, 2") == [("eu", "a"), ("us", "a")]
    assert _count_check(spec)[:3] == ("passed", "2", "2")


@pytest.mark.parametrize(
    ("source_engine", "target_engine"),
    [("postgresql", "mysql"), ("mysql", "postgresql"), ("sqlite", "sqlite")],
)
def test_two_rejects_with_one_key_are_two_missing_rows(
    make_db, tmp_path, source_engine, target_engine
) -> None:
    """A declared key that is not unique in the source: both rows of key 'b' are rejected
    (their price is not a number), so the target holds two rows fewer, not one."""
    source, target = make_db(source_engine, "src"), make_db(target_engine, "tgt")
    execute(
        source,
        "CREATE TABLE prices (code VARCHAR(10) NOT NULL, price VARCHAR(10))",
        "INSERT INTO prices VALUES ('a', '1.50'), ('b', 'x'), ('b', 'y'), ('c', '2.00')",
    )
    tables = (
        "  prices:\n    key: {columns: [code]}\n    columns:\n      code:\n"
        '      price: {cast: "decimal(12,2)"}'
    )
    spec = write_spec(tmp_path / "m.yaml", source, target, tables, max_rejects=2)
    assert Migration.from_file(spec).run().rejects_total == 2
    status, expected, actual, details = _count_check(spec)
    assert (status, expected, actual) == ("passed", "2", "2")
    assert details["rejected"] == 2 and "null_key_rows" not in details
