"""A streamed response's life: backpressure, reading it whole, closing it, and connection reuse.

Loopback raw-socket servers (each scripted for the one situation) and hypercorn h2c. Each
test here failed before its fix (issue 15, adversarial review findings F0, F0b, F11):

- a connection whose reading was paused for backpressure when its response completed is
  pooled with reading resumed (the next answer on it is read);
- ``aread()`` after streaming started is a typed ``StreamConsumed`` on both protocols, not a
  hang (HTTP/1.1) or silently partial content (HTTP/2);
- ``aclose()`` from another task ends a reader in progress with a typed error on both
  protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, cast

import hyperhttp
import pytest

from tests.servers.fixtures import ok_http11_server

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def _serving(handle: object) -> AsyncIterator[str]:
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await handle(reader, writer)  # type: ignore[operator]

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------ F0: paused, then pooled


async def test_a_connection_paused_by_backpressure_is_pooled_reading() -> None:
    """The last bytes of a streamed body arrive while reading is paused (over HIGH_WATER).

    The exchange is complete, so closing the response pools the connection: its next
    answer must be read (it was not: reading stayed paused, ReadTimeout, and the POST
    had been executed by the server).
    """
    served = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10):
            await reader.readuntil(b"\r\n\r\n")
            served[0] += 1
            if served[0] == 1:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nfirst" % (5 + 270 * 1024)
                )
                await writer.drain()
                await asyncio.sleep(0.1)  # the client is streaming by now
                writer.write(b"x" * 250 * 1024)  # under HIGH_WATER: not paused yet
                await writer.drain()
                await asyncio.sleep(0.1)
                writer.write(b"x" * 20 * 1024)  # over it, and the body is complete
                await writer.drain()
            else:
                await reader.readexactly(8)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
                await writer.drain()

    async with (
        _serving(handle) as url,
        hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, read=1.0)) as client,
    ):
        response = await client.send(client.build_request("GET", url), stream=True)
        pieces = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
        assert (await pieces.__anext__()).startswith(b"first")
        await asyncio.sleep(0.5)  # the rest arrives; nothing more is read
        await response.aclose()
        await pieces.aclose()
        r = await client.post(url, content=b"pay once")
        assert r.content == b"second"
        assert served[0] == 2  # the same connection served it


# ------------------------------------------------------------ F0b: aread after streaming


async def test_h1_aread_after_streaming_started_is_stream_consumed() -> None:
    """Streaming paused the transport; aread() then waited for ever.

    It waited for an end that never came (paused time is not read time, so even the
    read timeout never fired).
    """
    size = 2 * 1024 * 1024

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nfirst" % (size + 5))
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"x" * size)
        await writer.drain()

    async with (
        _serving(handle) as url,
        hyperhttp.Client(timeout=hyperhttp.Timeout(None, read=1.0)) as client,
    ):
        response = await client.send(client.build_request("GET", url), stream=True)
        pieces = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
        await pieces.__anext__()
        await asyncio.sleep(0.3)
        try:
            with pytest.raises(hyperhttp.StreamConsumed) as caught:
                await asyncio.wait_for(response.aread(), 5.0)
            assert caught.value.request is response.request
        finally:
            await pieces.aclose()
            await response.aclose()
        assert client.pool_stats().in_use == 0


async def test_h2_aread_after_streaming_started_is_stream_consumed(h2c_server: object) -> None:
    """HTTP/2 returned the rest of the body only, without the pieces read: partial content."""
    url = h2c_server.url + "/slow?chunks=5&delay=0.05"  # type: ignore[attr-defined]
    async with hyperhttp.Client(http1=False, timeout=hyperhttp.Timeout(5.0)) as client:
        response = await client.send(client.build_request("GET", url), stream=True)
        pieces = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
        await pieces.__anext__()
        try:
            with pytest.raises(hyperhttp.StreamConsumed):
                await asyncio.wait_for(response.aread(), 5.0)
        finally:
            await pieces.aclose()
            await response.aclose()
        r = await client.get(h2c_server.url + "/echo")  # type: ignore[attr-defined]
        assert r.status_code == 200


async def test_aread_after_the_whole_stream_was_read_is_stream_consumed() -> None:
    async with ok_http11_server() as (url, _), hyperhttp.Client() as client:
        response = await client.send(client.build_request("GET", url), stream=True)
        assert [piece async for piece in response.aiter_raw()] == [b"ok"]
        with pytest.raises(hyperhttp.StreamConsumed):
            await response.aread()
        assert (await client.get(url)).content == b"ok"
        assert client.pool_stats().idle == 1


# ------------------------------------------------------------ F11: aclose from another task


@pytest.mark.parametrize("mode", ["aiter_raw", "aread"])
async def test_h1_aclose_from_another_task_ends_a_reader_in_progress(mode: str) -> None:
    """The reader waited for ever: finish() cleared the exchange before aborting.

    The loss of the connection then failed nobody, and the read timer found no exchange.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst")
        await writer.drain()
        await reader.read()  # until the client drops the connection

    async with (
        _serving(handle) as url,
        hyperhttp.Client(timeout=hyperhttp.Timeout(None, read=0.5)) as client,
    ):
        response = await client.send(client.build_request("GET", url), stream=True)

        async def consume() -> object:
            if mode == "aiter_raw":
                return [piece async for piece in response.aiter_raw()]
            return await response.aread()

        reader_task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2)
        await response.aclose()  # e.g. a watchdog stopping an event stream
        with pytest.raises(hyperhttp.StreamConsumed):
            await asyncio.wait_for(reader_task, 3.0)
        assert client.pool_stats().in_use == 0


