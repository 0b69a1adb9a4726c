"""Kept-original columns and dropped columns on a rollback, on real servers: rows copied
through ``round`` / ``trim`` / ``'' → NULL`` with two source columns dropped; after the switch
the application changes some of those columns and not others, and inserts rows. After the
rollback the originals the target left alone are byte-exact in the source (19.999 stays
19.999, ``'  padded '`` keeps its spaces, ``''`` stays ``''``), the changed ones carry the new
values, dropped columns keep their values and inserted rows get their defaults.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.errors import RuntimeFailure, SpecError
from tests.conftest import execute, fetch
from tests.cutover.test_rollback import _setup as rollback_setup
from tests.helpers import write_spec

TABLES = """  products:
    drop: [origin, memo]
    columns:
      id: {}
      price: {from: price, transform: [{round: {places: 2}}]}
      name: {from: name, transform: [trim]}
      note: {from: note, transform: [{nullif: ''}]}"""

SOURCE = [
    (1, Decimal("19.999"), "  padded ", "", "a", "m1"),
    (2, Decimal("5.125"), " two", "x", "b", "m2"),
    (3, Decimal("7.001"), "three  ", "", "c", None),
    (4, Decimal("1.000"), "four", None, "d", "m4"),
    (5, Decimal("2.500"), " five ", "", "e", "m5"),
]


def _setup(pair: tuple[str, str], make_db: Any, tmp: Path, tables: str = TABLES) -> Any:
    source, target = make_db(pair[0], "src"), make_db(pair[1], "tgt")
    execute(
        source,
        "CREATE TABLE products (id INTEGER PRIMARY KEY, price NUMERIC(10,3) NOT NULL, "
        "name VARCHAR(40) NOT NULL, note VARCHAR(40), origin VARCHAR(10) NOT NULL DEFAULT "
        "'old', memo VARCHAR(20))",
    )
    execute(
        source,
        "INSERT INTO products VALUES (:i, :p, :n, :o, :g, :m)",
        params=[dict(zip("ipnogm", row, strict=True)) for row in SOURCE],
    )
    spec = write_spec(
        tmp / "m.yaml",
        source,
        target,
        tables,
        sync="{mode: triggers}",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.cutover(by="ops-test")
    return source, target, migration


@pytest.mark.parametrize(
    "pair", [("postgresql", "postgresql"), ("mysql", "postgresql"), ("postgresql", "mysql")]
)
def test_untouched_originals_come_back_byte_exact(
    pair: tuple[str, str], make_db: Any, tmp_path: Path
) -> None:
    source, target, migration = _setup(pair, make_db, tmp_path)
    assert fetch(target, "SELECT price, name, note FROM products WHERE id = 1") == [
        (Decimal("20.00"), "padded", None)
    ]  # the copy rounded, trimmed and nulled
    execute(
        target,
        "UPDATE products SET price = 25.50 WHERE id = 2",  # changed: the new value
        "UPDATE products SET name = 'renamed' WHERE id = 3",  # price, note untouched
        "UPDATE products SET note = 'now set' WHERE id = 5",
        "UPDATE products SET price = price WHERE id = 1",  # written, value unchanged
        "UPDATE products SET name = 'four' WHERE id = 4",  # the same value the mapping gave
        "INSERT INTO products (id, price, name, note) VALUES (10, 3.25, 'new', NULL)",
    )
    migration.rollback(by="ops-test")
    got = fetch(source, "SELECT id, price, name, note, origin, memo FROM products ORDER BY id")
    assert got == [
        (1, Decimal("19.999"), "  padded ", "", "a", "m1"),  # byte-exact, though written
        (2, Decimal("25.500"), " two", "x", "b", "m2"),  # the application's new price
        (3, Decimal("7.001"), "renamed", "", "c", None),
        (4, Decimal("1.000"), "four", None, "d", "m4"),
        (5, Decimal("2.500"), " five ", "now set", "e", "m5"),
        (10, Decimal("3.250"), "new", None, "old", None),  # dropped: their defaults
    ]


def test_a_dropped_not_null_column_without_default_is_refused(make_db: Any, tmp_path: Path) -> None:
    """A row the target inserts would have no value for it: the cutover with ``reverse:
    true`` refuses before anything is fenced, naming the column."""
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL, n INT)")
    execute(source, "INSERT INTO items VALUES (1, 'a', 1)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  items:\n    drop: [code]",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    with pytest.raises(SpecError, match=r"one-way: items\.code") as err:
        migration.cutover()
    assert err.value.spec_path == "cutover.rollback.reverse"
    assert migration.fence_status().off  # nothing fenced
    execute(source, "ALTER TABLE items ALTER COLUMN code SET DEFAULT 'x'")
    migration = Migration.from_file(spec)
    migration.cutover()  # with a default the inserted rows get it: the cutover goes on
    execute(target, "INSERT INTO items (id, n) VALUES (2, 2)")
    migration.rollback()
    assert fetch(source, "SELECT id, code, n FROM items ORDER BY id") == [(1, "a", 1), (2, "x", 2)]


def test_a_kept_original_without_best_inverse_is_refused(make_db: Any, tmp_path: Path) -> None:
    """A ``map`` with ``else: keep`` has no best inverse for a changed value: refused before
    anything is fenced, naming the column."""
    tables = TABLES.replace("transform: [trim]", "transform: [{map: {values: {a: b}, else: keep}}]")
    source, _, migration = _setup(("postgresql", "postgresql"), make_db, tmp_path, tables)
    with pytest.raises(SpecError, match=r"products\.name cannot go back.*no best inverse") as err:
        migration.rollback()
    assert err.value.spec_path == "tables.products.columns.name"
    assert {s.name: s.status for s in migration.rollback_status()}["fence-target"] == "pending"


def test_a_value_that_cannot_go_back_stops_the_replay_naming_it(
    make_db: Any, tmp_path: Path
) -> None:
    """A bigint the application wrote past the source's INTEGER: the replay stops (recorded,
    resumable), names the column, and commits nothing in the source."""
    source, target, _, migration = rollback_setup("postgresql", make_db, tmp_path)
    execute(target, "UPDATE orders SET amount = 10000000000 WHERE id = 1")
    with pytest.raises(RuntimeFailure, match="out of range") as err:
        migration.rollback()
    assert err.value.column == "amount"
    assert {s.name: s.status for s in migration.rollback_status()}["replay"] == "failed"
    assert fetch(source, "SELECT amount FROM orders WHERE id = 1") == [(10,)]
