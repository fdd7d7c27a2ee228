"""Opening a connection behind one error boundary (issue 17): errors mapped, nothing leaks.

Every failure while opening maps to ``ConnectTimeout`` / ``ConnectError``
(``_exceptions.boundary``), and a connection opened part way is closed whatever
stops the opening: a timeout, an error, or the caller's cancellation. The
peers are loopback listeners that accept and never answer (a black hole for
HTTP/2's SETTINGS, for a proxy's answer to CONNECT) or refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from typing import TYPE_CHECKING

import hyperhttp
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def _silent_listener() -> AsyncIterator[tuple[int, asyncio.Queue[asyncio.StreamReader]]]:
    """Accept connections and never write; yield (port, readers of what each client sent)."""
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await accepted.put(reader)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, accepted
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def _closed_by_client(reader: asyncio.StreamReader) -> bool:
    """Read until the client closes (True), or 2 s pass with the connection still open."""
    try:
        async with asyncio.timeout(2.0):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    return True


async def test_a_cancelled_http2_connect_closes_the_half_open_connection() -> None:
    """Cancelled while waiting for the server's SETTINGS: the socket is closed, not left open."""
    async with _silent_listener() as (port, accepted), hyperhttp.Client(http1=False) as client:
        task = asyncio.ensure_future(client.get(f"http://127.0.0.1:{port}/"))
        reader = await asyncio.wait_for(accepted.get(), 2.0)
        await asyncio.sleep(0.05)  # the preface is out; the client waits for SETTINGS
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _closed_by_client(reader)
        assert client.pool_stats().connections == 0


async def test_an_http2_server_silent_past_the_connect_timeout_is_a_connect_timeout() -> None:
    timeout = hyperhttp.Timeout(5.0, connect=0.2)
    async with (
        _silent_listener() as (port, accepted),
        hyperhttp.Client(http1=False, timeout=timeout) as client,
    ):
        where = re.escape(f"127.0.0.1:{port}")
        with pytest.raises(hyperhttp.ConnectTimeout, match=where) as raised:
            await client.get(f"http://127.0.0.1:{port}/")
        assert raised.value.request is not None
        assert await _closed_by_client(await accepted.get())


async def test_a_refused_connection_is_a_connect_error_naming_the_origin() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.ConnectError, match=re.escape(f"127.0.0.1:{port}")) as raised:
            await client.get(f"http://127.0.0.1:{port}/")
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.request is not None


async def test_a_cancelled_tunnel_closes_the_connection_to_the_proxy() -> None:
    """Cancelled while the proxy has not answered CONNECT: the socket to it is closed."""
    async with _silent_listener() as (port, accepted):
        client = hyperhttp.Client(proxy=f"http://127.0.0.1:{port}", trust_env=False)
        async with client:
            task = asyncio.ensure_future(client.get("https://example.test/"))
            reader = await asyncio.wait_for(accepted.get(), 2.0)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await _closed_by_client(reader)


async def test_a_proxy_silent_past_the_connect_timeout_is_a_connect_timeout() -> None:
    timeout = hyperhttp.Timeout(5.0, connect=0.2)
    async with _silent_listener() as (port, accepted):
        proxy = f"http://127.0.0.1:{port}"
        async with hyperhttp.Client(proxy=proxy, trust_env=False, timeout=timeout) as client:
            with pytest.raises(hyperhttp.ConnectTimeout, match=r"example\.test:443") as raised:
                await client.get("https://example.test/")
            assert "127.0.0.1" in str(raised.value)
            assert await _closed_by_client(await accepted.get())
