"""The personal-data heuristic reads a column's words, its kind and its table."""

from __future__ import annotations

import pytest

from datamove.plan.pii import looks_personal


@pytest.mark.parametrize(
    ("table", "column", "kind"),
    [
        ("customer", "first_name", "string"),
        ("Customer", "FirstName", "string"),
        ("orders", "customer_name", "string"),
        ("accounts", "username", "string"),
        ("customer", "name", "string"),
        ("Employee", "Email", "string"),
        ("address", "address2", "string"),
        ("shipments", "contact_phone", "integer"),
        ("patients", "birth_date", "date"),
    ],
)
def test_personal(table: str, column: str, kind: str) -> None:
    assert looks_personal((table,), (column,), kind, reference=False)


@pytest.mark.parametrize(
    ("table", "column", "kind", "reference"),
    [
        ("customer", "address_id", "integer", False),
        ("Customer", "AddressId", "integer", False),
        ("category", "name", "string", False),
        ("language", "name", "string", False),
        ("products", "file_name", "string", False),
        ("customer", "store_id", "integer", False),
        ("customer", "email", "string", True),  # a key or foreign key identifies a row
        ("orders", "shipped_birthday_promo", "boolean", False),
        ("events", "address_count", "integer", False),
    ],
)
def test_not_personal(table: str, column: str, kind: str, reference: bool) -> None:
    assert not looks_personal((table,), (column,), kind, reference)
