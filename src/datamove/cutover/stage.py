"""What every piece of the cutover works on, built once by ``Migration`` for a command."""

from __future__ import annotations

from collections.abc import Callable

from datamove.events import EventHandler
from datamove.plan.compiled import CompiledPlan
from datamove.spec.models import MigrationSpec
from datamove.state.store import StateStore
from datamove.verify.runner import VerifyResult


class Stage:
    """The compiled mapping (and its plan), the spec, the evidence store, where events go, and
    the full verify (run through ``Migration`` so it is recorded like any other)."""

    def __init__(
        self,
        compiled: CompiledPlan,
        spec: MigrationSpec,
        state: StateStore,
        emit: EventHandler,
        verify: Callable[[], VerifyResult],
    ) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.spec = spec
        self.state = state
        self.emit = emit
        self.verify = verify
