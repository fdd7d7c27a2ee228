"""Opening a connection through a SOCKS proxy: the handshake's I/O shell.

Strategy
--------
``_socks.SocksHandshake`` is the protocol (sans-IO); this module moves its
bytes and then hands the socket to HTTP:

1. Where names are resolved: ``socks5://`` and ``socks4://`` resolve the
   origin here (the client's resolver and its cache) and send one address:
   the first IPv4 one, else (SOCKS5) the first IPv6 one. One handshake
   names one address, so there is no Happy Eyeballs race through the proxy,
   and a proxy's way out is far more often IPv4 than IPv6 (``localhost``
   resolves to ::1 first, and a proxy bound to 127.0.0.1 cannot reach it).
   ``socks5h://`` and ``socks4a://`` send the name and the proxy resolves
   it (no DNS query from this host: what Tor and corporate proxies need).
2. The proxy itself is reached like any origin: resolved, raced (Happy
   Eyeballs), within the connect timeout. Every step until the tunnel
   carries HTTP is one ``"connect"`` error boundary: a refusal is a
   :class:`SocksError` naming the proxy and the reply code, a timeout a
   ``ConnectTimeout``, anything opened part way is aborted.
3. Inside the tunnel: https gets TLS with ALPN (HTTP/2 or HTTP/1.1), exactly
   as a direct connection; http gets HTTP/1.1 (or HTTP/2 with prior
   knowledge when the client has HTTP/1.1 off) in origin-form: unlike an
   HTTP proxy, a SOCKS proxy never sees a request line.
4. Bytes from the proxy after its final reply and before we sent anything
   are refused (a tunnel that talks first is not what we asked for; the
   same rule as for CONNECT).

The pool keys a connection through a proxy by (origin, proxy) (see
``_pool_transport``), so two SOCKS proxies, or a SOCKS proxy and a direct
route, never share a connection.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import time
from typing import TYPE_CHECKING

import hyperhttp_dns

from ._boundary import boundary
from ._exceptions import SocksError
from ._socks import SocksHandshake
from ._transport import _resolve, http_in_tunnel

if TYPE_CHECKING:
    import ssl

    from ._proxy import Proxy
    from ._socks import SocksKind
    from ._tracing import Tracer
    from ._transport import Connection

__all__ = ["connect_via_socks"]


class _SocksAnswer(asyncio.Protocol):
    """Runs the handshake on the proxy's transport until the tunnel is up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handshake: SocksHandshake) -> None:
        self.handshake = handshake
        self.ready: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.handshake.start())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.ready.done():  # rule 4: the tunnel talks before we did
            self._fail(self._early())
            return
        self._feed(data)

    def _early(self) -> SocksError:
        return SocksError(
            "the tunnel carried bytes before the request", version=self.handshake.version
        )

    def _feed(self, data: bytes) -> None:
        handshake = self.handshake
        try:
            reply = handshake.feed(data)
        except SocksError as exc:
            self._fail(exc)
            return
        if reply and self.transport is not None:
            self.transport.write(reply)
        if handshake.done:
            if handshake.trailing:  # rule 4
                self._fail(self._early())
            else:
                self.ready.set_result(None)

    def _fail(self, error: SocksError) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)
        elif self.transport is not None:  # after the tunnel was up: drop it
            self.transport.abort()

    def eof_received(self) -> bool:
        return False  # close: a half-open tunnel is of no use

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            try:
                self.handshake.feed(b"")  # the codec says what was cut, and where
            except SocksError as error:
                self.ready.set_exception(error)
            except RuntimeError:  # pragma: no cover - feed after done: the future is set
                pass
            if not self.ready.done():  # pragma: no cover - feed(b"") always raises
                self.ready.set_exception(
                    SocksError("the proxy closed the connection", version=self.handshake.version)
                )


async def connect_via_socks(
    origin: tuple[str, str, int],
    proxy: Proxy,
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    timeout: float | None,
    tracer: Tracer | None,
    *,
    prior_knowledge: bool = False,
    h2_windows: tuple[int, int],
) -> Connection:
    """Open a connection to ``origin`` through the SOCKS ``proxy`` (module docstring).

    Raises:
        SocksError: the proxy refused (its reply code), or broke the handshake.
        ConnectTimeout, ConnectError: the proxy, the name or TLS failed, or
            not within ``timeout``.

    """
    _, host, port = origin
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    opened: list[asyncio.Transport] = []
    try:
        with boundary("connect", target=f"{authority} through {proxy}", timeout=timeout):
            async with asyncio.timeout(timeout):
                return await _tunnel(
                    origin, proxy, resolver, context, tracer, prior_knowledge, h2_windows, opened
                )
    except SocksError as exc:
        for transport in reversed(opened):
            transport.abort()
        raise SocksError(
            f"the SOCKS proxy {proxy} (to {authority}): {exc}",
            version=exc.version,
            reply_code=exc.reply_code,
            auth_failed=exc.auth_failed,
        ) from None
    except BaseException:
        for transport in reversed(opened):
            transport.abort()
        raise


async def _target_host(
    proxy: Proxy, host: str, port: int, resolver: hyperhttp_dns.Resolver, tracer: Tracer | None
) -> str:
    """Return what the handshake names: the host, or (socks5, socks4) its address (rule 1)."""
    if proxy.scheme in ("socks5h", "socks4a"):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    addresses = await _resolve(resolver, host, port, tracer)
    ipv4 = [a.host for a in addresses if ":" not in a.host]
    if ipv4:
        return ipv4[0]
    if proxy.scheme == "socks4":
        raise SocksError(
            f"{host} has no IPv4 address, and socks4 carries IPv4 only (try socks4a)", version=4
        )
    return addresses[0].host


async def _tunnel(
    origin: tuple[str, str, int],
    proxy: Proxy,
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    tracer: Tracer | None,
    prior_knowledge: bool,
    h2_windows: tuple[int, int],
    opened: list[asyncio.Transport],
) -> Connection:
    """Handshake with the proxy, then HTTP inside (rule 3); each transport joins ``opened``."""
    loop = asyncio.get_running_loop()
    _, host, port = origin
    began = time.perf_counter()
    if tracer is not None:
        tracer("proxy.connect", {"proxy": str(proxy), "origin": origin})
    target = await _target_host(proxy, host, port, resolver, tracer)
    kind: SocksKind = proxy.scheme  # type: ignore[assignment]
    try:  # (the password is never a local here: nothing keeps it in a traceback)
        handshake = SocksHandshake(kind, target, port, *proxy.socks_credentials())
    except ValueError as exc:
        raise SocksError(str(exc), version=5 if kind.startswith("socks5") else 4) from None
    addresses = await resolver.resolve(proxy.origin[1], proxy.origin[2])
    transport, answering = await hyperhttp_dns.connect(
        addresses, functools.partial(_SocksAnswer, loop, handshake)
    )
    opened.append(transport)
    await answering.ready
    if transport.is_closing():  # closed (or talked first) after its final reply
        raise SocksError(
            "the proxy closed the tunnel before the request", version=handshake.version
        )
    return await http_in_tunnel(
        transport,
        origin,
        proxy,
        context,
        tracer,
        h2_windows,
        opened,
        began=began,
        prior_knowledge=prior_knowledge,
    )
