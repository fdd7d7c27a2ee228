"""An error raised while the body is read names the request it belongs to.

``HTTPError.request`` is set for errors raised before the head arrives; a
body cut short after the head must carry it too, read whole (``get``) or
streamed (``stream``), so a caller with many requests in flight can tell
which one failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hyperhttp
import pytest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.servers.fixtures import RawServer, Script

    StartRaw = Callable[[Script], Awaitable[RawServer]]

CUT = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"


@pytest.mark.asyncio
async def test_body_cut_short_names_its_request(raw_server: StartRaw) -> None:
    server = await raw_server(lambda request, n: CUT)
    server.close_after = True
    async with hyperhttp.Client() as client:
        request = client.build_request("GET", server.url + "/read")
        with pytest.raises(hyperhttp.RemoteProtocolError) as caught:
            await client.send(request)
        assert caught.value.request is request


@pytest.mark.asyncio
async def test_streamed_body_cut_short_names_its_request(raw_server: StartRaw) -> None:
    server = await raw_server(lambda request, n: CUT)
    server.close_after = True
    async with hyperhttp.Client() as client:
        request = client.build_request("GET", server.url + "/stream")
        response = await client.send(request, stream=True)
        with pytest.raises(hyperhttp.RemoteProtocolError) as caught:
            async for _ in response.aiter_bytes():
                pass
        assert caught.value.request is request
        await response.aclose()
