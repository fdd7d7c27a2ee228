"""``Client(limiter=...)``: per-origin rate and concurrency limits against aiohttp peers.

A response asking to slow down (429/503 with Retry-After, a RateLimit field
with no quota left) pauses its origin only; an AdaptiveLimiter's limit
shrinks on 429 and grows on success; a mapping limits only its origins.
The limiters' sleeps are recorded (injected) so the tests do not wait them.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from aiohttp import web
from hyperhttp._urls import parse_url
from hyperhttp_resilience import AdaptiveLimiter, RateLimiter

from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio


def _routes() -> list[web.RouteDef]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": request.query.get("after", "2")})

    async def quota(request: web.Request) -> web.Response:
        return web.Response(text="last one", headers={"RateLimit": '"default";r=0;t=7'})

    async def legacy(request: web.Request) -> web.Response:
        headers = {"RateLimit-Remaining": "0", "RateLimit-Reset": "4"}
        return web.Response(text="last one", headers=headers)

    return [
        web.get("/ok", ok),
        web.get("/busy", busy),
        web.get("/quota", quota),
        web.get("/legacy", legacy),
    ]


@contextlib.asynccontextmanager
async def _two_origins() -> AsyncIterator[tuple[str, str]]:
    async with serve_routes(_routes()) as (first, _), serve_routes(_routes()) as (second, _):
        yield first, second


class Recorder:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.mark.parametrize(
    ("path", "pause"), [("/busy?after=2", 2.0), ("/quota", 7.0), ("/legacy", 4.0)]
)
async def test_a_response_asking_to_slow_down_pauses_its_origin_only(
    path: str, pause: float
) -> None:
    recorder = Recorder()
    limiter = RateLimiter(rate=1000, burst=10, clock=recorder.clock, sleep=recorder.sleep)
    async with _two_origins() as (a, b), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + path)
        await client.get(b + "/ok")
        assert recorder.slept == []  # the other origin is not held
        await client.get(a + "/ok")
    assert recorder.slept == pytest.approx([pause])


async def test_a_pause_a_server_asks_for_is_bounded() -> None:
    recorder = Recorder()
    limiter = RateLimiter(rate=1000, burst=10, clock=recorder.clock, sleep=recorder.sleep)
    async with _two_origins() as (a, _), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + "/busy?after=86400")
        await client.get(a + "/ok")
    assert recorder.slept == pytest.approx([300.0])


async def test_the_rate_holds_per_origin() -> None:
    recorder = Recorder()
    limiter = RateLimiter(rate=10, burst=1, clock=recorder.clock, sleep=recorder.sleep)
    async with _two_origins() as (a, b), hyperhttp.Client(limiter=limiter) as client:
        for _ in range(3):
            await client.get(a + "/ok")
            await client.get(b + "/ok")
    # Each origin: the first at once, then 0.1 s and 0.2 s after (the clock stands still).
    assert recorder.slept == pytest.approx([0.1, 0.1, 0.2, 0.2])


async def test_an_adaptive_limit_shrinks_on_429_and_grows_on_success() -> None:
    limiter = AdaptiveLimiter(initial=8)
    async with _two_origins() as (a, _), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + "/busy")
        origin = parse_url(a).origin
        assert limiter.limit(origin) == 4
        await client.get(a + "/busy")
        assert limiter.limit(origin) == 2
        await client.get(a + "/ok")  # one in flight of 2: at half use, it grows
        assert limiter.limit(origin) == 2.5
        assert limiter.in_flight(origin) == 0


async def test_a_mapping_limits_only_its_origins() -> None:
    recorder = Recorder()
    limiter = RateLimiter(rate=1, burst=1, clock=recorder.clock, sleep=recorder.sleep)
    async with _two_origins() as (a, b), hyperhttp.Client(limiter={a: limiter}) as client:
        for _ in range(2):
            await client.get(a + "/ok")
            await client.get(b + "/ok")
    assert recorder.slept == pytest.approx([1.0])  # a's second request; b never waits


async def test_a_limiter_set_later_applies_and_a_wrong_one_is_refused() -> None:
    recorder = Recorder()
    async with _two_origins() as (a, _), hyperhttp.Client() as client:
        await client.get(a + "/ok")
        client.limiter = RateLimiter(rate=2, clock=recorder.clock, sleep=recorder.sleep)
        await client.get(a + "/ok")
        await client.get(a + "/ok")
        with pytest.raises(TypeError, match="limiter must be"):
            client.limiter = 5  # type: ignore[assignment]
        with pytest.raises(hyperhttp.InvalidURL):
            hyperhttp.Client(limiter={"not a url": RateLimiter(rate=1)})
    assert recorder.slept == pytest.approx([0.5])
