"""Opening connections: resolve, race (Happy Eyeballs), TLS, a proxy's tunnel.

Each opening runs inside the ``"connect"`` error boundary (``_boundary``):
whatever fails is a ``ConnectTimeout`` or ``ConnectError`` (or the proxy's
``ProxyError``), and what was opened part way is aborted, whatever stopped
the opening (a timeout, an error, the caller's cancellation).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import time
from typing import TYPE_CHECKING

import hyperhttp_dns
import hyperhttp_parser as hp

from ._boundary import boundary
from ._exceptions import ConnectError, ConnectTimeout, ProxyError, RemoteProtocolError
from ._http2 import CONNECTION_WINDOW, STREAM_WINDOW, HTTP2Connection
from ._http11 import HTTP11Connection

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Awaitable, Callable

    from ._proxy import Proxy
    from ._tracing import Tracer

__all__ = ["Connection", "connect_origin", "connect_via_proxy", "http_in_tunnel"]

Connection = HTTP11Connection | HTTP2Connection


class _Negotiator(asyncio.Protocol):
    """Stands in until the TLS handshake is done, then hands over to the ALPN's protocol.

    ``connection_made`` comes after the handshake, so the negotiated protocol is
    known there; the transport is switched to the right connection before any
    byte of the server's is delivered.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, h2_windows: tuple[int, int]) -> None:
        self.loop = loop
        self.h2_windows = h2_windows
        self.protocol: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        protocol: Connection
        if alpn == "h2":
            stream_window, connection_window = self.h2_windows
            protocol = HTTP2Connection(
                self.loop, stream_window=stream_window, connection_window=connection_window
            )
        else:
            protocol = HTTP11Connection(self.loop)
        self.protocol = protocol
        transport.set_protocol(protocol)
        protocol.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:  # pragma: no cover - before made
        pass


def _traced_open(
    tracer: Tracer, connected: list[float]
) -> Callable[[hyperhttp_dns.Address], Awaitable[socket.socket]]:
    """Happy Eyeballs' socket opener, reporting each attempt and its outcome."""

    async def open_socket(address: hyperhttp_dns.Address) -> socket.socket:
        began = time.perf_counter()
        tracer("connect.attempt", {"address": address.host, "port": address.port})
        try:
            sock = await hyperhttp_dns.open_tcp_socket(address)
        except BaseException as exc:
            tracer(
                "connect.attempt_failed",
                {"address": address.host, "error": exc, "elapsed": time.perf_counter() - began},
            )
            raise
        connected.append(time.perf_counter())
        tracer("connect.tcp", {"address": address.host, "elapsed": connected[-1] - began})
        return sock

    return open_socket


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def connect_origin(
    origin: tuple[str, str, int],
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    timeout: float | None,
    tracer: Tracer | None,
    *,
    prior_knowledge: bool = False,
    h2_windows: tuple[int, int] = (STREAM_WINDOW, CONNECTION_WINDOW),
) -> Connection:
    """Open a connection to ``origin``: TLS for https, HTTP/2 when ALPN picks h2.

    ``prior_knowledge``: speak HTTP/2 over plain TCP (h2c) without asking.
    ``h2_windows``: the HTTP/2 receive windows (per stream, per connection).
    A connection made part way is aborted whatever stops the opening (a
    timeout, an error, cancellation).

    Raises:
        ConnectTimeout: not within ``timeout`` (resolution, connect and TLS together).
        ConnectError: resolution failed, every address refused, or TLS failed.

    """
    _, host, port = origin
    opened: list[Connection] = []
    try:
        with boundary("connect", target=f"{host}:{port}", timeout=timeout):
            async with asyncio.timeout(timeout):
                return await _open_origin(
                    origin, resolver, context, tracer, prior_knowledge, h2_windows, opened
                )
    except BaseException:
        for connection in opened:
            connection.abort()
        raise


