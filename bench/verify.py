"""Speed and findings of ``datamove verify`` against reladiff and a one-scan floor, in one run.

``python bench/verify.py`` builds the ``orders`` table of ``bench/copy.py`` (``--rows`` rows,
default 1,000,000: bigint key, integer, numeric(12,2), char(3), varchar(16), a timestamp and
a timestamptz/TIMESTAMP, text with non-ASCII characters, tabs, newlines and ~10% NULLs,
boolean, JSON) server-side in a scratch PostgreSQL database and a scratch MariaDB database
(``dm_bv_src`` on both, identical content), and two PostgreSQL targets cloned from the
PostgreSQL source (``CREATE DATABASE ... TEMPLATE``, a file-level copy: faster than any
load): ``dm_bv_same``, identical, and ``dm_bv_diff``, with exactly ten scattered differences:

- 4 changed rows: ``amount`` + 0.01, a ``status``, a ``note``, ``updated_at`` + 1 hour;
- 3 missing rows (deleted from the target);
- 3 extra rows (inserted into the target: one below the lowest key, two beyond the highest).

The content of the sources and the identical target is cross-checked by aggregates first.
Then, for four cases, (a) identical and (b) ten differences, each PostgreSQL -> PostgreSQL
and MariaDB -> PostgreSQL (both (b) cases use ``dm_bv_diff``), it times as child processes:

datamove  ``datamove --quiet verify SPEC --json --checks checksum`` (a spec with the one
          table, ``create_tables: false``, key ``id``, written into a temporary folder);
reladiff  ``reladiff SRC orders TGT orders -k id -c <every other column> --json``, at its
          defaults (1 thread, bisection factor 32, threshold 16384) and with ``-j 2``; the
          faster is reported. A column reladiff refuses to compare ("Incompatible types",
          JSON against jsonb) is left out of its command, and the table says so;
datamove  (where reladiff refused a column) also ``datamove diff SRC TGT --table orders --key
diff      id --columns <the columns reladiff compared> --json``: like for like, counts included;
floor     one full-table aggregate scan per side, both sides at once (one child process
          running the two command line clients concurrently): ``SELECT count(*),
          sum(length(o::text)) FROM orders o`` on PostgreSQL, ``sum(length(CONCAT_WS('|',
          <every column>)))`` on MariaDB: every value turned into text once, no hashing.

Findings are checked: datamove must report exactly the ten keys of (b), 3 missing, 3 extra and
4 changed with the right column each, and nothing for (a). reladiff's ``+``/``-`` lines are
parsed into keys and compared with the same expectation; where it reports more (false
positives) or fewer, the table says so and the notes under it show an example: it is not a
failure of the benchmark.

The table: datamove's and reladiff's seconds, reladiff / datamove, datamove diff on
reladiff's columns and reladiff / that, the floor, datamove / floor, datamove's peak RSS (the
largest single process of the child's tree, from ``wait4``; the servers not counted) and the
findings. The issue's targets, checked under the table: datamove at least 2x faster than
reladiff on the all-columns cases (where reladiff compares every column) and faster on every
case (on the same columns); within 2x the floor on identical tables; peak RSS < 300 MB.

``--repeat N`` runs every measurement N times, round-robin, and keeps each one's fastest time
(and highest peak RSS). reladiff comes from PyPI: ``pip install 'reladiff[postgresql,mysql]'``
into the Python running this script; when it is missing the reladiff columns stay empty and a
message says how to install it. Every scratch database (``dm_bv_*``) is dropped at the end,
after a failure too.
"""

from __future__ import annotations

import benchpath  # noqa: F401 - first of all (see benchpath.py)

# isort: split
import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import (
    ORDERS_COLUMNS,
    Measured,
    Servers,
    datamove_command,
    make_mysql_orders,
    make_pg_orders,
    measure,
    say,
    tail,
)
from verify_results import (
    RELADIFF_INSTALL,
    Case,
    Expected,
    Findings,
    Row,
    Run,
    best,
    compare,
    report,
)

PREFIX = "dm_bv_"
SOURCE_DB = "dm_bv_src"
SAME_DB = "dm_bv_same"
DIFF_DB = "dm_bv_diff"
KEY = "id"
VALUE_COLUMNS = tuple(c for c in ORDERS_COLUMNS if c != KEY)

