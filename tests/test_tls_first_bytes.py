"""A server's first bytes that arrive with the end of the TLS handshake are not lost.

Under TLS 1.2 the server's Finished is the handshake's last flight, and an
HTTP/2 server may send its SETTINGS in the same segment. CPython's TLS
layer hands such bytes to the protocol before ``loop.start_tls`` returns;
the client's ALPN negotiator (a stand-in until the protocol is known) used
to drop them, so a connection through a CONNECT tunnel waited for SETTINGS
that had come and gone. The server here sends its SETTINGS in the very
write that carries its Finished, then serves HTTP/2: a real h2 peer with
the timing made exact.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hyperhttp
import pytest
from hyperhttp.cli import ExitStatus, main

from tests.servers.connect_proxy import ConnectProxy
from tests.servers.tls_thread import ThreadedTLSPeer

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator

    from tests.servers.fixtures import TLSSetup


class CoalescingH2Server(ThreadedTLSPeer):
    """TLS 1.2 + HTTP/2 in a thread: SETTINGS in the Finished's write, then 200 ``ok`` each."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.served = 0
        super().__init__(context, "coalescing-h2")

    def serve(self, raw: socket.socket) -> None:
        raw.settimeout(0.05)
        with contextlib.suppress(OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            self._connection(raw)
        raw.close()

    def _recv(self, raw: socket.socket) -> bytes | None:
        """Bytes, b"" at the end, None when nothing came within 50 ms."""
        try:
            return raw.recv(65536)
        except TimeoutError:
            return None

    def _connection(self, raw: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)
        for _ in range(100):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                chunk = self._recv(raw)
                if chunk == b"":
                    return
                incoming.write(chunk or b"")
        else:
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        tls.write(conn.data_to_send())
        raw.sendall(outgoing.read())  # Finished and SETTINGS: one write
        for _ in range(200):  # at most 200 x 50 ms per connection
            if self.stopping.is_set():
                return
            chunk = self._recv(raw)
            if chunk == b"":
                return
            if chunk:
                incoming.write(chunk)
            plain = b""
            with contextlib.suppress(ssl.SSLWantReadError):
                while True:
                    piece = tls.read(65536)
                    if not piece:
                        break
                    plain += piece
            for event in conn.receive_data(plain) if plain else []:
                if isinstance(event, h2.events.RequestReceived):
                    conn.send_headers(event.stream_id, [(":status", "200")])
                    conn.send_data(event.stream_id, b"ok", end_stream=True)
                    self.served += 1
            out = conn.data_to_send()
            if out:
                tls.write(out)
            pending = outgoing.read()
            if pending:
                raw.sendall(pending)


@pytest.fixture
def coalescing_h2(tls: TLSSetup) -> Iterator[CoalescingH2Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("127.0.0.1").configure_cert(context)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    server = CoalescingH2Server(context)
    yield server
    server.stop()


@pytest.mark.asyncio
async def test_settings_with_the_finished_direct(
    coalescing_h2: CoalescingH2Server, tls: TLSSetup
) -> None:
    """Straight to the server: HTTP/2, 200."""
    async with hyperhttp.Client(verify=tls.ca_path, timeout=5) as client:
        response = await client.get(f"https://127.0.0.1:{coalescing_h2.port}/")
    assert (response.status_code, response.http_version, response.content) == (
        200,
        "HTTP/2",
        b"ok",
    )


@pytest.mark.asyncio
async def test_settings_with_the_finished_through_a_connect_tunnel(
    coalescing_h2: CoalescingH2Server, tls: TLSSetup
) -> None:
    """Through a CONNECT proxy (TLS inside the tunnel): HTTP/2, 200. Before: a connect timeout."""
    async with (
        ConnectProxy() as proxy,
        hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path, timeout=5) as client,
    ):
        response = await client.get(f"https://127.0.0.1:{coalescing_h2.port}/")
    assert (response.status_code, response.http_version, response.content) == (
        200,
        "HTTP/2",
        b"ok",
    )


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_settings_with_the_finished_in_hyperhttp_bench(
    coalescing_h2: CoalescingH2Server,
    tls: TLSSetup,
    capsys: pytest.CaptureFixture[str],
    loop: str,
) -> None:
    """The load generator's HTTP/2 connections too (its own engine, ``cli/_engine.py``)."""
    url = f"https://127.0.0.1:{coalescing_h2.port}/"
    argv = ["bench", url, "--http2", "-n", "5", "-c", "1", "--timeout", "5"]
    status = main([*argv, "--cacert", tls.ca_path, "--loop", loop, "--json", "-q"])
    out, err = capsys.readouterr()
    assert status == ExitStatus.OK, err
    report = json.loads(out)
    assert (report["responses"], report["errors"]) == (5, {})
