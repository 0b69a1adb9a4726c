"""MySQL BIT columns into every engine: BIT(1) as a boolean, BIT(n) as an unsigned integer,
or, with ``type: binary``, the value's big-endian bytes; rows arrive exactly, verify passes,
and a changed target value is found."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from tests.conftest import DATASETS, execute, fetch
from tests.helpers import write_spec

SOURCE_DDL = "CREATE TABLE flags (id INT PRIMARY KEY, b1 BIT(1), b16 BIT(16), b64 BIT(64))"
SOURCE_ROWS: list[tuple[int, int | None, int | None, int | None]] = [
    (1, 0, 0, 0),
    (2, 1, 1, 1),
    (3, 1, 8, 8),  # b'0000000000001000': 0x0008 as bytes, never '8'
    (4, 0, 65535, 2**63),
    (5, 1, 4096, 2**64 - 1),
    (6, None, None, None),
]
WIDTHS = {"b1": 1, "b16": 16, "b64": 64}
DEFAULT_KIND = {"b1": "boolean", "b16": "integer", "b64": "integer"}

# ``type:`` per column (absent: the default mapping), and the kind of value each gives.
MAPPINGS: dict[str, dict[str, str]] = {
    "default": {},
    "boolean": {"b1": "boolean"},
    "integer": {"b1": "integer", "b16": "bigint"},
    "binary": {"b1": "binary", "b16": "binary", "b64": "binary"},
}
KINDS = {"boolean": "boolean", "integer": "integer", "bigint": "integer", "binary": "binary"}

# A value of b16 in row 3 (8), changed in the target, per engine and kind of value.
CHANGE = {
    "integer": "b16 = b16 + 1",
    ("postgresql", "binary"): "b16 = decode('0009', 'hex')",
    ("sqlite", "binary"): "b16 = X'0009'",
    ("mysql", "binary"): "b16 = X'0009'",
}


def _source(mysql_db: str, ddl: str, rows: list[tuple[Any, ...]]) -> None:
    execute(mysql_db, ddl)
    names = [f"c{i}" for i in range(len(rows[0]))]
    execute(
        mysql_db,
        f"INSERT INTO {ddl.split()[2]} VALUES ({', '.join(':' + n for n in names)})",
        params=[dict(zip(names, r, strict=True)) for r in rows],
    )


def _mapping(types: dict[str, str]) -> str:
    lines = ["  flags:"]
    if types:
        lines.append("    columns:")
        lines += [f"      {c}:" for c in ["id", *WIDTHS] if c not in types]
        lines += [f"      {c}: {{type: '{t}'}}" for c, t in types.items()]
    return "\n".join(lines)


def _expected(column: str, kind: str, value: int | None) -> Any:
    """The value a target column of ``kind`` holds for a source BIT ``value``, as compared."""
    if value is None:
        return None
    if kind == "binary":
        return value.to_bytes(-(-WIDTHS[column] // 8), "big")
    return str(value)  # booleans as 0/1, integers as digits (numeric, text on SQLite)


def _as_compared(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, memoryview | bytes | bytearray):
        return bytes(value)
    return str(int(value)) if isinstance(value, bool) else str(value)


def _target_rows(url: str) -> list[tuple[Any, ...]]:
    return [
        tuple(_as_compared(v) for v in row)
        for row in fetch(url, "SELECT id, b1, b16, b64 FROM flags ORDER BY id")
    ]


def _assert_verified(spec: Path) -> None:
    result = Migration.from_file(spec).verify()
    assert result.ok, [(c.name, c.details) for c in result.checks if not c.ok]


def _assert_change_found(spec: Path, target: str, engine: str, kind: str) -> None:
    """The check can fail: one changed target value is named by its key and column."""
    change = CHANGE.get(kind) or CHANGE[(engine, kind)]
    execute(target, f"UPDATE flags SET {change} WHERE id = 3")
    result = Migration.from_file(spec).verify()
    assert not result.ok
    (checksum,) = [c for c in result.checks if c.name.endswith("checksum")]
    assert [(d["key"], list(d["columns"])) for d in checksum.details["changed"]] == [
        (["3"], ["b16"])
    ]


@pytest.mark.parametrize("mapping", list(MAPPINGS))
@pytest.mark.parametrize("engine", ["postgresql", "sqlite", "mysql"])
def test_bit_columns_arrive_exactly_and_verify(
    mysql_db: str, make_db: Any, tmp_path: Path, engine: str, mapping: str
) -> None:
    _source(mysql_db, SOURCE_DDL, SOURCE_ROWS)
    target = make_db(engine, "tgt")
    types = MAPPINGS[mapping]
    spec = write_spec(tmp_path / "m.yaml", mysql_db, target, _mapping(types))
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors

    result = Migration.from_file(spec).run()

    assert result.rejects_total == 0
    if engine == "postgresql":  # COPY lines built in MariaDB's SQL: no Python per value
        assert result.tables[0].paths == {"copy"}
    kinds = {c: KINDS[types[c]] if c in types else DEFAULT_KIND[c] for c in WIDTHS}
    expected = [
        (str(r[0]), *(_expected(c, kinds[c], v) for c, v in zip(WIDTHS, r[1:], strict=True)))
        for r in SOURCE_ROWS
    ]
    assert _target_rows(target) == expected
    _assert_verified(spec)
    _assert_change_found(spec, target, engine, kinds["b16"])


def test_default_bit_types_per_target(mysql_db: str, make_db: Any, tmp_path: Path) -> None:
    """BIT(1) is a boolean, a wider BIT the smallest integer type holding 0..2^n-1 (on
    SQLite, past 2^63-1, exact text); between two MySQL databases a BIT stays a BIT."""
    _source(mysql_db, SOURCE_DDL, SOURCE_ROWS[:1])
    expected = {
        "postgresql": ["boolean", "integer", "numeric(20,0)"],
        "mysql": ["bit(1)", "bit(16)", "bit(64)"],
        "sqlite": ["BOOLEAN", "INTEGER", "TEXT"],
    }
    for engine, types in expected.items():
        target = make_db(engine, f"types_{engine}")
        spec = write_spec(tmp_path / f"{engine}.yaml", mysql_db, target, _mapping({}))
        Migration.from_file(spec).run()
        query = {
            "postgresql": "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'flags'::regclass AND attnum > 1 ORDER BY attnum",
            "mysql": "SELECT column_type FROM information_schema.columns WHERE table_schema = "
            "DATABASE() AND table_name = 'flags' AND column_name <> 'id' ORDER BY ordinal_position",
            "sqlite": "SELECT type FROM pragma_table_info('flags') WHERE name <> 'id' ORDER BY cid",
        }[engine]
        assert [r[0] for r in fetch(target, query)] == types


@pytest.mark.parametrize("engine", ["postgresql", "sqlite", "mysql"])
def test_a_bit_value_the_target_type_cannot_hold_is_a_reject(
    mysql_db: str, make_db: Any, tmp_path: Path, engine: str
) -> None:
    """BIT(4) 5 into a boolean is a reject naming the column, never a silent true; BIT(64)
    2^63 into a bigint is a reject, never a wrapped negative number."""
    rows = [(1, 0, 0), (2, 1, 2**63 - 1), (3, 5, 1), (4, 1, 2**63)]
    _source(mysql_db, "CREATE TABLE nibbles (id INT PRIMARY KEY, n BIT(4), w BIT(64))", rows)
    target = make_db(engine, "tgt")
    mapping = (
        "  nibbles:\n    columns:\n      id:\n      n: {type: boolean}\n      w: {type: bigint}"
    )
    spec = write_spec(tmp_path / "m.yaml", mysql_db, target, mapping, max_rejects=2)

    result = Migration.from_file(spec).run()

    assert result.rejects_total == 2
    rejects = {r.key[0]: r for r in Migration.from_file(spec).status(rejects=True).rejects}
    assert set(rejects) == {3, 4}
    assert rejects[3].column == "n"
    assert "BIT(4)" in rejects[3].reason and "boolean" in rejects[3].reason
    stored = fetch(target, "SELECT id, n, w FROM nibbles ORDER BY id")
    assert [(i, int(n), int(w)) for i, n, w in stored] == [(1, 0, 0), (2, 1, 2**63 - 1)]
    _assert_verified(spec)


def test_bit_columns_through_pymysql(mysql_db: str, pg_db: str, tmp_path: Path) -> None:
    """PyMySQL returns a BIT as bytes (the connector as an int): the copy reads it the same."""
    _source(mysql_db, SOURCE_DDL, SOURCE_ROWS)
    source = mysql_db.replace("+mysqlconnector://", "+pymysql://")
    spec = write_spec(tmp_path / "m.yaml", source, pg_db, _mapping({"b16": "binary"}))
    Migration.from_file(spec).run()
    kinds = {"b1": "boolean", "b16": "binary", "b64": "integer"}
    expected = [
        (str(r[0]), *(_expected(c, kinds[c], v) for c, v in zip(WIDTHS, r[1:], strict=True)))
        for r in SOURCE_ROWS
    ]
    assert _target_rows(pg_db) == expected
    _assert_verified(spec)


def test_pgloader_bits_table(mysql_db: str, pg_db: str, tmp_path: Path) -> None:
    """pgloader's MySQL fixture ``bits``: an AUTO_INCREMENT key and a ``bit(1)`` named bool."""
    script = DATASETS / "pgloader-tests" / "mysql" / "my.sql"
    if not script.exists():
        pytest.skip(f"dataset not present: {script}")
    text = script.read_text()
    statements = [
        re.search(r"create table bits\s*\(.*?\);", text, re.S | re.I),
        re.search(r"insert into bits\(bool\).*?;", text, re.S | re.I),
    ]
    assert all(statements), "the bits table is no longer in my.sql"
    execute(mysql_db, *[m.group(0).rstrip(";") for m in statements if m])
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, "  bits:")
    assert not Migration.from_file(spec).plan().errors

    Migration.from_file(spec).run()

    assert fetch(pg_db, "SELECT id, bool FROM bits ORDER BY id") == [(1, False), (2, True)]
    _assert_verified(spec)
    execute(pg_db, "UPDATE bits SET bool = NOT bool WHERE id = 2")
    assert not Migration.from_file(spec).verify().ok
