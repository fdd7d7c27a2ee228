"""What the retry loop tells an ``on_retry`` callback (``RetryPolicy.run``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryEvent"]


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A retry about to happen: how the attempt before it ended, and the wait first."""

    attempt: int  #: the attempt that just ended, 1 for the first
    delay: float  #: seconds waited before the next attempt
    error: BaseException | None  #: what it raised, or None
    status: int | None  #: the retryable status it returned, or None
