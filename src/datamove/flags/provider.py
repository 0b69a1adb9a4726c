"""``FlagProvider``: the read-path flags as an OpenFeature provider, on a ``FlagClient``.

    from openfeature import api
    api.set_provider(FlagProvider(FlagClient(url, "shop", poll_interval=5)))
    client = api.get_client()
    path = client.get_string_value("read_path", "legacy", EvaluationContext(tenant_id))

The evaluation context's targeting key is the tenant (or phase): its own value overrides the
flag's. Each resolution reads only the client's cache, and its reason says how it was found:

- ``TARGETING_MATCH``: the targeting key's own value; ``STATIC``: the flag's value;
- ``DEFAULT``: the flag is not set (the caller's default, no error: the state before a flip);
- ``STALE``: the store could not be read at the last poll; the last known value (or, if the
  flag was not set then, the caller's default) is served;
- ``ERROR`` with ``GENERAL``: the store has never answered, the caller's default is served;
  ``ERROR`` with ``TYPE_MISMATCH``: the value is not of the type asked for.

Events: ``PROVIDER_CONFIGURATION_CHANGED`` (with the flags changed) when a poll reads new
values, ``PROVIDER_STALE`` / ``PROVIDER_ERROR`` when the store stops answering (with and
without values read before), ``PROVIDER_READY`` when it answers again. ``shutdown`` closes
the client.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from datamove.flags.client import FlagClient, Poll

T = TypeVar("T")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


class FlagProvider(AbstractProvider):
    """An OpenFeature provider reading one migration's flags through ``client``."""

    def __init__(self, client: FlagClient) -> None:
        super().__init__()
        self.client = client
        self._emitted = "ready"
        """What the last event told the SDK: ready, stale or error."""
        self._lock = threading.Lock()
        client.on_poll(self._polled)

    def get_metadata(self) -> Metadata:
        return Metadata(name="datamove")

    def shutdown(self) -> None:
        self.client.close()

    # -- resolving -------------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, (bool,))

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, (str,))

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, (int,))

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        found = self._resolve(flag_key, default_value, evaluation_context, (float, int))
        found.value = float(found.value)  # JSON writes 2.0 as 2
        return found

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        return self._resolve(flag_key, default_value, evaluation_context, (dict, list))

    def _resolve(
        self,
        key: str,
        default: T,
        context: EvaluationContext | None,
        kinds: tuple[type, ...],
    ) -> FlagResolutionDetails[T]:
        found = self.client.resolve(key, context.targeting_key if context else None)
        if not found.loaded:
            message = f"the flag store {self.client.url} has not answered: {found.error}"
            return FlagResolutionDetails(
                default, error_code=ErrorCode.GENERAL, error_message=message, reason=Reason.ERROR
            )
        if found.value is None:
            return FlagResolutionDetails(
                default, reason=Reason.DEFAULT if found.fresh else Reason.STALE
            )
        if not isinstance(found.value, kinds) or (
            bool not in kinds and isinstance(found.value, bool)
        ):
            return FlagResolutionDetails(
                default,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"flag {key!r} is {found.value!r}, not {kinds[0].__name__}",
                reason=Reason.ERROR,
            )
        value: Any = found.value
        if not found.fresh:
            reason = Reason.STALE
        elif found.matched == "targeting_key":
            reason = Reason.TARGETING_MATCH
        else:
            reason = Reason.STATIC
        metadata = {"matched": found.matched or ""}
        return FlagResolutionDetails(value, reason=reason, flag_metadata=metadata)

    # -- events ----------------------------------------------------------------------------

    def _polled(self, poll: Poll) -> None:
        """Tell the SDK what a poll found (on the poller's thread)."""
        with self._lock:
            if not poll.ok:
                state = "stale" if self.client.loaded else "error"
                if self._emitted == "ready":
                    details = ProviderEventDetails(message=poll.error)
                    if state == "stale":
                        self.emit_provider_stale(details)
                    else:
                        details.error_code = ErrorCode.GENERAL
                        self.emit_provider_error(details)
                    self._emitted = state
                return
            if self._emitted != "ready":
                self.emit_provider_ready(ProviderEventDetails(message="the flag store answers"))
                self._emitted = "ready"
            if poll.changed:
                self.emit_provider_configuration_changed(
                    ProviderEventDetails(flags_changed=sorted(poll.changed))
                )
