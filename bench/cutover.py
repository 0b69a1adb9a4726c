"""The cutover's write outage under a live writer: how long the source refuses writes.

``python bench/cutover.py`` builds the ``orders`` table of ``bench/copy.py`` (``--rows`` rows,
default 1,000,000) server-side in a scratch source database ``dm_bc_src`` (PostgreSQL, then
MariaDB; ``--source pg`` or ``--source mariadb`` runs only one), and a spec with ``sync:
{mode: triggers}`` and a ``cutover:`` section (gate ``max_lag: 5s``, the default read-path
flag). For each source, ``--repeat`` times (default 1; each time into a fresh PostgreSQL
target ``dm_bc_tgt_pg`` / ``dm_bc_tgt_my``):

1. ``datamove capture install SPEC`` (a fresh changelog each time), then a writer process
   starts writing ``--rate`` writes/s (default 500; single-statement autocommitted
   UPDATE/INSERT/DELETE, 60/25/15, ``writers.py --fenced-ok``) into the source, and keeps
   writing to the end;
2. ``datamove run SPEC`` (the backfill), then ``datamove sync SPEC --until-lag 0``: the
   backlog drained beforehand, under the writer; then the writer is paused (SIGSTOP; on
   SIGCONT it goes on at its rate, no burst) for ``sync --until-lag 0`` and ``datamove verify
   SPEC`` (timed on its own): the green verify whose changelog mark lets the cutover's final
   verify check only the keys changed since (``cutover.final``); the writer resumes;
3. ``datamove cutover SPEC --json`` as a child process, under the writer: its wall time and
   peak RSS (as ``copy.py`` measures them), and from the steps it recorded in the state store
   (each step's ``started_at`` and ``updated_at``, read from its ``--json`` report) every
   step's duration and the **fenced window**: the ``fence`` step's start to the ``flip``
   step's end, the time the application's writes are refused before the read path points at
   the target;
4. the writer stops (SIGTERM) and reports the writes the fence refused (the source stays
   fenced after the flip, so it is refused until it stops) and the first refused write's
   time, and the last accepted one's, both against the fence step's start.

The attempt with the shortest fenced window is reported. The goal (the issue's): under 5 s
fenced with the backlog drained beforehand; the anchor: Vitess reports its switches under 1 s,
inside its own proxy layer. The final verify inside the fence checks the keys changed since
that green verify (or the full verify when it cannot: the table says which, and its share of
the window).

5. After the last attempt, the rollback (the spec has ``rollback: {reverse: true}``, so the
   cutover captured the target's writes from the switch on): a writer writes to the *target*
   (``--rate``) for ``--write-target-for`` seconds (default 10), then ``datamove rollback SPEC
   --json`` runs under it: its wall time, each step's time, the **rollback window** (the
   ``fence-target`` step's start to the ``unfence-source`` step's end: neither side takes the
   application's writes), the replay alone and the changes it replayed into the source.

A PostgreSQL server (``--pg-url``), a MariaDB server (``--mysql-url``) and datamove with its
PostgreSQL and MySQL extras in the running Python are needed (the ``datamove`` script next to
``sys.executable`` is what runs). Every scratch database (``dm_bc_*``) is dropped at the end,
after a failure too, and every child process this script started is stopped.
"""

from __future__ import annotations

import benchpath  # noqa: F401 - first of all (see benchpath.py)

# isort: split
import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness import (
    Servers,
    datamove_command,
    fmt,
    make_mysql_orders,
    make_pg_orders,
    measure,
    say,
    tail,
)
from writers import Writers, WriterStats

PREFIX = "dm_bc_"
SPEC_NAME = "bench_cutover"
SOURCE_DB = "dm_bc_src"
TARGET_DB = {"pg": "dm_bc_tgt_pg", "mysql": "dm_bc_tgt_my"}
ENGINE_LABEL = {"pg": "PG -> PG", "mysql": "MariaDB -> PG"}
STEPS = ("gates", "fence", "drain", "verify", "invariants", "sequences", "validate",
         "reverse-capture", "flip", "unfence-target")
