"""Resume, pinned mappings, restart, composite keys and foreign-key order on real servers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datamove import Migration
from datamove.errors import MappingChanged
from tests.conftest import execute, fetch
from tests.helpers import create_orders, table_rows, write_spec


def test_resume_is_refused_after_a_mapping_change(sqlite_db, pg_db, tmp_path) -> None:
    src = sqlite_db("src")
    create_orders(src, "sqlite", 300)
    spec = write_spec(tmp_path / "m.yaml", src, pg_db, "  orders:", batch_size=100)
    Migration.from_file(spec).run()

    changed = write_spec(
        tmp_path / "m.yaml", src, pg_db, "  orders:\n    where: qty > 10", batch_size=100
    )
    with pytest.raises(MappingChanged, match="--restart orders"):
        Migration.from_file(changed).run()

    result = Migration.from_file(changed).run(restart=("orders",))
    expected = fetch(src, "SELECT count(*) FROM orders WHERE qty > 10")[0][0]
    assert result.rows == expected
    assert fetch(pg_db, "SELECT count(*) FROM orders")[0][0] == expected
    assert fetch(pg_db, "SELECT min(qty) FROM orders")[0][0] > 10


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql"])
def test_composite_keys_chunk_and_resume(sqlite_db, make_db, tmp_path, target_engine) -> None:
    src = sqlite_db("src")
    execute(
        src,
        "CREATE TABLE salary (emp_no INTEGER NOT NULL, from_date DATE NOT NULL, "
        "dept CHAR(4) NOT NULL, amount INT, PRIMARY KEY (dept, emp_no, from_date))",
    )
    rows = [
        {"e": e, "d": f"20{10 + y}-01-0{1 + e % 9}", "p": f"d00{e % 3}", "a": e * 100 + y}
        for e in range(1, 120)
        for y in range(5)
    ]
    execute(src, "INSERT INTO salary VALUES (:e, :d, :p, :a)", params=rows)
    tgt = make_db(target_engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  salary:", batch_size=97)

    result = Migration.from_file(spec).run(workers=2)
    assert result.tables[0].chunks_total == 7
    order = "dept, emp_no, from_date"
    assert table_rows(tgt, "salary", order) == table_rows(src, "salary", order)
    # A chunk re-run replaces exactly its key range: no duplicates, nothing lost.
    with sa.create_engine(tgt).begin() as conn:
        conn.exec_driver_sql("DELETE FROM salary WHERE emp_no = 50")
    state = Migration.from_file(spec)
    again = state.run(restart=("salary",))
    assert again.rows == len(rows)
    assert table_rows(tgt, "salary", order) == table_rows(src, "salary", order)


def test_parents_load_first_and_foreign_keys_come_after(sqlite_db, pg_db, tmp_path) -> None:
    src = sqlite_db("src")
    execute(
        src,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
        "customer_id INTEGER NOT NULL REFERENCES customers(id))",
        "CREATE INDEX orders_by_customer ON orders (customer_id)",
        "CREATE TABLE staff (id INTEGER PRIMARY KEY, boss_id INTEGER REFERENCES staff(id))",
    )
    execute(
        src,
        "INSERT INTO customers VALUES (:i, :n)",
        params=[{"i": i, "n": f"c{i}"} for i in range(1, 51)],
    )
    execute(
        src,
        "INSERT INTO orders VALUES (:i, :c)",
        params=[{"i": i, "c": 1 + i % 50} for i in range(1, 401)],
    )
    execute(
        src,
        "INSERT INTO staff VALUES (:i, :b)",
        params=[{"i": i, "b": None if i == 1 else i - 1} for i in range(1, 30)][::-1],
    )
    spec = write_spec(
        tmp_path / "m.yaml", src, pg_db, "  orders:\n  staff:\n  customers:", batch_size=60
    )
    seen: list[str] = []
    Migration.from_file(spec).run(
        workers=2, on_event=lambda e: seen.append(type(e).__name__ + ":" + getattr(e, "table", ""))
    )
    finished = [s.split(":")[1] for s in seen if s.startswith("TableFinished")]
    started = [s.split(":")[1] for s in seen if s.startswith("TableStarted")]
    assert finished.index("customers") < started.index("orders")
    insp = sa.inspect(sa.create_engine(pg_db))
    fks = {fk["referred_table"] for fk in insp.get_foreign_keys("orders")}
    assert fks == {"customers"}
    assert {fk["referred_table"] for fk in insp.get_foreign_keys("staff")} == {"staff"}
    assert [i["column_names"] for i in insp.get_indexes("orders")] == [["customer_id"]]
    assert fetch(pg_db, "SELECT count(*) FROM orders")[0][0] == 400
