"""The spec's ``signoff:`` section: what the sign-off checklist asks of reconciliation.

``reconcile_window`` is how long reconciliation must have run after go-live (the seed asks for
24–72 h): the checklist's last line is ticked only when recorded ``reconcile`` rounds span it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datamove.spec.durations import parse_duration

DEFAULT_WINDOW = 72 * 3600.0
"""The seed's upper bound: 72 hours of reconciliation after go-live."""


class SignoffSpec(BaseModel):
    """``signoff: {reconcile_window: 72h}``."""

    model_config = ConfigDict(extra="forbid")

    reconcile_window: float = Field(
        default=DEFAULT_WINDOW,
        description="How long reconcile rounds must span after go-live (e.g. 24h, 72h).",
    )

    @field_validator("reconcile_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("must be a positive duration (e.g. 24h)")
        return seconds