FLOOR_PG = "SELECT count(*), sum(length(o::text)) FROM orders o"
FLOOR_MYSQL = (
    f"SELECT count(*), sum(length(CONCAT_WS('|', {', '.join(ORDERS_COLUMNS)}))) FROM orders"
)

# Aggregates over every column, the same figures on both engines (sessions in UTC): the
# sources and the identical target must agree on all of them before anything is timed.
CONTENT_PG = """
SELECT count(*), sum(id), sum(customer_id), sum(amount), sum(length(currency)),
       sum(ascii(currency)), sum(length(status)), sum(ascii(status)), count(note),
       sum(char_length(note)), sum(ascii(note)), sum(paid::int),
       sum(extract(epoch FROM created_at)), sum(extract(epoch FROM updated_at)),
       sum((attrs->>'qty')::int), sum((attrs->>'gift')::boolean::int),
       sum(char_length(attrs->>'sku')), sum((attrs->>'tag' = 'ü€')::int)
FROM orders"""
CONTENT_MYSQL = """
SELECT count(*), sum(id), sum(customer_id), sum(amount), sum(char_length(currency)),
       sum(ascii(currency)), sum(char_length(status)), sum(ascii(status)), count(note),
       sum(char_length(note)), sum(ascii(note)), sum(paid),
       sum(unix_timestamp(created_at)), sum(unix_timestamp(updated_at)),
       sum(JSON_VALUE(attrs, '$.qty')), sum(JSON_VALUE(attrs, '$.gift') IN ('1', 'true')),
       sum(char_length(JSON_VALUE(attrs, '$.sku'))), sum(JSON_VALUE(attrs, '$.tag') = 'ü€')
FROM orders"""


# -- the differences -----------------------------------------------------------------------


def differences(rows: int) -> tuple[Expected, list[str]]:
    """The ten differences of (b), scattered over ``rows`` keys, and the SQL making them."""

    def at(fraction: float, non_null_note: bool = False) -> int:
        key = max(2, round(rows * fraction))
        return key + 1 if non_null_note and key % 10 == 0 else key  # every 10th note is NULL

    amount, status, note, shifted = at(0.13), at(0.37), at(0.61, True), at(0.71)
    missing = [at(0.22), at(0.48), at(0.83)]
    extra = {0: 1, rows + 7: 5, rows + 1234: 6}  # new key: the row whose values it copies
    copied = ", ".join(VALUE_COLUMNS)
    statements = [
        f"UPDATE orders SET amount = amount + 0.01 WHERE id = {amount}",
        f"UPDATE orders SET status = 'disputed' WHERE id = {status}",
        f"UPDATE orders SET note = note || ' (edited)' WHERE id = {note}",
        f"UPDATE orders SET updated_at = updated_at + interval '1 hour' WHERE id = {shifted}",
        f"DELETE FROM orders WHERE id IN ({', '.join(map(str, missing))})",
        *[f"INSERT INTO orders SELECT {new}, {copied} FROM orders WHERE id = {old}"
          for new, old in extra.items()],
    ]
    expected = Expected(
        missing=frozenset(map(str, missing)),
        extra=frozenset(map(str, extra)),
        changed={str(amount): "amount", str(status): "status", str(note): "note",
                 str(shifted): "updated_at"},
    )
    assert expected.count == 10, "the differences overlap: use more --rows"
    return expected, statements


# -- setup ---------------------------------------------------------------------------------


def content(servers: Servers, engine: str, db: str) -> tuple[Decimal, ...]:
    if engine == "pg":
        with servers.pg(db) as conn:
            row = conn.execute(CONTENT_PG).fetchone()
        assert row is not None
    else:
        (row,) = servers.mysql_run(db, CONTENT_MYSQL)
    return tuple(Decimal(v) for v in row)


