"""The spec's ``reconcile:`` and ``notify:`` sections (``datamove reconcile SPEC``).

``reconcile:`` says how often rounds run and how a difference on a moving target is judged:
re-checked after sync applies what the changelog shows, reported only if it survives
``persist_for`` re-checks made with the sync lag under ``max_lag`` (``reconcile.moving``);
after one full pass, rounds re-check only the keys the changelog shows touched since the last
green round, with a full pass every ``full_every`` rounds (``reconcile.rounds``).
``notify:`` is the webhook a new failure calls (``reconcile.notify``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datamove.spec.durations import parse_duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReconcileSpec(_Model):
    """Scheduled reconciliation (``datamove reconcile``) and verification of a moving target."""

    every: float = Field(default=900.0, gt=0, description="Time between rounds, e.g. 15m.")
    for_: float | None = Field(
        default=None, alias="for", description="How long to keep going (none: until Ctrl-C)."
    )
    persist_for: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Re-checks a difference must survive (sync lag under max_lag) to be reported.",
    )
    max_lag: float = Field(
        default=5.0, ge=0, description="The sync lag a re-check waits for, e.g. 5s."
    )
    settle_timeout: float = Field(
        default=60.0,
        gt=0,
        description="How long a re-check waits for sync; past it the keys stay deferred.",
    )
    full_every: int = Field(
        default=12,
        ge=1,
        description="A full pass every N rounds (1: every round is full); rounds between "
        "re-check only the keys changed since the last green round.",
    )

    @field_validator("every", "for_", "max_lag", "settle_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class NotifySpec(_Model):
    """The webhook a new failure calls: a JSON POST (payload in README, no secrets in it),
    retried with backoff on a thread of its own, so it never holds up a round."""

    url: str = Field(description="http(s) URL the JSON payload is POSTed to.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds per attempt.")
    retries: int = Field(default=3, ge=0, le=10, description="Attempts after the first.")
    backoff: float = Field(
        default=1.0, ge=0, description="Wait before the first retry; doubled each time."
    )

    @field_validator("timeout", "backoff", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("notify.url must be an http:// or https:// URL")
        return value
