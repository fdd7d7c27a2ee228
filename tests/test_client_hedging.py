"""``hedging=``: a copy of a slow idempotent attempt races the first; the first head wins.

Peers: aiohttp (HTTP/1.1: the loser's connection is discarded) and hypercorn
(HTTP/2: the loser's stream is reset, and the server sees it end). The
copies are started by a fixed delay far below the slow response's hang, so
no test depends on timing: a hung first request answers only if the test
releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from aiohttp import web
from hyperhttp_resilience import RetryBudget

from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from tests.servers.fixtures import H2Server, TLSSetup

pytestmark = pytest.mark.asyncio


def roomy() -> RetryBudget:
    return RetryBudget(ratio=1.0, min_per_second=10.0)


class FirstHangs:
    """Routes whose first request hangs (up to 5 s) unless released; the others answer."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.methods: list[str] = []

    def routes(self) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            self.count += 1
            self.methods.append(request.method)
            if self.count == 1:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.release.wait(), 5.0)
                return web.Response(text="first")
            return web.Response(text="copy")

        return [web.route("*", "/work", handle)]


async def test_a_slow_get_is_hedged_and_the_copy_wins_on_another_connection() -> None:
    server = FirstHangs()
    async with serve_routes(server.routes()) as (url, seen):
        hedging = hyperhttp.Hedging(delay=0.05, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            response = await client.get(url + "/work")
            assert response.text == "copy"
            assert server.count == 2
            assert seen.peers[0] != seen.peers[1]  # another connection
            stats = client.pool_stats()
            assert stats.in_use == 0
            assert stats.idle == 1  # the loser's connection was discarded, not pooled
            server.release.set()


async def test_a_fast_answer_sends_no_copy() -> None:
    server = FirstHangs()
    server.release.set()
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=5.0, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            assert (await client.get(url + "/work")).text == "first"
    assert server.count == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_request_that_is_not_idempotent_is_never_hedged(method: str) -> None:
    server = FirstHangs()
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.01, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            task = asyncio.ensure_future(client.request(method, url + "/work", content=b"x"))
            await asyncio.sleep(0.2)
            assert server.count == 1
            server.release.set()
            assert (await task).text == "first"


async def test_a_streamed_body_is_never_sent_twice() -> None:
    server = FirstHangs()

    async def body() -> object:
        yield b"streamed"

    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.01, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            task = asyncio.ensure_future(client.put(url + "/work", content=body()))
            await asyncio.sleep(0.2)
            assert server.count == 1
            server.release.set()
            assert (await task).text == "first"


async def test_hedging_none_on_a_call_turns_it_off_and_a_call_can_turn_it_on() -> None:
    server = FirstHangs()
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.01, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            task = asyncio.ensure_future(client.get(url + "/work", hedging=None))
            await asyncio.sleep(0.2)
            assert server.count == 1
            server.release.set()
            assert (await task).text == "first"
        server.count, server.release = 0, asyncio.Event()
        async with hyperhttp.Client() as client:
            response = await client.get(url + "/work", hedging=hedging)
            assert response.text == "copy"
            server.release.set()


async def test_an_empty_budget_sends_no_copy() -> None:
    server = FirstHangs()
    async with serve_routes(server.routes()) as (url, _):
        empty = RetryBudget(ratio=0.0, min_per_second=0.0)
        async with hyperhttp.Client(hedging=hyperhttp.Hedging(delay=0.01, budget=empty)) as client:
            task = asyncio.ensure_future(client.get(url + "/work"))
            await asyncio.sleep(0.2)
            assert server.count == 1
            server.release.set()
            assert (await task).text == "first"


async def test_a_budget_shared_with_the_retry_policy_counts_each_call_once() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    budget = RetryBudget(ratio=0.5, min_per_second=0.0)
    policy = hyperhttp.RetryPolicy(budget=budget)
    async with serve_routes([web.get("/ok", ok)]) as (url, _):
        hedging = hyperhttp.Hedging(delay=5.0, budget=budget)
        async with hyperhttp.Client(retry=policy, hedging=hedging) as client:
            for _ in range(10):
                await client.get(url + "/ok")
    assert budget.available() == pytest.approx(5.0)  # 10 calls, not 20


async def test_the_live_percentile_hedges_the_slow_one_after_enough_samples() -> None:
    server = FirstHangs()
    server.count = -30  # thirty fast answers first ("copy"), then one that hangs
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(percentile=0.9, min_samples=20, budget=roomy())
        async with hyperhttp.Client(hedging=hedging) as client:
            for _ in range(30):
                await client.get(url + "/work")
            assert hedging.delay_for(("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))) is not None
            server.count = 0
            response = await client.get(url + "/work")
            assert response.text == "copy"
            server.release.set()


async def test_over_http2_the_loser_stream_is_reset_and_the_server_sees_it(
    tls: TLSSetup, h2_server: H2Server
) -> None:
    tag = uuid.uuid4().hex
    hedging = hyperhttp.Hedging(delay=0.05, budget=roomy())
    async with hyperhttp.Client(verify=tls.ca_path, hedging=hedging) as client:
        response = await client.get(f"{h2_server.url}/hedge/{tag}")
        assert response.http_version == "HTTP/2"
        assert response.text == "copy"
        end = "running"
        for _ in range(100):  # bounded: the server records the reset within a few ms
            end = (await client.get(f"{h2_server.url}/hedge-end/{tag}", hedging=None)).text
            if end != "running":
                break
            await asyncio.sleep(0.02)
        assert end in {"http.disconnect", "cancelled"}
        assert client.pool_stats().in_use == 0


async def test_hedging_must_be_a_hedging() -> None:
    with pytest.raises(TypeError, match="hedging must be"):
        hyperhttp.Client(hedging=0.1)  # type: ignore[arg-type]
    async with hyperhttp.Client() as client:
        with pytest.raises(TypeError, match="hedging must be"):
            client.hedging = "fast"  # type: ignore[assignment]
        with pytest.raises(TypeError, match="hedging must be"):
            await client.get("http://127.0.0.1:1/", hedging=1)
