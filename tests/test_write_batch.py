"""Small HTTP/1.1 requests are written together at the end of the loop's turn (hyperhttp/_batch.py).

Each connection here is a real transport over a socketpair, the test holding
the peer end: what reached the peer, and when, is read off that socket. The
rules held: nothing is written before the turn ends, everything queued in a
turn is written in it, a request whose exchange ended first is never
written (its connection is not reused), large or streamed requests go at
once, and each loop has its own batch.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from typing import TYPE_CHECKING

import hyperhttp
import pytest
import pytest_asyncio
from hyperhttp._batch import BATCH_BUSY, BATCH_MAX, Queued, WriteBatch, batch_for
from hyperhttp._exceptions import RemoteProtocolError
from hyperhttp._http11 import HTTP11Connection

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.fixtures import WebServer

pytestmark = pytest.mark.asyncio

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Pair:
    """A connection on a real transport, and the socket at the other end."""

    def __init__(self, conn: HTTP11Connection, peer: socket.socket) -> None:
        self.conn = conn
        self.peer = peer

    def received(self) -> bytes:
        """Return what reached the peer so far (b"" for nothing yet)."""
        chunks = []
        while True:
            try:
                data = self.peer.recv(65536)
            except BlockingIOError:
                break
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


@pytest_asyncio.fixture
async def pairs() -> AsyncIterator[list[Pair]]:
    made: list[Pair] = []
    loop = asyncio.get_running_loop()

    async def make() -> Pair:
        ours, peer = socket.socketpair()
        peer.setblocking(False)
        _, conn = await loop.create_connection(lambda: HTTP11Connection(loop), sock=ours)
        pair = Pair(conn, peer)
        made.append(pair)
        return pair

    yield [await make() for _ in range(BATCH_BUSY + 2)]
    for pair in made:
        pair.conn.abort()
        pair.peer.close()
    await asyncio.sleep(0.01)  # the transports' connection_lost


def busy(pairs: list[Pair]) -> list[Pair]:
    """Start requests on all but the last two of ``pairs``; return those two.

    The requests started are written at once (the last of them, the busy
    turn's first); the next ones in the turn are queued.
    """
    for pair in pairs[:-2]:
        pair.conn.start(b"GET", HEAD, None, None)
    return pairs[-2:]


async def test_with_few_requests_under_way_a_request_is_written_at_once(
    pairs: list[Pair],
) -> None:
    first = pairs[0]
    exchange = first.conn.start(b"GET", HEAD, None, None)
    assert exchange.sent
    assert first.received() == HEAD  # a lone request waits for nothing


async def test_requests_of_a_busy_turn_are_written_when_it_ends(pairs: list[Pair]) -> None:
    assert len(pairs) - 2 == BATCH_BUSY
    for pair in pairs[: BATCH_BUSY - 1]:
        pair.conn.start(b"GET", HEAD, None, None)
        assert pair.received() == HEAD  # fewer than BATCH_BUSY under way: at once
    first, *late = pairs[BATCH_BUSY - 1 :]
    opening = first.conn.start(b"GET", HEAD, None, None)
    assert opening.sent  # the busy turn's first request: at once (no latency added)
    assert first.received() == HEAD
    exchanges = [pair.conn.start(b"GET", HEAD, None, None) for pair in late]
    assert [pair.received() for pair in late] == [b""] * 2  # queued, not written
    assert not any(exchange.sent for exchange in exchanges)
    await asyncio.sleep(0)  # the turn ends: the batch is written
    assert [pair.received() for pair in late] == [HEAD] * 2
    assert all(exchange.sent for exchange in exchanges)
    for pair, exchange in zip(late, exchanges, strict=True):
        pair.peer.send(RESPONSE)
        await exchange.read_all()
        assert pair.conn.finish(exchange) is True  # written whole, answered whole: reusable
    # The next turn's first request goes at once again.
    again = late[0].conn.start(b"GET", HEAD, None, None)
    assert again.sent
    assert late[0].received() == HEAD


async def test_a_request_ended_before_the_turn_is_never_written(pairs: list[Pair]) -> None:
    pair = busy(pairs)[0]
    pair.conn.start(b"GET", HEAD, None, None)
    assert pair.received() == b""
    assert pair.conn.finish() is False  # cancelled before its turn ended: not reusable
    await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert pair.received() == b""  # its bytes never reach the connection
    assert pair.conn.closed


async def test_an_answer_before_the_request_left_drops_the_request(pairs: list[Pair]) -> None:
    # A server that answers what it was not yet sent (a read handled before the
    # batch in the same turn): the answer is read, the request is not written
    # after the fact, and the connection is not reused.
    pair = busy(pairs)[0]
    exchange = pair.conn.start(b"GET", HEAD, None, None)
    pair.conn.data_received(RESPONSE)
    assert exchange.done
    await asyncio.sleep(0)
    assert pair.received() == b""
    assert not exchange.sent
    assert pair.conn.finish(exchange) is False


async def test_a_request_whose_answer_started_before_it_left_is_never_written(
    pairs: list[Pair],
) -> None:
    # Only the head of an answer came before the batch: written after it, the
    # request would be read by the server as a new one, answered again, and that
    # stray answer would reach the next request on the pooled connection.
    pair = busy(pairs)[0]
    exchange = pair.conn.start(b"GET", HEAD, None, None)
    assert exchange.unsent is not None  # queued
    pair.conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    assert exchange.head is not None
    await asyncio.sleep(0)  # the batch is written
    pair.conn.data_received(b"ok")
    assert exchange.done
    assert pair.received() == b""
    assert pair.conn.finish(exchange) is False


async def test_a_request_behind_unsent_bytes_is_written_at_once(pairs: list[Pair]) -> None:
    # Rule 4a: the caller looks at write_paused right after start(); a request
    # queued behind bytes the transport still holds could pause it unseen.
    pair = busy(pairs)[0]
    transport = pair.conn.transport
    assert transport is not None
    transport.write(b"x" * (4 * 1024 * 1024))  # the peer reads nothing: some stay buffered
    assert transport.get_write_buffer_size() > 0
    exchange = pair.conn.start(b"GET", HEAD, None, None)
    assert exchange.sent  # handed to the transport now, not at the turn's end
    assert exchange.unsent is None


async def test_a_large_request_is_written_at_once(pairs: list[Pair]) -> None:
    pair = busy(pairs)[0]
    big = HEAD + b"x" * (BATCH_MAX + 1 - len(HEAD))
    exchange = pair.conn.start(b"POST", big, None, None)
    assert exchange.sent
    got = pair.received()  # before the turn ends (the socket may take only part of it)
    assert got
    assert got == big[: len(got)]


async def test_a_head_before_a_streamed_body_is_written_at_once(pairs: list[Pair]) -> None:
    pair = busy(pairs)[0]
    exchange = pair.conn.start(b"POST", HEAD, None, None, body_follows=True)
    assert pair.received() == HEAD
    assert not exchange.sent  # the body is still to come


class Refusing:
    """The real transport, but ``write`` raises (as uvloop's does on a handle closed under it)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        raise RuntimeError("handle closed")

    def __getattr__(self, name: str) -> object:
        return getattr(self.transport, name)


async def test_a_write_failing_in_the_batch_fails_its_exchange_only(pairs: list[Pair]) -> None:
    broken, fine = busy(pairs)
    assert broken.conn.transport is not None
    broken.conn.transport = Refusing(broken.conn.transport)  # type: ignore[assignment]
    failing = broken.conn.start(b"GET", HEAD, None, None)
    working = fine.conn.start(b"GET", HEAD, None, None)
    await asyncio.sleep(0)
    assert isinstance(failing.error, RemoteProtocolError)
    assert isinstance(failing.error.__cause__, RuntimeError)
    assert broken.conn.closed
    assert working.sent
    assert fine.received() == HEAD


async def test_each_loop_has_its_own_batch() -> None:
    loop = asyncio.get_running_loop()
    assert batch_for(loop) is batch_for(loop)
    other = asyncio.new_event_loop()
    try:
        assert batch_for(other) is not batch_for(loop)
    finally:
        other.close()
    from hyperhttp import _batch

    gone = weakref.ref(other)
    gc.collect()  # loops of earlier tests go first
    held = len(_batch._batches)
    assert other in _batch._batches
    del other
    gc.collect()
    assert gone() is None  # the batch does not keep its loop alive...
    assert len(_batch._batches) == held - 1  # ...nor is it kept after it


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the requests queued in any batch (``[count]``, settable)."""
    count = [0]
    add = WriteBatch.add

    def counted(self: WriteBatch, item: Queued) -> None:
        count[0] += 1
        add(self, item)

    monkeypatch.setattr(WriteBatch, "add", counted)
    return count


async def test_a_busy_client_gets_each_answer_and_counts_back_to_zero(
    web_server: WebServer, queued: list[int]
) -> None:
    # 64 at once on one origin (batched: far more than BATCH_BUSY under way), with
    # small POST bodies (queued with their heads), read timeouts and cancellations
    # mixed in: each answer is its own request's, and every exchange is counted out.
    loop = asyncio.get_running_loop()
    async with hyperhttp.Client(base_url=web_server.url) as client:

        async def post(number: int) -> None:
            response = await client.post(f"/echo/{number}", content=b"n=%d" % number)
            sent = response.json()
            assert sent["path"] == f"/echo/{number}"
            assert sent["body"] == f"n={number}"

        async def slow() -> None:
            with pytest.raises(hyperhttp.ReadTimeout):
                await client.get("/sleep/1", timeout=hyperhttp.Timeout(5.0, read=0.05))

        for _ in range(3):
            tasks = [asyncio.ensure_future(post(n)) for n in range(56)]
            tasks += [asyncio.ensure_future(slow()) for _ in range(4)]
            cancelled = [asyncio.ensure_future(client.get("/sleep/1")) for _ in range(4)]
            await asyncio.sleep(0.02)
            for task in cancelled:
                task.cancel()
            await asyncio.gather(*tasks)
            await asyncio.gather(*cancelled, return_exceptions=True)
        assert queued[0] > 100  # most requests went in batches
        assert batch_for(loop).busy == 0
        assert batch_for(loop).pending == []
        stats = client.pool_stats()
        assert stats.idle > 0  # the answered connections were kept


async def test_exchanges_of_lost_connections_are_counted_out(
    web_server: WebServer, queued: list[int]
) -> None:
    # Streamed responses never closed: Client.aclose() closes their connections
    # without finish() running for them. The loop's count (every client's on
    # the loop) must still come down, or a lone request would wait for the
    # turn's end for good.
    loop = asyncio.get_running_loop()
    abandoned = []
    async with hyperhttp.Client(base_url=web_server.url) as client:
        for _ in range(BATCH_BUSY):
            request = client.build_request("GET", "/size/10")
            abandoned.append(await client.send(request, stream=True))
    queued[0] = 0
    try:
        await asyncio.sleep(0.05)  # the closed connections' connection_lost
        assert batch_for(loop).busy == 0
        async with hyperhttp.Client(base_url=web_server.url) as other:
            response = await other.get("/size/10")
            assert response.content == b"x" * 10
        assert queued[0] == 0  # nothing under way: the lone request went at once
    finally:
        for response in abandoned:
            await response.aclose()
