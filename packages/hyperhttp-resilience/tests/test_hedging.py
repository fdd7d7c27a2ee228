"""Hedging: a copy of a slow call after the delay; the first answer wins; budgeted."""

from __future__ import annotations

import asyncio

import pytest

from hyperhttp_resilience import Hedging, RetryBudget

pytestmark = pytest.mark.asyncio


class Calls:
    """A call whose copies answer when the test says so."""

    def __init__(self) -> None:
        self.started = 0
        self.gates: list[asyncio.Future[str]] = []
        self.cancelled: list[int] = []
        self.first_started = asyncio.Event()
        self.copy_started = asyncio.Event()

    async def __call__(self) -> str:
        index = self.started
        self.started += 1
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        (self.first_started if index == 0 else self.copy_started).set()
        try:
            return await gate
        except asyncio.CancelledError:
            self.cancelled.append(index)
            raise


def roomy() -> RetryBudget:
    return RetryBudget(ratio=1.0, min_per_second=10.0)


async def test_a_fast_answer_sends_no_copy() -> None:
    calls = Calls()
    hedging = Hedging(delay=10.0, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.first_started.wait()
    calls.gates[0].set_result("one")
    assert await task == "one"
    assert calls.started == 1


async def test_a_slow_call_gets_a_copy_and_the_copy_wins_the_first_is_cancelled() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    calls.gates[1].set_result("copy")
    assert await task == "copy"
    assert calls.started == 2
    assert calls.cancelled == [0]


async def test_the_first_still_wins_after_the_copy_started() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    calls.gates[0].set_result("first")
    assert await task == "first"
    assert calls.cancelled == [1]


async def test_at_most_max_extra_copies() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, max_extra=2, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    while calls.started < 3:
        await asyncio.sleep(0.002)
    for _ in range(5):  # more delays pass: no fourth copy
        await asyncio.sleep(0.002)
    assert calls.started == 3
    calls.gates[2].set_result("third")
    assert await task == "third"
    assert sorted(calls.cancelled) == [0, 1]


async def test_an_empty_budget_sends_no_copy() -> None:
    calls = Calls()
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    hedging = Hedging(delay=0.001, budget=budget)
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.first_started.wait()
    for _ in range(5):
        await asyncio.sleep(0.002)
    assert calls.started == 1
    calls.gates[0].set_result("one")
    assert await task == "one"


async def test_the_default_budget_allows_one_copy_per_ten_calls() -> None:
    hedging = Hedging(delay=0.0)  # every call would be hedged at once
    started = 0

    async def call() -> int:
        nonlocal started
        started += 1
        await asyncio.sleep(0.001)
        return 1

    for _ in range(100):
        await hedging.run("k", call)
    assert 100 <= started <= 110


async def test_an_error_before_any_copy_is_raised_at_once() -> None:
    hedging = Hedging(delay=10.0, budget=roomy())

    async def refused() -> str:
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        await hedging.run("k", refused)


async def test_a_failed_copy_does_not_win_while_another_runs() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    calls.gates[0].set_exception(ConnectionResetError())
    await asyncio.sleep(0.005)
    assert not task.done()
    calls.gates[1].set_result("copy")
    assert await task == "copy"


async def test_when_every_copy_fails_the_first_error_is_raised() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    calls.gates[0].set_exception(ConnectionResetError("first"))
    await asyncio.sleep(0)
    calls.gates[1].set_exception(TimeoutError("copy"))
    with pytest.raises(ConnectionResetError, match="first"):
        await task


async def test_an_answer_that_lost_is_discarded() -> None:
    calls = Calls()
    discarded: list[str] = []

    async def discard(result: str) -> None:
        discarded.append(result)

    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls, discard=discard))
    await calls.copy_started.wait()
    calls.gates[0].set_result("first")
    calls.gates[1].set_result("copy")  # both answer in the same instant
    assert await task == "first"
    assert discarded == ["copy"]


async def test_cancelling_the_caller_cancels_every_copy() -> None:
    calls = Calls()
    hedging = Hedging(delay=0.001, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(calls.cancelled) == [0, 1]


async def test_without_delay_the_live_percentile_decides() -> None:
    now = 0.0
    hedging = Hedging(percentile=0.9, min_samples=20, budget=roomy(), clock=lambda: now)
    assert hedging.delay_for("k") is None  # no samples: no copy

    async def answer() -> str:
        return "ok"

    for _ in range(20):
        await hedging.run("k", answer)
        now += 0.01  # (the clock moves between calls, not within one: 0 s latency)
    delay = hedging.delay_for("k")
    assert delay is not None
    assert delay < 0.001
    assert hedging.delay_for("other") is None
    assert Hedging(delay=0.2).delay_for("k") == 0.2
    assert Hedging(delay=0.2, max_extra=0).delay_for("k") is None


async def test_a_hedged_win_still_counts_the_slow_first_as_slow() -> None:
    calls = Calls()
    ticks = iter([0.0, 1.0])
    hedging = Hedging(delay=0.001, budget=roomy(), min_samples=1, clock=lambda: next(ticks))
    task = asyncio.ensure_future(hedging.run("k", calls))
    await calls.copy_started.wait()
    calls.gates[1].set_result("copy")
    await task
    assert hedging.latency.samples("k") == 1
    estimate = hedging.latency.estimate("k")
    assert estimate is not None
    assert estimate >= 1.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"delay": -1}, ValueError),
        ({"delay": "1"}, TypeError),
        ({"max_extra": -1}, ValueError),
        ({"max_extra": 1.5}, ValueError),
        ({"budget": 0.1}, TypeError),
        ({"percentile": 1.5}, ValueError),
    ],
)
async def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Hedging(**kwargs)  # type: ignore[arg-type]
