"""RateLimiter / RateBuckets: a token bucket as GCRA, sans-IO with an injected clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp_resilience import RateBuckets, RateLimiter

if TYPE_CHECKING:
    from collections.abc import Sequence


def test_a_burst_then_one_slot_per_interval() -> None:
    buckets = RateBuckets(rate=10, burst=3)
    delays = [buckets.reserve("a", 0.0)[0] for _ in range(6)]
    assert delays == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


def test_keys_are_independent() -> None:
    buckets = RateBuckets(rate=1)
    assert buckets.reserve("a", 0.0)[0] == 0.0
    assert buckets.reserve("b", 0.0)[0] == 0.0
    assert buckets.reserve("a", 0.0)[0] == pytest.approx(1.0)


def test_the_bucket_refills_with_time() -> None:
    buckets = RateBuckets(rate=2, burst=2)
    for _ in range(2):
        buckets.reserve("a", 0.0)
    assert buckets.reserve("a", 0.0)[0] == pytest.approx(0.5)
    assert buckets.delay("a", 10.0) == 0.0
    assert [buckets.reserve("a", 10.0)[0] for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


def test_a_cancelled_reservation_is_handed_back_when_it_was_the_last() -> None:
    buckets = RateBuckets(rate=1)
    buckets.reserve("a", 0.0)
    delay, ticket = buckets.reserve("a", 0.0)
    assert delay == pytest.approx(1.0)
    buckets.cancel("a", ticket)
    assert buckets.reserve("a", 0.0)[0] == pytest.approx(1.0)  # the same slot again


def test_a_pause_holds_the_key_until_then() -> None:
    buckets = RateBuckets(rate=100, burst=5)
    buckets.pause("a", 3.0)
    assert buckets.reserve("a", 1.0)[0] == pytest.approx(2.0)
    assert buckets.reserve("b", 1.0)[0] == 0.0


def test_keys_are_bounded() -> None:
    buckets = RateBuckets(rate=1, max_keys=3)
    for key in range(10):
        buckets.reserve(key, float(key))
    assert len(buckets._tat) == 3


@pytest.mark.parametrize(
    ("rate", "burst", "error"),
    [
        (0, 1, ValueError),
        (-1, 1, ValueError),
        ("5", 1, TypeError),
        (1, 0, ValueError),
        (1, 1.5, TypeError),
        (float("inf"), 1, ValueError),
    ],
)
def test_bad_settings_are_refused(rate: object, burst: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        RateBuckets(rate, burst)  # type: ignore[arg-type]


@given(
    rate=st.floats(min_value=0.5, max_value=1000),
    burst=st.integers(min_value=1, max_value=20),
    arrivals=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=200),
)
def test_no_window_admits_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, arrivals: list[float]
) -> None:
    buckets = RateBuckets(rate, burst)
    starts = sorted(now + buckets.reserve("k", now)[0] for now in sorted(arrivals))
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            span = starts[j] - first
            assert j - i + 1 <= burst + rate * span + 1e-6


def _recorded(now: float, **settings: float) -> tuple[RateLimiter, list[float]]:
    """Return a limiter whose clock stands at ``now`` and whose sleeps are recorded."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    return RateLimiter(clock=lambda: now, sleep=sleep, **settings), slept  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_waiters_are_served_in_order_and_at_the_rate() -> None:
    limiter, slept = _recorded(0.0, rate=5, burst=1)
    order: list[int] = []

    async def call(i: int) -> None:
        await limiter.acquire("api")
        order.append(i)

    await asyncio.gather(*(call(i) for i in range(4)))
    assert order == [0, 1, 2, 3]
    assert slept == pytest.approx([0.2, 0.4, 0.6])


@pytest.mark.asyncio
async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    limiter = RateLimiter(rate=1)
    await limiter.acquire("a")
    waiting = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.buckets.delay("a", limiter.clock()) <= 1.0


@pytest.mark.asyncio
async def test_run_and_pause() -> None:
    limiter, slept = _recorded(100.0, rate=1000, burst=10)
    limiter.pause("a", 2.5)  # Retry-After: 2.5

    async def fetch() -> str:
        return "ok"

    assert await limiter.run("a", fetch) == "ok"
    assert slept == pytest.approx([2.5])


