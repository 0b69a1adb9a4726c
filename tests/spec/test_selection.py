"""The table-selection language shared by ``init``, ``run``, ``verify``, ``repair`` and
``capture install`` (``--tables``/``--exclude``) and the spec's ``include:``/``exclude:``."""

from __future__ import annotations

import pytest

from datamove.errors import SpecError, UsageError
from datamove.spec.selection import select_tables

NAMES = ["payment", "payment_archive", "Payment_2022", "rental", "rental_archive", "staff"]


def test_globs_ignore_case_and_exclusions_apply_after() -> None:
    chosen = select_tables(NAMES, ["payment*"], ["*_archive"])
    assert chosen == ["payment", "Payment_2022"]
    assert select_tables(NAMES, ["r?ntal", "[ps]taff"]) == ["rental", "staff"]
    assert select_tables(NAMES, (), ["*_archive", "payment*"]) == ["rental", "staff"]


def test_no_include_means_every_table_but_the_hidden_ones() -> None:
    assert select_tables(NAMES, hidden={"staff"}) == NAMES[:-1]
    # a hidden table (a partition, datamove's own) is reached by its exact name only
    with pytest.raises(UsageError, match="no table matches 's\\*'"):
        select_tables(NAMES, ["s*"], hidden={"staff"})
    assert select_tables(NAMES, ["STAFF"], hidden={"staff"}) == ["staff"]


def test_a_pattern_matching_nothing_names_itself_and_the_near_names() -> None:
    with pytest.raises(UsageError) as caught:
        select_tables(NAMES, ["paymnt*"])
    assert "--tables: no table matches 'paymnt*'" in str(caught.value)
    assert "did you mean payment" in str(caught.value)
    with pytest.raises(UsageError, match="--exclude: no table in scope matches 'x_\\*'"):
        select_tables(NAMES, (), ["x_*"])
    with pytest.raises(UsageError, match="leave no table in scope"):
        select_tables(NAMES, ["rental"], ["rent*"])


def test_a_schema_qualified_pattern_is_refused_with_the_hint() -> None:
    with pytest.raises(UsageError, match="schema-qualified") as caught:
        select_tables(NAMES, ["public.*"])
    assert "drop the schema prefix" in str(caught.value)


def test_spec_patterns_fail_with_their_spec_path() -> None:
    with pytest.raises(SpecError) as caught:
        select_tables(NAMES, ["rental", "nope*"], include_at="include", spec=True)
    assert caught.value.spec_path == "include[1]"
    assert caught.value.exit_code == 2


def test_the_order_is_the_patterns_then_the_names() -> None:
    assert select_tables(NAMES, ["staff", "rental*", "staff"]) == [
        "staff",
        "rental",
        "rental_archive",
    ]
