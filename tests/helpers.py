"""Test helpers: a typed ``orders`` table in any engine, and row normalisation for comparison."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ORDERS_DDL = {
    "postgresql": """CREATE TABLE orders (id bigint PRIMARY KEY, qty int NOT NULL,
        amount numeric(12,2), currency char(3), status varchar(16), created timestamp,
        note text, paid boolean, payload jsonb)""",
    "mysql": """CREATE TABLE orders (id BIGINT PRIMARY KEY, qty INT NOT NULL,
        amount DECIMAL(12,2), currency CHAR(3), status VARCHAR(16), created DATETIME(6),
        note TEXT, paid TINYINT(1), payload JSON) CHARACTER SET utf8mb4""",
    "sqlite": """CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL,
        amount NUMERIC(12,2), currency CHAR(3), status VARCHAR(16), created DATETIME,
        note TEXT, paid BOOLEAN, payload JSON)""",
}
NOTES = [
    "Müller – 東京",
    "",
    None,
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "emoji 🎉",
    "'quote'",
]


def order_rows(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "qty": i % 97,
            "amount": Decimal(i * 7 % 100000) / 100,
            "currency": ["EUR", "USD", "JPY"][i % 3],
            "status": ["pending", "paid", "refunded"][i % 3],
            "created": dt.datetime(2020, 1, 1)
            + dt.timedelta(seconds=i * 37, microseconds=i % 1000),
            "note": NOTES[i % len(NOTES)],
            "paid": i % 2 == 0,
            "payload": json.dumps({"n": i, "tags": ["a", "b"][: i % 3]}),
        }
        for i in range(start, start + n)
    ]


def create_orders(url: str, engine: str, n: int) -> None:
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql(ORDERS_DDL[engine])
        rows = order_rows(n)
        if engine == "sqlite":
            for r in rows:
                r["amount"] = str(r["amount"])
                r["created"] = r["created"].isoformat(sep=" ")
        conn.execute(
            sa.text(
                "INSERT INTO orders VALUES (:id, :qty, :amount, :currency, :status, :created, "
                ":note, :paid, :payload)"
            ),
            rows,
        )
    eng.dispose()


def norm(value: Any) -> Any:
    """Engine-neutral form of a value for comparing source and target rows."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
            if isinstance(parsed, dict | list):
                return json.dumps(parsed, sort_keys=True)
        except ValueError:
            pass
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value).isoformat()
            return dt.datetime.fromisoformat(value).isoformat(sep=" ")
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def table_rows(url: str, table: str, order_by: str = "1") -> list[tuple[Any, ...]]:
    eng = sa.create_engine(url)
    q = sa.text(f"SELECT * FROM {table} ORDER BY {order_by}")  # test-controlled names only
    with eng.connect() as conn:
        rows = [tuple(norm(v) for v in r) for r in conn.execute(q)]
    eng.dispose()
    return rows


def write_spec(path: Path, source: str, target: str, tables: str, **extra: Any) -> Path:
    lines = [f"name: {extra.pop('name', 'test')}", f"source: '{source}'", f"target: '{target}'"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    lines.append("tables:")
    lines.append(tables)
    path.write_text("\n".join(lines) + "\n")
    return path


def schema_of(url: str, tables: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """An engine-neutral picture of the target schema (what a clean and a resumed run must
    agree on): primary key, indexes (by columns and uniqueness, unique constraints included),
    foreign keys (columns → parent), CHECK count, columns with a default, NOT NULL columns."""
    import warnings

    eng = sa.create_engine(url)
    out: dict[str, dict[str, Any]] = {}
    try:
        with eng.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            insp = sa.inspect(conn)
            names = tables or [t for t in insp.get_table_names() if not t.startswith("datamove")]
            for t in names:
                indexes = {
                    (tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(t)
                }
                indexes |= {
                    (tuple(u["column_names"]), True) for u in insp.get_unique_constraints(t)
                }
                cols = insp.get_columns(t)
                out[t] = {
                    "pk": tuple(insp.get_pk_constraint(t)["constrained_columns"]),
                    "indexes": sorted(indexes),
                    "fks": sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"])
                        for f in insp.get_foreign_keys(t)
                    ),
                    "checks": len(insp.get_check_constraints(t)),
                    "defaults": sorted(c["name"] for c in cols if c.get("default") is not None),
                    "not_null": sorted(c["name"] for c in cols if not c["nullable"]),
                }
    finally:
        eng.dispose()
    return out


def assert_verified(migration: Any) -> None:
    """``verify`` passes; otherwise the failing checks are the assertion's message."""
    result = migration.verify()
    assert result.ok, [c.to_dict() for c in result.checks if not c.ok]


def database_objects(url: str) -> list[str]:
    """Everything a command could have created in a database: tables and views in every
    schema, and (PostgreSQL) every schema besides public. Empty for an untouched database."""
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    kind = eng.dialect.name
    queries = {
        "postgresql": [
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            "SELECT nspname FROM pg_namespace WHERE left(nspname, 3) <> 'pg_' "
            "AND nspname NOT IN ('information_schema', 'public')",
        ],
        "mysql": [
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        ],
        "sqlite": ["SELECT type || ' ' || name FROM sqlite_master"],
    }
    try:
        with eng.connect() as conn:
            return sorted(str(r[0]) for q in queries[kind] for r in conn.exec_driver_sql(q))
    finally:
        eng.dispose()


def chromium() -> str:
    """The system chromium, or skip (fail under DATAMOVE_REQUIRE_SERVERS=1) saying what to do."""
    path = shutil.which("chromium")
    problem = None
    if path is None:
        problem = "chromium is not installed (make browser: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is not None:
        from tests.conftest import REQUIRE

        if REQUIRE:
            pytest.fail(problem + " (DATAMOVE_REQUIRE_SERVERS=1)")
        pytest.skip(problem)
    assert path is not None
    return path
