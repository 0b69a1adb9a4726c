"""A stand-in application: writes to the source at a steady rate until told to stop.

``python -m tests.sync.writer URL --rate 200 --stop-file F [--seed N]`` inserts, updates
(including moving a row to another key, across chunk boundaries), and deletes rows of
``items``, each in its own transaction, like a busy application would.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import sqlalchemy as sa

import datamove  # noqa: F401  (loads the MySQL C extension first)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first-id", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    engine = sa.create_engine(
        args.url, connect_args={"timeout": 30} if "sqlite" in args.url else {}
    )
    next_id = args.first_id
    done = 0
    started = time.monotonic()
    while not args.stop_file.exists():
        with engine.begin() as conn:
            high = next_id
            target = rng.randrange(1, high)
            roll = rng.random()
            if roll < 0.4:
                conn.execute(
                    sa.text("UPDATE items SET name = :n, amount = amount + 1 WHERE id = :k"),
                    {"n": f"updated {done}", "k": target},
                )
            elif roll < 0.65:
                conn.execute(
                    sa.text("INSERT INTO items (id, name, amount) VALUES (:k, :n, :a)"),
                    {"k": next_id, "n": f"new {done}", "a": done % 1000},
                )
                next_id += 1
            elif roll < 0.8:
                conn.execute(sa.text("DELETE FROM items WHERE id = :k"), {"k": target})
            else:  # the row moves to a key in another chunk
                conn.execute(
                    sa.text("UPDATE items SET id = :new WHERE id = :k"),
                    {"new": next_id, "k": rng.randrange(1, 5000)},
                )
                next_id += 1
        done += 1
        if done % 10 == 0:
            (args.stop_file.parent / f"{args.stop_file.name}.count").write_text(str(done))
        delay = started + done / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    engine.dispose()
    print(done)


if __name__ == "__main__":
    main()
