"""What verification produces: a row-level table diff and the recorded Checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from datamove.core.keys import CanonKey, KeyRange, KeyValue
from datamove.redact import mask_value


@dataclass
class ChangedRow:
    """A row on both sides whose mapped values differ: per column (source, target) shown."""

    key: CanonKey
    columns: dict[str, tuple[str | None, str | None]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "columns": {c: {"source": s, "target": t} for c, (s, t) in self.columns.items()},
        }


@dataclass
class TableDiff:
    """Every difference between mapping(source) and target for one table."""

    table: str
    method: str
    source_rows: int = 0
    target_rows: int = 0
    missing: list[CanonKey] = field(default_factory=list)
    """In the source (in scope), not in the target."""
    extra: list[CanonKey] = field(default_factory=list)
    """In the target, not in the source."""
    changed: list[ChangedRow] = field(default_factory=list)
    rejected: list[CanonKey] = field(default_factory=list)
    """Missing rows that the copy recorded as rejects (explained, not failures)."""
    not_fetched: int = 0
    """Differences beyond ``max_diff_rows``: counted (at least this many), not fetched."""
    ranges: int = 0
    ranges_differing: int = 0
    queries: int = 0
    digest: str = ""
    """How rows were digested: ``md5`` of canonical text, or ``native`` (the engine's own
    type hashes over stored values, between two databases of one engine)."""
    raw_keys: dict[CanonKey, KeyValue] = field(default_factory=dict, repr=False)
    """The differing rows' keys as the database holds them (source key or legacy key)."""
    unresolved: list[KeyRange] = field(default_factory=list, repr=False)
    """Differing key ranges ``(lo, hi]`` not bisected (past ``max_diff_rows``)."""

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed) + self.not_fetched

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "method": self.method,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": [list(k) for k in self.missing],
            "extra": [list(k) for k in self.extra],
            "changed": [c.to_dict() for c in self.changed],
            "rejected": [list(k) for k in self.rejected],
            "not_fetched": self.not_fetched,
            "ranges": self.ranges,
            "ranges_differing": self.ranges_differing,
            "queries": self.queries,
            "digest": self.digest,
        }


def key_order(key: CanonKey) -> tuple[tuple[int, Any], ...]:
    """Canonical keys in the databases' key order: numbers numerically, text by code point
    (which is how ranges compare text keys on every engine)."""
    out: list[tuple[int, Any]] = []
    for part in key:
        try:
            out.append((0, Decimal(part or "")))
        except InvalidOperation:
            out.append((1, part or ""))
    return tuple(out)


class Masked(str):
    """A PII value masked for output (``str(us****, len=9)``): text shows it as is, not
    quoted like a value; JSON holds it as a string."""

    __slots__ = ()


def shown(value: str | None, pii: bool, show_values: bool) -> str | None:
    """A canonical value as outputs hold it: NULL is ``None``, a PII column's value
    ``Masked`` unless ``show_values``, any other value its canonical text, whole (the text
    rendering shortens; JSON keeps every value exact, a decimal as ``"9.99"``)."""
    if value is None:
        return None
    if pii and not show_values:
        return Masked(mask_value(value))
    return value


def value_text(value: str | None) -> str:
    """A compared value in text: NULL bare, a masked value as is, any other value quoted
    (so '' and 'NULL' are told from NULL) and shortened past 80 characters."""
    if value is None:
        return "NULL"
    text = value if isinstance(value, Masked) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
