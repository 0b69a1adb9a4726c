"""Stage 7 commands: the report computed from the state store, the sign-off bound to it, and
a row's lineage (``trace``) for support."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamove.dialects.base import Dialect
from datamove.errors import UsageError
from datamove.migration.base import MigrationBase
from datamove.plan import Plan
from datamove.plan.document import write as write_mapping
from datamove.report.evidence import collect
from datamove.report.model import Report
from datamove.report.records import record_document, record_signoff
from datamove.report.render import FORMATS, Format, render
from datamove.report.trace import Trace, Tracer
from datamove.state import StateStore


@dataclass(frozen=True)
class ReportResult:
    """A rendered report, and the file it was written to (None: the text is the result)."""

    report: Report
    text: str
    path: Path | None


@dataclass(frozen=True)
class SignoffResult:
    """A recorded sign-off: who, the evidence digest it is bound to, and what it saw."""

    name: str
    role: str | None
    digest: str
    report: Report

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "digest": self.digest,
            "checklist": [line.to_dict() for line in self.report.lines],
        }


class ReportCommands(MigrationBase):
    """The end of the migration: report, sign-off, trace."""

    @contextmanager
    def _state(self, read_only: bool) -> Iterator[StateStore]:
        """The target's state store alone (the report needs no source)."""
        target = Dialect.for_url(self.spec.target, role="target", read_only=read_only)
        try:
            yield StateStore(target, self.spec.name)
        finally:
            target.dispose()

    def build_report(self) -> Report:
        """The report computed from the state store and the spec only (no database is
        compared); a target with no state store gives a report saying what is missing."""
        with self._state(read_only=True) as state, state.dialect.connect() as conn:
            return Report.of(self.spec, collect(conn, state))

    def report(self, fmt: Format = "html", path: str | Path | None = None) -> ReportResult:
        """Render the report as ``fmt`` (html, md, json); written to ``path`` when given."""
        if fmt not in FORMATS:
            raise UsageError(f"no report format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
        built = self.build_report()
        text = render(built, fmt)
        if path is None:
            return ReportResult(built, text, None)
        out = Path(path)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot write the report to {out}: {exc.strerror}",
                hint="give -o a path in a directory you can write",
            ) from None
        return ReportResult(built, text, out)

    def signoff(self, name: str, role: str | None = None) -> SignoffResult:
        """Record a named approval bound to a digest of the evidence it saw; later evidence
        (a failing check or reconcile round, a changed mapping) marks it stale."""
        if not name.strip():
            raise UsageError("a sign-off needs a name", hint="datamove signoff SPEC --as NAME")
        with self._state(read_only=False) as state, state.dialect.connect() as conn:
            with conn.begin():
                state.ensure(conn)
            with conn.begin():
                built = Report.of(self.spec, collect(conn, state))
                digest = record_signoff(conn, state, built, name.strip(), role)
        return SignoffResult(name.strip(), role, digest, built)

    def write_document(self, plan: Plan, path: str | Path) -> Path:
        """Write the mapping document for ``plan`` (Markdown or HTML, by the file suffix) and
        record it in the state store: the checklist's evidence that the mapping is documented."""
        path = Path(path)
        write_mapping(plan, path, self.spec.invariants, self.spec.max_rejects)
        text = path.read_text(encoding="utf-8")
        with self._state(read_only=False) as state, state.dialect.connect() as conn:
            with conn.begin():
                state.ensure(conn)
                invariants = len(self.spec.invariants)
                record_document(conn, state, plan.mapping_hash, str(path), text, invariants)
        return path

    def trace(self, table: str, key: str, show_values: bool = False) -> Trace:
        """What happened to one row: source and target now, each column's transforms, the
        chunk and run that copied it, its sync changes, rejects and the latest check."""
        with self._session(read_only=True) as session:
            plan = session.plan()
            if table not in plan.tables:
                known = ", ".join(sorted(plan.tables))
                raise UsageError(f"'{table}' is not a table of the spec", hint=f"one of: {known}")
            compiled = session.compiled[table]
            with session.source.connect() as src, session.target.connect() as tgt:
                return Tracer(compiled, session.state, src, tgt, show_values).trace(key)
