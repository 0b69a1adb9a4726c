"""``StateStore.rejected_rows``: how many rows rejects keep out of the target, per table."""

from __future__ import annotations

from datamove.core.evidence import RejectRecord
from datamove.dialects.base import Dialect
from datamove.state.store import SECOND_PASS_REJECT, StateStore


def test_rows_not_keys_and_a_key_sync_rejected_counts_once(sqlite_db) -> None:
    dialect = Dialect.for_url(sqlite_db("tgt"), role="target")
    state = StateStore(dialect, "m")

    def reject(table: str, chunk: int, key: tuple[object, ...], reason: str = "") -> RejectRecord:
        return RejectRecord(table, chunk, key, "c", reason or "bad", "")

    try:
        with dialect.connect() as conn, conn.begin():
            state.ensure(conn)
            state.record_rejects(
                conn,
                [
                    reject("a", 0, (None,)),  # two NULL keys: two rows
                    reject("a", 0, (None,)),
                    reject("a", 2, ("b",)),  # one key twice (a declared key, not unique)
                    reject("a", 2, ("b",)),
                    reject("a", -1, ("x",)),  # sync rejects "x" at each change: one row
                    reject("a", -1, ("x",)),
                    reject("a", -1, ("b",)),  # already missing since the load
                    reject("a", 1, ("y",), SECOND_PASS_REJECT + "lookup"),  # its row is there
                    reject("b", -1, ("z",)),
                ],
                "run",
            )
            assert state.rejected_rows(conn) == {"a": 5, "b": 1}
    finally:
        dialect.dispose()