BACK_STEPS = ("fence-target", "replay", "verify", "flip-back", "unfence-source")
GOAL_FENCED = 5.0  # seconds: the goal
VITESS_SWITCH = 1.0  # seconds: Vitess's reported switch, inside its own proxy layer
OPEN_ENDED = 24 * 3600.0  # the writer's --seconds: it is stopped by a signal long before
CUTOVER_SPEC = """\
cutover:
  mode: read_only_window
  gates: {max_lag: 5s}
  rollback: {reverse: true}
"""


# -- figures -------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One cutover under the writer."""

    backfill_s: float
    predrain_changes: int
    predrain_s: float
    verify_s: float  # the green verify before the cutover (writer paused), its own timing
    final_verify: str  # what the runbook's verify step checked: "N changed keys" or "full"
    wall_s: float
    rss_mb: float
    steps: dict[str, float]  # seconds each built-in step took, from its record
    fenced_s: float  # the fence step's start to the flip step's end
    drained_in_fence: int | None
    writer: WriterStats
    first_refused_s: float | None  # after the fence step's start
    last_accepted_s: float | None  # after the fence step's start (negative: before it)
    flag: Any

    @property
    def verify_share(self) -> float | None:
        return self.steps.get("verify", 0.0) / self.fenced_s if self.fenced_s else None


@dataclass
class Back:
    """The rollback after the last cutover, the application having written to the target."""

    target_writes: int  # accepted by the target after the flip (all before its fence)
    wall_s: float
    steps: dict[str, float]
    window_s: float  # fence-target's start to unfence-source's end: no side takes writes
    replayed: int | None  # captured changes the replay applied
    refused: int  # target writes the target's fence refused during the rollback


@dataclass
class Figures:
    """Every attempt for one source engine; the one with the shortest fenced window counts."""

    engine: str
    attempts: list[Attempt] = field(default_factory=list)
    rollback: Back | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def best(self) -> Attempt | None:
        return min(self.attempts, key=lambda a: a.fenced_s, default=None)


# -- the scenario --------------------------------------------------------------------------


