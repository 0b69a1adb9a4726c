"""verify finds every kind of corruption, one row each, in a 100k-row table, on every pair of
server engines — and reports nothing on identical data first.

The source is generated inside the source server; datamove copies it (``parents`` remapped,
``items.parent_id`` looked up); then single target rows are corrupted the way real migrations
go wrong, and ``verify`` must name exactly those keys and columns.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute
from tests.helpers import write_spec

ROWS = 100_000

PG_SCHEMA = """
CREATE TABLE parents (id integer PRIMARY KEY, name varchar(40) NOT NULL);
CREATE TABLE items (
    id bigint PRIMARY KEY, parent_id integer NOT NULL REFERENCES parents (id),
    amount numeric(12, 2) NOT NULL, created timestamp(6) NOT NULL,
    updated timestamptz(6) NOT NULL, name varchar(60) NOT NULL, note text,
    doc jsonb NOT NULL, ratio double precision NOT NULL, flag boolean NOT NULL
);
INSERT INTO parents SELECT g, 'parent ' || g FROM generate_series(1, 100) g;
INSERT INTO items SELECT g, 1 + mod(g, 100), (mod(g, 100000)) / 100.0 + 0.01,
    timestamp '2020-01-01' + g * interval '1 minute' + (mod(g, 997)) * interval '1 microsecond',
    timestamptz '2021-01-01 00:00:00+00' + g * interval '1 second'
        + (mod(g, 991) + 1) * interval '1 microsecond',
    CASE WHEN mod(g, 1000) = 6 THEN 'name ' || g || ' ' WHEN mod(g, 10) = 0 THEN 'Café ' || g
         ELSE 'name number ' || g END,
    CASE WHEN mod(g, 7) = 0 THEN NULL WHEN mod(g, 11) = 0 THEN '' ELSE 'note ' || g END,
    jsonb_build_object('a', jsonb_build_object('b', g, 'c', 'x'), 'k', mod(g, 3)),
    g * 0.123456789, mod(g, 2) = 0
FROM generate_series(1, 100000) g;
"""

MY_SCHEMA = """
CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE items (
    id BIGINT PRIMARY KEY, parent_id INT NOT NULL, amount DECIMAL(12, 2) NOT NULL,
    created DATETIME(6) NOT NULL, updated TIMESTAMP(6) NOT NULL, name VARCHAR(60) NOT NULL,
    note TEXT NULL, doc JSON NOT NULL, ratio DOUBLE NOT NULL, flag TINYINT(1) NOT NULL,
    FOREIGN KEY (parent_id) REFERENCES parents (id)
);
INSERT INTO parents SELECT seq, CONCAT('parent ', seq) FROM seq_1_to_100;
INSERT INTO items SELECT seq, 1 + mod(seq, 100), (mod(seq, 100000)) / 100.0 + 0.01,
    TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq MINUTE + INTERVAL (mod(seq, 997)) MICROSECOND,
    TIMESTAMP'2021-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (mod(seq, 991) + 1) MICROSECOND,
    CASE WHEN mod(seq, 1000) = 6 THEN CONCAT('name ', seq, ' ') WHEN mod(seq, 10) = 0
         THEN CONCAT('Café ', seq) ELSE CONCAT('name number ', seq) END,
    CASE WHEN mod(seq, 7) = 0 THEN NULL WHEN mod(seq, 11) = 0 THEN '' ELSE CONCAT('note ', seq) END,
    JSON_OBJECT('a', JSON_OBJECT('b', seq, 'c', 'x'), 'k', mod(seq, 3)),
    seq * 0.123456789e0, mod(seq, 2) = 0
FROM seq_1_to_100000;
"""

SPEC = """  parents:
    key: {columns: [id], strategy: remap, legacy_column: legacy_id}
  items:
    columns:
      id: {}
      parent_id: {from: parent_id, lookup: parents}
      amount: {}
      created: {}
      updated: {}
      name: {}
      note: {}
      doc: {}
      ratio: {}
      flag: {}
"""


def _sql(url: str, script: str) -> None:
    execute(url, *[s for s in script.split(";\n") if s.strip()])


def _tweak(url: str, key: int, column: str, change: Callable[[Any], Any]) -> None:
    """Read one target value, change it in Python, write it back (bound, on any engine)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            value = conn.execute(sa.text(f"SELECT {column} FROM items WHERE id = :k"), {"k": key})
            new = change(value.scalar_one())
            conn.execute(
                sa.text(f"UPDATE items SET {column} = :v WHERE id = :k"), {"v": new, "k": key}
            )
    finally:
        engine.dispose()


def _doc(value: Any) -> str:
    doc = json.loads(value) if isinstance(value, str) else value
    doc["a"]["b"] += 1
    return json.dumps(doc)


