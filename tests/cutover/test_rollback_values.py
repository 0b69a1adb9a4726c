"""Rollback writes every value kind the copy writes, and updates rows it does not fully own.

Found by the cutover benchmark and the demo: the replay bound a JSON column's document as a
Python dict (psycopg: "cannot adapt type 'dict'"; mysql-connector: "Python type dict cannot be
converted"), and it wrote an updated row as ``INSERT … ON CONFLICT`` without its frozen
NOT NULL column, which the engine refuses before it sees the conflict. Both rolled nothing
back (exit 3). Now a row the source has is updated (its frozen columns left as they are), a
row it lacks is inserted, and each value is adapted for the source's driver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = 20
TABLES = """  items:
    columns:
      id: {}
      label: {}
      attrs: {}
      note: {rollback: freeze}
"""
JSON_TYPE = {"postgresql": "JSONB", "mysql": "JSON"}


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_json_documents_and_frozen_not_null_columns_go_back(
    source_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL, "
        f"attrs {JSON_TYPE[source_engine]} NOT NULL, note VARCHAR(40) NOT NULL)",
    )
    execute(
        source,
        "INSERT INTO items (id, label, attrs, note) VALUES (:i, :l, :a, :n)",
        params=[
            {"i": i, "l": f"l{i}", "a": json.dumps({"n": i, "tags": ["x"]}), "n": f"note {i}"}
            for i in range(1, ROWS + 1)
        ],
    )
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        TABLES,
        sync="{mode: triggers}",
        cutover="\n  rollback: {reverse: true}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.cutover(by="ops-test", watch_for=0)
    execute(
        target,
        'UPDATE items SET label = \'relabelled\', attrs = \'{"n": 0, "tags": ["y", "z"]}\' '
        "WHERE id <= 3",
    )
    migration.rollback(by="ops-test")

    rows = fetch(source, "SELECT id, label, attrs, note FROM items ORDER BY id")
    assert len(rows) == ROWS
    for i, label, attrs, note in rows:
        document = json.loads(attrs) if isinstance(attrs, str) else attrs
        if i <= 3:
            assert (label, document) == ("relabelled", {"n": 0, "tags": ["y", "z"]})
        else:
            assert (label, document) == (f"l{i}", {"n": i, "tags": ["x"]})
        assert note == f"note {i}"  # frozen, not in the statement: the source keeps its own
