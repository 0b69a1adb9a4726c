"""Two-pass lookups: a remapped table that looks itself up (employees.manager_id), and two
remapped tables that look each other up. The load writes the column NULL; a second pass fills
it once the parent is loaded, chunk by chunk, recorded in the state store."""

from __future__ import annotations

import pytest

from datamove import Migration
from datamove.errors import RejectLimitExceeded
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ORPHAN, MISSING = 9990, 99999


def _manager(i: int) -> int | None:
    """Employee ``10 * i`` reports to a later (higher) id, so with small chunks most managers
    are copied in a later chunk than their reports; the last five have none."""
    return None if i > 55 else 10 * min(60, i + 1 + i % 4)


@pytest.fixture
def staff(sqlite_db) -> str:
    url = sqlite_db("staff")
    execute(
        url,
        "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "manager_id INTEGER NOT NULL REFERENCES employees(id))",
    )
    # manager_id is NOT NULL in the source (the top five manage themselves), as it often is.
    rows = [{"i": 10 * i, "n": f"e{i}", "m": _manager(i) or 10 * i} for i in range(1, 61)]
    rows.append({"i": ORPHAN, "n": "orphan", "m": MISSING})  # no employee 99999
    execute(url, "INSERT INTO employees VALUES (:i, :n, :m)", params=rows)
    return url


def employees(on_orphan: str = "reject", strategy: str = "remap") -> str:
    namespace = ", namespace: 6ba7b810-9dad-11d1-80b4-00c04fd430c8" if strategy == "uuid5" else ""
    return f"""  employees:
    key: {{columns: [id], strategy: {strategy}, legacy_column: legacy_id{namespace}}}
    columns:
      id:
      name: {{pii: false}}
      manager_id: {{lookup: employees, on_orphan: {on_orphan}}}"""


def _source(url: str) -> dict[int, int]:
    return {int(e): int(m) for e, m in fetch(url, "SELECT id, manager_id FROM employees")}


def _managers_by_legacy(target: str) -> dict[int, object]:
    """Each employee's manager, read through the target's own keys and legacy columns."""
    return {
        int(e): (int(m) if m is not None else None)
        for e, m in fetch(
            target,
            "SELECT e.legacy_id, m.legacy_id FROM employees e "
            "LEFT JOIN employees m ON m.id = e.manager_id",
        )
    }


@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_self_lookup_is_filled_by_a_second_pass(staff, make_db, tmp_path, engine) -> None:
    target = make_db(engine, "tgt")
    spec = write_spec(tmp_path / "m.yaml", staff, target, employees(), batch_size=7, max_rejects=1)
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors
    assert [c.target for c in plan.tables["employees"].second_pass] == ["manager_id"]
    assert plan.tables["employees"].target_table.c.manager_id.nullable  # NULL until pass two

    result = Migration.from_file(spec).run(workers=2)
    (outcome,) = result.tables
    assert outcome.chunks_total == 9 and outcome.filled == 60 and result.rejects_total == 1

    keys = fetch(target, "SELECT id, legacy_id FROM employees")
    assert len(keys) == 61 and len({new for new, _ in keys}) == 61
    assert any(new != legacy for new, legacy in keys)  # the target minted its own keys
    expected = {e: m for e, m in _source(staff).items() if e != ORPHAN}
    assert _managers_by_legacy(target) == {**expected, ORPHAN: None}

    (reject,) = Migration.from_file(spec).status(rejects=True).rejects
    assert reject.key == (ORPHAN,) and reject.column == "manager_id"
    assert "no employees row with key 99999" in reject.reason
    assert reject.reason.startswith("second pass:")
    status = Migration.from_file(spec).status().tables[0]
    assert status.second_pass.done == status.second_pass.total == 9
    assert status.rejects == 1

    again = Migration.from_file(spec).run()  # nothing is copied or filled again
    assert again.tables[0].copied == 0 and again.tables[0].filled == 0
    assert fetch(target, "SELECT id, legacy_id FROM employees") == keys


