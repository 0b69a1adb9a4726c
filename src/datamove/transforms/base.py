"""The transform interface that every column transform plugs into.

A transform has a name (its key in the spec), validated arguments, a strict Python ``apply``
(a value it cannot handle raises ``RowError``, which becomes a reject — never a silent NULL),
and an optional SQL pushdown: an expression the source database can compute instead.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa

from datamove.errors import SpecError
from datamove.transforms.inversion import Given, Inversion

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect

REGISTRY: dict[str, type[Transform]] = {}


class Transform(ABC):
    """One step of a column's transform chain."""

    name: ClassVar[str]
    SQL_ONLY: ClassVar[bool] = False
    """Computed only by the source's SQL (its ``apply`` passes the computed value through)."""
    columns: Sequence[str] = ()
    """Source columns the step reads by name (``sql``, ``concat``); the plan checks them."""

    def __init__(self, args: Any, spec_path: str) -> None:
        self.args = args
        self.spec_path = spec_path
        self.validate()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            REGISTRY[cls.name] = cls

    def validate(self) -> None:  # noqa: B027 - optional hook; most transforms take any args
        """Check ``self.args``; raise ``SpecError`` naming ``self.spec_path`` when wrong."""

    @abstractmethod
    def apply(self, value: Any) -> Any:
        """Transform one value; raise ``RowError`` when the value cannot be transformed."""

    def apply_batch(self, values: list[Any]) -> list[Any]:
        """Transform a column of values (the same as ``apply`` on each, unless overridden)."""
        apply = self.apply
        return [apply(v) for v in values]

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        """The same transform as a SQL expression over ``expr``, or None when not expressible.

        Pushdown must give exactly the values ``apply`` would give, or reject where it would
        (an error of the whole statement is fine: the chunk then falls back to Python).
        """
        return None

    def may_return_null(self) -> bool:
        """Whether a non-NULL value can come out as NULL (the created column must allow it)."""
        return False

    def nullable_after(self, nullable: bool) -> bool:
        """Whether the column can hold NULL after this step, given whether it could before."""
        return nullable or self.may_return_null()

    def output_type(self) -> sa.types.TypeEngine[Any] | None:
        """The type of the values this transform produces, when it decides the target column's
        type (None: the column keeps its source type)."""
        return None

    @abstractmethod
    def inversion(self, given: Given) -> Inversion:
        """How a value this step made goes back to the one it was handed, for a rollback
        (``given``: what is known of the values handed to it); see ``transforms.inversion``."""

    @abstractmethod
    def describe(self) -> str:
        """What the transform does, in plain words, for the plan and the mapping document."""

    def fingerprint(self) -> str:
        """Stable text identifying name and arguments (part of the mapping hash)."""
        return f"{self.name}:{self.args!r}"

    def fail(self, message: str) -> SpecError:
        return SpecError(message, spec_path=self.spec_path)


def build(name: str, args: Any, spec_path: str) -> Transform:
    """Instantiate the transform ``name`` with ``args`` (a step of a column's chain in the
    spec, at ``spec_path``); unknown names suggest the closest one."""
    cls = REGISTRY.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(REGISTRY))}"
        raise SpecError(f"unknown transform '{name}'", spec_path=spec_path, hint=hint)
    return cls(args, spec_path)
