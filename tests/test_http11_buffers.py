"""HTTP/1.1 reads into reused buffers: bodies read directly, split anywhere, bounded.

The connection is a buffered protocol on both loops: reads land in one
buffer per thread, and a large Content-Length body read whole goes straight
into a buffer of its size (hyperhttp/_http11.py, module docstring). These
tests hold it to the same answers as before whatever the read boundaries,
and to its bounds: idle connections hold no buffer, streams stay flat,
hostile servers get nothing past the limits.
"""

from __future__ import annotations

import asyncio
import random
import resource
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from hyperhttp import _http11
from hyperhttp._http11 import DIRECT_MAX, DIRECT_MIN, FREE_MAX, HIGH_WATER, READ_BUFFER

from tests.servers.fixtures import response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.servers.fixtures import RawServer, Script

    StartRaw = Callable[[Script], Awaitable[RawServer]]
    Pieces = Callable[[int], list[bytes]]  # request number -> what to send, piece by piece

pytestmark = pytest.mark.asyncio


class PieceServer:
    """A loopback server writing each response in the pieces its script gives, a pause between."""

    def __init__(self, pieces: Pieces, pause: float = 0.002) -> None:
        self.pieces = pieces
        self.pause = pause
        self.requests = 0
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.url = ""

    async def __aenter__(self) -> PieceServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                number = self.requests
                self.requests += 1
                for piece in self.pieces(number):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(self.pause)  # the client reads it alone (mostly)
        except ConnectionError:
            pass
        finally:
            writer.close()


def _body(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def _get(client: hyperhttp.Client, url: str) -> tuple[bytes, _http11.HTTP11Connection]:
    """GET ``url`` whole; return the body and the connection it came on (white box)."""
    async with client.stream("GET", url) as r:
        connection = r._source.connection  # type: ignore[union-attr]
        assert isinstance(connection, _http11.HTTP11Connection)
        return await r.aread(), connection


# ------------------------------------------------------------------ the protocol


async def test_connections_are_buffered_protocols_on_both_loops(raw_server: StartRaw) -> None:
    """On uvloop too: it fills a protocol's buffer only when it is not an asyncio.Protocol."""
    server = await raw_server(lambda r, n: response(body=b"ok"))
    async with hyperhttp.Client() as client, client.stream("GET", server.url) as r:
        connection = r._source.connection  # type: ignore[union-attr]
        assert isinstance(connection, asyncio.BufferedProtocol)
        assert not isinstance(connection, asyncio.Protocol)
        await r.aread()
    assert r.content == b"ok"


async def test_a_large_body_goes_into_one_buffer_and_comes_back_as_the_parsers_copy() -> None:
    """A 1 MiB body (4 reads' worth) arrives whole; one connection serves them all."""
    body = _body(1024 * 1024)
    assert len(body) > READ_BUFFER
    whole = response(body=body)
    taken: list[int] = []
    start = _http11.HTTP11Connection._start_direct

    def spy(self: _http11.HTTP11Connection, size: int, first: memoryview | bytes) -> None:
        taken.append(size)
        start(self, size, first)

    async with PieceServer(lambda n: [whole], pause=0) as server, hyperhttp.Client() as client:
        _http11.HTTP11Connection._start_direct = spy  # type: ignore[method-assign]
        try:
            for _ in range(4):
                got, connection = await _get(client, server.url)
                assert got == body
                assert connection.direct is None  # let go with the exchange
        finally:
            _http11.HTTP11Connection._start_direct = start  # type: ignore[method-assign]
        assert server.connections == 1
    assert len(taken) == 4  # every body was read directly...
    assert all(size == len(body) for size in taken)  # ...the whole of it, head split off


# ------------------------------------------------------------------ boundaries


def _boundaries(total: int, head: int) -> list[int]:
    near = set(range(1, head + 80)) | set(range(total - 80, total))
    near |= {DIRECT_MIN + head + d for d in range(-3, 4)} | set(range(1, total, 4099))
    return sorted(k for k in near if 0 < k < total)


async def test_a_direct_body_split_at_every_boundary_that_matters() -> None:
    """Two reads split anywhere in the head, at its end, in and at the end of the body."""
    body = _body(DIRECT_MIN + 1000, seed=1)
    whole = response(body=body)
    head = len(whole) - len(body)
    splits = _boundaries(len(whole), head)

    def pieces(n: int) -> list[bytes]:
        k = splits[n % len(splits)]
        return [whole[:k], whole[k:]]

    async with PieceServer(pieces) as server, hyperhttp.Client() as client:
        for _ in splits:
            assert (await client.get(server.url)).content == body
        assert server.connections == 1  # each ended cleanly, so each was reused


async def test_a_small_body_split_at_every_byte() -> None:
    body = b"0123456789" * 10
    whole = response(body=body, headers=["X-Long: " + "v" * 300])

    def pieces(n: int) -> list[bytes]:
        k = 1 + n % (len(whole) - 1)
        return [whole[:k], whole[k:]]

    async with PieceServer(pieces, pause=0.001) as server, hyperhttp.Client() as client:
        for _ in range(len(whole) - 1):
            assert (await client.get(server.url)).content == body
        assert server.connections == 1


async def test_bodies_in_random_pieces_chunked_and_by_length() -> None:
    """Up to 8 pieces at random places, Content-Length and chunked, small to 2 MiB."""
    rng = random.Random(7)
    cases: list[tuple[bytes, bytes]] = []
    for size in (0, 1, 5000, DIRECT_MIN - 1, DIRECT_MIN, DIRECT_MIN + 1, 300_000, 2 << 20):
        body = _body(size, seed=size)
        cases.append((body, response(body=body)))
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:777], body[777:]) if p)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        cases.append((body, head + chunked + b"0\r\n\r\n"))

    def pieces(n: int) -> list[bytes]:
        wire = cases[n % len(cases)][1]
        cuts = sorted(rng.sample(range(1, len(wire)), min(7, len(wire) - 1)))
        return [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]

    async with PieceServer(pieces, pause=0.001) as server, hyperhttp.Client() as client:
        for round_ in range(2):
            for index, (body, _) in enumerate(cases):
                got = (await client.get(server.url)).content
                assert got == body, (round_, index, len(got), len(body))
        assert server.connections == 1


