"""A scripted SOCKS server on loopback, for refusals and hostile replies (in the test's loop).

What it does
------------
Every connection plays the current script: for each step it reads the
client's next SOCKS message (unless the step says not to), waits the step's
delay, and sends the step's bytes exactly, whatever they are; then it ends
as the script says:

- ``then="close"`` (the default): close the connection, gently: our side is
  ended first and what the client still sends is read (for at most
  :data:`LINGER_TIME`), so that no reset throws away what we sent;
- ``then="hold"``: keep it open, reading and dropping what the client sends,
  until the client closes or the server is closed (a proxy gone silent);
- ``then="relay"``: connect to ``relay_to`` (or, without it, to the
  destination of the client's request) and copy bytes both ways, as a real
  proxy's tunnel does; only 127.0.0.1, ::1 and localhost are reached.

The client's messages are read by their structure (nothing is validated):
on a connection's first message a first byte 0x05 is a SOCKS5 greeting
(VER NMETHODS METHODS, RFC 1928 §3) and 0x04 a SOCKS4 request (VN CD DSTPORT
DSTIP USERID NUL, and for SOCKS4A a NUL-ended name); later, 0x01 is an
RFC 1929 username/password request and 0x05 a SOCKS5 request (RFC 1928 §4).
Anything else ends the script: what was read is recorded and the connection
closed. Each read is bounded (:data:`MAX_FIELD`).

API
---
``server.script(*steps, then="close", relay_to=None)`` sets what every later
connection plays; a step is ``bytes`` (read one message, then send them) or
a :class:`Step`. :func:`socks5_reply` and :func:`socks4_reply` build replies.
Recorded: ``received`` (per connection, the client's messages in order,
bytes as read), ``requested`` (the (host, port) of each CONNECT request
read), ``relayed`` (the targets tunnels were opened to) and ``connections``.

``aclose()`` (or leaving ``async with``, or the ``socks_scripted`` fixture's
end) aborts every connection it opened and waits for its handlers, so nothing
is left for the leak checks in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import TracebackType

__all__ = [
    "ALLOWED_TARGETS",
    "ScriptedSocks",
    "Step",
    "socks4_reply",
    "socks5_reply",
    "socks_scripted",
]

#: Where a relay may go: loopback only.
ALLOWED_TARGETS = frozenset({"127.0.0.1", "::1", "localhost"})
#: The longest NUL-ended field read (SOCKS4 USERID, SOCKS4A name).
MAX_FIELD = 1024
#: One read from a socket while relaying or holding.
READ_SIZE = 64 * 1024
#: How long a closing connection keeps reading what the client still sends.
LINGER_TIME = 1.0
#: How long aclose() lets handlers finish after their connections were aborted.
CLOSE_GRACE = 5.0

Then = Literal["close", "hold", "relay"]


@dataclass(frozen=True)
class Step:
    """One step of a script: read the client's next message (``read``), wait ``delay`` s, send."""

    send: bytes
    read: bool = True
    delay: float = 0.0


