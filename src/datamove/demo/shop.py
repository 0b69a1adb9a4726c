"""``datamove demo``: a small legacy shop in SQLite, moved into a new schema through the library.

The legacy database has the traps real ones have: naive local timestamps stored as text, money
stored as binary floats, integer status codes, NULLs, non-ASCII names, a table without a primary
key, an order whose customer was deleted years ago, and one payment whose float amount has three
decimals. The demo writes a reviewed spec for it, plans, runs, and shows what happened, so a new
user sees every command's output on data that looks like theirs.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import unicodedata
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from datamove.demo.commands import command
from datamove.demo.cutover import SECTION, CutoverStory, cut_over
from datamove.demo.live import ShopWriter, catch_up
from datamove.demo.proof import Proof, prove
from datamove.demo.signoff import sign_off
from datamove.events import Event, Message, TableFinished
from datamove.migration import Migration
from datamove.plan import Severity
from datamove.state.records import RejectView
from datamove.sync.runner import SyncResult

DEFAULT_DIRECTORY = Path("demo-output")
SEED = 42
CUSTOMERS = 250
ORDERS = 1200
FIRST_ORDER_ID = 1001
FIRST_PAYMENT_ID = 5001
ORPHAN_ORDER_ID = 1337
"""This order's customer no longer exists (the legacy schema has no FK to enforce it)."""
ORPHAN_CUSTOMER_ID = 9999
BAD_PAYMENT_INDEX = 42
"""The 43rd payment is stored as 19.999: ``cast: decimal(12,2)`` rejects it rather than round."""
BAD_AMOUNT = 19.999
MAX_REJECTS = 5

FIXED_NAMES = ["Jürgen Müller", "Łukasz Wróbel", "東京 Trading K.K.", "Zoë Faure"]
FIRST_NAMES = [
    "Anaïs",
    "Björn",
    "Siobhán",
    "José",
    "Søren",
    "Ngozi",
    "Mary",
    "Wei",
    "Hiroshi",
    "Fatima",
    "Olga",
    "John",
    "Zoë",
    "Łukasz",
    "Chloé",
    "Ömer",
]
LAST_NAMES = [
    "Müller",
    "Wróbel",
    "García",
    "Nilsson",
    "O'Brien",
    "Okafor",
    "Smith",
    "Nowak",
    "Zhang",
    "Tanaka",
    "Haddad",
    "Petrova",
    "Dubois",
    "Øster",
    "Yılmaz",
]
COUNTRIES = ["DE", "PL", "JP", "FR", "ES", "DK", "SE", "IE", "NG", "US", None]
NOTES = [
    "bitte klingeln",
    "leave at the door",
    "配達前に電話してください",
    "gift wrap 🎁",
    "ring twice; dog is friendly",
    "Rechnung an: Müller & Söhne GmbH",
]
METHODS = ["card", "card", "card", "paypal", "invoice", None]
STATUSES = [0, 1, 1, 2, 2, 2, 2, 3, 9]
"""Legacy codes: 0 new, 1 paid, 2 shipped, 3 cancelled, 9 refunded."""
PAID_STATUSES = {1, 2, 9}

LEGACY_DDL = """
CREATE TABLE customers (
    cust_id   INTEGER PRIMARY KEY,
    cust_name TEXT NOT NULL,
    email     TEXT,
    country   TEXT,
    created   TEXT NOT NULL,      -- 'YYYY-MM-DD HH:MM:SS', local time of the old server
    vip_flag  INTEGER,            -- 1, 0 or NULL (NULL means 'never set')
    fax       TEXT                -- nobody has used this since 2009
);
CREATE TABLE orders (
    order_id   INTEGER PRIMARY KEY,
    cust_id    INTEGER NOT NULL,  -- no FOREIGN KEY: orphans are possible
    order_date TEXT NOT NULL,
    status     INTEGER NOT NULL,  -- 0 new, 1 paid, 2 shipped, 3 cancelled, 9 refunded
    total      REAL NOT NULL,     -- money as a binary float
    note       TEXT,
    printed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_cust_id ON orders (cust_id);
CREATE TABLE order_items (
    item_id    INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (order_id),
    sku        TEXT NOT NULL,
    qty        INTEGER NOT NULL,
    unit_price REAL NOT NULL
);
CREATE INDEX order_items_order_id ON order_items (order_id);
CREATE TABLE payments (
    pay_id   INTEGER NOT NULL,    -- unique, but never declared the primary key
    order_id INTEGER NOT NULL REFERENCES orders (order_id),
    amount   REAL NOT NULL,
    method   TEXT,
    paid_at  TEXT NOT NULL,
    cc_last4 TEXT                 -- card digits: not wanted in the new platform
);
CREATE UNIQUE INDEX payments_pay_id ON payments (pay_id);
CREATE INDEX payments_order_id ON payments (order_id);
"""

