"""Change capture and catch-up under a live writer: trigger overhead, apply rate and lag.

``python bench/sync.py`` builds the ``orders`` table of ``bench/copy.py`` (``--rows`` rows,
default 1,000,000) server-side in a scratch source database ``dm_bs_src`` (PostgreSQL, then
MariaDB; ``--source pg`` or ``--source mariadb`` runs only one), with a fresh PostgreSQL
target for each (``dm_bs_tgt_pg``, ``dm_bs_tgt_my``) and a spec with ``sync: {mode:
triggers}``. For each source, in this order:

1. writer overhead: ``--writers`` writer processes (default 2; each its own connection, each
   write its own transaction: a single-statement autocommit UPDATE, INSERT or DELETE,
   60/25/15) write as fast as they can for ``--seconds`` (default 20), without capture, then
   after ``datamove capture install SPEC`` with it, against the same table; ``--repeat``
   turns (default 2; every turn but the last runs ``capture uninstall`` again), so a busy
   neighbour slows both alike. The fastest run of each is reported: writes/s, per-write
   latency p50/p99, and the overhead ``1 - with / without`` (target < 30%). All of this
   comes before the backfill, so no change is lost;
2. the backfill, ``datamove run SPEC`` (capture on: the last turn's changes are its backlog);
3. catch-up of that backlog: ``datamove sync SPEC --until-lag 0 --json``, changes per second
   of the sync loop (process start-up and planning excluded);
4. steady state: ``datamove sync SPEC --follow`` runs as a child process (started first, and
   seen applying a marker change) while the writers make ``--rate`` changes per second in
   total (default 500) for ``--follow-seconds`` (default 60). Every 0.5 s this script reads
   what ``datamove capture status`` reports, on two open connections: the target's applied
   sequence, and past it the number of changelog rows and the age of the oldest by the
   source's clock (the lag). The sustained apply rate is the applied sequence's advance over
   the writing window; lag and pending p50/p99/max are over the samples (target: lag p99 < 5 s
   at 500 changes/s);
5. the writers stop, the follower is interrupted (SIGINT), ``datamove sync SPEC --until-lag 0``
   drains what is left, ``datamove verify SPEC --checks count --checks checksum`` must pass
   and ``datamove capture status SPEC --json`` show nothing pending: PASS, else FAIL.

Every write is a real change: updates hit keys in the upper half of the original range (never
deleted), deletes walk a slot of the lower half reserved for that writer and run (then the
writer's own inserts), inserts take fresh keys from a range reserved the same way. So
``writes = changes = changelog entries`` (no key moves).

Before each timed writer run the source table is vacuumed/analyzed and the PostgreSQL server
checkpointed. On MariaDB the changelog's ``changed_at`` is a ``TIMESTAMP`` of whole seconds,
so its lag figures are whole seconds too (0 while the follower keeps up within the second).

A PostgreSQL server (``--pg-url``), a MariaDB server (``--mysql-url``) and datamove with its
PostgreSQL and MySQL extras in the running Python are needed (the ``datamove`` script next to
``sys.executable`` is what runs). The writers are ``writers.py``, run as child processes.
Every scratch database (``dm_bs_*``) is dropped at the end,
after a failure too, and every child process this script started is stopped.
"""

from __future__ import annotations

import benchpath  # noqa: F401 - first of all (see benchpath.py)

# isort: split
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from writers import Writers, WriterStats, connect, percentile

PREFIX = "dm_bs_"
SPEC_NAME = "bench_sync"
CHANGELOG = "datamove_changelog"
SOURCE_DB = "dm_bs_src"
TARGET_DB = {"pg": "dm_bs_tgt_pg", "mysql": "dm_bs_tgt_my"}
ENGINE_LABEL = {"pg": "PG -> PG", "mysql": "MariaDB -> PG"}
SAMPLE_SECONDS = 0.5
MAX_OVERHEAD = 0.30
MAX_LAG_P99 = 5.0

# -- the scenario --------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # monotonic
    pending: int
    lag: float
    applied_seq: int


@dataclass
class Figures:
    """Everything measured for one source engine."""

    engine: str
    plain_runs: list[WriterStats] = field(default_factory=list)
    captured_runs: list[WriterStats] = field(default_factory=list)
    install_s: float | None = None
    backfill_s: float | None = None
    backlog: int | None = None
    catchup_s: float | None = None
    steady: WriterStats | None = None
    samples: list[Sample] = field(default_factory=list)
    follower_cpu: float | None = None  # share of one core the sync --follow process used
    drain_s: float | None = None
    drained: int | None = None
    verify: str = "not run"
    errors: list[str] = field(default_factory=list)

    @property
    def plain(self) -> WriterStats | None:
        """The fastest full-speed run without capture."""
        return max(self.plain_runs, key=lambda r: r.rate or 0.0, default=None)

    @property
    def captured(self) -> WriterStats | None:
        return max(self.captured_runs, key=lambda r: r.rate or 0.0, default=None)

    @property
    def overhead(self) -> float | None:
        if self.plain and self.captured and self.plain.rate and self.captured.rate:
            return 1 - self.captured.rate / self.plain.rate
        return None

    @property
    def catchup_rate(self) -> float | None:
        return self.backlog / self.catchup_s if self.backlog and self.catchup_s else None

    @property
    def apply_rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        first, last = self.samples[0], self.samples[-1]
        spent = last.at - first.at
        return (last.applied_seq - first.applied_seq) / spent if spent else None

    def lag(self, q: float) -> float | None:
        return percentile([s.lag for s in self.samples], q) if self.samples else None

    def pending(self, q: float) -> float | None:
        return percentile([s.pending for s in self.samples], q) if self.samples else None

    @property
    def max_lag(self) -> float | None:
        return max(s.lag for s in self.samples) if self.samples else None


class Scenario:
    """One source engine, its PostgreSQL target and spec, and the child processes running."""

    def __init__(self, servers: Servers, tmp: Path, engine: str,
                 args: argparse.Namespace) -> None:
        self.servers, self.tmp, self.engine, self.args = servers, tmp, engine, args
        self.figures = Figures(engine)
        self.children: list[Writers | subprocess.Popen[bytes]] = []
        self.phase = 0
        base = servers.pg_url if engine == "pg" else servers.mysql_url
        self.source = f"{base}/{SOURCE_DB}"
        self.target_db = TARGET_DB[engine]
        self.spec = tmp / f"{engine}.yaml"

    # setup

    def prepare(self) -> None:
        if self.engine == "pg":
            make_pg_orders(self.servers, SOURCE_DB, self.args.rows)
        else:
            make_mysql_orders(self.servers, SOURCE_DB, self.args.rows)
        target = self.servers.pg_db(self.target_db)
        # JSON strings are YAML strings: any character in a URL is quoted safely.
        self.spec.write_text(
            f"name: {SPEC_NAME}\nsource: {json.dumps(self.source)}\n"
            f"target: {json.dumps(target)}\nbatch_size: 50000\n"
            "sync: {mode: triggers}\ntables:\n  orders:\n    key: id\n",
            encoding="utf-8",
        )

    def settle(self) -> None:
        """Before a timed writer run: the source table vacuumed/analyzed, a checkpoint."""
        if self.engine == "pg":
            with self.servers.pg(SOURCE_DB) as conn:
                conn.execute("VACUUM (ANALYZE) orders")
        else:
            self.servers.mysql_run(SOURCE_DB, "ANALYZE TABLE orders")
        self.servers.checkpoint()

    # child processes

    def datamove(self, name: str, *args: str) -> tuple[float, int, Path, Path]:
        """``datamove --quiet ARGS``, to its end: (seconds, exit code, stdout file, log)."""
        log, out = self.tmp / f"{self.engine}-{name}.log", self.tmp / f"{self.engine}-{name}.out"
        measured = measure([*datamove_command(), "--quiet", *args], log, stdout=out)
        return measured.seconds, measured.returncode, out, log

    def must(self, name: str, *args: str) -> tuple[float, Path]:
        seconds, code, out, log = self.datamove(name, *args)
        if code != 0:
            raise RuntimeError(f"datamove {args[0]} failed (exit {code}): "
                               f"{first_error(log)}\n{tail(log)}")
        return seconds, out

    def writers(self, seconds: float, rate: float) -> Writers:
        """Start the writers of the next phase (each phase deletes and inserts its own keys)."""
        phases = 2 * self.args.repeat + 1  # without and with capture, then the steady run
        writers = Writers(self.engine, self.source, self.args.rows, self.phase, phases,
                          self.args.writers, seconds, rate, self.tmp)
        self.phase += 1
        self.children.append(writers)
        return writers

    def full_speed(self, capture: str) -> WriterStats:
        """One run of the writers at full speed."""
        self.settle()
        say(f"{ENGINE_LABEL[self.engine]}: {self.args.writers} writer(s) at full speed for "
            f"{self.args.seconds:g} s, capture {capture} ...")
        stats = self.writers(self.args.seconds, 0).finish()
        say(f"  {fmt(stats.rate, ',.0f')} writes/s")
        return stats

    def stop_children(self) -> None:
        for child in self.children:
            if isinstance(child, Writers):
                child.stop()
            elif child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    # the steps

    def run(self) -> Figures:
        f = self.figures
        label = ENGINE_LABEL[self.engine]
        self.prepare()

        # Without and with capture in turns, so a busy neighbour slows both alike; every
        # turn but the last removes capture again. All before the backfill: no change is lost,
        # and the last turn's changes are the backlog the catch-up applies.
        for turn in range(self.args.repeat):
            f.plain_runs.append(self.full_speed("off"))
            f.install_s, _ = self.must("install", "capture", "install", str(self.spec))
            f.captured_runs.append(self.full_speed("on"))
            if turn < self.args.repeat - 1:
                self.must("uninstall", "capture", "uninstall", str(self.spec))
        say(f"  capture overhead {fmt(pct(f.overhead), '.1f')} % (fastest runs)")

        say(f"{label}: backfill (datamove run) ...")
        f.backfill_s, _ = self.must("run", "run", str(self.spec))
        say(f"  {f.backfill_s:.1f} s")

        say(f"{label}: catch-up of the backlog (sync --until-lag 0) ...")
        result = self.sync_until_caught_up("catchup")
        f.backlog, f.catchup_s = result["changes"], result["seconds"]
        say(f"  {f.backlog:,} changes in {f.catchup_s:.1f} s "
            f"({fmt(f.catchup_rate, ',.0f')} changes/s)")

        self.steady()

        say(f"{label}: drain (sync --until-lag 0), verify ...")
        result = self.sync_until_caught_up("drain")
        f.drained, f.drain_s = result["changes"], result["seconds"]
        seconds, code, out, log = self.datamove(
            "verify", "verify", str(self.spec), "--checks", "count", "--checks", "checksum",
            "--json")
        f.verify = {0: "PASS", 1: "FAIL"}.get(code, f"ERROR (exit {code})")
        _, status_out = self.must("status", "capture", "status", str(self.spec), "--json")
        status = json.loads(status_out.read_text(encoding="utf-8"))
        if status["pending"] and f.verify == "PASS":  # nothing may be left unapplied
            f.verify = f"FAIL ({status['pending']} pending)"
        if code != 0:
            say(f"  verify: {f.verify}\n{tail(out)}\n{tail(log)}")
        say(f"  drained {f.drained:,} changes in {f.drain_s:.1f} s; verify {f.verify} "
            f"({seconds:.1f} s)")
        return f

    def sync_until_caught_up(self, name: str) -> dict[str, Any]:
        _, out = self.must(name, "sync", str(self.spec), "--until-lag", "0",
                           "--max-batch", str(self.args.max_batch), "--json")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result

    def steady(self) -> None:
        f, args = self.figures, self.args
        log = self.tmp / f"{self.engine}-follow.log"
        with log.open("wb") as err:
            follower = subprocess.Popen(
                [*datamove_command(), "--quiet", "sync", str(self.spec), "--follow",
                 "--max-batch", str(args.max_batch)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
        self.children.append(follower)
        say(f"{ENGINE_LABEL[self.engine]}: sync --follow, writers at {args.rate:g} changes/s "
            f"for {args.follow_seconds:g} s ...")
        with LagProbe(self) as probe:
            self.wait_following(probe, follower, log)
            writers = self.writers(args.follow_seconds, args.rate)
            time.sleep(max(0.0, writers.start_at - time.time()))
            next_at = started = time.monotonic()
            cpu = process_cpu(follower.pid)
            while writers.running():
                if follower.poll() is not None:
                    raise RuntimeError(f"sync --follow ended (exit {follower.returncode}):\n"
                                       f"{tail(log)}")
                f.samples.append(probe.sample())
                next_at += SAMPLE_SECONDS
                time.sleep(max(0.0, next_at - time.monotonic()))
            spent = process_cpu(follower.pid)
            if cpu is not None and spent is not None:
                f.follower_cpu = (spent - cpu) / (time.monotonic() - started)
        f.steady = writers.finish()
        os.killpg(follower.pid, signal.SIGINT)  # exits 3 after "interrupted"
        try:
            follower.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(follower.pid, signal.SIGKILL)
            follower.wait()
        say(f"  writers {fmt(f.steady.rate, ',.0f')} changes/s, applied "
            f"{fmt(f.apply_rate, ',.0f')} changes/s, lag p50 {fmt(f.lag(50), '.2f')} s, "
            f"p99 {fmt(f.lag(99), '.2f')} s, max {fmt(f.max_lag, '.2f')} s "
            f"({len(f.samples)} samples)")

    def wait_following(self, probe: LagProbe, follower: subprocess.Popen[bytes],
                       log: Path) -> None:
        """Until the follower has applied one marker change: it is up and polling."""
        before = probe.sample().applied_seq
        marker = "UPDATE orders SET updated_at = {now} WHERE id = {key}"
        if self.engine == "pg":
            with self.servers.pg(SOURCE_DB) as conn:
                conn.execute(marker.format(now="now()", key=self.args.rows))
        else:
            self.servers.mysql_run(SOURCE_DB, marker.format(now="NOW(6)", key=self.args.rows))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if follower.poll() is not None:
                raise RuntimeError(f"sync --follow ended (exit {follower.returncode}):\n"
                                   f"{tail(log)}")
            now = probe.sample()
            if now.applied_seq > before and now.pending == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"sync --follow applied nothing in 120 s:\n{tail(log)}")


class LagProbe:
    """What ``capture status`` reports, on two open connections: the target's applied sequence
    (``datamove.sync``), then the changelog rows past it on the source and the age of the
    oldest by the source's clock (its ``CURRENT_TIMESTAMP``, as the changelog's default).
    ``Migration.capture_status()`` would plan the migration on every call: ~0.1 s of CPU each
    time, taken from the processes measured."""

    def __init__(self, scenario: Scenario) -> None:
        self.engine = scenario.engine
        self.source = connect(scenario.engine, scenario.source)
        self.target = scenario.servers.pg(scenario.target_db)

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.close()
        self.target.close()

    def sample(self) -> Sample:
        row = self.target.execute(
            "SELECT applied_seq FROM datamove.sync WHERE migration = %s", (SPEC_NAME,)
        ).fetchone()
        applied = int(row[0]) if row else 0
        cur = self.source.cursor()
        cur.execute(f"SELECT count(*), min(changed_at), CURRENT_TIMESTAMP FROM {CHANGELOG} "
                    "WHERE seq > %s", (applied,))
        count, oldest, now = cur.fetchone()
        cur.close()
        lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        return Sample(time.monotonic(), int(count), lag, applied)


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used, from ``/proc``; None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def first_error(log: Path) -> str:
    """The line of a datamove log that says what went wrong."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    found = [line.strip() for line in lines if "error:" in line]
    return (found or [line.strip() for line in lines if line.strip()] or ["(no output)"])[0]


def pct(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


# -- report --------------------------------------------------------------------------------


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else "met" if met else "MISSED"


def report(figures: list[Figures], args: argparse.Namespace) -> bool:
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, values: Callable[[Figures], str], target: str = "") -> None:
        rows.append((label, [values(f) for f in figures], target))

    def check(f: Figures, value: float | None, ok: Callable[[float], bool], text: str) -> str:
        return f"{text} ({verdict(None if value is None else ok(value))})"

    w = args.writers
    row(f"writes/s, no capture ({w} writers)", lambda f: rates(f.plain_runs))
    row("writes/s, capture on", lambda f: rates(f.captured_runs))
    row("capture overhead %", lambda f: check(
        f, f.overhead, lambda v: v < MAX_OVERHEAD, fmt(pct(f.overhead), ".1f")), "< 30 %")
    row("server CPU us/write, off / on (+%)", lambda f: server_cpu(f))
    row("write latency p50/p99 ms, no capture", lambda f: latency(f.plain))
    row("write latency p50/p99 ms, capture on", lambda f: latency(f.captured))
    row("capture install s / backfill s", lambda f: (
        f"{fmt(f.install_s, '.1f')} / {fmt(f.backfill_s, '.1f')}"))
    row("catch-up of the backlog: changes", lambda f: fmt(f.backlog, ","))
    row("catch-up rate, changes/s", lambda f: fmt(f.catchup_rate, ",.0f"))
    row(f"steady: writer changes/s (asked {args.rate:g})",
        lambda f: fmt(f.steady and f.steady.rate, ",.0f"))
    row("steady: applied changes/s (sustained)", lambda f: fmt(f.apply_rate, ",.0f"))
    row("steady: lag p50 s", lambda f: fmt(f.lag(50), ".2f"))
    row("steady: lag p99 s", lambda f: check(
        f, f.lag(99), lambda v: v < MAX_LAG_P99, fmt(f.lag(99), ".2f")), "< 5 s")
    row("steady: lag max s (samples)", lambda f: f"{fmt(f.max_lag, '.2f')} ({len(f.samples)})")
    row("steady: pending changes p50 / p99", lambda f: (
        f"{fmt(f.pending(50), ',.0f')} / {fmt(f.pending(99), ',.0f')}"))
    row("steady: sync --follow CPU, % of a core", lambda f: fmt(pct(f.follower_cpu), ".0f"))
    row("final drain: changes in s", lambda f: (
        f"{fmt(f.drained, ',')} in {fmt(f.drain_s, '.1f')}"))
    row("verify count + checksum", lambda f: f.verify, "PASS")

    width = max(len(r[0]) for r in rows)
    cols = [max(len(ENGINE_LABEL[f.engine]), *(len(r[1][i]) for r in rows))
            for i, f in enumerate(figures)]
    heads = "  ".join(f"{ENGINE_LABEL[f.engine]:>{c}}" for f, c in zip(figures, cols, strict=True))
    print()
    print(f"{'figure':<{width}}  {heads}  target")
    for label, values, target in rows:
        cells = "  ".join(f"{v:>{c}}" for v, c in zip(values, cols, strict=True))
        print(f"{label:<{width}}  {cells}  {target}")
    print()
    print(f"{args.rows:,} rows; writers: {w} processes, single-statement autocommit writes "
          f"(60% update, 25% insert, 15% delete); full speed for {args.seconds:g} s, fastest "
          f"of {args.repeat} in turns; steady {args.rate:g} changes/s for "
          f"{args.follow_seconds:g} s; sync --max-batch {args.max_batch}; lag and pending "
          f"sampled every {SAMPLE_SECONDS} s, as capture status computes them.")
    for f in figures:
        for error in f.errors:
            print(f"{ENGINE_LABEL[f.engine]}: ERROR {error}")
    for f in figures:
        if f.errors:
            print(f"{ENGINE_LABEL[f.engine]}: targets not all measured (error above)")
            continue
        met = [f.overhead is not None and f.overhead < MAX_OVERHEAD,
               f.lag(99) is not None and (f.lag(99) or 0) < MAX_LAG_P99, f.verify == "PASS"]
        print(f"{ENGINE_LABEL[f.engine]}: targets "
              + ("all met" if all(met) else "MISSED: " + ", ".join(
                  n for n, ok in zip(("overhead", "lag p99", "convergence"), met, strict=True)
                  if not ok)))
    return all(f.verify == "PASS" and not f.errors for f in figures)


def rates(runs: list[WriterStats]) -> str:
    """The fastest run's writes/s, and the slowest's when there are several."""
    values = sorted(r.rate or 0.0 for r in runs)
    if len(values) < 2:
        return fmt(values[0] if values else None, ",.0f")
    return f"{values[-1]:,.0f} (min {values[0]:,.0f})"


def server_cpu(f: Figures) -> str:
    """CPU per write of the writers' backends without and with capture (the least of the
    turns: a neighbour adds to it), and the increase: less noisy than writes/s on a busy
    machine. PostgreSQL on this machine only."""
    off = min((r.cpu_us for r in f.plain_runs if r.cpu_us), default=None)
    on = min((r.cpu_us for r in f.captured_runs if r.cpu_us), default=None)
    more = f"{100 * (on / off - 1):+.0f}" if on and off else "-"
    return f"{fmt(off, '.0f')} / {fmt(on, '.0f')} ({more})"


def latency(stats: WriterStats | None) -> str:
    if stats is None:
        return fmt(None, "1")
    return f"{fmt(stats.latency_ms(50), '.2f')} / {fmt(stats.latency_ms(99), '.2f')}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description="Benchmark trigger change capture and sync under a live writer "
        "(see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows in the generated orders table (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="each full-speed writer run, without and with capture "
                        "(default 20)")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="changes/s of the steady writer run under sync --follow "
                        "(default 500)")
    parser.add_argument("--follow-seconds", type=float, default=60.0,
                        help="length of the steady writer run (default 60)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="full-speed writer runs without and with capture, in turns; the "
                        "fastest of each is reported (default 2)")
    parser.add_argument("--writers", type=int, default=2,
                        help="writer processes, one connection each (default 2)")
    parser.add_argument("--max-batch", type=int, default=5000,
                        help="datamove sync --max-batch (default 5000, its default)")
    parser.add_argument("--source", action="append", choices=("pg", "mariadb"),
                        help="only this source engine (repeat; default both)")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)")
    parser.add_argument("--mysql-url", default=os.environ.get(
        "DM_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        help="MariaDB/MySQL server, without a database (env DM_BENCH_MYSQL_URL)")
    args = parser.parse_args(argv)
    if args.rows < 1000 or args.seconds <= 0 or args.follow_seconds <= 0 or args.rate <= 0:
        parser.error("--rows must be at least 1000; --seconds, --follow-seconds and --rate "
                     "positive")
    if args.writers < 1 or args.max_batch < 1 or args.repeat < 1:
        parser.error("--writers, --max-batch and --repeat must be at least 1")

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
