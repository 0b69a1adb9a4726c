"""What every benchmark here shares: running a child process and measuring it, and printing.

Imported by the scripts in this folder, which put the folder *last* on ``sys.path``: the name
``copy.py`` (the issue's) would otherwise shadow the standard library's ``copy``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    """One child process: wall seconds, peak RSS of its largest process, exit code."""

    seconds: float
    rss_mb: float
    returncode: int


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def measure(cmd: Sequence[str], log: Path, stdout: Path | None = None) -> Measured:
    """Run ``cmd`` to its end; stderr goes to ``log``, and so does stdout unless ``stdout``."""
    with log.open("wb") as err, (stdout or Path(os.devnull)).open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, cwd=log.parent, stderr=err,
            stdout=out if stdout else err,
        )
        # wait4, not getrusage(RUSAGE_CHILDREN): the latter is a maximum over every child so far.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode)  # ru_maxrss is in KiB


def datamove_command() -> list[str]:
    script = Path(sys.executable).with_name("datamove")
    return [str(script)] if script.exists() else [sys.executable, "-m", "datamove"]


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted by ``spec``, or a dash as wide as ``spec`` asks."""
    if value is None:
        return format("-", ">" + spec.split(".")[0].replace(",", ""))
    return format(value, spec)
