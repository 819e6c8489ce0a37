"""The handler registry: `@job_handler("type", payload=Serializer, ...)` on module functions."""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import autodiscover_modules
from rest_framework import serializers

from jobs.context import JobContext
from jobs.retry import DEFAULT_POLICY, RetryPolicy

Handler = Callable[[JobContext], Any]


@dataclass(frozen=True)
class HandlerSpec:
    """A registered job type: its function, payload schema and execution policy."""

    type: str
    func: Handler
    payload: builtins.type[serializers.Serializer] | None
    max_attempts: int
    timeout: float
    retry: RetryPolicy
    # Recurring upkeep (a schedule's job), told apart from the product's work in the console.
    housekeeping: bool = False
    # Called by jobs.services.job_retry with the ids it retried, inside its transaction, so
    # records derived from the job (a backfill month) follow the retry at once.
    on_retry: Callable[[list[Any]], Any] | None = None
    # What a job works on, for the console: payload -> (admin URL, label), or None.
    subject: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = None
    # What a completed job made, for the console: result -> (admin URL, label), or None.
    produced: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = None
    # Payload fields readers without jobs.operate_job never see (an address, a storage path),
    # and that are never echoed into audit rows or forms.
    sensitive: tuple[str, ...] = ()

    def validate(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the validated payload or raise ValidationError naming the fields."""
        if not isinstance(payload, Mapping):
            raise ValidationError({"payload": "The payload must be a JSON object."})
        if self.payload is None:
            return dict(payload)
        serializer = self.payload(data=dict(payload))
        if not serializer.is_valid():
            raise ValidationError(
                {
                    f"payload.{field}": [str(m) for m in _flatten(msgs)]
                    for field, msgs in serializer.errors.items()
                }
            )
        return dict(serializer.validated_data)


def _flatten(messages: Any) -> list[Any]:
    if isinstance(messages, dict):
        return [f"{k}: {m}" for k, v in messages.items() for m in _flatten(v)]
    if isinstance(messages, list):
        return [m for item in messages for m in _flatten(item)]
    return [messages]


_registry: dict[str, HandlerSpec] = {}


def job_handler(
    type: str,
    *,
    payload: type[serializers.Serializer] | None = None,
    max_attempts: int = 3,
    timeout: float | None = None,
    retry: RetryPolicy = DEFAULT_POLICY,
    housekeeping: bool = False,
    on_retry: Callable[[list[Any]], Any] | None = None,
    subject: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = None,
    produced: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = None,
    sensitive: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of job `type`."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if isinstance(sensitive, str):
        raise TypeError("sensitive must be a tuple of field names, not a string")
    if payload is not None:
        unknown = sorted(set(sensitive) - set(payload().fields))
        if unknown:
            raise ValueError(f"sensitive names fields {unknown} that {payload.__name__} lacks")

    def register(func: Handler) -> Handler:
        existing = _registry.get(type)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"job type {type!r} is already handled by {existing.func!r}")
        _registry[type] = HandlerSpec(
            type=type,
            func=func,
            payload=payload,
            max_attempts=max_attempts,
            timeout=timeout if timeout is not None else settings.JOBS_DEFAULT_TIMEOUT,
            retry=retry,
            housekeeping=housekeeping,
            on_retry=on_retry,
            subject=subject,
            produced=produced,
            sensitive=tuple(sensitive),
        )
        return func

    return register


MASK = "•••• (hidden: needs jobs.operate_job)"


def payload_for_reader(
    spec: HandlerSpec | None, payload: Mapping[str, Any] | None, can_operate: bool
) -> dict[str, Any]:
    """Return the payload a reader may see: the spec's sensitive fields masked unless operating."""
    shown = dict(payload or {})
    if can_operate or spec is None:
        return shown
    for name in spec.sensitive:
        if name in shown:
            shown[name] = MASK
    return shown


def get_handler(type: str) -> HandlerSpec:
    """Return the spec of job `type`, or raise ValidationError for an unknown type."""
    try:
        return _registry[type]
    except KeyError:
        raise ValidationError({"type": f"Unknown job type {type!r}."}) from None


def find_handler(type: str) -> HandlerSpec | None:
    """Return the spec of job `type`, or None for a type no longer registered."""
    return _registry.get(type)


def registered_types() -> list[str]:
    return sorted(_registry)


def housekeeping_types() -> list[str]:
    """Return the job types registered with `housekeeping=True`, sorted."""
    return sorted(t for t, spec in _registry.items() if spec.housekeeping)


def retry_delay(type: str, attempt: int) -> float:
    """Return the delay before retrying failed attempt `attempt` of a job of `type`."""
    spec = _registry.get(type)
    return (spec.retry if spec is not None else DEFAULT_POLICY).delay(attempt)


def autodiscover() -> None:
    """Import every app's `handlers` module and the modules in JOBS_EXTRA_HANDLER_MODULES."""
    autodiscover_modules("handlers")
    for module in settings.JOBS_EXTRA_HANDLER_MODULES:
        importlib.import_module(module)
