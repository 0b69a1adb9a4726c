"""Schema objects carried across engines: unique keys, index kinds, defaults, identities and
sequences, CHECKs derived from the mapped values, and ``--restart`` of a created table."""

from __future__ import annotations

import sqlalchemy as sa

from datamove import Migration
from datamove.events import Message
from tests.conftest import execute, fetch
from tests.helpers import assert_verified, schema_of, write_spec
from tests.schema.conftest import create_accounts

BIG = "x" * 22_000


def _findings(plan, code: str) -> list[str]:
    return [f.message for f in plan.findings if f.code == code]


def test_mysql_fulltext_and_prefix_indexes_into_postgresql(mysql_db, pg_db, tmp_path) -> None:
    """A FULLTEXT index must not become a btree index on a 22 KB text (the run crashed with
    'index row requires 8304 bytes'); a prefix index keeps its prefix."""
    execute(
        mysql_db,
        """CREATE TABLE fcm (id int PRIMARY KEY, raw_payload mediumtext, created_at datetime,
            code varchar(200), FULLTEXT KEY search (raw_payload), KEY fcm_created (created_at),
            KEY fcm_code_prefix (code(8)), UNIQUE KEY fcm_code_u (code))""",
        "INSERT INTO fcm VALUES (1, REPEAT('x', 22000), '2024-01-01 00:00:00', 'alpha'),"
        " (2, 'short', NULL, 'beta')",
    )
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, "  fcm:")
    migration = Migration.from_file(spec)
    plan = migration.plan()
    skipped = _findings(plan, "index-not-carried")
    assert any("search" in m and "FULLTEXT" in m for m in skipped), plan.findings
    result = migration.run()
    assert result.rejects_total == 0
    indexes = {
        name: definition
        for name, definition in fetch(
            pg_db, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'fcm'"
        )
    }
    defs = " | ".join(indexes.values())
    assert "(raw_payload)" not in defs, "no btree index on the long text"
    assert "(created_at)" in defs
    assert "substr((code)::text, 1, 8)" in defs, defs
    assert "UNIQUE INDEX" in defs and "(code)" in defs
    assert_verified(migration)


def test_mysql_index_kinds_kept_between_mariadb_databases(make_db, tmp_path) -> None:
    src, tgt = make_db("mysql", "src"), make_db("mysql", "tgt")
    execute(
        src,
        """CREATE TABLE doc (id int PRIMARY KEY, body text, title varchar(100), n int,
            FULLTEXT KEY doc_body (body), KEY doc_title (title(10)), KEY doc_n (n DESC))""",
        "INSERT INTO doc VALUES (1, 'hello world', 'greeting', 3)",
    )
    migration = Migration.from_file(write_spec(tmp_path / "m.yaml", src, tgt, "  doc:"))
    migration.run()
    created = fetch(tgt, "SHOW CREATE TABLE doc")[0][1]
    assert "FULLTEXT KEY" in created and "(`body`)" in created, created
    assert "(`title`(10))" in created, created
    assert "`n` DESC" in created, created
    assert_verified(migration)


def test_postgresql_index_kinds_into_mariadb_are_findings_not_crashes(
    pg_db, mysql_db, tmp_path
) -> None:
    execute(
        pg_db,
        "CREATE TABLE person (id int PRIMARY KEY, email text, code int, tags jsonb, "
        "CONSTRAINT person_code_u UNIQUE (code))",
        "CREATE INDEX person_lower ON person (lower(email))",
        "CREATE INDEX person_big ON person (code) WHERE code > 100",
        "CREATE INDEX person_tags ON person USING gin (tags)",
        "CREATE INDEX person_code_desc ON person (code DESC)",
        "INSERT INTO person VALUES (1, 'A@x.org', 5, '{\"a\": 1}'), (2, NULL, 500, NULL)",
    )
    migration = Migration.from_file(write_spec(tmp_path / "m.yaml", pg_db, mysql_db, "  person:"))
    plan = migration.plan()
    skipped = " | ".join(_findings(plan, "index-not-carried"))
    for name in ("person_lower", "person_big", "person_tags"):
        assert name in skipped, skipped
    assert "person_code_desc" not in skipped
    migration.run()
    created = fetch(mysql_db, "SHOW CREATE TABLE person")[0][1]
    assert "UNIQUE KEY" in created and "(`code`)" in created, created
    assert "`code` DESC" in created, created
    assert_verified(migration)


def test_postgresql_unique_constraints_are_recreated(make_db, tmp_path) -> None:
    """UNIQUE constraints are not in the reflected indexes: they were lost (issue item 9)."""
    for target in ("postgresql", "mysql", "sqlite"):
        src, tgt = make_db("postgresql", f"s{target}"), make_db(target, f"t{target}")
        create_accounts(src, "postgresql", 10, 10)
        migration = Migration.from_file(
            write_spec(tmp_path / f"{target}.yaml", src, tgt, "  acct:\n  txn:")
        )
        migration.run()
        assert (("email",), True) in schema_of(tgt, ["acct"])["acct"]["indexes"], target
        assert_verified(migration)


