"""Hedged requests: the client's ``hedging=`` around each attempt's response head.

Strategy
--------
``Client(hedging=Hedging(...))`` (or ``hedging=`` on one call) races copies
of a slow attempt; hyperhttp-resilience's :class:`~hyperhttp_resilience.Hedging`
decides when and how many (sans-IO there, with its budget and its live
latency per origin) and runs the race. This module only says what a copy
is and which requests may have one:

1. A copy is one :meth:`Transport.send <hyperhttp._pool_transport.Transport.send>`:
   its own lease from the pool (on HTTP/1.1 another connection, since the
   first one is busy; on HTTP/2 another stream, on whichever connection
   the pool hands out) up to the response *head*: the first head wins, its
   body is read by the caller as usual.
2. A copy that lost is cancelled where it stands: an HTTP/2 stream is reset
   (RST_STREAM CANCEL), an HTTP/1.1 connection is discarded (its exchange
   did not complete). A loser whose head arrived in the same instant is
   closed unread (:func:`_discard`): its connection is not reused either.
3. Only requests safe to send twice are hedged: idempotent methods
   (RFC 9110 §9.2.2) whose body is in memory (none, or bytes); a streamed
   body is never read twice at once. Anything else is sent once, as without
   hedging.
4. The budget: each copy takes a token from ``Hedging.budget``; when that
   is the call's retry budget (``RetryPolicy(budget=...)``, shared), the
   policy already counted the call, so the attempt is not counted again.

The latency samples are per origin (``request.url.origin``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hyperhttp_resilience

if TYPE_CHECKING:
    from ._config import Timeout
    from ._models import Request, Response
    from ._pool_transport import Transport

__all__ = ["IDEMPOTENT", "check_hedging", "send_hedged"]

#: RFC 9110 §9.2.2.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def check_hedging(value: object) -> hyperhttp_resilience.Hedging | None:
    """Check ``hedging=``.

    Raises:
        TypeError: not a ``hyperhttp.Hedging`` nor None.

    """
    if value is not None and not isinstance(value, hyperhttp_resilience.Hedging):
        raise TypeError(f"hedging must be a hyperhttp.Hedging or None, not {type(value).__name__}")
    return value


async def send_hedged(
    hedging: hyperhttp_resilience.Hedging,
    request: Request,
    network: Transport,
    timeouts: Timeout,
    retry: hyperhttp_resilience.RetryPolicy | None,
) -> Response:
    """Send one attempt of ``request``, hedged when it may be (module docstring)."""
    if request.method not in IDEMPOTENT or request.stream is not None:  # rule 3
        return await network.send(request, timeouts)
    shared = retry is not None and retry.budget is hedging.budget  # rule 4
    return await hedging.run(
        request.url.origin,
        lambda: network.send(request, timeouts),
        discard=_discard,
        count_call=not shared,
    )


async def _discard(response: Response) -> None:
    """Close a head that lost the race, unread: its connection is not reused (rule 2)."""
    await response.aclose()