async def _open_origin(
    origin: tuple[str, str, int],
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    tracer: Tracer | None,
    prior_knowledge: bool,
    h2_windows: tuple[int, int],
    opened: list[Connection],
) -> Connection:
    """Resolve, connect (Happy Eyeballs), TLS, HTTP/2 SETTINGS; the connection joins ``opened``."""
    scheme, host, port = origin
    tls = context if scheme == "https" else None
    addresses = await _resolve(resolver, host, port, tracer)
    began = time.perf_counter()
    open_socket: Callable[[hyperhttp_dns.Address], Awaitable[socket.socket]]
    open_socket = hyperhttp_dns.open_tcp_socket
    connected: list[float] = []
    if tracer is not None:
        tracer("connect.start", {"origin": origin})
        open_socket = _traced_open(tracer, connected)
    transport, made = await hyperhttp_dns.connect(
        addresses,
        _protocol_factory(tls is not None, prior_knowledge, h2_windows),
        ssl=tls,
        server_hostname=host if tls is not None else None,
        open_socket=open_socket,
    )
    connection = made.protocol if isinstance(made, _Negotiator) else made
    if connection is None:  # pragma: no cover - connection_made always ran
        transport.abort()
        raise ConnectError(f"cannot connect to {host}:{port}: no protocol")
    opened.append(connection)
    if tracer is not None and tls is not None and connected:
        _trace_tls(tracer, origin, transport, connected[0])
    if isinstance(connection, HTTP2Connection):
        await _settled(connection, f"{host}:{port}")
    if tracer is not None:
        tracer(
            "connect.end",
            {
                "origin": origin,
                "http_version": connection.http_version,
                "address": transport.get_extra_info("peername"),
                "elapsed": time.perf_counter() - began,
            },
        )
    return connection


async def _resolve(
    resolver: hyperhttp_dns.Resolver, host: str, port: int, tracer: Tracer | None
) -> list[hyperhttp_dns.Address]:
    """Resolve ``host``, reporting ``dns.start`` and ``dns.end`` to a tracer."""
    if tracer is None:
        return await resolver.resolve(host, port)
    is_cached = getattr(resolver, "cached", None)
    cached = bool(is_cached(host)) if is_cached is not None else None
    began = time.perf_counter()
    tracer("dns.start", {"host": host, "cached": cached})
    addresses = await resolver.resolve(host, port)
    tracer(
        "dns.end",
        {
            "host": host,
            "cached": cached,
            "addresses": [a.host for a in addresses],
            "elapsed": time.perf_counter() - began,
        },
    )
    return addresses


def _protocol_factory(
    tls: bool, prior_knowledge: bool, h2_windows: tuple[int, int]
) -> Callable[[], _Negotiator | Connection]:
    """Return what the transport is made with: ALPN decides over TLS, else h2c or HTTP/1.1."""
    loop = asyncio.get_running_loop()
    if tls:
        return functools.partial(_Negotiator, loop, h2_windows)
    if prior_knowledge:
        stream_window, connection_window = h2_windows
        return functools.partial(
            HTTP2Connection, loop, stream_window=stream_window, connection_window=connection_window
        )
    return functools.partial(HTTP11Connection, loop)


def _trace_tls(
    tracer: Tracer, origin: tuple[str, str, int], transport: asyncio.BaseTransport, since: float
) -> None:
    ssl_object = transport.get_extra_info("ssl_object")
    tracer(
        "tls",
        {
            "origin": origin,
            "elapsed": time.perf_counter() - since,
            "version": ssl_object.version() if ssl_object is not None else None,
            "alpn": ssl_object.selected_alpn_protocol() if ssl_object is not None else None,
        },
    )


async def _settled(connection: HTTP2Connection, target: str) -> None:
    """Wait for the server's SETTINGS (its stream limit) on a new HTTP/2 connection.

    Raises:
        ConnectError: the server broke HTTP/2 before them.

    """
    try:
        await connection.ready
    except RemoteProtocolError as exc:
        raise ConnectError(f"HTTP/2 with {target} failed: {exc}") from exc


