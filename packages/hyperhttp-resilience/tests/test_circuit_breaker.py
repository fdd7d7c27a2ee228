"""CircuitBreaker: transitions, rate window, half-open admission, listeners, wrappers."""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Hashable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Permit

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


Transition = tuple[Hashable, CircuitState, CircuitState]


def breaker(clock: Clock, log: list[Transition] | None = None, **kwargs: Any) -> CircuitBreaker:
    listeners = [] if log is None else [lambda k, old, new: log.append((k, old, new))]
    kwargs.setdefault("failure_threshold", 3)
    kwargs.setdefault("cooldown", 5.0)
    return CircuitBreaker(clock=clock, listeners=listeners, **kwargs)


def fail(b: CircuitBreaker, key: str = "k", times: int = 1) -> None:
    for _ in range(times):
        b.record(b.acquire(key), failed=True)


def succeed(b: CircuitBreaker, key: str = "k", times: int = 1) -> None:
    for _ in range(times):
        b.record(b.acquire(key), failed=False)


def test_opens_after_consecutive_failures() -> None:
    """failure_threshold consecutive failures open the circuit; the listener hears it."""
    clock = Clock()
    log: list[Transition] = []
    b = breaker(clock, log)
    fail(b, times=2)
    assert b.state("k") is CLOSED
    fail(b)
    assert b.state("k") is OPEN
    assert log == [("k", CLOSED, OPEN)]


def test_a_success_resets_the_consecutive_count() -> None:
    """Failures must be consecutive."""
    b = breaker(Clock())
    fail(b, times=2)
    succeed(b)
    fail(b, times=2)
    assert b.state("k") is CLOSED


def test_open_refuses_without_calling_and_says_when() -> None:
    """An open circuit raises CircuitOpenError with the key and the next trial time."""
    clock = Clock()
    b = breaker(clock)
    fail(b, times=3)
    clock.now += 2.0
    with pytest.raises(CircuitOpenError) as info:
        b.acquire("k")
    assert info.value.key == "k"
    assert info.value.retry_at == 105.0
    assert info.value.retry_after == pytest.approx(3.0)


@pytest.mark.asyncio
async def test_call_is_not_made_while_open() -> None:
    """breaker.call() refuses without invoking the function."""
    clock = Clock()
    b = breaker(clock)
    fail(b, times=3)
    calls = 0

    async def fn() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpenError):
        await b.call("k", fn)
    assert calls == 0


def test_half_open_after_cooldown_then_closed_by_a_trial() -> None:
    """After the cooldown one trial is admitted; its success closes the circuit."""
    clock = Clock()
    log: list[Transition] = []
    b = breaker(clock, log)
    fail(b, times=3)
    clock.now += 5.0
    assert b.state("k") is HALF_OPEN
    trial = b.acquire("k")
    assert trial.trial
    with pytest.raises(CircuitOpenError) as info:
        b.acquire("k")  # the one trial slot is taken
    assert info.value.retry_after == 0.0
    b.record(trial, failed=False)
    assert b.state("k") is CLOSED
    assert log == [("k", CLOSED, OPEN), ("k", OPEN, HALF_OPEN), ("k", HALF_OPEN, CLOSED)]


def test_failed_trial_reopens_with_a_growing_bounded_cooldown() -> None:
    """Each failed trial multiplies the cooldown, up to max_cooldown; success resets it."""
    clock = Clock()
    b = breaker(clock, cooldown=5.0, max_cooldown=30.0, cooldown_multiplier=2.0)
    fail(b, times=3)
    waits = []
    for _ in range(4):
        clock.now += 100.0
        b.record(b.acquire("k"), failed=True)
        with pytest.raises(CircuitOpenError) as info:
            b.acquire("k")
        waits.append(info.value.retry_after)
    assert waits == [10.0, 20.0, 30.0, 30.0]
    clock.now += 100.0
    b.record(b.acquire("k"), failed=False)
    fail(b, times=3)
    with pytest.raises(CircuitOpenError) as info:
        b.acquire("k")
    assert info.value.retry_after == 5.0


