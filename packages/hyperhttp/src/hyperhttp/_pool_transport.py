"""The transport under the client's layers: pooled HTTP/1.1 and HTTP/2 connections.

Strategy
--------
:class:`PoolTransport` sends one request as one exchange: it leases a
connection from hyperhttp-pool (opening one through ``_connect`` when the
pool says so, with the request's connect timeout), has the request encoder
build what the connection's protocol sends, starts the exchange, sends a
body that did not go with the head, and returns the response as soon as its
head arrives. The body stays on the connection (:class:`PooledBody`) and
the lease goes back when the body is read or closed: reusable only if the
exchange completed cleanly (``connection.finish``).

Everything before that (redirects, auth, cookies, retries, hooks, replays
of refused streams and stale connections) is the client's layers; the mock
transport (``_mock``) implements the same :class:`Transport` interface, so
the layers never know which one they talk to.

Hot path (an idle connection, no tracer): one ``pool.acquire`` that returns
without waiting, one head from the encoder's per-origin memo, one write,
one future awaited for the head.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

import hyperhttp_pool

from ._boundary import translate
from ._config import idle_connections_cap
from ._http2 import HTTP2Connection
from ._models import BodySource, Response
from ._socks_tunnel import connect_via_socks
from ._tls import ssl_context
from ._tracing import NO_SPAN, ExchangeSpan, NoSpan, Spans
from ._transport import Connection, connect_origin, connect_via_proxy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import hyperhttp_dns

    from ._config import Limits, Timeout
    from ._encode import RequestEncoder
    from ._http2 import H2Stream
    from ._http11 import Exchange
    from ._models import Request
    from ._proxy import Proxy, ProxySelector
    from ._tls import VerifyTypes
    from ._tracing import Tracer

__all__ = ["BodyLimits", "PoolTransport", "Transport"]

_Key = tuple[str, str, int] | tuple[tuple[str, str, int], "Proxy"]  # pool keys
_CLOSE_GRACE = 0.25  # seconds aclose() waits for connections to close cleanly


class Transport(Protocol):
    """What the client's layers send through: the network, or a mock of it."""

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Send ``request`` once; return the response with its head, its body unread."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (connections)."""
        ...

    def stats(self) -> hyperhttp_pool.PoolStats:
        """Return the connection counts (a mock has none)."""
        ...


class BodyLimits:
    """The client's response-size limits, read by the transport on each response."""

    __slots__ = ("max_decompressed_size", "max_response_size")

    def __init__(self, max_response_size: int | None, max_decompressed_size: int | None) -> None:
        self.max_response_size = max_response_size
        self.max_decompressed_size = max_decompressed_size


class PooledBody(BodySource):
    """A response body on a connection (an HTTP/1.1 exchange or an HTTP/2 stream), and its lease.

    Closing it releases the lease (reusable only if the exchange completed
    cleanly) through the exchange's span, which then reports ``response.end``.
    """

    __slots__ = ("connection", "exchange", "lease", "span")

    def __init__(
        self,
        connection: Connection,
        exchange: Exchange | H2Stream,
        lease: hyperhttp_pool.Lease[_Key, Connection],
        span: ExchangeSpan,
    ) -> None:
        self.connection = connection
        self.exchange = exchange
        self.lease = lease
        self.span = span

    async def read_all(self) -> bytes:
        return await self.exchange.read_all()

    def iter_raw(self) -> AsyncIterator[bytes]:
        return self.exchange.iter_raw()

    def close(self) -> None:
        self.span.release(self)  # (the span reports response.end, if it reports anything)


