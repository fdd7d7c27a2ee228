"""hyperhttp-resilience: retry policy and circuit breaker around any async callable."""

from __future__ import annotations

from .__about__ import __version__
from ._backoff import decorrelated_jitter, parse_retry_after
from ._breaker import DEFAULT_FAILURE_STATUSES, CircuitBreaker, CircuitState, Permit
from ._errors import CircuitOpenError, DeadlineExceeded, ResilienceError
from ._retry import (
    DEFAULT_RETRY_AFTER_STATUSES,
    DEFAULT_RETRY_METHODS,
    DEFAULT_RETRY_STATUSES,
    Attempt,
    Decision,
    ErrorKind,
    RetryBudget,
    RetryEvent,
    RetryPolicy,
    default_classify,
    default_retry_after_of,
    default_status_of,
)

__all__ = [
    "DEFAULT_FAILURE_STATUSES",
    "DEFAULT_RETRY_AFTER_STATUSES",
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "Attempt",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "DeadlineExceeded",
    "Decision",
    "ErrorKind",
    "Permit",
    "ResilienceError",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "__version__",
    "decorrelated_jitter",
    "default_classify",
    "default_retry_after_of",
    "default_status_of",
    "parse_retry_after",
]
