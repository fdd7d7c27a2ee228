"""Errors of hyperhttp-resilience."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["CircuitOpenError", "DeadlineExceeded", "ResilienceError"]


class ResilienceError(Exception):
    """Base of the errors raised by hyperhttp-resilience."""


class DeadlineExceeded(ResilienceError, TimeoutError):
    """A retry policy's ``deadline`` passed: the attempt in flight was stopped, or none began.

    A ``TimeoutError``, so code catching timeouts catches it; raised by the
    retry loop only (``RetryPolicy.call`` and ``run``), never by the operation.

    Attributes:
        deadline: the policy's deadline, in seconds from the first attempt.

    """

    def __init__(self, deadline: float) -> None:
        super().__init__(f"retry deadline ({deadline:g} s) passed")
        self.deadline = deadline

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.deadline,))


class CircuitOpenError(ResilienceError):
    """The circuit for ``key`` is open: the call was refused without being made.

    Attributes:
        key: the circuit's key (the umbrella uses the origin).
        retry_at: clock time (the breaker's clock) of the next trial call.
        retry_after: seconds from when this was raised until then.

    """

    def __init__(self, key: Hashable, retry_at: float, retry_after: float) -> None:
        super().__init__(
            f"circuit open for {key!r}: no call made; next trial in {retry_after:.3g} s"
        )
        self.key = key
        self.retry_at = retry_at
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.key, self.retry_at, self.retry_after))
