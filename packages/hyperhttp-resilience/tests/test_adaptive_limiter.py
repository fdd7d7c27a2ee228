"""AdaptiveLimiter: AIMD concurrency per key (additive increase, multiplicative decrease)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp_resilience import AdaptiveLimiter, Outcome

pytestmark = pytest.mark.asyncio


async def test_it_admits_up_to_the_limit_and_queues_the_rest_in_order() -> None:
    limiter = AdaptiveLimiter(initial=2)
    first, second = await limiter.acquire("a"), await limiter.acquire("a")
    order: list[int] = []

    async def wait(i: int) -> None:
        slot = await limiter.acquire("a")
        order.append(i)
        limiter.release(slot)

    waiters = [asyncio.ensure_future(wait(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert limiter.in_flight("a") == 2
    assert order == []
    limiter.release(first)
    limiter.release(second)
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert limiter.in_flight("a") == 0


async def test_successes_grow_it_by_about_one_per_round_at_full_use() -> None:
    limiter = AdaptiveLimiter(initial=4, max_limit=100)
    for _ in range(4):  # four rounds at full use
        slots = [await limiter.acquire("a") for _ in range(int(limiter.limit("a")))]
        for slot in slots:
            limiter.release(slot, Outcome.SUCCESS)
    # At most one slot a round; here less, as the round's last releases are below half use.
    assert 5.5 < limiter.limit("a") <= 8.0


async def test_steady_full_use_grows_one_slot_per_limit_of_successes() -> None:
    limiter = AdaptiveLimiter(initial=10, max_limit=100)
    slots = [await limiter.acquire("a") for _ in range(10)]
    for _ in range(10):  # ten successes, each replaced at once: about +1
        limiter.release(slots.pop(0), Outcome.SUCCESS)
        slots.append(await limiter.acquire("a"))
    assert 10.9 < limiter.limit("a") < 11.1
    for slot in slots:
        limiter.release(slot)


async def test_an_idle_key_does_not_grow() -> None:
    limiter = AdaptiveLimiter(initial=10)
    for _ in range(100):
        limiter.release(await limiter.acquire("a"), Outcome.SUCCESS)  # one in flight of 10
    assert limiter.limit("a") == 10


async def test_overload_halves_it_once_per_round() -> None:
    limiter = AdaptiveLimiter(initial=16)
    slots = [await limiter.acquire("a") for _ in range(16)]
    for slot in slots:  # a burst of 429s from the same round
        limiter.release(slot, Outcome.OVERLOAD)
    assert limiter.limit("a") == 8
    slot = await limiter.acquire("a")
    limiter.release(slot, Outcome.OVERLOAD)  # a new round
    assert limiter.limit("a") == 4


async def test_it_never_goes_below_min_or_above_max() -> None:
    limiter = AdaptiveLimiter(initial=2, min_limit=2, max_limit=3)
    for _ in range(5):
        limiter.release(await limiter.acquire("a"), Outcome.OVERLOAD)
    assert limiter.limit("a") == 2
    for _ in range(50):
        slots = [await limiter.acquire("a") for _ in range(int(limiter.limit("a")))]
        for slot in slots:
            limiter.release(slot, Outcome.SUCCESS)
    assert limiter.limit("a") == 3


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    limiter = AdaptiveLimiter(initial=1)
    held = await limiter.acquire("a")
    waiter = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release(held)
    assert limiter.in_flight("a") == 0
    limiter.release(await limiter.acquire("a"))


async def test_a_waiter_cancelled_as_it_is_admitted_passes_the_slot_on() -> None:
    limiter = AdaptiveLimiter(initial=1)
    held = await limiter.acquire("a")
    first = asyncio.ensure_future(limiter.acquire("a"))
    second = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    limiter.release(held)  # admits first...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    slot = await asyncio.wait_for(second, 1.0)
    assert limiter.in_flight("a") == 1
    limiter.release(slot)


async def test_run_classifies_results_and_errors() -> None:
    limiter = AdaptiveLimiter(initial=8)

    async def throttled() -> int:
        return 429

    async def slow() -> int:
        raise TimeoutError

    assert await limiter.run("a", throttled, overloaded=lambda status: status == 429) == 429
    assert limiter.limit("a") == 4
    with pytest.raises(TimeoutError):
        await limiter.run("a", slow)
    assert limiter.limit("a") == 2
    assert limiter.in_flight("a") == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": 5, "max_limit": 4},
        {"backoff": 1.0},
        {"backoff": 0},
        {"initial": 2.5},
    ],
)
async def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        AdaptiveLimiter(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- pause and pace


class FakeTime:
    """A clock that moves only when the limiter sleeps; every sleep is recorded."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def limiter(self, **settings: object) -> AdaptiveLimiter:
        return AdaptiveLimiter(clock=self.clock, sleep=self.sleep, **settings)  # type: ignore[arg-type]


