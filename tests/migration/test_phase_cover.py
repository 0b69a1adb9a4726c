"""Issue 17: the phases cover each table exactly once, on the engines themselves.

Any groups (tenant lists, conditions that may overlap them, NULL tenants and regions) and any
rows: with ``remaining`` last, every row is in exactly one phase; without it, in at most one.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamove.spec.phases import REMAINING, PhasesSpec, phase_sql, tenant_column

TENANTS = st.one_of(st.none(), st.integers(1, 6))
REGIONS = st.sampled_from([None, "eu", "us", "ap"])
ROWS = st.lists(st.tuples(TENANTS, REGIONS), min_size=1, max_size=25)


@st.composite
def phase_specs(draw: Any) -> PhasesSpec:
    tenants = draw(st.permutations(range(1, 7)))
    cuts = sorted(draw(st.lists(st.integers(1, 6), max_size=3, unique=True)))
    groups: dict[str, Any] = {}
    start = 0
    for i, cut in enumerate(cuts):
        if cut > start:
            groups[f"list{i}"] = tenants[start:cut]
            start = cut
    for region in draw(st.lists(st.sampled_from(["eu", "us", "ap"]), max_size=2, unique=True)):
        groups[f"r_{region}"] = f"region = '{region}'"
    order = draw(st.permutations(list(groups)))
    if draw(st.booleans()) or not order:
        order, groups["rest"] = [*order, "rest"], REMAINING
    return PhasesSpec(by="tenant_id", order=order, groups=groups)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_no_row_is_in_two_phases_or_none(make_db: Any, engine: str) -> None:
    url = make_db(engine, "cover")
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, tenant_id INTEGER, region VARCHAR(8))"
        )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(phases=phase_specs(), rows=ROWS)
    def covered(phases: PhasesSpec, rows: list[tuple[int | None, str | None]]) -> None:
        column = tenant_column("tenant_id", eng.dialect)
        held = ", ".join(
            f"CASE WHEN {phase_sql(phases, p, column, eng.dialect)} THEN 1 ELSE 0 END"
            for p in phases.order
        )
        with eng.begin() as conn:
            conn.exec_driver_sql("DELETE FROM accounts")
            conn.execute(
                sa.text("INSERT INTO accounts VALUES (:i, :t, :r)"),
                [{"i": i, "t": t, "r": r} for i, (t, r) in enumerate(rows)],
            )
            counts = conn.exec_driver_sql(f"SELECT id, {held} FROM accounts ORDER BY id").all()
        assert len(counts) == len(rows)
        whole = phases.groups[phases.order[-1]] == REMAINING
        for (_, *held_by), row in zip(counts, rows, strict=True):
            n = sum(held_by)
            assert (n == 1) if whole else (n <= 1), (row, phases.model_dump(), held_by)
            expected = [int(p == _first(phases, row)) for p in phases.order]
            assert held_by == expected, (row, phases.model_dump())

    try:
        covered()
    finally:
        eng.dispose()


def _first(phases: PhasesSpec, row: tuple[int | None, str | None]) -> str | None:
    """The phase a row belongs to, computed in Python (the first group that holds it)."""
    tenant, region = row
    for name in phases.order:
        group = phases.groups[name]
        if group == REMAINING:
            return name
        if isinstance(group, list) and tenant is not None and tenant in group:
            return name
        if isinstance(group, str) and region is not None and group == f"region = '{region}'":
            return name
    return None
