"""A small parent/child schema with every kind of schema object a run must finish."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA = {
    "postgresql": [
        """CREATE TABLE acct (id serial PRIMARY KEY, name varchar(40) NOT NULL,
            email varchar(80) UNIQUE, region varchar(10) DEFAULT 'eu',
            created timestamp DEFAULT now())""",
        "CREATE INDEX acct_region ON acct (region)",
        """CREATE TABLE txn (id integer PRIMARY KEY,
            acct_id integer NOT NULL REFERENCES acct (id) ON DELETE CASCADE,
            amount numeric(10,2) NOT NULL DEFAULT 0, note varchar(50))""",
        "CREATE INDEX txn_acct ON txn (acct_id)",
        "CREATE INDEX txn_note ON txn (note)",
    ],
    "mysql": [
        """CREATE TABLE acct (id int AUTO_INCREMENT PRIMARY KEY, name varchar(40) NOT NULL,
            email varchar(80) UNIQUE, region varchar(10) DEFAULT 'eu',
            created datetime DEFAULT CURRENT_TIMESTAMP)""",
        "CREATE INDEX acct_region ON acct (region)",
        """CREATE TABLE txn (id int PRIMARY KEY, acct_id int NOT NULL,
            amount decimal(10,2) NOT NULL DEFAULT 0, note varchar(50),
            CONSTRAINT txn_acct_fk FOREIGN KEY (acct_id) REFERENCES acct (id) ON DELETE CASCADE)""",
        "CREATE INDEX txn_note ON txn (note)",
    ],
}


def create_accounts(url: str, engine: str, accounts: int, txns: int) -> None:
    """``acct`` (ids 1..accounts) and ``txn`` (ids 1..txns, each to an existing account)."""
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        for stmt in SCHEMA[engine]:
            conn.exec_driver_sql(stmt)
        conn.execute(
            sa.text("INSERT INTO acct (id, name, email, region) VALUES (:i, :n, :e, :r)"),
            [
                {"i": i, "n": f"acct {i}", "e": f"a{i}@x.org", "r": ["eu", "us", "apac"][i % 3]}
                for i in range(1, accounts + 1)
            ],
        )
        conn.execute(
            sa.text("INSERT INTO txn (id, acct_id, amount, note) VALUES (:i, :a, :m, :n)"),
            [
                {"i": i, "a": 1 + i % accounts, "m": i % 1000, "n": f"t{i % 50}"}
                for i in range(1, txns + 1)
            ],
        )
        if engine == "postgresql":
            conn.exec_driver_sql("SELECT setval('acct_id_seq', (SELECT max(id) FROM acct))")
    eng.dispose()
