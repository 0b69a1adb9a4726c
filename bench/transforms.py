"""Throughput cost of column transforms: pushdown-eligible vs Python-only vs identity.

``python bench/transforms.py`` builds an ``items`` table of ``--rows`` rows (default
1,000,000) server-side in a scratch PostgreSQL database ``dm_bt_src``: a bigint key, a text
``name`` padded with spaces (every 20th empty, every 20th only spaces), a numeric(12,4)
``amount`` (negative and positive, ~1% exact ties at two places), an integer ``status`` code
0..2, a text ``note`` (~10% NULL, runs of spaces and tabs, non-ASCII letters) and a timestamp
``created_at`` (one value per 31 seconds from 2020-01-01, so both 2020 DST changes of
Europe/Berlin fall inside a million rows). It then copies the table PostgreSQL -> PostgreSQL
with ``datamove --quiet run SPEC --json`` as a child process, each time into a fresh target
database, under three specs:

identity   every column as is (datamove's binary COPY-to-COPY pipe);
pushdown   five transforms datamove pushes down into the source SELECT, so the rows still
           go COPY-to-COPY with no per-row Python: ``trim`` and ``nullif: ""`` on name,
           ``round`` half_up on amount, ``map`` with ``else: "null"`` on status,
           ``default: "n/a"`` on note;
python     five transforms datamove runs in Python (the streamed ``rows`` path): ``upper`` on
           name, ``round`` half_even on amount (PostgreSQL has no half-even round), ``map``
           with the default ``else: reject`` on status, ``regex_replace`` of ``\\s+`` on note,
           ``timezone`` (Europe/Berlin to UTC, DST policies declared) on created_at.

Before the timed runs, ``datamove plan SPEC --json`` must show every column of the pushdown
spec computed in ``sql`` and every transformed column of the python spec in ``python``; the
plan is printed. After every run the target is checked: its row count against the source's,
whole-table SQL checks (no padded or empty names left, status values are the text labels,
no NULL or double-spaced notes, the rounded sum, ...) and a sample of rows (spread over the
table plus the edge cases: blank names, NULL notes, rounding ties, DST gaps and overlaps)
compared with values computed independently here in Python. Any difference is a MISMATCH.

Each run's time is wall time from process start to exit (start-up, planning, index builds
included); its peak RSS is that of the largest single process of the child's tree, from
``wait4``. The ratios printed under the table are the issue's targets: pushdown rows/s /
identity rows/s >= 0.80, python rows/s / identity rows/s >= 0.40.

``--repeat N`` runs the three copies N times, round-robin (so drift on a busy machine hits all
three alike), and reports each one's fastest time and highest peak RSS.

Every scratch database (``dm_bt_*``) is dropped at the end, after a failure too.
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from harness import datamove_command, fmt, measure, say, tail
from psycopg import sql

SOURCE_DB = "dm_bt_src"
PREFIX = "dm_bt_"
TABLE = "items"
COLUMNS = ("id", "name", "amount", "status", "note", "created_at")
LABELS = {0: "pending", 1: "paid", 2: "refunded"}
BERLIN = ZoneInfo("Europe/Berlin")
CENT = Decimal("0.01")

PG_DDL = """
CREATE TABLE items (
    id         bigint PRIMARY KEY,
    name       text,
    amount     numeric(12, 4) NOT NULL,
    status     integer NOT NULL,
    note       text,
    created_at timestamp(6) NOT NULL
)"""

PG_FILL = """
INSERT INTO items
SELECT i,
       CASE WHEN i % 20 = 0 THEN ''
            WHEN i % 20 = 1 THEN '   '
            ELSE repeat(' ', (i % 3)::integer) || 'Customer '
                 || (ARRAY['Müller', 'Straße', 'O''Brien', 'Ödön', 'łukasz'])[1 + i % 5]
                 || ' ' || i || repeat(' ', (i % 4)::integer) END,
       (i * 104729 % 100000000 - 50000000) / 10000.0,
       (i % 3)::integer,
       CASE WHEN i % 10 = 0 THEN NULL
            ELSE 'Note  ' || i || chr(9) || chr(9) || 'with   spaces '
                 || (ARRAY['Größe', 'café', 'ÉTÉ'])[1 + i % 3] END,
       timestamp '2020-01-01' + i * interval '31 seconds' + i % 1000 * interval '1 millisecond'