async def _admitted_at(
    limiter: AdaptiveLimiter, time: FakeTime, key: str, calls: int
) -> list[float]:
    """Start ``calls`` acquires on ``key`` at once; return when each was admitted, in order."""
    times: list[float] = []

    async def call() -> None:
        slot = await limiter.acquire(key)
        times.append(time.now)
        limiter.release(slot)

    await asyncio.gather(*(call() for _ in range(calls)))
    return times


async def test_a_pause_holds_new_admissions_of_its_key_only() -> None:
    """pause(key, s): no call on key starts before s seconds; other keys go on."""
    time = FakeTime()
    limiter = time.limiter()
    limiter.pause("a", 2.0)
    assert limiter.delay("a") == 2.0
    limiter.release(await limiter.acquire("b"))
    assert time.slept == []
    limiter.release(await limiter.acquire("a"))
    assert time.slept == [2.0]
    assert limiter.delay("a") == 0.0


async def test_calls_held_by_a_pause_start_in_order_after_one_wait() -> None:
    """Every call waiting out a pause starts when it ends, first come first served."""
    time = FakeTime()
    limiter = time.limiter(initial=2)
    limiter.pause("a", 1.5)
    order: list[int] = []

    async def call(i: int) -> None:
        slot = await limiter.acquire("a")
        order.append(i)
        await asyncio.sleep(0)
        limiter.release(slot)

    await asyncio.gather(*(call(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert time.slept == [1.5]  # one waiter sleeps the pause out for all
    assert limiter.in_flight("a") == 0


async def test_a_pause_given_while_calls_wait_for_a_slot_holds_them_too() -> None:
    """A 429 that arrives while others wait for the limit: they wait out its pause as well."""
    time = FakeTime()
    limiter = time.limiter(initial=1)
    held = await limiter.acquire("a")
    waiter = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    limiter.pause("a", 3.0)
    limiter.release(held, Outcome.OVERLOAD)
    limiter.release(await waiter)
    assert time.slept == [3.0]


async def test_a_pause_given_during_the_wait_extends_it() -> None:
    """A longer pause set while the calls sleep out a shorter one: they wait for the longer."""
    time = FakeTime()
    limiter = time.limiter()
    sleep = time.sleep

    async def sleep_and_pause_again(seconds: float) -> None:
        await sleep(seconds)
        if len(time.slept) == 1:
            limiter.pause("a", 4.0)  # a 429 of a call on another connection

    limiter.sleep = sleep_and_pause_again
    limiter.pause("a", 1.0)
    assert await _admitted_at(limiter, time, "a", 3) == [105.0] * 3
    assert time.slept == [1.0, 4.0]


async def test_a_later_pause_wins_and_a_shorter_one_does_not_cut_it() -> None:
    time = FakeTime()
    limiter = time.limiter()
    limiter.pause("a", 5.0)
    limiter.pause("a", 1.0)
    assert limiter.delay("a") == 5.0


@pytest.mark.parametrize(("seconds", "held"), [(float("inf"), 300.0), (1e308, 300.0), (-3.0, 0.0)])
async def test_a_pause_is_bounded_by_max_pause(seconds: float, held: float) -> None:
    """A number passed on from a server holds the key max_pause (300 s) at most, never < 0."""
    time = FakeTime()
    limiter = time.limiter()
    limiter.pause("a", seconds)
    assert limiter.delay("a") == held
    limiter.release(await limiter.acquire("a"))
    assert sum(time.slept) == held


async def test_a_pause_of_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="seconds"):
        AdaptiveLimiter().pause("a", float("nan"))


async def test_a_cancelled_sleeper_hands_the_wait_on() -> None:
    """The waiter sleeping out a pause is cancelled: the next one sleeps it out instead."""
    time = FakeTime()
    gates: list[asyncio.Future[None]] = []

    async def sleep(seconds: float) -> None:
        time.slept.append(seconds)
        gate = asyncio.get_running_loop().create_future()
        gates.append(gate)
        await gate
        time.now += seconds

    limiter = AdaptiveLimiter(clock=time.clock, sleep=sleep)
    limiter.pause("a", 2.0)
    first = asyncio.ensure_future(limiter.acquire("a"))
    second = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    assert len(gates) == 1  # first sleeps for both
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.sleep(0)
    assert len(gates) == 2  # second took over
    gates[1].set_result(None)
    limiter.release(await second)
    assert limiter.in_flight("a") == 0


async def test_a_call_cancelled_while_held_leaves_nothing_behind() -> None:
    time = FakeTime()
    limiter = time.limiter(initial=1)
    held = await limiter.acquire("a")
    waiter = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.pause("a", 1.0)
    limiter.release(held)
    limiter.release(await limiter.acquire("a"))
    assert time.slept == [1.0]
    assert limiter.in_flight("a") == 0


async def test_paused_keys_are_bounded() -> None:
    """Pauses of many keys keep max_keys entries; idle keys whose pause is over go first."""
    limiter = AdaptiveLimiter(max_keys=3)
    for key in range(10):
        limiter.pause(key, 60.0)
    assert len(limiter._keys) == 3


async def test_pace_spreads_calls_at_the_rate() -> None:
    """pace(key, rate): one call every 1/rate seconds."""
    time = FakeTime()
    limiter = time.limiter()
    limiter.pace("a", rate=10)
    times = await _admitted_at(limiter, time, "a", 4)
    assert times == pytest.approx([100.0, 100.1, 100.2, 100.3])


async def test_pace_allows_its_burst_then_the_rate() -> None:
    time = FakeTime()
    limiter = time.limiter()
    limiter.pace("a", rate=10, burst=3)
    times = await _admitted_at(limiter, time, "a", 5)
    assert times == pytest.approx([100.0, 100.0, 100.0, 100.1, 100.2])


async def test_remaining_caps_the_burst_counting_the_calls_in_flight() -> None:
    """remaining=3 with one call still in flight: two start at once, then the rate."""
    time = FakeTime()
    limiter = time.limiter()
    held = await limiter.acquire("a")
    limiter.pace("a", rate=10, burst=100, remaining=3)
    times = await _admitted_at(limiter, time, "a", 4)
    assert times == pytest.approx([100.0, 100.0, 100.1, 100.2])
    limiter.release(held)


async def test_remaining_never_raises_what_the_pace_allows() -> None:
    """A report of more quota than the limiter's own count does not add a burst (stale report)."""
    time = FakeTime()
    limiter = time.limiter()
    limiter.pace("a", rate=10, burst=1)
    limiter.release(await limiter.acquire("a"))
    limiter.pace("a", rate=10, burst=1, remaining=50)
    limiter.release(await limiter.acquire("a"))
    assert time.slept == pytest.approx([0.1])


async def test_a_paced_key_resumes_at_its_rate_after_a_pause_not_with_a_burst() -> None:
    """After a pause the server's quota is taken as empty: the rate, not a saved-up burst."""
    time = FakeTime()
    limiter = time.limiter()
    limiter.pace("a", rate=10, burst=100)
    limiter.pause("a", 1.0)
    times = await _admitted_at(limiter, time, "a", 3)
    assert times == pytest.approx([101.0, 101.1, 101.2])


async def test_a_pace_cannot_hold_a_key_past_max_pause() -> None:
    """rate=1/86400 (one call a day): calls are still spaced max_pause at most."""
    time = FakeTime()
    limiter = time.limiter(max_pause=60.0)
    limiter.pace("a", rate=1 / 86400, remaining=0)
    limiter.release(await limiter.acquire("a"))
    limiter.release(await limiter.acquire("a"))
    assert all(seconds <= 60.0 for seconds in time.slept)


async def test_the_concurrency_limit_still_holds_under_a_pace() -> None:
    time = FakeTime()
    limiter = time.limiter(initial=2)
    limiter.pace("a", rate=1000, burst=1000)
    slots = [await limiter.acquire("a") for _ in range(2)]
    third = asyncio.ensure_future(limiter.acquire("a"))
    await asyncio.sleep(0)
    assert not third.done()
    limiter.release(slots[0])
    limiter.release(await third)
    limiter.release(slots[1])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rate": 0}, ValueError),
        ({"rate": float("nan")}, ValueError),
        ({"rate": float("inf")}, ValueError),
        ({"rate": "5"}, TypeError),
        ({"rate": 1, "burst": 0}, ValueError),
        ({"rate": 1, "burst": 1.5}, TypeError),
        ({"rate": 1, "remaining": -1}, ValueError),
    ],
)
async def test_bad_paces_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        AdaptiveLimiter().pace("a", **kwargs)  # type: ignore[arg-type]