SPEC_TEMPLATE = """\
# datamove demo: the legacy shop (legacy.sqlite) moved into the new platform schema.
# Review it with `datamove plan`, copy with `datamove run`, inspect with `datamove status`.
name: shop-demo
source: {source}
target: {target}
max_rejects: {max_rejects}   # rows that do not convert are recorded as rejects; at most this many
batch_size: 500   # rows per chunk; each chunk commits with its checkpoint, so a run resumes
sync: {{mode: triggers}}   # the shop keeps writing: capture changes, catch up with `datamove sync`
signoff: {{reconcile_window: 1s}}   # the demo's go-live window; a real one is 24h-72h
invariants:   # business facts both sides must agree on (verify, and the cutover under its fence)
  - {{name: customers, source: "SELECT count(*) FROM customers",
     target: "SELECT count(*) FROM customers"}}
checks:
  shadow:       # the same question asked of both shops
    - {{name: vip customers, source: "SELECT count(*) FROM customers WHERE vip_flag = 1",
       target: "SELECT count(*) FROM customers WHERE is_vip = 1"}}

tables:
  customers:
    key: {{columns: [cust_id], strategy: remap, legacy_column: legacy_id}}  # new ids
    columns:
      id: {{from: cust_id}}
      name: {{from: cust_name, transform: [trim], pii: true}}   # personal data: masked in output
      email: {{pii: true}}
      country_code: {{from: country}}
      created_at:                                        # legacy wrote Berlin wall-clock time
        from: created
        transform: [{{timezone: {{assume: Europe/Berlin, nonexistent: later, ambiguous: earlier}}}}]
        rollback: freeze   # a DST-gap wall time has no single way back: not written back
      is_vip: {{from: vip_flag, default: 0}}            # NULL meant 'never set'
    drop: {{fax: nobody has sent a fax since 2015}}

  orders:
    columns:
      id: {{from: order_id}}
      customer_id: {{from: cust_id, lookup: customers, on_orphan: reject}}   # old id → new id
      ordered_at:
        from: order_date
        transform: [{{timezone: {{assume: Europe/Berlin, nonexistent: later, ambiguous: earlier}}}}]
        rollback: freeze   # a DST-gap wall time has no single way back: not written back
      status:                           # codes become words; an unknown code is a reject
        from: status
        transform: [{{map: {{0: new, 1: paid, 2: shipped, 3: cancelled, 9: refunded}}}}]
      total: {{transform: [{{round: {{places: 2, mode: half_even}}}}]}}   # float money to cents
      note: {{}}
    drop: {{printed: a flag of the retired print queue}}

  order_items:
    columns:
      id: {{from: item_id}}
      order_id: {{}}
      sku: {{}}
      quantity: {{from: qty}}
      unit_price: {{cast: "decimal(12,2)"}}

  payments:
    key: {{columns: [pay_id]}}   # no primary key in the legacy table: chunk by this unique key
    columns:
      id: {{from: pay_id}}
      order_id: {{}}
      amount: {{cast: "decimal(12,2)"}}   # strict: a float that is not a whole cent is rejected
      method: {{default: unknown}}
      paid_at: {{cast: timestamp, rollback: freeze}}   # text times: no exact way back
    drop: {{cc_last4: card digits are not kept in the new platform}}
"""


@dataclass
class DemoResult:
    """What the demo made: where its files are, rows copied per table, and the rejects."""

    directory: Path
    spec_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    rejects: list[RejectView] = field(default_factory=list)
    proof: Proof | None = None
    live_writes: int = 0
    synced: SyncResult | None = None
    cutover: CutoverStory | None = None
    next_commands: list[str] = field(default_factory=list)
    """The commands printed under "next", as printed (they run from the working directory)."""

    @property
    def source_path(self) -> Path:
        return self.directory / "legacy.sqlite"

    @property
    def target_path(self) -> Path:
        return self.directory / "platform.sqlite"


