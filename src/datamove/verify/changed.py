"""The changed-keys check: given source keys, each row compared through the mapping.

The cutover's final verify under the fence: a green full verify proved every row unchanged
since its mark, so only the keys the changelog shows changed after it are fetched from both
sides (``sample``'s keyed reads: the copy's conversion, canonical form) and compared. A key
gone from the source (deleted, or now out of scope) must be gone from the target too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from datamove.core.canonical import canonical
from datamove.core.evidence import Check
from datamove.dialects.base import Dialect
from datamove.verify.checks import EXAMPLES, timed
from datamove.verify.mapped import MappedTable
from datamove.verify.result import shown
from datamove.verify.sample import source_values, target_values

BATCH = 500
"""Keys per keyed read (one IN list)."""


def changed_keys_check(
    mapped: MappedTable,
    keys: Sequence[tuple[Any, ...]],
    source: tuple[Dialect, Connection],
    target: tuple[Dialect, Connection],
    rejected: set[tuple[str | None, ...]],
    show_values: bool,
    examples: int = EXAMPLES,
) -> Check:
    """``keys`` (source key values) equal on both sides, or absent from both; a key the
    copy or sync recorded as a reject (``rejected``, canonical) may be missing. The details
    keep the first ``examples`` differences."""
    name = f"{mapped.name}: changed keys"

    def body() -> Check:
        differences: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH):
            part = list(keys[start : start + BATCH])
            s_rows = source_values(mapped, part, source, target[1])
            t_rows = target_values(mapped, part, target)
            differences += _differences(mapped, s_rows, t_rows, rejected, show_values)
        status = "failed" if differences else "passed"
        return Check(
            name,
            "changed_keys",
            mapped.name,
            status,
            f"{len(keys)} changed key(s) equal",
            f"{len(keys) - len(differences)} equal, {len(differences)} differ",
            {"keys": len(keys), "differences": differences[:examples]},
        )

    return timed(name, "changed_keys", mapped.name, body)


Values = dict[tuple[str | None, ...], list[str | None]]


def _differences(
    mapped: MappedTable,
    s_rows: Values,
    t_rows: Values,
    rejected: set[tuple[str | None, ...]],
    show_values: bool,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, s in s_rows.items():
        t = t_rows.get(key)
        if t is None:
            if key not in rejected:
                out.append({"key": list(key), "missing": True})
            continue
        cols = {
            c.name: [shown(a, c.pii, show_values), shown(b, c.pii, show_values)]
            for c, a, b in zip(mapped.columns, s, t, strict=True)
            if a != b
        }
        if cols:
            out.append({"key": list(key), "columns": cols})
    out += [{"key": list(key), "extra": True} for key in t_rows if key not in s_rows]
    return out


def canonical_keys(mapped: MappedTable, keys: set[tuple[Any, ...]]) -> set[tuple[str | None, ...]]:
    """Raw key values in the canonical form the keyed reads use."""
    return {
        tuple(canonical(v, k.canon) for v, k in zip(key, mapped.keys, strict=True)) for key in keys
    }
