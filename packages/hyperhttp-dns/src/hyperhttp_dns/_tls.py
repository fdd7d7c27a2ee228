"""TLS on an open transport, the caller's from the first byte to the last: :func:`start_tls`.

Strategy
--------
``loop.create_connection(ssl=...)`` and ``loop.start_tls`` leave two gaps
that a client of many connections meets, on asyncio's loop and on uvloop:

1. *Cancelled as the handshake ends* (a timeout, a hedge's loser, the end of
   a load run), the loop's TLS layer closes the connection it never
   returned *gracefully*: close_notify, then up to 30 s waiting for the
   peer's, unknown to the caller (whose loop then cannot close cleanly:
   uvloop fails with EBUSY). Here the caller's raw transport is aborted on
   any exception, cancellation included: closed at once.
2. ``loop.start_tls`` does not call the protocol's ``connection_made``, and
   CPython's TLS layer hands application data that came with the
   handshake's last flight (TLS 1.2: a server's first bytes, such as HTTP/2's
   SETTINGS, in its Finished's segment) to the protocol *before*
   ``start_tls`` returns. Here a stand-in protocol holds whatever arrives
   until the caller's protocol is made; then the transport's protocol (the
   one after ``connection_made``: an ALPN negotiator may have handed over)
   is given what came, then what ended it, in order. An exception from the
   protocol there aborts the transport, as the loop's own delivery would.
   (Known difference: those held bytes are given even if the protocol
   paused reading in ``connection_made``.)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import ssl as ssl_module
    from collections.abc import Callable

__all__ = ["start_tls"]

P = TypeVar("P", bound=asyncio.BaseProtocol)


class _Holder(asyncio.Protocol):
    """Holds what the TLS layer reports before the caller's protocol is made (rule 2).

    Bounded by the loop, not by a count here: the waiter ``start_tls`` awaits
    is woken as the handshake ends, before the loop reads the socket again,
    so what is held is the rest of that one read (CPython reads at most
    256 KiB; uvloop delivers nothing before the hand-over).
    """

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.eof = False
        self.lost: tuple[Exception | None] | None = None
        self.target: asyncio.BaseProtocol | None = None  # after the hand-over, everything goes here

    def data_received(self, data: bytes) -> None:
        if self.target is not None:
            _deliver(self.target, data)
        else:
            self.data.append(data)

    def eof_received(self) -> None:
        # (Over TLS the transport closes on the peer's close_notify whatever
        # this returns, and the loops warn of a True.)
        if self.target is not None:  # (a call scheduled before the hand-over)
            _eof(self.target)
        else:
            self.eof = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.target is not None:
            self.target.connection_lost(exc)
        else:
            self.lost = (exc,)

    def hand_over(self, transport: asyncio.Transport, *, closed_by_protocol: bool) -> None:
        """Give what was held to the transport's protocol, in the order it came.

        ``closed_by_protocol``: the protocol closed the transport in its
        ``connection_made`` (an ALPN it refuses) and wants no bytes. (The
        transport alone says closing too when the peer's close_notify came
        with the handshake: then the bytes before it are still given.)
        """
        target = self.target = transport.get_protocol()
        if not closed_by_protocol:
            for data in self.data:
                _deliver(target, data)
            if self.eof:
                _eof(target)
        self.data.clear()
        if self.lost is not None:
            target.connection_lost(self.lost[0])


def _eof(protocol: asyncio.BaseProtocol) -> None:
    # (What it returns does not matter over TLS: the TLS layer closes on close_notify.)
    eof_received = getattr(protocol, "eof_received", None)
    if eof_received is not None:
        eof_received()


def _deliver(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """``data_received``, or for a BufferedProtocol as many ``get_buffer`` rounds as it takes."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view))).cast("B")
            n = min(len(buffer), len(view))
            if n == 0:
                raise RuntimeError("get_buffer() returned an empty buffer")
            buffer[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]
    else:
        protocol.data_received(data)  # type: ignore[attr-defined]  # a Protocol


async def start_tls(
    transport: asyncio.Transport,
    protocol_factory: Callable[[], P],
    ssl: ssl_module.SSLContext,
    *,
    server_hostname: str,
    ssl_handshake_timeout: float | None = None,
) -> tuple[asyncio.Transport, P]:
    """Handshake TLS over ``transport``, then make the protocol: like ``create_connection(ssl=)``.

    Unlike ``loop.start_tls``, the protocol's ``connection_made`` is called
    (before any byte of the server's reaches it), and whatever stops the
    handshake (an error, a timeout, cancellation) aborts ``transport`` at
    once instead of closing it gracefully (see the module docstring).

    Args:
        transport: a connected transport, its protocol not yet reading (a
            plain ``asyncio.Protocol`` from ``create_connection`` will do).
        protocol_factory: makes the protocol once the handshake is done.
        ssl: the client context (certificates, ALPN).
        server_hostname: for SNI and the certificate check.
        ssl_handshake_timeout: passed to ``loop.start_tls``.

    Returns:
        ``(tls_transport, protocol)``.

    Raises:
        ssl.SSLError: the handshake failed (an ``OSError``).
        ConnectionResetError: the connection closed during the handshake.

    """
    loop = asyncio.get_running_loop()
    holder = _Holder()
    try:
        tls = await loop.start_tls(
            transport,
            holder,
            ssl,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
        )
        if tls is None:  # (CPython: the connection ended as the handshake did)
            raise ConnectionResetError("the connection closed during the TLS handshake")
        protocol = protocol_factory()
    except BaseException:
        transport.abort()
        raise
    tls.set_protocol(protocol)
    closing = tls.is_closing()  # (the peer's close_notify may have come with the handshake)
    try:
        protocol.connection_made(tls)
        holder.hand_over(tls, closed_by_protocol=tls.is_closing() and not closing)
    except BaseException:  # a protocol's own error: the loop's delivery would close too
        tls.abort()
        raise
    return tls, protocol
