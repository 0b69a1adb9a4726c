"""MySQL/MariaDB zero dates (0000-00-00, and dates with a zero year, month or day): ``plan``
counts them per column and says what to declare; the declared ``when`` makes them NULL."""

from __future__ import annotations

import re

from datamove import Migration
from tests.conftest import execute, fetch
from tests.helpers import write_spec


def _legacy(mysql_db: str) -> str:
    execute(
        mysql_db,
        "SET SESSION sql_mode = ''",  # the legacy application's lax mode, which allows them
        "CREATE TABLE events (id INT PRIMARY KEY, hidden INT NOT NULL, day DATE, "
        "at DATETIME, stamp TIMESTAMP NULL, fine DATE, kept DATE)",
        "INSERT INTO events VALUES "
        "(1, 0, '0000-00-00', '2020-00-15 10:00:00', '0000-00-00 00:00:00', '2020-01-01', NULL),"
        "(2, 0, '2020-01-00', '0000-01-01 00:00:00', '2020-01-01 00:00:00', NULL, '0000-00-00'),"
        "(3, 0, '2021-02-03', NULL, NULL, '2021-02-03', NULL),"
        "(4, 1, '0000-00-00', '0000-00-00 00:00:00', NULL, NULL, NULL)",
    )
    return mysql_db


def test_plan_counts_zero_dates_the_spec_does_not_handle(mysql_db, sqlite_db, tmp_path) -> None:
    source = _legacy(mysql_db)
    mapping = """  events:
    where: hidden = 0
    columns:
      id:
      day:
      at:
      stamp:
      fine:
      kept: {transform: {sql: "nullif(kept, '0000-00-00')"}, type: date}
    drop: [hidden]"""
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), mapping, max_rejects=10)
    plan = Migration.from_file(spec).plan()
    found = {f.column: f for f in plan.findings if f.code == "zero-date"}
    # Row 4 is outside the filter; `fine` has none; `kept` declares its handling (sql).
    assert sorted(found) == ["at", "day", "stamp"]
    assert found["day"].message.startswith("2 row(s) of 'events.day' hold dates only")
    assert found["at"].message.startswith("2 row(s) of 'events.at'")  # zero month, zero year
    assert found["stamp"].message.startswith("1 row(s) of 'events.stamp'")
    assert found["day"].spec_path == "tables.events.columns.day"
    assert found["day"].severity.value == "warning"

    # At run time those rows are rejects, as the plan said.
    result = Migration.from_file(spec).run()
    assert result.rejects_total == 2
    rejects = Migration.from_file(spec).status(rejects=True).rejects
    assert {r.key[0] for r in rejects} == {1, 2}


def test_the_declared_when_makes_them_null_and_silences_the_warning(
    mysql_db, sqlite_db, tmp_path
) -> None:
    source = _legacy(mysql_db)
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        sqlite_db("probe"),
        "  events:\n    columns: {id: , day: , at: , stamp: }\n    drop: [hidden, fine, kept]",
    )
    advice = {
        f.column: re.search(r'when: "([^"]+)"', f.message)
        for f in Migration.from_file(spec).plan().findings
        if f.code == "zero-date"
    }
    assert set(advice) == {"day", "at", "stamp"}
    columns = "\n".join(
        f'      {name}: {{transform: {{when: "{match.group(1)}"}}}}'
        for name, match in advice.items()
        if match is not None
    )
    target = sqlite_db("tgt")
    handled = write_spec(
        tmp_path / "h.yaml",
        source,
        target,
        f"  events:\n    drop: [hidden, fine, kept]\n    columns:\n      id:\n{columns}",
    )
    plan = Migration.from_file(handled).plan()
    assert not [f for f in plan.findings if f.code == "zero-date"]
    assert Migration.from_file(handled).run().rejects_total == 0
    assert fetch(target, "SELECT id, day, at, stamp FROM events ORDER BY id") == [
        (1, None, None, None),
        (2, None, None, "2020-01-01 00:00:00"),
        (3, "2021-02-03", None, None),
        (4, None, None, None),
    ]


def test_no_query_and_no_warning_for_engines_without_zero_dates(sqlite_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE events (id INTEGER PRIMARY KEY, day DATE)",
        "INSERT INTO events VALUES (1, '2020-01-01')",
    )
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), "  events:")
    assert not [f for f in Migration.from_file(spec).plan().findings if f.code == "zero-date"]
