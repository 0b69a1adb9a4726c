"""An online migration under an ordinary concurrent writer: the application inserts a new
parent and its child after the parent table's backfill passed that key range. The child is
copied by the backfill, its parent arrives with ``sync``: the foreign key is added at the end of
the run without being checked against the loaded rows, and validated once ``sync`` has caught
up. Before, adding it failed the run (``Key (acct_id)=(400048) is not present``), exit 3."""

from __future__ import annotations

import pytest

from datamove import Migration
from datamove.errors import TerminalError
from datamove.events import Event, TableFinished
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec
from tests.schema.conftest import create_accounts


@pytest.mark.parametrize("target", ["postgresql", "mysql"])
def test_foreign_keys_wait_for_sync_under_a_concurrent_writer(make_db, tmp_path, target) -> None:
    src, tgt = make_db("postgresql", "src"), make_db(target, "tgt")
    create_accounts(src, "postgresql", 400, 2000)
    spec = write_spec(
        tmp_path / "m.yaml", src, tgt, "  acct:\n  txn:", batch_size=100, sync="{mode: triggers}"
    )
    migration = Migration.from_file(spec)
    migration.capture_install()

    def application(event: Event) -> None:
        if isinstance(event, TableFinished) and event.table == "acct":
            execute(
                src,
                "INSERT INTO acct (id, name, email) VALUES (400048, 'late', 'late@x.org')",
                "INSERT INTO txn (id, acct_id, amount) VALUES (900001, 400048, 5)",
            )

    result = migration.run(on_event=application)
    assert result.rejects_total == 0
    pending = migration.status().pending_steps
    assert [(s.kind, s.status) for s in pending] == [("validate", "pending")], pending
    assert "sync" in pending[0].when
    assert fetch(tgt, "SELECT count(*) FROM txn WHERE acct_id = 400048") == [(1,)]
    schema = migration.verify().checks
    assert any(c.kind == "schema" and not c.ok for c in schema), "not valid yet: verify says so"

    migration.sync(SyncOptions(until_lag=0))
    assert migration.status().pending_steps == []
    assert fetch(tgt, "SELECT name FROM acct WHERE id = 400048") == [("late",)]
    if target == "postgresql":
        assert fetch(tgt, "SELECT convalidated FROM pg_constraint WHERE contype = 'f'") == [(True,)]
    verified = migration.verify()
    assert verified.ok, [c.to_dict() for c in verified.checks if not c.ok]


def test_an_orphan_the_application_wrote_fails_validation_by_name_and_resumes(
    make_db, tmp_path
) -> None:
    """A child whose parent never comes: validation is a failed step naming the foreign key and
    the orphan; once fixed in the source, ``sync`` validates it."""
    src, tgt = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    create_accounts(src, "postgresql", 50, 100)
    execute(src, "ALTER TABLE txn DROP CONSTRAINT txn_acct_id_fkey")
    execute(src, "INSERT INTO txn (id, acct_id, amount) VALUES (777, 999999, 1)")
    spec = write_spec(tmp_path / "m.yaml", src, tgt, "  acct:\n  txn:")
    execute(
        src,
        "ALTER TABLE txn ADD CONSTRAINT txn_acct_id_fkey FOREIGN KEY (acct_id) "
        "REFERENCES acct (id) NOT VALID",
    )
    migration = Migration.from_file(spec)
    with pytest.raises(TerminalError) as failed:
        migration.run()
    assert "txn_acct_id_fkey" in failed.value.message and "999999" in failed.value.message
    pending = migration.status().pending_steps
    assert [(s.kind, s.status) for s in pending] == [("validate", "failed")]
    assert "999999" in pending[0].error
    execute(src, "DELETE FROM txn WHERE id = 777")
    migration.run(restart=("txn",))
    assert migration.status().pending_steps == []
    assert fetch(tgt, "SELECT bool_and(convalidated) FROM pg_constraint WHERE contype = 'f'") == [
        (True,)
    ]
