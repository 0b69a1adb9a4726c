"""``replace_range`` on a target table that already holds rows the source does not have.

Issue 15: a chunk silently deleted a row (``actor_id 5000``) the application had written in a
table datamove did not create. ``plan`` (and ``run``, which plans again) now refuse with the
error finding ``replace-range-foreign-rows`` naming the table and how many rows would go.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datamove.cli.app import app
from tests.conftest import execute, fetch
from tests.helpers import ORDERS_DDL, create_orders, order_rows, write_spec

runner = CliRunner()
INSERT = (
    "INSERT INTO orders (id, qty, amount, currency, status, created, note, paid, payload) "
    "VALUES (:id, :qty, :amount, :currency, :status, :created, :note, :paid, :payload)"
)


def _target_with_foreign_rows(url: str) -> None:
    """The application's table: rows 1..10 as the source has them, row 25 (deleted from the
    source, inside its key span) and row 5000 (past the source's largest key)."""
    execute(url, ORDERS_DDL["postgresql"])
    rows = [r for r in order_rows(10)] + order_rows(1, start=25) + order_rows(1, start=5000)
    execute(url, INSERT, params=rows)


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_replace_range_over_foreign_rows_is_refused_by_plan_and_run(
    tmp_path, make_db, source_engine
) -> None:
    src, tgt = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    create_orders(src, source_engine, 300)
    execute(src, "DELETE FROM orders WHERE id = 25")
    _target_with_foreign_rows(tgt)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=50)

    plan = runner.invoke(app, ["plan", str(spec), "--json"])
    assert plan.exit_code == 2, plan.output
    found = [
        f for f in json.loads(plan.stdout)["findings"] if f["code"] == "replace-range-foreign-rows"
    ]
    assert len(found) == 1, plan.stdout
    (finding,) = found
    assert finding["severity"] == "error" and finding["table"] == "orders"
    assert "2 row(s)" in finding["message"], finding["message"]
    assert "upsert" in finding["message"] and "insert_missing" in finding["message"]
    assert finding["spec_path"] == "write_mode"

    run = runner.invoke(app, ["run", str(spec)])
    assert run.exit_code == 2, run.output
    assert "replace_range" in run.output and "nothing was copied" in run.output
    assert fetch(tgt, "SELECT id FROM orders WHERE id IN (25, 5000) ORDER BY id") == [
        (25,),
        (5000,),
    ]

    upsert = write_spec(
        tmp_path / "u.yaml", src, tgt, "  orders:", batch_size=50, write_mode="upsert"
    )
    plan = runner.invoke(app, ["plan", str(upsert), "--json"])
    assert plan.exit_code == 0, plan.output
    codes = {f["code"] for f in json.loads(plan.stdout)["findings"]}
    assert "replace-range-foreign-rows" not in codes
    run = runner.invoke(app, ["run", str(upsert), "--quiet"])
    assert run.exit_code == 0, run.output
    assert fetch(tgt, "SELECT count(*) FROM orders") == [(301,)]  # 299 + rows 25 and 5000


def test_a_table_datamove_created_or_an_empty_one_is_not_counted(tmp_path, make_db) -> None:
    """The finding is about rows someone else wrote: a fresh target plans clean, and so does
    a resumed or repeated run into the table datamove created."""
    src, tgt = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_orders(src, "postgresql", 120)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=50)
    assert runner.invoke(app, ["run", str(spec), "--quiet"]).exit_code == 0
    execute(src, "DELETE FROM orders WHERE id = 7")
    plan = runner.invoke(app, ["plan", str(spec), "--json"])
    assert plan.exit_code == 0, plan.output

    empty = make_db("postgresql", "empty")
    execute(empty, ORDERS_DDL["postgresql"])
    spec = write_spec(tmp_path / "e.yaml", src, empty, "  orders:", batch_size=50)
    plan = runner.invoke(app, ["plan", str(spec), "--json"])
    assert plan.exit_code == 0, plan.output


def test_only_chunks_still_to_copy_count(tmp_path, make_db) -> None:
    """Once every chunk is committed nothing is deleted any more; a restart copies every
    chunk again, so a row the source has lost since is counted."""
    src, tgt = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_orders(src, "postgresql", 120)
    execute(tgt, ORDERS_DDL["postgresql"])
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=50)
    assert runner.invoke(app, ["run", str(spec), "--quiet"]).exit_code == 0
    execute(src, "DELETE FROM orders WHERE id = 7")
    assert runner.invoke(app, ["plan", str(spec)]).exit_code == 0
    assert runner.invoke(app, ["run", str(spec), "--quiet"]).exit_code == 0
    again = runner.invoke(app, ["run", str(spec), "--restart", "orders"])
    assert again.exit_code == 2, again.output
    assert "already holds 1 row(s)" in again.output
    assert fetch(tgt, "SELECT count(*) FROM orders WHERE id = 7") == [(1,)]


def test_an_acknowledged_deletion_no_longer_blocks_and_the_run_replaces_the_ranges(
    tmp_path, make_db
) -> None:
    """The reviewer accepts the loss in the spec: plan passes, counting the acknowledged
    finding, and the run makes the target equal to the source (rows 25 and 5000 go)."""
    src, tgt = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_orders(src, "postgresql", 300)
    execute(src, "DELETE FROM orders WHERE id = 25")
    _target_with_foreign_rows(tgt)
    ack = "[{code: replace-range-foreign-rows, table: orders, reason: test rows}]"
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  orders:", batch_size=50, acknowledge=ack)

    plan = runner.invoke(app, ["plan", str(spec), "--json"])
    assert plan.exit_code == 0, plan.output
    findings = json.loads(plan.stdout)["findings"]
    (found,) = [f for f in findings if f["code"] == "replace-range-foreign-rows"]
    assert found["acknowledged"] is True and found["reason"] == "test rows"
    assert not [f for f in findings if f["code"] == "acknowledge-unused"], findings

    run = runner.invoke(app, ["run", str(spec), "--quiet"])
    assert run.exit_code == 0, run.output
    assert fetch(tgt, "SELECT count(*) FROM orders WHERE id IN (25, 5000)") == [(0,)]
    assert fetch(tgt, "SELECT count(*) FROM orders") == [(299,)]
