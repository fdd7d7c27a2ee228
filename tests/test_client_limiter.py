"""``Client(limiter=...)``: per-origin rate and concurrency limits against aiohttp peers.

A response asking to slow down (429/503 with Retry-After, a RateLimit field
with no quota left) pauses its origin only, for either limiter; an
AdaptiveLimiter's limit shrinks on 429 and grows on success, and its calls
are paced by the origin's RateLimit-Policy; a mapping limits only its
origins. The limiters' sleeps are recorded (injected) so the tests do not
wait them. What a response asks for is read sans-IO (``pause_for``,
``pace_for``), table-driven.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from aiohttp import web
from hyperhttp._limit import pace_for, pause_for
from hyperhttp._urls import parse_url
from hyperhttp_resilience import AdaptiveLimiter, RateLimiter
from multidict import CIMultiDict

from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

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

    async def policy(request: web.Request) -> web.Response:
        headers = {"RateLimit-Policy": f'"default";q={request.query["q"]};w=1'}
        if "r" in request.query:
            headers["RateLimit"] = f'"default";r={request.query["r"]};t=1'
        return web.Response(text="ok", headers=headers)

    async def split(request: web.Request) -> web.Response:
        # One List over two field lines (RFC 9651 §3.1): the second is spent.
        headers = CIMultiDict([("RateLimit", '"burst";r=5;t=1'), ("RateLimit", '"daily";r=0;t=9')])
        return web.Response(text="ok", headers=headers)

    return [
        web.get("/ok", ok),
        web.get("/busy", busy),
        web.get("/quota", quota),
        web.get("/legacy", legacy),
        web.get("/policy", policy),
        web.get("/split", split),
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


def _rate(recorder: Recorder) -> RateLimiter:
    return RateLimiter(rate=1000, burst=10, clock=recorder.clock, sleep=recorder.sleep)


def _adaptive(recorder: Recorder) -> AdaptiveLimiter:
    return AdaptiveLimiter(clock=recorder.clock, sleep=recorder.sleep)


@pytest.mark.parametrize("make", [_rate, _adaptive], ids=["RateLimiter", "AdaptiveLimiter"])
@pytest.mark.parametrize(
    ("path", "pause"),
    [("/busy?after=2", 2.0), ("/quota", 7.0), ("/legacy", 4.0), ("/split", 9.0)],
)
async def test_a_response_asking_to_slow_down_pauses_its_origin_only(
    path: str, pause: float, make: Callable[[Recorder], RateLimiter | AdaptiveLimiter]
) -> None:
    recorder = Recorder()
    limiter = make(recorder)
    async with _two_origins() as (a, b), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + path)
        await client.get(b + "/ok")
        assert recorder.slept == []  # the other origin is not held
        await client.get(a + "/ok")
    assert recorder.slept == pytest.approx([pause])


@pytest.mark.parametrize("make", [_rate, _adaptive], ids=["RateLimiter", "AdaptiveLimiter"])
async def test_a_pause_a_server_asks_for_is_bounded(
    make: Callable[[Recorder], RateLimiter | AdaptiveLimiter],
) -> None:
    recorder = Recorder()
    limiter = make(recorder)
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
    recorder = Recorder()
    limiter = AdaptiveLimiter(initial=8, clock=recorder.clock, sleep=recorder.sleep)
    async with _two_origins() as (a, _), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + "/busy")
        origin = parse_url(a).origin
        assert limiter.limit(origin) == 4
        await client.get(a + "/busy")
        assert limiter.limit(origin) == 2
        await client.get(a + "/ok")  # one in flight of 2: at half use, it grows
        assert limiter.limit(origin) == 2.5
        assert limiter.in_flight(origin) == 0
    assert recorder.slept == [2.0, 2.0]  # each 429's Retry-After held the origin


async def test_an_adaptive_limiter_paces_an_origin_by_its_quota_policy() -> None:
    """RateLimit-Policy q=2;w=1: calls two at once, then one every 0.5 s; other origins free."""
    recorder = Recorder()
    limiter = _adaptive(recorder)
    async with _two_origins() as (a, b), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + "/policy?q=2")  # teaches the pace
        for _ in range(2):
            await client.get(a + "/ok")  # the burst
            await client.get(b + "/policy?q=1000")
        assert recorder.slept == []
        await client.get(a + "/ok")
    assert recorder.slept == pytest.approx([0.5])


async def test_the_remaining_quota_tightens_the_pace() -> None:
    """r=2 (the reporting call still counted in flight): one more at once, then the rate."""
    recorder = Recorder()
    limiter = _adaptive(recorder)
    async with _two_origins() as (a, _), hyperhttp.Client(limiter=limiter) as client:
        await client.get(a + "/policy?q=10&r=2")
        await client.get(a + "/ok")
        assert recorder.slept == []
        await client.get(a + "/ok")
    assert recorder.slept == pytest.approx([0.1])


def _response(status: int, *fields: tuple[str, str]) -> hyperhttp.Response:
    return hyperhttp.Response(status, headers=[(n.encode(), v.encode()) for n, v in fields])


@pytest.mark.parametrize(
    ("status", "fields", "pause"),
    [
        (429, [("retry-after", "3")], 3.0),
        (503, [("retry-after", "3")], 3.0),
        (200, [("retry-after", "3")], None),  # Retry-After asks nothing of a 200
        (429, [], None),
        # The draft: Retry-After takes precedence over the reset parameter.
        (429, [("retry-after", "2"), ("ratelimit", '"default";r=0;t=7')], 2.0),
        (200, [("ratelimit", '"default";r=0;t=7')], 7.0),
        (200, [("ratelimit", '"default";r=1;t=7')], None),
        (200, [("ratelimit", '"default";r=0')], None),  # no reset given: no pause
        # Every spent quota is waited for: the longest reset.
        (200, [("ratelimit", '"burst";r=0;t=1, "daily";r=0;t=60')], 60.0),
        (200, [("ratelimit", '"burst";r=0;t=1'), ("ratelimit", '"daily";r=0;t=60')], 60.0),
        # Parameters may follow spaces (RFC 9651 §3.1.2); a name may hold , and ;.
        (200, [("ratelimit", '"a,b;c"; r=0; t=5')], 5.0),
        # Malformed items are ignored (the draft: MUST be ignored).
        (200, [("ratelimit", '"default";r=zero;t=7')], None),
        (200, [("ratelimit", '"default";r=0;t=-7')], None),
        (200, [("ratelimit", '"default";r=0;t=1.5')], None),
        (200, [("ratelimit", '"default;r=0;t=7')], None),  # unterminated string
        (200, [("ratelimit", '"default";r=0;t=' + "9" * 40)], None),
        (200, [("ratelimit", '"default";r=0;t=86400')], 300.0),  # bounded
        (200, [("ratelimit-remaining", "0"), ("ratelimit-reset", "4")], 4.0),
        (200, [("ratelimit-remaining", "1"), ("ratelimit-reset", "4")], None),
    ],
)
async def test_pause_for_reads_what_a_response_asks(
    status: int, fields: list[tuple[str, str]], pause: float | None
) -> None:
    assert pause_for(_response(status, *fields)) == pause


@pytest.mark.parametrize(
    ("fields", "pace"),
    [
        ([("ratelimit-policy", '"default";q=300;w=1')], (300.0, 300, None)),
        (
            [("ratelimit-policy", '"default";q=300;w=1'), ("ratelimit", '"default";r=12;t=1')],
            (300.0, 300, 12),
        ),
        ([("ratelimit-policy", '"default";q=300')], None),  # no window: no rate
        ([("ratelimit-policy", '"default";q=0;w=1')], None),
        ([("ratelimit-policy", '"default";q=1000;w=60;qu="content-bytes"')], None),
        ([("ratelimit-policy", '"default";q=10;w=1;qu="requests"')], (10.0, 10, None)),
        ([("ratelimit", '"default";r=12;t=1')], None),  # a quota without its policy
        # Two policies: the one closest to spent paces, with its remaining quota.
        (
            [
                ("ratelimit-policy", '"burst";q=100;w=60, "daily";q=1000;w=86400'),
                ("ratelimit", '"burst";r=50;t=30, "daily";r=5;t=3600'),
            ],
            (1000 / 86400, 1000, 5),
        ),
        # Without RateLimit, the policy of the lowest rate.
        (
            [("ratelimit-policy", '"burst";q=100;w=60, "daily";q=1000;w=86400')],
            (1000 / 86400, 1000, None),
        ),
    ],
)
async def test_pace_for_reads_a_quota_policy(
    fields: list[tuple[str, str]], pace: tuple[float, int, int | None] | None
) -> None:
    assert pace_for(_response(200, *fields)) == pace


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
