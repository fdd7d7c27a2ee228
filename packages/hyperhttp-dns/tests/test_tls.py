"""TLS on an open connection: ``start_tls`` and ``connect(ssl=...)`` (``_tls.py``).

Real TLS peers on loopback, each a thread with a blocking socket:

- a *silent* server completes the handshake, then says nothing (a peer slow
  to close: it never answers close_notify);
- a *coalescing* server (TLS 1.2) sends its first application bytes in the
  same write as its Finished, so they arrive with the handshake's end.

The moment "the handshake has ended, the caller has not resumed" is chosen
exactly with the client context's ``sslobject_class`` (documented in the ssl
module): its ``do_handshake`` cancels the connecting task when it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from hyperhttp_dns import Address, connect, start_tls
from hyperhttp_dns._tls import _Holder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HELLO = b"first bytes, with the Finished"


class TLSPeer:
    """A TLS server thread: one connection at a time, bounded in count and time."""

    def __init__(
        self, context: ssl.SSLContext, *, coalesce: bytes | None = None, close_notify: bool = False
    ) -> None:
        self.context = context
        self.coalesce = coalesce
        self.close_notify = close_notify  # and a close_notify in the same write
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="tls-peer", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(400):  # at most 400 x 50 ms
            if self.stopping.is_set():
                return
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            self.held.append(raw)
            with contextlib.suppress(OSError, ssl.SSLError):
                if self.coalesce is None:
                    self.held.append(self.context.wrap_socket(raw, server_side=True))
                else:
                    self._handshake_then_send_at_once(raw, self.coalesce)

    def _handshake_then_send_at_once(self, raw: socket.socket, data: bytes) -> None:
        """Handshake over memory BIOs; then send the Finished flight and ``data`` in one write."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)
        for _ in range(20):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                chunk = raw.recv(65536)
                if not chunk:
                    return
                incoming.write(chunk)
        tls.write(data)
        if self.close_notify:
            with contextlib.suppress(ssl.SSLWantReadError):
                tls.unwrap()
        raw.sendall(outgoing.read())  # Finished and the data: one segment on loopback

    def stop(self) -> None:
        """Stop accepting; close every connection held (again: nothing more)."""
        self.stopping.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.listener.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, *, tls12: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def _client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def silent_peer(ca: trustme.CA) -> Iterator[TLSPeer]:
    peer = TLSPeer(_server_context(ca))
    yield peer
    peer.stop()


@pytest.fixture
def coalescing_peer(ca: trustme.CA) -> Iterator[TLSPeer]:
    peer = TLSPeer(_server_context(ca, tls12=True), coalesce=HELLO)
    yield peer
    peer.stop()


@pytest.fixture
def closing_peer(ca: trustme.CA) -> Iterator[TLSPeer]:
    """TLS 1.2: the Finished, the first bytes and a close_notify in one write."""
    peer = TLSPeer(_server_context(ca, tls12=True), coalesce=HELLO, close_notify=True)
    yield peer
    peer.stop()


class Recorder(asyncio.Protocol):
    """Records what it is told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.events.append(("made", None))

    def data_received(self, data: bytes) -> None:
        self.events.append(("data", data))

    def eof_received(self) -> None:
        self.events.append(("eof", None))

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))


class BufferedRecorder(asyncio.BufferedProtocol):
    """The same for a BufferedProtocol (hyperhttp's HTTP/1.1 connection is one)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.buffer = bytearray(7)  # small: what is held is given in pieces

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.events.append(("made", None))

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def eof_received(self) -> None:
        self.events.append(("eof", None))

    def buffer_updated(self, nbytes: int) -> None:
        if self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + bytes(self.buffer[:nbytes]))
        else:
            self.events.append(("data", bytes(self.buffer[:nbytes])))

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))


def _cancelling_context(ca: trustme.CA, task: Callable[[], asyncio.Task[Any]]) -> ssl.SSLContext:
    """Return a client context whose handshake, as it succeeds, cancels ``task()``."""

    class Cancelling(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            task().cancel()

    context = _client_context(ca)
    context.sslobject_class = Cancelling
    return context


def _live_timers(loop: asyncio.AbstractEventLoop) -> list[Any]:
    # BaseEventLoop keeps its timers in _scheduled (uvloop has no such list).
    return [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]


async def _turns(condition: Callable[[], bool], turns: int = 100) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)


