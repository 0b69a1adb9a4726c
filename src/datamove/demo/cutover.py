"""The demo's cutover: a rehearsal, a switch under a live application that follows the
read-path flag, a planted failure that fires a rollback trigger, the lossless rollback, and a
second switch that holds.

The application (``FlagWriter``) reads the flag (``datamove.flags.FlagClient``) before each
write and writes to the side it names: the legacy shop before the switch, the platform after.
Writes the fence refuses are counted, not lost: the application retries them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from datamove.cutover.runbook import CutoverReport
from datamove.demo.commands import command
from datamove.events import Event, Message
from datamove.flags import FlagClient
from datamove.migration import Migration
from datamove.sync.runner import SyncOptions

SECTION = """
cutover:                       # `datamove cutover SPEC`: the switch, as data
  mode: read_only_window
  gates: {max_lag: 30s, verified_within: 1h, rehearsed: true}
  flag: {name: read_path, value_old: legacy, value_new: platform}
  watch: {for: 4s, every: 1s}
  rollback:
    reverse: true              # capture the platform's writes from the switch on
    triggers:                  # the application logs its errors in app_errors
      - {query: "SELECT count(*) FROM app_errors", on: target, above: 0}
"""
"""Appended to the demo's spec (``shop.write_spec``)."""

ERRORS_DDL = "CREATE TABLE IF NOT EXISTS app_errors (at TEXT NOT NULL, what TEXT NOT NULL)"
PLANTED_AFTER = 5
"""Writes on the platform before the application logs the planted error."""


class FlagWriter(threading.Thread):
    """The application: relabels order items (their SKU) on whichever side the flag names, one
    transaction each, until stopped; a write the fence refuses is retried. Order items: every
    column of theirs goes back exactly, so the rollback returns each label as written."""

    def __init__(self, legacy: Path, platform: Path, client: FlagClient, items: list[int]):
        super().__init__(name="demo-flag-writer", daemon=True)
        self.paths = {"legacy": legacy, "platform": platform}
        self.client, self.items = client, items
        self.stop = threading.Event()
        self.plant = threading.Event()
        """Set: log an application error on the platform after ``PLANTED_AFTER`` writes."""
        self.written: dict[str, list[tuple[int, str]]] = {"legacy": [], "platform": []}
        self.refused = 0

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            side = str(self.client.get("read_path", default="legacy"))
            item, sku = self.items[n % len(self.items)], f"SKU-{side[0].upper()}{n}"
            key = "item_id" if side == "legacy" else "id"
            try:
                with closing(sqlite3.connect(self.paths[side], timeout=30)) as conn, conn:
                    conn.execute(f"UPDATE order_items SET sku = ? WHERE {key} = ?", (sku, item))
            except sqlite3.Error:  # the write fence: the application sees a clean error
                self.refused += 1
                time.sleep(0.05)
                continue
            self.written[side].append((item, sku))
            n += 1
            if side == "platform" and self.plant.is_set() and self._planted():
                self.plant.clear()
            time.sleep(0.02)

    def _planted(self) -> bool:
        if len(self.written["platform"]) < PLANTED_AFTER:
            return False
        with closing(sqlite3.connect(self.paths["platform"], timeout=30)) as conn, conn:
            conn.execute(
                "INSERT INTO app_errors VALUES (datetime('now'), ?)",
                ("checkout: SKU not found in the catalogue (a planted bug)",),
            )
        return True


@dataclass
class CutoverStory:
    """What the demo's cutover did, for the reader and the demo's test."""

    rehearsal_ok: bool = False
    rehearsal_seconds: float = 0.0
    first: CutoverReport | None = None
    second: CutoverReport | None = None
    after_switch: list[tuple[int, str]] = field(default_factory=list)
    """(item, sku) the application wrote on the platform after the first switch."""
    back_in_legacy: int = 0
    """How many of the items in ``after_switch`` the legacy shop holds at their last label
    after the rollback."""
    refused: int = 0
    last_labels: dict[int, str] = field(default_factory=dict)
    """Each item's last label the application wrote (either side) before the second switch."""


