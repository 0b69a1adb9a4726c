"""How a transform goes back: the rollback class every transform declares for itself.

A rollback replays the rows the new side accepted after the switch back into the old side,
through the inverse mapping. Each transform says, in its ``inversion`` method, which of three
classes it is in and why:

- ``invertible``: the old value follows from the new one exactly (``undo`` computes it, and
  ``inverse`` says how, as data the plan prints and the rollback reads);
- ``kept_original``: different old values give the same new one (rounding, trim, ``'' → NULL``):
  going back needs the original. No side table: at a rollback the fenced source still holds
  it (``cutover.reverse``); a value the application changed goes back through the step's best
  inverse, when it has one (``fixed``: every value it gives is one it keeps, as a rounded
  number rounds to itself, so the value itself is a valid old value);
- ``one_way``: the old value cannot be recovered at all (a hash, user code, a SQL expression).

``undo`` may be handed values the transform never produces (the application wrote them on the
new side); the plan checks each undone value by transforming it forward again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RollbackClass(StrEnum):
    """How a column's value goes back from the new side to the old one on a rollback."""

    invertible = "invertible"
    """The old value follows from the new one exactly."""
    kept_original = "kept_original"
    """Several old values give one new value: the rollback needs the original (the source's)."""
    one_way = "one_way"
    """The old value cannot be recovered (a hash, user code, a SQL expression)."""

    @property
    def rank(self) -> int:
        """How much worse than invertible (a chain is as bad as its worst step)."""
        return list(RollbackClass).index(self)


@dataclass(frozen=True)
class Given:
    """What a step knows of the values it is handed: whether they can be NULL, and their kind
    (``core.types.Kind``: 'integer', 'string', …; None when not known)."""

    nullable: bool
    kind: str | None = None


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Inversion:
    """One step's way back (see the module docstring)."""

    kind: RollbackClass
    reason: str
    """Why, in plain words (for the plan, the mapping document and the refusal)."""
    undo: Callable[[Any], Any] | None = None
    """New value → old value; raises ``ValueError`` when it cannot. ``kept_original``: the
    best inverse (an old value the step takes to the new one), None when it has none."""
    inverse: dict[str, Any] = field(default_factory=dict)
    """The way back as data: ``op`` and its arguments (``invertible`` only)."""


def invertible(reason: str, op: str, undo: Callable[[Any], Any] = _same, **args: Any) -> Inversion:
    """An exact way back: ``undo``, described as ``{op: ..., **args}``."""
    return Inversion(RollbackClass.invertible, reason, undo, {"op": op, **args})


def kept_original(reason: str, fixed: bool = False) -> Inversion:
    """No exact way back: the rollback needs the original value. ``fixed``: the step keeps
    every value it gives (trim of a trimmed text), so a new value is its own best inverse."""
    return Inversion(RollbackClass.kept_original, reason, _same if fixed else None)


def one_way(reason: str) -> Inversion:
    """No way back at all."""
    return Inversion(RollbackClass.one_way, reason)
