"""Shadow reads: a sampled share of an application's reads also runs on the other store, and
the two results are compared as verify compares a shadow query (numbers as exact decimals,
MariaDB's 1 equal to PostgreSQL's true) and recorded in the state store (``state.shadows``).

A comparison never raises into the application: the other store failing is recorded as an
``error``, the state store failing is logged.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from datamove.core.keys import encode_key
from datamove.dualwrite.stages import Stage
from datamove.flags.client import FlagClient
from datamove.state.shadows import ShadowReads
from datamove.verify.checks import compare_results

log = logging.getLogger("datamove.dualwrite")


def rows(result: Any) -> Sequence[Sequence[Any]]:
    """A read's result as rows: a list of rows, one row (or mapping), a value, or None."""
    if result is None:
        return []
    if hasattr(result, "_mapping"):
        return [tuple(result)]
    if isinstance(result, dict):
        return [tuple(result.values())]
    if isinstance(result, list):
        return [
            r if isinstance(r, tuple | list) or hasattr(r, "_mapping") else (r,) for r in result
        ]
    if isinstance(result, tuple):
        return [result]
    return [(result,)]


class ShadowLog:
    """Sampling and recording of one ``DualWriter``'s shadow reads."""

    def __init__(self, flags: FlagClient | None, ratio: float) -> None:
        self.ratio = ratio
        self.reads = None if flags is None else ShadowReads(flags.dialect, flags.migration)
        self._random = random.Random()

    def sampled(self) -> bool:
        return self.ratio > 0 and self._random.random() < self.ratio

    def compare(
        self, name: str, stage: Stage, key: Any, result: Any, other: Callable[[], Any]
    ) -> bool | None:
        """Whether ``other()`` (the other store's answer) equals ``result`` (the
        authority's); None when it failed. Recorded either way."""
        text_key = None if key is None else encode_key(key if isinstance(key, tuple) else (key,))
        try:
            answer = other()
        except Exception as exc:  # noqa: BLE001  (a shadow read never fails the request)
            self._record(name, stage, text_key, "error", {"error": f"{type(exc).__name__}: {exc}"})
            return None
        old, new = (result, answer) if stage is Stage.shadow else (answer, result)
        check = compare_results(name, "shadow_read", rows(old), rows(new))
        self._record(name, stage, text_key, check.status, check.details)
        if not check.ok:
            log.warning("shadow read %s (key %s) differs between the stores", name, text_key)
        return check.ok

    def _record(
        self, name: str, stage: Stage, key: str | None, status: str, details: dict[str, Any]
    ) -> None:
        if self.reads is None:
            return
        try:
            with self.reads.dialect.connect() as conn, conn.begin():
                self.reads.record(conn, name, stage.value, self.ratio, status, key, details)
        except Exception:  # noqa: BLE001
            log.exception("a shadow read of %s could not be recorded", name)
