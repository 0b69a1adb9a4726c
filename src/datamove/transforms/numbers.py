"""``round``: exact decimal rounding with a declared mode, never binary floats."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datamove.errors import RowError
from datamove.transforms.base import Transform
from datamove.transforms.inversion import Given, Inversion, kept_original

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from datamove.dialects.base import Dialect

_WIDE = decimal.Context(prec=100)  # quantize never runs out of digits below 10**82

MODES = {
    "half_even": decimal.ROUND_HALF_EVEN,  # banker's rounding: ties to the even digit
    "half_up": decimal.ROUND_HALF_UP,  # ties away from zero (-2.5 → -3)
    "down": decimal.ROUND_DOWN,  # toward zero (truncate)
    "up": decimal.ROUND_UP,  # away from zero
}


class Round(Transform):
    """``round: {places: N, mode: half_even | half_up | down | up}`` (default half_even).

    Works on exact decimals: a float is first taken at its shortest exact text (0.1 is 0.1,
    not 0.1000000000000000055…). Pushed down only from exact numeric columns, and only for
    modes the engine's SQL computes exactly.
    """

    name = "round"

    def validate(self) -> None:
        args = self.args if isinstance(self.args, dict) else {"places": self.args}
        places, mode = args.get("places"), args.get("mode", "half_even")
        if not isinstance(places, int) or isinstance(places, bool) or not -18 <= places <= 18:
            raise self.fail("round needs places: an integer from -18 to 18")
        if mode not in MODES or set(args) - {"places", "mode"}:
            raise self.fail(f"round takes places and mode ({', '.join(MODES)})")
        self.places, self.mode = places, str(mode)
        self.quantum = Decimal(1).scaleb(-places)
        # _WIDE with this mode: ``context.quantize(d, q)`` is ``d.quantize(q, rounding=mode,
        # context=_WIDE)`` without parsing keyword arguments per value.
        self.context = decimal.Context(prec=_WIDE.prec, rounding=MODES[self.mode])

    def apply(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise RowError(None, f"round: {type(value).__name__} is not a number", value)
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except decimal.InvalidOperation:
            raise RowError(None, f"round: {value!r} is not a number", value) from None
        if not number.is_finite():
            raise RowError(None, f"round: {value!r} is not a finite number", value)
        return number.quantize(self.quantum, rounding=MODES[self.mode], context=_WIDE)

    def apply_batch(self, values: list[Any]) -> list[Any]:
        """``apply`` on each value; finite ``Decimal`` values (what drivers return for exact
        numeric columns) are quantized directly, everything else goes through ``apply``. Any
        failure redoes the batch with ``apply``, so errors are exactly its errors."""
        quantize, quantum, slow, exact = self.context.quantize, self.quantum, self.apply, Decimal
        try:
            return [
                quantize(v, quantum) if type(v) is exact and v.is_finite() else slow(v)
                for v in values
            ]
        except Exception:  # noqa: BLE001 - apply on each value raises exactly what it raises
            return super().apply_batch(values)

    def output_type(self) -> sa.types.TypeEngine[Any]:
        return sa.Numeric(38, max(self.places, 0))

    def to_sql(self, expr: ColumnElement[Any], dialect: Dialect) -> ColumnElement[Any] | None:
        if isinstance(expr.type, sa.Float) or not isinstance(expr.type, sa.Numeric | sa.Integer):
            return None  # floats round on binary values in SQL; Python rounds their text
        return dialect.pushdown.round(expr, self.places, self.mode)

    def inversion(self, given: Given) -> Inversion:
        return kept_original(f"digits past {self.places} decimal place(s) are lost", fixed=True)

    def describe(self) -> str:
        how = {
            "half_even": "half to even",
            "half_up": "half away from zero",
            "down": "toward zero",
            "up": "away from zero",
        }[self.mode]
        return f"rounded to {self.places} decimal place(s), {how}"
