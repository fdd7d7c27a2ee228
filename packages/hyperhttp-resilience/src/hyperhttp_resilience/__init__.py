"""hyperhttp-resilience: retries, circuit breaker, hedging, rate and adaptive concurrency limits."""

from __future__ import annotations

from .__about__ import __version__
from ._adaptive import AdaptiveLimiter, Outcome, Slot
from ._backoff import decorrelated_jitter, parse_retry_after
from ._breaker import DEFAULT_FAILURE_STATUSES, CircuitBreaker, CircuitState, Permit
from ._errors import CircuitOpenError, DeadlineExceeded, ResilienceError
from ._hedging import Hedging
from ._latency import LatencyTracker
from ._rate import RateBuckets, RateLimiter
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
    "AdaptiveLimiter",
    "Attempt",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "DeadlineExceeded",
    "Decision",
    "ErrorKind",
    "Hedging",
    "LatencyTracker",
    "Outcome",
    "Permit",
    "RateBuckets",
    "RateLimiter",
    "ResilienceError",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "Slot",
    "__version__",
    "decorrelated_jitter",
    "default_classify",
    "default_retry_after_of",
    "default_status_of",
    "parse_retry_after",
]
