"""Copy throughput and memory of datamove against its natural baselines, in one run.

``python bench/copy.py`` (or ``make bench``) builds an ``orders`` table of ``--rows`` rows
(default 1,000,000: bigint key, integer, numeric(12,2), char(3), varchar(16), two timestamps,
text with non-ASCII characters and ~10% NULLs, boolean, JSON) server-side, in a scratch
PostgreSQL database and a scratch MariaDB database, both named ``dm_bench_src``. It then
times these copies, each into a fresh PostgreSQL database:

(a) floor: ``psql -c 'COPY (SELECT ...) TO STDOUT' | psql -c 'COPY orders FROM STDIN'``,
    PostgreSQL to PostgreSQL, into a table of the same types: as fast as a client can copy;
(b) ``datamove run``, PostgreSQL to PostgreSQL (its COPY-to-COPY pipe; binary COPY, as the
    column types are identical);
(c) pgloader, MariaDB to PostgreSQL, with pgloader's defaults (Debian's package, installed
    with apt-get when missing; ``--skip-pgloader`` leaves it out);
(d) ``datamove run``, MariaDB to PostgreSQL (MariaDB builds each row's COPY text line in the
    SELECT; datamove pipes the lines into COPY FROM STDIN);
(e) the same with ``--workers 2``.

Each copy runs as a child process. Its time is wall time from process start to exit, so
start-up, planning and index builds are included; its peak RSS is that of the largest single
process of the child's tree, from ``wait4`` (the database servers are not counted). Every
target is checked against its source: the row count and the sum of the numeric column. The
ratios printed under the table are the issue's targets: (b) time / (a) time <= 1.5,
(d) rows/s / (c) rows/s >= 1.5, and (e) against (d).

``--repeat N`` runs every copy N times and reports its fastest time (and highest peak RSS),
which steadies the ratios on a busy machine.

``--rss-check`` runs only (b) and (d), at ``--rows`` and at 3 x ``--rows`` rows: datamove
streams its chunks, so its peak RSS should stay flat (and under 300 MB) as the table grows.

Every scratch database (``dm_bench_*``) is dropped at the end, after a failure too.
"""

from __future__ import annotations

import benchpath  # noqa: F401 - first of all (see benchpath.py)

# isort: split
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from harness import (
    ORDERS_COLUMNS,
    ORDERS_PG_DDL,
    Measured,
    Servers,
    datamove_command,
    fmt,
    make_mysql_orders,
    make_pg_orders,
    measure,
    say,
    tail,
)

SOURCE_DB = "dm_bench_src"
PREFIX = "dm_bench_"


# -- results -------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    source_rows: int
    seconds: float | None = None
    rss_mb: float | None = None
    check: str = "not run"

    @property
    def rate(self) -> float | None:
        return self.source_rows / self.seconds if self.seconds and self.ok else None

    @property
    def ok(self) -> bool:
        return self.check.startswith("OK")


# -- the copies ----------------------------------------------------------------------------


def check(servers: Servers, db: str, expected: tuple[int, Decimal], result: Result,
          measured: Measured, log: Path) -> Result:
    result.seconds, result.rss_mb = measured.seconds, measured.rss_mb
    if measured.returncode != 0:
        result.check = f"FAILED (exit {measured.returncode})"
        say(f"  {result.label} failed with exit code {measured.returncode}:\n{tail(log)}")
        return result
    got = servers.pg_totals(db)
    if got is None:
        result.check = "MISMATCH (no orders table)"
    elif got == expected:
        result.check = "OK"
    else:
        result.check = f"MISMATCH ({got[0]:,} rows, sum {got[1]})"
    say(f"  {measured.seconds:.1f} s, {measured.rss_mb:.0f} MB, {result.check}")
    return result


def run_floor(servers: Servers, tmp: Path, expected: tuple[int, Decimal]) -> Result:
    result = Result("(a) floor: psql COPY | psql COPY, PG -> PG", expected[0])
    db = f"{PREFIX}a"
    target = servers.pg_db(db)
    with servers.pg(db) as conn:
        conn.execute(ORDERS_PG_DDL)
    cols = ", ".join(ORDERS_COLUMNS)
    psql = "psql -X -q -v ON_ERROR_STOP=1 -d"
    out = f"COPY (SELECT {cols} FROM orders) TO STDOUT"
    into = f"COPY orders ({cols}) FROM STDIN"
    pipeline = (
        f"{psql} {shlex.quote(f'{servers.pg_url}/{SOURCE_DB}')} -c {shlex.quote(out)}"
        f" | {psql} {shlex.quote(target)} -c {shlex.quote(into)}"
    )
    servers.checkpoint()
    say(f"{result.label} ...")
    log = tmp / "a.log"
    measured = measure(["bash", "-o", "pipefail", "-c", pipeline], log)
    result = check(servers, db, expected, result, measured, log)
    servers.pg_drop(db)
    return result


