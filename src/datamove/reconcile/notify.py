"""The webhook a new failure calls (``notify: {url: …}`` in the spec).

A JSON POST of ``payload`` (documented in README: the migration, the round's run id, kind and
direction, each newly failing check's name, table, expected and actual; never a URL, a
password or a row value beyond what the recorded check already shows, PII masked). Delivery
runs on a thread of its own, so a slow or failing endpoint never holds up a round; each
failed attempt is retried after ``backoff`` seconds, doubled each time, ``retries`` times;
the outcome is recorded as a ``notify`` check under the round's run (``passed``, or
``error`` with every attempt's error). The URL is a secret (a chat webhook's URL is its
token): it is masked wherever output is redacted and never recorded.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from datamove.core.evidence import Check
from datamove.core.stop import Stop
from datamove.redact import remember_secret
from datamove.spec.reconcile import NotifySpec

NAME = "notify: webhook"


def payload(migration: str, result: dict[str, Any], failed: list[Check]) -> dict[str, Any]:
    """The JSON a new failure POSTs (``result``: the round's ``to_dict`` without checks)."""
    return {
        "event": "reconcile.new_failure",
        "migration": migration,
        "run_id": result["run_id"],
        "round": result["kind"],
        "direction": result["direction"],
        "new_failures": [
            {"check": c.name, "table": c.table, "expected": c.expected, "actual": c.actual}
            for c in failed
        ],
    }


class Notifier:
    """Delivers payloads to ``spec.url`` in the background; ``record`` keeps each outcome."""

    def __init__(self, spec: NotifySpec, record: Callable[[str, Check], None], stop: Stop) -> None:
        remember_secret(spec.url)
        self.spec = spec
        self.record = record
        self.stop = stop
        self.threads: list[threading.Thread] = []

    def send(self, run_id: str, body: dict[str, Any]) -> None:
        """Start delivering ``body`` for round ``run_id``; returns at once."""
        thread = threading.Thread(
            target=self._deliver, args=(run_id, body), name="dm-notify", daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def wait(self) -> None:
        """Until every delivery started has ended (``--once`` must not exit before)."""
        for thread in self.threads:
            thread.join()

    def _deliver(self, run_id: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode()
        errors: list[str] = []
        delay = self.spec.backoff
        for attempt in range(1, self.spec.retries + 2):
            error = self._post(data)
            if error is None:
                actual = f"delivered at attempt {attempt}"
                details: dict[str, Any] = {"attempts": attempt, "errors": errors}
                self.record(
                    run_id, Check(NAME, "notify", None, "passed", "HTTP 2xx", actual, details)
                )
                return
            errors.append(f"attempt {attempt}: {error}")
            if attempt <= self.spec.retries and self.stop.wait(delay):
                break
            delay *= 2
        actual = f"not delivered after {len(errors)} attempt(s): {errors[-1]}"
        details = {"attempts": len(errors), "errors": errors}
        self.record(run_id, Check(NAME, "notify", None, "error", "HTTP 2xx", actual, details))

    def _post(self, data: bytes) -> str | None:
        """None once delivered, else what went wrong (never the URL)."""
        request = urllib.request.Request(
            self.spec.url, data, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.spec.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{type(exc).__name__}: {type(reason).__name__}"
        return None if 200 <= status < 300 else f"HTTP {status}"
