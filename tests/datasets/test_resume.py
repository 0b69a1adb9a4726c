"""Interrupted runs on real sample databases resume to every foreign key and index.

Reported: Sakila MariaDB → PostgreSQL, Ctrl-C during the run, then ``run`` again: exit 0 with
0 of 22 foreign keys and ``payment`` with 1 index of 4; Pagila → MariaDB after ``kill -9``: 0 of
18 foreign keys; ``status`` said "indexes done" and ``verify`` was green.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datamove import Migration
from datamove.spec.scaffold import scaffold
from tests.crash.test_kill import _committed
from tests.helpers import assert_verified, schema_of

pytestmark = pytest.mark.slow


def _spec(path: Path, source: str, target: str) -> Path:
    """``init``'s spec as written (Pagila's tsvector is drafted under drop for MariaDB)."""
    text, _ = scaffold(source, target, (), None)
    path.write_text(text.replace("batch_size: 20000", "batch_size: 500"), "utf-8")
    return path


def _run(spec: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _interrupt(spec: Path, sig: signal.Signals, chunks: int) -> None:
    """Start the run (throttled) and send ``sig`` once ``chunks`` have committed; a run that
    has not stopped 60 s after SIGINT is killed."""
    cmd = [sys.executable, "-m", "datamove", "--quiet", "run", str(spec)]
    proc = subprocess.Popen(
        [*cmd, "--max-rows-per-second", "6000"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while _committed(spec) < chunks:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "too slow to commit chunks"
        time.sleep(0.1)
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _foreign_keys(schema: dict) -> int:
    return sum(len(t["fks"]) for t in schema.values())


def test_sakila_interrupted_by_ctrl_c_resumes_to_every_foreign_key(
    sakila_mysql: str, make_db, tmp_path: Path
) -> None:
    clean = make_db("postgresql", "clean")
    assert _run(_spec(tmp_path / "clean.yaml", sakila_mysql, clean)).returncode == 0
    reference = schema_of(clean)
    assert _foreign_keys(reference) == 22
    assert len(reference["payment"]["indexes"]) == 3  # + its primary key: 4

    target = make_db("postgresql", "tgt")
    spec = _spec(tmp_path / "m.yaml", sakila_mysql, target)
    _interrupt(spec, signal.SIGINT, 12)
    assert Migration.from_file(spec).status().pending_steps, "the interruption left steps"
    resumed = _run(spec)
    assert resumed.returncode == 0, resumed.stderr
    assert schema_of(target) == reference
    assert Migration.from_file(spec).status().pending_steps == []
    assert_verified(Migration.from_file(spec))


def test_pagila_killed_resumes_to_every_foreign_key_in_mariadb(
    pagila_postgresql: str, make_db, tmp_path: Path
) -> None:
    clean = make_db("mysql", "clean")
    finished = _run(_spec(tmp_path / "clean.yaml", pagila_postgresql, clean))
    assert finished.returncode == 0, finished.stderr
    reference = schema_of(clean)
    assert _foreign_keys(reference) == 18

    target = make_db("mysql", "tgt")
    spec = _spec(tmp_path / "m.yaml", pagila_postgresql, target)
    _interrupt(spec, signal.SIGKILL, 12)
    resumed = _run(spec)
    assert resumed.returncode == 0, resumed.stderr
    assert schema_of(target) == reference
    assert Migration.from_file(spec).status().pending_steps == []
    assert_verified(Migration.from_file(spec))
