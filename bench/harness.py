"""What every benchmark here shares: running a child process and measuring it, printing,
scratch databases on both servers, and the generated ``orders`` table.

Imported by the scripts in this folder, which put the folder *last* on ``sys.path``: the name
``copy.py`` (the issue's) would otherwise shadow the standard library's ``copy``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql


@dataclass
class Measured:
    """One child process: wall seconds, peak RSS of its largest process, exit code."""

    seconds: float
    rss_mb: float
    returncode: int


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def measure(cmd: Sequence[str], log: Path, stdout: Path | None = None,
            env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` to its end; stderr goes to ``log``, and so does stdout unless ``stdout``.
    ``env``: variables set for the child on top of this process's environment."""
    with log.open("wb") as err, (stdout or Path(os.devnull)).open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, cwd=log.parent, stderr=err,
            stdout=out if stdout else err, env={**os.environ, **env} if env else None,
        )
        # wait4, not getrusage(RUSAGE_CHILDREN): the latter is a maximum over every child so far.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode)  # ru_maxrss is in KiB


def datamove_command() -> list[str]:
    script = Path(sys.executable).with_name("datamove")
    return [str(script)] if script.exists() else [sys.executable, "-m", "datamove"]


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted by ``spec``, or a dash as wide as ``spec`` asks."""
    if value is None:
        return format("-", ">" + spec.split(".")[0].replace(",", ""))
    return format(value, spec)


# -- the orders table ----------------------------------------------------------------------

ORDERS_COLUMNS = (
    "id", "customer_id", "amount", "currency", "status",
    "created_at", "updated_at", "note", "paid", "attrs",
)

ORDERS_PG_DDL = """
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    currency    char(3) NOT NULL,
    status      varchar(16) NOT NULL,
    created_at  timestamp(6) NOT NULL,
    updated_at  timestamptz(6) NOT NULL,
    note        text,
    paid        boolean NOT NULL,
    attrs       jsonb NOT NULL
)"""

ORDERS_PG_FILL = """
INSERT INTO orders
SELECT i,
       (i * 7919 % 100000 + 1)::integer,
       (i * 104729 % 1000000) / 100.0,
       (ARRAY['EUR', 'USD', 'GBP', 'JPY', 'CHF'])[1 + i % 5],
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'])[1 + i % 6],
       timestamp '2020-01-01' + i * interval '17 seconds' + i % 1000000 * interval '1 microsecond',
       timestamptz '2020-01-01 00:00:00+00' + i * interval '17 seconds'
           + i % 86400 * interval '1 second',
       CASE WHEN i % 10 = 0 THEN NULL
            WHEN i % 100 = 1
                 THEN 'tab' || chr(9) || 'newline' || chr(10) || 'backslash ' || chr(92) || i
            ELSE 'Größe ' || i % 50 || ' – café crème, 注文 №' || i || ' ✓' END,
       i % 3 = 0,
       jsonb_build_object('sku', 'SKU-' || i % 5000, 'qty', 1 + i % 9, 'gift', i % 7 = 0,
                          'tag', 'ü€')
