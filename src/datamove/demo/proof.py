"""The demo's proof: verify the copy, corrupt it silently, watch verify name every damaged row
and column, repair exactly those chunks, and verify green again."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from datamove.demo.commands import command
from datamove.migration import Migration
from datamove.verify.result import value_text
from datamove.verify.runner import VerifyOptions, VerifyResult

# (table, target column, what a real bug would have done, SQL doing it to one row)
CORRUPTIONS = (
    (
        "orders",
        "ordered_at",
        "timestamp shifted by one hour (a time zone bug)",
        "UPDATE orders SET ordered_at = datetime(ordered_at, '+1 hour') "
        "WHERE id = (SELECT min(id) FROM orders) RETURNING id",
    ),
    (
        "orders",
        "total",
        "a cent lost (float rounding)",
        "UPDATE orders SET total = total - 0.01 "
        "WHERE id = (SELECT min(id) + 1 FROM orders) RETURNING id",
    ),
    (
        "order_items",
        None,
        "row deleted (a chunk that half failed)",
        "DELETE FROM order_items WHERE id = (SELECT min(id) FROM order_items) RETURNING id",
    ),
    (
        "order_items",
        "sku",
        "string trimmed (a too-short column)",
        "UPDATE order_items SET sku = substr(sku, 1, 5) "
        "WHERE id = (SELECT max(id) FROM order_items) RETURNING id",
    ),
)


@dataclass
class Proof:
    """Keys the demo damaged, what verify found, and whether repair made it green."""

    damaged: list[tuple[str, int, str | None]] = field(default_factory=list)
    found: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(table, key, column or None for a missing row) as verify reported them."""
    verified_before: bool = False
    repaired: bool = False


def corrupt(target: Path) -> list[tuple[str, int, str | None]]:
    """Damage one row per ``CORRUPTIONS`` entry, behind datamove's back."""
    damaged = []
    with closing(sqlite3.connect(target)) as conn, conn:
        for table, column, _, sql in CORRUPTIONS:
            (key,) = conn.execute(sql).fetchone()
            damaged.append((table, int(key), column))
    return damaged


def findings(result: VerifyResult) -> list[tuple[str, str, str | None]]:
    """Every difference of a verify result as (table, key, column or None)."""
    out: list[tuple[str, str, str | None]] = []
    for diff in result.diffs:
        out += [(diff.table, "/".join(map(str, k)), None) for k in diff.missing + diff.extra]
        for row in diff.changed:
            key = "/".join(map(str, row.key))
            out += [(diff.table, key, column) for column in row.columns]
    return out


def prove(migration: Migration, target: Path, out: Console, spec: Path) -> Proof:
    """Steps 6–8 of the demo (``spec``: the spec, named in the commands it prints)."""
    proof = Proof()
    result = migration.verify()
    proof.verified_before = result.ok
    passed = sum(c.ok for c in result.checks)
    out.print(
        f"\n[bold]7. verify[/]  {passed}/{len(result.checks)} checks passed: counts, "
        "row-level checksums through the mapping, legacy keys, foreign keys"
    )

    proof.damaged = corrupt(target)
    out.print("\n[bold]8. silent corruption[/] of the target, behind datamove's back:")
    for (table, key, _), (_, _, what, _) in zip(proof.damaged, CORRUPTIONS, strict=True):
        out.print(f"   {table} id {key}: {what}")
    result = migration.verify(VerifyOptions(checks=("count", "checksum")))
    proof.found = findings(result)
    out.print(f"   verify: {len(proof.found)} difference(s), each named:")
    for diff in result.diffs:
        for k in diff.missing:
            out.print(f"   {diff.table} key {'/'.join(map(str, k))}: missing in the target")
        for row in diff.changed:
            for column, (was, now) in row.columns.items():
                out.print(
                    f"   {diff.table} key {'/'.join(map(str, row.key))} {column}: "
                    f"{escape(value_text(was))} → {escape(value_text(now))}"
                )

    repaired = migration.repair()
    proof.repaired = repaired.ok
    chunks = ", ".join(f"{t} {len(c)} chunk(s)" for t, c in repaired.reopened.items())
    state = "[green]all checks pass[/]" if repaired.ok else "[red]differences remain[/]"
    out.print(
        f"\n[bold]9. repair[/]  re-copied exactly the damaged chunks ({chunks}); "
        f"verify again: {state}"
    )
    by_hand = f"{command('verify', spec)}; {command('repair', spec)}"
    out.print(f"   [dim]the same by hand: {escape(by_hand)}[/]")
    return proof
