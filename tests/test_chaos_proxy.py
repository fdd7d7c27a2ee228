"""The chaos proxy's own behaviour: each fault does what it says, plans replay, framing checks.

The peers are plain asyncio sockets on loopback: an upstream that echoes or
sends fixed bytes, and a raw client, so each fault is seen on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pytest

from tests.servers.chaos import ChaosProxy, Fault, Profile, RequestFraming, plan_connection

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def upstream_echo() -> AsyncIterator[int]:
    """Serve an echo on loopback (it half-closes after the client does); yield its port."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.write_eof()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def through(faults: tuple[Fault, ...]) -> AsyncIterator[tuple[ChaosProxy, int]]:
    """Run a proxy to an echo server whose every connection gets ``faults``."""
    async with upstream_echo() as port:
        proxy = await ChaosProxy(("127.0.0.1", port), seed=0, plan=lambda index: faults).start()
        try:
            yield proxy, proxy.port
        finally:
            await proxy.aclose()


async def read_all(reader: asyncio.StreamReader, limit: float = 5.0) -> bytes:
    async with asyncio.timeout(limit):
        return await reader.read(-1)


async def read_into(reader: asyncio.StreamReader, received: list[bytes]) -> None:
    async with asyncio.timeout(5):
        while chunk := await reader.read(65536):
            received.append(chunk)


def test_plans_replay_from_the_seed() -> None:
    """The n-th connection gets the same faults for the same seed, others for another seed."""
    profile = Profile()
    first = [plan_connection("s", index, profile) for index in range(200)]
    assert first == [plan_connection("s", index, profile) for index in range(200)]
    assert first != [plan_connection("t", index, profile) for index in range(200)]
    kinds = {fault.kind for plan in first for fault in plan}
    assert kinds == {"latency", "bandwidth", "stall", "reset", "half_close", "truncate"}
    assert sum(not plan for plan in first) > 20  # some connections stay clean


@pytest.mark.asyncio
async def test_clean_relay_both_ways() -> None:
    async with through(()) as (proxy, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = bytes(range(256)) * 4096  # 1 MiB
        writer.write(payload)
        writer.write_eof()
        assert await read_all(reader) == payload
        writer.close()
        await writer.wait_closed()
        assert proxy.connections == 1


@pytest.mark.asyncio
async def test_truncate_closes_cleanly_at_the_offset() -> None:
    """The receiver gets exactly ``at`` bytes, then EOF (no reset)."""
    async with through((Fault("truncate", "down", 1000),)) as (proxy, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x" * 5000)
        assert await read_all(reader) == b"x" * 1000
        writer.close()
        assert proxy.struck == {"truncate@down": 1}


@pytest.mark.asyncio
async def test_reset_is_a_tcp_rst() -> None:
    async with through((Fault("reset", "down", 10),)) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"y" * 100)
        received: list[bytes] = []
        with pytest.raises(ConnectionResetError):
            await read_into(reader, received)
        assert len(b"".join(received)) <= 10
        writer.close()


@pytest.mark.asyncio
async def test_half_close_ends_one_direction_only() -> None:
    """After a FIN towards the server, what the server already had still comes back."""
    async with through((Fault("half_close", "up", 300),)) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"z" * 1000)
        # The echo server saw 300 bytes and EOF: it echoes them and closes.
        assert await read_all(reader) == b"z" * 300
        writer.close()


@pytest.mark.asyncio
async def test_stall_holds_bytes_and_calm_ends_it() -> None:
    async with through((Fault("stall", "down", 4, seconds=30.0),)) as (proxy, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"abcdefgh")
        assert await reader.readexactly(4) == b"abcd"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await reader.readexactly(1)
        proxy.calm()  # the stall ends at once
        async with asyncio.timeout(5):
            assert await reader.readexactly(4) == b"efgh"
        writer.close()


@pytest.mark.asyncio
async def test_stall_then_reset() -> None:
    fault = Fault("stall", "down", 0, seconds=0.2, then="reset")
    async with through((fault,)) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"q")
        with pytest.raises(ConnectionResetError):
            await read_all(reader)
        writer.close()


@pytest.mark.asyncio
async def test_bandwidth_cap_and_latency_slow_the_relay() -> None:
    loop = asyncio.get_running_loop()
    faults = (Fault("bandwidth", "down", 0, rate=100_000), Fault("latency", "up", 0, seconds=0.1))
    async with through(faults) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = loop.time()
        writer.write(b"w" * 50_000)
        writer.write_eof()
        assert await read_all(reader) == b"w" * 50_000
        # 50 kB at 100 kB/s takes about half a second, plus the 0.1 s of latency.
        assert loop.time() - started >= 0.4
        writer.close()


@pytest.mark.asyncio
async def test_aclose_ends_every_relay() -> None:
    async with through((Fault("stall", "up", 0, seconds=60.0),)) as (proxy, port):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"held")
        await asyncio.sleep(0.05)
        assert proxy.open_links == 1
        await proxy.aclose()
        assert proxy.open_links == 0
        writer.close()


# ------------------------------------------------------------------ request framing


def _feed(*pieces: bytes) -> RequestFraming:
    framing = RequestFraming()
    for piece in pieces:
        framing.feed(piece)
    return framing


def test_framing_follows_whole_requests_split_anywhere() -> None:
    stream = (
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n10;ext=1\r\n" + b"p" * 16 + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
        b"HEAD /d HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    for size in (1, 2, 7, 64, len(stream)):
        framing = _feed(*(stream[i : i + size] for i in range(0, len(stream), size)))
        assert framing.error is None, (size, framing.error)
        assert framing.requests == 4


def test_framing_catches_a_request_inside_an_unfinished_chunked_body() -> None:
    framing = _feed(
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n",
        b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    assert framing.error is not None
    assert "a chunk size was due" in framing.error
    assert "GET /next" in framing.error


def test_framing_catches_a_request_line_that_is_not_one() -> None:
    # A Content-Length body cut short is only visible by what follows it.
    framing = _feed(b"POST /a HTTP/1.1\r\nContent-Length: 6\r\n\r\nab", b"GET / HTTP/1.1\r\n\r\n")
    assert framing.error is not None
    assert "not a request line" in framing.error
