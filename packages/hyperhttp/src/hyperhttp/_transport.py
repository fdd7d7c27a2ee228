"""Opening connections: resolve, race (Happy Eyeballs), TLS, and map the errors."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import ssl
from typing import TYPE_CHECKING

import hyperhttp_dns

from ._exceptions import ConnectError, ConnectTimeout, RemoteProtocolError
from ._http2 import CONNECTION_WINDOW, STREAM_WINDOW, HTTP2Connection
from ._http11 import HTTP11Connection

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._tracing import Tracer

__all__ = ["Connection", "connect_origin"]

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

    Raises:
        ConnectTimeout: not within ``timeout`` (resolution, connect and TLS together).
        ConnectError: resolution failed, every address refused, or TLS failed.

    """
    scheme, host, port = origin
    loop = asyncio.get_running_loop()
    tls = context if scheme == "https" else None
    connection: Connection | None = None
    try:
        async with asyncio.timeout(timeout):
            if tracer is not None:
                tracer("dns.start", {"host": host})
            addresses = await resolver.resolve(host, port)
            if tracer is not None:
                tracer("dns.end", {"host": host, "addresses": [str(a) for a in addresses]})
                tracer("connect.start", {"origin": origin})
            factory: Callable[[], _Negotiator | Connection]
            if tls is not None:
                factory = functools.partial(_Negotiator, loop, h2_windows)
            elif prior_knowledge:
                factory = functools.partial(
                    HTTP2Connection,
                    loop,
                    stream_window=h2_windows[0],
                    connection_window=h2_windows[1],
                )
            else:
                factory = functools.partial(HTTP11Connection, loop)
            _, made = await hyperhttp_dns.connect(
                addresses,
                factory,
                ssl=tls,
                server_hostname=host if tls is not None else None,
            )
            if isinstance(made, _Negotiator):
                connection = made.protocol
            else:
                assert isinstance(made, HTTP11Connection | HTTP2Connection)
                connection = made
            if connection is None:  # pragma: no cover - connection_made always ran
                raise ConnectError(f"cannot connect to {host}:{port}: no protocol")
            if isinstance(connection, HTTP2Connection):
                try:
                    await connection.ready  # the server's SETTINGS: its stream limit
                except RemoteProtocolError as exc:
                    connection.abort()
                    raise ConnectError(f"HTTP/2 with {host}:{port} failed: {exc}") from exc
            if tracer is not None:
                tracer("connect.end", {"origin": origin, "http_version": connection.http_version})
    except TimeoutError as exc:
        if connection is not None:
            connection.abort()
        raise ConnectTimeout(f"no connection to {host}:{port} within {timeout:g} s") from exc
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError(f"TLS certificate of {host}:{port} rejected: {exc}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
    return connection
