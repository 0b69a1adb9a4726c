"""kill -9 at random instants: ``run`` and ``sync --follow`` killed again and again while an
application writes to the source, then finished; the target must equal the source row for
row, judged by an oracle of its own (normalised rows read with plain SQLAlchemy), not by
datamove's verify.

Bounded in ``make test`` (a few kills on two engine pairs); ``make faults`` (or
``DATAMOVE_FAULTS=full``) kills forty times on every pair the writer supports.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from datamove import Migration
from datamove.sync.runner import SyncOptions
from tests.helpers import table_rows, write_spec
from tests.sync.test_sync import ROOT, SPEC, Writer, _source

pytestmark = pytest.mark.faults

FULL = os.environ.get("DATAMOVE_FAULTS") == "full"
KILLS = 40 if FULL else 6
PAIRS = [("postgresql", "mysql"), ("mysql", "postgresql")]
if FULL:
    PAIRS += [("postgresql", "postgresql"), ("sqlite", "postgresql"), ("postgresql", "sqlite")]


def oracle(url: str, mapped: bool = False) -> list[str]:
    """Each row of ``items`` as a hash of its normalised values, in key order; ``mapped``:
    through the spec's mapping, written out here (``name`` is trimmed)."""
    rows = [
        (int(i), name.strip() if mapped else name, Decimal(str(amount)).normalize())
        for i, name, amount in table_rows(url, "items")
    ]  # SQLite hands back a whole DECIMAL(12, 2) as an int, the servers as a Decimal
    return [hashlib.sha256(repr(row).encode()).hexdigest() for row in rows]


def _command(spec: Path, command: str) -> list[str]:
    base = [sys.executable, "-m", "datamove", "--quiet"]
    if command == "run":
        return [*base, "run", str(spec), "--max-rows-per-second", "3000"]
    return [*base, "sync", str(spec), "--follow", "--max-batch", "50"]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_random_kills_of_run_and_sync_under_a_writer(
    make_db: Any, tmp_path: Path, source: str, target: str
) -> None:
    rng = random.Random(f"{source}-{target}")
    src, tgt = make_db(source, "src"), make_db(target, "tgt")
    _source(src)
    spec = write_spec(tmp_path / "m.yaml", src, tgt, SPEC, batch_size=250, sync="{mode: triggers}")
    migration = Migration.from_file(spec)
    migration.capture_install()
    writer = Writer(src, tmp_path, rate=120.0, seed=rng.randrange(1000))
    kills = 0
    try:
        for n in range(KILLS):
            command = "run" if n % 2 == 0 else "sync"
            proc = subprocess.Popen(
                _command(spec, command),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                proc.wait(timeout=rng.uniform(0.3, 2.5))  # it may finish first: fine
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
            else:
                assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
    finally:
        writes = writer.stop()
    assert kills >= KILLS // 2, "most lives must end in a kill"
    assert writes > 0
    finish = subprocess.run(_command(spec, "run")[:-2], cwd=ROOT, capture_output=True)
    assert finish.returncode == 0, finish.stderr
    assert migration.sync(SyncOptions(until_lag=0)).pending == 0
    assert oracle(tgt) == oracle(src, mapped=True)