def _insert_returning_new(url: str, kind: str) -> tuple[int, str, bool]:
    """The application inserts an account after cutover: (its id, region, created set)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO acct (name) VALUES ('new')")
        row = conn.exec_driver_sql(
            "SELECT id, region, created IS NOT NULL FROM acct WHERE name = 'new'"
        ).one()
    engine.dispose()
    return int(row[0]), str(row[1]), bool(row[2])


def test_identity_sequence_and_defaults_survive_every_engine_pair(make_db, tmp_path) -> None:
    """Pagila's actor_id lost nextval(...) and DEFAULT now(): the first insert after cutover
    failed or collided. Each engine pair: the next generated id is past the copied ones and
    the defaults fill what the application leaves out."""
    pairs = [("postgresql", "postgresql"), ("postgresql", "mysql"), ("mysql", "postgresql")]
    pairs += [("mysql", "mysql"), ("postgresql", "sqlite")]
    for source, target in pairs:
        src, tgt = make_db(source, f"s{source}{target}"), make_db(target, f"t{source}{target}")
        create_accounts(src, source, 50, 10)
        spec = write_spec(tmp_path / f"{source}{target}.yaml", src, tgt, "  acct:\n  txn:")
        migration = Migration.from_file(spec)
        migration.run()
        assert_verified(migration)
        new_id, region, created = _insert_returning_new(tgt, target)
        assert (new_id, region, created) == (51, "eu", True), (source, target)


ENUM_MAP = "{G: general, PG: parental, PG-13: teens, R: restricted, NC-17: adults}"


def test_enum_map_gets_a_check_of_the_mapped_values_and_restart_recreates(
    mysql_db, pg_db, tmp_path
) -> None:
    """The created table kept CHECK (rating IN ('G','PG',…)) from the source ENUM although
    the mapped values differ: every row was a reject; --restart did not recreate the table."""
    execute(
        mysql_db,
        "CREATE TABLE film (id int PRIMARY KEY, "
        "rating enum('G','PG','PG-13','R','NC-17') DEFAULT 'G')",
        "INSERT INTO film VALUES (1, 'G'), (2, 'PG-13'), (3, 'NC-17'), (4, NULL)",
    )
    tables = f"  film:\n    columns:\n      id:\n      rating: {{transform: [{{map: {ENUM_MAP}}}]}}"
    spec = write_spec(tmp_path / "m.yaml", mysql_db, pg_db, tables)
    migration = Migration.from_file(spec)
    assert migration.run().rejects_total == 0
    assert fetch(pg_db, "SELECT rating FROM film ORDER BY id") == [
        ("general",),
        ("teens",),
        ("adults",),
        (None,),
    ]
    # the CHECK holds the mapped values: a source value is refused, a mapped one accepted
    engine = sa.create_engine(pg_db)
    with engine.connect() as conn:
        try:
            conn.exec_driver_sql("INSERT INTO film VALUES (9, 'G')")
            conn.commit()
            raise AssertionError("the CHECK accepted an unmapped value")
        except sa.exc.IntegrityError:
            conn.rollback()
        conn.exec_driver_sql("INSERT INTO film (id) VALUES (9)")  # the mapped default
        assert conn.exec_driver_sql("SELECT rating FROM film WHERE id = 9").scalar() == "general"
        conn.rollback()
    engine.dispose()
    assert_verified(migration)

    # a changed mapping: --restart drops the created table and makes it from the new plan
    spec.write_text(spec.read_text().replace("G: general", "G: all ages"))
    events: list[object] = []
    migration = Migration.from_file(spec)
    result = migration.run(restart=("film",), on_event=events.append)
    assert result.rejects_total == 0
    assert fetch(pg_db, "SELECT rating FROM film WHERE id = 1") == [("all ages",)]
    assert any(isinstance(e, Message) and "recreated" in e.text for e in events), events
    assert_verified(migration)


def test_restart_of_a_table_datamove_did_not_create_deletes_rows_and_says_so(
    pg_db, sqlite_db, tmp_path
) -> None:
    src = sqlite_db("src")
    execute(src, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'a')")
    execute(pg_db, "CREATE TABLE t (id int PRIMARY KEY, v text CHECK (v <> 'zzz'))")
    migration = Migration.from_file(write_spec(tmp_path / "m.yaml", src, pg_db, "  t:"))
    migration.run()
    events: list[object] = []
    migration.run(restart=("t",), on_event=events.append)
    assert any(isinstance(e, Message) and "not created by datamove" in e.text for e in events), (
        events
    )
    assert schema_of(pg_db, ["t"])["t"]["checks"] == 1, "the user's own table is kept"
    assert fetch(pg_db, "SELECT id, v FROM t") == [(1, "a")]
