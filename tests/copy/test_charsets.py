"""MySQL/MariaDB text in a character set that can hold characters with no Unicode form (gbk
bytes A380, as in pgloader's ``funny_string`` fixture): the server would send them as '?';
the copy makes such a row a reject on every path, and a real '?' still arrives."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.core.types import TypeInfo
from datamove.dialects.base import Dialect
from tests.conftest import execute, fetch
from tests.helpers import write_spec

GOOD = [(2, "中文"), (3, "abc"), (4, "?"), (5, None), (6, "a?b 数据")]


def _gbk_source(mysql_db: str) -> str:
    execute(
        mysql_db,
        "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET gbk)",
        "INSERT INTO t VALUES (1, _binary 0xA380), (2, '中文'), (3, 'abc'), (4, '?'), (5, NULL), "
        "(6, 'a?b 数据'), (7, _binary 0xBAC3A3803F)",
    )
    return mysql_db


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_unconvertible_text_is_a_reject_not_a_question_mark(
    mysql_db, make_db, tmp_path, engine
) -> None:
    source = _gbk_source(mysql_db)
    target = make_db(engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", source, target, "  t:", max_rejects=5)
    (warning,) = [f for f in Migration.from_file(spec).plan().findings if f.column == "s"]
    assert warning.code == "unconvertible-text" and warning.message.startswith("2 row(s)")

    result = Migration.from_file(spec).run()

    rejects = Migration.from_file(spec).status(rejects=True).rejects
    assert result.rejects_total == 2
    assert {r.key[0]: r.column for r in rejects} == {1: "s", 7: "s"}
    assert all(r.reason.startswith("gbk bytes A380 have no Unicode form") for r in rejects)
    assert all(r.value.startswith("str(") for r in rejects)  # masked, as every value
    assert fetch(target, "SELECT id, s FROM t ORDER BY id") == GOOD
    # The pipe (PostgreSQL) or the rows path met the bad rows; the careful path rejected them.
    assert result.tables[0].paths == {"careful"}
    verified = Migration.from_file(spec).verify()
    assert verified.ok, verified


def test_a_pii_column_reason_leaves_the_bytes_out(mysql_db, sqlite_db, tmp_path) -> None:
    source = _gbk_source(mysql_db)
    mapping = "  t:\n    columns: {id: , s: {pii: true}}"
    spec = write_spec(tmp_path / "m.yaml", source, sqlite_db("tgt"), mapping, max_rejects=5)
    assert Migration.from_file(spec).run().rejects_total == 2
    for reject in Migration.from_file(spec).status(rejects=True).rejects:
        assert reject.reason.startswith("gbk text holds a character that has no Unicode form")
        assert "A380" not in reject.reason and reject.value == "(pii)"


def test_a_clean_chunk_keeps_the_pipe(mysql_db, pg_db, tmp_path) -> None:
    """The check costs the COPY pipe nothing while the values convert: only a chunk that
    holds a bad value is redone carefully."""
    source = _gbk_source(mysql_db)
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, "  t:\n    batch_size: 3", max_rejects=5)
    result = Migration.from_file(spec).run()
    assert result.rejects_total == 2
    assert result.tables[0].paths == {"copy", "careful"}  # ids 4-6 took the pipe
    assert fetch(pg_db, "SELECT id, s FROM t ORDER BY id") == GOOD


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_convertible_text_in_other_charsets_is_copied_exactly(
    mysql_db, make_db, tmp_path, engine
) -> None:
    """latin1 maps every byte (0x81 too), and cp932 maps two byte pairs to one character
    (ED40 and FA5C are both U+7E8A): no reject, no finding, the server's own Unicode text."""
    every_byte = "".join(f"{b:02X}" for b in range(0x20, 0x100))
    execute(
        mysql_db,
        "CREATE TABLE t (id INT PRIMARY KEY, l VARCHAR(300) CHARACTER SET latin1, "
        "j VARCHAR(10) CHARACTER SET cp932)",
        f"INSERT INTO t VALUES (1, _binary 0x{every_byte}, _binary 0xED40), "
        "(2, 'Müller?', '?'), (3, NULL, _binary 0x82A0FA5C)",
    )
    expected = fetch(
        mysql_db,
        "SELECT id, CONVERT(l USING utf8mb4), CONVERT(j USING utf8mb4) FROM t ORDER BY id",
    )
    assert expected[0][2] == expected[2][2][1:] == "\u7e8a"
    target = make_db(engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", mysql_db, target, "  t:")

    plan = Migration.from_file(spec).plan()
    assert not [f for f in plan.findings if f.code == "unconvertible-text"]
    result = Migration.from_file(spec).run()
    assert result.rejects_total == 0
    assert fetch(target, "SELECT id, l, j FROM t ORDER BY id") == expected
    assert Migration.from_file(spec).verify().ok


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_type_binary_reads_the_stored_bytes(mysql_db, make_db, tmp_path, engine) -> None:
    """``type: binary`` is the way to keep such values: the bytes the column stores, on the
    rows path as on the pipe (which hex-encodes the column itself) and as verify hashes them."""
    source = _gbk_source(mysql_db)
    target = make_db(engine, "tgt")
    spec = write_spec(
        tmp_path / "m.yaml", source, target, "  t:\n    columns: {id: , s: {type: binary}}"
    )

    plan = Migration.from_file(spec).plan()
    assert not [f for f in plan.findings if f.code == "unconvertible-text"]
    assert Migration.from_file(spec).run().rejects_total == 0
    rows = [(i, v if v is None else bytes(v)) for i, v in fetch(target, "SELECT id, s FROM t")]
    assert sorted(rows) == [
        (1, b"\xa3\x80"),
        (2, "中文".encode("gbk")),
        (3, b"abc"),
        (4, b"?"),
        (5, None),
        (6, "a?b 数据".encode("gbk")),
        (7, "好".encode("gbk") + b"\xa3\x80?"),
    ]
    assert Migration.from_file(spec).verify().ok


def test_charsets_exempt_from_the_check_map_every_byte(mysql_db) -> None:
    """The server holds the dialect to its word: a single-byte character set is left
    unchecked exactly when every one of its 256 bytes has a Unicode form (ascii, cp1250 or
    tis620 do not: they store bytes the server sends as '?' or U+FFFD)."""
    dialect = Dialect.for_url(mysql_db, role="source")
    column = sa.column("s")
    try:
        with dialect.connect() as conn:
            sets = conn.exec_driver_sql("SHOW CHARACTER SET").all()
            single = [str(r[0]) for r in sets if int(r[3]) == 1 and r[0] != "binary"]
            for charset in single:
                lost = conn.exec_driver_sql(
                    "WITH RECURSIVE b (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b "
                    "WHERE n < 255) SELECT COUNT(*) FROM b WHERE n <> 63 AND "
                    f"HEX(CONVERT(CAST(UNHEX(LPAD(HEX(n), 2, '0')) AS CHAR CHARACTER SET "
                    f"{charset}) USING utf8mb4)) IN ('3F', 'EFBFBD')"
                ).scalar()
                info = TypeInfo("text", "TEXT", charset=charset)
                checked = dialect.sql_unconvertible(column, info) is not None
                assert checked == bool(lost), (charset, lost)
            for charset, checked in (("ascii", True), ("gbk", True), ("utf8mb4", False)):
                info = TypeInfo("text", "TEXT", charset=charset)
                assert (dialect.sql_unconvertible(column, info) is not None) is checked
    finally:
        dialect.dispose()