class Scenario:
    """One source engine: its source, a fresh target per attempt, the writer running."""

    def __init__(self, servers: Servers, tmp: Path, engine: str,
                 args: argparse.Namespace) -> None:
        self.servers, self.tmp, self.engine, self.args = servers, tmp, engine, args
        self.figures = Figures(engine)
        self.writers: list[Writers] = []
        base = servers.pg_url if engine == "pg" else servers.mysql_url
        self.source = f"{base}/{SOURCE_DB}"
        self.target_db = TARGET_DB[engine]
        self.spec = tmp / f"{engine}.yaml"
        self.label = ENGINE_LABEL[engine]

    def prepare(self) -> None:
        if self.engine == "pg":
            make_pg_orders(self.servers, SOURCE_DB, self.args.rows)
        else:
            make_mysql_orders(self.servers, SOURCE_DB, self.args.rows)
        target = f"{self.servers.pg_url}/{self.target_db}"
        # JSON strings are YAML strings: any character in a URL is quoted safely.
        self.spec.write_text(
            f"name: {SPEC_NAME}\nsource: {json.dumps(self.source)}\n"
            f"target: {json.dumps(target)}\nbatch_size: 50000\n"
            "sync: {mode: triggers}\ntables:\n  orders:\n    key: id\n" + CUTOVER_SPEC,
            encoding="utf-8",
        )

    def must(self, name: str, *args: str) -> tuple[float, float, Path]:
        """``datamove --quiet ARGS`` to its end; (seconds, peak RSS MB, stdout file)."""
        log, out = self.tmp / f"{self.engine}-{name}.log", self.tmp / f"{self.engine}-{name}.out"
        measured = measure([*datamove_command(), "--quiet", *args], log, stdout=out)
        if measured.returncode != 0:
            raise RuntimeError(f"datamove {args[0]} failed (exit {measured.returncode}):\n"
                               f"{tail(out)}\n{tail(log)}")
        return measured.seconds, measured.rss_mb, out

    def stop_children(self) -> None:
        for writers in self.writers:
            writers.stop()

    def run(self) -> None:
        self.prepare()
        spec = str(self.spec)
        for attempt in range(self.args.repeat):
            if attempt:
                # The previous cutover left the source fenced, and its changelog purged up to
                # what it applied: a fresh target would start at sequence 0 and wait for that
                # purged range as for a hole (``sync.apply.GAP_SECONDS``). So: a new changelog.
                self.must(f"unfence-{attempt}", "fence", "off", spec)
                self.must(f"uninstall-{attempt}", "capture", "uninstall", spec)
            self.servers.pg_db(self.target_db)  # a fresh target (and state store)
            self.must(f"install-{attempt}", "capture", "install", spec)
            self.figures.attempts.append(self.attempt(attempt))
        self.figures.rollback = self.rollback()

    def attempt(self, n: int) -> Attempt:
        args, spec = self.args, str(self.spec)
        writers = Writers(self.engine, self.source, args.rows, n, args.repeat, 1, OPEN_ENDED,
                          args.rate, self.tmp, fenced_ok=True)
        self.writers.append(writers)
        say(f"{self.label} ({n + 1}/{args.repeat}): writer at {args.rate:g} writes/s; "
            "backfill (datamove run) ...")
        backfill_s, _, _ = self.must(f"run-{n}", "run", spec)
        say(f"  {backfill_s:.1f} s; drain beforehand (sync --until-lag 0) ...")
        _, _, out = self.must(f"predrain-{n}", "sync", spec, "--until-lag", "0", "--json")
        synced = json.loads(out.read_text(encoding="utf-8"))
        say(f"  {synced['changes']:,} changes in {synced['seconds']:.1f} s; writer paused for "
            "a green verify (sync --until-lag 0, then datamove verify) ...")
        writers.pause()
        try:
            self.must(f"quiet-{n}", "sync", spec, "--until-lag", "0")
            verify_s, _, _ = self.must(f"verify-{n}", "verify", spec)
        finally:
            writers.resume()
        say(f"  verify {verify_s:.1f} s; datamove cutover, under the writer ...")
        wall_s, rss_mb, out = self.must(f"cutover-{n}", "cutover", spec, "--json")
        stats = writers.end()
        report = json.loads(out.read_text(encoding="utf-8"))
        records = {s["name"]: s for s in report["steps"]}
        missing = [s for s in STEPS if records.get(s, {}).get("status") != "done"]
        if missing:
            raise RuntimeError(f"the cutover left steps not done: {', '.join(missing)}")
        started = {s: _epoch(records[s]["started_at"]) for s in STEPS}
        ended = {s: _epoch(records[s]["updated_at"]) for s in STEPS}
        fence_at = started["fence"]
        drained = re.match(r"(\d+) change", records["drain"]["output"] or "")
        done = Attempt(
            backfill_s=backfill_s,
            predrain_changes=int(synced["changes"]),
            predrain_s=float(synced["seconds"]),
            verify_s=verify_s,
            final_verify=_final_verify(records["verify"]["output"] or ""),
            wall_s=wall_s,
            rss_mb=rss_mb,
            steps={s: ended[s] - started[s] for s in STEPS},
            fenced_s=ended["flip"] - fence_at,
            drained_in_fence=int(drained.group(1)) if drained else None,
            writer=stats,
            first_refused_s=_after(stats.first_refused, fence_at),
            last_accepted_s=_after(stats.last_accepted, fence_at),
            flag=report["flag"]["value"],
        )
        say(f"  fenced {done.fenced_s:.2f} s (verify {done.steps['verify']:.2f} s), cutover "
            f"{wall_s:.1f} s, {stats.refused:,} writes refused")
        return done

    def rollback(self) -> Back:
        """The application writes to the target for a while after the flip; then ``datamove
        rollback`` under that writer, timed from the steps it recorded."""
        args, spec = self.args, str(self.spec)
        target = f"{self.servers.pg_url}/{self.target_db}"
        writers = Writers("pg", target, args.rows, args.repeat, args.repeat + 1, 1, OPEN_ENDED,
                          args.rate, self.tmp, fenced_ok=True)
        self.writers.append(writers)
        say(f"{self.label}: the writer writes to the target for {args.write_target_for:g} s, "
            "then datamove rollback, under it ...")
        time.sleep(max(0.0, writers.start_at - time.time()) + args.write_target_for)
        wall_s, _, out = self.must("rollback", "rollback", spec, "--json")
        stats = writers.end()
        records = {s["name"]: s for s in json.loads(out.read_text(encoding="utf-8"))["steps"]}
        missing = [s for s in BACK_STEPS if records.get(s, {}).get("status") != "done"]
        if missing:
            raise RuntimeError(f"the rollback left steps not done: {', '.join(missing)}")
        started = {s: _epoch(records[s]["started_at"]) for s in BACK_STEPS}
        ended = {s: _epoch(records[s]["updated_at"]) for s in BACK_STEPS}
        replayed = re.match(r"(\d+) captured change", records["replay"]["output"] or "")
        back = Back(
            target_writes=stats.writes,  # every one before the target's fence
            wall_s=wall_s,
            steps={s: ended[s] - started[s] for s in BACK_STEPS},
            window_s=ended["unfence-source"] - started["fence-target"],
            replayed=int(replayed.group(1)) if replayed else None,
            refused=stats.refused,
        )
        say(f"  rollback {wall_s:.1f} s: window {back.window_s:.2f} s, replay "
            f"{back.steps['replay']:.2f} s ({back.replayed} changes)")
        return back


