"""RetryPolicy decisions (sans-IO), the retry budget, and RetryPolicy.call."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp_resilience import (
    DeadlineExceeded,
    ErrorKind,
    RetryBudget,
    RetryPolicy,
    default_classify,
)


class Clock:
    """A clock the test moves; its sleep() advances it instead of waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def highest(low: float, high: float) -> float:
    """Draw the top of the range (a stand-in for random.uniform)."""
    return high


def policy(clock: Clock | None = None, **kwargs: Any) -> RetryPolicy:
    clock = clock or Clock()
    kwargs.setdefault("uniform", highest)
    return RetryPolicy(clock=clock, sleep=clock.sleep, wall_clock=lambda: 0.0, **kwargs)


# ------------------------------------------------------------------ decisions


@pytest.mark.parametrize(
    ("method", "outcome", "retry"),
    [
        ("GET", {"error": ConnectionRefusedError()}, True),
        ("POST", {"error": ConnectionRefusedError()}, True),  # nothing was sent
        ("POST", {"error": socket.gaierror()}, True),
        ("GET", {"error": ConnectionResetError()}, True),
        ("POST", {"error": ConnectionResetError()}, False),  # may have been sent
        ("PATCH", {"error": TimeoutError()}, False),
        ("put", {"error": TimeoutError()}, True),
        (None, {"error": TimeoutError()}, True),  # the caller vouches
        ("GET", {"error": ValueError()}, False),  # FATAL
        ("GET", {"status": 503}, True),
        ("GET", {"status": 429}, True),
        ("DELETE", {"status": 502}, True),
        ("POST", {"status": 503}, False),
        ("GET", {"status": 500}, False),
        ("GET", {"status": 200}, False),
        ("GET", {}, False),
    ],
)
def test_what_is_retried(method: str | None, outcome: dict[str, Any], retry: bool) -> None:
    """Connect errors always retry; FATAL errors and other statuses never.

    Possibly-sent errors and retryable statuses retry for idempotent methods only.
    """
    assert policy().start().decide(method, **outcome).retry is retry


def test_give_up_reasons_are_stated() -> None:
    """A decision not to retry says why."""
    assert policy().decide("GET", status=200).reason == "success"
    assert "may have been sent" in policy().decide("POST", error=TimeoutError()).reason
    assert "not retryable" in policy().decide("GET", error=KeyError()).reason


def test_max_attempts_counts_the_first() -> None:
    """max_attempts=3: two retries, then give up saying so; history keeps each attempt."""
    state = policy(max_attempts=3).start()
    first = state.decide("GET", status=503)
    second = first.policy.decide("GET", status=503)
    third = second.policy.decide("GET", status=503)
    assert (first.retry, second.retry, third.retry) == (True, True, False)
    assert "max_attempts (3)" in third.reason
    assert [a.status for a in third.policy.history] == [503, 503, 503]
    assert third.policy.history[0].delay == first.delay
    assert third.policy.history[-1].delay is None
    assert state.history == ()  # immutable: the original is untouched


def test_decorrelated_jitter_grows_from_base_to_cap() -> None:
    """With the top draw each delay triples the previous one, capped."""
    state = policy(max_attempts=10, backoff_base=0.1, backoff_cap=2.0).start()
    delays = []
    for _ in range(5):
        decision = state.decide("GET", error=ConnectionRefusedError())
        delays.append(decision.delay)
        state = decision.policy
    assert delays == pytest.approx([0.3, 0.9, 2.0, 2.0, 2.0])


def test_retry_after_is_honoured_for_429_and_503_only() -> None:
    """Retry-After sets the delay on 429/503; on 502 jitter applies; bad values are ignored."""
    assert policy().decide("GET", status=503, retry_after="7").delay == 7.0
    assert policy().decide("GET", status=429, retry_after=b"2").delay == 2.0
    assert policy().decide("GET", status=502, retry_after="7").delay == pytest.approx(0.3)
    assert policy().decide("GET", status=503, retry_after="later").delay == pytest.approx(0.3)
    custom = policy(retry_after_statuses={502})
    assert custom.decide("GET", status=502, retry_after="7").delay == 7.0


def test_retry_after_http_date_uses_the_wall_clock() -> None:
    """An HTTP-date Retry-After waits until that instant."""
    state = dataclasses.replace(policy(), wall_clock=lambda: 784111777.0 - 30.0)
    decision = state.decide("GET", status=503, retry_after="Sun, 06 Nov 1994 08:49:37 GMT")
    assert decision.delay == 30.0


def test_retry_after_beyond_the_cap_gives_up() -> None:
    """A Retry-After longer than max_retry_after gives up instead of sleeping."""
    decision = policy(max_retry_after=60.0).decide("GET", status=503, retry_after="3600")
    assert not decision.retry
    assert "exceeds max_retry_after" in decision.reason


def test_deadline_stops_a_retry_that_would_end_past_it() -> None:
    """No retry is planned whose wait ends at or after the deadline."""
    clock = Clock()
    state = policy(clock, max_attempts=100, deadline=1.0, backoff_base=0.4, backoff_cap=0.4)
    state = state.start()
    first = state.decide("GET", status=503)
    assert first.retry
    clock.now += 0.4 + 0.3  # slept, then an attempt of 0.3 s: 0.7 + 0.4 >= 1.0
    second = first.policy.decide("GET", status=503)
    assert not second.retry
    assert "deadline" in second.reason


