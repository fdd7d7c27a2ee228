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
   closed unread (:func:`_discard`): its connection is reused only if its
   whole response had arrived already (a complete exchange), else dropped.
3. Only requests safe to send twice are hedged: idempotent methods
   (RFC 9110 §9.2.2) whose body is in memory (none, or bytes); a streamed
   body is never read twice at once; and (``Pipeline.send``) no auth flow
   but Basic or Bearer: a Digest answer counts its nonce (RFC 7616 §3.4), a
   copy of it is a replay. Anything else is sent once, as without hedging.
4. The budget: each copy takes a token from ``Hedging.budget``; when that
   is the call's retry budget (``RetryPolicy(budget=...)``, shared), the
   policy already counted the call, so the attempt is not counted again.
5. A copy is a request of its own to the origin: it takes its own slot or
   token of the origin's ``limiter=`` (the attempt's is held by the first
   copy), and with ``deadline_header=`` it carries what is left when *it*
   is sent.

The latency samples are per origin (``request.url.origin``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hyperhttp_resilience

from ._deadline import with_deadline
from ._limit import limiter_for, send_limited

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ._models import Request, Response
    from ._options import SendOptions
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
    request: Request,
    network: Transport,
    options: SendOptions,
    *,
    count_call: bool = True,
) -> Response:
    """Send one attempt of ``request``, hedged when it may be (module docstring).

    ``count_call``: False for a replay of the same attempt (``exchange``
    replays a stale connection's request): the call was counted already.
    """
    hedging = options.hedging
    assert hedging is not None
    timeouts = options.timeouts
    if request.method not in IDEMPOTENT or request.stream is not None:  # rule 3
        return await network.send(request, timeouts)
    limiter = limiter_for(options.limiter, request) if options.limiter else None
    started = 0

    def copy() -> Awaitable[Response]:
        nonlocal started
        started += 1
        if started == 1:  # the attempt itself: its limiter slot is taken already
            return network.send(request, timeouts)
        sent = request  # rule 5: a copy is limited and carries its own deadline
        if options.deadline_header:
            sent = with_deadline(request, options.deadline_header)
        if limiter is None:
            return network.send(sent, timeouts)
        return send_limited(limiter, sent, lambda: network.send(sent, timeouts))

    retry = options.retry
    shared = retry is not None and retry.budget is hedging.budget  # rule 4
    return await hedging.run(
        request.url.origin, copy, discard=_discard, count_call=count_call and not shared
    )


async def _discard(response: Response) -> None:
    """Close a head that lost the race, unread: its connection is not reused (rule 2)."""
    await response.aclose()
