"""The fault suite (issue 14): hostile names and strings, broken specs, a password canary.

Every module here marks its tests ``faults``. The normal ``pytest`` run takes the bounded form
(a few hostile identifiers and strings per engine pair, a sample of the broken-spec corpus, the
canary); ``make faults`` (``DATAMOVE_FAULTS=full pytest -m faults``) takes all of them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
FULL = os.environ.get("DATAMOVE_FAULTS") == "full"


def bounded(items: Sequence[T], size: int, keep: Sequence[T] = ()) -> list[T]:
    """All of ``items`` under ``DATAMOVE_FAULTS=full``; otherwise ``keep`` and a fixed random
    sample of ``size`` others (the same on every run, so a failure reproduces)."""
    if FULL:
        return list(items)
    rest = [i for i in items if i not in keep]
    return [*keep, *random.Random(14).sample(rest, min(size, len(rest)))]
