"""Shadow reads: a sampled share of an application's reads also runs on the other store, and
the two results are compared and recorded in the state store (``state.shadows``).

A comparison never raises into the application: the other store failing is recorded as an
``error``, the state store failing is logged.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from typing import Any

from datamove.core.keys import encode_key
from datamove.dualwrite.stages import Stage
from datamove.flags.client import FlagClient
from datamove.state.shadows import ShadowReads

log = logging.getLogger("datamove.dualwrite")


def comparable(value: Any) -> str:
    """A read's result as text both stores' drivers agree on: rows become lists, values
    their text (a Decimal and a float of the same amount, or MariaDB's 1 and PostgreSQL's
    true, still differ: shadow reads compare what the application gets)."""
    if hasattr(value, "_mapping"):
        value = list(value)
    if isinstance(value, list | tuple):
        value = [comparable(v) for v in value]
    return json.dumps(value, default=str, sort_keys=True)


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
        """Whether ``other()`` equals ``result`` (None: it failed), recorded."""
        text_key = None if key is None else encode_key(key if isinstance(key, tuple) else (key,))
        try:
            a, b = comparable(result), comparable(other())
        except Exception as exc:  # noqa: BLE001  (a shadow read never fails the request)
            self._record(name, stage, text_key, "error", {"error": f"{type(exc).__name__}: {exc}"})
            return None
        same = a == b
        details = {} if same else {"authoritative": a[:2000], "other": b[:2000]}
        self._record(name, stage, text_key, "passed" if same else "failed", details)
        if not same:
            log.warning("shadow read %s (key %s) differs between the stores", name, text_key)
        return same

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
