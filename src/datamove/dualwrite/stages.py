"""The migration stages of dual-write and what each routes where (LaunchDarkly's six-stage
migration flag): the read-path flag's value names the stage.

=========== ============== ==================== ============================= ==============
stage       reads from     compared (shadow)    writes                        drift table in
=========== ============== ==================== ============================= ==============
off         old            no                   old                           (none)
dual_write  old            no                   old, then new                 old
shadow      old            new, sampled         old, then new                 old
live        new            old, sampled         new, then old                 new
ramp_down   new            no                   new, then old                 new
complete    new            no                   new                           (none)
=========== ============== ==================== ============================= ==============

The first store written is the authoritative one: its failure fails the request; the second's
is recorded as drift in the first (``state.drift``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Store = Literal["old", "new"]


class Stage(StrEnum):
    """The value of the read-path flag under ``cutover: {mode: dual_write}``."""

    off = "off"
    dual_write = "dual_write"
    shadow = "shadow"
    live = "live"
    ramp_down = "ramp_down"
    complete = "complete"


@dataclass(frozen=True)
class Route:
    """Where one stage sends reads and writes."""

    authority: Store
    """Reads come from it and it is written first."""
    secondary: Store | None
    """Written second (its failure is drift); None: not written."""
    shadow: bool
    """A sampled read of the secondary is compared with the authority's."""


ROUTES: dict[Stage, Route] = {
    Stage.off: Route("old", None, False),
    Stage.dual_write: Route("old", "new", False),
    Stage.shadow: Route("old", "new", True),
    Stage.live: Route("new", "old", True),
    Stage.ramp_down: Route("new", "old", False),
    Stage.complete: Route("new", None, False),
}

ORDER: tuple[Stage, ...] = tuple(Stage)
"""The stages in the order a migration goes through them."""


def parse_stage(value: object) -> Stage | None:
    """The stage a flag value names; None for anything else."""
    try:
        return Stage(str(value))
    except ValueError:
        return None


def next_stage(stage: Stage) -> Stage | None:
    """The stage after ``stage`` (None after ``complete``)."""
    i = ORDER.index(stage)
    return ORDER[i + 1] if i + 1 < len(ORDER) else None