def test_several_trials_must_all_succeed() -> None:
    """half_open_calls=2: both trials must succeed to close; one failure re-opens."""
    clock = Clock()
    b = breaker(clock, half_open_calls=2)
    fail(b, times=3)
    clock.now += 5.0
    first, second = b.acquire("k"), b.acquire("k")
    b.record(first, failed=False)
    assert b.state("k") is HALF_OPEN
    b.record(second, failed=False)
    assert b.state("k") is CLOSED
    fail(b, times=3)
    clock.now += 5.0
    first, second = b.acquire("k"), b.acquire("k")
    b.record(first, failed=False)
    b.record(second, failed=True)
    assert b.state("k") is OPEN


def test_outcome_of_an_older_generation_is_ignored() -> None:
    """A slow call from before the circuit opened cannot close it."""
    clock = Clock()
    b = breaker(clock)
    slow = b.acquire("k")
    fail(b, times=3)
    b.record(slow, failed=False)
    assert b.state("k") is OPEN
    clock.now += 5.0
    trial = b.acquire("k")
    b.record(slow, failed=True)  # still ignored in half-open
    b.record(trial, failed=False)
    assert b.state("k") is CLOSED


def test_trial_from_an_earlier_half_open_is_ignored() -> None:
    """A trial outcome arriving after its half-open period ended counts for nothing."""
    clock = Clock()
    b = breaker(clock, half_open_calls=2)
    fail(b, times=3)
    clock.now += 5.0
    failing, late = b.acquire("k"), b.acquire("k")
    b.record(failing, failed=True)  # re-opens
    clock.now += 60.0
    current = b.acquire("k")  # a new half-open period
    b.record(late, failed=False)  # from the old one: ignored
    b.record(current, failed=False)
    assert b.state("k") is HALF_OPEN  # one of two trials succeeded so far
    b.record(b.acquire("k"), failed=False)
    assert b.state("k") is CLOSED


def test_release_frees_a_trial_slot() -> None:
    """A trial that ends without an outcome (cancelled) lets another in."""
    clock = Clock()
    b = breaker(clock)
    fail(b, times=3)
    clock.now += 5.0
    trial = b.acquire("k")
    b.release(trial)
    again = b.acquire("k")
    assert again.trial


def test_failure_rate_over_a_window() -> None:
    """Rate mode: not below min_calls; trips at the rate; old calls slide out."""
    clock = Clock()
    b = breaker(clock, failure_threshold=None, failure_rate=0.5, window=10.0, min_calls=4)
    fail(b, times=2)  # 2 of 2 but below min_calls
    assert b.state("k") is CLOSED
    succeed(b, times=2)  # 2 of 4 = 0.5: trips on the recording that reaches it
    assert b.state("k") is OPEN

    other = breaker(clock, failure_threshold=None, failure_rate=0.5, window=10.0, min_calls=4)
    fail(other, times=3)
    clock.now += 20.0  # those failures leave the window
    succeed(other, times=3)
    fail(other)  # 1 of 4
    assert other.state("k") is CLOSED


def test_what_counts_as_failure() -> None:
    """Default: OSError/TimeoutError and 500/502/503/504; other errors and statuses do not."""
    b = breaker(Clock())
    assert b.is_failure(ConnectionResetError(), None)
    assert b.is_failure(TimeoutError(), None)
    assert not b.is_failure(ValueError(), None)
    assert b.is_failure(None, 503)
    assert not b.is_failure(None, 429)
    assert not b.is_failure(None, 200)
    custom = breaker(Clock(), is_failure=lambda error, status: status == 429)
    assert custom.is_failure(None, 429)
    assert not custom.is_failure(ConnectionResetError(), None)
    # default_failures: whether a caller may add its own errors to the default rule.
    assert b.default_failures
    assert not custom.default_failures
    assert not breaker(Clock(), failure_exceptions=(ConnectionError,)).default_failures
    assert breaker(Clock(), failure_exceptions=(OSError, TimeoutError)).default_failures


