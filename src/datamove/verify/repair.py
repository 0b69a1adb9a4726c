"""``repair``: which committed chunks hold the rows verification found different.

A chunk is a key range ``(lo, hi]``; re-copying it (delete the range, copy it again, one
transaction) puts back missing rows, removes extra ones and rewrites changed ones, and leaves
every other chunk alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datamove.copy import RunResult
from datamove.core.keys import KeyValue
from datamove.state.store import ChunkState
from datamove.verify.result import TableDiff
from datamove.verify.runner import VerifyResult

REPAIR_DIFF_ROWS = 100_000
"""Differing rows located one by one before repair; past it, whole ranges are re-copied."""


def chunks_to_repair(diff: TableDiff, chunks: Sequence[ChunkState]) -> list[int]:
    """Numbers of the chunks covering every differing key and every unresolved range.

    Keys are compared as the databases returned them; if they cannot be ordered against the
    stored chunk bounds (a type the driver returns differently), every chunk is repaired.
    """
    wanted: set[int] = set()
    try:
        for key in diff.raw_keys.values():
            wanted.update(c.chunk_no for c in chunks if c.range.contains(_tuple(key)))
        for span in diff.unresolved:
            wanted.update(c.chunk_no for c in chunks if c.range.overlaps(span))
    except TypeError:
        return [c.chunk_no for c in chunks]
    return sorted(wanted)


def _tuple(key: Any) -> KeyValue:
    return tuple(key) if isinstance(key, tuple | list) else (key,)


@dataclass
class RepairResult:
    """What ``repair`` found, re-copied, and what verify says afterwards."""

    before: VerifyResult
    reopened: dict[str, list[int]]
    """Per table, the chunks copied again."""
    run: RunResult | None
    after: VerifyResult

    @property
    def ok(self) -> bool:
        return self.after.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reopened": self.reopened,
            "rows_copied": sum(t.copied for t in self.run.tables) if self.run else 0,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }
