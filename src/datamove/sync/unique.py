"""Unique values that move between rows inside one ``sync`` batch.

The source committed a batch's rows in one state, but the target checks its unique keys row
by row as the rows are written (a PostgreSQL unique *index* cannot be deferred; MySQL and
SQLite defer nothing). A swap of two rows' values, a rotation among three, a value moved to
a new row: written one row after the other, some row meets a value another still holds. So
before a table's rows are written, the target is asked who holds the values they carry:

- a row outside the batch that holds one is read from the source too (its own change is in
  a later batch, or came after the changelog was read): the current state of both is what
  gets written, and the batch grows until no row outside it holds a value it writes;
- a row of the batch holding a value another row of the batch takes is *parked*: copied
  into a temporary table, deleted, and inserted back with its new values once the other
  rows are written, whole (a generated key, columns the mapping does not write: its
  identity stays). A delete that a foreign key would act on (``acting_references``) is
  never made: such a table parks nothing;
- a value two rows take (the source holds a duplicate the target's key refuses), or that a
  row which cannot make way holds, leaves its takers (all but one, for a duplicate) as
  rejects naming the key, its columns and the other row; a rejected row is deleted from
  the target where a delete is free of side effects (the target holds no row the source
  could not move, as after the copy) and keeps its previous state otherwise.

Values compare in canonical form, exactly: a key the server compares in another way (a
case-insensitive collation, a prefix, an expression) is not planned for; rows it refuses
are isolated as rejects by the applier (``copy.chunk.write_isolating``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datamove.core.canonical import Canon, canon_for, canonical
from datamove.core.keys import CanonKey, KeyValue, any_key
from datamove.dialects.base import Dialect, Row
from datamove.plan.model import TablePlan

PARKED = "datamove_parked"
"""The temporary table parked rows wait in (one table at a time)."""
ASK_VALUES = 500
"""Values per question to the target (one IN list)."""

KeyCanon = Callable[[Sequence[Any]], CanonKey]
"""A key's values (source or target side) in canonical form: one row, one identity."""


@dataclass(frozen=True)
class UniqueKey:
    """A unique key of the target table over columns the mapping writes."""

    name: str
    columns: tuple[str, ...]
    positions: tuple[int, ...]
    """Where its columns are in a written row."""
    canons: tuple[Canon, ...]

    def value(self, row: Row) -> CanonKey | None:
        """The row's value of this key in canonical form; None when a part is NULL (a NULL
        never collides)."""
        return self.canon([row[p] for p in self.positions])

    def canon(self, values: Sequence[Any]) -> CanonKey | None:
        out = tuple(canonical(v, c) for v, c in zip(values, self.canons, strict=True))
        return None if None in out else out

    def describe(self) -> str:
        return f"unique key '{self.name}' ({', '.join(self.columns)}) of the target"


@dataclass(frozen=True)
class TargetShape:
    """What ``sync`` needs of a target table beyond the plan, read from the target itself
    (a unique key the user made counts as much as one datamove made)."""

    keys: list[UniqueKey]
    columns: list[str]
    """Its stored columns (not computed ones): a parked row is copied whole."""
    acting: list[str]
    """Foreign keys that would act on a parked row's delete: none may be parked."""


def target_shape(
    target: Dialect, conn: Connection, plan: TablePlan, written: Sequence[str]
) -> TargetShape:
    """The unique keys that rows written as ``written`` can collide on: not the key itself
    (the upsert merges on it), nor a key that includes it (rows of two keys never collide
    on it), nor one over an expression, a prefix or an unwritten column."""
    table = plan.target_table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # types SQLAlchemy does not know
        reflected = sa.inspect(conn).get_columns(table.name, schema=table.schema)
    types = {c["name"]: c["type"] for c in reflected}
    key = set(plan.target_key)
    keys = [
        UniqueKey(
            shape.name,
            shape.columns,
            tuple(written.index(c) for c in shape.columns),
            tuple(canon_for(target.classify(types[c], str(types[c]))) for c in shape.columns),
        )
        for shape in target.schema.indexes(conn, table)
        if shape.unique
        and not shape.expressions
        and not shape.prefix
        and not key <= set(shape.columns)
        and all(c in written and c in types for c in shape.columns)
    ]
    columns = [c["name"] for c in reflected if not c.get("computed")]
    acting = target.schema.acting_references(conn, table) if keys else []
    return TargetShape(keys, columns, acting)


@dataclass
class Moves:
    """What a table's rows need before they are written (see ``UniqueMoves.plan``)."""

    parked: list[KeyValue] = field(default_factory=list)
    """Target keys of the rows to park."""
    rejects: dict[CanonKey, tuple[UniqueKey, str]] = field(default_factory=dict)
    """Rows that cannot be written: by key, the unique key and why (no value)."""


class UniqueMoves:
    """One table's unique values in one batch: who holds them in the target (see the
    module docstring). Holds no connection beyond the batch's transaction."""

    def __init__(
        self,
        shape: TargetShape,
        plan: TablePlan,
        tgt: Connection,
        key_canon: KeyCanon,
    ) -> None:
        self.shape = shape
        self.table = plan
        self.tgt = tgt
        self.key_canon = key_canon
        self.asked: list[set[CanonKey]] = [set() for _ in shape.keys]
        self.holders: list[dict[CanonKey, dict[CanonKey, KeyValue]]] = [{} for _ in shape.keys]
        """Per unique key: value -> the target rows holding it (by key: the key read)."""
        self.values: list[dict[CanonKey, CanonKey | None]] = [{} for _ in shape.keys]
        """Per unique key: the value each row of the batch writes (by the row's key)."""

    def outside(self, rows: dict[CanonKey, Row], inside: set[CanonKey]) -> list[KeyValue]:
        """Keys of the target rows not in ``inside`` that hold a value of ``rows`` (by key;
        the target is asked only about values not asked before)."""
        found: dict[CanonKey, KeyValue] = {}
        for i, ukey in enumerate(self.shape.keys):
            new: dict[CanonKey, tuple[Any, ...]] = {}
            for key, row in rows.items():
                value = self.values[i][key] = ukey.value(row)
                if value is not None and value not in self.asked[i]:
                    self.asked[i].add(value)
                    new[value] = tuple(row[p] for p in ukey.positions)
            for owner, held in self._holding(ukey, list(new.values())):
                value = ukey.canon(held)
                canon = self.key_canon(owner)
                if value is not None:
                    self.holders[i].setdefault(value, {})[canon] = owner
                if canon not in inside:
                    found[canon] = owner
        return list(found.values())

    def _holding(
        self, ukey: UniqueKey, values: list[tuple[Any, ...]]
    ) -> Iterator[tuple[KeyValue, tuple[Any, ...]]]:
        """(key, value) of the target rows holding one of ``values``; values are bound as
        the upsert binds them (untyped columns: no SQLAlchemy processing), as one expanding
        parameter (the statement compiles once)."""
        nkey = len(self.table.target_key)
        t = _untyped(self.table.target_table, [*self.table.target_key, *ukey.columns])
        cols = [t.c[c] for c in ukey.columns]
        held: Any = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
        stmt = sa.select(*[t.c[k] for k in self.table.target_key], *cols).where(
            held.in_(sa.bindparam("held", expanding=True))
        )
        for start in range(0, len(values), ASK_VALUES):
            part = values[start : start + ASK_VALUES]
            bound = [v[0] for v in part] if len(cols) == 1 else part
            for row in self.tgt.execute(stmt, {"held": bound}):
                yield tuple(row[:nkey]), tuple(row[nkey:])

    def plan(self, rows: dict[CanonKey, Row], removed: set[CanonKey], drop_rejected: bool) -> Moves:
        """Which rows of ``rows`` (by key) to park and which to reject, once the rows of
        ``removed`` are deleted; ``drop_rejected``: rejected rows are deleted too (else they
        keep their values, and may hold a value in turn). Repeats until no reject is added:
        a reject that keeps its row can block another row."""
        park = not self.shape.acting
        moves = Moves()

        def free(owner: CanonKey) -> bool:
            return owner in removed or (drop_rejected and owner in moves.rejects)

        def movable(owner: CanonKey) -> bool:
            return park and owner in rows and owner not in moves.rejects

        added = True
        while added:
            added = False
            for i, ukey in enumerate(self.shape.keys):
                for value, takers in self._takers(i, rows, moves.rejects).items():
                    owners = [o for o in self.holders[i].get(value, {}) if not free(o)]
                    fixed = [o for o in owners if o not in takers and not movable(o)]
                    keeper = next((o for o in owners if o in takers), None)
                    if fixed:
                        losers, why = takers, self._held(fixed[0], rows, removed)
                    elif len(takers) > 1:
                        winner = keeper or min(takers)
                        losers = [k for k in takers if k != winner]
                        why = f"the source gives key {_shown(winner)} the same value"
                    else:
                        continue
                    for loser in losers:
                        moves.rejects[loser] = (ukey, f"{ukey.describe()}: {why}")
                    added = True
        moves.parked = self._parked(rows, moves, free) if park else []
        return moves

    def _takers(
        self, i: int, rows: dict[CanonKey, Row], rejected: dict[CanonKey, Any]
    ) -> dict[CanonKey, list[CanonKey]]:
        """Per value of unique key ``i``, the rows (not rejected) that write it."""
        out: dict[CanonKey, list[CanonKey]] = {}
        values = self.values[i]
        for key in rows:
            value = values[key]
            if value is not None and key not in rejected:
                out.setdefault(value, []).append(key)
        return out

    def _held(self, owner: CanonKey, rows: dict[CanonKey, Row], removed: set[CanonKey]) -> str:
        """Why a value stays where it is, in words (no value)."""
        why = f"the value is held by key {_shown(owner)}"
        if owner in rows and self.shape.acting:
            return (
                f"{why}, which cannot make way: that takes deleting the row for a moment, "
                f"and foreign key {', '.join(self.shape.acting)} acts on a delete (make it "
                "DEFERRABLE with ON DELETE NO ACTION)"
            )
        return why

    def _parked(
        self, rows: dict[CanonKey, Row], moves: Moves, free: Callable[[CanonKey], bool]
    ) -> list[KeyValue]:
        """Rows of the batch holding a value another row of it takes (target keys)."""
        out: dict[CanonKey, KeyValue] = {}
        for i in range(len(self.shape.keys)):
            for value, takers in self._takers(i, rows, moves.rejects).items():
                for owner, key in self.holders[i].get(value, {}).items():
                    if owner not in takers and owner in rows and not free(owner):
                        out[owner] = key
        return list(out.values())


@contextmanager
def parked(
    target: Dialect,
    tgt: Connection,
    plan: TablePlan,
    shape: TargetShape,
    keys: list[KeyValue],
) -> Iterator[Callable[[Sequence[str], list[Row]], None]]:
    """Park the target rows of ``keys`` for the block: copied into a temporary table, then
    deleted. The block writes the other rows, then calls the yielded ``restore(columns,
    rows)`` with the parked rows' new values (any subset, any number of times: under a
    savepoint each), which inserts them back whole. Nothing happens without ``keys``."""
    if not keys:
        yield lambda columns, rows: None
        return
    t = _untyped(plan.target_table, [*shape.columns, *plan.target_key])
    match = any_key([t.c[k] for k in plan.target_key], keys)
    copied = sa.select(*[t.c[c] for c in shape.columns]).where(match)
    with target.temporary_copy(tgt, PARKED, copied) as stage:
        tgt.execute(sa.delete(t).where(match))

        def restore(columns: Sequence[str], rows: list[Row]) -> None:
            if not rows:
                return
            key = plan.target_key
            at = [columns.index(k) for k in key]
            values = [c for c in columns if c not in key]
            update = (
                stage.update()
                .where(*[stage.c[k] == sa.bindparam(f"k{n}") for n, k in enumerate(key)])
                .values({c: sa.bindparam(f"v{n}") for n, c in enumerate(values)})
            )
            tgt.execute(
                update,
                [
                    {
                        **{f"k{n}": row[p] for n, p in enumerate(at)},
                        **{f"v{n}": row[columns.index(c)] for n, c in enumerate(values)},
                    }
                    for row in rows
                ],
            )
            back = sa.select(*[stage.c[c] for c in shape.columns]).where(
                any_key([stage.c[k] for k in key], [[row[p] for p in at] for row in rows])
            )
            tgt.execute(sa.insert(t).from_select(shape.columns, back))

        yield restore


def _untyped(table: sa.Table, columns: Sequence[str]) -> sa.TableClause:
    """``table`` with untyped ``columns``: values bound as the driver takes them."""
    names = dict.fromkeys(columns)
    return sa.table(table.name, *[sa.column(c) for c in names], schema=table.schema)


def _shown(key: CanonKey) -> str:
    """A key as a reject's reason names it: the value itself, or a tuple of them."""
    return str(key[0]) if len(key) == 1 else f"({', '.join(str(v) for v in key)})"
