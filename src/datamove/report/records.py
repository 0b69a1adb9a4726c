"""What the report's commands write to the state store: a mapping document written, a sign-off.

Both go in the caller's transaction, into the version-12 tables (``state.schema``); the store
is made current first by the caller (``StateStore.ensure``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy.engine import Connection

from datamove.report.model import Report
from datamove.state.store import StateStore


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def record_document(
    conn: Connection, state: StateStore, mapping_hash: str, path: str, text: str, invariants: int
) -> None:
    """Record that the mapping document of ``mapping_hash`` was written to ``path``."""
    conn.execute(
        state.schema.documents.insert().values(
            migration=state.migration,
            mapping_hash=mapping_hash,
            path=path,
            digest=hashlib.sha256(text.encode()).hexdigest(),
            invariants=invariants,
            written_at=_now(),
        )
    )


def record_signoff(
    conn: Connection, state: StateStore, report: Report, name: str, role: str | None
) -> str:
    """Record a named approval bound to the digest of ``report``'s evidence; returns it."""
    ev = report.evidence
    seen = {line.key: line.ticked for line in report.lines}
    conn.execute(
        state.schema.signoffs.insert().values(
            migration=state.migration,
            name=name,
            role=role,
            digest=ev.digest,
            mapping_hash=ev.mapping_hash,
            last_check_id=max((c.id for c in ev.checks), default=None),
            evidence=json.dumps({"checklist": seen, "runs": len(ev.runs)}, sort_keys=True),
            signed_at=_now(),
        )
    )
    return ev.digest
