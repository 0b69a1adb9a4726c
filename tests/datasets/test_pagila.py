"""Pagila (PostgreSQL) through ``datamove init`` + ``run``: its range-partitioned ``payment``.

``payment`` is partitioned by ``payment_date`` into 7 monthly partitions (LOADING.md §1.3),
each of which PostgreSQL also lists as a table. It is one table to datamove: listed once,
read through the parent, partitioned the same way in a PostgreSQL target and a plain table
elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from datamove import Migration
from datamove.plan.model import Finding
from datamove.spec.scaffold import scaffold
from tests.conftest import execute, fetch
from tests.datasets.conftest import row_counts, scalar, to_cents, user_tables

pytestmark = pytest.mark.slow

PAYMENTS = 16049
PAYMENT_SUM = Decimal("67416.51")
PARTITIONS = [f"payment_p2022_0{month}" for month in range(1, 8)]
PAYMENT_TOTAL: sa.Select[tuple[Any]] = sa.select(sa.func.sum(sa.column("amount"))).select_from(
    sa.table("payment")
)
PER_PARTITION = "SELECT tableoid::regclass::text, count(*) FROM payment GROUP BY 1 ORDER BY 1"


def partition_findings(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.severity.value, f.code, f.spec_path) for f in findings if "partition" in f.code]


def test_pagila_to_postgresql_keeps_payment_partitioned(
    pagila_postgresql: str, make_db: Callable[[str, str], str], tmp_path: Path
) -> None:
    target_url = make_db("postgresql", "target")
    text, _ = scaffold(pagila_postgresql, target_url, (), None)
    listed = list(yaml.safe_load(text)["tables"])
    assert "payment" in listed and not set(PARTITIONS) & set(listed)
    assert "# partitioned (RANGE (payment_date), 7 partitions)" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")

    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert plan.errors == []
    assert partition_findings(plan.findings) == [("note", "partitioned", "tables.payment")]
    assert plan.tables["payment"].rows_estimate == PAYMENTS

    result = migration.run(workers=2)
    assert result.rejects_total == 0
    assert row_counts(target_url, ["payment"]) == {"payment": PAYMENTS}
    assert to_cents(scalar(target_url, PAYMENT_TOTAL)) == PAYMENT_SUM
    per_partition = fetch(target_url, PER_PARTITION)
    assert [name for name, _ in per_partition] == PARTITIONS
    assert per_partition == fetch(pagila_postgresql, PER_PARTITION)
    # the partitions are the target's only extra tables: no plain copy of any of them
    assert user_tables(target_url) == sorted(listed + PARTITIONS)
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]
    # actor.actor_id kept nextval(...) as an identity past the copied ids, and last_update
    # its DEFAULT now(): the application's first insert after cutover works
    execute(target_url, "INSERT INTO actor (first_name, last_name) VALUES ('NEW', 'ACTOR')")
    assert fetch(
        target_url, "SELECT actor_id, last_update IS NOT NULL FROM actor WHERE first_name = 'NEW'"
    ) == [(201, True)]


@pytest.mark.parametrize("target_engine", ["mysql", "sqlite"])
def test_pagila_payment_elsewhere_is_a_plain_table(
    target_engine: str,
    pagila_postgresql: str,
    make_db: Callable[[str, str], str],
    tmp_path: Path,
) -> None:
    target_url = make_db(target_engine, "target")
    text, _ = scaffold(pagila_postgresql, target_url, ("payment",), None)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")

    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert plan.errors == []
    assert partition_findings(plan.findings) == [
        ("note", "partitioning-not-carried", "tables.payment")
    ]
    migration.run()
    assert user_tables(target_url) == ["payment"]
    assert row_counts(target_url, ["payment"]) == {"payment": PAYMENTS}
    assert to_cents(scalar(target_url, PAYMENT_TOTAL)) == PAYMENT_SUM
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]


def test_pagila_payment_with_its_partitions_is_refused(
    pagila_postgresql: str, make_db: Callable[[str, str], str], tmp_path: Path
) -> None:
    """The spec ``init`` wrote before partitions were known: the parent and its 7 partitions,
    whose rows would have been copied twice."""
    target_url = make_db("sqlite", "target")
    text, _ = scaffold(pagila_postgresql, target_url, ("payment", *PARTITIONS), None)
    assert "# a partition of payment: only its own rows" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    plan = Migration.from_file(spec).plan()
    assert partition_findings(plan.errors) == [
        ("error", "partition-in-scope", f"tables.{p}.source") for p in PARTITIONS
    ]
    assert list(plan.tables) == ["payment"]
