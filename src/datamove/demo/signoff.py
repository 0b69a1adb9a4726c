"""The demo's last stage: reconciliation rounds after go-live, support traces one remapped
customer, the report is written with its checklist ticked by evidence, and a sign-off is
recorded against that evidence.

The demo's spec declares a reconciliation window of seconds (``signoff.reconcile_window``), so
two rounds a second apart cover it; a real migration declares 24–72 hours."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from datamove.migration import Migration


def sign_off(migration: Migration, base: Path, out: Console) -> Path:
    """Reconcile twice, trace the first legacy customer, write ``report.html`` and sign off;
    returns its path."""
    reconciled = migration.reconcile(every=1.0, for_=2.5)
    passed = sum(c.ok for r in reconciled.rounds for c in r.checks)
    out.print(
        f"\n[bold]16. reconcile[/] {len(reconciled.rounds)} round(s) after go-live "
        f"({', '.join(f'{r.kind}, {r.direction}' for r in reconciled.rounds)}): "
        f"{passed} check(s) passed, {'all green' if reconciled.ok else 'a round FAILED'}"
    )
    with closing(sqlite3.connect(base / "legacy.sqlite")) as db:
        (first,) = db.execute("SELECT min(cust_id) FROM customers").fetchone()
    found = migration.trace("customers", str(first))
    new_key = ", ".join(found.target_key or ["-"])
    out.print(f"\n[bold]17. trace[/] customer {first} (legacy key) has the new key {new_key}")
    for column in found.columns:
        steps = " → ".join(f"{escape(step)}: {escape(value)}" for step, value in column.steps)
        out.print(f"   {column.column:<12} {steps}")
    if found.chunk is not None:
        out.print(
            f"   [dim]copied by chunk {found.chunk['chunk_no']} of run "
            f"{found.chunk['run_id'][:8]}; {len(found.changes)} sync change(s) since[/]"
        )
    result = migration.report("html", base / "report.html")
    signed = migration.signoff("demo lead", role="migration owner")
    out.print(f"\n[bold]18. report[/] {escape(str(result.path))}")
    for line in result.report.lines:
        mark = "[green]☑[/]" if line.ticked else "[red]☐[/]"
        todo = "" if line.ticked else f"  [dim](missing: {escape(line.command)})[/]"
        out.print(f"   {mark} {escape(line.title)}{todo}")
    out.print(f"   signed off by demo lead: evidence digest {signed.digest[:12]}")
    return base / "report.html"
