"""Opening connections: resolve, race (Happy Eyeballs), TLS, and map the errors."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from typing import TYPE_CHECKING

import hyperhttp_dns

from ._exceptions import ConnectError, ConnectTimeout, RemoteProtocolError
from ._http2 import HTTP2Connection
from ._http11 import HTTP11Connection

if TYPE_CHECKING:
    from ._tracing import Tracer

__all__ = ["Connection", "connect_origin"]

Connection = HTTP11Connection | HTTP2Connection


class _Negotiator(asyncio.Protocol):
    """Stands in until the TLS handshake is done, then hands over to the ALPN's protocol.

    ``connection_made`` comes after the handshake, so the negotiated protocol is
    known there; the transport is switched to the right connection before any
    byte of the server's is delivered.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.protocol: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        protocol: Connection
        protocol = HTTP2Connection(self.loop) if alpn == "h2" else HTTP11Connection(self.loop)
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
) -> Connection:
    """Open a connection to ``origin``: TLS for https, HTTP/2 when ALPN picks h2.

    ``prior_knowledge``: speak HTTP/2 over plain TCP (h2c) without asking.

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
            factory: type[asyncio.Protocol]
            if tls is not None:
                factory = _Negotiator
            elif prior_knowledge:
                factory = HTTP2Connection
            else:
                factory = HTTP11Connection
            _, made = await hyperhttp_dns.connect(
                addresses,
                lambda: factory(loop),
                ssl=tls,
                server_hostname=host if tls is not None else None,
            )
            connection = made.protocol if isinstance(made, _Negotiator) else made
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
