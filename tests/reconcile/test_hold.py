"""What reconcile needs from sync and the checks it derives: sync keeps the changelog after
a running round's mark and after the last green round's (re-checks and incremental rounds read
those changes), and an invariant's drift is its numeric delta."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamove.core.evidence import RunCommand
from datamove.dialects.base import Dialect
from datamove.state import StateStore
from datamove.state.recorder import Recorder
from datamove.sync.runner import SyncOptions
from tests.conftest import execute, fetch
from tests.cutover.test_runbook import INVARIANT
from tests.reconcile.live import migrated


def changelog_rows(source: str) -> int:
    return int(fetch(source, "SELECT COUNT(*) FROM datamove_changelog")[0][0])


def test_sync_keeps_the_changes_a_round_reads(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migration = migrated(tmp_path, source, target, "{}")
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id IN (1, 2, 3)")
    dialect = Dialect.for_url(target, role="target")
    try:
        recorder = Recorder(StateStore(dialect, "test"))
        with recorder.run(RunCommand.reconcile, changelog_seq=0):  # a round running from 0
            migration.sync(SyncOptions(until_lag=0))
            assert changelog_rows(source) == 3  # applied, not purged: the round reads them
    finally:
        dialect.dispose()
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id = 4")
    migration.sync(SyncOptions(until_lag=0))
    assert changelog_rows(source) == 0  # that round is over (and was no green round)
    assert migration.reconcile(once=True).rounds[0].ok  # green, marked at sync's position
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id IN (5, 6)")
    migration.sync(SyncOptions(until_lag=0))
    assert changelog_rows(source) == 2  # kept for the next incremental round
    rnd = migration.reconcile(once=True).rounds[0]
    assert rnd.kind == "incremental" and rnd.checks[0].details["rows_scanned"] == 2


def test_an_invariant_drift_is_its_delta(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    migration = migrated(
        tmp_path, source, target, "{persist_for: 1, full_every: 1}", invariants=INVARIANT
    )
    assert migration.reconcile(once=True).ok
    execute(target, "UPDATE items SET amount = amount + 5 WHERE id = 900")
    rnd = migration.reconcile(once=True).rounds[0]
    invariant = next(c for c in rnd.checks if c.kind == "invariant")
    assert invariant.status == "failed" and invariant.details["drift"] == 5.0
    assert invariant.details["rechecks"] == 1  # run again after sync settled, failed again
    series = {s.check: s for s in migration.reconcile_history().series}
    assert [p.drift for p in series["amounts match"].points] == [0.0, 5.0]
