"""``verify``: run every check, collect them all, then let the policy decide.

Per table in scope: **count**, **checksum** (the row-level diff: range checksums with
bisection, or the streaming merge for columns computed in Python), **legacy key** for
remapped tables and **foreign key** orphans; then the spec's aggregates, samples, invariants
and shadow queries. A check never stops the others: a failing SQL is a check in ``error``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from datamove.core.evidence import Check
from datamove.core.keys import CanonKey
from datamove.core.retry import retrying
from datamove.core.stop import signals_to_main_thread
from datamove.dialects.base import error_translator
from datamove.errors import TransientError, UsageError
from datamove.events import EventHandler, Message, ignore
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec, SyncMode
from datamove.state.store import StateStore
from datamove.verify import checks as default_checks
from datamove.verify.changed import canonical_keys, changed_keys_check
from datamove.verify.checksum import ChecksumDiff, sides
from datamove.verify.drift import KIND as DRIFT_KIND
from datamove.verify.drift import drift_checks
from datamove.verify.jsonmerge import fold, json_diff
from datamove.verify.mapped import MappedTable, map_table
from datamove.verify.merge import merge_diff
from datamove.verify.result import TableDiff
from datamove.verify.sample import sample_check
from datamove.verify.schema import schema_check

T = TypeVar("T")

KINDS = (
    "count",
    "checksum",
    "legacy_key",
    "foreign_key",
    "aggregates",
    "sample",
    "invariant",
    "shadow",
    "schema",
    "drift_keys",
)


@dataclass(frozen=True)
class VerifyOptions:
    tables: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    """Kinds of check to run (empty: all)."""
    max_diff_rows: int = 1000
    show_values: bool = False


@dataclass
class VerifyResult:
    checks: list[Check]
    diffs: list[TableDiff]
    seconds: float
    run_id: str | None = None
    failed: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_dict() for c in self.checks],
        }


class Verifier:
    """Verifies one plan's tables between its source and target."""

    def __init__(
        self,
        compiled: CompiledPlan,
        spec: MigrationSpec,
        options: VerifyOptions,
        on_event: EventHandler = ignore,
    ) -> None:
        plan, source, target = compiled.plan, compiled.source, compiled.target
        unknown = [k for k in options.checks if k not in KINDS]
        if unknown:
            raise UsageError(
                f"unknown check kind(s): {', '.join(unknown)}", hint=f"use {', '.join(KINDS)}"
            )
        configured = [c.table for c in spec.checks.aggregates]
        configured += [c.table for c in spec.checks.samples]
        unknown_tables = [t for t in configured if t not in plan.tables]
        if unknown_tables:
            raise UsageError(
                f"checks name table(s) not in the spec: {', '.join(unknown_tables)}",
                hint=f"tables are: {', '.join(plan.order)} (spec path: checks)",
            )
        missing = [t for t in options.tables if t not in plan.tables]
        if missing:
            raise UsageError(
                f"table(s) not in the spec: {', '.join(missing)}",
                hint=f"tables are: {', '.join(plan.order)}",
            )
        self.on_event = on_event
        self.plan = plan
        self.spec = spec
        self.source = source
        self.target = target
        self.options = options
        self.state = StateStore(target, spec.name)
        self.compiled = compiled
        self.online = spec.sync.mode is not SyncMode.none
        self.rejected: dict[str, set[tuple[Any, ...]]] = {}
        self.rejected_rows: dict[str, int] = {}

    def _wanted(self, kind: str) -> bool:
        return not self.options.checks or kind in self.options.checks

    def run(self, record_rejects: bool = True) -> VerifyResult:
        """Every check; each table's (and the configured ones) on connections of its own,
        retried from the start when a connection drops (``core.retry``)."""
        started = time.monotonic()
        tables = [t for t in self.plan.order if not self.options.tables or t in self.options.tables]
        out: list[Check] = []
        diffs: list[TableDiff] = []
        if record_rejects:
            self._retried("reading the recorded rejects", self._read_rejects)
        for name in tables:
            checks, diff = self._retried(f"verifying '{name}'", partial(self._verify_table, name))
            out.extend(checks)
            diffs.extend(diff)
        out.extend(self._retried("the configured checks", partial(self._configured_checks, tables)))
        if self._wanted(DRIFT_KIND):
            drift = partial(drift_checks, self.plan, self.source, tables, self.keyed_check)
            out.extend(self._retried("the dual-write drift keys", drift))
        return VerifyResult(out, diffs, time.monotonic() - started)

    def run_keys(self, keys: Mapping[str, Sequence[tuple[Any, ...]]]) -> VerifyResult:
        """The count check of every table in scope and its changed ``keys`` (source key
        values) compared through the mapping: the cutover's final verify after a green one
        (``verify.changed``)."""
        started = time.monotonic()
        self._retried("reading the recorded rejects", self._read_rejects)
        out: list[Check] = []
        for name in self.plan.order:
            body = partial(self._keyed_table, name, keys.get(name, ()))
            out.extend(self._retried(f"verifying the changed keys of '{name}'", body))
        return VerifyResult(out, [], time.monotonic() - started)

    def _keyed_table(self, name: str, keys: Sequence[tuple[Any, ...]]) -> list[Check]:
        with self.source.connect() as src, self.target.connect() as tgt:
            mapped = self._mapped(name, tgt)
            rejected = canonical_keys(mapped, self.rejected.get(name, set()))
            rows = self.rejected_rows.get(name, 0)
            return [
                default_checks.count_check(mapped, src, tgt, rows),
                changed_keys_check(
                    mapped,
                    keys,
                    (self.source, src),
                    (self.target, tgt),
                    rejected,
                    self.options.show_values,
                ),
            ]

    def keyed_check(self, name: str, keys: Sequence[tuple[Any, ...]], examples: int) -> Check:
        """Table ``name``'s ``keys`` (source key values) compared through the mapping, every
        difference up to ``examples`` kept: reconcile's re-checks and incremental rounds."""

        def body() -> Check:
            self._read_rejects()
            with self.source.connect() as src, self.target.connect() as tgt:
                mapped = self._mapped(name, tgt)
                rejected = canonical_keys(mapped, self.rejected.get(name, set()))
                show = self.options.show_values
                side = (self.source, src), (self.target, tgt)
                return changed_keys_check(mapped, keys, *side, rejected, show, examples)

        return self._retried(f"comparing keys of '{name}'", body)

    def mapped_table(self, name: str) -> MappedTable:
        """Table ``name`` as verify compares it (its key columns' canonical forms)."""
        with self.target.connect() as tgt:
            return self._mapped(name, tgt)

    def _retried(self, what: str, step: Callable[[], T]) -> T:
        def retried(attempt: int, err: TransientError, delay: float) -> None:
            self.on_event(Message(f"{what}: {err.message}; retrying in {delay:.1f}s", "warning"))

        return retrying(step, error_translator(self.source, self.target), retried)

    def _read_rejects(self) -> None:
        with self.target.connect() as tgt:
            self.rejected = self._rejects(tgt)
            if self.rejected:
                self.rejected_rows = self.state.rejected_rows(tgt)

    def _verify_table(self, name: str) -> tuple[list[Check], list[TableDiff]]:
        diffs: list[TableDiff] = []
        with (
            self.source.connect() as src,
            self.target.connect() as tgt,
            self.target.connect() as tgt2,
        ):
            mapped = self._mapped(name, tgt)
            rejected = self.rejected.get(name, set())
            return self._table(mapped, src, tgt, tgt2, rejected, diffs), diffs

    def _configured_checks(self, tables: list[str]) -> list[Check]:
        with self.source.connect() as src, self.target.connect() as tgt:
            return self._configured(src, tgt, tables)

    def _mapped(self, name: str, tgt: Connection) -> MappedTable:
        table = self.plan.tables[name]
        overrides = self.target.reflect_overrides(tgt, table.target_table)
        digits = self.spec.checks.float_digits
        return map_table(self.plan, self.compiled[name], digits, overrides)

    def _rejects(self, tgt: Connection) -> dict[str, set[tuple[Any, ...]]]:
        """Keys the copy recorded as rejects, per table (their rows are missing by design)."""
        return self.state.rejected_keys(tgt) if self.state.exists(tgt) else {}

    def _table(
        self,
        mapped: MappedTable,
        src: Connection,
        tgt: Connection,
        tgt2: Connection,
        rejected: set[tuple[Any, ...]],
        diffs: list[TableDiff],
    ) -> list[Check]:
        plan = mapped.plan
        out: list[Check] = []
        reject_keys = canonical_keys(mapped, rejected)
        checksum = None
        if self._wanted("checksum"):
            checksum, diff = self._diff(mapped, src, tgt, tgt2, reject_keys)
            diffs.append(diff)
        if self._wanted("count"):
            # The checksum's scans counted both sides exactly: no second scan for the count
            # (a merge alone counts the source after the copy's conversion: not the same).
            counted = None
            if checksum is not None and checksum.status != "error" and mapped.summed:
                counted = (diff.source_rows, diff.target_rows)
            rejected_rows = self.rejected_rows.get(plan.name, 0)
            out.append(default_checks.count_check(mapped, src, tgt, rejected_rows, counted))
        if checksum is not None:
            out.append(checksum)
        if self._wanted("legacy_key"):
            legacy = default_checks.legacy_key_check(plan, tgt)
            out.extend([legacy] if legacy else [])
        if self._wanted("foreign_key"):
            out.extend(
                default_checks.foreign_key_checks(plan, self.plan.tables, tgt, self.rejected)
            )
        if self._wanted("schema"):
            steps = self.state.step_statuses(tgt, plan.name) if self.state.exists(tgt) else {}
            out.append(schema_check(plan, self.target, tgt, steps, self.online))
        return out

    def _diff(
        self,
        mapped: MappedTable,
        src: Connection,
        tgt: Connection,
        tgt2: Connection,
        reject_keys: set[CanonKey],
    ) -> tuple[Check, TableDiff]:
        """The row-level diff of one table, as a check."""
        name = f"{mapped.name}: checksum"
        diff = TableDiff(mapped.name, mapped.method)

        def body() -> Check:
            opts = self.options
            # JSON across engines is compared in Python while the databases checksum the rest.
            beside = mapped.json_beside
            part = TableDiff(mapped.name, mapped.method)
            with ThreadPoolExecutor(
                1, thread_name_prefix="dm-json", initializer=signals_to_main_thread
            ) as pool:
                json_done = pool.submit(self._json_diff, mapped, part) if beside else None
                if mapped.summed:
                    s_side, t_side = sides(mapped, (self.source, src), (self.target, tgt))
                    checksum = ChecksumDiff(
                        mapped, s_side, t_side, opts.max_diff_rows, opts.show_values
                    )
                    checksum.run(diff)
            if json_done is not None:
                json_done.result()
                fold(diff, part, opts.max_diff_rows)
            elif mapped.in_python:
                merge_diff(
                    mapped,
                    (self.source, src),
                    (self.target, tgt2),
                    diff,
                    opts.max_diff_rows,
                    opts.show_values,
                    with_keys=not mapped.summed,
                    lookups=tgt,
                )
            explained = [k for k in diff.missing if k in reject_keys]
            diff.rejected = explained
            diff.missing = [k for k in diff.missing if k not in reject_keys]
            details: dict[str, Any] = diff.to_dict()
            if mapped.python_reasons:
                details["compared_in_python"] = mapped.python_reasons
            status = "failed" if diff.differences else "passed"
            actual = (
                f"{len(diff.missing)} missing, {len(diff.extra)} extra, "
                f"{len(diff.changed)} changed"
                + (f", {diff.not_fetched}+ more" if diff.not_fetched else "")
            )
            return Check(name, "checksum", mapped.name, status, "0 differences", actual, details)

        return default_checks.timed(name, "checksum", mapped.name, body), diff

    def _json_diff(self, mapped: MappedTable, part: TableDiff) -> None:
        """``jsonmerge`` on connections of its own (the checksum holds the others)."""
        with self.source.connect() as src, self.target.connect() as tgt:
            opts = self.options
            json_diff(
                mapped,
                (self.source, src),
                (self.target, tgt),
                part,
                opts.max_diff_rows,
                opts.show_values,
            )

    def _configured(self, src: Connection, tgt: Connection, tables: list[str]) -> list[Check]:
        out: list[Check] = []
        spec = self.spec.checks
        for agg in spec.aggregates if self._wanted("aggregates") else []:
            if agg.table in tables:
                mapped = self._mapped(agg.table, tgt)
                out.append(default_checks.aggregate_check(agg, mapped, src, tgt))
        for smp in spec.samples if self._wanted("sample") else []:
            if smp.table in tables:
                mapped = self._mapped(smp.table, tgt)
                out.append(
                    sample_check(
                        mapped,
                        smp.rows,
                        (self.source, src),
                        (self.target, tgt),
                        self.options.show_values,
                    )
                )
        if not self.options.tables:
            for inv in self.spec.invariants if self._wanted("invariant") else []:
                out.append(default_checks.query_check(inv, "invariant", src, tgt))
            for shadow in spec.shadow if self._wanted("shadow") else []:
                out.append(default_checks.query_check(shadow, "shadow", src, tgt))
        return out
