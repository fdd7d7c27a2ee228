"""Each request sent is one CLIENT span, carries that span's context, and is measured.

Strategy
--------
1. **A span per send** (http-spans.md: instrumentations "SHOULD create an
   HTTP span for each attempt to send an HTTP request over the wire").
   :class:`TracedTransport` is a layer over the client's transport, the one
   its pipeline sends through: the first send of a call, each retry, redirect
   hop, auth round, replay and hedged copy passes it once and is one
   :class:`Attempt`. The span starts before the pool is asked for a
   connection and ends when the response head arrives or the send fails; the
   body is read after it (the spec: a client span "SHOULD end sometime after
   the HTTP response headers are fully read", not in a later clean-up).
   ``http.client.request.duration`` is the span's duration, to the ns.
2. **Its context goes with it.** The attempt's span context, and whatever
   else the global propagator carries (``traceparent``, ``tracestate``,
   ``baggage``), goes into that attempt's own copy of the request; the
   request the caller built is never changed. A field the propagator sets
   replaces a same-named one (it must name this span); every other field is
   sent as it was. Nothing to send (no SDK, no parent, no baggage): no copy.
3. **The call counts its sends.** ``client.send`` (``_instrument``) gives each
   call a :class:`Call` in a context variable: the second send carries
   ``http.request.resend_count = 1``, and so on, whatever the reason (the
   spec counts redirects and auth rounds too). A send cancelled while the
   call's task was being cancelled (its ``total`` deadline) is failed with
   the ``TimeoutError`` the call then raises; one cancelled alone (a hedged
   copy that lost) or by a caller who gave up ends without an error
   (http-spans.md: a cancellation is not one).
4. **The pool reports to the attempt.** The pool transport asks
   ``_tracing``'s span source for each exchange's :class:`ExchangeSpan`;
   :class:`TracedSpans` hands it the attempt in progress, which passes every
   call on to the span the client would have had (its ``trace=`` callback's
   events are unchanged) and learns when the connection was leased
   (``http.client.request.time_in_queue``) and which one (its protocol and
   peer). :class:`Pool` follows each connection from its first lease until it
   is lost: ``http.client.open_connections`` (active while leased) and
   ``http.client.connection.duration``. The connection phases' ``trace=``
   events (DNS, TCP, TLS, proxy) reach the attempt opening it
   (:func:`connection_event`, chained before the client's callback): span
   events, and ``dns.lookup.duration``.
5. **Silence costs little.** Instrumented with the global providers while no
   SDK is set (``Telemetry.silent``), a send only passes the caller's context
   on: no span, no attributes, no clock, no bookkeeping. Otherwise the
   attributes a sampler is owed are built at the start, the rest only for a
   span that records.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from hyperhttp._tracing import ExchangeSpan, Spans

from ._compat import SUPPRESS_KEY
from ._telemetry import error_type, full_url, is_ip, protocol_version

if TYPE_CHECKING:
    from collections.abc import Callable

    import hyperhttp_pool

    from hyperhttp._config import Timeout
    from hyperhttp._models import Request, Response
    from hyperhttp._pool_transport import PooledBody, Transport
    from hyperhttp._tracing import NoSpan, Tracer
    from hyperhttp._transport import Connection

    from ._telemetry import Telemetry

__all__ = [
    "CALL",
    "Attempt",
    "Call",
    "Pool",
    "TracedSpans",
    "TracedTransport",
    "connection_event",
]

#: The attempt a send is in (None outside one).
ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "hyperhttp.otel.attempt", default=None
)
#: The call of ``client.send`` a send belongs to (None outside one).
CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "hyperhttp.otel.call", default=None
)


class Call:
    """One ``client.send``: its sends so far, and those cancelled awaiting its outcome."""

    __slots__ = ("cancelled", "failure", "sent", "task")

    def __init__(self) -> None:
        self.sent = 0
        self.task = asyncio.current_task()
        self.cancelled: list[Attempt] = []
        self.failure: BaseException | None = None  # the TimeoutError the call raised

    def settle(self) -> None:
        """End the sends cancelled: failed with the call's timeout if it cancelled them."""
        failure = self.failure
        for attempt in self.cancelled:
            if failure is not None and attempt.by_deadline:
                attempt.fail(failure, attempt.ended)
            else:
                attempt.span.end(attempt.end_ns(attempt.ended))
        self.cancelled.clear()


