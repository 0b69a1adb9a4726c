"""Value transforms: ``map`` (a value table), ``nullif`` and ``json_path``."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import (
    Given,
    Inversion,
    invertible,
    kept_original,
    one_way,
)

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect

ELSE = ("keep", "null", "reject")


def text_form(value: Any) -> str:
    """How ``map`` and ``nullif`` compare values: booleans as true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Map(Transform):
    """``map: {values: {0: pending, 1: paid}, else: keep | null | reject | VALUE}``

    Values are matched by their text form (so a YAML key ``1`` matches the integer 1 and the
    text '1'). ``else`` decides unmatched values (default ``reject``: an unknown code is never
    guessed). The short form ``map: {0: pending, 1: paid}`` is ``values`` with ``else: reject``.
    Pushed down as CASE unless ``else`` is keep or reject.
    """

    name = "map"

    def validate(self) -> None:
        if not isinstance(self.args, dict) or not self.args:
            raise self.fail("map takes {values: {...}, else: ...} or {FROM: TO, ...}")
        if "values" in self.args:
            if set(self.args) - {"values", "else"} or not isinstance(self.args["values"], dict):
                raise self.fail("map takes values: {FROM: TO, ...} and else")
            values, other = self.args["values"], self.args.get("else", "reject")
            if other is None:  # YAML reads an unquoted `else: null` as a null value
                other = "null"
        else:
            values, other = self.args, "reject"
        if isinstance(other, dict | list):
            raise self.fail("map else is keep, null, reject or a value")
        self.table = {text_form(k): v for k, v in values.items()}
        self.other = other
        # The same table keyed by plain values whose text form is a key: the key texts
        # themselves (a str's text form is itself) and the ints written as the key (an int's
        # text form is str(int)). apply_batch looks up str and int values here directly.
        self.direct: dict[Any, Any] = dict(self.table)
        for key, result in self.table.items():
            number = _int_of(key)
            if number is not None:
                self.direct[number] = result

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        key = text_form(value)
        if key in self.table:
            return self.table[key]
        if self.other == "keep":
            return value
        if self.other == "null":
            return None
        if self.other == "reject":
            raise RowError(
                None, f"map: {key!r} is not one of {', '.join(map(repr, self.table))}", value
            )
        return self.other

    def apply_batch(self, values: list[Any]) -> list[Any]:
        """``apply`` on each value; a ``str`` or ``int`` (exactly those types: a bool or a
        subclass may have another text form) found in the table is mapped without building
        its text form, everything else goes through ``apply``."""
        direct, slow, miss = self.direct, self.apply, _MISSING
        return [
            hit
            if (type(v) is str or type(v) is int) and (hit := direct.get(v, miss)) is not miss
            else slow(v)
            for v in values
        ]

    def may_return_null(self) -> bool:
        return self.other == "null" or None in self.table.values()

    def output_type(self) -> sa.types.TypeEngine[Any] | None:
        results = [*self.table.values()] + ([] if self.other in ELSE else [self.other])
        if all(isinstance(v, str) for v in results):
            return sa.Text()
        if all(isinstance(v, int) and not isinstance(v, bool) for v in results):
            return sa.BigInteger()
        return None  # mixed: declare the column's `type:`

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        if self.other in ("keep", "reject"):
            return None
        sql = dialect.pushdown
        as_text = sql.text_form(expr)
        if as_text is None:
            return None
        whens = [(sql.same_text(as_text, k), sa.literal(v)) for k, v in self.table.items()]
        other = None if self.other == "null" else sa.literal(self.other)
        return sa.case((expr.is_(None), sa.null()), *whens, else_=other)  # NULL stays NULL

    def inversion(self, given: Given) -> Inversion:
        if self.other != "reject":
            return kept_original(
                {
                    "keep": "values not in the table pass unchanged and may equal a mapped one",
                    "null": "values not in the table become NULL",
                }.get(str(self.other), f"values not in the table become {self.other!r} too")
            )
        results = [None if v is None else text_form(v) for v in self.table.values()]
        if given.nullable and None in results:
            return kept_original("NULL and a value mapped to NULL both become NULL")
        twice = sorted({str(r) for r in results if results.count(r) > 1})
        if twice:
            return kept_original(f"not one-to-one: {', '.join(twice)} come(s) from several values")
        back = {result: key for result, key in zip(results, self.table, strict=True)}

        def undo(value: Any) -> Any:
            found = back.get(None if value is None else text_form(value), _MISSING)
            if found is _MISSING:
                if value is None:
                    return None
                raise ValueError(f"{value!r} is not a value of the map")
            return _typed(str(found), given.kind)

        return invertible("one-to-one: each value maps back", "map", undo, values=back)

    def describe(self) -> str:
        pairs = ", ".join(f"{k} → {v}" for k, v in self.table.items())
        rest = {
            "keep": "other values kept",
            "null": "other values become NULL",
            "reject": "other values reject the row",
        }.get(str(self.other), f"other values become {self.other!r}")
        return f"mapped {pairs}; {rest}"


