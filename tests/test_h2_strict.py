"""HTTP/2 responses held to the same rules as HTTP/1.1 (issue 15, defects 4, 10 and 19).

Scripted peers send what real servers rarely do: DATA after a 1xx head, DATA
on responses that have no content, statuses outside 100-599, absurd
Content-Length values, header blocks larger than we advertised, HTTP/1.1
bytes where the HTTP/2 preface belongs. Each is a typed error for the
request it concerns; a stream error leaves the other streams alone.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

import hyperhttp
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.fixtures import TLSSetup

pytestmark = pytest.mark.asyncio

_HTTP11_REFUSAL = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def _http11_only(context: ssl.SSLContext | None) -> AsyncIterator[str]:
    """Serve an HTTP/1.1 400 to anything, then close (ALPN h2 if TLS); yield the URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(100)
            writer.write(_HTTP11_REFUSAL)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_http11_bytes_where_the_http2_preface_belongs_h2c() -> None:
    """Prior knowledge (h2c) to an HTTP/1.1 server: the error says what the server sent."""
    async for url in _http11_only(None):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.ConnectError) as info:
                await asyncio.wait_for(client.get(f"{url}/"), 10)
    message = str(info.value)
    assert "did not start HTTP/2" in message
    assert "SETTINGS" in message
    assert "HTTP/1.1 400" in message


async def test_http11_bytes_after_alpn_chose_h2(tls: TLSSetup) -> None:
    """ALPN said h2, then the server spoke HTTP/1.1: the same clear error."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["h2"])
    async for url in _http11_only(context):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            with pytest.raises(
                hyperhttp.ConnectError, match=r"did not start HTTP/2.*HTTP/1\.1 400"
            ):
                await asyncio.wait_for(client.get(f"{url}/"), 10)