@pytest.mark.parametrize("mode", ["aiter_raw", "aread"])
async def test_h2_aclose_from_another_task_ends_a_reader_in_progress(
    h2c_server: object, mode: str
) -> None:
    """The stream was reset and dropped, never failed: its reader waited for ever."""
    url = h2c_server.url + "/slow?chunks=50&delay=0.2"  # type: ignore[attr-defined]
    async with hyperhttp.Client(http1=False, timeout=hyperhttp.Timeout(None, read=0.5)) as client:
        response = await client.send(client.build_request("GET", url), stream=True)

        async def consume() -> object:
            if mode == "aiter_raw":
                return [piece async for piece in response.aiter_raw()]
            return await response.aread()

        reader_task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.3)
        await response.aclose()
        with pytest.raises(hyperhttp.StreamConsumed):
            await asyncio.wait_for(reader_task, 3.0)
        r = await client.get(h2c_server.url + "/echo")  # type: ignore[attr-defined]
        assert r.status_code == 200


async def test_reading_a_response_closed_before_its_end_is_typed_not_a_hang() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst")
        await writer.drain()
        await reader.read()

    async with _serving(handle) as url, hyperhttp.Client() as client:
        async with client.stream("GET", url) as response:
            pass
        with pytest.raises(hyperhttp.StreamConsumed):
            await asyncio.wait_for(response.aread(), 3.0)


# ------------------------------------------------------------ F8: Connection: close


@pytest.mark.parametrize(
    ("fields", "close"),
    [
        ([], False),
        ([(b"connection", b"Connection", b"close")], True),
        ([(b"connection", b"CONNECTION", b" Close ")], True),
        ([(b"connection", b"connection", b"keep-alive, close")], True),
        ([(b"connection", b"Connection", b"keep-alive"), (b"connection", b"c", b"x, CLOSE")], True),
        ([(b"connection", b"Connection", b"keep-alive, closed")], False),
        ([(b"x-close", b"X-Close", b"close")], False),
    ],
)
async def test_asks_close_reads_connection_options(
    fields: list[tuple[bytes, bytes, bytes]], close: bool
) -> None:
    from hyperhttp._http11 import asks_close

    assert asks_close(fields) is close


@pytest.mark.parametrize("close", [True, False])
async def test_a_request_that_said_close_is_the_last_on_its_connection(close: bool) -> None:
    # RFC 9112 §9.6: a client that sends "close" MUST NOT send further requests on it.
    from hyperhttp._http11 import HTTP11Connection

    async with ok_http11_server() as (url, _):
        loop = asyncio.get_running_loop()
        port = int(url.rsplit(":", 1)[1])
        _, conn = await loop.create_connection(lambda: HTTP11Connection(loop), "127.0.0.1", port)
        try:
            connection = b"Connection: close\r\n" if close else b""
            head = b"GET / HTTP/1.1\r\nHost: x\r\n%s\r\n" % connection
            exchange = conn.start(b"GET", head, 5.0, None, close=close)
            await exchange.wait_head()
            assert await exchange.read_all() == b"ok"
            assert conn.finish(exchange) is not close
            assert conn.is_usable() is not close
        finally:
            conn.abort()
            await conn.lost


# ------------------------------------------------------------ F8: Connection: close


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close"])
async def test_a_client_request_that_said_close_is_the_last_on_its_connection(value: str) -> None:
    # RFC 9112 §9.6: a client that sends "close" MUST NOT send further requests on it.
    async with ok_http11_server() as (url, _heads), hyperhttp.Client() as client:
        r = await client.get(url, headers={"Connection": value})
        assert r.content == b"ok"
        assert client.pool_stats().idle == 0, client.pool_stats()
        assert (await client.get(url)).content == b"ok"
        assert client.pool_stats().idle == 1


async def test_other_connection_options_keep_the_connection() -> None:
    async with ok_http11_server() as (url, _), hyperhttp.Client() as client:
        await client.get(url, headers={"Connection": "keep-alive", "X-Close": "close"})
        assert client.pool_stats().idle == 1


async def test_a_client_whose_headers_say_close_reuses_no_connection() -> None:
    async with (
        ok_http11_server() as (url, _),
        hyperhttp.Client(headers={"Connection": "close"}) as client,
    ):
        assert (await client.get(url)).content == b"ok"
        assert client.pool_stats().idle == 0, client.pool_stats()
        del client.headers["Connection"]
        assert (await client.get(url)).content == b"ok"
        assert client.pool_stats().idle == 1
