"""``datamove cutover SPEC`` on real servers: the runbook under a live writer, gates that stop
it with nothing fenced, ``--dry-run`` that changes nothing, ``--status``, and the spec's
``cutover:`` errors naming their spec path.

The writer (``tests.sync.writer``) writes to the source until the fence refuses it: its
process ends with the fence's message. The kill tests are in ``test_runbook_kill.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from datamove import Migration
from datamove.cli.app import app
from datamove.cutover.runbook import RUNBOOK
from datamove.dialects.base import Dialect
from datamove.errors import ChecksFailed, SpecError
from datamove.spec import parse_spec
from datamove.state import StateStore
from datamove.sync.runner import SyncOptions
from datamove.verify.runner import VerifyOptions
from tests.conftest import execute, fetch
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
ROWS = 2000

TABLES = """  items:
    columns:
      id: {}
      name: {transform: [trim]}
      amount: {}
"""
INVARIANT = """
  - name: amounts match
    source: SELECT SUM(amount) FROM items
    target: SELECT SUM(amount) FROM items"""


def source_items(url: str) -> None:
    execute(
        url,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, "
        "amount DECIMAL(12, 2) NOT NULL)",
    )
    execute(
        url,
        "INSERT INTO items (id, name, amount) VALUES (:i, :n, :a)",
        params=[{"i": i, "n": f" item {i} ", "a": i % 977} for i in range(1, ROWS + 1)],
    )


def cutover_spec(tmp: Path, source: str, target: str, cutover: str, **extra: Any) -> Path:
    return write_spec(tmp / "m.yaml", source, target, TABLES, cutover=cutover, **extra)


def runbook_rows(target: str) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    """Each recorded cutover step: status, output, error and the run that recorded it."""
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        with dialect.connect() as conn:
            found = state.steps.runbook(conn, RUNBOOK)
        return {n: (r.status, r.output, r.error, r.run_id) for n, r in found.items()}
    finally:
        dialect.dispose()


def fence_on(migration: Migration) -> bool:
    return migration.fence_status().on


def gate_checks(target: str) -> list[tuple[object, ...]]:
    dialect = Dialect.for_url(target, role="target")
    try:
        state = StateStore(dialect, "test")
        c = state.schema.checks.c
        with dialect.connect() as conn:
            rows = conn.execute(
                sa.select(c.name, c.status, c.expected, c.actual)
                .where(c.kind == "gate")
                .order_by(c.id)
            )
            return [tuple(r) for r in rows]
    finally:
        dialect.dispose()


@pytest.mark.parametrize("source_engine", ["postgresql", "mysql"])
def test_cutover_under_a_live_writer(source_engine: str, make_db: Any, tmp_path: Path) -> None:
    source, target = make_db(source_engine, "src"), make_db("postgresql", "tgt")
    source_items(source)
    log = tmp_path / "ran.log"
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        "\n  gates: {max_lag: 60s, verified_within: 1h}"
        f"\n  steps:\n    - {{name: note it, shell: 'echo ran >> {log}', after: fence}}"
        "\n  flag: {name: read_path, value_new: platform}",
        sync="{mode: triggers}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    assert migration.verify().ok  # the green verify the gate looks for
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.writer", source, "--rate", "200"]
        + ["--stop-file", str(tmp_path / "stop")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        count = tmp_path / "stop.count"
        migration.sync(SyncOptions(until_lag=0))
        while not (count.exists() and int(count.read_text() or 0) >= 30):  # writes before
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            migration.sync(SyncOptions(until_lag=0))  # an event to wait on: a sync pass
        report = migration.cutover(by="ops-test")
        _, err = writer.communicate(timeout=60)  # the fence ended it
    finally:
        (tmp_path / "stop").touch()
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode != 0 and "datamove write fence" in err, err[-2000:]
    assert report.complete and report.flag_value == "platform"
    assert report.source_fence is not None and report.source_fence.on
    steps = runbook_rows(target)
    assert [n for n in steps] and all(s[0] == "done" for s in steps.values()), steps
    assert set(steps) == {
        "gates", "fence", "note it", "drain", "verify", "invariants", "sequences", "validate",
        "reverse-capture", "flip", "unfence-target",
    }  # fmt: skip
    assert "ops-test" in (steps["flip"][1] or "")
    assert [(n, s) for n, s, _, _ in gate_checks(target)] == [
        ("gate max_lag", "passed"),
        ("gate verified_within", "passed"),
    ]
    assert log.read_text() == "ran\n"
    # at the flip the target equals the source: nothing could change it since (fenced)
    assert migration.verify(VerifyOptions(checks=("count", "checksum"))).ok
    setting = migration.flag_get("read_path").setting
    assert setting is not None and setting.value == "platform"
    again = migration.cutover()  # done: nothing runs twice
    assert again.complete and log.read_text() == "ran\n"
    with pytest.raises(sa.exc.DBAPIError, match="datamove write fence"):
        execute(source, "UPDATE items SET amount = 1 WHERE id = 1")


def test_gates_that_do_not_hold_stop_with_nothing_fenced(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    source_items(source)
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        "\n  gates: {max_lag: 0s, verified_within: 24h, invariants: pass, rehearsed: true}",
        sync="{mode: triggers}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id <= 10")  # a backlog, no sync
    result = runner.invoke(app, ["cutover", str(spec)])
    assert result.exit_code == 1, result.output
    for gate in ("max_lag", "verified_within", "invariants", "rehearsed"):
        assert f"gate {gate}" in result.output
    assert "4 gate(s) do not hold" in result.output
    assert "10 change(s) pending" in result.output
    assert "no verify with every check passed" in result.output
    assert "no rehearsal of the current mapping" in result.output
    assert "the spec has no invariants" in result.output
    assert not fence_on(migration) and migration.fence_status().off
    assert migration.flag_get("read_path").setting is None
    steps = runbook_rows(target)
    assert steps["gates"][0] == "failed" and steps["fence"][0] == "pending"
    assert [(n, s) for n, s, _, _ in gate_checks(target)] == [
        ("gate max_lag", "failed"),
        ("gate verified_within", "failed"),
        ("gate invariants", "failed"),
        ("gate rehearsed", "failed"),
    ]
    # a verify of a part of the mapping is not the verify the gate asks for
    migration.sync()
    assert migration.verify(VerifyOptions(checks=("count",))).ok
    with pytest.raises(ChecksFailed, match="verified_within"):
        migration.cutover()


def test_dry_run_changes_nothing_and_status_shows_it(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    gates = "\n  gates: {verified_within: 1h, invariants: pass}"
    spec = cutover_spec(tmp_path, source, target, gates, invariants=INVARIANT)
    migration = Migration.from_file(spec)
    migration.run()
    before = fetch(target, "SELECT count(*) FROM datamove_runs")
    result = runner.invoke(app, ["cutover", str(spec), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "gate verified_within" in result.output and "failed" in result.output
    assert "dry run: nothing changed" in result.output
    assert fetch(target, "SELECT count(*) FROM datamove_runs") == before
    assert fetch(target, "SELECT count(*) FROM datamove_steps WHERE kind = 'cutover'") == [(0,)]
    assert fetch(target, "SELECT count(*) FROM datamove_checks") == [(0,)]
    assert migration.fence_status().off
    assert fetch(source, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == [(0,)]

    assert migration.verify().ok
    assert migration.cutover().complete
    assert [(n, s) for n, s, _, _ in gate_checks(target)] == [
        ("gate verified_within", "passed"),
        ("gate invariants", "passed"),
    ]
    status = runner.invoke(app, ["cutover", str(spec), "--status", "--json"])
    assert status.exit_code == 0, status.output
    assert '"complete": true' in status.output and '"value": "platform"' in status.output


def test_a_failing_step_stops_resumably_and_its_output_is_redacted(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    flag = tmp_path / "fixed"
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        "\n  steps:"
        "\n    - {name: say, shell: 'echo connecting to postgresql://app:s3cret@db/shop'}"
        f"\n    - {{name: check, shell: 'test -f {flag} || {{ echo not yet; exit 4; }}'}}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    result = runner.invoke(app, ["cutover", str(spec)])
    assert result.exit_code == 3, result.output
    assert "step 'check': the command exited 4" in result.output
    assert "datamove cutover" in result.output and "fence off" in result.output
    steps = runbook_rows(target)
    assert steps["check"][:2] == ("failed", "not yet\n") and steps["flip"][0] == "pending"
    assert "s3cret" not in (steps["say"][1] or "") and "postgresql://app" in (steps["say"][1] or "")
    assert migration.fence_status().on  # stopped under the fence, never both sides open
    flag.touch()
    assert migration.cutover().complete
    after = runbook_rows(target)
    assert after["fence"][3] == steps["fence"][3]  # done before: not run again


def test_an_abandoned_cutover_starts_over(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    flag = tmp_path / "fixed"
    spec = cutover_spec(
        tmp_path, source, target, f"\n  steps:\n    - {{name: check, shell: 'test -f {flag}'}}"
    )
    migration = Migration.from_file(spec)
    migration.run()
    with pytest.raises(Exception, match="check"):
        migration.cutover()
    first = runbook_rows(target)["fence"][3]
    migration.fence_off()  # abandon, as the hint says
    flag.touch()
    assert migration.cutover().complete
    assert runbook_rows(target)["fence"][3] != first  # fenced again by the new attempt
    assert migration.fence_status().on


ONE_WAY = """  items:
    columns:
      id: {}
      name: {transform: [trim]}
      amount: {}
      tag: {transform: [{sql: "amount + 1"}], type: "decimal(13,2)"%s}