def _final_verify(output: str) -> str:
    """``N changed keys`` (``cutover.final``'s keyed check) or ``full`` (its fallback)."""
    keyed = re.match(r"checked (\d+) changed key", output)
    return f"{int(keyed.group(1)):,} changed keys" if keyed else "full"


def _epoch(iso: str) -> float:
    """A step log time (naive UTC, ``state.steps``) as epoch seconds."""
    return dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp()


def _after(at: float | None, origin: float) -> float | None:
    return None if at is None else at - origin


def _step_seconds(step: str, attempt: Attempt) -> str:
    return fmt(attempt.steps[step], ".3f")


# -- report --------------------------------------------------------------------------------


def report(figures: list[Figures], args: argparse.Namespace) -> bool:
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, value: Callable[[Attempt], str]) -> None:
        rows.append((label, [value(f.best) if f.best else "-" for f in figures]))

    row("backfill (datamove run) s", lambda a: fmt(a.backfill_s, ".1f"))
    row("drained beforehand: changes in s", lambda a: (
        f"{a.predrain_changes:,} in {a.predrain_s:.1f}"))
    row(f"writer: writes/s tried (asked {args.rate:g})", lambda a: fmt(
        (a.writer.writes + a.writer.refused) / a.writer.seconds if a.writer.seconds else None,
        ",.0f"))
    row("green verify beforehand s (writer paused)", lambda a: fmt(a.verify_s, ".1f"))
    row("cutover wall time s (child process)", lambda a: fmt(a.wall_s, ".2f"))
    row("cutover peak RSS MB", lambda a: fmt(a.rss_mb, ".0f"))
    for step in STEPS:
        row(f"  step {step} s", partial(_step_seconds, step))
    row("  changes drained inside the fence", lambda a: fmt(a.drained_in_fence, ","))
    row("FENCED WINDOW s (fence start -> flip done)", lambda a: fmt(a.fenced_s, ".2f"))
    row(f"  / goal {GOAL_FENCED:g} s", lambda a: (
        f"{a.fenced_s / GOAL_FENCED:.2f} ({'met' if a.fenced_s < GOAL_FENCED else 'MISSED'})"))
    row(f"  / Vitess anchor {VITESS_SWITCH:g} s", lambda a: f"{a.fenced_s / VITESS_SWITCH:.2f}")
    row("  final verify checked", lambda a: a.final_verify)
    row("  final verify's share %", lambda a: fmt(100 * (a.verify_share or 0.0), ".0f"))
    row("writes refused (to the writer's stop)", lambda a: f"{a.writer.refused:,}")
    row("first refused write, s after fence start", lambda a: fmt(a.first_refused_s, "+.3f"))
    row("last accepted write, s after fence start", lambda a: fmt(a.last_accepted_s, "+.3f"))
    row("read-path flag after", lambda a: json.dumps(a.flag))
    def back(label: str, value: Callable[[Back], str]) -> None:
        rows.append((label, [value(f.rollback) if f.rollback else "-" for f in figures]))

    back("ROLLBACK: writes the target accepted", lambda b: f"{b.target_writes:,}")
    back("  rollback wall time s (child process)", lambda b: fmt(b.wall_s, ".2f"))
    for step in BACK_STEPS:
        back(f"  step {step} s", lambda b, step=step: fmt(b.steps[step], ".3f"))
    back("  changes replayed into the source", lambda b: fmt(b.replayed, ","))
    back("  ROLLBACK WINDOW s (fence-target -> unfence-source)", lambda b: fmt(b.window_s, ".2f"))
    back("  target writes refused during it", lambda b: f"{b.refused:,}")

    width = max(len(r[0]) for r in rows)
    cols = [max(len(ENGINE_LABEL[f.engine]), *(len(r[1][i]) for r in rows))
            for i, f in enumerate(figures)]
    heads = "  ".join(f"{ENGINE_LABEL[f.engine]:>{c}}" for f, c in zip(figures, cols, strict=True))
    print()
    print(f"{'figure':<{width}}  {heads}")
    for label, values in rows:
        print(f"{label:<{width}}  " + "  ".join(
            f"{v:>{c}}" for v, c in zip(values, cols, strict=True)))
    print()
    print(f"{args.rows:,} rows; one writer at {args.rate:g} writes/s (single-statement "
          "autocommit: 60% update, 25% insert, 15% delete) from before the backfill to after "
          f"the cutover; fastest fenced window of {args.repeat} attempt(s), each into a fresh "
          f"target. Goal: fenced < {GOAL_FENCED:g} s with the backlog drained beforehand; "
          f"anchor: Vitess reports switches under {VITESS_SWITCH:g} s inside its own proxy "
          "layer (no fence, no final verify).")
    for f in figures:
        if len(f.attempts) > 1:
            print(f"{ENGINE_LABEL[f.engine]}: fenced windows "
                  + ", ".join(f"{a.fenced_s:.2f}" for a in f.attempts) + " s")
        for error in f.errors:
            print(f"{ENGINE_LABEL[f.engine]}: ERROR {error}")
    return all(f.best is not None and not f.errors for f in figures)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the cutover's fenced window under a steady writer "
        "(see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows in the generated orders table (default 1,000,000)")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="the writer's writes/s, throughout (default 500)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="cutovers per source, each into a fresh target; the shortest "
                        "fenced window is reported (default 1)")
    parser.add_argument("--source", action="append", choices=("pg", "mariadb"),
                        help="only this source engine (repeat; default both)")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)")
    parser.add_argument("--mysql-url", default=os.environ.get(
        "DM_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        help="MariaDB/MySQL server, without a database (env DM_BENCH_MYSQL_URL)")
    parser.add_argument("--write-target-for", type=float, default=10.0,
                        help="seconds the writer writes to the target after the last cutover, "
                        "before the timed rollback (default 10)")
    args = parser.parse_args(argv)
    if args.rows < 1000 or args.rate <= 0 or args.repeat < 1:
        parser.error("--rows must be at least 1000, --rate positive, --repeat at least 1")

    servers = Servers(args.pg_url, args.mysql_url)
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
    figures: list[Figures] = []
    try:
        for engine in ("pg", "mysql"):
            if args.source and {"pg": "pg", "mysql": "mariadb"}[engine] not in args.source:
                continue
            scenario = Scenario(servers, tmp, engine, args)
            figures.append(scenario.figures)
            try:
                scenario.run()
            except Exception as exc:  # reported under the table; the next source still runs
                scenario.figures.errors.append(str(exc).splitlines()[0])
                say(f"{ENGINE_LABEL[engine]}: {exc}")
            finally:
                scenario.stop_children()
                servers.drop_all()  # this source's databases: the next starts on a quiet server
    finally:
        servers.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if report(figures, args) else 1


if __name__ == "__main__":
    sys.exit(main())
