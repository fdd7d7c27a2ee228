"""RFC 8305 Happy Eyeballs v2: race TCP connects over a name's addresses.

Strategy
--------
1. Order (RFC 8305 §4): addresses are grouped by family, IPv6 first, and
   interleaved: ``first_family_count`` IPv6 addresses, then one IPv4, then
   alternating. Order within a family is kept (getaddrinfo already sorted it
   by RFC 6724).
2. Stagger (§5): attempt n+1 starts ``attempt_delay`` after attempt n
   started, or at once when an attempt fails; earlier attempts keep running.
3. Winner: the first TCP connection to complete. Every other attempt is
   cancelled; a socket that completed meanwhile is closed. TLS is
   handshaken on the winner only, by :func:`~._tls.start_tls` (aborted, not
   closed gracefully, when cancelled; the protocol made before any byte).
4. Failure: when every attempt failed, one :class:`ConnectError` lists each
   address with its error. Cancelling the caller cancels every attempt.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import TYPE_CHECKING, TypeVar

from ._errors import ConnectError
from ._tls import start_tls

if TYPE_CHECKING:
    import ssl as ssl_module
    from collections.abc import Awaitable, Callable, Sequence

    from ._cache import Address

__all__ = ["connect", "interleave", "open_tcp_socket"]

T = TypeVar("T")
P = TypeVar("P", bound=asyncio.BaseProtocol)

#: RFC 8305 §8: "the recommended value for the Connection Attempt Delay is 250 ms".
DEFAULT_ATTEMPT_DELAY = 0.25


def interleave(addresses: Sequence[Address], first_family_count: int = 1) -> list[Address]:
    """Order addresses for Happy Eyeballs (RFC 8305 §4): IPv6 first, families alternating.

    Args:
        addresses: as resolved.
        first_family_count: how many IPv6 addresses go before the first IPv4 one.

    """
    if first_family_count < 1:
        raise ValueError(f"first_family_count must be >= 1, got {first_family_count}")
    v6 = [a for a in addresses if a.family == socket.AF_INET6]
    v4 = [a for a in addresses if a.family != socket.AF_INET6]
    if not v6 or not v4:
        return list(addresses)
    ordered = v6[:first_family_count]
    rest6 = v6[first_family_count:]
    for i in range(max(len(rest6), len(v4))):
        if i < len(v4):
            ordered.append(v4[i])
        if i < len(rest6):
            ordered.append(rest6[i])
    return ordered


async def open_tcp_socket(address: Address) -> socket.socket:
    """Open a non-blocking TCP socket connected to ``address`` (closed on failure)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(address.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


async def race(
    addresses: Sequence[Address],
    attempt: Callable[[Address], Awaitable[T]],
    close: Callable[[T], object],
    attempt_delay: float,
) -> tuple[T, Address]:
    """Run staggered attempts; return the first success and its address (rules 2-4)."""
    loop = asyncio.get_running_loop()
    running: dict[asyncio.Future[T], int] = {}
    failures: list[tuple[int, BaseException]] = []
    started = 0
    winner: tuple[T, Address] | None = None
    try:
        while True:
            if started < len(addresses):
                running[asyncio.ensure_future(attempt(addresses[started]), loop=loop)] = started
                started += 1
            if not running:
                break
            done, _ = await asyncio.wait(
                running,
                timeout=attempt_delay if started < len(addresses) else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for future in sorted(done, key=running.__getitem__):  # earliest started first
                index = running.pop(future)
                error = future.exception()
                if error is not None:
                    failures.append((index, error))
                elif winner is None:
                    winner = (future.result(), addresses[index])
                else:  # two finished together: keep the earlier one
                    close(future.result())
            if winner is not None:
                return winner
    finally:
        if running:  # the winner's rivals, or everything when the caller was cancelled
            for future in running:
                future.cancel()  # (one that completes anyway is closed as it does)
                future.add_done_callback(functools.partial(_close_result, close))
            try:
                await asyncio.wait(running)
            except BaseException:  # cancelled while they wind down: the winner goes too
                if winner is not None:
                    close(winner[0])
                raise
    failures.sort(key=lambda failure: failure[0])
    raise ConnectError([(addresses[index], error) for index, error in failures])


def _close_result(close: Callable[[T], object], future: asyncio.Future[T]) -> None:
    if not future.cancelled() and future.exception() is None:
        close(future.result())


async def connect(
    addresses: Sequence[Address],
    protocol_factory: Callable[[], P],
    *,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    attempt_delay: float = DEFAULT_ATTEMPT_DELAY,
    first_family_count: int = 1,
    interleave_families: bool = True,
    ssl_handshake_timeout: float | None = None,
    open_socket: Callable[[Address], Awaitable[socket.socket]] = open_tcp_socket,
) -> tuple[asyncio.Transport, P]:
    """Connect to the first address that answers (RFC 8305), like ``loop.create_connection``.

    Args:
        addresses: where to connect, as a resolver returned them.
        protocol_factory: builds the protocol of the winning connection.
        ssl: handshake TLS with this context on the winning connection only.
        server_hostname: the name for SNI and certificate checks (required with ``ssl``).
        attempt_delay: seconds between the starts of two attempts (RFC 8305 §5).
        first_family_count: IPv6 addresses tried before the first IPv4 one.
        interleave_families: False keeps ``addresses`` in the given order.
        ssl_handshake_timeout: passed to ``loop.start_tls``.
        open_socket: opens one connected socket (injectable for tests).

    Returns:
        ``(transport, protocol)``.

    Raises:
        ConnectError: every attempt failed (lists each address and its error).
        ValueError: no address, a negative delay, or ``ssl`` without ``server_hostname``.

    """
    if not addresses:
        raise ValueError("addresses must not be empty")
    if isinstance(attempt_delay, bool) or not isinstance(attempt_delay, (int, float)):
        raise TypeError(f"attempt_delay must be a number of seconds, not {attempt_delay!r}")
    if attempt_delay < 0:
        raise ValueError(f"attempt_delay must be >= 0, got {attempt_delay}")
    if ssl is not None and not server_hostname:
        raise ValueError("server_hostname is required with ssl")
    ordered = interleave(addresses, first_family_count) if interleave_families else addresses
    sock, _ = await race(ordered, open_socket, _close_socket, float(attempt_delay))
    loop = asyncio.get_running_loop()
    try:
        if ssl is None:
            return await loop.create_connection(protocol_factory, sock=sock)
        transport, _ = await loop.create_connection(asyncio.Protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    # The socket is the transport's now: start_tls aborts it if the handshake does not end well.
    assert server_hostname is not None  # (checked above)
    return await start_tls(
        transport,
        protocol_factory,
        ssl,
        server_hostname=server_hostname,
        ssl_handshake_timeout=ssl_handshake_timeout,
    )


def _close_socket(sock: socket.socket) -> None:
    sock.close()