def prepare(servers: Servers, rows: int) -> list[Case]:
    """Sources, targets, differences; returns the four cases."""
    make_pg_orders(servers, SOURCE_DB, rows)
    make_mysql_orders(servers, SOURCE_DB, rows)
    say(f"cloning {SOURCE_DB} into {SAME_DB} and {DIFF_DB} (CREATE DATABASE ... TEMPLATE) ...")
    servers.pg_db(SAME_DB, template=SOURCE_DB)
    servers.pg_db(DIFF_DB, template=SOURCE_DB)
    expected, statements = differences(rows)
    with servers.pg(DIFF_DB) as conn:
        for statement in statements:
            conn.execute(statement)  # built from integers only
        conn.execute("VACUUM (FREEZE, ANALYZE) orders")
    say("cross-checking the content of both sources and the identical target ...")
    pg = content(servers, "pg", SOURCE_DB)
    for engine, db in (("mysql", SOURCE_DB), ("pg", SAME_DB)):
        other = content(servers, engine, db)
        if other != pg:
            raise SystemExit(f"{engine} {db} differs from the PostgreSQL source:\n"
                             f"  {pg}\n  {other}")
    none = Expected()
    return [
        Case("pg-same", "(a) identical, PG -> PG", "pg", SAME_DB, none),
        Case("my-same", "(a) identical, MariaDB -> PG", "mysql", SAME_DB, none),
        Case("pg-diff", "(b) 10 differences, PG -> PG", "pg", DIFF_DB, expected),
        Case("my-diff", "(b) 10 differences, MariaDB -> PG", "mysql", DIFF_DB, expected),
    ]


def source_url(servers: Servers, case: Case) -> str:
    return f"{servers.pg_url if case.source == 'pg' else servers.mysql_url}/{SOURCE_DB}"


# -- the measurements ----------------------------------------------------------------------


def failed(run: Run, measured: Measured, log: Path, what: str) -> Run:
    run.verdict = f"FAILED (exit {measured.returncode})"
    say(f"  {what} failed with exit code {measured.returncode}:\n{tail(log)}")
    return run


def run_datamove(servers: Servers, tmp: Path, case: Case, max_diff_rows: int,
                 columns: Sequence[str] | None = None) -> Run:
    """``datamove verify`` of the spec's mapping; with ``columns``, ``datamove diff`` of just
    those (reladiff's columns where it refused some), counts included."""
    target = f"{servers.pg_url}/{case.target_db}"
    if columns is None:
        spec = tmp / f"{case.key}.yaml"
        # JSON strings are YAML strings: any character in a URL is quoted safely.
        spec.write_text(
            f"name: bench_verify\nsource: {json.dumps(source_url(servers, case))}\n"
            f"target: {json.dumps(target)}\n"
            f"create_tables: false\ntables:\n  orders:\n    key: {KEY}\n",
            encoding="utf-8",
        )
        what = ["verify", str(spec), "--checks", "checksum"]
    else:
        what = ["diff", source_url(servers, case), target, "--table", "orders", "--key", KEY,
                *[arg for c in columns for arg in ("--columns", c)]]
    cmd = [*datamove_command(), "--quiet", *what, "--json", "--max-diff-rows", str(max_diff_rows)]
    servers.checkpoint()
    say(f"{case.label}: datamove {what[0]}{' (reladiff columns)' if columns else ''} ...")
    tag = "datamove" if columns is None else "datamove-columns"
    log, out = tmp / f"{case.key}-{tag}.log", tmp / f"{case.key}-{tag}.json"
    measured = measure(cmd, log, stdout=out)
    run = Run(measured.seconds, measured.rss_mb)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
        (check,) = [c for c in report["checks"] if c["kind"] == "checksum"]
        details = check["details"]
    except (OSError, ValueError, KeyError, TypeError):
        return failed(run, measured, log, "datamove verify")
    if check["status"] == "error" or measured.returncode not in (0, 1):
        run.verdict = f"ERROR ({check.get('actual') or measured.returncode})"
        say(f"  datamove verify: {check}\n{tail(log)}")
        return run
    run.ok = True
    found = Findings(
        missing={_key(k) for k in details["missing"]},
        extra={_key(k) for k in details["extra"]},
        changed={_key(c["key"]): set(c["columns"]) for c in details["changed"]},
    )
    run.agrees, run.verdict, run.notes = compare(found, case.expected, columns=True)
    if details.get("not_fetched"):
        run.agrees, run.verdict = False, run.verdict + f" +{details['not_fetched']} not fetched"
    if details.get("compared_in_python"):
        run.variant = "merge: " + ", ".join(details["compared_in_python"])
    say(f"  {measured.seconds:.2f} s, {measured.rss_mb:.0f} MB, {run.verdict}"
        f" ({details.get('method')}, {details.get('queries')} queries)")
    return run