class _ConnectAnswer(asyncio.Protocol):
    """Reads a proxy's answer to CONNECT (then TLS takes the transport over)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.parser = hp.ResponseParser()
        self.parser.start(b"CONNECT")
        self.answer: asyncio.Future[int] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        try:
            events = self.parser.feed(data)
        except hp.RemoteProtocolError as exc:
            self.answer.set_exception(
                ProxyError(f"the proxy's answer to CONNECT is malformed: {exc}")
            )
            return
        for event in events:
            if isinstance(event, hp.ResponseHead):
                if 200 <= event.status_code < 300 and self.parser.trailing_data:
                    self.answer.set_exception(
                        ProxyError("the tunnel carried bytes before TLS started")
                    )
                else:
                    self.answer.set_result(event.status_code)
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(ProxyError("the proxy closed the connection during CONNECT"))


async def connect_via_proxy(
    origin: tuple[str, str, int],
    proxy: Proxy,
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    timeout: float | None,
    tracer: Tracer | None,
    *,
    h2_windows: tuple[int, int] = (STREAM_WINDOW, CONNECTION_WINDOW),
) -> Connection:
    """Open a connection to ``origin`` through an HTTP proxy.

    https: a CONNECT tunnel to the origin, then TLS (and ALPN: HTTP/2 or
    HTTP/1.1) inside it. http: a connection to the proxy itself, marked
    ``forward`` so requests go in absolute-form. What was opened part way is
    aborted whatever stops the opening.

    Raises:
        ProxyError: the proxy refused the tunnel (``status_code``) or broke it.
        ConnectTimeout, ConnectError: the proxy or the TLS handshake failed.

    """
    scheme, host, port = origin
    if scheme != "https":
        try:
            connection = await connect_origin(proxy.origin, resolver, None, timeout, tracer)
        except (ConnectError, ConnectTimeout) as exc:
            raise type(exc)(f"cannot reach the proxy {proxy}: {exc}") from exc
        assert isinstance(connection, HTTP11Connection)
        connection.forward = True
        connection.proxy_auth = proxy.auth_header
        return connection
    assert context is not None
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    opened: list[asyncio.Transport] = []
    try:
        with boundary("connect", target=f"{authority} through {proxy}", timeout=timeout):
            async with asyncio.timeout(timeout):
                return await _tunnel(
                    origin, authority, proxy, resolver, context, tracer, h2_windows, opened
                )
    except BaseException:
        for transport in reversed(opened):
            transport.abort()
        raise


async def _tunnel(
    origin: tuple[str, str, int],
    authority: str,
    proxy: Proxy,
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext,
    tracer: Tracer | None,
    h2_windows: tuple[int, int],
    opened: list[asyncio.Transport],
) -> Connection:
    """CONNECT through ``proxy``, then TLS and ALPN inside; each transport joins ``opened``."""
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
    if proxy.auth_header is not None:
        head += b"Proxy-Authorization: " + proxy.auth_header + b"\r\n"
    if tracer is not None:
        tracer("proxy.connect", {"proxy": str(proxy), "origin": origin})
    addresses = await resolver.resolve(proxy.origin[1], proxy.origin[2])
    transport, answering = await hyperhttp_dns.connect(
        addresses, functools.partial(_ConnectAnswer, loop)
    )
    opened.append(transport)
    transport.write(head + b"\r\n")
    status = await answering.answer
    if not 200 <= status < 300:
        raise ProxyError(
            f"the proxy {proxy} answered CONNECT {authority} with {status}", status_code=status
        )
    return await http_in_tunnel(
        transport, origin, proxy, context, tracer, h2_windows, opened, began=began
    )


async def http_in_tunnel(
    transport: asyncio.Transport,
    origin: tuple[str, str, int],
    proxy: Proxy,
    context: ssl.SSLContext | None,
    tracer: Tracer | None,
    h2_windows: tuple[int, int],
    opened: list[asyncio.Transport],
    *,
    began: float,
    prior_knowledge: bool = False,
) -> Connection:
    """Speak HTTP to ``origin`` inside a proxy's open tunnel (CONNECT, SOCKS).

    https: TLS with ALPN (HTTP/2 or HTTP/1.1) over the tunnel, its transport
    joining ``opened``; http: HTTP/1.1 (HTTP/2 with ``prior_knowledge``)
    right on it. Reports ``tls`` and ``connect.end`` (``began``: when the
    opening started) to a tracer.
    """
    loop = asyncio.get_running_loop()
    scheme, host, port = origin
    connection: Connection
    if scheme == "https":
        assert context is not None
        tls_began = time.perf_counter()
        # hyperhttp-dns's start_tls makes the negotiator before any byte of the
        # server's reaches it and aborts the tunnel if the handshake is cut short.
        tls_transport, negotiator = await hyperhttp_dns.start_tls(
            transport,
            lambda: _Negotiator(loop, h2_windows),
            context,
            server_hostname=host,
        )
        opened.append(tls_transport)
        assert negotiator.protocol is not None
        connection = negotiator.protocol
        if tracer is not None:
            _trace_tls(tracer, origin, tls_transport, tls_began)
    else:
        made = _protocol_factory(False, prior_knowledge, h2_windows)()
        assert not isinstance(made, _Negotiator)  # (no TLS: no negotiation)
        connection = made
        transport.set_protocol(connection)
        connection.connection_made(transport)
    if isinstance(connection, HTTP2Connection):
        await _settled(connection, f"{host}:{port}")
    if tracer is not None:
        tracer(
            "connect.end",
            {
                "origin": origin,
                "proxy": str(proxy),
                "http_version": connection.http_version,
                "address": transport.get_extra_info("peername"),  # the proxy's
                "elapsed": time.perf_counter() - began,
            },
        )
    return connection