class Result:
    def __init__(self, status: int) -> None:
        self.status_code = status


@pytest.mark.asyncio
async def test_call_counts_statuses_and_errors() -> None:
    """call(): failing statuses and failure exceptions count; other exceptions do not."""
    b = breaker(Clock())

    async def status(code: int) -> Result:
        return Result(code)

    async def boom(error: Exception) -> None:
        raise error

    for _ in range(2):
        assert (await b.call("k", status, 503)).status_code == 503
    with pytest.raises(ValueError, match="bug"):
        await b.call("k", boom, ValueError("bug"))  # a success for the circuit
    for _ in range(2):
        await b.call("k", status, 502)
    with pytest.raises(ConnectionResetError):
        await b.call("k", boom, ConnectionResetError())
    assert b.state("k") is OPEN


@pytest.mark.asyncio
async def test_guard_judges_the_block() -> None:
    """guard(): an exception in the block is a failure when it counts as one."""
    b = breaker(Clock())
    for _ in range(3):
        with pytest.raises(OSError, match="down"):
            async with b.guard("k"):
                raise OSError("down")
    assert b.state("k") is OPEN
    with pytest.raises(CircuitOpenError):
        async with b.guard("k"):
            pytest.fail("the block ran while the circuit was open")


@pytest.mark.asyncio
async def test_cancelled_trial_inside_call_frees_its_slot() -> None:
    """A half-open trial cancelled inside call() gives its slot to the next caller."""
    clock = Clock()
    b = breaker(clock)
    fail(b, times=3)
    clock.now += 5.0
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(b.call("k", hang))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.acquire("k").trial


@pytest.mark.asyncio
@pytest.mark.parametrize("trials", [1, 3])
async def test_half_open_admits_exactly_the_configured_trials(trials: int) -> None:
    """100 concurrent calls while half-open: exactly ``trials`` run, never more at once."""
    clock = Clock()
    b = breaker(clock, half_open_calls=trials)
    fail(b, times=3)
    clock.now += 5.0
    gate = asyncio.Event()
    running = peak = 0

    async def trial_call() -> str:
        nonlocal running, peak
        async with b.guard("k"):
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1
        return "ran"

    tasks = [asyncio.create_task(trial_call()) for _ in range(100)]
    for _ in range(3):
        await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results.count("ran") == trials
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 100 - trials
    assert peak == trials
    assert b.state("k") is CLOSED


def test_keys_are_independent_and_bounded() -> None:
    """One key's open circuit leaves the others closed; max_keys bounds memory."""
    clock = Clock()
    b = breaker(clock, max_keys=2)
    fail(b, "a", times=3)
    succeed(b, "b")
    assert (b.state("a"), b.state("b")) == (OPEN, CLOSED)
    succeed(b, "c")  # a is the least recently used: forgotten
    assert b.state("a") is CLOSED
    b.reset()
    assert b.state("b") is CLOSED


