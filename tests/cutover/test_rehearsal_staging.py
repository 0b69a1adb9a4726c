"""``datamove cutover SPEC --rehearse --source URL --target URL``: the rehearsal runs on
staging databases (its steps and flag in the staging target's state store), and its evidence
reaches the spec's own state store, where the real cutover's ``rehearsed`` gate counts it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from tests.conftest import fetch
from tests.cutover.test_runbook import gate_checks, source_items
from tests.helpers import write_spec

runner = CliRunner()
STEPS = "SELECT count(*) FROM datamove.steps WHERE kind = 'cutover'"
REHEARSALS = "SELECT status, mapping_hash FROM datamove.runs WHERE command = 'rehearsal'"
TABLES = "  items:\n    columns: {id: {}, name: {}, amount: {}}\n"  # each goes back as is


def cutover_spec(tmp: Path, source: str, target: str, cutover: str) -> Path:
    return write_spec(tmp / "m.yaml", source, target, TABLES, cutover=cutover)


def test_a_staging_rehearsal_counts_for_the_real_gate(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    staging_source, staging_target = make_db("postgresql", "ssrc"), make_db("postgresql", "stgt")
    source_items(source)
    source_items(staging_source)
    spec = cutover_spec(tmp_path, source, target, "\n  gates: {rehearsed: true}")
    migration = Migration.from_file(spec)
    migration.run()
    staging = Migration(migration.spec.model_copy(update={"source": staging_source}))
    staging = Migration(staging.spec.model_copy(update={"target": staging_target}))
    staging.run()

    args = ["cutover", str(spec), "--rehearse", "--source", staging_source]
    done = runner.invoke(app, [*args, "--target", staging_target])
    assert done.exit_code == 0, done.output

    mapping = migration.plan().mapping_hash
    # The staging run's steps and flag flips live in the staging target; the spec's store
    # holds only the evidence, bound to the mapping hash.
    assert fetch(staging_target, STEPS)[0][0] > 0
    assert fetch(target, STEPS) == [(0,)]
    assert fetch(target, "SELECT count(*) FROM datamove.flag_history") == [(0,)]
    assert fetch(target, REHEARSALS) == [("ok", mapping)]
    assert fetch(staging_target, REHEARSALS) == [("ok", mapping)]
    assert migration.fence_status().off  # the real source was never fenced
    assert fetch(source, "SELECT count(*) FROM information_schema.triggers") == [(0,)]

    report = migration.cutover()
    assert report.complete and report.flag_value == "platform"
    assert [(n, s) for n, s, _, _ in gate_checks(target)] == [("gate rehearsed", "passed")]


def test_staging_urls_need_rehearse(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    spec = cutover_spec(tmp_path, source, target, "\n  gates: {rehearsed: true}")
    done = runner.invoke(app, ["cutover", str(spec), "--target", target])
    assert done.exit_code == 2 and "--rehearse" in done.output