def run_datamove(servers: Servers, tmp: Path, label: str, key: str, source: str,
                 expected: tuple[int, Decimal], batch_size: int, workers: int = 1) -> Result:
    result = Result(label, expected[0])
    db = f"{PREFIX}{key}"
    target = servers.pg_db(db)
    spec = tmp / f"{key}.yaml"
    # JSON strings are YAML strings: any character in a URL is quoted safely.
    spec.write_text(
        f"name: bench\nsource: {json.dumps(source)}\ntarget: {json.dumps(target)}\n"
        f"batch_size: {batch_size}\ntables:\n  orders:\n",
        encoding="utf-8",
    )
    cmd = [*datamove_command(), "--quiet", "run", str(spec), "--json"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    servers.checkpoint()
    say(f"{label} ...")
    log, out = tmp / f"{key}.log", tmp / f"{key}.json"
    measured = measure(cmd, log, stdout=out)
    result = check(servers, db, expected, result, measured, log)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
        paths = sorted({p for t in report["tables"] for p in t["paths"]})
        say(f"  datamove: {report['rows']:,} rows in {report['seconds']:.1f} s "
            f"(engine time), paths {'/'.join(paths)}")
        if len(paths) > 1:
            result.check += f" ({'/'.join(paths)} paths)"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    servers.pg_drop(db)
    return result


def ensure_pgloader() -> str | None:
    """pgloader's path; installs Debian's package when it is missing and apt-get can."""
    found = shutil.which("pgloader")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        say("pgloader is not installed and cannot be installed here (needs root and apt-get): "
            "skipping (c). Install Debian's `pgloader` package, or pass --skip-pgloader.")
        return None
    say("pgloader not found: installing Debian's package (apt-get install -y pgloader) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "pgloader"]
    for cmd in (install, ["apt-get", "update", "-q"], install):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if cmd is install and done.returncode == 0:
            break
        if cmd is install and done.stderr.strip():
            say("  " + done.stderr.strip().splitlines()[-1])
    found = shutil.which("pgloader")
    if not found:
        say("could not install pgloader with apt-get (see above): skipping (c). "
            "Install it by hand, or pass --skip-pgloader.")
    return found


def run_pgloader(servers: Servers, tmp: Path, pgloader: str,
                 expected: tuple[int, Decimal]) -> Result:
    result = Result("(c) pgloader, MariaDB -> PG", expected[0])
    db = f"{PREFIX}c"
    target = servers.pg_db(db)
    source = f"{servers.mysql_url}/{SOURCE_DB}"
    cmd = [pgloader, "--root-dir", str(tmp / "pgloader"), source, target]
    servers.checkpoint()
    say(f"{result.label} ...")
    log = tmp / "c.log"
    measured = measure(cmd, log)
    result = check(servers, db, expected, result, measured, log)
    servers.pg_drop(db)
    return result


def best_of(repeat: int, run: Callable[[], Result]) -> Result:
    """Run a copy ``repeat`` times: its fastest time and its highest peak RSS; a failure wins."""
    results: list[Result] = []
    for _ in range(repeat):
        results.append(run())
        if not results[-1].ok:
            return results[-1]
    best = min(results, key=lambda r: r.seconds or 0.0)
    best.rss_mb = max(r.rss_mb or 0.0 for r in results)
    return best


# -- report --------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    width = max(len(r.label) for r in results)
    print(f"{'run':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>9}  {'peak RSS MB':>11}  "
          "check")
    for r in results:
        print(f"{r.label:<{width}}  {r.source_rows:>10,}  {fmt(r.seconds, '8.2f')}  "
              f"{fmt(r.rate, '9,.0f')}  {fmt(r.rss_mb, '11.1f')}  {r.check}")


def ratio(label: str, value: float | None, target: str | None = None,
          met: bool | None = None) -> None:
    verdict = "" if target is None else f"  target {target}: " + (
        "n/a" if met is None else "met" if met else "MISSED")
    print(f"{label:<36} {fmt(value, '6.2f')}{verdict}")


def compare(servers: Servers, tmp: Path, args: argparse.Namespace) -> None:
    pgloader = None if args.skip_pgloader else ensure_pgloader()
    pg_totals = make_pg_orders(servers, SOURCE_DB, args.rows)
    my_totals = make_mysql_orders(servers, SOURCE_DB, args.rows)
    my_source = f"{servers.mysql_url}/{SOURCE_DB}"
    pg_source = f"{servers.pg_url}/{SOURCE_DB}"
    n, batch = args.repeat, args.batch_size
    a = best_of(n, lambda: run_floor(servers, tmp, pg_totals))
    b = best_of(n, lambda: run_datamove(servers, tmp, "(b) datamove, PG -> PG", "b",
                                        pg_source, pg_totals, batch))
    c = (best_of(n, lambda: run_pgloader(servers, tmp, pgloader, my_totals)) if pgloader
         else Result("(c) pgloader, MariaDB -> PG", my_totals[0], check="skipped"))
    d = best_of(n, lambda: run_datamove(servers, tmp, "(d) datamove, MariaDB -> PG", "d",
                                        my_source, my_totals, batch))
    e = best_of(n, lambda: run_datamove(servers, tmp, "(e) datamove --workers 2, MariaDB -> PG",
                                        "e", my_source, my_totals, batch, workers=2))

    print()
    print_table([a, b, c, d, e])
    print()
    b_a = b.seconds / a.seconds if b.ok and a.ok and a.seconds and b.seconds else None
    d_c = d.rate / c.rate if d.rate and c.rate else None
    e_d = e.rate / d.rate if e.rate and d.rate else None
    ratio("(b) time / (a) time", b_a, "<= 1.5", None if b_a is None else b_a <= 1.5)
    ratio("(d) rows/s / (c) rows/s", d_c, ">= 1.5", None if d_c is None else d_c >= 1.5)
    ratio("(e) rows/s / (d) rows/s (2 workers)", e_d)


def rss_check(servers: Servers, tmp: Path, args: argparse.Namespace) -> None:
    """(b) and (d) at ``--rows`` and 3 x ``--rows``: peak RSS must stay flat (and < 300 MB)."""
    results: dict[str, list[Result]] = {"b": [], "d": []}
    for rows in (args.rows, 3 * args.rows):
        totals = make_pg_orders(servers, SOURCE_DB, rows)
        results["b"].append(run_datamove(
            servers, tmp, f"(b) datamove, PG -> PG, {rows:,} rows", "b",
            f"{servers.pg_url}/{SOURCE_DB}", totals, args.batch_size,
        ))
        totals = make_mysql_orders(servers, SOURCE_DB, rows)
        results["d"].append(run_datamove(
            servers, tmp, f"(d) datamove, MariaDB -> PG, {rows:,} rows", "d",
            f"{servers.mysql_url}/{SOURCE_DB}", totals, args.batch_size,
        ))
    print()
    print_table([*results["b"], *results["d"]])
    print()
    for key, (small, large) in results.items():
        growth = large.rss_mb / small.rss_mb if small.rss_mb and large.rss_mb else None
        ratio(f"({key}) peak RSS at {3 * args.rows:,} / at {args.rows:,}", growth, "~1 (flat)",
              None if growth is None else growth <= 1.2 and (large.rss_mb or 0) < 300)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark datamove's copy against psql COPY and pgloader "
        "(see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows in the generated orders table (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=50_000,
                        help="datamove batch_size: rows per chunk (default 50,000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each copy this many times; report its fastest (default 1)")
    parser.add_argument("--skip-pgloader", action="store_true",
                        help="leave out (c), pgloader MariaDB -> PostgreSQL")
    parser.add_argument("--rss-check", action="store_true",
                        help="only run (b) at --rows and 3 x --rows rows and compare peak RSS")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)")
    parser.add_argument("--mysql-url", default=os.environ.get(
        "DM_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        help="MariaDB/MySQL server, without a database (env DM_BENCH_MYSQL_URL)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.batch_size < 1:
        parser.error("--rows, --repeat and --batch-size must be at least 1")

    servers = Servers(args.pg_url, args.mysql_url)
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        if args.rss_check:
            rss_check(servers, tmp, args)
        else:
            compare(servers, tmp, args)
    finally:
        servers.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