class TracedTransport:
    """The layer over the client's transport: each send through it is one :class:`Attempt`."""

    __slots__ = ("inner", "telemetry")

    def __init__(self, inner: Transport, telemetry: Telemetry) -> None:
        self.inner = inner
        self.telemetry = telemetry

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Send ``request`` once, as a span carrying its context (module docstring)."""
        if SUPPRESS_KEY is not None and otel_context.get_value(SUPPRESS_KEY):
            return await self.inner.send(request, timeouts)
        telemetry = self.telemetry
        if telemetry.silent():  # no SDK: the caller's context goes on, nothing else
            return await self.inner.send(_with_context(request, None), timeouts)
        attempt = Attempt(telemetry, request)
        token = ATTEMPT.set(attempt)
        try:
            response = await self.inner.send(attempt.request, timeouts)
        except asyncio.CancelledError:
            attempt.cancelled()
            raise
        except BaseException as exc:
            attempt.fail(exc, time.perf_counter())
            raise
        finally:
            ATTEMPT.reset(token)
        attempt.answered(response)
        return response

    async def aclose(self) -> None:
        """Close the transport under it."""
        await self.inner.aclose()

    def stats(self) -> hyperhttp_pool.PoolStats:
        """Return the transport's pool counts."""
        return self.inner.stats()


