"""``plan`` counts, per column, the rows whose text has no Unicode form in a MySQL/MariaDB
column of another character set, and says what to do; the run then rejects exactly those."""

from __future__ import annotations

from datamove import Migration
from tests.conftest import execute
from tests.helpers import write_spec


def _legacy(mysql_db: str) -> str:
    execute(
        mysql_db,
        "CREATE TABLE t (id INT PRIMARY KEY, hidden INT NOT NULL, "
        "s VARCHAR(10) CHARACTER SET gbk, code VARCHAR(4) CHARACTER SET ascii, "
        "l TEXT CHARACTER SET latin1, u TEXT CHARACTER SET utf8mb4, "
        "raw VARCHAR(10) CHARACTER SET gbk, own VARCHAR(10) CHARACTER SET gbk)",
        "INSERT INTO t VALUES "
        "(1, 0, _binary 0xA380, 'ok', _binary 0x81, 'a', _binary 0xA380, _binary 0xA380), "
        "(2, 0, '中文', _binary 0x80, 'é', '東京', '中文', '中文'), "
        "(3, 0, _binary 0xBAC3A380, '?', '?', '?', _binary 0xA380, '?'), "
        "(4, 0, '?', NULL, NULL, NULL, NULL, NULL), "
        "(5, 1, _binary 0xA380, 'x', 'x', 'x', 'x', 'x')",
    )
    return mysql_db


def test_plan_counts_text_without_a_unicode_form(mysql_db, sqlite_db, tmp_path) -> None:
    source = _legacy(mysql_db)
    mapping = """  t:
    where: hidden = 0
    columns:
      id:
      s:
      code:
      l:
      u:
      raw: {type: binary}
      own: {transform: {sql: {expr: "HEX(own)", dialect: mysql}}, type: text}
    drop: [hidden]"""
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), mapping, max_rejects=10)
    plan = Migration.from_file(spec).plan()
    found = {f.column: f for f in plan.findings if f.code == "unconvertible-text"}
    # Row 5 is outside the filter; latin1 and utf8mb4 map every value; `raw` is read as its
    # stored bytes and `own`'s SQL reads the stored value itself.
    assert sorted(found) == ["code", "s"]
    assert found["s"].message.startswith(
        "2 row(s) of 't.s' hold gbk text with characters that have no Unicode form"
    )
    assert "type: binary" in found["s"].message
    assert found["code"].message.startswith("1 row(s) of 't.code' hold ascii text")
    assert found["s"].spec_path == "tables.t.columns.s"
    assert found["s"].severity.value == "warning"

    # At run time those rows are rejects, as the plan said.
    result = Migration.from_file(spec).run()
    rejects = Migration.from_file(spec).status(rejects=True).rejects
    assert sorted((r.key[0], r.column) for r in rejects) == [(1, "s"), (2, "code"), (3, "s")]
    assert result.rejects_total == 3
    assert Migration.from_file(spec).verify().ok


def test_no_warning_for_unicode_sources(sqlite_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)",
        "INSERT INTO t VALUES (1, '?')",
    )
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), "  t:")
    plan = Migration.from_file(spec).plan()
    assert not [f for f in plan.findings if f.code == "unconvertible-text"]