@given(
    steps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=30),
    deadline=st.floats(0.1, 10.0),
    seed=st.integers(0, 1000),
)
def test_deadline_never_exceeded(steps: list[float], deadline: float, seed: int) -> None:
    """Whatever the attempt durations and draws, a planned wait never ends past the deadline."""
    import random

    clock = Clock()
    state = policy(
        clock,
        max_attempts=1000,
        deadline=deadline,
        backoff_base=0.05,
        backoff_cap=5.0,
        uniform=random.Random(seed).uniform,
    ).start()
    started = clock.now
    for duration in steps:
        clock.now += duration
        decision = state.decide("GET", error=ConnectionRefusedError())
        if not decision.retry:
            break
        assert 0.05 <= decision.delay <= 5.0
        assert clock.now + decision.delay - started < deadline
        clock.now += decision.delay
        state = decision.policy


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_attempts": 0}, ValueError),
        ({"max_attempts": 2.5}, TypeError),
        ({"backoff_base": -1.0}, ValueError),
        ({"backoff_base": 5.0, "backoff_cap": 1.0}, ValueError),
        ({"deadline": 0}, ValueError),
        ({"deadline": float("nan")}, ValueError),
        ({"retry_statuses": "503"}, TypeError),
        ({"retry_statuses": {42}}, ValueError),
        ({"retry_methods": "GET"}, TypeError),
        ({"max_retry_after": -1}, ValueError),
        ({"budget": 0.2}, TypeError),
        ({"classify": None}, TypeError),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """RetryPolicy validates when built, naming the setting."""
    with pytest.raises(error):
        RetryPolicy(**kwargs)


def test_policy_is_an_immutable_value() -> None:
    """Policies compare by settings, are hashable-free of history, and cannot be mutated."""
    assert RetryPolicy(retry_methods=["get", "Put"]).retry_methods == frozenset({"GET", "PUT"})
    assert RetryPolicy() == RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().max_attempts = 5  # type: ignore[misc]


def test_pluggable_classification() -> None:
    """A caller's classify() decides what is a connect error."""

    class Refused(Exception):
        pass

    def classify(error: BaseException) -> ErrorKind:
        return ErrorKind.CONNECT if isinstance(error, Refused) else default_classify(error)

    assert policy(classify=classify).decide("POST", error=Refused()).retry
    assert not policy().decide("POST", error=Refused()).retry


# ------------------------------------------------------------------ budget


def test_budget_allows_the_floor_then_a_fraction_of_calls() -> None:
    """With no calls, min_per_second * window retries; each call adds ratio more."""
    budget = RetryBudget(ratio=0.2, window=10.0, min_per_second=0.1, clock=lambda: 0.0)
    assert [budget.try_spend(0.0) for _ in range(2)] == [True, False]  # floor: 1
    for _ in range(10):
        budget.record_call(0.0)
    assert [budget.try_spend(0.0) for _ in range(3)] == [True, True, False]  # + 10 * 0.2


def test_budget_window_slides() -> None:
    """Retries and calls older than the window stop counting."""
    budget = RetryBudget(ratio=0.0, window=10.0, min_per_second=0.1, clock=lambda: 0.0)
    assert budget.try_spend(0.0)
    assert not budget.try_spend(5.0)
    assert budget.try_spend(10.5)
    assert budget.available(10.5) == 0.0


def test_exhausted_budget_gives_up_with_that_reason() -> None:
    """A policy sharing an empty budget gives up instead of retrying."""
    budget = RetryBudget(ratio=0.0, window=10.0, min_per_second=0.1, clock=lambda: 0.0)
    shared = policy(budget=budget, max_attempts=5)
    assert shared.start(0.0).decide("GET", status=503, now=0.0).retry
    decision = shared.start(0.0).decide("GET", status=503, now=0.0)
    assert not decision.retry
    assert "budget exhausted" in decision.reason


@pytest.mark.asyncio
async def test_budget_bounds_retries_of_concurrent_calls() -> None:
    """200 concurrent failing calls sharing a budget retry at most ratio * calls + floor times."""
    clock = Clock()
    budget = RetryBudget(ratio=0.2, window=60.0, min_per_second=0.0, clock=clock)
    shared = RetryPolicy(
        max_attempts=5,
        budget=budget,
        clock=clock,
        sleep=lambda s: asyncio.sleep(0),
        uniform=highest,
    )
    attempts = 0

    async def failing() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        raise ConnectionRefusedError("down")

    calls = (shared.call(failing) for _ in range(200))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    retries = attempts - 200
    assert 0 < retries <= 0.2 * 200
    assert any("budget exhausted" in note for r in results for note in getattr(r, "__notes__", []))


# ------------------------------------------------------------------ call()


