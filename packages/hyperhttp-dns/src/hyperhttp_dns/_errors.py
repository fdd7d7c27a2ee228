"""Errors of hyperhttp-dns: every one is also an :class:`OSError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cache import Address

__all__ = ["ConnectError", "DNSError", "ResolveError"]


class DNSError(OSError):
    """Base of the errors raised by hyperhttp-dns."""


class ResolveError(DNSError):
    """A host name could not be resolved.

    Attributes:
        host: the name that failed.
        message: what the backend said.
        errno: the backend's error code (``socket.EAI_*`` for getaddrinfo), or None.

    """

    def __init__(self, host: str, message: str, errno: int | None = None) -> None:
        text = f"cannot resolve {host!r}: {message}"
        if errno is None:
            super().__init__(text)
        else:
            super().__init__(errno, text)
        self.host = host
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.host, self.message, self.errno))


class ConnectError(DNSError):
    """Every Happy Eyeballs attempt failed.

    Attributes:
        attempts: each address tried, in the order tried, with its error.
        errno: the error code all attempts shared, or None.

    """

    def __init__(self, attempts: list[tuple[Address, BaseException]]) -> None:
        details = "; ".join(f"{address}: {error!r}" for address, error in attempts)
        codes = {getattr(error, "errno", None) for _, error in attempts}
        errno = codes.pop() if len(codes) == 1 else None
        text = f"all {len(attempts)} connection attempts failed: {details}"
        if errno is None:
            super().__init__(text)
        else:
            super().__init__(errno, text)
        self.attempts = attempts

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.attempts,))