def _key(key: Any) -> str:
    """A reported key as text: datamove lists a key's parts, reladiff gives a value."""
    if isinstance(key, list):
        (key,) = key
    return str(key)


def reladiff_command() -> list[str] | None:
    """reladiff next to this Python (with the drivers it needs), or None with a message."""
    missing = [m for m in ("reladiff", "psycopg2", "mysql.connector")
               if importlib.util.find_spec(m.split(".")[0]) is None
               or importlib.util.find_spec(m) is None]
    script = Path(sys.executable).with_name("reladiff")
    if missing or not script.exists():
        say(f"reladiff is not installed in {sys.executable} (missing: "
            f"{', '.join(missing) or 'the reladiff script'}): its columns stay empty. Install "
            f"it into the same environment with:\n    {sys.executable} -m {RELADIFF_INSTALL}")
        return None
    return [str(script)]


INCOMPATIBLE = re.compile(r"Incompatible types for column '([^']+)'")


class Reladiff:
    """reladiff runs; remembers the columns it refused per case, so repeats skip them."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.refused: dict[str, dict[str, str]] = {}  # case -> column -> reladiff's message

    def run(self, servers: Servers, tmp: Path, case: Case, threads: int) -> Run:
        refused = self.refused.setdefault(case.key, {})
        columns = [c for c in VALUE_COLUMNS if c not in refused]
        cmd = [*self.command, source_url(servers, case), "orders",
               f"{servers.pg_url}/{case.target_db}", "orders", "-k", KEY,
               *[arg for c in columns for arg in ("-c", c)], "--json"]
        if threads > 1:
            cmd += ["-j", str(threads)]
        servers.checkpoint()
        say(f"{case.label}: reladiff{f' -j {threads}' if threads > 1 else ''} ...")
        log, out = tmp / f"{case.key}-reladiff.log", tmp / f"{case.key}-reladiff.jsonl"
        # rich wraps reladiff's output at the terminal's width, even into a file.
        measured = measure(cmd, log, stdout=out, env={"COLUMNS": "1000000"})
        errors = log.read_text(encoding="utf-8", errors="replace")
        newly = {m.group(1): m.group(0) for m in INCOMPATIBLE.finditer(errors)}
        if newly.keys() - refused.keys():
            refused.update(newly)
            say(f"  reladiff refused column(s) {', '.join(newly)} ({', '.join(newly.values())}):"
                " running it again without them")
            return self.run(servers, tmp, case, threads)
        run = Run(measured.seconds, measured.rss_mb, variant=f"-j {threads}" if threads > 1
                  else "defaults")
        # reladiff exits 0 after logging an error: its log is the only sign.
        if measured.returncode != 0 or re.search(r"\bERROR\b|Traceback", errors):
            return failed(run, measured, log, "reladiff")
        found, rows = parse_reladiff(out)
        run.ok = True
        run.agrees, run.verdict, run.notes = compare(found, case.expected, columns=False)
        if refused:
            run.verdict += f" ({', '.join(refused)} not compared)"
            run.notes.append(f"column(s) not compared: {'; '.join(refused.values())}")
        if not run.agrees:
            run.notes.extend(example_rows(rows, found, case.expected))
        say(f"  {measured.seconds:.2f} s, {measured.rss_mb:.0f} MB, {run.verdict}")
        return run


def parse_reladiff(out: Path) -> tuple[Findings, dict[str, dict[str, list[Any]]]]:
    """reladiff's ``--json`` lines (``["-", [key, values...]]``: ``-`` the source's version of
    a row, ``+`` the target's) as findings, and the rows by key and sign."""
    rows: dict[str, dict[str, list[Any]]] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sign, values = json.loads(line)
            rows.setdefault(str(values[0]), {})[sign] = values
    found = Findings()
    for key, signs in rows.items():
        if "-" in signs and "+" in signs:
            found.changed[key] = set()
        elif "-" in signs:
            found.missing.add(key)
        else:
            found.extra.add(key)
    return found, rows


def example_rows(rows: dict[str, dict[str, list[Any]]], found: Findings,
                 expected: Expected) -> list[str]:
    """One unexpected changed row of reladiff's, as the values that differ on both sides."""
    for key in sorted(found.changed.keys() - expected.changed.keys(), key=lambda k: (len(k), k)):
        old, new = rows[key]["-"], rows[key]["+"]
        pairs = [f"{a!r} vs {b!r}" for a, b in zip(old, new, strict=False) if a != b]
        return [f"e.g. key {key}: source vs target: {'; '.join(pairs)}"]
    return []


