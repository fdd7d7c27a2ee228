"""Errors of hyperhttp-resilience."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["CircuitOpenError", "ResilienceError"]


class ResilienceError(Exception):
    """Base of the errors raised by hyperhttp-resilience."""


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
