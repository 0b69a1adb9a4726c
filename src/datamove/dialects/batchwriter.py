"""The rows path's bulk writer: a chunk's batches, each given column by column.

This base writes each batch with ``Dialect.write``; a dialect may keep one bulk statement open
across batches (PostgreSQL's COPY), so the server stores one batch while the next is converted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from datamove.dialects.base import Dialect, Row


class BatchWriter:
    """Writes a chunk's batches, each given column by column (``values[i]`` holds the values
    of ``columns[i]``). This one writes each batch with ``Dialect.write``; a dialect may keep
    one bulk statement open across batches, so the server works on one batch while the next
    is converted, and choose its format by the value types it finds in each column."""

    def __init__(
        self, dialect: Dialect, conn: Connection, table: sa.Table, columns: Sequence[str]
    ) -> None:
        self.dialect, self.conn, self.table, self.columns = dialect, conn, table, columns

    def write(self, values: Sequence[list[Any]]) -> None:
        rows: list[Row] = list(zip(*values, strict=True))
        self.dialect.write(self.conn, self.table, self.columns, rows)

    def pause(self) -> None:
        """End a statement kept open across batches, so the connection can run other queries
        (the next ``write`` starts a new one)."""

    def close(self, failure: BaseException | None = None) -> None:
        """Finish the writes (or abandon them on ``failure``)."""
        self.pause()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: Any, failure: BaseException | None, trace: Any) -> None:
        self.close(failure)
