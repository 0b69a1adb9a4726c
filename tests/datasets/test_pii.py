"""The personal-data heuristic on real schemas: Pagila and Sakila's people are flagged, their
ids and the names of things (category.name, language.name) are not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from datamove import Migration
from datamove.spec.scaffold import scaffold

pytestmark = pytest.mark.slow

PEOPLE = {
    ("actor", "first_name"),
    ("actor", "last_name"),
    ("customer", "first_name"),
    ("customer", "last_name"),
    ("customer", "email"),
    ("staff", "first_name"),
    ("staff", "email"),
    ("staff", "username"),
    ("address", "address"),
    ("address", "phone"),
}
THINGS = {
    ("customer", "address_id"),
    ("staff", "address_id"),
    ("store", "address_id"),
    ("address", "address_id"),
    ("category", "name"),
    ("language", "name"),
}


def _flagged(source: str, target: str, tmp_path: Path) -> set[tuple[str | None, str | None]]:
    text, _ = scaffold(source, target, (), None)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    plan = Migration.from_file(spec).plan()
    return {(f.table, f.column) for f in plan.findings if f.code == "pii-undeclared"}


@pytest.mark.parametrize("dataset", ["pagila_postgresql", "sakila_mysql"])
def test_people_are_flagged_and_ids_and_names_of_things_are_not(
    dataset: str,
    request: pytest.FixtureRequest,
    make_db: Callable[[str, str], str],
    tmp_path: Path,
) -> None:
    flagged = _flagged(request.getfixturevalue(dataset), make_db("postgresql", "t"), tmp_path)
    assert PEOPLE <= flagged, sorted(PEOPLE - flagged)
    assert not THINGS & flagged, sorted(THINGS & flagged)
