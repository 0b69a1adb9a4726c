"""Findings one can act on: repeated ones grouped, acknowledged ones counted not repeated,
the CLI's --only and --quiet, and one catalogue of codes the spec is checked against."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import datamove.plan
from datamove import Migration
from datamove.cli.app import app
from datamove.errors import SpecError
from datamove.plan.findings import acknowledge, group
from datamove.plan.model import Finding, Plan, Severity
from datamove.spec.codes import ACKNOWLEDGEABLE_ERRORS, ADVISORY_CODES, ERROR_CODES
from datamove.spec.loader import parse_spec
from datamove.spec.models import Acknowledgement
from tests.conftest import execute
from tests.helpers import write_spec

runner = CliRunner()
STAMPS = ("created", "changed", "shipped")


@pytest.fixture
def zoned(sqlite_db, pg_db, tmp_path) -> tuple[str, str]:
    """Two tables whose three naive timestamps go into zoned target columns, plus a string
    column that shrinks: three naive-to-zoned warnings per table and one string-shrink."""
    source = sqlite_db("src")
    stamps = ", ".join(f"{s} DATETIME" for s in STAMPS)
    zoned = ", ".join(f"{s} timestamptz" for s in STAMPS)
    execute(
        source,
        f"CREATE TABLE orders (id INTEGER PRIMARY KEY, {stamps}, code VARCHAR(40))",
        f"CREATE TABLE parcels (id INTEGER PRIMARY KEY, {stamps})",
    )
    execute(
        pg_db,
        f"CREATE TABLE orders (id bigint PRIMARY KEY, {zoned}, code varchar(8))",
        f"CREATE TABLE parcels (id bigint PRIMARY KEY, {zoned})",
    )
    return source, pg_db


def _spec(tmp_path: Path, urls: tuple[str, str], acknowledge: str = "") -> Path:
    extra = {"acknowledge": acknowledge} if acknowledge else {}
    return write_spec(tmp_path / "m.yaml", *urls, "  orders:\n  parcels:", **extra)


def test_the_same_warning_on_six_columns_is_one_finding_listing_them(zoned, tmp_path) -> None:
    result = runner.invoke(app, ["plan", str(_spec(tmp_path, zoned))])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "naive-to-zoned" in line]
    assert len(lines) == 1, result.output
    assert lines[0].lstrip().startswith("warning 6× ")
    output = result.output.splitlines()
    places = output[output.index(lines[0]) + 1]
    for table in ("orders", "parcels"):
        for stamp in STAMPS:
            assert f"{table}.{stamp}" in places
    assert "tables.orders.columns.code:" in result.output  # a single finding keeps its path
    assert "0 error(s), 7 warning(s)" in result.output


def test_grouping_masks_only_the_findings_own_names() -> None:
    def pii(table: str, column: str) -> Finding:
        message = f"'{column}' looks like personal data; declare pii"
        return Finding(Severity.warning, "pii-undeclared", message, "p", table, column)

    other = Finding(Severity.warning, "x", "column 'email' of 'legacy' is odd", "p", "t", "c")
    (grouped, single) = group([pii("a", "email"), pii("b", "phone"), other])
    assert grouped.message == "'…' looks like personal data; declare pii"
    assert grouped.places == ["a.email", "b.phone"]
    assert single.message == other.message  # names not its own stay


def test_acknowledged_findings_are_counted_not_repeated(zoned, tmp_path) -> None:
    acks = (
        "[{code: naive-to-zoned, table: '*', reason: the readers expect UTC}, "
        "{code: string-shrink, table: parcels}]"
    )
    spec = _spec(tmp_path, zoned, acks)
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 0, result.output
    assert "naive-to-zoned" not in result.output
    assert "0 error(s), 1 warning(s), 1 note(s); 6 acknowledged" in result.output
    # The acknowledgement that matched nothing is a note, so stale ones get cleaned up.
    assert "acknowledge[1]: acknowledgement of string-shrink (table 'parcels')" in result.output

    as_json = runner.invoke(app, ["plan", str(spec), "--json"])
    findings = json.loads(as_json.stdout)["findings"]
    zoned_findings = [f for f in findings if f["code"] == "naive-to-zoned"]
    assert len(zoned_findings) == 6
    assert all(
        f["acknowledged"] and f["reason"] == "the readers expect UTC" for f in zoned_findings
    )
    (shrink,) = [f for f in findings if f["code"] == "string-shrink"]
    assert shrink["acknowledged"] is False


def test_acknowledgement_globs_on_table_and_column(zoned, tmp_path) -> None:
    acks = "[{code: naive-to-zoned, table: 'ord*', column: 'c*'}]"
    plan = Migration.from_file(_spec(tmp_path, zoned, acks)).plan()
    covered = {(f.table, f.column) for f in plan.findings if f.acknowledged}
    assert covered == {("orders", "created"), ("orders", "changed")}


def test_only_and_quiet_shape_the_text(zoned, sqlite_db, tmp_path) -> None:
    spec = _spec(tmp_path, zoned)
    only = runner.invoke(app, ["plan", str(spec), "--only", "errors"])
    assert only.exit_code == 0 and "findings" not in only.output
    assert "orders ← orders" in only.output  # the tables are still shown
    warnings = runner.invoke(app, ["plan", str(spec), "--only", "warnings"])
    assert "naive-to-zoned" in warnings.output and "string-shrink" in warnings.output

    source = zoned[0]
    execute(source, "CREATE TABLE nokey (a INTEGER)")
    broken = write_spec(tmp_path / "b.yaml", *zoned, "  orders:\n  nokey:")
    quiet = runner.invoke(app, ["plan", str(broken), "--quiet"])
    assert quiet.exit_code == 2
    assert "tables.nokey.key:" in quiet.output and "no-key" in quiet.output
    assert "naive-to-zoned" not in quiet.output and "orders ←" not in quiet.output
    assert quiet.output.strip().endswith("1 error(s), 4 warning(s), 0 note(s)")
    bad = runner.invoke(app, ["plan", str(spec), "--only", "everything"])
    assert bad.exit_code == 2 and "--only" in bad.output


def test_an_acknowledgeable_error_stops_blocking_others_cannot_be_acknowledged() -> None:
    risky = Finding(Severity.error, "replace-range-foreign-rows", "rows would go", "tables.t")
    fatal = Finding(Severity.error, "no-key", "no primary key", "tables.u.key")
    ack = Acknowledgement(code="replace-range-foreign-rows", reason="they are test rows")
    plan = Plan("x", "a", "b", {}, [], acknowledge([risky, fatal], [ack]))
    assert [f.code for f in plan.errors] == ["no-key"]
    assert "replace-range-foreign-rows" in ACKNOWLEDGEABLE_ERRORS

    base = {"name": "x", "source": "sqlite://", "target": "sqlite://", "tables": {"t": {}}}
    with pytest.raises(SpecError) as refused:
        parse_spec({**base, "acknowledge": [{"code": "no-key"}]})
    assert refused.value.spec_path == "acknowledge[0].code"
    assert "fix it rather than acknowledge it" in str(refused.value)


def test_an_unknown_code_is_a_spec_error_listing_the_known_codes() -> None:
    base = {"name": "x", "source": "sqlite://", "target": "sqlite://", "tables": {"t": {}}}
    with pytest.raises(SpecError) as unknown:
        parse_spec({**base, "acknowledge": [{"code": "naive-to-zone", "table": "*"}]})
    assert unknown.value.spec_path == "acknowledge[0].code"
    assert "unknown finding code 'naive-to-zone'" in str(unknown.value)
    assert "naive-to-zoned" in str(unknown.value) and "pii-undeclared" in str(unknown.value)
    with pytest.raises(SpecError) as typo:
        parse_spec({**base, "acknowledge": [{"code": "pii-undeclared", "colum": "x"}]})
    assert typo.value.spec_path == "acknowledge[0].colum"


def _emitted_codes() -> dict[str, set[str]]:
    """Every finding code the plan package writes, with the severities it is written with."""
    severities = {"E": "error", "W": "warning", "N": "note"}
    found: dict[str, set[str]] = {}
    code = re.compile(r"^[a-z]+(-[a-z0-9]+)*$")
    for path in Path(datamove.plan.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = (
                node.args
                if isinstance(node, ast.Call)
                else node.elts
                if isinstance(node, ast.Tuple)
                else []
            )
            if len(items) < 2 or not isinstance(items[1], ast.Constant):
                continue
            first = items[0]
            if isinstance(first, ast.Name) and first.id in severities:
                severity = severities[first.id]
            elif isinstance(first, ast.Attribute) and ast.unparse(first.value) == "Severity":
                severity = first.attr
            else:
                continue
            assert code.match(items[1].value), f"{path.name}: {items[1].value!r}"
            found.setdefault(items[1].value, set()).add(severity)
        # _counted(plan, columns, counts, "zero-date", message): a warning per column
        for match in re.finditer(r'_counted\(plan, columns, counts, "([a-z-]+)"', path.read_text()):
            found.setdefault(match.group(1), set()).add("warning")
    return found


def test_every_code_the_plan_writes_is_in_the_catalogue_with_its_severity() -> None:
    emitted = _emitted_codes()
    assert {"naive-to-zoned", "no-key", "zero-date", "acknowledge-unused"} <= set(emitted)
    for code, severities in emitted.items():
        if "error" in severities:
            assert code in ERROR_CODES and severities == {"error"}, code
        else:
            assert code in ADVISORY_CODES, code