async def test_interim_responses_then_a_large_body() -> None:
    body = _body(300_000, seed=3)
    wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    wire += response(body=body)
    async with PieceServer(lambda n: [wire], pause=0) as server, hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == body
        assert (await client.get(server.url)).content == body
        assert server.connections == 1


async def test_head_and_304_with_a_large_content_length_read_no_body() -> None:
    def pieces(n: int) -> list[bytes]:
        status = b"200 OK" if n % 2 == 0 else b"304 Not Modified"
        return [b"HTTP/1.1 " + status + b"\r\nContent-Length: 1048576\r\n\r\n"]

    async with PieceServer(pieces, pause=0) as server, hyperhttp.Client() as client:
        assert (await client.head(server.url)).content == b""
        assert (await client.get(server.url)).content == b""
        assert (await client.head(server.url)).content == b""
        assert server.connections == 1


async def test_a_body_beyond_the_direct_limit_is_read_normally() -> None:
    body = _body(DIRECT_MAX + 1, seed=4)
    whole = response(body=body)
    async with PieceServer(lambda n: [whole], pause=0) as server, hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == body
        assert server.connections == 1


async def test_tls_large_bodies(tls: object, tls_server: object) -> None:
    """The TLS transports (asyncio's and uvloop's) fill our buffers too."""
    ca = tls.ca_path  # type: ignore[attr-defined]
    url = tls_server.url  # type: ignore[attr-defined]
    async with hyperhttp.Client(verify=ca, http2=False) as client:
        for size in (100, 300_000, 3 << 20):
            r = await client.get(f"{url}/size/{size}")
            assert r.content == b"x" * size


# ------------------------------------------------------------------ memory bounds


async def test_idle_connections_hold_no_body_buffer() -> None:
    """Fifty connections that each read a 1 MiB body: idle, they hold no buffer of their own."""
    body = _body(1024 * 1024, seed=5)
    whole = response(body=body)
    async with PieceServer(lambda n: [whole], pause=0) as server, hyperhttp.Client() as client:
        results = await asyncio.gather(*(_get(client, server.url) for _ in range(50)))
        assert all(got == body for got, _ in results)
        connections = list({id(c): c for _, c in results}.values())
        del results
        assert len(connections) == server.connections > 1
        assert client.pool_stats().connections == len(connections)
        held = sum(len(c.direct) for c in connections if c.direct is not None)
        assert held == 0
        assert all(c.exchange is None and c.direct_rest is None for c in connections)
        # One read buffer for all of them (this thread's), and a bounded free list.
        assert len({id(c.buffers.read) for c in connections}) == 1
        assert _http11._buffers.free_bytes <= FREE_MAX
        assert sum(len(b) for b in _http11._buffers.free) == _http11._buffers.free_bytes