FROM generate_series(1::bigint, {rows}::bigint) AS i"""

# Each run's columns, written as a user writes them in the spec (YAML flow style).
# ``else: "null"`` is quoted on purpose: unquoted, YAML reads it as a null value, not the word.
SPECS: dict[str, dict[str, str]] = {
    "identity": {column: "{}" for column in COLUMNS},
    "pushdown": {
        "id": "{}",
        "name": '{transform: [trim, {nullif: ""}]}',
        "amount": "{transform: [{round: {places: 2, mode: half_up}}]}",
        "status": (
            '{transform: [{map: {values: {0: pending, 1: paid, 2: refunded}, else: "null"}}]}'
        ),
        "note": '{transform: [{default: "n/a"}]}',
        "created_at": "{}",
    },
    "python": {
        "id": "{}",
        "name": "{transform: [upper]}",
        "amount": "{transform: [{round: {places: 2, mode: half_even}}]}",
        "status": "{transform: [{map: {0: pending, 1: paid, 2: refunded}}]}",
        "note": r'{transform: [{regex_replace: {pattern: "\\s+", replace: " "}}]}',
        "created_at": (
            "{transform: [{timezone: {assume: Europe/Berlin, nonexistent: later, "
            "ambiguous: earlier}}]}"
        ),
    },
}
LABELS_OF_RUNS = {
    "identity": "identity (no transforms)",
    "pushdown": "pushdown-eligible, 5 transforms",
    "python": "Python-only, 5 transforms",
}

Row = tuple[Any, ...]


# -- what the target must hold, computed here without datamove ------------------------------


def expect_identity(row: Row) -> Row:
    return row


def expect_pushdown(row: Row) -> Row:
    key, name, amount, status, note, created = row
    trimmed = None if name is None else name.strip(" ")
    return (
        key,
        None if trimmed == "" else trimmed,
        amount.quantize(CENT, rounding=ROUND_HALF_UP),
        LABELS.get(status),
        "n/a" if note is None else note,
        created,
    )


def expect_python(row: Row) -> Row:
    key, name, amount, status, note, created = row
    # Declared policies: a wall time in the spring gap takes the later instant (the offset
    # before the change), one in the autumn overlap the earlier (also the offset before the
    # change): both are PEP 495's fold=0.
    return (
        key,
        None if name is None else name.upper(),
        amount.quantize(CENT, rounding=ROUND_HALF_EVEN),
        LABELS[status],
        None if note is None else re.sub(r"\s+", " ", note),
        created.replace(tzinfo=BERLIN, fold=0).astimezone(dt.UTC),
    )


EXPECT: dict[str, Callable[[Row], Row]] = {
    "identity": expect_identity,
    "pushdown": expect_pushdown,
    "python": expect_python,
}

# Whole-table checks on the target: (what, SQL giving a count, the count it must be).
# ``{facts[...]}`` come from the source (see ``source_facts``).
TABLE_CHECKS: dict[str, list[tuple[str, str, str]]] = {
    "identity": [
        ("sum(amount)", "SELECT sum(amount) FROM items", "sum_amount"),
        ("NULL notes", "SELECT count(*) FROM items WHERE note IS NULL", "null_notes"),
    ],
    "pushdown": [
        ("padded or empty names",
         "SELECT count(*) FROM items WHERE name LIKE ' %' OR name LIKE '% ' OR name = ''",
         "zero"),
        ("NULL names", "SELECT count(*) FROM items WHERE name IS NULL", "blank_names"),
        ("sum(amount)", "SELECT sum(amount) FROM items", "sum_half_up"),
        ("status not a label",
         "SELECT count(*) FROM items WHERE status IS NULL "
         "OR status NOT IN ('pending', 'paid', 'refunded')", "zero"),
        ("NULL notes", "SELECT count(*) FROM items WHERE note IS NULL", "zero"),
        ("'n/a' notes", "SELECT count(*) FROM items WHERE note = 'n/a'", "null_notes"),
    ],
    "python": [
        ("names not upper case", "SELECT count(*) FROM items WHERE name <> upper(name)", "zero"),
        ("status not a label",
         "SELECT count(*) FROM items WHERE status IS NULL "
         "OR status NOT IN ('pending', 'paid', 'refunded')", "zero"),
        ("notes with runs of white space",
         "SELECT count(*) FROM items WHERE note ~ '\\s\\s' OR note ~ '\\t'", "zero"),
        ("NULL notes", "SELECT count(*) FROM items WHERE note IS NULL", "null_notes"),
        ("created_at not timestamptz",
         "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' "
         "AND column_name = 'created_at' AND data_type <> 'timestamp with time zone'", "zero"),
    ],
}

SOURCE_FACTS = {
    "rows": "SELECT count(*) FROM items",
    "sum_amount": "SELECT sum(amount) FROM items",
    "sum_half_up": "SELECT sum(round(amount, 2)) FROM items",  # PostgreSQL: half away from 0
    "blank_names": "SELECT count(*) FROM items WHERE name IS NULL OR trim(name) = ''",
    "null_notes": "SELECT count(*) FROM items WHERE note IS NULL",
}

# Rows compared one by one: the edge cases, besides rows spread over the whole table.
EDGE_IDS = """
(SELECT id FROM items WHERE name = '' ORDER BY id LIMIT 3)
UNION (SELECT id FROM items WHERE name <> '' AND trim(name) = '' ORDER BY id LIMIT 3)
UNION (SELECT id FROM items WHERE note IS NULL ORDER BY id LIMIT 3)
UNION (SELECT id FROM items WHERE amount * 100 % 1 = 0.5 ORDER BY id LIMIT 5)
UNION (SELECT id FROM items WHERE amount * 100 % 1 = -0.5 ORDER BY id LIMIT 5)
UNION (SELECT id FROM items WHERE created_at >= '2020-03-29 02:00'
       AND created_at < '2020-03-29 03:00' ORDER BY id LIMIT 5)
