"""The ``total`` timeout is one deadline over the whole call, the body included.

A body trickled slower than the deadline (each piece well within the read
timeout) ends in ``ReadTimeout`` at the deadline, read whole or streamed,
over HTTP/1.1 (aiohttp) and HTTP/2 (hypercorn); a body within it is read.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from aiohttp import web

from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from tests.servers.fixtures import H2Server

pytestmark = pytest.mark.asyncio

TIMEOUT = hyperhttp.Timeout(5.0, total=0.5)


async def _trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(int(request.query.get("pieces", "40"))):
        await response.write(b"x")
        await asyncio.sleep(0.05)
    await response.write_eof()
    return response


async def _read(client: hyperhttp.Client, url: str, how: str) -> None:
    if how == "whole":
        await client.get(url)
        return
    async with client.stream("GET", url) as response:
        if how == "stream-aread":
            await response.aread()
        else:
            async for _ in response.aiter_bytes():
                pass


@pytest.mark.parametrize("how", ["whole", "stream-aread", "stream-iter"])
async def test_a_trickled_body_ends_at_the_deadline(how: str) -> None:
    async with (
        serve_routes([web.get("/trickle", _trickle)]) as (url, _),
        hyperhttp.Client(timeout=TIMEOUT) as client,
    ):
        began = time.monotonic()
        with pytest.raises(hyperhttp.ReadTimeout, match="total timeout") as raised:
            await _read(client, url + "/trickle", how)
        took = time.monotonic() - began
        assert raised.value.request is not None
        assert 0.4 < took < 1.5, took  # the deadline, not the 2 s the body takes
        assert client.pool_stats().in_use == 0


async def test_a_streamed_body_within_the_deadline_is_read() -> None:
    async with (
        serve_routes([web.get("/trickle", _trickle)]) as (url, _),
        hyperhttp.Client(timeout=TIMEOUT) as client,
        client.stream("GET", url + "/trickle?pieces=3") as response,
    ):
        assert await response.aread() == b"xxx"


async def test_http2_trickle_ends_at_the_deadline(h2c_server: H2Server) -> None:
    async with hyperhttp.Client(timeout=TIMEOUT, http1=False) as client:
        url = h2c_server.url + "/slow?chunks=40&delay=0.05"
        with pytest.raises(hyperhttp.ReadTimeout):
            async with client.stream("GET", url) as response:
                await response.aread()
        response = await client.get(h2c_server.url + "/slow?chunks=2&delay=0.01")
        assert response.content == b"chunk0;chunk1;"


async def test_each_attempt_carries_what_is_left_of_the_budget() -> None:
    seen: list[str | None] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Request-Timeout"))
        if len(seen) == 1:
            await asyncio.sleep(0.2)
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.Response(text="ok")

    policy = hyperhttp.RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_cap=0.0)
    timeout = hyperhttp.Timeout(5.0, total=2.0)
    client = hyperhttp.Client(timeout=timeout, retry=policy, deadline_header="X-Request-Timeout")
    async with serve_routes([web.get("/", flaky)]) as (url, _), client:
        assert (await client.get(url + "/")).text == "ok"
        first, second = (int(value or -1) for value in seen)
        assert 1800 < first <= 2000
        assert second <= first - 150  # the first attempt's 200 ms are spent
        await client.get(url + "/", timeout=None)  # no total: no field
        assert seen[-1] is None


async def test_a_deadline_header_must_be_a_field_name() -> None:
    with pytest.raises(ValueError, match="field name"):
        hyperhttp.Client(deadline_header="bad header")