def _labels(db: Path, key: str, items: set[int]) -> dict[int, str]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(f"SELECT {key}, sku FROM order_items").fetchall()
    return {k: sku for k, sku in rows if k in items}


def cut_over(migration: Migration, base: Path, out: Console, spec: Path) -> CutoverStory:
    """Steps 12-15 of the demo: rehearse, switch under the application, roll back on the
    planted failure, switch again."""
    story = CutoverStory()
    legacy, platform = base / "legacy.sqlite", base / "platform.sqlite"
    with closing(sqlite3.connect(platform)) as conn, conn:
        conn.execute(ERRORS_DDL)

    def on_event(event: Event) -> None:
        if isinstance(event, Message) and event.text.startswith(("rollback", "watch")):
            out.print(f"   [dim]{escape(event.text)}[/]")

    started = time.monotonic()
    rehearsed = migration.cutover(rehearse=True, by="demo")
    story.rehearsal_seconds = time.monotonic() - started
    story.rehearsal_ok = bool(rehearsed.rehearsal) and all(c.ok for c in rehearsed.rehearsal)
    out.print(
        f"\n[bold]12. rehearsal[/] the whole runbook, then the rollback, on these databases: "
        f"{len(rehearsed.rehearsal)} step(s) timed in {story.rehearsal_seconds:.1f}s, recorded "
        "as evidence for the `rehearsed` gate"
    )

    with closing(sqlite3.connect(legacy)) as conn:
        items = [k for (k,) in conn.execute("SELECT item_id FROM order_items ORDER BY item_id")]
    client = FlagClient(f"sqlite:///{platform.as_posix()}", migration.spec.name, poll_interval=0.2)
    writer = FlagWriter(legacy, platform, client, items[:40])
    writer.start()
    try:
        time.sleep(0.5)
        writer.plant.set()
        out.print("\n[bold]13. cutover[/] under the live application, which follows the flag:")
        story.first = migration.cutover(by="demo", on_event=on_event)
        _show_first(story.first, out)
        writer.stop.set()
        writer.join()
        last = dict(writer.written["legacy"] + writer.written["platform"])
        story.last_labels = last
        story.after_switch = list(writer.written["platform"])
        relabelled = {i for i, _ in story.after_switch}
        held = _labels(legacy, "item_id", relabelled)
        story.back_in_legacy = sum(held.get(i) == last[i] for i in relabelled)
        story.refused = writer.refused
        out.print(
            f"   the application relabelled {len(story.after_switch)} order item(s) on the "
            f"platform "
            f"after the switch; after the rollback the legacy shop holds {story.back_in_legacy} "
            f"of the {len(relabelled)} item(s) with their last label, e.g.:"
        )
        for item in sorted(relabelled)[:2]:
            out.print(f"   legacy order_items {item}: sku {escape(repr(held.get(item)))}")
        out.print(f"   {writer.refused} write(s) refused by a fence and retried by the application")
    finally:
        writer.stop.set()
        client.close()

    with closing(sqlite3.connect(platform)) as conn, conn:
        conn.execute("DELETE FROM app_errors")  # the bug is fixed
    migration.sync(SyncOptions(until_lag=0))
    story.second = migration.cutover(by="demo", on_event=on_event)
    watch = story.second.watch
    out.print(
        f"\n[bold]15. cutover again[/] after the fix: flag {story.second.flag} = "
        f"{story.second.flag_value!r}; watched {watch.rounds if watch else 0} round(s), "
        "no trigger fired"
    )
    out.print(f"   [dim]the same by hand: {escape(command('cutover', spec))}[/]")
    return story


def _show_first(report: CutoverReport, out: Console) -> None:
    flip = next(s for s in report.steps if s.name == "flip")
    output = flip.record.output if flip.record else ""
    out.print(
        "   gates, fence, drain, final verify, sequences, reverse capture, flip "
        f"({escape(output or '-')}), then the watch"
    )
    watch = report.watch
    why = watch.why if watch else None
    out.print(
        f"\n[bold]14. rollback[/] a trigger fired during the watch ({escape(why or '-')}); "
        f"rolled back by itself: flag {report.flag} = {report.flag_value!r}"
    )