UNION (SELECT id FROM items WHERE created_at >= '2020-10-25 02:00'
       AND created_at < '2020-10-25 03:00' ORDER BY id LIMIT 5)
UNION (SELECT id FROM items WHERE id % greatest({rows} / 1000, 1) = 0 OR id <= 50)
"""


# -- results -------------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    source_rows: int
    seconds: float | None = None
    rss_mb: float | None = None
    check: str = "not run"
    paths: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS_OF_RUNS[self.key]

    @property
    def rate(self) -> float | None:
        return self.source_rows / self.seconds if self.seconds and self.ok else None

    @property
    def ok(self) -> bool:
        return self.check.startswith("OK")


@dataclass
class Source:
    """The generated source table: its facts and the sample of rows to compare."""

    facts: dict[str, Any]
    sample: dict[int, Row]

    @property
    def rows(self) -> int:
        return int(self.facts["rows"])


# -- helpers -------------------------------------------------------------------------------


class Server:
    """Scratch PostgreSQL databases; remembers what it created so it can drop it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.created: set[str] = set()

    def connect(self, db: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(f"{self.url}/{db}", autocommit=True)

    def fresh(self, name: str) -> str:
        """A fresh, empty database ``name``; returns its URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.add(name)
        return f"{self.url}/{name}"

    def drop(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        self.created.discard(name)

    def checkpoint(self) -> None:
        """Flush the previous step's dirty pages, so they are not written during the next."""
        with self.connect() as conn:
            conn.execute("CHECKPOINT")

    def drop_all(self) -> None:
        for name in sorted(self.created):
            try:
                self.drop(name)
            except psycopg.Error as exc:
                say(f"could not drop PostgreSQL database {name}: {exc}")


def scalar(conn: psycopg.Connection[tuple[Any, ...]], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def fetch_rows(conn: psycopg.Connection[tuple[Any, ...]], ids: Sequence[int]) -> dict[int, Row]:
    query = sql.SQL("SELECT {} FROM items WHERE id = ANY(%s)").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    return {int(row[0]): tuple(row) for row in conn.execute(query, (list(ids),))}


# -- the source ----------------------------------------------------------------------------


def make_source(server: Server, rows: int) -> Source:
    say(f"generating {rows:,} rows in PostgreSQL {SOURCE_DB} ...")
    started = time.perf_counter()
    server.fresh(SOURCE_DB)
    with server.connect(SOURCE_DB) as conn:
        conn.execute(PG_DDL)
        conn.execute(PG_FILL.format(rows=int(rows)))
        # Set hint bits and statistics now, so no timed copy pays for the first read.
        conn.execute("VACUUM (FREEZE, ANALYZE) items")
        facts = {name: scalar(conn, query) for name, query in SOURCE_FACTS.items()}
        ids = [int(r[0]) for r in conn.execute(EDGE_IDS.format(rows=int(rows)))]
        sample = fetch_rows(conn, ids)
    facts["zero"] = 0
    say(f"  done in {time.perf_counter() - started:.1f} s ({len(sample):,} rows sampled)")
    return Source(facts, sample)


# -- specs and plans -----------------------------------------------------------------------


def write_spec(tmp: Path, key: str, source_url: str, target_url: str, batch_size: int) -> Path:
    # JSON strings are YAML strings: any character in a URL is quoted safely.
    lines = [
        f"name: bench-transforms-{key}",
        f"source: {json.dumps(source_url)}",
        f"target: {json.dumps(target_url)}",
        f"batch_size: {batch_size}",
        "tables:",
        f"  {TABLE}:",
        "    columns:",
        *(f"      {column}: {text}" for column, text in SPECS[key].items()),
    ]
    spec = tmp / f"{key}.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def check_plan(server: Server, tmp: Path, key: str, batch_size: int) -> str | None:
    """``datamove plan --json`` of ``key``'s spec, printed; an error message when the columns
    are not computed where this run needs them (pushdown: all in SQL; python: the transformed
    ones in Python)."""
    target = server.fresh(f"{PREFIX}plan")
    spec = write_spec(tmp, key, f"{server.url}/{SOURCE_DB}", target, batch_size)
    done = subprocess.run([*datamove_command(), "plan", str(spec), "--json"], cwd=tmp,
                          capture_output=True, text=True, check=False)
    server.drop(f"{PREFIX}plan")
    if done.returncode != 0:
        return f"datamove plan exited {done.returncode}: {done.stderr.strip()}"
    columns = json.loads(done.stdout)["tables"][0]["columns"]
    print(f"plan {key:<9} " + "  ".join(
        f"{c['target']}={c['computed']}{'' if c['transforms'] else '(as is)'}" for c in columns))
    wrong = [
        c["target"] for c in columns
        if (key == "pushdown" and c["computed"] != "sql")
        or (key == "python" and c["transforms"] and c["computed"] != "python")
    ]
    if key != "identity" and sum(len(c["transforms"]) for c in columns) != 5:
        return f"{key}: expected five transforms per row"
    if wrong:
        want = "sql" if key == "pushdown" else "python"
        return f"{key}: not computed in {want}: {', '.join(wrong)}"
    return None


# -- a run ---------------------------------------------------------------------------------


def verify(server: Server, db: str, key: str, source: Source) -> str:
    """OK, or MISMATCH with the first differences found."""
    problems: list[str] = []
    with server.connect(db) as conn:
        count = scalar(conn, "SELECT count(*) FROM items")
        if count != source.rows:
            problems.append(f"{count:,} rows")
        for what, query, fact in TABLE_CHECKS[key]:
            got, want = scalar(conn, query), source.facts[fact]
            if got != want:
                problems.append(f"{what}: {got} != {want}")
        target = fetch_rows(conn, list(source.sample))
    expect = EXPECT[key]
    wrong = 0
    for row_id, row in sorted(source.sample.items()):
        want_row, got_row = expect(row), target.get(row_id)
        if got_row != want_row:
            wrong += 1
            if wrong <= 2:
                diff = [
                    f"{c}={got!r} (want {want!r})"
                    for c, got, want in zip(COLUMNS, got_row or (None,) * 6, want_row, strict=True)
                    if got != want or got_row is None
                ]
                problems.append(f"id {row_id}: " + ", ".join(diff))
    if wrong:
        problems.append(f"{wrong} of {len(source.sample)} sampled rows differ")
    return "OK" if not problems else f"MISMATCH ({'; '.join(problems)})"


def run_datamove(server: Server, tmp: Path, key: str, source: Source,
                 batch_size: int) -> Result:
    result = Result(key, source.rows)
    db = f"{PREFIX}{key}"
    target = server.fresh(db)
    spec = write_spec(tmp, key, f"{server.url}/{SOURCE_DB}", target, batch_size)
    cmd = [*datamove_command(), "--quiet", "run", str(spec), "--json"]
    server.checkpoint()
    say(f"{result.label} ...")
    log, out = tmp / f"{key}.log", tmp / f"{key}.json"
    try:
        measured = measure(cmd, log, stdout=out)
        result.seconds, result.rss_mb = measured.seconds, measured.rss_mb
        if measured.returncode != 0:
            result.check = f"FAILED (exit {measured.returncode})"
            say(f"  failed with exit code {measured.returncode}:\n{tail(log)}")
            return result
        try:
            report = json.loads(out.read_text(encoding="utf-8"))
            result.paths = sorted({p for t in report["tables"] for p in t["paths"]})
            say(f"  datamove: {report['rows']:,} rows in {report['seconds']:.1f} s "
                f"(engine time), paths {'/'.join(result.paths)}")
        except (OSError, ValueError, KeyError, TypeError):
            pass
        result.check = verify(server, db, key, source)
        say(f"  {measured.seconds:.1f} s, {measured.rss_mb:.0f} MB, {result.check}")
    finally:
        server.drop(db)
    return result


def fastest(results: list[Result]) -> Result:
    """The fastest of a run's repeats, with the highest peak RSS; a failure wins."""
    for r in results:
        if not r.ok:
            return r
    best = min(results, key=lambda r: r.seconds or 0.0)
    best.rss_mb = max(r.rss_mb or 0.0 for r in results)
    return best


# -- report --------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    width = max(len(r.label) for r in results)
    print(f"{'run':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>9}  {'peak RSS MB':>11}  "
          f"{'path':<11}  check")
    for r in results:
        print(f"{r.label:<{width}}  {r.source_rows:>10,}  {fmt(r.seconds, '8.2f')}  "
              f"{fmt(r.rate, '9,.0f')}  {fmt(r.rss_mb, '11.1f')}  "
              f"{'/'.join(r.paths) or '-':<11}  {r.check}")


def ratio(label: str, value: float | None, target: float) -> None:
    verdict = "n/a" if value is None else "met" if value >= target else "MISSED"
    print(f"{label:<36} {fmt(value, '6.2f')}  target >= {target:.2f}: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark datamove with pushdown-eligible, Python-only and no transforms "
        "(see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows in the generated items table (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=50_000,
                        help="datamove batch_size: rows per chunk (default 50,000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each copy this many times; report its fastest (default 1)")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env DM_BENCH_PG_URL)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.batch_size < 1:
        parser.error("--rows, --repeat and --batch-size must be at least 1")

    server = Server(args.pg_url)
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        source = make_source(server, args.rows)
        problems = [p for key in SPECS if (p := check_plan(server, tmp, key, args.batch_size))]
        if problems:
            for problem in problems:
                say(f"plan check failed: {problem}")
            return 1
        runs: dict[str, list[Result]] = {key: [] for key in SPECS}
        for _ in range(args.repeat):
            for key, results in runs.items():
                if not results or results[-1].ok:
                    results.append(run_datamove(server, tmp, key, source, args.batch_size))
        best = {key: fastest(results) for key, results in runs.items()}
    finally:
        server.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print_table(list(best.values()))
    print()
    identity = best["identity"].rate
    for key, target in (("pushdown", 0.80), ("python", 0.40)):
        rate = best[key].rate
        ratio(f"{key} rows/s / identity rows/s", rate / identity if rate and identity else None,
              target)
    return 0 if all(r.ok for r in best.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
