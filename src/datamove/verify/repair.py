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
from datamove.core.keys import CanonKey, KeyValue
from datamove.state.store import ChunkState
from datamove.verify.result import TableDiff
from datamove.verify.runner import VerifyResult

REPAIR_DIFF_ROWS = 100_000
"""Differing rows located one by one before repair; past it, whole ranges are re-copied."""


def _key_text(key: Sequence[Any] | None, infinity: str) -> str:
    return infinity if key is None else "/".join(str(v) for v in key)


@dataclass(frozen=True)
class RepairedChunk:
    """A chunk ``repair`` copied again, and why: the differences verify found in its range."""

    table: str
    chunk_no: int
    lo: KeyValue | None
    hi: KeyValue | None
    reasons: tuple[str, ...]
    """One per differing key (``changed key 7: qty``) or unbisected range in the chunk."""

    @property
    def range_text(self) -> str:
        """The chunk's key range ``(lo, hi]``, ``-∞``/``+∞`` at the table's ends."""
        return f"({_key_text(self.lo, '-∞')}, {_key_text(self.hi, '+∞')}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "chunk_no": self.chunk_no,
            "lo": None if self.lo is None else list(self.lo),
            "hi": None if self.hi is None else list(self.hi),
            "reasons": list(self.reasons),
        }


def _why(diff: TableDiff) -> dict[CanonKey, str]:
    """Each differing key (canonical) → the difference verify's checksum found for it."""
    why = {
        k: f"missing in target (a recorded reject): key {_key_text(k, '')}" for k in diff.rejected
    }
    why |= {k: f"missing in target: key {_key_text(k, '')}" for k in diff.missing}
    why |= {k: f"extra in target: key {_key_text(k, '')}" for k in diff.extra}
    for row in diff.changed:
        why[row.key] = f"changed key {_key_text(row.key, '')}: {', '.join(row.columns)}"
    return why


def chunks_to_repair(diff: TableDiff, chunks: Sequence[ChunkState]) -> list[RepairedChunk]:
    """The chunks covering every differing key and every unresolved range, each with the
    differences that put it there, in chunk order.

    Keys are compared as the databases returned them; if they cannot be ordered against the
    stored chunk bounds (a type the driver returns differently), every chunk is repaired.
    """
    why = _why(diff)
    reasons: dict[int, list[str]] = {}
    try:
        for canon, key in diff.raw_keys.items():
            for c in chunks:
                if c.range.contains(_tuple(key)):
                    reasons.setdefault(c.chunk_no, []).append(why.get(canon, "differs"))
        for span in diff.unresolved:
            text = (
                f"keys ({_key_text(span.lo, '-∞')}, {_key_text(span.hi, '+∞')}] differ "
                "(not located row by row: past the repair's diff row limit)"
            )
            for c in chunks:
                if c.range.overlaps(span):
                    reasons.setdefault(c.chunk_no, []).append(text)
    except TypeError:
        unordered = "the differing keys cannot be placed in chunk ranges: every chunk re-copied"
        reasons = {c.chunk_no: [unordered] for c in chunks}
    return [
        RepairedChunk(diff.table, c.chunk_no, c.lo, c.hi, tuple(reasons[c.chunk_no]))
        for c in chunks
        if c.chunk_no in reasons
    ]


def _tuple(key: Any) -> KeyValue:
    return tuple(key) if isinstance(key, tuple | list) else (key,)


@dataclass
class RepairResult:
    """What ``repair`` found, re-copied, and what verify says afterwards."""

    before: VerifyResult
    chunks: list[RepairedChunk]
    """The chunks copied again, each with why."""
    run: RunResult | None
    after: VerifyResult

    @property
    def ok(self) -> bool:
        return self.after.ok

    @property
    def reopened(self) -> dict[str, list[int]]:
        """Per table, the numbers of the chunks copied again."""
        out: dict[str, list[int]] = {}
        for c in self.chunks:
            out.setdefault(c.table, []).append(c.chunk_no)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reopened": self.reopened,
            "chunks": [c.to_dict() for c in self.chunks],
            "rows_copied": sum(t.copied for t in self.run.tables) if self.run else 0,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }
