"""The writers of ``sync.py`` and ``cutover.py``: processes changing the source's ``orders``.

``Writers`` starts ``count`` of them together, each running this file as a script
(``python writers.py ENGINE URL --seconds ... --out FILE``): one autocommitted connection,
updates, inserts and deletes at a given rate (or as fast as it can), its counts, latencies and
the server CPU of its backend written to ``--out`` as JSON. A writer stops after ``--seconds``
or at SIGTERM (``Writers.end``), whichever comes first. With ``--fenced-ok`` a write refused
by datamove's write fence is counted (with the first one's time) instead of ending the writer.
"""

from __future__ import annotations

import benchpath  # noqa: F401 - first of all (see benchpath.py)

# isort: split
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from harness import tail

INSERT_STRIDE = 100_000_000  # fresh keys per writer and phase

# Each statement is one write, autocommitted: its own transaction.
WRITES = {
    "pg": {
        "update": "UPDATE orders SET amount = amount + 1, status = %s, note = %s, "
                  "updated_at = now() WHERE id = %s",
        "insert": "INSERT INTO orders VALUES (%s, %s, %s, 'EUR', 'new', localtimestamp, now(), "
                  "%s, false, %s::jsonb)",
        "delete": "DELETE FROM orders WHERE id = %s",
    },
    "mysql": {
        "update": "UPDATE orders SET amount = amount + 1, status = %s, note = %s, "
                  "updated_at = NOW(6) WHERE id = %s",
        "insert": "INSERT INTO orders VALUES (%s, %s, %s, 'EUR', 'new', NOW(6), NOW(6), "
                  "%s, false, %s)",
        "delete": "DELETE FROM orders WHERE id = %s",
    },
}
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled", "refunded")
FENCE_SQLSTATE = "25006"  # PostgreSQL: read_only_sql_transaction, what the fence raises
FENCE_ERRNO = 1644  # MySQL/MariaDB: SIGNAL SQLSTATE '45000', what the fence raises


def fenced(exc: Exception) -> bool:
    """Whether ``exc`` is a write refused by datamove's write fence (``dialects.fencesql``)."""
    if isinstance(exc, psycopg.Error):
        return exc.sqlstate == FENCE_SQLSTATE
    return getattr(exc, "errno", None) == FENCE_ERRNO and "write fence" in str(exc)


def connect(engine: str, url: str) -> Any:
    """An autocommit DB-API connection for the writer (psycopg / MySQL Connector)."""
    if engine == "pg":
        return psycopg.connect(url, autocommit=True)
    import mysql.connector

    parts = urlsplit(url)
    return mysql.connector.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"), charset="utf8mb4", autocommit=True,
    )


