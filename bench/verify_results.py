"""What ``verify.py`` measures and how it reports it: expected and found differences, one
tool's run on one case, the comparison of the two, and the table with the issue's targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import fmt

RELADIFF_INSTALL = "pip install 'reladiff[postgresql,mysql]'"


@dataclass(frozen=True)
class Expected:
    """What a verify must find: keys missing from / extra in the target, changed keys with
    the column that differs."""

    missing: frozenset[str] = frozenset()
    extra: frozenset[str] = frozenset()
    changed: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed)



# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    source: str  # "pg" or "mysql"
    target_db: str
    expected: Expected


@dataclass
class Findings:
    """Keys a tool reported: missing, extra, and changed (with columns, when it names them)."""

    missing: set[str] = field(default_factory=set)
    extra: set[str] = field(default_factory=set)
    changed: dict[str, set[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed)

    def summary(self) -> str:
        return f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.changed)} changed"


@dataclass
class Run:
    """One tool on one case: its time, peak RSS, what it found and whether that is right."""

    seconds: float | None = None
    rss_mb: float | None = None
    ok: bool = False  # ran to its end and produced a result
    agrees: bool | None = None  # found exactly the expected differences
    verdict: str = "not run"
    notes: list[str] = field(default_factory=list)
    variant: str = ""


def best(runs: list[Run]) -> Run:
    """The fastest of a measurement's repeats, with the highest peak RSS; a failure wins, and
    so does a repeat whose findings disagree."""
    failed = [r for r in runs if not r.ok] or [r for r in runs if r.agrees is False]
    if failed:
        return failed[0]
    fastest = min(runs, key=lambda r: r.seconds or 0.0)
    fastest.rss_mb = max(r.rss_mb or 0.0 for r in runs)
    return fastest


def compare(found: Findings, expected: Expected, columns: bool) -> tuple[bool, str, list[str]]:
    """(exact match?, short verdict, notes) of ``found`` against ``expected``."""
    notes: list[str] = []
    wrong = {
        "missing": (found.missing - expected.missing, expected.missing - found.missing),
        "extra": (found.extra - expected.extra, expected.extra - found.extra),
        "changed": (found.changed.keys() - expected.changed.keys(),
                    expected.changed.keys() - found.changed.keys()),
    }
    for kind, (more, fewer) in wrong.items():
        if more:
            notes.append(f"{len(more):,} {kind} key(s) not expected, e.g. {_some(more)}")
        if fewer:
            notes.append(f"{len(fewer)} expected {kind} key(s) not reported: {_some(fewer)}")
    if columns:
        for key, column in expected.changed.items():
            got = found.changed.get(key)
            if got is not None and got != {column}:
                notes.append(f"key {key}: changed columns {sorted(got)}, expected [{column!r}]")
    if not notes:
        return True, f"exact: {found.summary()}" if found.count else "exact: none", []
    extra_keys = sum(len(more) for more, _ in wrong.values())
    verdict = (f"{extra_keys:,} FALSE POSITIVE(S)" if extra_keys else "WRONG") + (
        f": {found.summary()}")
    return False, verdict, notes


def _some(keys: Any, n: int = 3) -> str:
    ordered = sorted(keys, key=lambda k: (len(k), k))
    return ", ".join(ordered[:n]) + (", ..." if len(ordered) > n else "")


# -- report --------------------------------------------------------------------------------


@dataclass
class Row:
    case: Case
    datamove: Run
    reladiff: Run | None
    floor: Run
    same_columns: Run | None = None
    """datamove diff of only the columns reladiff compared, where it refused some."""

    @property
    def reladiff_ratio(self) -> float | None:
        return _ratio(self.reladiff, self.datamove)

    @property
    def like_for_like(self) -> float | None:
        """reladiff / datamove on the same columns."""
        return _ratio(self.reladiff, self.same_columns or self.datamove)

    @property
    def floor_ratio(self) -> float | None:
        d, f = self.datamove, self.floor
        return d.seconds / f.seconds if d.ok and f.ok and d.seconds and f.seconds else None


def _ratio(slow: Run | None, fast: Run | None) -> float | None:
    if slow and fast and slow.ok and fast.ok and slow.seconds and fast.seconds:
        return slow.seconds / fast.seconds
    return None


def print_table(rows: list[Row]) -> None:
    width = max(len(r.case.label) for r in rows)
    print(f"{'case':<{width}}  {'datamove s':>10}  {'reladiff s':>10}  {'rd/dm':>6}  "
          f"{'dm rd-cols s':>12}  {'rd/dm':>6}  {'floor s':>7}  {'dm/floor':>8}  "
          f"{'dm RSS MB':>9}  findings: datamove | reladiff")
    for r in rows:
        dm, rd, floor, same = r.datamove, r.reladiff, r.floor, r.same_columns
        print(f"{r.case.label:<{width}}  {fmt(dm.seconds if dm.ok else None, '10.2f')}  "
              f"{fmt(rd.seconds if rd and rd.ok else None, '10.2f')}  "
              f"{fmt(r.reladiff_ratio, '6.2f')}  "
              f"{fmt(same.seconds if same and same.ok else None, '12.2f')}  "
              f"{fmt(r.like_for_like if same else None, '6.2f')}  "
              f"{fmt(floor.seconds if floor.ok else None, '7.2f')}"
              f"  {fmt(r.floor_ratio, '8.2f')}  {fmt(dm.rss_mb, '9.1f')}  {dm.verdict} | "
              + (f"{rd.verdict} [{rd.variant}]" if rd else "not run"))


def print_notes(rows: list[Row]) -> None:
    for r in rows:
        for tool, run in (("datamove", r.datamove), ("reladiff", r.reladiff),
                          ("datamove diff, reladiff's columns", r.same_columns)):
            if run is None:
                continue
            extra = [f"columns compared in Python ({run.variant})"] if run.variant.startswith(
                "merge") else []
            for note in [*extra, *run.notes]:
                print(f"  {r.case.label}, {tool}: {note}")


def verdict(label: str, values: list[float | None], target: str,
            test: Callable[[float], bool]) -> None:
    known = [v for v in values if v is not None]
    met = "n/a" if not known else "met" if len(known) == len(values) and all(
        test(v) for v in known) else "MISSED"
    shown = ", ".join(fmt(v, ".2f").strip() for v in values)
    print(f"{label:<44} {shown:<28} target {target}: {met}")


def report(rows: list[Row], reladiff: list[str] | None) -> bool:
    print()
    print_table(rows)
    print()
    print("floor: one aggregate scan per side (every value as text, no hashing), both sides run"
          " concurrently; seconds are wall time of child processes, fastest of --repeat.")
    if reladiff:
        print("reladiff: the faster of its defaults and -j 2, shown in [brackets].")
    else:
        print(f"reladiff: not run (--skip-reladiff, or not installed: `{RELADIFF_INSTALL}`).")
    print()
    print_notes(rows)
    print()
    all_columns = [r for r in rows if r.same_columns is None]
    verdict("reladiff s / datamove s, all-columns cases", [r.reladiff_ratio for r in all_columns],
            ">= 2", lambda v: v >= 2)
    verdict("reladiff s / datamove s, same columns, every case",
            [r.like_for_like for r in rows], ">= 1", lambda v: v >= 1)
    verdict("datamove s / floor s, identical tables",
            [r.floor_ratio for r in rows if not r.case.expected.count], "<= 2", lambda v: v <= 2)
    verdict("datamove peak RSS MB", [r.datamove.rss_mb for r in rows], "< 300",
            lambda v: v < 300)
    right = all(r.datamove.agrees and (r.same_columns is None or r.same_columns.agrees)
                for r in rows)
    print(f"{'datamove findings exact':<44} {'yes' if right else 'NO':<28}")
    return right