FROM generate_series(1::bigint, {rows}::bigint) AS i"""

ORDERS_MY_DDL = """
CREATE TABLE orders (
    id          BIGINT NOT NULL PRIMARY KEY,
    customer_id INT NOT NULL,
    amount      DECIMAL(12, 2) NOT NULL,
    currency    CHAR(3) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  TIMESTAMP(6) NOT NULL,
    note        TEXT NULL,
    paid        BOOLEAN NOT NULL,
    attrs       JSON NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

ORDERS_MY_FILL = """
INSERT INTO orders
SELECT seq,
       seq * 7919 % 100000 + 1,
       seq * 104729 % 1000000 / 100,
       ELT(1 + seq % 5, 'EUR', 'USD', 'GBP', 'JPY', 'CHF'),
       ELT(1 + seq % 6, 'new', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'),
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 17 SECOND
           + INTERVAL seq % 1000000 MICROSECOND,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 17 SECOND + INTERVAL seq % 86400 SECOND,
       CASE WHEN seq % 10 = 0 THEN NULL
            WHEN seq % 100 = 1 THEN CONCAT('tab', CHAR(9 USING utf8mb4), 'newline',
                 CHAR(10 USING utf8mb4), 'backslash ', CHAR(92 USING utf8mb4), seq)
            ELSE CONCAT('Größe ', seq % 50, ' – café crème, 注文 №', seq, ' ✓') END,
       seq % 3 = 0,
       JSON_OBJECT('sku', CONCAT('SKU-', seq % 5000), 'qty', 1 + seq % 9,
                   'gift', JSON_EXTRACT(IF(seq % 7 = 0, 'true', 'false'), '$'), 'tag', 'ü€')
FROM seq_1_to_{rows}"""


# -- scratch databases ---------------------------------------------------------------------


class Servers:
    """Scratch databases on both servers; remembers what it created so it can drop it.

    MySQL Connector is imported on first use: a PostgreSQL-only benchmark does not need it.
    """

    def __init__(self, pg_url: str, mysql_url: str) -> None:
        self.pg_url = pg_url.rstrip("/")
        self.mysql_url = mysql_url.rstrip("/")
        self.pg_created: set[str] = set()
        self.mysql_created: set[str] = set()

    # PostgreSQL

    def pg(self, db: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(f"{self.pg_url}/{db}", autocommit=True)

    def pg_db(self, name: str, template: str | None = None) -> str:
        """A fresh database ``name``, empty or a file-level copy of ``template`` (which must
        have no open connection); returns its URL."""
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            self.pg_created.add(name)
            conn.execute(create)
        return f"{self.pg_url}/{name}"

    def pg_drop(self, name: str) -> None:
        with self.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        self.pg_created.discard(name)

    def checkpoint(self) -> None:
        """Flush the previous step's dirty pages, so they are not written during the next."""
        with self.pg() as conn:
            conn.execute("CHECKPOINT")

    def pg_totals(self, db: str) -> tuple[int, Decimal] | None:
        """Row count and sum(amount) of the only ``orders`` table in ``db`` (any schema)."""
        with self.pg(db) as conn:
            found = conn.execute(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'orders' AND c.relkind IN ('r', 'p')"
            ).fetchall()
            if len(found) != 1:
                return None
            row = conn.execute(sql.SQL("SELECT count(*), coalesce(sum(amount), 0) FROM {}").format(
                sql.SQL(str(found[0][0])))).fetchone()
        assert row is not None
        return int(row[0]), Decimal(row[1])

    # MariaDB

    def mysql_run(self, db: str | None, *statements: str) -> list[tuple[Any, ...]]:
        """Run ``statements`` in order on one connection (session time zone UTC); returns the
        last one's rows."""
        import mysql.connector

        parts = urlsplit(self.mysql_url)
        conn = mysql.connector.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
            user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
            database=db, charset="utf8mb4", autocommit=True,
        )
        try:
            cursor = conn.cursor()
            rows: list[tuple[Any, ...]] = []
            for statement in ("SET SESSION time_zone = '+00:00'", *statements):
                cursor.execute(statement)
                rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
            cursor.close()
            return rows
        finally:
            conn.close()

    def mysql_client(self, db: str) -> tuple[list[str], dict[str, str]]:
        """The ``mysql`` command line client's arguments for ``db`` (batch mode, no column
        names) and its environment (the password, if any, in ``MYSQL_PWD``)."""
        parts = urlsplit(self.mysql_url)
        argv = ["mysql", "-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306),
                "-u", unquote(parts.username or "root"), "-N", "-B", "-D", db]
        return argv, {"MYSQL_PWD": unquote(parts.password)} if parts.password else {}

    def mysql_db(self, name: str) -> str:
        """A fresh, empty database ``name``; returns its URL."""
        self.mysql_created.add(name)
        self.mysql_run(None, f"DROP DATABASE IF EXISTS `{name}`",
                       f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return f"{self.mysql_url}/{name}"

    def mysql_totals(self, db: str) -> tuple[int, Decimal]:
        ((count, total),) = self.mysql_run(
            db, "SELECT count(*), coalesce(sum(amount), 0) FROM orders")
        return int(count), Decimal(total)

    def drop_all(self) -> None:
        for name in sorted(self.pg_created):
            try:
                self.pg_drop(name)
            except psycopg.Error as exc:
                say(f"could not drop PostgreSQL database {name}: {exc}")
        for name in sorted(self.mysql_created):
            try:
                self.mysql_run(None, f"DROP DATABASE IF EXISTS `{name}`")
            except Exception as exc:  # mysql.connector.Error, imported lazily
                say(f"could not drop MariaDB database {name}: {exc}")
        self.mysql_created.clear()


def make_pg_orders(servers: Servers, db: str, rows: int) -> tuple[int, Decimal]:
    """A fresh PostgreSQL database ``db`` holding the generated ``orders``; its totals."""
    say(f"generating {rows:,} rows in PostgreSQL {db} ...")
    started = time.perf_counter()
    servers.pg_db(db)
    with servers.pg(db) as conn:
        conn.execute(ORDERS_PG_DDL)
        conn.execute(ORDERS_PG_FILL.format(rows=int(rows)))
        # Set hint bits and statistics now, so no timed run pays for the first read.
        conn.execute("VACUUM (FREEZE, ANALYZE) orders")
    totals = servers.pg_totals(db)
    assert totals is not None
    say(f"  done in {time.perf_counter() - started:.1f} s")
    return totals


def make_mysql_orders(servers: Servers, db: str, rows: int) -> tuple[int, Decimal]:
    """A fresh MariaDB database ``db`` holding the same ``orders``; its totals."""
    say(f"generating {rows:,} rows in MariaDB {db} ...")
    started = time.perf_counter()
    servers.mysql_db(db)
    servers.mysql_run(db, ORDERS_MY_DDL, ORDERS_MY_FILL.format(rows=int(rows)),
                      "ANALYZE TABLE orders")
    totals = servers.mysql_totals(db)
    say(f"  done in {time.perf_counter() - started:.1f} s")
    return totals
