"""``kill -9`` of ``datamove cutover`` inside its steps, then ``datamove cutover`` again: it
resumes at the step that was running, never repeats a done one (a user step that appends to a
file ran exactly once; the fence step keeps the run that did it), and while stopped the source
stays fenced and the flag unflipped, so never both sides take writes.

Deterministic points: the process says on stderr that a step started (after recording it
``running``) and that step cannot end by itself — a user ``shell:`` step that waits for a file
the test creates only after the kill, and ``drain``, whose apply waits for the sync
checkpoint row the test holds locked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datamove import Migration
from tests.conftest import execute
from tests.cutover.test_runbook import cutover_spec, runbook_rows, source_items

ROOT = Path(__file__).resolve().parents[2]


def killed_in(spec: Path, step: str, command: str = "cutover") -> None:
    """Start ``datamove COMMAND SPEC``, wait for ``step`` to start, kill -9 its process group."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "datamove", command, str(spec)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    said: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the process says something, or ends
            said.append(line)
            if f"{command}: {step} (started)" in line:
                break
        else:
            raise AssertionError(f"the {command} ended before {step!r}: {''.join(said)}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_kill_inside_a_user_step_resumes_without_repeating(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    source_items(source)
    log, release = tmp_path / "ran.log", tmp_path / "release"
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        "\n  steps:"
        f"\n    - {{name: note it, shell: 'echo ran >> {log}', after: fence}}"
        f"\n    - {{name: wait, shell: '[ -f {release} ] || sleep 600'}}",
    )
    migration = Migration.from_file(spec)
    migration.run()
    killed_in(spec, "wait")
    steps = runbook_rows(target)
    assert {n: s[0] for n, s in steps.items()} == {
        "gates": "done", "fence": "done", "note it": "done", "drain": "done", "verify": "done",
        "invariants": "done", "sequences": "done", "validate": "done", "reverse-capture": "done",
        "wait": "running",
        "flip": "pending",
        "unfence-target": "pending",
    }  # fmt: skip
    assert migration.fence_status().on and migration.flag_get("read_path").setting is None
    release.touch()
    done = subprocess.run(
        [sys.executable, "-m", "datamove", "cutover", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    after = runbook_rows(target)
    assert all(s[0] == "done" for s in after.values()), after
    assert log.read_text() == "ran\n"  # ran once, before the kill
    assert after["fence"][3] == steps["fence"][3] and after["wait"][3] != steps["wait"][3]


def test_kill_during_drain_resumes_there(make_db: Any, tmp_path: Path) -> None:
    source, target = make_db("postgresql", "src"), make_db("postgresql", "tgt")
    source_items(source)
    log = tmp_path / "ran.log"
    spec = cutover_spec(
        tmp_path,
        source,
        target,
        f"\n  steps:\n    - {{name: note it, shell: 'echo ran >> {log}', after: fence}}",
        sync="{mode: triggers}",
    )
    migration = Migration.from_file(spec)
    migration.capture_install()
    migration.run()
    migration.sync()  # the checkpoint row exists
    execute(source, "UPDATE items SET amount = amount + 1 WHERE id <= 50")  # the backlog
    engine = sa.create_engine(target)
    try:
        with engine.connect() as holder, holder.begin():
            holder.exec_driver_sql("SELECT * FROM datamove.sync FOR UPDATE")  # drain waits
            killed_in(spec, "drain")
        steps = runbook_rows(target)
        assert steps["drain"][0] == "running" and steps["note it"][0] == "done"
        assert steps["verify"][0] == "pending"
        assert migration.fence_status().on and migration.flag_get("read_path").setting is None
    finally:
        engine.dispose()
    report = migration.cutover()
    assert report.complete
    after = runbook_rows(target)
    assert log.read_text() == "ran\n"
    assert after["fence"][3] == steps["fence"][3] and after["drain"][3] != steps["drain"][3]
    assert "50 change(s) applied" in (after["drain"][1] or "")
    assert migration.verify().ok