def run_floor(servers: Servers, tmp: Path, case: Case) -> Run:
    """One aggregate scan on each side, at the same time, by the command line clients."""
    psql = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    target = [*psql, "-d", f"{servers.pg_url}/{case.target_db}", "-c", FLOOR_PG]
    env: dict[str, str] = {}
    if case.source == "pg":
        source = [*psql, "-d", f"{servers.pg_url}/{SOURCE_DB}", "-c", FLOOR_PG]
    else:
        client, env = servers.mysql_client(SOURCE_DB)
        source = [*client, "-e", FLOOR_MYSQL]
    script = (f"{shlex.join(source)} & s=$!; {shlex.join(target)} || exit 1; wait $s")
    servers.checkpoint()
    say(f"{case.label}: floor ...")
    log = tmp / f"{case.key}-floor.log"
    measured = measure(["bash", "-c", script], log, env=env)
    run = Run(measured.seconds, measured.rss_mb)
    if measured.returncode != 0:
        return failed(run, measured, log, "the floor")
    run.ok, run.verdict = True, "OK"
    say(f"  {measured.seconds:.2f} s")
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark datamove verify against reladiff and a one-scan floor "
        "(see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows in the generated orders table (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every measurement this many times, round-robin; report "
                        "each one's fastest (default 1)")
    parser.add_argument("--max-diff-rows", type=int, default=1000,
                        help="datamove verify --max-diff-rows (default 1000)")
    parser.add_argument("--skip-reladiff", action="store_true", help="leave reladiff out")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)")
    parser.add_argument("--mysql-url", default=os.environ.get(
        "DM_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        help="MariaDB/MySQL server, without a database (env DM_BENCH_MYSQL_URL)")
    args = parser.parse_args(argv)
    if args.rows < 1000 or args.repeat < 1 or args.max_diff_rows < 1:
        parser.error("--rows must be at least 1000, --repeat and --max-diff-rows at least 1")
    for tool in ("psql", "mysql", "bash"):
        if shutil.which(tool) is None:
            parser.error(f"`{tool}` must be on the PATH")

    command = None if args.skip_reladiff else reladiff_command()
    reladiff = Reladiff(command) if command else None
    servers = Servers(args.pg_url, args.mysql_url)
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        cases = prepare(servers, args.rows)
        runs: dict[tuple[str, str], list[Run]] = {}
        for _ in range(args.repeat):
            for case in cases:
                measurements: list[tuple[str, Callable[[], Run]]] = [
                    ("floor", lambda case=case: run_floor(servers, tmp, case)),
                    ("datamove", lambda case=case: run_datamove(
                        servers, tmp, case, args.max_diff_rows)),
                ]
                if reladiff:
                    measurements += [
                        (f"reladiff-{j}", lambda case=case, j=j: reladiff.run(
                            servers, tmp, case, j))
                        for j in (1, 2)
                    ]
                for tool, measure_one in measurements:
                    done = runs.setdefault((case.key, tool), [])
                    if not done or done[-1].ok:
                        done.append(measure_one())
                refused = reladiff.refused.get(case.key) if reladiff else None
                if refused:  # like for like: datamove on the columns reladiff compared
                    kept = [c for c in VALUE_COLUMNS if c not in refused]
                    done = runs.setdefault((case.key, "datamove-columns"), [])
                    if not done or done[-1].ok:
                        done.append(run_datamove(servers, tmp, case, args.max_diff_rows, kept))
        rows = []
        for case in cases:
            rd = None
            if reladiff:
                candidates = [best(runs[(case.key, f"reladiff-{j}")]) for j in (1, 2)]
                ok = [r for r in candidates if r.ok]
                rd = min(ok, key=lambda r: r.seconds or 0.0) if ok else candidates[0]
            same = runs.get((case.key, "datamove-columns"))
            rows.append(Row(case, best(runs[(case.key, "datamove")]), rd,
                            best(runs[(case.key, "floor")]), best(same) if same else None))
    finally:
        servers.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if report(rows, command) else 1


if __name__ == "__main__":
    sys.exit(main())
