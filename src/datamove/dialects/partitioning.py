"""Table partitioning as the dialects describe it (``SchemaSQL.partitioning``) and recreate it.

A partitioned table is one table to datamove: its rows are read through it, whatever
partition holds them, and written into it. Only the target's DDL differs: an engine with the
same partitioning syntax can create the table partitioned the same way; any other gets a
plain table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Partition:
    """One partition, in the SQL of the engine that described it."""

    name: str
    parent: str
    """The partitioned table, or the partition it is a sub-partition of."""
    bound: str
    """Which rows it holds: PostgreSQL's bound (``FOR VALUES FROM (...) TO (...)``,
    ``DEFAULT``); MySQL's ``PARTITION_DESCRIPTION`` (``2021``, ``MAXVALUE``; empty for hash
    and key partitions)."""
    partition_by: str | None = None
    """Its own ``PARTITION BY`` (method and key) when it is partitioned further."""


@dataclass(frozen=True)
class Partitioning:
    """How a table is partitioned, read from the source's catalog."""

    engine: str
    """``Dialect.NAME`` of the engine that described it: its SQL is that engine's."""
    key: str
    """The method and key as written after ``PARTITION BY``: ``RANGE (payment_date)``."""
    columns: tuple[str, ...]
    """The table's columns the key reads (also inside key expressions)."""
    partitions: tuple[Partition, ...]
    """Every partition, each after its parent (sub-partitions after their partition)."""

    def summary(self) -> str:
        """``RANGE (payment_date), 7 partitions``, for findings and ``init`` comments."""
        count = len(self.partitions)
        return f"{self.key}, {count} partition{'s' if count != 1 else ''}"