# ---------------------------------------------------------------- cancelled as the handshake ends


@pytest.mark.asyncio
async def test_connect_cancelled_as_the_handshake_ends_aborts_at_once(
    ca: trustme.CA, silent_peer: TLSPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """No graceful TLS close left running: nothing scheduled, nothing logged, the peer sees it end.

    Before: ``create_connection(ssl=...)`` closed it gracefully (close_notify,
    then a 30 s timer waiting on the silent peer) and ``connect`` closed the
    socket under that live transport.
    """
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Any]] = []
    context = _cancelling_context(ca, lambda: tasks[0])
    address = Address(socket.AF_INET, "127.0.0.1", silent_peer.port)
    tasks.append(
        asyncio.create_task(connect([address], Recorder, ssl=context, server_hostname="127.0.0.1"))
    )
    try:
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        await _turns(lambda: not _live_timers(loop))
        assert not _live_timers(loop), "a TLS close is still waiting on the peer"
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        silent_peer.stop()  # (a failure leaves a close waiting on the peer: end it)


@pytest.mark.asyncio
async def test_start_tls_cancelled_as_the_handshake_ends_aborts_the_transport(
    ca: trustme.CA, silent_peer: TLSPeer
) -> None:
    """The raw transport is aborted: lost within a few loop turns, the protocol never made."""
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", silent_peer.port)
    tasks: list[asyncio.Task[Any]] = []
    context = _cancelling_context(ca, lambda: tasks[0])
    made: list[Recorder] = []

    def factory() -> Recorder:
        made.append(Recorder())
        return made[-1]

    tasks.append(asyncio.create_task(start_tls(raw, factory, context, server_hostname="127.0.0.1")))
    try:
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        assert raw.is_closing()
        await _turns(lambda: not _live_timers(loop))
        assert not _live_timers(loop)
        assert made == []  # cancelled before the protocol was made
    finally:
        silent_peer.stop()


# ---------------------------------------------------------------- what came with the handshake


async def _expect_made_then_hello(transport: asyncio.Transport, events: list[Any]) -> None:
    """Assert the protocol was made, then got HELLO; then abort and see it lost."""
    try:
        await _turns(lambda: len(events) >= 2 and events[1][1] == HELLO, 1000)
        assert events[:2] == [("made", None), ("data", HELLO)]
    finally:
        transport.abort()
        await _turns(lambda: events[-1][0] == "lost")
    assert events[-1][0] == "lost"


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [Recorder, BufferedRecorder])
async def test_bytes_with_the_last_handshake_flight_come_after_connection_made(
    ca: trustme.CA, coalescing_peer: TLSPeer, protocol: type[asyncio.BaseProtocol]
) -> None:
    """TLS 1.2, the server's first bytes in the Finished's segment: made first, then the bytes.

    (CPython's TLS layer delivers them before ``loop.start_tls`` returns, to
    whatever protocol it holds then.)
    """
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", coalescing_peer.port)
    transport, made = await start_tls(
        raw, protocol, _client_context(ca), server_hostname="127.0.0.1"
    )
    assert transport.get_protocol() is made
    assert transport.get_extra_info("ssl_object").version() == "TLSv1.2"
    await _expect_made_then_hello(transport, made.events)  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_connect_over_tls_12_gives_the_first_bytes_after_connection_made(
    ca: trustme.CA, coalescing_peer: TLSPeer
) -> None:
    """The same through ``connect(ssl=...)``."""
    address = Address(socket.AF_INET, "127.0.0.1", coalescing_peer.port)
    transport, made = await connect(
        [address], Recorder, ssl=_client_context(ca), server_hostname="127.0.0.1"
    )
    await _expect_made_then_hello(transport, made.events)


