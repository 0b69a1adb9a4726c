"""Which columns look like personal data, so ``plan`` asks the spec to say (pii-undeclared).

A column's name alone misleads: ``address_id`` is an id, ``category.name`` names a category.
So the heuristic reads the name's words, the column's kind, and, for a bare ``name``, the
table: a name is personal on a table of people, or when its words say whose (``first_name``).
"""

from __future__ import annotations

import re

_CONTACT = re.compile(r"e_?mail|phone|mobile|ssn|social_sec|iban|card|birth|address")
_NUMBERS = re.compile(r"phone|mobile|ssn|social_sec|iban|card")
"""What a number column can hold that is personal (a phone number stored as digits)."""
_DATES = re.compile(r"birth|dob")
_PEOPLE = re.compile(
    r"customer|client|user|person|people|employee|staff|member|patient|contact|actor|author|"
    r"student|passenger|guest|subscriber|applicant|artist|owner"
)
"""Words of a table (or a name's qualifier) that hold people."""
_PERSON_NAME = {"first", "last", "middle", "full", "given", "family", "sur", "maiden", "nick"}
_IDS = {"id", "key", "uuid", "guid"}
_NUMERIC = {"integer", "decimal", "float"}
_TEMPORAL = {"date", "timestamp"}
_TEXTUAL = {"string", "text", "json", "other", None}


def looks_personal(
    tables: tuple[str | None, ...],
    columns: tuple[str | None, ...],
    kind: str | None,
    reference: bool,
) -> bool:
    """Whether a column named one of ``columns`` (target and source names) in a table named
    one of ``tables``, holding values of ``kind``, looks like personal data. ``reference``:
    the column is a key or a foreign key, which identifies a row rather than describes one."""
    if reference:
        return False
    people = any(_PEOPLE.search("_".join(_words(t))) for t in tables if t)
    return any(_personal(_words(c), kind, people) for c in columns if c)


def _words(name: str) -> list[str]:
    """``address_id`` and ``AddressId`` → ``['address', 'id']``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return [w for w in re.split(r"[^a-z0-9]+", spaced) if w]


def _personal(words: list[str], kind: str | None, people: bool) -> bool:
    if not words or words[-1] in _IDS:
        return False
    text = "_".join(words)
    if kind in _NUMERIC:
        return bool(_NUMBERS.search(text))
    if kind in _TEMPORAL:
        return bool(_DATES.search(text))
    if kind not in _TEXTUAL:  # booleans, enums, binaries, uuids, times
        return False
    return bool(_CONTACT.search(text)) or _person_name(words, people)


def _person_name(words: list[str], people: bool) -> bool:
    """``first_name``, ``FirstName``, ``customer_name``, ``username``; a bare ``name`` only on
    a table of people (``category.name`` is not personal)."""
    last = words[-1]
    if not last.endswith("name"):
        return False
    qualifier = words[:-1] + ([last[: -len("name")]] if last != "name" else [])
    if not qualifier:
        return people
    return any(w in _PERSON_NAME or _PEOPLE.search(w) for w in qualifier)