# key -> (column, change); each is one way migrations silently go wrong.
CORRUPTIONS: dict[int, tuple[str, Callable[[Any], Any]]] = {
    2002: ("amount", lambda v: Decimal(v) + Decimal("0.01")),  # a lost/extra cent
    3003: ("created", lambda v: v + dt.timedelta(hours=1)),  # timezone bug
    4004: ("updated", lambda v: v.replace(microsecond=0)),  # lost microseconds
    5005: ("name", lambda v: v + " "),  # trailing space added
    6006: ("name", lambda v: v.rstrip(" ")),  # trailing space removed
    7007: ("note", lambda v: ""),  # NULL became empty
    8019: ("note", lambda v: None),  # empty became NULL
    9009: ("name", lambda v: v[:3]),  # truncated
    10010: ("name", lambda v: v.encode("utf-8").decode("latin-1")),  # mojibake
    11011: ("doc", _doc),  # nested JSON value
    12012: ("ratio", lambda v: float(v) * (1 + 1e-9)),  # float beyond 15 digits
    13013: ("flag", lambda v: not bool(v)),  # boolean flipped
}


def _corrupt(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            inspector = sa.inspect(conn)
            for fk in inspector.get_foreign_keys("items"):  # an orphan, enforced or not
                drop = "FOREIGN KEY" if conn.dialect.name in {"mysql", "mariadb"} else "CONSTRAINT"
                conn.exec_driver_sql(f"ALTER TABLE items DROP {drop} {fk['name']}")
            conn.execute(sa.text("DELETE FROM items WHERE id = 1001"))  # missing
            rest = "parent_id, amount, created, updated, name, note, doc, ratio, flag"
            conn.exec_driver_sql(  # extra
                f"INSERT INTO items (id, {rest}) SELECT 999999, {rest} FROM items WHERE id = 5"
            )
            wrong, right = (
                conn.execute(sa.text("SELECT id FROM parents ORDER BY id LIMIT 2")).scalars().all()
            )
            conn.execute(  # a remapped FK pointing to the wrong parent
                sa.text(
                    "UPDATE items SET parent_id = CASE WHEN parent_id = :a THEN :b ELSE :a "
                    "END WHERE id = 14014"
                ),
                {"a": wrong, "b": right},
            )
            conn.execute(sa.text("UPDATE items SET parent_id = 987654 WHERE id = 15015"))  # orphan
    finally:
        engine.dispose()
    for key, (column, change) in CORRUPTIONS.items():
        _tweak(url, key, column, change)
    # Two rows' values swapped (an ordering bug): a range's plain sum of per-column hashes
    # would not change.
    amounts: dict[int, Any] = {}
    _tweak(url, 16016, "amount", lambda v: amounts.setdefault(16016, v))
    _tweak(url, 16017, "amount", lambda v: amounts.setdefault(16017, v))
    _tweak(url, 16016, "amount", lambda v: amounts[16017])
    _tweak(url, 16017, "amount", lambda v: amounts[16016])
    # The last bit of a double: below the 15 significant digits compared, not a difference.
    _tweak(url, 17017, "ratio", lambda v: math.nextafter(float(v), math.inf))


PAIRS = [
    ("postgresql", "postgresql"),
    ("mysql", "postgresql"),
    ("postgresql", "mysql"),
    ("mysql", "mysql"),
]


@pytest.mark.parametrize(("source_engine", "target_engine"), PAIRS)
def test_verify_finds_each_corruption_and_nothing_else(
    source_engine: str, target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source = make_db(source_engine, "src")
    target = make_db(target_engine, "tgt")
    _sql(source, PG_SCHEMA if source_engine == "postgresql" else MY_SCHEMA)
    spec = write_spec(tmp_path / "m.yaml", source, target, SPEC, batch_size=25_000)
    migration = Migration.from_file(spec)
    migration.run()

    clean = migration.verify()
    assert clean.ok, [c.to_dict() for c in clean.checks if not c.ok]
    kinds = {c.kind for c in clean.checks}
    assert {"count", "checksum", "legacy_key", "foreign_key"} <= kinds

    _corrupt(target)
    result = migration.verify(VerifyOptions(show_values=True))
    assert not result.ok
    diff = next(d for d in result.diffs if d.table == "items")
    assert diff.missing == [("1001",)]
    assert diff.extra == [("999999",)]
    changed = {int(r.key[0]): set(r.columns) for r in diff.changed}
    expected = {k: {c} for k, (c, _) in CORRUPTIONS.items()}
    expected |= {14014: {"parent_id"}, 15015: {"parent_id"}}
    expected |= {16016: {"amount"}, 16017: {"amount"}}
    assert changed == expected
    # Between two PostgreSQL databases the rows are digested by the server's own type
    # hashes (the looked-up parent_id as canonical text); elsewhere by MD5 of canonical text.
    same_pg = source_engine == target_engine == "postgresql"
    assert diff.digest == ("native" if same_pg else "md5")
    orphans = [c for c in result.checks if c.kind == "foreign_key" and c.table == "items"]
    assert orphans and orphans[0].status == "failed" and orphans[0].actual == "1 orphans"
    parents = next(d for d in result.diffs if d.table == "parents")
    assert parents.differences == 0
    # the mojibake row shows both values, so a person can see what happened
    row = next(r for r in diff.changed if r.key == ("10010",))
    assert "Ã©" in row.columns["name"][1] and "é" in row.columns["name"][0]