@pytest.mark.parametrize(("on_orphan", "expected"), [("null", None), ("keep", MISSING)])
def test_second_pass_orphans_follow_on_orphan(staff, sqlite_db, tmp_path, on_orphan, expected):
    target = sqlite_db("tgt")
    spec = write_spec(tmp_path / "m.yaml", staff, target, employees(on_orphan), batch_size=7)
    assert Migration.from_file(spec).run().rejects_total == 0
    ((value,),) = fetch(target, f"SELECT manager_id FROM employees WHERE legacy_id = {ORPHAN}")
    assert value == expected
    assert _managers_by_legacy(target)[40] == _source(staff)[40]


def test_an_orphan_over_max_rejects_stops_the_run_after_its_chunk(staff, sqlite_db, tmp_path):
    target = sqlite_db("tgt")
    spec = write_spec(tmp_path / "m.yaml", staff, target, employees(), batch_size=7)
    with pytest.raises(RejectLimitExceeded):
        Migration.from_file(spec).run()
    # The row stays (other rows may reference its new key), its manager NULL.
    assert fetch(target, f"SELECT manager_id FROM employees WHERE legacy_id = {ORPHAN}") == [
        (None,)
    ]
    assert Migration.from_file(spec).status().rejects_total == 1


def test_uuid5_self_lookup_on_postgresql(staff, pg_db, tmp_path) -> None:
    spec = write_spec(tmp_path / "m.yaml", staff, pg_db, employees("null", "uuid5"), batch_size=9)
    Migration.from_file(spec).run()
    expected = {e: m for e, m in _source(staff).items() if e != ORPHAN}
    assert _managers_by_legacy(pg_db) == {**expected, ORPHAN: None}


def test_remapped_tables_that_look_each_other_up(sqlite_db, make_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE stores (id INTEGER PRIMARY KEY, manager_id INTEGER REFERENCES staff(id))",
        "CREATE TABLE staff (id INTEGER PRIMARY KEY, store_id INTEGER REFERENCES stores(id))",
    )
    execute(
        source,
        "INSERT INTO stores VALUES (:i, :m)",
        params=[{"i": 100 + i, "m": 1000 + 3 * i} for i in range(20)],
    )
    execute(
        source,
        "INSERT INTO staff VALUES (:i, :s)",
        params=[{"i": 1000 + i, "s": 100 + i % 20} for i in range(60)],
    )
    target = make_db("postgresql", "tgt")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        target,
        "  stores:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
        "    columns: {id: , manager_id: {lookup: staff}}\n"
        "  staff:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
        "    columns: {id: , store_id: {lookup: stores}}",
        batch_size=8,
    )
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors
    deferred = {t: [c.target for c in p.second_pass] for t, p in plan.tables.items()}
    assert deferred == {"staff": ["store_id"], "stores": []}  # the cycle is broken once
    Migration.from_file(spec).run()
    stores = fetch(
        target,
        "SELECT s.legacy_id, m.legacy_id FROM stores s JOIN staff m ON m.id = s.manager_id",
    )
    assert dict(stores) == {100 + i: 1000 + 3 * i for i in range(20)}
    staff = fetch(
        target,
        "SELECT m.legacy_id, s.legacy_id FROM staff m JOIN stores s ON s.id = m.store_id",
    )
    assert dict(staff) == {1000 + i: 100 + i % 20 for i in range(60)}