def test_pauses_on_new_keys_are_bounded_too() -> None:
    """A pause for a key not seen yet counts against max_keys, as a reservation does."""
    buckets = RateBuckets(rate=1, max_keys=3)
    for key in range(10):
        buckets.pause(key, 100.0)
    assert len(buckets._tat) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize(("seconds", "held"), [(float("inf"), 300.0), (1e308, 300.0), (-4.0, 0.0)])
async def test_a_pause_is_bounded_by_max_pause(seconds: float, held: float) -> None:
    """A pause a caller passes on from a server (inf, 1e308) holds the key max_pause at most."""
    limiter, slept = _recorded(100.0, rate=1000, burst=10)
    limiter.pause("a", seconds)
    await limiter.acquire("a")
    assert sum(slept) == pytest.approx(held)


def test_a_pause_of_nan_is_refused() -> None:
    """NaN is no number of seconds: the caller learns at once."""
    with pytest.raises(ValueError, match="seconds"):
        RateLimiter(rate=1).pause("a", float("nan"))


class StallingTime:
    """Virtual time whose first wake-up comes ``stall`` seconds late (the loop was blocked).

    Every wake-up is also ``late`` seconds late (a busy loop's timer lateness).
    """

    def __init__(self, stall: float, late: float = 0.0) -> None:
        self.now = 0.0
        self.stall = stall
        self.late = late
        self.timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self.order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.timers, (self.now + seconds, next(self.order), future))
        await future

    async def run(self, calls: Sequence[asyncio.Future[None]]) -> None:
        """Fire the timers in order (the first one late) until every call is done."""
        for _ in range(1000):
            for _ in range(5):
                await asyncio.sleep(0)
            if all(call.done() for call in calls) or not self.timers:
                return
            self.now = max(self.now, self.timers[0][0]) + self.stall + self.late
            self.stall = 0.0
            while self.timers and self.timers[0][0] <= self.now:
                heapq.heappop(self.timers)[2].set_result(None)


@pytest.mark.asyncio
async def test_a_late_wake_up_does_not_start_the_overdue_calls_at_once() -> None:
    """After the loop stalled past several slots, the calls still start 1/rate apart."""
    time = StallingTime(stall=0.5)
    limiter = RateLimiter(rate=10, burst=1, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def call() -> None:
        await limiter.acquire("a")
        starts.append(time.now)

    calls = [asyncio.ensure_future(call()) for _ in range(5)]
    await time.run(calls)
    await asyncio.gather(*calls)
    assert starts[0] == 0.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts[1:])]
    assert gaps == pytest.approx([0.1, 0.1, 0.1])


@pytest.mark.asyncio
async def test_a_pause_given_while_calls_wait_holds_them_too() -> None:
    """Calls queued for their slots when a 429 arrives do not start during its pause."""
    time = StallingTime(stall=0.0)
    limiter = RateLimiter(rate=10, burst=1, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def call() -> None:
        await limiter.acquire("a")
        starts.append(time.now)

    calls = [asyncio.ensure_future(call()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    limiter.pause("a", 2.0)  # the first call's response: Retry-After: 2
    await time.run(calls)
    await asyncio.gather(*calls)
    assert starts == pytest.approx([0.0, 2.0, 2.1])


@pytest.mark.asyncio
async def test_timers_a_little_late_do_not_slow_the_rate() -> None:
    """Every wake-up 1 ms late (a busy loop): calls still start 10 ms apart on average."""
    time = StallingTime(stall=0.0, late=0.001)
    limiter = RateLimiter(rate=100, burst=1, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def call() -> None:
        await limiter.acquire("a")
        starts.append(time.now)

    calls = [asyncio.ensure_future(call()) for _ in range(11)]
    await time.run(calls)
    await asyncio.gather(*calls)
    assert starts[-1] == pytest.approx(0.101)  # 10 slots of 10 ms, the last wake-up 1 ms late