class Response:
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        self.status_code = status
        self.headers = {} if retry_after is None else {"Retry-After": retry_after}
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_call_retries_statuses_and_returns_the_success() -> None:
    """call() retries 503s (honouring Retry-After) and returns the first success.

    The responses it drops are closed.
    """
    clock = Clock()
    responses = [Response(503, "2"), Response(503), Response(200)]
    handed = iter(responses)

    async def request() -> Response:
        return next(handed)

    result = await policy(clock, max_attempts=5).call(request)
    assert result is responses[2]
    assert [r.closed for r in responses] == [True, True, False]
    assert clock.slept == pytest.approx([2.0, 0.3])


@pytest.mark.asyncio
async def test_call_returns_the_last_response_when_retries_end() -> None:
    """When attempts run out on a status, the last response is returned (not raised)."""
    clock = Clock()

    async def request() -> Response:
        return Response(503)

    result = await policy(clock, max_attempts=3).call(request)
    assert result.status_code == 503
    assert not result.closed
    assert len(clock.slept) == 2


@pytest.mark.asyncio
async def test_call_reraises_the_last_error_with_a_note() -> None:
    """When retries end on an error, that error is raised with a note saying why."""
    clock = Clock()
    calls = 0

    async def request(value: int, *, scale: int) -> int:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError(f"refused {value * scale}")

    with pytest.raises(ConnectionRefusedError, match="refused 6") as info:
        await policy(clock, max_attempts=4).call(request, 2, scale=3)
    assert calls == 4
    assert "retries ended after 4 attempts" in info.value.__notes__[-1]


@pytest.mark.asyncio
async def test_call_method_does_not_retry_a_sent_post() -> None:
    """call_method('POST', ...) does not repeat a request that may have been sent."""
    calls = 0

    async def request() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        await policy().call_method("POST", request)
    assert calls == 1


@pytest.mark.asyncio
async def test_call_bounds_an_attempt_by_the_deadline() -> None:
    """A hanging attempt is cut off at the deadline (real loop time, a short deadline)."""
    attempts = 0

    async def hang() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.Event().wait()

    with pytest.raises(DeadlineExceeded) as caught:
        await RetryPolicy(deadline=0.05, backoff_base=0.01, backoff_cap=0.01).call(hang)
    assert attempts == 1
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.deadline == 0.05


@pytest.mark.asyncio
async def test_an_operations_own_timeout_is_not_the_deadline() -> None:
    """A TimeoutError the operation raises propagates as it is, deadline or not."""
    own = TimeoutError("the operation's own")

    async def times_out() -> None:
        raise own

    for deadline in (None, 30.0):
        with pytest.raises(TimeoutError) as caught:
            await RetryPolicy(max_attempts=1, deadline=deadline).call(times_out)
        assert caught.value is own
        assert not isinstance(caught.value, DeadlineExceeded)


@pytest.mark.asyncio
async def test_call_does_not_retry_cancellation() -> None:
    """Cancelling the caller cancels the attempt; nothing is retried."""
    started = asyncio.Event()
    attempts = 0

    async def slow() -> None:
        nonlocal attempts
        attempts += 1
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(RetryPolicy().call(slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempts == 1


# ---------------------------------------------------------------- run(): a caller's hooks


@pytest.mark.asyncio
async def test_run_reports_each_retry_before_its_wait_and_sleeps_with_the_policy() -> None:
    from hyperhttp_resilience import RetryEvent

    clock = Clock()
    boom = ConnectionRefusedError("refused")
    outcomes: list[Response | Exception] = [boom, Response(503, "2"), Response(200)]
    events: list[tuple[RetryEvent, int]] = []

    async def request() -> Response:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = await policy(clock, max_attempts=5).run(
        request, method="GET", on_retry=lambda event: events.append((event, len(clock.slept)))
    )
    assert result.status_code == 200
    assert [(e.attempt, e.error, e.status) for e, _ in events] == [(1, boom, None), (2, None, 503)]
    assert [e.delay for e, _ in events] == clock.slept == pytest.approx([0.3, 2.0])
    assert [slept_before for _, slept_before in events] == [0, 1]  # told before the wait


@pytest.mark.asyncio
async def test_run_ends_as_is_when_the_operation_cannot_be_replayed() -> None:
    """replayable() False: the error raised or the response returned, no decision, no budget."""
    clock = Clock()
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, window=10.0, clock=clock)
    p = policy(clock, max_attempts=5, budget=budget)
    calls = 0

    async def fails() -> Response:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("refused")

    with pytest.raises(ConnectionRefusedError) as caught:
        await p.run(fails, replayable=lambda: False)
    assert calls == 1
    assert not getattr(caught.value, "__notes__", None)

    async def busy() -> Response:
        return Response(503)

    result = await p.run(busy, method="GET", replayable=lambda: False)
    assert result.status_code == 503
    assert not result.closed
    assert clock.slept == []
    assert budget.available() == pytest.approx(10.0)  # nothing spent


@pytest.mark.asyncio
async def test_run_keeps_call_semantics() -> None:
    """No hooks: what call_method() does (notes, method rules, statuses)."""
    clock = Clock()

    async def post() -> Response:
        return Response(503)

    result = await policy(clock).run(post, method="POST")
    assert result.status_code == 503
    assert clock.slept == []