async def test_max_pause_is_checked() -> None:
    with pytest.raises(ValueError, match="max_pause"):
        AdaptiveLimiter(max_pause=0)


_STEPS = st.lists(
    st.one_of(
        st.just(("call", 0.0)),
        st.tuples(st.just("pause"), st.floats(0, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 29)),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=1, max_value=100),
    burst=st.integers(min_value=1, max_value=5),
    initial=st.integers(min_value=1, max_value=4),
    steps=_STEPS,
    overloads=st.lists(st.booleans(), min_size=1, max_size=8),
)
async def test_any_mix_of_calls_pauses_and_cancels_keeps_order_pace_and_pauses(
    rate: float, burst: int, initial: int, steps: list[tuple[str, float]], overloads: list[bool]
) -> None:
    """Every call not cancelled starts, in arrival order, within the limit, pace and pauses.

    And nothing is left behind: no slot, no waiter, no sleeper.
    """
    time = FakeTime()
    limiter = time.limiter(initial=initial)
    limiter.pace("k", rate=rate, burst=burst)
    when: dict[int, float] = {}  # call number -> when it started
    pauses: list[tuple[int, int, float]] = []  # (calls asked, calls admitted, until)
    released = [0]

    async def call(number: int) -> None:
        slot = await limiter.acquire("k")
        try:
            assert limiter.in_flight("k") <= max(int(limiter.limit("k")), 1)
            when[number] = time.now
            await asyncio.sleep(0)
        finally:
            overloaded = overloads[number % len(overloads)]
            limiter.release(slot, Outcome.OVERLOAD if overloaded else Outcome.SUCCESS)
            released[0] += 1

    tasks: list[asyncio.Future[None]] = []
    for kind, value in steps:
        if kind == "call":
            tasks.append(asyncio.ensure_future(call(len(tasks))))
        elif kind == "pause":
            limiter.pause("k", value)
            admitted = released[0] + limiter.in_flight("k")
            pauses.append((len(tasks), admitted, time.now + value))
        elif tasks:
            tasks[int(value) % len(tasks)].cancel()
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5.0)

    cancelled = {number for number, task in enumerate(tasks) if task.cancelled()}
    assert set(when) | cancelled == set(range(len(tasks)))
    assert limiter.in_flight("k") == 0
    assert limiter.delay("k") >= 0.0
    # In order: no call starts at an earlier time than one that asked before it.
    # (Two admitted at the same instant may run in either order: one admitted
    # by a release resumes after one that took a free slot at once.)
    started = sorted(when)
    assert all(when[a] <= when[b] for a, b in itertools.pairwise(started))
    for asked, admitted, until in pauses:
        # Calls that asked after the pause, and (with no cancel to blur the count)
        # every call not admitted when it was given, start after it.
        first = asked if cancelled or any(kind == "cancel" for kind, _ in steps) else admitted
        assert all(when[n] >= until - 1e-9 for n in started if n >= first)
    times = sorted(when.values())
    for i, first_time in enumerate(times):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - first_time) + 1e-6
