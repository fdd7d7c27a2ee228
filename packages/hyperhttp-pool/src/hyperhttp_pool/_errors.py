"""The pool's errors."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PoolClosed", "PoolError", "PoolStats", "PoolTimeout"]


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Counts at one moment, for one key or the whole pool.

    ``idle``, ``in_use`` and ``connecting`` count connections (an HTTP/2
    connection carrying any lease is in use); ``leases`` counts the leases
    held, ``waiters`` the acquires waiting.
    """

    idle: int = 0
    in_use: int = 0
    connecting: int = 0
    leases: int = 0
    waiters: int = 0

    @property
    def connections(self) -> int:
        """Every connection the pool holds: idle, in use and connecting."""
        return self.idle + self.in_use + self.connecting


class PoolError(Exception):
    """Base of the pool's errors."""


class PoolTimeout(PoolError, TimeoutError):
    """No connection became available in time; ``stats`` is the pool at that moment."""

    def __init__(self, message: str, stats: PoolStats) -> None:
        super().__init__(message)
        self.stats = stats


class PoolClosed(PoolError):
    """The pool is closed: it was used after ``aclose()``, or closed while waiting."""