def test_plan_says_how_and_refuses_columns_that_cannot_hold_null(staff, sqlite_db, tmp_path):
    spec = write_spec(tmp_path / "m.yaml", staff, sqlite_db("t1"), employees())
    migration = Migration.from_file(spec)
    plan = migration.plan()
    (note,) = [f for f in plan.findings if f.code == "second-pass"]
    assert "manager_id is filled in a second pass after employees is loaded" in note.message
    assert "created nullable" in note.message  # the source column is NOT NULL
    doc = migration.write_document(plan, tmp_path / "mapping.md").read_text(encoding="utf-8")
    words = "manager_id is filled in a second pass after employees is loaded"
    assert f"**Second pass:** {words}." in doc
    assert "matching employees row in a second pass, after employees is loaded" in doc
    assert "left NULL and recorded as rejects" in doc

    def errors(columns: str, target: str) -> dict[str, str]:
        mapping = (
            "  employees:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
            f"    columns:\n      id:\n      name: {{pii: false}}\n      manager_id: {columns}"
        )
        spec = write_spec(tmp_path / "e.yaml", staff, target, mapping)
        return {f.spec_path: f.code for f in Migration.from_file(spec).plan().errors}

    path = "tables.employees.columns.manager_id"
    declared = errors("{lookup: employees, nullable: false}", sqlite_db("t2"))
    assert declared == {f"{path}.nullable": "second-pass-not-null"}
    assert errors("{lookup: employees, cast: bigint}", sqlite_db("t3")) == {
        f"{path}.transform": "second-pass-transform"
    }
    existing = sqlite_db("t4")
    execute(
        existing,
        "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "manager_id INTEGER NOT NULL, legacy_id INTEGER NOT NULL UNIQUE)",
    )
    assert errors("{lookup: employees}", existing) == {path: "second-pass-not-null"}


def test_a_cycle_is_broken_at_a_plain_foreign_key_when_it_has_one(sqlite_db, tmp_path) -> None:
    source = sqlite_db("src")
    execute(
        source,
        "CREATE TABLE alpha (id INTEGER PRIMARY KEY, beta_id INTEGER REFERENCES beta(id))",
        "CREATE TABLE beta (id INTEGER PRIMARY KEY, alpha_id INTEGER REFERENCES alpha(id))",
    )
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        sqlite_db("tgt"),
        "  alpha:\n    columns: {id: , beta_id: {lookup: beta}}\n"
        "  beta:\n    key: {columns: [id], strategy: remap}",
    )
    plan = Migration.from_file(spec).plan()
    assert not plan.errors, plan.errors
    # Breaking alpha → beta would cost a second pass; beta → alpha is a plain foreign key.
    assert plan.tables["beta"].deferred_parents == {"alpha"}
    assert plan.order == ["beta", "alpha"] and not plan.tables["alpha"].second_pass


@pytest.mark.parametrize("on_orphan", ["reject", "null"])
def test_verify_holds_the_second_pass_values(staff, pg_db, tmp_path, on_orphan) -> None:
    """verify compares a second-pass column with the value that pass leaves (not the load's
    NULL), and a second-pass reject's row is expected in the target."""
    spec = write_spec(
        tmp_path / "m.yaml", staff, pg_db, employees(on_orphan), batch_size=7, max_rejects=1
    )
    Migration.from_file(spec).run()
    result = Migration.from_file(spec).verify()
    assert result.ok, [c.to_dict() for c in result.checks if not c.ok]
    execute(pg_db, "UPDATE employees SET manager_id = manager_id + 1 WHERE legacy_id = 40")
    result = Migration.from_file(spec).verify()
    (failed,) = [c for c in result.checks if not c.ok]
    assert failed.kind == "checksum" and "1 changed" in failed.actual


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_the_copy_pipe_loads_a_self_referencing_table(make_db, tmp_path, source_engine) -> None:
    """Into PostgreSQL from a server, the load takes the COPY pipe (the column is a NULL in
    the SELECT), and the second pass fills it."""
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE employees (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, "
        "manager_id INTEGER)",
    )
    rows = [{"i": 10 * i, "n": f"e{i}", "m": _manager(i)} for i in range(1, 61)]
    execute(source, "INSERT INTO employees VALUES (:i, :n, :m)", params=rows)
    spec = write_spec(tmp_path / "m.yaml", source, target, employees(), batch_size=7)
    result = Migration.from_file(spec).run(workers=2)
    assert result.tables[0].paths == {"copy"} and result.tables[0].filled == 55
    expected = {10 * i: _manager(i) for i in range(1, 61)}
    assert _managers_by_legacy(target) == expected