def backend_cpu(conn: Any) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving ``conn``, when the server runs
    on this machine (``/proc/PID/schedstat``); None otherwise (MariaDB: one thread of a shared
    process, with no performance_schema to name it)."""
    if not isinstance(conn, psycopg.Connection):
        return None
    proc = Path(f"/proc/{conn.info.backend_pid}")
    try:
        if not proc.joinpath("cmdline").read_bytes().startswith(b"postgres"):
            return None
        return int(proc.joinpath("schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def writer_main(argv: Sequence[str]) -> int:
    """One writer: waits for ``--start-at`` (epoch seconds), writes for ``--seconds`` at
    ``--rate`` writes/s (0: as fast as it can), writes its counts and latencies to ``--out``."""
    parser = argparse.ArgumentParser(prog="writers.py")
    parser.add_argument("engine", choices=sorted(WRITES))
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--update-keys", type=int, nargs=2, required=True)
    parser.add_argument("--delete-keys", type=int, nargs=2, required=True)
    parser.add_argument("--first-insert", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fenced-ok", action="store_true",
                        help="count writes the write fence refuses instead of failing")
    args = parser.parse_args(argv)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    resumed: list[int] = []  # SIGCONT after ``Writers.pause``: the pace restarts from now
    signal.signal(signal.SIGCONT, lambda signum, _frame: resumed.append(signum))
    sql = WRITES[args.engine]
    rng = random.Random(args.seed)
    conn = connect(args.engine, args.url)
    cur = conn.cursor()
    next_insert = args.first_insert
    to_delete = iter(range(args.delete_keys[0], args.delete_keys[1] + 1))
    inserted: deque[int] = deque()
    counts = {"update": 0, "insert": 0, "delete": 0}
    latencies: list[int] = []  # microseconds
    refused = 0
    first_refused: float | None = None  # epoch seconds
    last_accepted: float | None = None  # epoch seconds: the last write accepted before it
    time.sleep(max(0.0, args.start_at - time.time()))
    cpu_before = backend_cpu(conn)
    started = time.perf_counter()
    end = started + args.seconds
    done = 0
    while True:
        now = time.perf_counter()
        if resumed and args.rate:  # no burst to catch up on the paused time
            resumed.clear()
            started = now - done / args.rate
        if args.rate:
            ahead = started + done / args.rate - now
            if ahead > 0:
                time.sleep(ahead)
                now = time.perf_counter()
        if now >= end or stopping:
            break
        roll = rng.random()
        kind, params = "update", None
        if roll < 0.25:
            kind = "insert"
            params = (next_insert, 1 + next_insert % 100000, next_insert % 100000 / 100,
                      f"inserted by the writer {done}", '{"sku": "SKU-1", "qty": 2}')
            inserted.append(next_insert)
            next_insert += 1
        elif roll < 0.40:
            key = next(to_delete, None)
            if key is None and inserted:
                key = inserted.popleft()
            if key is not None:
                kind, params = "delete", (key,)
        if params is None:
            params = (rng.choice(STATUSES), f"updated {done}",
                      rng.randint(*args.update_keys))
        try:
            cur.execute(sql[kind], params)
        except Exception as exc:
            if not (args.fenced_ok and fenced(exc)):
                raise
            refused += 1
            first_refused = first_refused or time.time()
        else:
            latencies.append(round((time.perf_counter() - now) * 1e6))
            counts[kind] += 1
            if first_refused is None:
                last_accepted = time.time()
        done += 1
    seconds = time.perf_counter() - started
    cpu_after = backend_cpu(conn)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    conn.close()
    # A file, not stdout: a pipe nobody reads until the end would block a large write.
    args.out.write_text(json.dumps(
        {"writes": done - refused, "seconds": seconds, "server_cpu": server_cpu, **counts,
         "latency_us": latencies, "refused": refused, "first_refused": first_refused,
         "last_accepted": last_accepted}))
    return 0


@dataclass
class WriterStats:
    writes: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    latency_us: list[int] = field(default_factory=list)
    server_cpu: float | None = 0.0  # CPU seconds of the writers' backends (None: unknown)
    refused: int = 0  # writes the write fence refused (``--fenced-ok``)
    first_refused: float | None = None  # epoch seconds of the first, over every writer
    last_accepted: float | None = None  # epoch seconds of the last accepted before it

    @property
    def rate(self) -> float | None:
        return self.writes / self.seconds if self.seconds else None

    def latency_ms(self, q: float) -> float | None:
        return percentile(self.latency_us, q) / 1000 if self.latency_us else None

    @property
    def cpu_us(self) -> float | None:
        """Server CPU microseconds per write."""
        return 1e6 * self.server_cpu / self.writes if self.server_cpu and self.writes else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Writers:
    """``count`` writer processes, started together; ``finish()`` waits and sums them up."""

    def __init__(self, engine: str, url: str, rows: int, phase: int, phases: int, count: int,
                 seconds: float, rate: float, tmp: Path, fenced_ok: bool = False) -> None:
        half = rows // 2
        slot = max(1, half // (phases * count))  # keys to delete, per writer and phase
        self.seconds = seconds
        self.logs: list[Path] = []
        self.outs: list[Path] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        start_at = time.time() + 2.0  # every writer connected and waiting by then
        for w in range(count):
            n = phase * count + w
            log = tmp / f"writer-{engine}-{phase}-{w}.log"
            out = log.with_suffix(".json")
            cmd = [
                sys.executable, os.path.realpath(__file__), engine, url,
                "--rate", str(rate / count), "--seconds", str(seconds),
                "--start-at", str(start_at), "--seed", str(1000 * phase + w),
                "--update-keys", str(half + 1), str(rows),
                "--delete-keys", str(1 + n * slot), str(min(half, (n + 1) * slot)),
                "--first-insert", str(rows + 1 + n * INSERT_STRIDE), "--out", str(out),
                *(["--fenced-ok"] if fenced_ok else []),
            ]
            with log.open("wb") as err:
                self.procs.append(subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err))
            self.logs.append(log)
            self.outs.append(out)
        self.start_at = start_at

    def running(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def pause(self) -> None:
        """Stop every writer (SIGSTOP: its last statement, autocommitted, is finished by the
        server); ``resume`` goes on at the same rate, without a burst for the paused time."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def end(self) -> WriterStats:
        """Ask every writer to stop now (SIGTERM: it ends its write and reports), then
        ``finish``."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return self.finish()

    def finish(self) -> WriterStats:
        stats = WriterStats()
        for proc, log, out in zip(self.procs, self.logs, self.outs, strict=True):
            proc.wait(timeout=self.seconds + 120)
            if proc.returncode != 0:
                raise RuntimeError(f"a writer failed (exit {proc.returncode}):\n{tail(log)}")
            one = json.loads(out.read_text(encoding="utf-8"))
            stats.writes += one["writes"]
            stats.seconds = max(stats.seconds, one["seconds"])
            for kind in ("update", "insert", "delete"):
                stats.counts[kind] = stats.counts.get(kind, 0) + one[kind]
            stats.latency_us.extend(one["latency_us"])
            stats.refused += one["refused"]
            if one["first_refused"] is not None:
                stats.first_refused = min(stats.first_refused or one["first_refused"],
                                          one["first_refused"])
            if one["last_accepted"] is not None:
                stats.last_accepted = max(stats.last_accepted or 0.0, one["last_accepted"])
            if stats.server_cpu is not None and one["server_cpu"] is not None:
                stats.server_cpu += one["server_cpu"]
            else:
                stats.server_cpu = None
        return stats


if __name__ == "__main__":
    sys.exit(writer_main(sys.argv[1:]))
