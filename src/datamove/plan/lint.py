"""Findings about types: what a source value loses on its way into the target column."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.engine import Connection

from datamove.core.types import TypeInfo
from datamove.dialects.base import Dialect
from datamove.plan.model import ColumnPlan, Finding, Severity, TablePlan

Lint = tuple[Severity, str, str]

_TEXTUAL = {"string", "text", "enum"}


def lossy_findings(src: TypeInfo, dst: TypeInfo) -> Iterator[Lint]:
    """Every way a value of type ``src`` can lose information in a column of type ``dst``."""
    where = f"{src.label} → {dst.label}"
    if src.kind == "integer" and dst.kind == "integer":
        if (
            src.low is not None
            and dst.low is not None
            and src.high is not None
            and (dst.high is not None and (src.low < dst.low or src.high > dst.high))
        ):
            yield (
                Severity.warning,
                "integer-range-shrink",
                (f"{where}: the target integer range is smaller; larger values are rejected"),
            )
    elif src.kind == "float" and dst.kind == "decimal":
        yield (
            Severity.warning,
            "float-to-decimal",
            (
                f"{where}: binary floats into an exact decimal; values are rounded to the "
                "target scale by the database (declare a cast to reject inexact values)"
            ),
        )
    elif src.kind == "decimal" and dst.kind == "decimal":
        if dst.precision is not None and (
            src.precision is None
            or (dst.scale or 0) < (src.scale or 0)
            or (dst.precision - (dst.scale or 0)) < (src.precision - (src.scale or 0))
        ):
            yield (
                Severity.warning,
                "numeric-shrink",
                (
                    f"{where}: the target precision or scale is smaller; digits may be rounded "
                    "away or values rejected"
                ),
            )
    elif src.kind == "decimal" and dst.kind == "integer" and (src.scale or 0) > 0:
        yield Severity.warning, "numeric-shrink", f"{where}: fractions are lost"
    if src.kind in _TEXTUAL and dst.kind in _TEXTUAL and _narrower(dst.charset, src.charset):
        yield (
            Severity.warning,
            "charset-narrowing",
            (
                f"{where}: the target stores text as {dst.charset}; characters it cannot hold are "
                "rejected (declare the column utf8mb4 to keep every character)"
            ),
        )
    if src.kind in _TEXTUAL and dst.kind == "string":
        if dst.length is not None and (src.kind != "string" or (src.length or 0) > dst.length):
            yield (
                Severity.warning,
                "string-shrink",
                (
                    f"{where}: the target holds at most {dst.length} characters; longer values "
                    "are rejected"
                ),
            )
    elif src.kind == "timestamp" and dst.kind == "timestamp" and _fraction(dst) < _fraction(src):
        yield (
            Severity.warning,
            "timestamp-precision-loss",
            (
                f"{where}: the target keeps {_fraction(dst)} fractional-second digits, the source "
                f"{_fraction(src)}; the rest is rounded away by the database"
            ),
        )
    elif src.kind == "timestamp" and dst.kind == "timestamp" and src.timezone != dst.timezone:
        if src.timezone:
            yield (
                Severity.warning,
                "zoned-to-naive",
                (
                    f"{where}: zoned timestamps go into a column without a time zone; they are "
                    "stored as UTC. Declare the zone explicitly if the readers expect local time"
                ),
            )
        else:
            yield (
                Severity.warning,
                "naive-to-zoned",
                (
                    f"{where}: timestamps without a time zone go into a zoned column with no "
                    "declared zone; they are read as UTC. Declare the zone if they are local time"
                ),
            )
    elif src.kind == "float" and dst.kind == "float" and (src.bits or 53) > (dst.bits or 53):
        yield Severity.warning, "float-shrink", f"{where}: double precision into single precision"
    elif src.kind in {"text", "string", "json"} and dst.kind in {
        "integer",
        "decimal",
        "float",
        "boolean",
        "date",
        "timestamp",
    }:
        yield (
            Severity.note,
            "parsed-from-text",
            (f"{where}: text is parsed by the target; values it cannot parse are rejected"),
        )


def _fraction(info: TypeInfo) -> int:
    """Fractional-second digits a timestamp type keeps (6 when the engine does not say)."""
    return 6 if info.precision is None else info.precision


def _narrower(target: str | None, source: str | None) -> bool:
    """Whether a target character set holds fewer characters than the source's."""
    full = {None, "utf8mb4"}  # None: the engine's text is full Unicode (PostgreSQL, SQLite)
    return target not in full and target != source


_SEES_SERVER_DATES = {"when", "sql"}
"""Steps the source computes on every path, so they see a date as the server stores it
(``nullif``, ``map`` and ``default`` see a value only after it is parsed, which rejects a zero
date; ``default`` replaces NULL, and a zero date is not NULL)."""


def unstorable_date_findings(source: Dialect, conn: Connection, plan: TablePlan) -> list[Finding]:
    """Warnings for date columns that hold dates only the source engine stores (MySQL's zero
    and partial dates) with no ``when`` or ``sql`` step deciding what they become: the run
    would reject those rows. One aggregate query per table, on engines that have such dates."""
    columns = [
        c
        for c in plan.columns
        if c.source is not None
        and c.source_info is not None
        and c.source_info.kind in ("date", "timestamp")
        and not c.legacy
        and not any(t.name in _SEES_SERVER_DATES for t in c.transforms)
    ]
    names = sorted({c.source for c in columns if c.source is not None})
    counts = source.count_unstorable_dates(conn, plan.source_table, names, plan.where)

    def message(column: ColumnPlan, rows: int) -> str:
        assert column.source is not None
        return (
            f"{rows:,} row(s) of '{plan.source_name}.{column.source}' hold dates only "
            f"{source.NAME} stores (year, month or day 0, such as 0000-00-00): the run would "
            "reject them. Declare what they become — NULL with transform: {when: "
            f'"{source.storable_date_sql(column.source)}"}}, or an sql: expression — or fix '
            "them in the source"
        )

    return _counted(plan, columns, counts, "zero-date", message)


def unconvertible_text_findings(
    source: Dialect, conn: Connection, plan: TablePlan
) -> list[Finding]:
    """Warnings for text columns in a character set that stores characters with no Unicode
    form (MySQL's gbk, ascii, cp1250, ...) holding such characters: the source would send
    each as '?', so the run rejects those rows. One aggregate query per table, none where no
    column can hold such text."""
    columns = [
        c
        for c in plan.columns
        if c.source is not None and c.source_info is not None and c.converts_text
    ]
    infos = {c.source: c.source_info for c in columns if c.source and c.source_info}
    counts = source.count_unconvertible_text(conn, plan.source_table, infos, plan.where)

    def message(column: ColumnPlan, rows: int) -> str:
        assert column.source_info is not None
        return (
            f"{rows:,} row(s) of '{plan.source_name}.{column.source}' hold "
            f"{column.source_info.charset} text with characters that have no Unicode "
            "form: the source server would send each as '?', so the run would reject them. "
            "Fix them in the source, or copy the column's stored bytes with type: binary"
        )

    return _counted(plan, columns, counts, "unconvertible-text", message)


def _counted(
    plan: TablePlan,
    columns: list[ColumnPlan],
    counts: dict[str, int],
    code: str,
    message: Callable[[ColumnPlan, int], str],
) -> list[Finding]:
    """A warning per column with a nonzero count of rows the run would reject."""
    return [
        Finding(
            Severity.warning,
            code,
            message(column, counts[column.source]),
            f"tables.{plan.name}.columns.{column.target}",
            plan.name,
            column.target,
        )
        for column in columns
        if column.source is not None and counts.get(column.source)
    ]
