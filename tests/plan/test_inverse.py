"""The plan classifies every mapped column for a rollback (MariaDB → PostgreSQL): each
transform of the library, the wiring (rename, widening, remapped key, lookup), dropped and
unmapped columns, and the spec's freeze and declared inverse; plan --json, the text, the
one-way warning and the mapping document show it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.errors import SpecError
from datamove.plan.inverse import one_way_columns
from datamove.transforms import REGISTRY
from tests.conftest import execute
from tests.helpers import write_spec

runner = CliRunner()
NS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
HERE = "tests.plan.test_inverse"

# target column: (spec, expected class); a column per transform (named after it) and the wiring
ORDERS = {
    "id": ("{}", "invertible"),
    "customer_id": ("{lookup: customers}", "invertible"),
    "order_code": ("{from: code, type: bigint}", "invertible"),
    "cast": ("{from: code, cast: bigint}", "invertible"),
    "default": ("{from: status, default: 0}", "invertible"),
    "map": ("{from: status, transform: [{map: {0: new, 1: paid}}]}", "invertible"),
    "map_many": ("{from: status, transform: [{map: {0: open, 1: open}}]}", "kept_original"),
    "timezone": ("{from: day, transform: [{timezone: {assume: Europe/Berlin}}]}", "invertible"),
    "encoding": ("{from: raw, transform: [{encoding: {decode: latin1}}]}", "invertible"),
    "trim": ("{from: txt, transform: [trim]}", "kept_original"),
    "lower": ("{from: txt, transform: [lower]}", "kept_original"),
    "upper": ("{from: txt, transform: [upper]}", "kept_original"),
    "normalize": ("{from: txt, transform: [{normalize: NFC}]}", "kept_original"),
    "regex_replace": (
        "{from: txt, transform: [{regex_replace: {pattern: 'a+', replace: b}}]}",
        "kept_original",
    ),
    "split": ("{from: txt, transform: [{split: {sep: ' ', index: 0}}]}", "kept_original"),
    "fix_mojibake": ("{from: txt, transform: [fix_mojibake]}", "kept_original"),
    "nullif": ("{from: txt, transform: [{nullif: ''}]}", "kept_original"),
    "round": ("{from: num, transform: [{round: {places: 1}}]}", "kept_original"),
    "json_path": ("{from: doc, transform: [{json_path: $.a}]}", "kept_original"),
    "when": ("{from: day, transform: [{when: 'code > 0'}]}", "kept_original"),
    "concat": ("{transform: [{concat: [txt, card]}]}", "kept_original"),
    "uuid5": (f"{{from: code, transform: [{{uuid5: {{namespace: {NS}, name: x}}}}]}}", "one_way"),
    "python": (f"{{from: card, transform: [{{python: '{HERE}:digest'}}]}}", "one_way"),
    "sql": ("{transform: [{sql: 'code + 1'}], type: integer, rollback: freeze}", "one_way"),
    "shouted": (
        f"{{from: txt, transform: [{{python: '{HERE}:shout'}}], "
        f"rollback: {{inverse: [{{python: '{HERE}:hush'}}]}}}}",
        "invertible",
    ),
}


def digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def shout(value: str | None) -> str | None:
    return None if value is None else value.upper()


def hush(value: str | None) -> str | None:
    return None if value is None else value.lower()


@pytest.fixture
def spec(make_db, pg_db, tmp_path) -> Path:
    source = make_db("mysql", "src")
    execute(
        source,
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50))",
        "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, "
        "code SMALLINT NOT NULL, status INT NOT NULL, txt VARCHAR(50), num DECIMAL(12,4), "
        "day DATETIME, doc VARCHAR(200), raw VARBINARY(50), card VARCHAR(20), "
        "old_flag INT, extra INT)",
    )
    columns = "\n".join(f"      {name}: {s}" for name, (s, _) in ORDERS.items())
    tables = (
        "  customers:\n    key: {columns: [id], strategy: remap, legacy_column: legacy_id}\n"
        f"  orders:\n    drop: {{old_flag: retired}}\n    columns:\n{columns}"
    )
    return write_spec(tmp_path / "m.yaml", source, pg_db, tables)


def test_every_transform_is_covered_here() -> None:
    assert set(REGISTRY) <= set(ORDERS), set(REGISTRY) - set(ORDERS)


def test_plan_json_classifies_every_column(spec) -> None:
    result = runner.invoke(app, ["plan", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    tables = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    got = {c["target"]: c["rollback"]["class"] for c in tables["orders"]["columns"]}
    assert got == {name: expected for name, (_, expected) in ORDERS.items()}
    orders = tables["orders"]["rollback"]
    # + old_flag (dropped) and extra (not mapped): kept aside
    assert orders["invertible"] == 9 and orders["kept_original"] == 15 and orders["one_way"] == 3
    assert orders["frozen"] == 1
    assert set(orders["not_moved"]) == {"old_flag", "extra"}
    assert "dropped (retired)" in orders["not_moved"]["old_flag"]["reason"]
    columns = {c["target"]: c["rollback"] for c in tables["orders"]["columns"]}
    assert columns["customer_id"]["inverse"] == [
        {"op": "lookup", "parent": "customers", "key_column": "id", "legacy_column": "legacy_id"}
    ]
    assert columns["map_many"]["reason"] == "map: not one-to-one: open come(s) from several values"
    assert columns["uuid5"]["reason"].startswith("uuid5: a UUID derived from the value (a hash)")
    assert columns["shouted"]["declared"] and columns["sql"]["frozen"]
    key = {c["target"]: c["rollback"] for c in tables["customers"]["columns"]}["id"]
    assert key["inverse"] == [{"op": "legacy_key", "column": "legacy_id"}]


def test_one_way_columns_are_warned_and_listed_unless_frozen(spec, tmp_path) -> None:
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 0, result.output
    assert "rollback: 9 invertible, 15 kept-original, 3 one-way (1 frozen)" in result.stdout
    warned = [line for line in result.stdout.splitlines() if "[one-way-column]" in line]
    assert len(warned) == 2, result.stdout  # uuid5 and python; sql is frozen
    assert "'orders.python' cannot go back on a rollback" in result.stdout
    assert "orders.sql" not in "".join(warned)

    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert [c.place for c in one_way_columns(plan)] == ["orders.uuid5", "orders.python"]
    document = migration.write_document(plan, tmp_path / "mapping.md").read_text()
    assert (
        "- **Rollback:** 9 invertible, 15 kept-original, 3 one-way (1 frozen); not moved, "
        "kept aside: `old_flag`, `extra`." in document
    )
    row = next(line for line in document.splitlines() if line.startswith("| `sql` |"))
    assert row.endswith(
        '| one way: sql: the SQL expression "code" + 1 has no inverse; frozen (not written back) |'
    )


def test_the_inverse_goes_back_or_refuses_what_the_mapping_cannot_have_made(spec) -> None:
    plan = Migration.from_file(spec).plan()
    undo = {c.target: c.rollback.undo for c in plan.tables["orders"].columns if c.rollback}
    assert undo["order_code"](7) == 7
    with pytest.raises(ValueError, match="out of range"):
        undo["order_code"](2**40)  # the new side's bigint holds what SMALLINT cannot
    assert undo["map"]("paid") == 1
    with pytest.raises(ValueError, match="not a value of the map"):
        undo["map"]("lost")
    assert undo["shouted"]("HI") == "hi"
    with pytest.raises(ValueError, match="maps to 'HI'"):
        undo["shouted"]("Hi")  # shout never gives mixed case
    assert undo["customer_id"] is None  # through the parent's rows, not from the value alone


def test_a_rollback_key_without_freeze_or_inverse_names_its_path(make_db, tmp_path) -> None:
    source = make_db("sqlite", "src")
    execute(source, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    spec = write_spec(
        tmp_path / "m.yaml",
        source,
        make_db("sqlite", "tgt"),
        "  t:\n    columns:\n      id:\n      a: {rollback: {}}",
    )
    with pytest.raises(SpecError, match=r"tables\.t\.columns\.a\.rollback") as err:
        Migration.from_file(spec)
    assert "rollback takes freeze, or inverse" in str(err.value)

    spec.write_text(spec.read_text().replace("{rollback: {}}", "{rollback: {inverse: [{sql: a}]}}"))
    with pytest.raises(SpecError, match="reads source columns by name") as err:
        Migration.from_file(spec).plan()
    assert err.value.spec_path == "tables.t.columns.a.rollback.inverse[0]"