class PoolTransport:
    """Requests over pooled connections; see the module docstring."""

    def __init__(
        self,
        *,
        encoder: RequestEncoder,
        limits: Limits,
        body_limits: BodyLimits,
        resolver: hyperhttp_dns.Resolver,
        proxies: ProxySelector,
        verify: VerifyTypes,
        trust_env: bool,
        http1: bool,
        http2: bool,
        h2_windows: tuple[int, int],
        trace: Tracer | None,
    ) -> None:
        self.encoder = encoder
        self.body_limits = body_limits
        self.resolver = resolver
        self.proxies = proxies
        self.trace = trace
        # Where each exchange's span comes from: NO_SPAN without a tracer.
        self._spans: Spans | NoSpan = NO_SPAN if trace is None else Spans(trace)
        self._verify = verify
        self._trust_env = trust_env
        self._http1 = http1
        self._http2 = http2
        self._h2_windows = h2_windows
        # ALPN offers h2 first; http1=False also means h2c prior knowledge on http://.
        self._alpn: tuple[str, ...] = (
            ("h2", "http/1.1") if http2 and http1 else ("h2",) if http2 else ("http/1.1",)
        )
        self._ssl: Any = None  # built on first https use
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.pool: hyperhttp_pool.Pool[_Key, Connection] = hyperhttp_pool.Pool(
            self._connect,
            max_connections=limits.max_connections,
            max_connections_per_key=limits.max_connections_per_host,
            max_idle_connections=idle_connections_cap(limits),
            keepalive_expiry=limits.keepalive_expiry,
            max_lifetime=limits.max_connection_lifetime,
            max_requests=limits.max_requests_per_connection,
            expected_capacity=self._expected_capacity,
        )

    # ------------------------------------------------------------ the pool

    def stats(self) -> hyperhttp_pool.PoolStats:
        """Return the pool's counts (connections, in use, idle, waiters)."""
        return self.pool.stats()

    async def aclose(self) -> None:
        """Close every pooled connection; give TLS ones a moment to say close_notify."""
        await self.pool.aclose()
        closing = [c for c in self._connections if not c.lost.done()]
        if closing:
            await asyncio.wait([c.lost for c in closing], timeout=_CLOSE_GRACE)
            for connection in closing:
                if not connection.lost.done():
                    connection.abort()
        self._connections.clear()

    def _expected_capacity(self, key: _Key) -> int:
        """Streams a first connection to ``origin`` will likely carry (the pool's hint).

        Where HTTP/2 is likely, a cold burst of requests waits for one
        connection instead of opening one each; if ALPN says http/1.1, the
        pool opens the others as soon as that is known.
        """
        origin = key[0] if len(key) == 2 else key
        if len(key) == 2 and not key[1].is_socks:  # HTTP proxy: HTTP/2 only inside CONNECT
            return 100 if origin[0] == "https" and self._http2 else 1
        if (origin[0] == "https" and self._http2) or not self._http1:
            return 100
        return 1

    async def _connect(self, key: _Key, *, connect_timeout: float | None) -> Connection:
        """Open a connection for a pool key (origin, or origin and proxy) within a timeout.

        The pool calls it in the acquiring task, with that request's connect timeout.
        """
        proxy: Proxy | None = None
        if len(key) == 2:
            origin, proxy = key
        else:
            origin = key
        context = None
        if origin[0] == "https":
            context = self._ssl
            if context is None:
                context = self._ssl = ssl_context(
                    self._verify, self._alpn, trust_env=self._trust_env
                )
        if proxy is not None and proxy.is_socks:
            connection = await connect_via_socks(
                origin,
                proxy,
                self.resolver,
                context,
                connect_timeout,
                self.trace,
                prior_knowledge=not self._http1,
                h2_windows=self._h2_windows,
            )
        elif proxy is not None:
            connection = await connect_via_proxy(
                origin,
                proxy,
                self.resolver,
                context,
                connect_timeout,
                self.trace,
                h2_windows=self._h2_windows,
            )
        else:
            connection = await connect_origin(
                origin,
                self.resolver,
                context,
                connect_timeout,
                self.trace,
                prior_knowledge=not self._http1,
                h2_windows=self._h2_windows,
            )
        self._connections.add(connection)
        if isinstance(connection, HTTP2Connection):
            connection.on_capacity = self.pool.capacity_changed
            connection.on_retire = self.pool.retire
        return connection

    # ------------------------------------------------------------ one exchange

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Send ``request`` on a pooled connection; return once its response head is in."""
        url = request.url
        started = time.perf_counter()
        span = self._spans.open(request, started, self.pool.stats)
        key: _Key = url.origin
        if self.proxies.enabled:
            proxy = self.proxies.select(url)
            if proxy is not None:
                key = (url.origin, proxy)  # pooled by proxy and origin
        try:
            lease = await self.pool.acquire(
                key, timeout=timeouts.pool, connect_timeout=timeouts.connect
            )
        except BaseException as exc:  # the error boundary (_boundary), without a with's cost
            raise translate(  # noqa: B904 - the boundary chains what it maps
                exc, "acquire", target=url.host, timeout=timeouts.pool, request=request
            )
        connection = lease.connection
        try:  # if this raises (the request's checks, a tracer), nothing was sent: reusable
            span.acquired(connection)
            exchange = connection.start_request(
                request, self.encoder, timeouts, self.body_limits.max_response_size
            )
        except BaseException as exc:
            lease.release(reusable=True)
            raise translate(exc, "send", request=request)  # noqa: B904 - the boundary chains it
        try:
            if exchange.body_left:
                await exchange.send_rest(request, timeouts)
            span.sent()
            head = exchange.head
            if head is None:
                head = await exchange.wait_head()
            span.headers(connection, head.status_code)
        except BaseException as exc:
            lease.release(reusable=connection.finish(exchange))
            raise translate(exc, "send", request=request)  # noqa: B904 - the boundary chains it
        reason = head.reason  # HTTP/1.1: what the server sent, even empty; HTTP/2 has none
        return Response(
            head.status_code,
            headers=head.headers,
            request=request,
            reason_phrase=None if reason is None else reason.decode("latin-1"),
            http_version=connection.http_version,
            source=PooledBody(connection, exchange, lease, span),
            started=started,
            decoded_limit=self.body_limits.max_decompressed_size,
        )
