"""``python: package.module:function`` — a user's own function, called per value."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from datamove.errors import RowError
from datamove.transforms.base import Transform


class Python(Transform):
    """``python: package.module:function`` — ``function(value)`` returns the new value.

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

    def may_return_null(self) -> bool:
        return True  # user code: assume it may

    def apply(self, value: Any) -> Any:
        try:
            return self.function(value)
        except RowError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code is this row's reject
            raise RowError(
                None, f"python {self.args}: {type(exc).__name__}: {exc}", value
            ) from None

    def describe(self) -> str:
        return f"computed by the Python function {self.args}"