@pytest.mark.asyncio
async def test_a_protocol_that_hands_over_in_connection_made_gets_the_bytes_in_its_successor(
    ca: trustme.CA, coalescing_peer: TLSPeer
) -> None:
    """What came is given to the transport's protocol *after* connection_made (ALPN negotiators)."""
    successor = Recorder()

    class Negotiator(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.set_protocol(successor)
            successor.connection_made(transport)

    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", coalescing_peer.port)
    transport, _ = await start_tls(
        raw, Negotiator, _client_context(ca), server_hostname="127.0.0.1"
    )
    await _expect_made_then_hello(transport, successor.events)


@pytest.mark.asyncio
async def test_a_failed_handshake_raises_ssl_error_and_ends_the_transport(
    silent_peer: TLSPeer,
) -> None:
    """An untrusted certificate: SSLError (an OSError), the raw transport closing.

    (Both loops close it themselves here; what start_tls adds, the abort of
    a handshake cut short, is the cancellation test's.)
    """
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", silent_peer.port)
    with pytest.raises(ssl.SSLError):
        await start_tls(raw, Recorder, ssl.create_default_context(), server_hostname="127.0.0.1")
    assert raw.is_closing()


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [Recorder, BufferedRecorder])
async def test_bytes_and_close_notify_with_the_finished_all_reach_the_protocol(
    ca: trustme.CA,
    closing_peer: TLSPeer,
    caplog: pytest.LogCaptureFixture,
    protocol: type[asyncio.BaseProtocol],
) -> None:
    """Made, the bytes, the end, the loss: in order, nothing logged (as create_connection(ssl=)).

    Before: CPython marks the transport closing on the close_notify before
    start_tls returns, and the hand-over took that for the protocol closing
    it in connection_made: the bytes and the end were dropped. And the
    stand-in's ``eof_received`` returned True, which the TLS layer warns of.
    """
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", closing_peer.port)
    transport, made = await start_tls(
        raw, protocol, _client_context(ca), server_hostname="127.0.0.1"
    )
    events: list[tuple[str, Any]] = made.events  # type: ignore[attr-defined]
    try:
        await _turns(lambda: bool(events) and events[-1][0] == "lost", 1000)
        assert [name for name, _ in events] == ["made", "data", "eof", "lost"]
        assert events[1][1] == HELLO
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        transport.abort()


class _Raising(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        raise ValueError("a protocol's own bug")


@pytest.mark.asyncio
async def test_a_protocol_raising_on_the_held_bytes_leaves_no_connection_open(
    ca: trustme.CA, coalescing_peer: TLSPeer
) -> None:
    """The error propagates and the transport is aborted (the loop's own delivery closes too).

    Before (CPython, where the bytes are held): start_tls raised with the TLS
    transport open and nobody holding it.
    """
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", coalescing_peer.port)
    made: list[_Raising] = []

    def factory() -> _Raising:
        made.append(_Raising())
        return made[-1]

    try:
        transport, _ = await start_tls(
            raw, factory, _client_context(ca), server_hostname="127.0.0.1"
        )
    except ValueError:  # CPython: the held bytes, given in start_tls
        assert raw.is_closing()
    else:  # uvloop: given by the loop after start_tls returned; it closes the transport
        await _turns(transport.is_closing, 1000)
        assert transport.is_closing()
    assert len(made) == 1


# ---------------------------------------------------------------- the stand-in, directly


class _Transport:
    """The one call ``hand_over`` makes of a transport."""

    def __init__(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol


def test_the_stand_in_gives_what_it_held_in_order_then_forwards() -> None:
    """Data, end of stream, loss: given in order; a call scheduled before the hand-over follows."""
    holder = _Holder()
    holder.data_received(b"a")
    holder.data_received(b"b")
    holder.eof_received()  # (returns None: over TLS the transport closes whatever it says)
    error = ConnectionResetError()
    holder.connection_lost(error)
    target = Recorder()
    holder.hand_over(_Transport(target), closed_by_protocol=False)  # type: ignore[arg-type]
    assert target.events == [("data", b"a"), ("data", b"b"), ("eof", None), ("lost", error)]
    holder.data_received(b"c")
    assert target.events[-1] == ("data", b"c")


def test_the_stand_in_gives_nothing_to_a_protocol_that_closed_its_transport() -> None:
    """A protocol that closed the transport in connection_made (ALPN refused) gets no bytes."""
    holder = _Holder()
    holder.data_received(b"a")
    target = Recorder()
    holder.hand_over(_Transport(target), closed_by_protocol=True)  # type: ignore[arg-type]
    assert target.events == []