_MISSING = object()


def _typed(text: str, kind: str | None) -> Any:
    """A map key (its text form) as a value of the source column's ``kind``."""
    if kind == "integer":
        return int(text)
    if kind in ("decimal", "float"):
        return Decimal(text) if kind == "decimal" else float(text)
    if kind == "boolean":
        return text == "true"
    return text


def _int_of(text: str) -> int | None:
    """The int whose ``str`` is exactly ``text`` ('7', '-12'), else None ('07', '+1', '1_0')."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if str(number) == text else None


class NullIf(Transform):
    """``nullif: VALUE`` — VALUE (compared by text form) becomes NULL, e.g. '' or 'N/A'."""

    name = "nullif"

    def validate(self) -> None:
        if isinstance(self.args, dict | list) or self.args is None:
            raise self.fail("nullif takes one scalar value")
        self.key = text_form(self.args)

    def apply(self, value: Any) -> Any:
        return None if value is not None and text_form(value) == self.key else value

    def may_return_null(self) -> bool:
        return True

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        if isinstance(self.args, str):
            return sa.case((dialect.pushdown.same_text(expr, self.args), sa.null()), else_=expr)
        return None  # typed comparisons (1 vs '1.0') differ between engines

    def inversion(self, given: Given) -> Inversion:
        if given.nullable:
            return kept_original(f"NULL and {self.args!r} both become NULL", fixed=True)
        return invertible(
            f"NULL goes back to {self.args!r} (the source has no NULL)",
            "default",
            lambda v: self.args if v is None else v,
            value=self.args,
        )

    def describe(self) -> str:
        return f"{self.args!r} becomes NULL"


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")


class JsonPath(Transform):
    """``json_path: $.customer.address[0].city`` — extract from a JSON value; a path that is
    not there gives NULL; a value that is not JSON is a reject. Objects and arrays come out as
    JSON, scalars as themselves."""

    name = "json_path"

    def validate(self) -> None:
        path = str(self.args or "")
        if not path.startswith("$"):
            raise self.fail("json_path starts with $, e.g. $.customer.name")
        steps: list[str | int] = []
        pos = 1
        while pos < len(path):
            match = _STEP.match(path, pos)
            if match is None:
                raise self.fail(f"cannot read json_path {path!r} at position {pos}")
            name, index, quoted = match.groups()
            steps.append(int(index) if index is not None else (name or quoted or ""))
            pos = match.end()
        self.steps = steps

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value, parse_float=Decimal)
            except ValueError as exc:
                raise RowError(None, f"json_path: not valid JSON ({exc})", value) from None
        for step in self.steps:
            if isinstance(step, int) and isinstance(value, list) and step < len(value):
                value = value[step]
            elif isinstance(step, str) and isinstance(value, dict) and step in value:
                value = value[step]
            else:
                return None
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        return value

    def may_return_null(self) -> bool:
        return True

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def inversion(self, given: Given) -> Inversion:
        return kept_original(f"only the value at {self.args} is kept")

    def describe(self) -> str:
        return f"the value at {self.args} of the JSON"


class Uuid5(Transform):
    """``uuid5: {namespace: UUID, name: TEXT}`` — a deterministic UUID of ``name:value`` (the
    value in its text form): the same on every run and every machine. The ``uuid5`` key
    strategy uses it with the table's name."""

    name = "uuid5"

    def validate(self) -> None:
        if not isinstance(self.args, dict) or set(self.args) != {"namespace", "name"}:
            raise self.fail("uuid5 takes {namespace: UUID, name: TEXT}")
        try:
            self.namespace = uuid.UUID(str(self.args["namespace"]))
        except ValueError:
            raise self.fail(f"namespace {self.args['namespace']!r} is not a UUID") from None
        self.prefix = f"{self.args['name']}:"

    def apply(self, value: Any) -> Any:
        return None if value is None else uuid.uuid5(self.namespace, self.prefix + text_form(value))

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Uuid()

    def inversion(self, given: Given) -> Inversion:
        return one_way("a UUID derived from the value (a hash) cannot be turned back into it")

    def describe(self) -> str:
        return f"replaced by a UUID derived from {self.prefix!r} and the value (uuid5)"
