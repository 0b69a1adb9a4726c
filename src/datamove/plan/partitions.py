"""Partitioned source tables in the plan.

A partitioned table is one table to datamove: it is read through its root (a SELECT on it sees
every partition) and written into one target table. So a spec table that reads a partition
whose root is read too would copy those rows twice: an error. A partition read alone (its root
not in scope) is an ordinary table holding only its own rows.

A target table datamove creates is partitioned as the source is where the target's engine can
recreate that partitioning (``SchemaSQL.can_partition_as``: PostgreSQL from PostgreSQL) and the
partition key reaches it unchanged; otherwise it is a plain table. Either way a note says so.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.engine import Connection

from datamove.dialects.partitioning import Partitioning
from datamove.plan.context import E, N, ResolverBase
from datamove.plan.model import TablePlan
from datamove.spec.models import KeyStrategy


class PartitionRules(ResolverBase):
    """Finds partitions in scope and decides how created target tables are partitioned."""

    def _partitions_in_scope(self, src: Connection) -> set[str]:
        """Findings for spec tables whose source is a partition; returns those not to plan
        (their root table is read too, so their rows are copied with it)."""
        partitions = self.source.schema.partitions(src)
        sources = {name: t.source or name for name, t in self.spec.tables.items()}
        read = set(sources.values())
        skipped: set[str] = set()
        for name, source in sources.items():
            root = partitions.get(source)
            if root is None:
                continue
            path = f"tables.{name}" + (".source" if self.spec.tables[name].source else "")
            if root in read:
                self.add(
                    E,
                    "partition-in-scope",
                    f"'{source}' is a partition of '{root}': its rows are copied with "
                    f"'{root}'; remove tables.{name} from the spec",
                    path,
                    name,
                )
                skipped.add(name)
            else:
                self.add(
                    N,
                    "partition-alone",
                    f"'{source}' is a partition of '{root}', which is not in scope: only its "
                    "own rows are copied, into a plain table",
                    path,
                    name,
                )
        return skipped

    def _partitioned_targets(
        self, src: Connection, tables: dict[str, TablePlan], target_names: Collection[str]
    ) -> None:
        """Set ``partitioning`` of each created table whose source is partitioned, and the
        CREATE TABLE options it needs; a note for each partitioned source table."""
        taken = set(target_names) | set(tables)
        for plan in tables.values():
            if not plan.create or plan.exists:
                continue  # an existing target table is used as it is
            scheme = self.source.schema.partitioning(src, plan.source_name)
            if scheme is None:
                continue
            reason = self._not_carried(plan, scheme, taken)
            if reason is not None:
                self.add(
                    N,
                    "partitioning-not-carried",
                    f"source table '{plan.source_name}' is partitioned ({scheme.summary()}); "
                    f"{reason}: the target table is a plain table holding the rows of every "
                    "partition",
                    f"tables.{plan.name}",
                    plan.name,
                )
                continue
            plan.partitioning = scheme
            assert plan.desired_table is not None
            plan.desired_table.dialect_kwargs.update(
                self.target.schema.partitioned_table_kwargs(scheme)
            )
            taken.update(p.name for p in scheme.partitions)
            self.add(
                N,
                "partitioned",
                f"source table '{plan.source_name}' is partitioned ({scheme.summary()}): the "
                "target table is created partitioned the same way, with the same partitions "
                "(indexes and foreign keys declared on single partitions are not)",
                f"tables.{plan.name}",
                plan.name,
            )

    def _not_carried(self, plan: TablePlan, scheme: Partitioning, taken: set[str]) -> str | None:
        """Why the target table cannot be partitioned as ``scheme`` says, or None."""
        if not self.target.schema.can_partition_as(scheme):
            return f"the target ({self.target.NAME}) cannot recreate {scheme.engine} partitioning"
        if plan.strategy != KeyStrategy.preserve.value:
            return (
                f"its key is not preserved ({plan.strategy}): the target's primary key would "
                "not hold the partition key"
            )
        unchanged = {
            c.source
            for c in plan.columns
            if c.source == c.target
            and not c.transforms
            and c.source_info is not None
            and c.source_info.label == c.target_type_text
        }
        changed = [c for c in scheme.columns if c not in unchanged]
        if changed:
            return (
                f"its partition key column(s) {', '.join(changed)} are not copied unchanged "
                "under the same name and type"
            )
        clashes = sorted(p.name for p in scheme.partitions if p.name in taken)
        if clashes:
            return f"partition name(s) {', '.join(clashes)} are taken in the target"
        return None
