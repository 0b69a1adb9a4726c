"""Transforms inside a real run: target types follow the transforms, pushdown is recorded in
the plan, and a value a transform cannot handle becomes a reject naming the transform."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec

MAPPING = """  orders:
    columns:
      id:
      status: {from: status, transform: [{map: {0: pending, 1: paid}}]}
      created: {from: created, transform: [{timezone: {assume: Europe/Berlin}}]}
      amount: {from: amount, transform: [{round: {places: 2, mode: half_up}}]}
      name: {from: name, transform: [trim, {nullif: ""}, upper]}"""


def test_transforms_in_a_run_into_postgresql(sqlite_db, pg_db, tmp_path) -> None:
    src = sqlite_db("src")
    execute(
        src,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, status INTEGER, created TEXT, "
        "amount REAL, name TEXT)",
    )
    execute(
        src,
        "INSERT INTO orders VALUES (:i, :s, :c, :a, :n)",
        params=[
            {"i": 1, "s": 0, "c": "2024-06-01 12:00:00", "a": 2.675, "n": "  straße "},
            {"i": 2, "s": 1, "c": "2024-03-31 02:30:00", "a": 1.0, "n": "x"},  # DST gap
            {"i": 3, "s": 9, "c": "2024-01-01 00:00:00", "a": 1.0, "n": "y"},  # unknown status
            {"i": 4, "s": None, "c": None, "a": None, "n": "   "},
        ],
    )
    spec = write_spec(tmp_path / "m.yaml", src, pg_db, MAPPING, max_rejects=5)
    plan = Migration.from_file(spec).plan()
    columns = {c.target: c for c in plan.tables["orders"].columns}
    assert columns["status"].target_type_text == "TEXT"
    assert columns["created"].target_type_text == "TIMESTAMP WITH TIME ZONE"
    assert not columns["name"].pushdown  # upper is computed in Python

    result = Migration.from_file(spec).run()
    assert result.rejects_total == 2
    rejects = {r.key[0]: r for r in Migration.from_file(spec).status(rejects=True).rejects}
    assert rejects[2].column == "created" and "does not exist" in rejects[2].reason
    assert rejects[3].column == "status" and "map" in rejects[3].reason
    rows = fetch(pg_db, "SELECT id, status, created, amount, name FROM orders ORDER BY id")
    assert rows[0] == (
        1,
        "pending",
        dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC),
        Decimal("2.68"),
        "STRASSE",
    )
    assert rows[1] == (4, None, None, None, None)


def test_pushdown_recorded_in_the_plan_from_postgresql(pg_db, sqlite_db, tmp_path) -> None:
    execute(
        pg_db,
        "CREATE TABLE orders (id int PRIMARY KEY, status int, created timestamp, "
        "amount numeric(12,4), name text)",
        "INSERT INTO orders VALUES (1, 1, '2024-06-01 12:00', 2.345, ' a ')",
    )
    mapping = MAPPING.replace(
        "      created: {from: created, transform: [{timezone: {assume: Europe/Berlin}}]}\n", ""
    )
    mapping = mapping.replace('trim, {nullif: ""}, upper', 'trim, {nullif: ""}')
    spec = write_spec(tmp_path / "m.yaml", pg_db, sqlite_db("t"), mapping + "\n    drop: [created]")
    plan = Migration.from_file(spec).plan()
    pushed = {c.target: c.pushdown for c in plan.tables["orders"].columns}
    # map with the default else: reject needs Python; the rest runs inside PostgreSQL.
    assert pushed == {"id": True, "status": False, "amount": True, "name": True}
    Migration.from_file(spec).run()
    target = plan.target_url.replace("sqlite:///", "")
    assert fetch(f"sqlite:///{target}", "SELECT status, amount, name FROM orders") == [
        ("paid", 2.35, "a")
    ]


def test_created_columns_allow_the_nulls_transforms_make(sqlite_db, tmp_path) -> None:
    src = sqlite_db("src")
    execute(
        src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT NOT NULL, "
        "status INTEGER NOT NULL, label TEXT NOT NULL)",
    )
    mapping = """  t:
    columns:
      id:
      code: {transform: [trim, {nullif: ""}]}
      status: {transform: [{map: {values: {0: new}, else: null}}]}
      label: {transform: [{nullif: "-"}], default: none}"""
    spec = write_spec(tmp_path / "m.yaml", src, sqlite_db("tgt"), mapping)
    columns = {c.target: c for c in Migration.from_file(spec).plan().tables["t"].columns}
    assert columns["code"].nullable and columns["status"].nullable
    assert not columns["label"].nullable  # the default after nullif fills the NULLs again
