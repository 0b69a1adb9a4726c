"""The ``undo:`` of the user's steps on a rollback: every user step the runbook completed that
has an ``undo:`` runs it, latest first, after the source takes writes again, each a recorded
rollback step (shell or SQL on the step's side, output redacted); a step without ``undo:``,
or one the runbook never ran, has none. A ``kill -9`` inside an undo, then ``rollback`` again,
runs that undo again and never one that was done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from datamove import Migration
from tests.conftest import execute, fetch
from tests.cutover.test_runbook_kill import killed_in
from tests.helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]


def _setup(make_db: Any, tmp: Path, wait: Path | None = None) -> tuple[str, Path, Path]:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    execute(source, "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    execute(source, "CREATE TABLE marks (id INTEGER PRIMARY KEY)")  # not migrated
    execute(source, "INSERT INTO items VALUES (1, 1), (2, 2)")
    log = tmp / "ran.log"
    block = f"while [ ! -f {wait} ]; do sleep 0.1; done; " if wait else ""
    steps = (
        f"\n    - {{name: stop workers, shell: 'echo stop >> {log}', before: fence, "
        f"undo: '{block}echo start >> {log}; echo postgresql://ops:hunter2@db/x'}}"
        "\n    - {name: mark, sql: 'INSERT INTO marks VALUES (1)', on: source, before: fence, "
        "undo: 'DELETE FROM marks'}"
        f"\n    - {{name: plain, shell: 'echo plain >> {log}'}}"
        f"\n    - {{name: last, shell: 'echo last >> {log}', after: flip, "
        f"undo: 'echo unlast >> {log}'}}"
    )
    spec = write_spec(
        tmp / "m.yaml",
        source,
        target,
        "  items: {}",
        cutover=f"\n  rollback: {{reverse: true}}\n  steps:{steps}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    migration.cutover(by="ops-test")
    assert log.read_text().split() == ["stop", "plain", "last"]
    assert fetch(source, "SELECT id FROM marks") == [(1,)]
    return source, spec, log


def test_rollback_runs_the_undo_of_done_user_steps_latest_first(
    make_db: Any, tmp_path: Path
) -> None:
    source, spec, log = _setup(make_db, tmp_path)
    steps = Migration.from_file(spec).rollback(by="ops-test")
    assert [(s.name, s.kind, s.status) for s in steps][4:] == [
        ("unfence-source", "builtin", "done"),
        ("undo: last", "shell", "done"),
        ("undo: mark", "sql", "done"),
        ("undo: stop workers", "shell", "done"),
    ]
    assert log.read_text().split() == ["stop", "plain", "last", "unlast", "start"]
    assert fetch(source, "SELECT id FROM marks") == []  # the SQL undo ran on the source
    output = steps[-1].record.output if steps[-1].record else None
    assert (
        output is not None and "postgresql://ops:" in output and "hunter2" not in output
    )  # redacted


def test_kill_inside_an_undo_then_rollback_again(make_db: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    _, spec, log = _setup(make_db, tmp_path, wait=release)
    killed_in(spec, "undo: stop workers", "rollback")
    statuses = {s.name: s.status for s in Migration.from_file(spec).rollback_status()}
    assert statuses["undo: last"] == "done" and statuses["undo: stop workers"] == "running"
    release.touch()
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "rollback", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert log.read_text().split() == ["stop", "plain", "last", "unlast", "start"]
    statuses = {s.name: s.status for s in Migration.from_file(spec).rollback_status()}
    assert set(statuses.values()) == {"done"}