def socks5_reply(
    code: int = 0x00, host: str = "127.0.0.1", port: int = 0, *, reserved: int = 0x00
) -> bytes:
    """Build a SOCKS5 reply (RFC 1928 §6): VER REP RSV ATYP BND.ADDR BND.PORT.

    ``host`` is an IPv4 or IPv6 literal, or else a name (ATYP 3).
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("ascii")
        bound = bytes((0x03, len(name))) + name
    else:
        bound = bytes((0x01 if address.version == 4 else 0x04,)) + address.packed
    return bytes((0x05, code, reserved)) + bound + port.to_bytes(2, "big")


def socks4_reply(code: int = 90, host: str = "0.0.0.0", port: int = 0) -> bytes:  # noqa: S104
    """Build a SOCKS4 reply: VN=0 CD DSTPORT DSTIP (90 granted, 91-93 refused)."""
    return bytes((0x00, code)) + port.to_bytes(2, "big") + ipaddress.IPv4Address(host).packed


class _Unreadable(Exception):
    """The client sent something that is no SOCKS message: end the script."""

    def __init__(self, data: bytes) -> None:
        super().__init__(f"no SOCKS message starts with {data!r}")
        self.data = data


class ScriptedSocks:
    """A scripted SOCKS server on 127.0.0.1; use as ``async with ScriptedSocks() as server``."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.connections = 0
        self.received: list[list[bytes]] = []
        self.requested: list[tuple[str, int]] = []
        self.relayed: list[tuple[str, int]] = []
        self._steps: tuple[Step, ...] = ()
        self._then: Then = "close"
        self._relay_to: tuple[str, int] | None = None
        self._server: asyncio.Server | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def script(
        self,
        *steps: bytes | Step,
        then: Then = "close",
        relay_to: tuple[str, int] | None = None,
    ) -> None:
        """Set the script every later connection plays.

        Args:
            steps: each ``bytes`` reads the client's next message, then sends
                them; a :class:`Step` may skip the read or wait first.
            then: after the steps: ``"close"``, ``"hold"`` or ``"relay"``.
            relay_to: the relay's target; None: the client's requested one.

        """
        if then not in ("close", "hold", "relay"):
            raise ValueError(f"then must be close, hold or relay, not {then!r}")
        if relay_to is not None and relay_to[0] not in ALLOWED_TARGETS:
            raise ValueError(f"the scripted server relays to loopback only, not {relay_to!r}")
        self._steps = tuple(step if isinstance(step, Step) else Step(step) for step in steps)
        self._then = then
        self._relay_to = relay_to

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> ScriptedSocks:
        """Listen on 127.0.0.1, port 0."""
        self._server = await asyncio.start_server(self._handle, self.host, 0, limit=MAX_FIELD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        """Stop listening, abort every connection, wait for the handlers."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        await asyncio.sleep(0)  # connections accepted just now start and see _closing
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=CLOSE_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ScriptedSocks:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ one connection

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        messages: list[bytes] = []
        self.received.append(messages)
        steps, then, target = self._steps, self._then, self._relay_to
        try:
            if self._closing:
                return
            for step in steps:
                if step.read:
                    message, requested = await self._read_message(reader, first=not messages)
                    messages.append(message)
                    if requested is not None:
                        self.requested.append(requested)
                        target = self._relay_to or requested
                if step.delay:
                    await asyncio.sleep(step.delay)
                writer.write(step.send)
                await writer.drain()
            if then == "hold":
                while await reader.read(READ_SIZE):
                    pass
            elif then == "close":
                await _linger(reader, writer)
            elif target is not None and target[0] in ALLOWED_TARGETS:
                await self._relay(reader, writer, target)
        except _Unreadable as exc:
            messages.append(exc.data)  # no SOCKS message: recorded, and the connection dropped
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # the client went away: drop the connection
        finally:
            await self._close(writer)
            self._tasks.discard(task)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        self._writers.discard(writer)

    async def _read_message(
        self, reader: asyncio.StreamReader, *, first: bool
    ) -> tuple[bytes, tuple[str, int] | None]:
        """Read one client message by its structure (see the module docstring).

        Return it, and the (host, port) it asks to connect to when it is a request.
        """
        head = await reader.readexactly(1)
        kind = head[0]
        if first and kind == 0x05:  # RFC 1928 §3: VER NMETHODS METHODS
            count = await reader.readexactly(1)
            return head + count + await reader.readexactly(count[0]), None
        if first and kind == 0x04:  # SOCKS4: VN CD DSTPORT DSTIP USERID NUL [name NUL]
            fixed = await reader.readexactly(7)
            userid = await reader.readuntil(b"\x00")
            port, address = int.from_bytes(fixed[1:3], "big"), fixed[3:7]
            if address[:3] == b"\x00\x00\x00" and address[3] != 0:  # SOCKS4A
                name = await reader.readuntil(b"\x00")
                host = name[:-1].decode("ascii", "replace")
                return head + fixed + userid + name, (host, port)
            return head + fixed + userid, (str(ipaddress.IPv4Address(address)), port)
        if not first and kind == 0x01:  # RFC 1929 §2: VER ULEN UNAME PLEN PASSWD
            ulen = await reader.readexactly(1)
            uname = await reader.readexactly(ulen[0])
            plen = await reader.readexactly(1)
            return head + ulen + uname + plen + await reader.readexactly(plen[0]), None
        if not first and kind == 0x05:  # RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT
            fixed = await reader.readexactly(3)
            atyp = fixed[2]
            if atyp == 0x03:
                length = await reader.readexactly(1)
                address = length + await reader.readexactly(length[0])
                host = address[1:].decode("ascii", "replace")
            elif atyp in (0x01, 0x04):
                address = await reader.readexactly(4 if atyp == 0x01 else 16)
                host = str(ipaddress.ip_address(address))
            else:
                raise _Unreadable(head + fixed)
            port_bytes = await reader.readexactly(2)
            return head + fixed + address + port_bytes, (host, int.from_bytes(port_bytes, "big"))
        raise _Unreadable(head)

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: tuple[str, int]
    ) -> None:
        upstream_reader, upstream = await asyncio.open_connection(*target, limit=READ_SIZE)
        self._writers.add(upstream)
        self.relayed.append(target)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pump(reader, upstream, writer))
                group.create_task(_pump(upstream_reader, writer, upstream))
        finally:
            await self._close(upstream)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """End our side, then read until the client closes (briefly).

    A close with unread input sends RST, and the client could lose the reply
    it has not read yet.
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(LINGER_TIME):
            while await reader.read(READ_SIZE):
                pass


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, source_writer: asyncio.StreamWriter
) -> None:
    """Copy one direction of a tunnel; pass its end on as a half-close."""
    try:
        while data := await source.read(READ_SIZE):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, RuntimeError):  # a reset, or writing after the peer left: end both ways
        sink.transport.abort()
        source_writer.transport.abort()


@pytest_asyncio.fixture
async def socks_scripted() -> AsyncIterator[ScriptedSocks]:
    """Serve a scripted SOCKS server on 127.0.0.1 (no script: reads nothing and closes)."""
    async with ScriptedSocks() as server:
        yield server