async def test_a_stream_leaves_direct_reading_and_keeps_its_backpressure() -> None:
    """A body small enough to read directly, streamed: piece by piece, buffered bytes bounded."""
    body = _body(4 * 1024 * 1024, seed=6)
    whole = response(body=body)
    async with (
        PieceServer(lambda n: [whole], pause=0) as server,
        hyperhttp.Client() as client,
        client.stream("GET", server.url) as r,
    ):
        exchange = r._source.exchange  # type: ignore[union-attr]
        connection = r._source.connection  # type: ignore[union-attr]
        got = bytearray()
        peak = 0
        async for piece in r.aiter_raw():
            assert connection.direct is None
            got += piece
            peak = max(peak, exchange.buffered)
            await asyncio.sleep(0)
        assert got == body
        assert peak <= HIGH_WATER + READ_BUFFER


async def _endless(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: bytes,
    total: int | None,
    hold: bool,
) -> None:
    """Answer one request with ``head`` then ``total`` bytes (None: until the client leaves).

    ``hold``: then stay silent until the client closes (else close at once).
    """
    piece = b"z" * (256 * 1024)
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head)
        sent = 0
        while total is None or sent < total:
            size = len(piece) if total is None else min(len(piece), total - sent)
            writer.write(piece[:size])
            sent += size
            await writer.drain()
        if hold:
            await reader.read()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _serve_once(head: bytes, total: int | None, hold: bool = False) -> AsyncIterator[str]:
    writers: list[asyncio.StreamWriter] = []
    tasks: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        await _endless(reader, writer, head, total, hold)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_a_1_gib_streamed_download_stays_flat() -> None:
    total = 1 << 30
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    received = 0
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total
    async for url in _serve_once(head, total):
        async with (
            hyperhttp.Client(timeout=hyperhttp.Timeout(60.0)) as client,
            client.stream("GET", url) as r,
        ):
            async for piece in r.aiter_raw():
                received += len(piece)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert received == total
    assert grown_kib < 32 * 1024, f"RSS grew {grown_kib} KiB"


async def test_an_endless_body_over_the_limit_is_refused() -> None:
    """Endless, whatever the head says: ResponseTooLarge at the limit, no direct buffer held."""
    heads = [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (DIRECT_MAX // 2),  # fits DIRECT_MAX
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",  # until close
    ]
    for head in heads:
        async for url in _serve_once(head, None):
            async with hyperhttp.Client(max_response_size=1 << 20) as client:
                with pytest.raises(hyperhttp.ResponseTooLarge):
                    await client.get(url)
                assert client.pool_stats().connections == 0


async def test_more_than_the_content_length_is_not_read_into_the_body() -> None:
    """The direct buffer is the body's size: what follows is bytes nobody asked for."""
    body = _body(300_000, seed=8)
    extra = response(body=b"smuggled")
    async with (
        PieceServer(lambda n: [response(body=body) + extra], pause=0) as server,
        hyperhttp.Client() as client,
    ):
        assert (await client.get(server.url)).content == body
        assert (await client.get(server.url)).content == body
        assert server.connections == 2


async def test_a_body_cut_short_says_how_much_is_missing() -> None:
    size = 1 << 20
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    async for url in _serve_once(head, size - 12345):
        async with hyperhttp.Client() as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match="12345 bytes of the body"):
                await client.get(url)


async def test_a_stalled_direct_body_times_out_and_lets_its_buffer_go() -> None:
    size = 4 << 20
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    async for url in _serve_once(head, DIRECT_MIN * 2, hold=True):  # then silence
        timeout = hyperhttp.Timeout(5.0, read=0.3)
        async with hyperhttp.Client(timeout=timeout) as client, client.stream("GET", url) as r:
            connection = r._source.connection  # type: ignore[union-attr]
            with pytest.raises(hyperhttp.ReadTimeout):
                await r.aread()
            assert connection.direct is None