def test_listener_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A listener that raises is logged; the breaker carries on."""
    b = breaker(Clock())
    seen: list[Transition] = []

    def broken(key: Hashable, old: CircuitState, new: CircuitState) -> None:
        raise RuntimeError("listener bug")

    b.add_listener(broken)
    b.add_listener(lambda k, old, new: seen.append((k, old, new)))
    with caplog.at_level(logging.ERROR, logger="hyperhttp_resilience"):
        fail(b, times=3)
    assert "listener" in caplog.text
    assert seen == [("k", CLOSED, OPEN)]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"failure_threshold": 0}, ValueError),
        ({"failure_threshold": 2.5}, TypeError),
        ({"failure_threshold": None, "failure_rate": None}, ValueError),
        ({"failure_rate": 1.5}, ValueError),
        ({"cooldown": 10.0, "max_cooldown": 5.0}, ValueError),
        ({"cooldown_multiplier": 0.5}, ValueError),
        ({"half_open_calls": 0}, ValueError),
        ({"failure_exceptions": [OSError]}, TypeError),
        ({"failure_exceptions": (int,)}, TypeError),
        ({"failure_statuses": [42]}, ValueError),
        ({"window": 0}, ValueError),
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """CircuitBreaker validates when built."""
    with pytest.raises(error):
        CircuitBreaker(**kwargs)


def test_open_error_pickles() -> None:
    """CircuitOpenError survives pickling with its data."""
    error = CircuitOpenError(("https", "example.com", 443), 12.5, 3.0)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (again.key, again.retry_at, again.retry_after) == (error.key, 12.5, 3.0)


_VALID = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED)}


@settings(max_examples=200, deadline=None)
@given(
    trials=st.integers(1, 3),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["acquire", "ok", "fail", "release", "tick"]),
            st.sampled_from(["a", "b"]),
            st.floats(0.0, 4.0),
        ),
        max_size=80,
    ),
)
def test_random_sequences_keep_the_rules(trials: int, ops: list[tuple[str, str, float]]) -> None:
    """Any sequence keeps the rules: bounded trials, justified refusals, valid transitions.

    Outstanding trials never exceed half_open_calls; a refusal happens only when
    open or with every trial slot taken; transitions chain validly per key.
    """
    clock = Clock()
    log: list[Transition] = []
    b = breaker(clock, log, failure_threshold=2, cooldown=3.0, half_open_calls=trials)
    permits: dict[str, list[Permit]] = {"a": [], "b": []}
    for op, key, step in ops:
        if op == "tick":
            clock.now += step
        elif op == "acquire":
            state = b.state(key)
            outstanding = sum(p.trial for p in permits[key] if _current(b, key, p))
            try:
                permits[key].append(b.acquire(key))
            except CircuitOpenError:
                assert state is OPEN or (state is HALF_OPEN and outstanding >= trials)
        elif permits[key]:
            permit = permits[key].pop(0)
            if op == "release":
                b.release(permit)
            else:
                b.record(permit, failed=op == "fail")
        trial_permits = [p for p in permits[key] if p.trial and _current(b, key, p)]
        assert len(trial_permits) <= trials
    last: dict[Hashable, CircuitState] = {}
    for circuit_key, old, new in log:
        assert (old, new) in _VALID
        assert last.get(circuit_key, CLOSED) is old
        last[circuit_key] = new


def _current(b: CircuitBreaker, key: str, permit: Permit) -> bool:
    """Whether a permit belongs to the key's current generation (internal view)."""
    circuit = b._circuits.get(key)
    return circuit is not None and circuit.generation == permit.generation


class TransportError(Exception):
    """Stands for an HTTP client's own connect/timeout errors (not OSError)."""


@pytest.mark.asyncio
async def test_run_counts_a_callers_own_failures_under_the_default_rule_only() -> None:
    clock = Clock()
    default = breaker(clock, failure_threshold=2)

    async def broken() -> Result:
        raise TransportError("connect failed")

    for _ in range(2):
        with pytest.raises(TransportError):
            await default.run("k", broken, also_failures=(TransportError,))
    assert default.state("k") is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        await default.run("k", broken, also_failures=(TransportError,))

    # Without also_failures, or with a rule of the user's own, it is a success.
    plain = breaker(clock, failure_threshold=2)
    chosen = breaker(clock, failure_threshold=2, failure_exceptions=(KeyError,))
    for b, extra in ((plain, ()), (chosen, (TransportError,))):
        for _ in range(3):
            with pytest.raises(TransportError):
                await b.run("k", broken, also_failures=extra)
        assert b.state("k") is CircuitState.CLOSED

    async def answers() -> Result:
        return Result(503)

    statuses = breaker(clock, failure_threshold=1)
    await statuses.run("k", answers)
    assert statuses.state("k") is CircuitState.OPEN
