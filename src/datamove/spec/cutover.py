"""The spec's ``cutover:`` section: the runbook as data (``datamove cutover SPEC``).

Gates (measured and recorded before anything changes), the user's own steps between the
built-in ones, the read-path flag the flip sets, and the watch: after the flip, the rollback
triggers are evaluated every ``watch.every`` for ``watch.for`` (``cutover.watch``); one that
fires starts the rollback. ``cutover.runbook`` runs the steps.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datamove.spec.durations import parse_duration


class CutoverMode(StrEnum):
    """How reads and writes move from the old database to the new one."""

    read_only_window = "read_only_window"
    """The source is fenced (writes refused) for the final catch-up and the flip."""
    dual_write = "dual_write"
    """The application writes to both databases (``datamove.dualwrite``); each cutover moves
    the read-path flag one stage on, nothing is fenced (``cutover.dualstage``)."""


BUILTIN_STEPS: tuple[str, ...] = (
    "gates",
    "fence",
    "drain",
    "verify",
    "invariants",
    "sequences",
    "validate",
    "reverse-capture",
    "flip",
    "unfence-target",
)
"""The runbook's own steps, in the order they run (``cutover.runbook``)."""

BuiltinStep = Literal[
    "gates",
    "fence",
    "drain",
    "verify",
    "invariants",
    "sequences",
    "validate",
    "reverse-capture",
    "flip",
    "unfence-target",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _seconds(value: Any) -> Any:
    return None if value is None else parse_duration(value)


class Gates(_Model):
    """What must hold before anything changes; each is measured now and recorded as a check.
    A gate left out is not evaluated."""

    max_lag: float | None = Field(
        default=None, description="The oldest change not applied by sync is at most this old."
    )
    verified_within: float | None = Field(
        default=None,
        description="A verify with every check passed, on the current mapping, at most this old.",
    )
    invariants: Literal["pass"] | None = Field(
        default=None, description="pass: the spec's invariants are run now and must pass."
    )
    rehearsed: bool = Field(
        default=False, description="A recorded rehearsal of this runbook on this mapping."
    )

    @field_validator("max_lag", "verified_within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


class UserStep(_Model):
    """One of the user's steps: a shell command or a SQL statement on one side, next to a
    built-in step (default: before ``flip``)."""

    name: str = Field(min_length=1, max_length=200)
    shell: str | None = Field(default=None, description="A command run by /bin/sh.")
    sql: str | None = Field(default=None, description="A statement run on the side `on` names.")
    on: Literal["source", "target"] | None = None
    undo: str | None = Field(
        default=None,
        description="What reverses it (same kind and side): the rollback runs it.",
    )
    before: BuiltinStep | None = None
    after: BuiltinStep | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = [k for k in ("shell", "sql") if data.get(k) is not None]
            if len(kinds) != 1:
                known = {"name", "on", "undo", "before", "after", "shell", "sql"}
                other = sorted(str(k) for k in data if k not in known)
                found = f" (found: {', '.join(other)})" if other else ""
                raise ValueError(
                    "a step needs exactly one kind: `shell: COMMAND` or `sql: STATEMENT` "
                    f"with `on: source|target`{found}"
                )
        return data

    @model_validator(mode="after")
    def _placed(self) -> UserStep:
        if self.sql is not None and self.on is None:
            raise ValueError(f"step {self.name!r}: a sql step needs `on: source` or `on: target`")
        if self.shell is not None and self.on is not None:
            raise ValueError(f"step {self.name!r}: `on:` is for sql steps (a shell step runs here)")
        if self.before and self.after:
            raise ValueError(f"step {self.name!r}: give `before:` or `after:`, not both")
        if self.before == "gates":
            raise ValueError(f"step {self.name!r}: nothing runs before the gates")
        return self

    @property
    def kind(self) -> str:
        return "shell" if self.shell is not None else "sql"


class FlagSpec(_Model):
    """The read-path flag the ``flip`` step sets (``datamove.flags``)."""

    name: str = Field(default="read_path", min_length=1, max_length=255)
    value_old: str = Field(default="legacy", description="What the application reads before.")
    value_new: str = Field(default="platform", description="What the flip sets it to.")


class WatchSpec(_Model):
    """After the flip, how long and how often the rollback triggers are evaluated
    (``cutover.watch``; no triggers: no watch)."""

    for_: float = Field(default=1800.0, alias="for")
    every: float = 30.0

    @field_validator("for_", "every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


class Trigger(_Model):
    """A condition that starts the rollback during the watch (``cutover.watch``): one of
    ``failed_check``, ``query`` with ``on`` and ``above``, or ``lag_above``."""

    failed_check: Literal["any"] | None = None
    query: str | None = None
    on: Literal["source", "target"] | None = None
    above: float | None = None
    lag_above: float | None = None
    on_error: Literal["rollback", "record"] = Field(
        default="rollback",
        description="When the trigger cannot be evaluated (its query fails): roll back, or "
        "only record the failure and go on watching.",
    )

    @field_validator("lag_above", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)

    @model_validator(mode="after")
    def _one_condition(self) -> Trigger:
        given = [k for k in ("failed_check", "query", "lag_above") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a trigger needs exactly one of: `failed_check: any`, `query:` (with `on:` and "
                "`above:`), `lag_above: DURATION`"
            )
        if self.query is not None and (self.above is None or self.on is None):
            raise ValueError(
                "a query trigger needs a threshold and a side: `above: NUMBER` and "
                "`on: source|target`"
            )
        if self.query is None and (self.above is not None or self.on is not None):
            raise ValueError("`above:` and `on:` belong to a `query:` trigger")
        return self


class RollbackSpec(_Model):
    """How the cutover is undone: ``reverse`` captures the target's changes from the switch
    on, for ``datamove rollback`` (``cutover.rollback``), which a trigger starts by itself."""

    reverse: bool = False
    triggers: list[Trigger] = Field(default_factory=list)

    @model_validator(mode="after")
    def _way_back(self) -> RollbackSpec:
        if self.triggers and not self.reverse:
            raise ValueError(
                "triggers start the rollback, which replays the target's changes: set "
                "`reverse: true` (or remove the triggers)"
            )
        return self


class CutoverSpec(_Model):
    """The runbook: mode, gates, the user's steps, the flag, the watch and the rollback."""

    mode: CutoverMode = CutoverMode.read_only_window
    gates: Gates = Field(default_factory=Gates)
    steps: list[UserStep] = Field(default_factory=list)
    flag: FlagSpec = Field(default_factory=FlagSpec)
    watch: WatchSpec = Field(default_factory=WatchSpec)
    rollback: RollbackSpec = Field(default_factory=RollbackSpec)

    @model_validator(mode="after")
    def _unique_names(self) -> CutoverSpec:
        seen: set[str] = set(BUILTIN_STEPS)
        for step in self.steps:
            if step.name in seen:
                what = "a built-in step" if step.name in BUILTIN_STEPS else "another step"
                raise ValueError(f"step name {step.name!r} is taken by {what}: rename it")
            seen.add(step.name)
        return self
