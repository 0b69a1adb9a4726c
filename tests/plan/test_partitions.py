"""Partitioned tables: listed once by ``init``, read through the root, created partitioned
where the target engine can (PostgreSQL from PostgreSQL), else a plain table and a note."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamove import Migration
from datamove.spec.scaffold import scaffold
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROWS = 3000
# Sub-partitioned by region below id 1000, a LIST value with a '%', default partitions at both
# levels, and an index declared on the partitioned table itself ('%%': the driver's '%').
PG_EVENTS = [
    "CREATE TABLE events (id integer NOT NULL, region varchar(8) NOT NULL, "
    "happened timestamptz NOT NULL, amount numeric(10,2), note text, "
    "PRIMARY KEY (id, region)) PARTITION BY RANGE (id)",
    "CREATE INDEX events_note_idx ON events (note)",
    "CREATE TABLE events_low PARTITION OF events FOR VALUES FROM (MINVALUE) TO (1000) "
    "PARTITION BY LIST (region)",
    "CREATE TABLE events_low_eu PARTITION OF events_low FOR VALUES IN ('eu', 'a%%b')",
    "CREATE TABLE events_low_other PARTITION OF events_low DEFAULT",
    "CREATE TABLE events_mid PARTITION OF events FOR VALUES FROM (1000) TO (2000)",
    "CREATE TABLE events_rest PARTITION OF events DEFAULT",
    "INSERT INTO events SELECT i, (ARRAY['eu', 'us', 'a%%b'])[mod(i, 3) + 1], "
    "timestamptz '2022-06-01 00:00+00' + i * interval '10 hours', i * 1.25, 'n' || mod(i, 7) "
    f"FROM generate_series(1, {ROWS}) i",
    "ANALYZE events",
]
# parents before their sub-partitions
PG_PARTITIONS = ["events_low", "events_mid", "events_rest", "events_low_eu", "events_low_other"]
PER_PARTITION = (
    "SELECT tableoid::regclass::text, count(*), sum(amount) FROM events GROUP BY 1 ORDER BY 1"
)
TOTALS = "SELECT count(*), sum(amount) FROM events"


def partition_findings(plan: Any) -> list[tuple[str, str, str]]:
    return [(f.severity.value, f.code, f.spec_path) for f in plan.findings if "partition" in f.code]


def totals(url: str) -> tuple[int, Decimal]:
    count, total = fetch(url, TOTALS)[0]
    return int(count), Decimal(str(total)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("target_engine", ["postgresql", "mysql", "sqlite"])
def test_postgresql_partitioned_table_is_copied_once_through_its_root(
    target_engine: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db(target_engine, "tgt")
    execute(source, *PG_EVENTS)

    text, _ = scaffold(source, target)
    assert list(yaml.safe_load(text)["tables"]) == ["events"]  # no partition listed
    assert "# partitioned (RANGE (id), 5 partitions): its partitions are copied" in text
    spec = tmp_path / "m.yaml"
    spec.write_text(text + "sync: {mode: triggers}\n")
    migration = Migration.from_file(spec)

    plan = migration.plan()
    assert plan.errors == []
    events = plan.tables["events"]
    # Estimates are the partitions' (the partitioned table itself holds no rows, no bytes).
    assert events.rows_estimate == ROWS and (events.bytes_estimate or 0) > 0
    carried = target_engine == "postgresql"
    code = "partitioned" if carried else "partitioning-not-carried"
    assert partition_findings(plan) == [("note", code, "tables.events")]
    if carried:
        assert events.partitioning is not None
        assert [p.name for p in events.partitioning.partitions] == PG_PARTITIONS
    else:
        assert events.partitioning is None

    migration.capture_install()
    migration.run()
    execute(
        source,
        "INSERT INTO events VALUES (5001, 'eu', '2023-05-01 00:00+00', 1.00, 'new'), "
        "(500, 'zz', '2023-05-01 00:00+00', 2.00, 'new')",
        "UPDATE events SET id = id + 10000 WHERE id = 10",  # moves to another partition
        "UPDATE events SET region = 'us' WHERE id = 3",  # and to another sub-partition
        "UPDATE events SET amount = amount + 1 WHERE id BETWEEN 1000 AND 1100",
        "DELETE FROM events WHERE id BETWEEN 2000 AND 2050",
    )
    assert migration.sync(SyncOptions(until_lag=0)).pending == 0
    migration.run()  # a second run finds every step (index included) done

    assert totals(target) == totals(source)
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]
    migration.capture_uninstall()  # the root's trigger, and its clones on every partition
    assert not migration.capture_status().installed
    assert fetch(source, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal") == [(0,)]
    if carried:
        assert fetch(target, PER_PARTITION) == fetch(source, PER_PARTITION)
        assert fetch(target, "SELECT relkind FROM pg_class WHERE relname = 'events'") == [("p",)]
        indexed = fetch(target, "SELECT indexdef FROM pg_indexes WHERE tablename = 'events'")
        assert any("(note)" in d for (d,) in indexed), indexed


def test_mariadb_partitioned_table_to_postgresql_is_a_plain_table(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("mysql", "src"), make_db("postgresql", "tgt")
    execute(
        source,
        "CREATE TABLE ev (id INT NOT NULL, d DATE NOT NULL, amount DECIMAL(8,2), "
        "PRIMARY KEY (id, d)) PARTITION BY RANGE (YEAR(d)) (PARTITION p2020 VALUES LESS THAN "
        "(2021), PARTITION p2021 VALUES LESS THAN (2022), PARTITION pmax VALUES LESS THAN "
        "MAXVALUE)",
    )
    execute(
        source,
        "INSERT INTO ev VALUES (:i, :d, :a)",
        params=[
            {"i": i, "d": f"{2019 + i % 5}-0{1 + i % 9}-1{i % 10}", "a": Decimal(i) / 4}
            for i in range(1, 1001)
        ],
    )
    text, _ = scaffold(source, target)
    assert list(yaml.safe_load(text)["tables"]) == ["ev"]
    assert "# partitioned (RANGE (year(`d`)), 3 partitions)" in text
    spec = tmp_path / "m.yaml"
    spec.write_text(text)
    migration = Migration.from_file(spec)
    plan = migration.plan()
    assert plan.errors == []
    assert partition_findings(plan) == [("note", "partitioning-not-carried", "tables.ev")]
    assert "the target (postgresql) cannot recreate mysql partitioning" in next(
        f.message for f in plan.findings if f.code == "partitioning-not-carried"
    )
    migration.run()
    query = "SELECT count(*), sum(amount) FROM ev"
    assert [tuple(map(str, r)) for r in fetch(target, query)] == [
        tuple(map(str, r)) for r in fetch(source, query)
    ]
    assert fetch(target, "SELECT relkind FROM pg_class WHERE relname = 'ev'") == [("r",)]
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]


def test_a_partition_read_with_its_root_is_an_error(pg_db: str, sqlite_db, tmp_path) -> None:
    execute(pg_db, *PG_EVENTS)
    both = write_spec(
        tmp_path / "both.yaml",
        pg_db,
        sqlite_db("t1"),
        "  events:\n  events_mid:\n  eu: {source: events_low_eu}",
    )
    plan = Migration.from_file(both).plan()
    assert partition_findings(plan) == [
        ("error", "partition-in-scope", "tables.events_mid"),
        ("error", "partition-in-scope", "tables.eu.source"),
        ("note", "partitioning-not-carried", "tables.events"),
    ]
    message = next(f.message for f in plan.findings if f.code == "partition-in-scope")
    assert message == (
        "'events_mid' is a partition of 'events': its rows are copied with 'events'; "
        "remove tables.events_mid from the spec"
    )
    assert set(plan.tables) == {"events"}

    alone = write_spec(tmp_path / "alone.yaml", pg_db, sqlite_db("t2"), "  events_mid:")
    plan = Migration.from_file(alone).plan()
    assert plan.errors == []
    assert partition_findings(plan) == [("note", "partition-alone", "tables.events_mid")]


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        (
            "{ident: {from: id}, region: {}, happened: {}, amount: {}, note: {}}",
            "its partition key column(s) id are not copied unchanged under the same name and type",
        ),
        (
            "{id: {}, region: {}, happened: {}, amount: {}, note: {}}\n    key: "
            "{columns: [id], strategy: remap, legacy_column: legacy_id}",
            "its key is not preserved (remap)",
        ),
    ],
)
def test_partitioning_is_not_carried_when_the_key_changes(
    columns: str, reason: str, make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, *PG_EVENTS)
    spec = write_spec(tmp_path / "m.yaml", source, target, f"  events:\n    columns: {columns}")
    plan = Migration.from_file(spec).plan()
    assert partition_findings(plan) == [("note", "partitioning-not-carried", "tables.events")]
    assert reason in next(f.message for f in plan.findings if f.code == "partitioning-not-carried")
    assert plan.tables["events"].partitioning is None


def test_partitioning_is_not_carried_when_a_partition_name_is_taken(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, *PG_EVENTS)
    execute(target, "CREATE TABLE events_mid (x integer)")  # not a partition: would be skipped
    spec = write_spec(tmp_path / "m.yaml", source, target, "  events:")
    plan = Migration.from_file(spec).plan()
    message = next(f.message for f in plan.findings if f.code == "partitioning-not-carried")
    assert "partition name(s) events_mid are taken in the target" in message
    Migration.from_file(spec).run()
    assert fetch(target, "SELECT count(*) FROM events") == [(ROWS,)]
