"""Copy throughput and memory of datamove against its natural baselines, in one run.

``python bench/copy.py`` (or ``make bench``) builds an ``orders`` table of ``--rows`` rows
(default 1,000,000: bigint key, integer, numeric(12,2), char(3), varchar(16), two timestamps,
text with non-ASCII characters and ~10% NULLs, boolean, JSON) server-side, in a scratch
PostgreSQL database and a scratch MariaDB database, both named ``dm_bench_src``. It then
times these copies, each into a fresh PostgreSQL database:

(a) floor: ``psql -c 'COPY (SELECT ...) TO STDOUT (FORMAT binary)' | psql -c 'COPY orders
    FROM STDIN (FORMAT binary)'``, PostgreSQL to PostgreSQL, into a bare table (no primary
    key), then ``ALTER TABLE orders ADD PRIMARY KEY``, all timed: what a tool that knows
    nothing but COPY achieves;
(a2) the old floor: text COPY into a table that already has its key (it flatters datamove);
(b) ``datamove run``, PostgreSQL to PostgreSQL, on a spec written beforehand;
(b2) ``datamove init`` + ``datamove run``, PostgreSQL to PostgreSQL, timed together;
(c) pgloader, MariaDB to PostgreSQL, with pgloader's defaults, when ``pgloader`` is installed
    (the bench installs nothing: it says so and skips (c); ``--skip-pgloader`` leaves it out);
(d) ``datamove init`` + ``run``, MariaDB to PostgreSQL, datamove's defaults (``mysql://``);
(e) ``datamove run --workers 2``, MariaDB to PostgreSQL.

The copies run interleaved, round by round (``--repeat N`` rounds; each copy's fastest is
kept), so the ratios come from one run on a machine whose load changes; the load average is
printed with the table.

Each copy runs as a child process. Its time is wall time from process start to exit, so
start-up, planning and index builds are included; its peak RSS is that of the largest single
process of the child's tree, from ``wait4`` (the database servers are not counted). Every
target is checked against its source: the row count and the sum of the numeric column. The
ratios printed under the table are issue 19's targets: (b) time / (a) time <= 1.3,
(b2) / (a) <= 1.5, (d) rows/s / (c) rows/s >= 1.5 at under a third of (c)'s peak RSS.

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


def check(
    servers: Servers,
    db: str,
    expected: tuple[int, Decimal],
    result: Result,
    measured: Measured,
    log: Path,
) -> Result:
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


def run_floor(
    servers: Servers, tmp: Path, expected: tuple[int, Decimal], binary: bool = True
) -> Result:
    """The floor: what a tool that knows nothing but COPY achieves, PG -> PG.

    ``binary``: binary COPY into a bare table (no key), the primary key built after, in the
    same timed pipeline (the issue's floor). Otherwise the old floor: text COPY into a table
    that already has its primary key (kept as a second line; it flatters datamove).
    """
    label = (
        "(a) floor: psql COPY binary | psql COPY binary, bare, key after"
        if binary
        else "(a2) old floor: psql COPY text | psql COPY text, key before"
    )
    result = Result(label, expected[0])
    db = f"{PREFIX}a"
    target = servers.pg_db(db)
    with servers.pg(db) as conn:
        conn.execute(ORDERS_PG_DDL.replace(" PRIMARY KEY", "") if binary else ORDERS_PG_DDL)
    cols = ", ".join(ORDERS_COLUMNS)
    psql = "psql -X -q -v ON_ERROR_STOP=1 -d"
    fmt_opt = " (FORMAT binary)" if binary else ""
    out = f"COPY (SELECT {cols} FROM orders) TO STDOUT{fmt_opt}"
    into = f"COPY orders ({cols}) FROM STDIN{fmt_opt}"
    target_q = shlex.quote(target)
    pipeline = (
        f"{psql} {shlex.quote(f'{servers.pg_url}/{SOURCE_DB}')} -c {shlex.quote(out)}"
        f" | {psql} {target_q} -c {shlex.quote(into)}"
    )
    if binary:
        key = "ALTER TABLE orders ADD PRIMARY KEY (id)"
        pipeline += f" && {psql} {target_q} -c {shlex.quote(key)}"
    servers.checkpoint()
    say(f"{result.label} ...")
    log = tmp / "a.log"
    measured = measure(["bash", "-o", "pipefail", "-c", pipeline], log)
    result = check(servers, db, expected, result, measured, log)
    servers.pg_drop(db)
    return result


def run_datamove(
    servers: Servers,
    tmp: Path,
    label: str,
    key: str,
    source: str,
    expected: tuple[int, Decimal],
    batch_size: int | None,
    workers: int = 1,
    init: bool = False,
) -> Result:
    """``datamove run`` on a spec written beforehand; ``init``: ``datamove init`` writes the
    spec, timed together with the run (what a new user types)."""
    result = Result(label, expected[0])
    db = f"{PREFIX}{key}"
    target = servers.pg_db(db)
    spec = tmp / f"{key}.yaml"
    spec.unlink(missing_ok=True)
    run = [*datamove_command(), "--quiet", "run", str(spec), "--json"]
    if workers > 1:
        run += ["--workers", str(workers)]
    if init:
        init_cmd = [
            *datamove_command(),
            "--quiet",
            "init",
            "--source",
            source,
            "--target",
            target,
            "-o",
            str(spec),
        ]
        cmd = ["bash", "-c", f"{shlex.join(init_cmd)} >&2 && exec {shlex.join(run)}"]
    else:
        # JSON strings are YAML strings: any character in a URL is quoted safely.
        size = "" if batch_size is None else f"batch_size: {batch_size}\n"
        spec.write_text(
            f"name: bench\nsource: {json.dumps(source)}\ntarget: {json.dumps(target)}\n"
            f"{size}tables:\n  orders:\n",
            encoding="utf-8",
        )
        cmd = run
    servers.checkpoint()
    say(f"{label} ...")
    log, out = tmp / f"{key}.log", tmp / f"{key}.json"
    measured = measure(cmd, log, stdout=out)
    result = check(servers, db, expected, result, measured, log)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
        paths = sorted({p for t in report["tables"] for p in t["paths"]})
        say(
            f"  datamove: {report['rows']:,} rows in {report['seconds']:.1f} s "
            f"(engine time), paths {'/'.join(paths)}"
        )
        if len(paths) > 1:
            result.check += f" ({'/'.join(paths)} paths)"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    servers.pg_drop(db)
    return result


def find_pgloader() -> str | None:
    """pgloader's path, or None (said): the bench installs nothing itself."""
    found = shutil.which("pgloader")
    if not found:
        say(
            "pgloader is not installed: (c) is skipped. Install it (Debian: "
            "`apt-get install -y pgloader`, as root) to compare against it."
        )
    return found


def run_pgloader(
    servers: Servers, tmp: Path, pgloader: str, expected: tuple[int, Decimal]
) -> Result:
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


def best_of(results: list[Result]) -> Result:
    """The fastest of a copy's runs, with the highest peak RSS of them; a failure wins."""
    if not results[-1].ok:
        return results[-1]
    best = min(results, key=lambda r: r.seconds or 0.0)
    best.rss_mb = max(r.rss_mb or 0.0 for r in results)
    return best


# -- report --------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    width = max(len(r.label) for r in results)
    print(
        f"{'run':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>9}  {'peak RSS MB':>11}  check"
    )
    for r in results:
        print(
            f"{r.label:<{width}}  {r.source_rows:>10,}  {fmt(r.seconds, '8.2f')}  "
            f"{fmt(r.rate, '9,.0f')}  {fmt(r.rss_mb, '11.1f')}  {r.check}"
        )


def ratio(
    label: str, value: float | None, target: str | None = None, met: bool | None = None
) -> None:
    verdict = (
        ""
        if target is None
        else f"  target {target}: " + ("n/a" if met is None else "met" if met else "MISSED")
    )
    print(f"{label:<36} {fmt(value, '6.2f')}{verdict}")


def compare(servers: Servers, tmp: Path, args: argparse.Namespace) -> None:
    """Every copy, interleaved round by round (``--repeat``): the ratios come from one run."""
    pgloader = None if args.skip_pgloader else find_pgloader()
    pg_totals = make_pg_orders(servers, SOURCE_DB, args.rows)
    my_totals = make_mysql_orders(servers, SOURCE_DB, args.rows)
    my_source = f"{servers.mysql_url}/{SOURCE_DB}"
    pg_source = f"{servers.pg_url}/{SOURCE_DB}"
    batch = args.batch_size
    copies: dict[str, Callable[[], Result]] = {
        "a": lambda: run_floor(servers, tmp, pg_totals),
        "a2": lambda: run_floor(servers, tmp, pg_totals, binary=False),
        "b": lambda: run_datamove(
            servers, tmp, "(b) datamove run, PG -> PG", "b", pg_source, pg_totals, batch
        ),
        "b2": lambda: run_datamove(
            servers,
            tmp,
            "(b2) datamove init + run, PG -> PG",
            "b2",
            pg_source,
            pg_totals,
            batch,
            init=True,
        ),
        "d": lambda: run_datamove(
            servers,
            tmp,
            "(d) datamove init + run, MariaDB -> PG",
            "d",
            my_source,
            my_totals,
            batch,
            init=True,
        ),
        "e": lambda: run_datamove(
            servers,
            tmp,
            "(e) datamove --workers 2, MariaDB -> PG",
            "e",
            my_source,
            my_totals,
            batch,
            workers=2,
        ),
    }
    if pgloader:
        copies["c"] = lambda: run_pgloader(servers, tmp, pgloader, my_totals)
    rounds = {key: [run()] for key, run in copies.items()}
    for _ in range(args.repeat - 1):
        for key, run in copies.items():
            if rounds[key][-1].ok:
                rounds[key].append(run())
    best = {key: best_of(results) for key, results in rounds.items()}
    c = best.get("c") or Result("(c) pgloader, MariaDB -> PG", my_totals[0], check="skipped")
    a, b, b2, d, e = best["a"], best["b"], best["b2"], best["d"], best["e"]

    print()
    print(f"load: {Path('/proc/loadavg').read_text().split()[:3]} (1/5/15 min)")
    print_table([a, best["a2"], b, b2, c, d, e])
    print()
    b_a, b2_a = time_ratio(b, a), time_ratio(b2, a)
    d_c = d.rate / c.rate if d.rate and c.rate else None
    e_d = e.rate / d.rate if e.rate and d.rate else None
    rss = d.rss_mb / c.rss_mb if d.ok and c.ok and d.rss_mb and c.rss_mb else None
    ratio("(b) time / (a) time", b_a, "<= 1.3", None if b_a is None else b_a <= 1.3)
    ratio("(b2) time / (a) time", b2_a, "<= 1.5", None if b2_a is None else b2_a <= 1.5)
    ratio("(b) time / (a2) time (old floor)", time_ratio(b, best["a2"]))
    ratio("(d) rows/s / (c) rows/s", d_c, ">= 1.5", None if d_c is None else d_c >= 1.5)
    ratio("(d) peak RSS / (c) peak RSS", rss, "< 0.33", None if rss is None else rss < 1 / 3)
    ratio("(e) rows/s / (d) rows/s (2 workers)", e_d)


def time_ratio(slow: Result, fast: Result) -> float | None:
    ok = slow.ok and fast.ok and slow.seconds and fast.seconds
    return slow.seconds / fast.seconds if ok else None  # type: ignore[operator]


def rss_check(servers: Servers, tmp: Path, args: argparse.Namespace) -> None:
    """(b) and (d) at ``--rows`` and 3 x ``--rows``: peak RSS must stay flat (and < 300 MB)."""
    results: dict[str, list[Result]] = {"b": [], "d": []}
    for rows in (args.rows, 3 * args.rows):
        totals = make_pg_orders(servers, SOURCE_DB, rows)
        results["b"].append(
            run_datamove(
                servers,
                tmp,
                f"(b) datamove, PG -> PG, {rows:,} rows",
                "b",
                f"{servers.pg_url}/{SOURCE_DB}",
                totals,
                args.batch_size,
            )
        )
        totals = make_mysql_orders(servers, SOURCE_DB, rows)
        results["d"].append(
            run_datamove(
                servers,
                tmp,
                f"(d) datamove, MariaDB -> PG, {rows:,} rows",
                "d",
                f"{servers.mysql_url}/{SOURCE_DB}",
                totals,
                args.batch_size,
            )
        )
    print()
    print_table([*results["b"], *results["d"]])
    print()
    for key, (small, large) in results.items():
        growth = large.rss_mb / small.rss_mb if small.rss_mb and large.rss_mb else None
        ratio(
            f"({key}) peak RSS at {3 * args.rows:,} / at {args.rows:,}",
            growth,
            "~1 (flat)",
            None if growth is None else growth <= 1.2 and (large.rss_mb or 0) < 300,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark datamove's copy against psql COPY and pgloader "
        "(see the module docstring)."
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="rows in the generated orders table (default 1,000,000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="datamove batch_size: rows per chunk (default: datamove's own)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each copy this many times; report its fastest (default 1)",
    )
    parser.add_argument(
        "--skip-pgloader", action="store_true", help="leave out (c), pgloader MariaDB -> PostgreSQL"
    )
    parser.add_argument(
        "--rss-check",
        action="store_true",
        help="only run (b) at --rows and 3 x --rows rows and compare peak RSS",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)",
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("DM_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        help="MariaDB/MySQL server, without a database (env DM_BENCH_MYSQL_URL)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or (args.batch_size or 1) < 1:
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
