"""The end of a ``hyperhttp bench`` run leaves no transport behind (``cli/_engine.py``).

uvloop cannot close a loop that still has a live handle (``loop.close()``
raises EBUSY, or waits on the peer); the default loop warns of an unclosed
transport. So every connection the engine opened or was opening must be
closed before ``Engine.measure`` / ``Engine.aclose`` return, whatever state
it was in.

The hard case is a TLS connect that the end of the run cancels as its
handshake ends. With ``create_connection(ssl=...)`` the loop's TLS layer
then *closes* the transport gracefully (close_notify, then a wait of up to
30 s for the peer's), unknown to the engine; under uvloop it could also
close the socket under a TLS layer still reading ("Fatal error on SSL
protocol"). The server here completes handshakes and then says nothing, as a
peer slow to close would. The connect is cancelled from the protocol's
``connection_made`` (the moment the engine takes the connection), or from
the server's thread as its side of the handshake ends (wherever in the
client's that lands); the server answers the handshake at once or after
50 ms (then the connect is surely waiting on the TLS layer, not on TCP).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import time
from typing import TYPE_CHECKING

import pytest
from hyperhttp.cli import _engine
from hyperhttp.cli._bench import build_plan
from hyperhttp.cli._engine import Engine
from hyperhttp.cli._h1 import H1Connection
from hyperhttp.cli._h2 import H2Connection
from hyperhttp.cli._workers import loop_factory

from tests.conftest import _sockets
from tests.servers.tls_thread import ThreadedTLSPeer

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator

    from tests.servers.fixtures import TLSSetup


class SilentTLSServer(ThreadedTLSPeer):
    """Accept, complete the TLS handshake, then hold the connection without a byte more."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.delay = 0.0  # seconds between accepting and answering the handshake
        self.handshaken: Callable[[], None] | None = None  # called as each handshake ends
        super().__init__(context, "silent-tls")

    def serve(self, raw: socket.socket) -> None:
        raw.settimeout(5)
        time.sleep(self.delay)
        try:
            self.held.append(self.context.wrap_socket(raw, server_side=True))
        except (OSError, ssl.SSLError):
            return
        if self.handshaken is not None:
            self.handshaken()


@pytest.fixture
def silent_tls(tls: TLSSetup) -> Iterator[SilentTLSServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert = tls.ca.issue_cert("127.0.0.1")
    cert.configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"])
    server = SilentTLSServer(context)
    yield server
    server.stop()


def _client_sockets(port: int) -> set[int]:
    """Inodes of this process's TCP sockets whose peer is 127.0.0.1:``port`` (the client's side)."""
    ours = set()
    for entry in _sockets():
        ours.add(int(entry.split("socket:[", 1)[1].rstrip("]")))
    found = set()
    with open("/proc/self/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            inode = int(fields[9])
            if remote_port == port and inode in ours:
                found.add(inode)
    return found


@pytest.mark.parametrize("cancel_from", ["connection_made", "server"])
@pytest.mark.parametrize("delay", [0.0, 0.05], ids=["at-once", "after-50ms"])
@pytest.mark.parametrize("http2", [False, True], ids=["http11", "http2"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_connect_cancelled_as_its_handshake_ends_is_closed_before_the_end_returns(
    silent_tls: SilentTLSServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    loop: str,
    http2: bool,
    delay: float,
    cancel_from: str,
) -> None:
    """Cancelled as the handshake ends: aborted and lost before aclose returns, nothing logged.

    Before the fix the connection was registered only once create_connection
    returned, so ``aclose`` did not know of it and returned while its TLS
    shutdown waited on the silent server: the socket outlived the run.
    """
    silent_tls.delay = delay
    argv = [f"https://127.0.0.1:{silent_tls.port}/", "-k", "-n", "1", "--loop", loop]
    plan, _ = build_plan([*argv, "--http2"] if http2 else argv)
    made: list[object] = []
    lost: list[object] = []
    connecting: list[asyncio.Task[bool]] = []
    base = H2Connection if http2 else H1Connection

    class Probe(base):  # type: ignore[misc,valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            made.append(self)
            if cancel_from == "connection_made":
                connecting[0].cancel()  # the run ends now

        def connection_lost(self, exc: Exception | None) -> None:
            lost.append(self)
            super().connection_lost(exc)

    monkeypatch.setattr(_engine, "H2Connection" if http2 else "H1Connection", Probe)
    factory, _ = loop_factory(loop)

    async def scenario() -> None:
        running = asyncio.get_running_loop()
        engine = Engine(plan, running)
        engine.address = ("127.0.0.1", silent_tls.port)
        connecting.append(asyncio.create_task(engine._open()))
        if cancel_from == "server":

            def cancel_soon() -> None:
                running.call_soon_threadsafe(connecting[0].cancel)

            silent_tls.handshaken = cancel_soon
        with contextlib.suppress(asyncio.CancelledError):
            await connecting[0]
        try:
            await engine.aclose()
            assert not _client_sockets(silent_tls.port), "aclose returned with the socket open"
            assert lost == made, "aclose returned before the connection was lost"
        finally:
            # A failure leaves the TLS close waiting on the server; closing the
            # server's side ends it, or uvloop's loop.close() would wait for ever.
            silent_tls.stop()

    with caplog.at_level(logging.WARNING), asyncio.Runner(loop_factory=factory) as runner:
        runner.run(scenario())
    gc.collect()  # (a future whose exception nobody retrieved logs as it goes)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
