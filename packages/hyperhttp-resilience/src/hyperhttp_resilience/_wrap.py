"""The async halves: the retry loop and the breaker's guard. They only await.

Every decision comes from the sans-IO objects (``RetryPolicy.decide``,
``CircuitBreaker.acquire`` / ``record`` / ``release``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import DeadlineExceeded
from ._events import RetryEvent

if TYPE_CHECKING:
    from ._breaker import CircuitBreaker
    from ._retry import RetryPolicy

__all__ = ["breaker_call", "breaker_guard", "call_with_retries"]


T = TypeVar("T")


async def call_with_retries(
    policy: RetryPolicy,
    method: str | None,
    fn: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    replayable: Callable[[], bool] | None = None,
    on_retry: Callable[[RetryEvent], object] | None = None,
) -> T:
    """Run ``fn`` under ``policy`` (see ``RetryPolicy.call`` and ``RetryPolicy.run``).

    ``replayable``: asked before each retry is decided; False ends the loop
    as it is (the error raised, the result returned) without consulting the
    policy or its budget. ``on_retry``: told of each retry before its wait.
    """
    policy = policy.start()
    clock = policy.clock
    assert policy.started is not None
    deadline_at = None if policy.deadline is None else policy.started + policy.deadline
    while True:
        try:
            if deadline_at is None:
                result = await fn(*args, **kwargs)
            else:
                result = await _within(deadline_at - clock(), policy.deadline, fn, args, kwargs)
        except Exception as exc:
            if replayable is not None and not replayable():
                raise
            decision = policy.decide(method, error=exc)
            if not decision.retry:
                attempts = decision.policy.attempts
                exc.add_note(f"retries ended after {attempts} attempts: {decision.reason}")
                raise
        else:
            status = policy.status_of(result)
            if status is None or status not in policy.retry_statuses:
                return result
            if replayable is not None and not replayable():
                return result
            retry_after = policy.retry_after_of(result)
            decision = policy.decide(method, status=status, retry_after=retry_after)
            if not decision.retry:
                return result
            await _discard(result)
        policy = decision.policy
        if on_retry is not None:
            last = policy.history[-1]
            on_retry(RetryEvent(policy.attempts, decision.delay, last.error, last.status))
        await policy.sleep(decision.delay)


async def _within(
    remaining: float,
    deadline: float | None,
    fn: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    """Run one attempt within what remains of the deadline; DeadlineExceeded if it runs out.

    Only the deadline's own expiry is DeadlineExceeded: a TimeoutError the
    operation raises itself propagates unchanged.
    """
    assert deadline is not None
    if remaining <= 0:
        raise DeadlineExceeded(deadline)
    scope = asyncio.timeout(remaining)
    try:
        async with scope:
            return await fn(*args, **kwargs)
    except TimeoutError as exc:
        if scope.expired():
            raise DeadlineExceeded(deadline) from exc
        raise


async def _discard(result: object) -> None:
    """Close a response that is being retried, if it can be closed (frees its connection)."""
    aclose = getattr(result, "aclose", None)
    if callable(aclose):
        await aclose()
        return
    release = getattr(result, "release", None)
    if callable(release):
        outcome = release()
        if isinstance(outcome, Awaitable):
            await outcome


async def breaker_call(
    breaker: CircuitBreaker,
    key: Hashable,
    fn: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    also_failures: tuple[type[BaseException], ...] = (),
) -> T:
    """Run ``fn`` through ``key``'s circuit; statuses are read with ``breaker.status_of``.

    ``also_failures``: exception types that count as failures too while the
    breaker keeps its default rule (see ``CircuitBreaker.run``).
    """
    permit = breaker.acquire(key)
    try:
        result = await fn(*args, **kwargs)
    except Exception as exc:
        failed = breaker.is_failure(exc, None) or (
            bool(also_failures) and breaker.default_failures and isinstance(exc, also_failures)
        )
        breaker.record(permit, failed=failed)
        raise
    except BaseException:  # cancelled: no outcome
        breaker.release(permit)
        raise
    breaker.record(permit, failed=breaker.is_failure(None, breaker.status_of(result)))
    return result


@contextlib.asynccontextmanager
async def breaker_guard(breaker: CircuitBreaker, key: Hashable) -> AsyncIterator[None]:
    """``async with breaker.guard(key):`` an exception in the block is judged by is_failure."""
    permit = breaker.acquire(key)
    try:
        yield
    except Exception as exc:
        breaker.record(permit, failed=breaker.is_failure(exc, None))
        raise
    except BaseException:
        breaker.release(permit)
        raise
    breaker.record(permit, failed=False)
