"""``python: package.module:function`` — a user's own function, called per value."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, one_way


class Python(Transform):
    """``python: package.module:function`` — ``function(value)`` returns the new value; a
    function decorated with ``datamove.transforms.batch`` gets a list of values instead.

    Raising ``ValueError`` (or datamove's ``RowError``) rejects the row with its message; any
    other exception also rejects it, naming the exception. Never pushed down. The function is
    imported when the spec is checked, so a typo fails ``plan``, not the middle of a run.
    """

    name = "python"

    def validate(self) -> None:
        target = str(self.args or "")
        module_name, _, attr = target.partition(":")
        if not module_name or not attr:
            raise self.fail("python takes 'package.module:function'")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise self.fail(f"cannot import {module_name}: {exc}") from None
        function = getattr(module, attr, None)
        if not callable(function):
            raise self.fail(f"{module_name} has no function {attr}")
        self.function: Callable[[Any], Any] = function
        self.batch = bool(getattr(function, "datamove_batch", False))

    def may_return_null(self) -> bool:
        return True  # user code: assume it may

    def apply(self, value: Any) -> Any:
        if self.batch:
            return self.apply_batch([value])[0]
        try:
            return self.function(value)
        except RowError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code is this row's reject
            raise RowError(
                None, f"python {self.args}: {type(exc).__name__}: {exc}", value
            ) from None

    def apply_batch(self, values: list[Any]) -> list[Any]:
        if not self.batch:
            return super().apply_batch(values)
        try:
            out = list(self.function(values))
        except RowError:
            raise
        except Exception as exc:  # noqa: BLE001 - the batch is redone row by row to find it
            raise RowError(None, f"python {self.args}: {type(exc).__name__}: {exc}") from None
        if len(out) != len(values):
            raise RowError(
                None, f"python {self.args}: returned {len(out)} values for {len(values)}"
            )
        return out

    def inversion(self, given: Given) -> Inversion:
        return one_way(f"the Python function {self.args} has no known inverse")

    def describe(self) -> str:
        return f"computed by the Python function {self.args}"


def batch(function: Callable[[list[Any]], list[Any]]) -> Callable[[list[Any]], list[Any]]:
    """Declare a ``python:`` transform function as taking a list of values (a column of one
    batch) and returning a list of the same length: one call per batch, not per row."""
    function.datamove_batch = True  # type: ignore[attr-defined]
    return function
