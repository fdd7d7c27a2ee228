"""The error boundary: what the OS, TLS and the components raise, mapped to hyperhttp's errors here.

Strategy
--------
One table, :func:`translate`, for every phase that can fail below the
client's layers:

- ``"connect"``: resolving, connecting, TLS, a proxy's tunnel, HTTP/2's
  SETTINGS. ``TimeoutError`` becomes ``ConnectTimeout``; a rejected
  certificate, ``OSError`` or ``ssl.SSLError`` becomes ``ConnectError``.
- ``"acquire"``: hyperhttp-pool's ``PoolTimeout`` becomes ours; a closed
  pool is a closed client (``RuntimeError``).
- ``"resilience"``: hyperhttp-resilience's ``CircuitOpenError`` becomes ours,
  its ``DeadlineExceeded`` a ``TimeoutException``.
- ``"total"``: the deadline of a whole ``send`` (``asyncio.timeout``) becomes
  ``ReadTimeout``.
- ``"send"``: nothing to map (the connections raise hyperhttp's errors).

In every phase an ``HTTPError`` passes through with the request attached
when it has none; anything else the phase does not name (cancellation, a
hook's or a tracer's own error, a bug) passes unchanged. A mapped error is
raised *from* the original, which stays its ``__cause__``.

Opening a connection is wrapped in the context manager :class:`boundary`.
On the per-request hot path (acquire, send, total) the same table is called
from an ``except`` clause instead: a context manager's enter and exit cost
about 0.2 µs a request there, a ``try`` nothing.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Literal

import hyperhttp_pool
import hyperhttp_resilience

from ._exceptions import (
    CircuitOpenError,
    ConnectError,
    ConnectTimeout,
    HTTPError,
    PoolTimeout,
    ReadTimeout,
    TimeoutException,
)

if TYPE_CHECKING:
    from types import TracebackType

    from ._models import Request

__all__ = ["Phase", "boundary", "translate"]

Phase = Literal["connect", "acquire", "resilience", "total", "send"]


def translate(
    exc: BaseException,
    phase: Phase,
    *,
    target: str = "",
    timeout: float | None = None,
    request: Request | None = None,
) -> BaseException:
    """Return the error to raise for ``exc``, raised in ``phase`` (see the module docstring).

    ``target``: what was being reached (``host:port``, with the proxy when
    there is one); ``timeout``: the phase's, for the message.
    """
    if isinstance(exc, HTTPError):
        if exc.request is None:
            exc.request = request
        return exc
    mapped = _mapped(exc, phase, target, timeout)
    if mapped is None:
        return exc
    if isinstance(mapped, HTTPError):
        mapped.request = request
    mapped.__cause__ = exc
    mapped.__suppress_context__ = True
    return mapped


def _mapped(
    exc: BaseException, phase: Phase, target: str, timeout: float | None
) -> BaseException | None:
    seconds = f"{timeout:g} s" if timeout is not None else "its timeout"
    if phase == "connect":
        if isinstance(exc, TimeoutError):
            return ConnectTimeout(f"no connection to {target} within {seconds}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ConnectError(f"TLS certificate of {target} rejected: {exc}")
        if isinstance(exc, OSError | ssl.SSLError):
            return ConnectError(f"cannot connect to {target}: {exc}")
    elif phase == "acquire":
        if isinstance(exc, hyperhttp_pool.PoolTimeout):
            return PoolTimeout(f"no connection for {target} within {seconds} ({exc.stats})")
        if isinstance(exc, hyperhttp_pool.PoolClosed):
            return RuntimeError("the client is closed")
    elif phase == "resilience":
        if isinstance(exc, hyperhttp_resilience.CircuitOpenError):
            return CircuitOpenError(exc.key, exc.retry_at, exc.retry_after)
        if isinstance(exc, hyperhttp_resilience.DeadlineExceeded):
            return TimeoutException(f"the retry policy's deadline ({exc.deadline:g} s) passed")
    elif phase == "total" and isinstance(exc, TimeoutError):
        return ReadTimeout(f"the request did not complete within the total timeout ({seconds})")
    return None


class boundary:
    """``with boundary("connect", target=..., timeout=...)``: raise what :func:`translate` maps."""

    __slots__ = ("phase", "request", "target", "timeout")

    def __init__(
        self,
        phase: Phase,
        *,
        target: str = "",
        timeout: float | None = None,
        request: Request | None = None,
    ) -> None:
        self.phase: Phase = phase
        self.target = target
        self.timeout = timeout
        self.request = request

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        mapped = translate(
            exc, self.phase, target=self.target, timeout=self.timeout, request=self.request
        )
        if mapped is not exc:
            raise mapped
