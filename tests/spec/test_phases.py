"""Issue 17 part 1: the ``phases:`` spec and its bad input (no connection needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from datamove.errors import SpecError
from datamove.migration import Migration
from datamove.spec import parse_spec
from datamove.spec.phases import phase_sql, phased

BASE = {
    "name": "m",
    "source": "postgresql+psycopg://u:secret@127.0.0.1/a",
    "target": "mysql+mysqlconnector://u:secret@127.0.0.1/b",
    "tables": {"accounts": {}, "orders": {"where": "total > 0", "phase_column": "owner"}},
}
GROUPS = {
    "by": "tenant_id",
    "order": ["pilot", "eu", "rest"],
    "groups": {"pilot": [17, 42, "o'x"], "eu": "region = 'eu'", "rest": "remaining"},
}


def _spec(**phases: object) -> dict[str, object]:
    return {**BASE, "phases": {**GROUPS, **phases}}


def test_a_phase_narrows_every_table_on_both_sides_and_has_its_own_identity() -> None:
    spec = phased(parse_spec(_spec()), "eu")
    assert spec.name == "m:eu"
    accounts, orders = spec.tables["accounts"], spec.tables["orders"]
    # first-wins: eu is its condition and not pilot's tenants; NULL-safe both ways
    assert accounts.where == (
        "COALESCE((region = 'eu'), FALSE) AND NOT "
        "(COALESCE((tenant_id IN (17, 42, 'o''x')), FALSE))"
    )
    assert orders.where is not None and orders.where.startswith("(total > 0) AND (")
    assert "owner IN (17, 42" in orders.where
    assert orders.target_where is not None and "owner IN" in orders.target_where


def test_the_target_side_uses_the_target_name_of_a_renamed_tenant_column() -> None:
    data = _spec()
    data["tables"] = {"accounts": {"columns": {"tenant": "tenant_id", "region": {}}}}
    spec = phased(parse_spec(data), "pilot")
    assert "tenant_id IN" in (spec.tables["accounts"].where or "")
    assert "tenant IN" in (spec.tables["accounts"].target_where or "")


def test_a_string_tenant_is_quoted_by_the_engine_not_spliced() -> None:
    phases = parse_spec(_spec()).phases
    assert phases is not None
    mysql = sa.engine.make_url("mysql+mysqlconnector://h/d").get_dialect()()
    sql = phase_sql(phases, "pilot", "t", mysql)
    assert "'o''x'" in sql or "'o\\'x'" in sql, sql


def test_remaining_is_not_any_earlier_group() -> None:
    spec = phased(parse_spec(_spec()), "rest")
    where = spec.tables["accounts"].where or ""
    assert where.startswith("NOT (COALESCE((tenant_id IN")
    assert "OR COALESCE((region = 'eu'), FALSE))" in where


@pytest.mark.parametrize(
    ("phases", "path", "words"),
    [
        (
            {"groups": {"pilot": [17, 42], "eu": [42], "rest": "remaining"}},
            "phases",
            ["pilot", "eu", "overlap", "42"],
        ),
        (
            {"order": ["rest", "pilot", "eu"]},
            "phases",
            ["'remaining'", "last"],
        ),
        ({"order": ["pilot", "eu"]}, "phases", ["rest"]),
        ({"groups": {"pilot": [], "eu": "x", "rest": "remaining"}}, "phases", ["pilot", "empty"]),
        ({"order": ["pi lot", "eu", "rest"]}, "phases", ["pi lot"]),
    ],
)
def test_bad_phases_are_spec_errors_naming_what_to_fix(
    phases: dict[str, object], path: str, words: list[str]
) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(_spec(**phases))
    text = str(err.value)
    assert text.startswith(path), text
    for word in words:
        assert word in text, text
    assert "secret" not in text


def test_an_unknown_phase_or_a_spec_without_phases_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: m\nsource: 'sqlite:///a.db'\ntarget: 'sqlite:///b.db'\n"
        "phases: {by: t, order: [a, rest], groups: {a: [1], rest: remaining}}\n"
        "tables:\n  x:\n"
    )
    with pytest.raises(SpecError, match=r"phases.order: unknown phase 'b'; the phases are a, rest"):
        Migration.from_file(path, "b")
    path.write_text("name: m\nsource: 'sqlite:///a.db'\ntarget: 'sqlite:///b.db'\ntables:\n  x:\n")
    with pytest.raises(SpecError, match=r"phases: --phase a: the spec has no phases:"):
        Migration.from_file(path, "a")