"""


def test_reverse_refuses_one_way_columns_until_the_spec_freezes_them(
    make_db: Any, tmp_path: Path
) -> None:
    """Issue 16 item 4: a rollback would lose a column the mapping cannot invert; the cutover
    names it and does not start (nothing fenced), and starts once the column is frozen."""
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    cutover = "{rollback: {reverse: true}}"
    spec = write_spec(tmp_path / "m.yaml", source, target, ONE_WAY % "", cutover=cutover)
    migration = Migration.from_file(spec)
    migration.run()
    with pytest.raises(SpecError, match=r"one-way: items\.tag") as err:
        migration.cutover()
    assert err.value.spec_path == "cutover.rollback.reverse"
    assert not fence_on(migration) and runbook_rows(target) == {}

    frozen = ONE_WAY % ", rollback: freeze"
    spec = write_spec(tmp_path / "m.yaml", source, target, frozen, cutover=cutover)
    frozen_migration = Migration.from_file(spec)
    frozen_migration.cutover()  # frozen: the runbook runs, through the flip
    assert fence_on(frozen_migration)
    assert runbook_rows(target)["flip"][0] == "done"


BASE = {"name": "x", "source": "sqlite:///a.db", "target": "sqlite:///b.db", "tables": {"t": {}}}


@pytest.mark.parametrize(
    ("cutover", "path", "words"),
    [
        ({"steps": [{"name": "a", "pipe": "ls"}]}, "cutover.steps[0]", "exactly one kind"),
        ({"steps": [{"name": "a", "sql": "SELECT 1"}]}, "cutover.steps[0]", "needs `on: source`"),
        ({"steps": [{"name": "flip", "shell": "ls"}]}, "cutover", "taken by a built-in step"),
        (
            {"steps": [{"name": "a", "shell": "ls", "before": "flop"}]},
            "cutover.steps[0].before",
            "flip",
        ),
        ({"gates": {"max_lag": "5 parsecs"}}, "cutover.gates.max_lag", "not a duration"),
        ({"gates": {"max_lags": "5s"}}, "cutover.gates.max_lags", "did you mean 'max_lag'"),
        ({"watch": {"for": "soon"}}, "cutover.watch.for", "not a duration"),
        (
            {"rollback": {"triggers": [{"query": "SELECT 1", "on": "target"}]}},
            "cutover.rollback.triggers[0]",
            "needs a threshold",
        ),
        ({"rollback": {"triggers": [{}]}}, "cutover.rollback.triggers[0]", "exactly one of"),
        (
            {"rollback": {"triggers": [{"failed_check": "any"}]}},
            "cutover.rollback",
            "set `reverse: true`",
        ),
    ],
)
def test_bad_cutover_specs_name_the_spec_path(
    cutover: dict[str, Any], path: str, words: str
) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "cutover": cutover})
    assert err.value.spec_path == path and words in str(err.value), str(err.value)


def test_a_full_cutover_section_is_accepted() -> None:
    spec = parse_spec(
        {
            **BASE,
            "cutover": {
                "mode": "read_only_window",
                "gates": {"max_lag": "5s", "verified_within": "24h", "invariants": "pass"},
                "steps": [
                    {"name": "stop workers", "shell": "true", "undo": "true", "before": "fence"},
                    {"name": "warm", "sql": "SELECT 1", "on": "target"},
                ],
                "watch": {"for": "30m", "every": "30s"},
                "rollback": {
                    "reverse": True,
                    "triggers": [
                        {"failed_check": "any"},
                        {"query": "SELECT 1", "on": "target", "above": 20},
                        {"lag_above": "60s"},
                    ],
                },
            },
        }
    )
    from datamove.cutover.runbook import runbook_steps

    assert [s.name for s in runbook_steps(spec)] == [
        "gates", "stop workers", "fence", "drain", "verify", "invariants", "sequences",
        "validate", "reverse-capture", "warm",
        "flip", "unfence-target",
    ]  # fmt: skip
    assert spec.cutover.gates.verified_within == 86400 and spec.cutover.watch.for_ == 1800


def test_verified_within_counts_only_a_verify_of_the_current_mapping(
    make_db: Any, tmp_path: Path
) -> None:
    source, target = make_db("sqlite", "src"), make_db("sqlite", "tgt")
    source_items(source)
    gates = "\n  gates: {verified_within: 1h}"
    migration = Migration.from_file(cutover_spec(tmp_path, source, target, gates))
    migration.run()
    assert migration.verify().ok
    [passed] = migration.cutover(dry_run=True).gates
    assert passed.ok and passed.actual.endswith("UTC)"), passed
    changed = cutover_spec(tmp_path, source, target, gates).read_text()
    changed = changed.replace("name: {transform: [trim]}", "name: {transform: [trim, upper]}")
    (tmp_path / "m.yaml").write_text(changed)
    [stale] = Migration.from_file(tmp_path / "m.yaml").cutover(dry_run=True).gates
    assert not stale.ok and "current mapping" in stale.details["reason"]