# -- the legacy database ---------------------------------------------------------------------


def _timestamp(rng: random.Random, start: dt.datetime, days: int) -> dt.datetime:
    return start + dt.timedelta(seconds=rng.randrange(days * 86_400))


def _text(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def _email(name: str, cust_id: int) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = ".".join(part for part in ascii_name.lower().replace("'", "").split() if part.isalnum())
    return f"{slug or 'customer'}.{cust_id}@example.com"


def _rows(rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    """Every legacy row, deterministic for a given ``rng`` seed."""
    customers: list[tuple[Any, ...]] = []
    for cust_id in range(1, CUSTOMERS + 1):
        if cust_id <= len(FIXED_NAMES):
            name = FIXED_NAMES[cust_id - 1]
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email = None if rng.random() < 0.1 else _email(name, cust_id)
        created = _timestamp(rng, dt.datetime(2016, 1, 1), 6 * 365)
        vip = rng.choice([0, 0, 0, 1, None])
        fax = f"+49 30 {rng.randrange(1_000_000, 9_999_999)}" if rng.random() < 0.05 else None
        customers.append((cust_id, name, email, rng.choice(COUNTRIES), _text(created), vip, fax))

    orders: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    for order_id in range(FIRST_ORDER_ID, FIRST_ORDER_ID + ORDERS):
        cust_id = ORPHAN_CUSTOMER_ID if order_id == ORPHAN_ORDER_ID else rng.randint(1, CUSTOMERS)
        ordered = _timestamp(rng, dt.datetime(2022, 1, 1), 2 * 365)
        status = rng.choice(STATUSES)
        total_cents = 0
        for _ in range(rng.randint(1, 4)):
            qty, cents = rng.randint(1, 5), rng.randint(199, 9_999)
            total_cents += qty * cents
            items.append(
                (len(items) + 1, order_id, f"SKU-{rng.randint(100, 999)}", qty, cents / 100)
            )
        total = total_cents / 100  # a float, but one whose shortest repr has two decimals
        note = rng.choice(NOTES) if rng.random() < 0.15 else None
        orders.append((order_id, cust_id, _text(ordered), status, total, note, rng.randint(0, 1)))
        if status in PAID_STATUSES:
            paid_at = ordered + dt.timedelta(minutes=rng.randint(1, 3 * 24 * 60))
            amount = BAD_AMOUNT if len(payments) == BAD_PAYMENT_INDEX else total
            last4 = f"{rng.randrange(10_000):04d}" if rng.random() < 0.7 else None
            payments.append(
                (
                    FIRST_PAYMENT_ID + len(payments),
                    order_id,
                    amount,
                    rng.choice(METHODS),
                    _text(paid_at),
                    last4,
                )
            )
    return {"customers": customers, "orders": orders, "order_items": items, "payments": payments}


def create_legacy(path: Path, seed: int = SEED) -> dict[str, int]:
    """Write the legacy shop to a new SQLite file at ``path``; returns rows per table."""
    rows = _rows(random.Random(seed))
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(LEGACY_DDL)
        for table, values in rows.items():
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
        conn.commit()
    return {table: len(values) for table, values in rows.items()}


def _sqlite_url(path: Path) -> str:
    return "sqlite:///" + path.resolve().as_posix()


def write_spec(path: Path, source: Path, target: Path) -> None:
    """Write the demo's migration spec (URLs quoted as JSON strings, which YAML reads as is)."""
    path.write_text(
        SPEC_TEMPLATE.format(
            source=json.dumps(_sqlite_url(source)),
            target=json.dumps(_sqlite_url(target)),
            max_rejects=MAX_REJECTS,
        )
        + SECTION,
        encoding="utf-8",
    )


def _remove(path: Path) -> None:
    for stale in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
        stale.unlink(missing_ok=True)


# -- the demo --------------------------------------------------------------------------------


def run_demo(directory: Path | None, quiet: bool = False) -> DemoResult:
    """Generate the legacy shop in ``directory``, write its spec, plan and run it, and report.

    Safe to run again on the same directory: both databases are made anew.
    """
    out = Console(highlight=False, soft_wrap=True, quiet=quiet)
    base = (directory or DEFAULT_DIRECTORY).expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    legacy, platform, spec_path = (
        base / "legacy.sqlite",
        base / "platform.sqlite",
        base / "migration.yaml",
    )
    for db in (legacy, platform):
        _remove(db)

    out.print("[bold]datamove demo[/]: a legacy shop moved into a new schema\n")
    counts = create_legacy(legacy)
    out.print(f"[bold]1. source[/]  {escape(str(legacy))}")
    out.print(
        "   "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        + f" rows ({sum(counts.values()):,} in all)"
    )
    out.print(
        "   [dim]traps: naive local timestamps as text, money as REAL floats, integer "
        "status codes, NULLs, non-ASCII names (Müller, Łukasz, 東京, Zoë), a table "
        f"without a primary key, order {ORPHAN_ORDER_ID} of a deleted customer, and a "
        f"payment of {BAD_AMOUNT}[/]"
    )

    write_spec(spec_path, legacy, platform)
    out.print(f"\n[bold]2. spec[/]    {escape(str(spec_path))}")
    out.print(
        "   [dim]renames (from:), Berlin local time to UTC (timezone), status codes to words "
        "(map), money rounded to cents (round) or strictly cast (cast: decimal(12,2)), "
        "default: for NULLs, drop: for legacy columns, max_rejects: "
        f"{MAX_REJECTS}[/]"
    )

    migration = Migration.from_file(spec_path)
    plan = migration.plan()
    severities = {s: sum(1 for f in plan.findings if f.severity is s) for s in Severity}
    document = migration.write_document(plan, base / "mapping.md")
    out.print(f"\n[bold]3. plan[/]    order: {' → '.join(plan.order)}")
    out.print(f"   mapping document for review: {escape(str(document))}")
    out.print(
        f"   {len(plan.findings)} finding(s): {severities[Severity.error]} error(s), "
        f"{severities[Severity.warning]} warning(s), {severities[Severity.note]} note(s)"
    )
    for finding in plan.findings:
        out.print(
            f"   [dim]{finding.severity.value}: {escape(finding.spec_path)}: "
            f"{escape(finding.message)}[/]"
        )

    out.print("\n[bold]4. run[/]")

    def on_event(event: Event) -> None:
        if isinstance(event, TableFinished):
            out.print(f"   {event.table:<12} {event.rows:>6,} rows  {event.rejects} reject(s)")
        elif isinstance(event, Message):
            out.print(f"   [dim]{escape(event.text)}[/]")

    # The application keeps writing: capture first, then the copy while it writes.
    migration.capture_install()
    writer = ShopWriter(
        legacy, range(FIRST_ORDER_ID, FIRST_ORDER_ID + ORDERS), CUSTOMERS, ORPHAN_ORDER_ID
    )
    writer.start()
    result = migration.run(on_event=on_event)
    out.print(
        f"   {result.rows:,} rows copied in {result.seconds:.2f}s; "
        f"{result.rejects_total} reject(s), within max_rejects: {MAX_REJECTS}"
    )

    status = migration.status(rejects=True)
    out.print(
        f"\n[bold]5. rejects[/] {status.rejects_total} row(s) recorded in the target's "
        "state tables, not copied:"
    )
    for r in status.rejects:
        out.print(
            f"   {r.table} key {r.key_text} {escape(r.column or '-')}: "
            f"{escape(r.reason)}  [dim](value {escape(r.value or 'NULL')})[/]"
        )

    synced = catch_up(migration, writer, out)
    proof = prove(migration, platform, out, spec_path)
    story = cut_over(migration, base, out, spec_path)
    sign_off(migration, base, out)

    out.print(
        f"\n[bold]files[/]\n   source  {escape(str(legacy))}"
        f"\n   target  {escape(str(platform))}\n   spec    {escape(str(spec_path))}"
        f"\n   mapping {escape(str(base / 'mapping.md'))}"
    )
    out.print("\n[bold]next[/]")
    next_commands = [
        command("plan", spec_path),
        command("status", spec_path, "--rejects"),
        command("verify", spec_path),
        command("run", spec_path),
    ]
    for line in next_commands:
        out.print(f"   {escape(line)}")
    out.print("   [dim](a second run skips every committed chunk)[/]")

    return DemoResult(
        directory=base,
        spec_path=spec_path,
        rows={t.table: t.rows for t in result.tables},
        rejects=status.rejects,
        proof=proof,
        live_writes=writer.writes,
        synced=synced,
        cutover=story,
        next_commands=next_commands,
    )
