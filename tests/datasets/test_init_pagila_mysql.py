"""``datamove init`` writes a spec that ``plan`` accepts: Pagila (PostgreSQL) → MariaDB.

Pagila's ``film.fulltext`` is a TSVECTOR, which MariaDB has no type for; ``init`` proposes
dropping it (with a TODO comment naming the alternative) instead of leaving a spec that
``plan`` refuses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamove", *args], capture_output=True, text=True, check=False
    )


def test_pagila_to_mariadb_init_then_plan_passes(
    pagila_postgresql: str, make_db: Callable[[str, str], str], tmp_path: Path
) -> None:
    target_url = make_db("mysql", "target")
    spec = tmp_path / "spec.yaml"
    init = _cli("init", "--source", pagila_postgresql, "--target", target_url, "-o", str(spec))
    assert init.returncode == 0, init.stderr
    assert "film.fulltext" in init.stderr and "drop" in init.stderr
    text = spec.read_text("utf-8")
    film = yaml.safe_load(text)["tables"]["film"]
    assert "fulltext" in film["drop"] and "fulltext" not in film["columns"]
    assert "TODO" in text
    plan = _cli("plan", str(spec))
    assert plan.returncode == 0, plan.stdout + plan.stderr