def _with_context(request: Request, span: trace.Span | None) -> Request:
    """Return ``request``, or a copy carrying what the propagator injects for ``span``."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, None if span is None else trace.set_span_in_context(span))
    if not carrier:
        return request
    request = request.copy()  # the attempt's own; the caller's request is never changed
    fields = request.headers
    for name, value in carrier.items():
        fields[name] = value  # replaces a same-named field, keeps the others in order
    return request


class Attempt(ExchangeSpan):
    """One send: its span and metric attributes; also the pool transport's exchange span.

    As the exchange span it passes every call on to ``exchange``, the one the
    client would have had (its ``trace=`` callback's, or the silent one).
    Of the attributes ``ExchangeSpan`` declares it uses ``request`` (the one sent) and
    ``started``.
    """

    __slots__ = (
        "attributes",
        "by_deadline",
        "call",
        "connected",
        "connection",
        "dns",
        "ended",
        "exchange",
        "pool",
        "protocol",
        "queued",
        "recording",
        "span",
        "start_ns",
        "telemetry",
    )

    def __init__(self, telemetry: Telemetry, request: Request) -> None:
        self.telemetry = telemetry
        method = request.method
        url = request.url
        known = method in telemetry.known_methods
        # The metric attributes (http-metrics.md), completed when the send ends.
        attributes: dict[str, Any] = {
            "http.request.method": method if known else "_OTHER",
            "server.address": url.host,
            "server.port": url.origin[2],
        }
        self.attributes = attributes
        # The span's first ones: what a sampler is owed at the start (http-spans.md).
        at_start = {**attributes, "url.full": full_url(url)}
        if not known:
            at_start["http.request.method_original"] = method
        call = self.call = CALL.get()
        if call is not None:
            if call.sent:
                at_start["http.request.resend_count"] = call.sent
            call.sent += 1
        self.start_ns = time.time_ns()
        self.started = time.perf_counter()
        span = self.span = telemetry.tracer.start_span(
            method if known else "HTTP",
            kind=SpanKind.CLIENT,
            attributes=at_start,
            start_time=self.start_ns,
        )
        self.recording = span.is_recording()
        # An invalid span (a no-op tracer without a parent) has no context to send.
        self.request = _with_context(request, span if span.get_span_context().is_valid else None)
        self.exchange: ExchangeSpan | None = None
        self.pool: Pool | None = None
        self.connection: OpenConnection | None = None  # while it holds a lease on it
        self.protocol: str | None = None  # of the connection it was given
        self.connected: float | None = None  # when it opened one (connect.end)
        self.dns: tuple[str, float] | None = None  # a lookup under way
        self.queued = self.started  # when the pool was asked (TracedSpans.open)
        self.ended = 0.0
        self.by_deadline = False

    def end_ns(self, at: float) -> int:
        """Return the span's end (ns) for the ``perf_counter()`` reading ``at``: the metric's."""
        return self.start_ns + int((at - self.started) * 1e9)

    # ------------------------------------------------------------ outcomes

    def answered(self, response: Response) -> None:
        """End the span at the response head: 4xx and 5xx are errors on a client span."""
        now = time.perf_counter()
        status = response.status_code
        version = protocol_version(response.http_version)
        attributes = self.attributes
        attributes["http.response.status_code"] = status
        attributes["network.protocol.version"] = version
        failed = not 100 <= status < 400  # http-spans.md "Status"
        if failed:
            attributes["error.type"] = str(status)
        span = self.span
        if self.recording:
            ended: dict[str, Any] = {
                "http.response.status_code": status,
                "network.protocol.version": version,
            }
            if failed:
                ended["error.type"] = str(status)
                span.set_status(Status(StatusCode.ERROR))  # no description: the code says it
            span.set_attributes(ended)
        span.end(self.end_ns(now))
        self.telemetry.duration.record(now - self.started, attributes)

    def fail(self, exc: BaseException, at: float) -> None:
        """End the span failed before a head: ``error.type`` is the exception's class."""
        self.let_go()
        kind = error_type(exc)
        attributes = self.attributes
        attributes["error.type"] = kind
        if self.protocol is not None:
            attributes["network.protocol.version"] = self.protocol
        span = self.span
        if self.recording:
            span.set_attribute("error.type", kind)
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
        span.end(self.end_ns(at))
        self.telemetry.duration.record(at - self.started, attributes)
        dns = self.dns
        if dns is not None and not is_ip(dns[0]):  # the lookup under way failed with it
            self.dns = None
            self.telemetry.dns_duration.record(
                at - dns[1], {"dns.question.name": dns[0], "error.type": kind}
            )

    def cancelled(self) -> None:
        """Note a cancelled send: the call's outcome tells whether by its deadline."""
        self.let_go()
        self.ended = time.perf_counter()
        call = self.call
        if call is None:
            self.span.end(self.end_ns(self.ended))
            return
        # The call's own task being cancelled: its deadline (or its caller), not a
        # hedged copy that lost (cancelled alone, in a task of its own).
        task = call.task
        self.by_deadline = task is not None and task.cancelling() > 0
        call.cancelled.append(self)

    # ------------------------------------------------------------ the exchange span

    def acquired(self, connection: Connection) -> None:
        """Pass it on; record the time in the queue, and which connection it was."""
        if self.exchange is not None:
            self.exchange.acquired(connection)
        now = time.perf_counter()
        pool = self.pool
        if pool is None:  # pragma: no cover - TracedSpans.open sets both
            return
        record = pool.connections.get(connection)
        if record is None:
            record = pool.track(connection, self)
        record.leases += 1
        self.connection = record
        self.protocol = record.version
        self.telemetry.time_in_queue.record(
            now - self.queued,
            {
                "http.request.method": self.attributes["http.request.method"],
                "server.address": record.address,
                "server.port": record.port,
                "url.scheme": self.request.url.scheme,
                "network.protocol.version": record.version,
            },
        )
        if self.recording:
            connection_attributes: dict[str, Any] = {"network.protocol.version": record.version}
            if record.peer is not None:
                connection_attributes["network.peer.address"] = record.peer[0]
                connection_attributes["network.peer.port"] = record.peer[1]
            self.span.set_attributes(connection_attributes)

    def sent(self) -> None:
        """Pass it on."""
        if self.exchange is not None:
            self.exchange.sent()

    def headers(self, connection: Connection, status: int) -> None:
        """Pass it on."""
        if self.exchange is not None:
            self.exchange.headers(connection, status)

    def release(self, body: PooledBody) -> None:
        """Pass it on (it releases the lease); the connection is idle unless leased again."""
        try:
            if self.exchange is not None:
                self.exchange.release(body)
        finally:
            self.let_go()

    def let_go(self) -> None:
        """Forget the lease on the connection (once: a failure after it may say so again)."""
        record = self.connection
        if record is not None:
            self.connection = None
            record.leases -= 1

    # ------------------------------------------------------------ connection phases

    def phase(self, name: str, info: dict[str, Any]) -> None:
        """Take a ``trace=`` event of opening a connection: a span event, DNS's metric."""
        if name == "dns.start":
            self.dns = (info["host"], time.perf_counter())
            return
        if name == "dns.end":
            self.dns = None
            host = info["host"]
            if is_ip(host):  # an address literal: no lookup
                return
            self.telemetry.dns_duration.record(info["elapsed"], {"dns.question.name": host})
        elif name == "connect.end":
            self.connected = time.perf_counter()
        if self.recording:
            event = _phase_event(name, info)
            if event is not None:
                self.span.add_event(*event)


def connection_event(name: str, info: dict[str, Any]) -> None:
    """Hand a ``trace=`` event to the attempt opening the connection (before the client's)."""
    attempt = ATTEMPT.get()
    if attempt is not None:
        attempt.phase(name, info)


def _phase_event(name: str, info: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Return a connection phase's span event (name, attributes), or None."""
    if name == "dns.end":
        attributes: dict[str, Any] = {
            "dns.question.name": info["host"],
            "dns.answers": list(info["addresses"]),
            "hyperhttp.duration": info["elapsed"],
        }
        if info["cached"] is not None:
            attributes["hyperhttp.dns.cached"] = info["cached"]
        return "dns.lookup", attributes
    if name == "connect.tcp":
        return "tcp.connect", {
            "network.peer.address": info["address"],
            "hyperhttp.duration": info["elapsed"],
        }
    if name == "connect.attempt_failed":
        return "tcp.connect_failed", {
            "network.peer.address": info["address"],
            "error.type": error_type(info["error"]),
            "hyperhttp.duration": info["elapsed"],
        }
    if name == "tls":
        attributes = {"hyperhttp.duration": info["elapsed"]}
        version = info["version"]
        if version:  # "TLSv1.3" -> tls, 1.3
            protocol, _, number = version.partition("v")
            attributes["tls.protocol.name"] = protocol.lower()
            attributes["tls.protocol.version"] = number
        if info["alpn"]:
            attributes["tls.next_protocol"] = info["alpn"]
        return "tls.handshake", attributes
    if name == "proxy.connect":
        return "proxy.connect", {"hyperhttp.proxy": info["proxy"]}
    if name == "connect.end":
        return "connection.ready", {
            "network.protocol.version": protocol_version(info["http_version"]),
            "hyperhttp.duration": info["elapsed"],
        }
    return None


# ---------------------------------------------------------------- connections


class OpenConnection:
    """What is known of one open connection: its origin, protocol, peer and leases."""

    __slots__ = ("address", "leases", "opened", "peer", "port", "version")

    def __init__(
        self, address: str, port: int, version: str, peer: tuple[str, int] | None, opened: float
    ) -> None:
        self.address = address
        self.port = port
        self.version = version
        self.peer = peer
        self.opened = opened
        self.leases = 0


class Pool:
    """The open connections of one instrumented client, from first lease until lost."""

    __slots__ = ("__weakref__", "active", "connections", "telemetry")

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.connections: dict[Connection, OpenConnection] = {}
        self.active = True

    def track(self, connection: Connection, attempt: Attempt) -> OpenConnection:
        """Follow a connection from its first lease (mostly right after the attempt opened it)."""
        transport = connection.transport
        peername = transport.get_extra_info("peername") if transport is not None else None
        url = attempt.request.url
        record = OpenConnection(
            url.host,  # behind any proxy, as http-metrics.md asks
            url.origin[2],
            protocol_version(connection.http_version),
            (peername[0], peername[1]) if isinstance(peername, tuple) else None,
            attempt.connected if attempt.connected is not None else time.perf_counter(),
        )
        self.connections[connection] = record
        connection.lost.add_done_callback(functools.partial(self._lost, connection))
        return record

    def _lost(self, connection: Connection, _: object) -> None:
        record = self.connections.pop(connection, None)
        if record is not None and self.active:
            self.telemetry.connection_duration.record(
                time.perf_counter() - record.opened,
                {
                    "server.address": record.address,
                    "server.port": record.port,
                    "network.protocol.version": record.version,
                },
            )


class TracedSpans(Spans):
    """Where the pool transport gets each exchange's span: the attempt in progress."""

    __slots__ = ("inner", "pool")

    def __init__(self, inner: Spans | NoSpan, pool: Pool, tracer: Tracer) -> None:
        super().__init__(tracer)
        self.inner = inner
        self.pool = pool

    def open(
        self,
        request: Request,
        started: float,
        stats: Callable[[], hyperhttp_pool.PoolStats],
    ) -> ExchangeSpan:
        """Return the attempt in progress, passing calls on to the client's own span."""
        exchange = self.inner.open(request, started, stats)
        attempt = ATTEMPT.get()
        if attempt is None or attempt.exchange is not None:
            return exchange
        attempt.exchange = exchange
        attempt.pool = self.pool
        attempt.queued = started
        return attempt
