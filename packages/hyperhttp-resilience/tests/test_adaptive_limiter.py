"""AdaptiveLimiter: AIMD concurrency per key (additive increase, multiplicative decrease)."""

from __future__ import annotations

import asyncio

import pytest

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
