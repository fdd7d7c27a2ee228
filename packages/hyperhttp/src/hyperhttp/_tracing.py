"""The ``trace=`` callback: ``trace(name, info)`` at named points of a request.

Events are for logs and telemetry, so they carry nothing secret: a ``url``,
``from`` or ``to`` value is ``str(url)``, whose userinfo password is written
as ``***`` (see :mod:`hyperhttp._urls`), and a proxy is named without its
password. docs/tracing.md lists the events and their fields.

An exchange on a pooled connection reports through an :class:`ExchangeSpan`;
a client without a tracer uses :data:`NO_SPAN`, a null object.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperhttp_pool import PoolStats

    from ._models import Request
    from ._pool_transport import PooledBody
    from ._transport import Connection

__all__ = ["NO_SPAN", "ExchangeSpan", "NoSpan", "Spans", "Tracer"]

Tracer = Callable[[str, dict[str, Any]], object]


class Spans:
    """Where the exchanges of a client with a tracer get their spans."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def open(
        self, request: Request, started: float, stats: Callable[[], PoolStats]
    ) -> ExchangeSpan:
        """Return the span of a new exchange, having reported ``pool.wait``."""
        span = ExchangeSpan(self.tracer, request, started)
        self.tracer("pool.wait", {"origin": request.url.origin, "stats": stats()})
        return span


class ExchangeSpan:
    """One exchange as the tracer sees it: ``pool.wait`` to ``response.end`` (docs/tracing.md).

    The pool transport calls the same methods whether or not there is a
    tracer: each exchange's span comes from ``open`` on :class:`Spans`, and
    without a tracer from :data:`NO_SPAN`, whose ``open`` returns itself and
    whose methods report nothing, so the hot path has no ``if trace is not
    None`` tests. A tracer that raises raises to the transport, which has
    released the connection (or releases it) first.
    """

    __slots__ = ("info", "request", "started", "tracer")

    def __init__(self, tracer: Tracer, request: Request, started: float) -> None:
        self.tracer = tracer
        self.request = request
        self.started = started
        self.info: dict[str, Any] = {}

    def acquired(self, connection: Connection) -> None:
        self.tracer(
            "pool.acquired",
            {
                "origin": self.request.url.origin,
                "waited": time.perf_counter() - self.started,
                "http_version": connection.http_version,
                "served": connection.served,  # requests before this one on it
            },
        )

    def sent(self) -> None:
        request = self.request
        self.tracer(
            "request.sent",
            {
                "method": request.method,
                "url": str(request.url),
                "elapsed": time.perf_counter() - self.started,
            },
        )

    def headers(self, connection: Connection, status: int) -> None:
        request = self.request
        self.info = {"method": request.method, "url": str(request.url), "status": status}
        self.tracer(
            "response.headers",
            {
                **self.info,
                "http_version": connection.http_version,
                "ttfb": time.perf_counter() - self.started,
            },
        )

    def release(self, body: PooledBody) -> None:
        """Release the body's lease (``PooledBody.close``), then report ``response.end``."""
        exchange = body.exchange
        complete = exchange.done and exchange.error is None
        body.lease.release(reusable=body.connection.finish(exchange))
        self.tracer(
            "response.end",
            {**self.info, "complete": complete, "elapsed": time.perf_counter() - self.started},
        )


class NoSpan(ExchangeSpan):
    """The span of a client without a tracer: it reports nothing (``release`` only releases)."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def open(
        self, request: Request, started: float, stats: Callable[[], PoolStats]
    ) -> ExchangeSpan:
        return self

    def acquired(self, connection: Connection) -> None:
        pass

    def sent(self) -> None:
        pass

    def headers(self, connection: Connection, status: int) -> None:
        pass

    def release(self, body: PooledBody) -> None:
        body.lease.release(reusable=body.connection.finish(body.exchange))


#: The one span of every exchange of a client without a tracer.
NO_SPAN = NoSpan()
