"""Hedged calls: a second copy when the first is slow; the first answer wins.

Strategy
--------
The Tail at Scale (Dean & Barroso, CACM 56(2), 2013, "hedged requests"):
send a call; if it has not answered after about the 95th-percentile
latency, send one more copy and take whichever answers first. A few
percent more calls cut the tail, because the slow ones are mostly slow by
bad luck (a busy worker, a lost packet), not because the call is hard.
:class:`Hedging` decides; :meth:`Hedging.run` is the asyncio shell:

1. The delay: a fixed ``delay``, or the key's live ``percentile`` of
   latency (:class:`LatencyTracker`, per key). A key without enough samples
   is not hedged yet.
2. After the delay, and after each further ``delay`` without an answer, one
   more copy starts while fewer than ``max_extra`` have, each only if the
   ``budget`` (a :class:`RetryBudget`, shared with retries if you like)
   gives it a token: hedges can never multiply the load, however slow the
   server gets (a slow server is exactly when copies would pile up). A call
   the budget refuses once gets no more copies (it is not asked again each
   ``delay``).
3. The first copy to *return* wins; the others are cancelled and awaited
   (a loser that returned in the same instant is handed to ``discard``, so
   what it holds is released). A copy that *raises* does not win while
   another is still running; when none is left, the first error is raised.
   Hedging is not retrying: an error before any copy started is raised at
   once.
4. Latency samples are the first copy's time to answer; when a hedge won,
   the first copy's time until then (a lower bound, and above the delay:
   it still counts as slow, so the percentile is not talked down by its
   own hedges). Errors are not samples.
5. Cancelling the caller cancels every copy, and every copy has ended when
   ``run`` raises or returns (answers nobody will get go to ``discard``).

Only use it for calls that are safe to make twice (idempotent ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Generic, TypeVar

from ._latency import LatencyTracker
from ._retry import RetryBudget, _number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

T = TypeVar("T")

__all__ = ["Hedging"]

#: Times the copies are cancelled and awaited again when the caller is
#: cancelled while waiting for them (each round cancels what still runs).
_MAX_WIND_DOWNS = 8


class Hedging:
    """When to send a hedged copy of a slow call, and how many (module docstring).

    Args:
        delay: seconds to wait before a copy; None: the key's live
            ``percentile`` (no copies until it has ``min_samples``).
        percentile: the quantile of latency to wait for when ``delay`` is None.
        max_extra: copies at most per call, beyond the first.
        budget: where each copy takes a token; default: a budget of its own
            allowing one copy per ten calls (``RetryBudget(ratio=0.1,
            min_per_second=0.0)``). Pass a retry policy's budget to share it.
        min_samples: latency samples a key needs before its percentile is used
            (the estimate follows about the last ``max(1000, 2 * min_samples)``).
        max_keys: keys whose latency is tracked (least recently used dropped).
        clock: monotonic seconds (the latency samples).

    """

    def __init__(
        self,
        delay: float | None = None,
        percentile: float = 0.95,
        max_extra: int = 1,
        *,
        budget: RetryBudget | None = None,
        min_samples: int = 20,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _number("delay", delay, minimum=0.0, allow_none=True)
        if isinstance(max_extra, bool) or not isinstance(max_extra, int) or max_extra < 0:
            raise ValueError(f"max_extra must be an int >= 0, got {max_extra!r}")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, not {budget!r}")
        self.delay = None if delay is None else float(delay)
        self.max_extra = max_extra
        self.budget = RetryBudget(ratio=0.1, min_per_second=0.0) if budget is None else budget
        self.latency = LatencyTracker(
            percentile,
            min_samples=min_samples,
            memory=max(1000, 2 * min_samples),
            max_keys=max_keys,
        )
        self.clock = clock

    @property
    def percentile(self) -> float:
        return self.latency.percentile

    def __repr__(self) -> str:
        return (
            f"Hedging(delay={self.delay}, percentile={self.percentile}, "
            f"max_extra={self.max_extra}, budget={self.budget!r})"
        )

    def delay_for(self, key: Hashable) -> float | None:
        """Return how long a call on ``key`` runs before a copy is sent (None: no copy)."""
        if self.max_extra == 0:
            return None
        return self.delay if self.delay is not None else self.latency.estimate(key)

    def observe(self, key: Hashable, seconds: float) -> None:
        """Count a call's latency on ``key`` (rule 4)."""
        self.latency.observe(key, seconds)

    async def run(
        self,
        key: Hashable,
        fn: Callable[[], Awaitable[T]],
        *,
        discard: Callable[[T], Awaitable[object]] | None = None,
        count_call: bool = True,
    ) -> T:
        """Call ``fn()``, hedged (module docstring); return the first answer.

        Args:
            key: whose latency decides the delay (an origin, a host).
            fn: makes one copy of the call; called again for each copy.
            discard: releases an answer that lost (returned, but too late).
            count_call: count the call in the budget (False when a retry
                policy sharing the budget already counted it).

        """
        if count_call:
            self.budget.record_call()
        delay = self.delay_for(key)
        started = self.clock()
        if delay is None:
            result = await fn()
            self.observe(key, self.clock() - started)
            return result
        return await _Race[T](self, key, fn, discard, started).run(delay)


class _Race(Generic[T]):
    """One hedged call's copies (rules 2, 3 and 5)."""

    __slots__ = ("discard", "first", "fn", "hedging", "key", "started", "tasks", "winner")

    def __init__(
        self,
        hedging: Hedging,
        key: Hashable,
        fn: Callable[[], Awaitable[T]],
        discard: Callable[[T], Awaitable[object]] | None,
        started: float,
    ) -> None:
        self.hedging = hedging
        self.key = key
        self.fn = fn
        self.discard = discard
        self.started = started
        self.tasks: list[asyncio.Task[T]] = []
        self.first: BaseException | None = None  # the first error (raised if none answers)
        self.winner: asyncio.Task[T] | None = None

    def _start(self) -> None:
        self.tasks.append(asyncio.ensure_future(self.fn()))

    async def run(self, delay: float) -> T:
        hedging = self.hedging
        self._start()
        pending: set[asyncio.Task[T]] = set(self.tasks)
        try:
            refused = False
            while True:
                may_hedge = not refused and len(self.tasks) <= hedging.max_extra
                done, pending = await asyncio.wait(
                    pending,
                    timeout=delay if may_hedge else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in self.tasks:  # in start order: the first copy wins a tie
                    if task in done and _answered(task):
                        return self._won(task)
                if self.first is None:
                    failed = [task for task in self.tasks if task in done]  # start order
                    self.first = _error(failed[0]) if failed else None
                if not done and may_hedge:
                    if not hedging.budget.try_spend():
                        refused = True  # no more copies for this call (rule 2)
                    else:
                        self._start()
                        pending.add(self.tasks[-1])
                if not pending:
                    if self.first is None:  # pragma: no cover - every copy failed or won
                        raise RuntimeError("hedged call ended without an answer")
                    raise self.first
        finally:
            await self._cancel_rest()

    def _won(self, winner: asyncio.Task[T]) -> T:
        self.winner = winner
        primary = self.tasks[0]
        if not primary.done() or _answered(primary):  # rule 4 (a slow first: a lower bound)
            self.hedging.observe(self.key, self.hedging.clock() - self.started)
        return winner.result()

    async def _cancel_rest(self) -> None:
        """Cancel the copies still running, wait for them, hand answers that lost to ``discard``.

        Every copy has ended when this returns, even if the caller is
        cancelled (again) meanwhile: then the winner's answer will not be
        returned either, and goes to ``discard`` too; the cancellation is
        raised afterwards. An error of ``discard`` is not the caller's: it is
        dropped (the answer it was releasing is gone either way).
        """
        cancelled: asyncio.CancelledError | None = None
        for _ in range(_MAX_WIND_DOWNS):
            losers = [task for task in self.tasks if not task.done()]
            if not losers:
                break
            for task in losers:
                task.cancel()
            try:
                await asyncio.wait(losers)
            except asyncio.CancelledError as exc:  # the caller gave up: finish first
                cancelled = exc
        if self.discard is not None:
            for task in self.tasks:
                if task.done() and _answered(task) and (cancelled or task is not self.winner):
                    with contextlib.suppress(Exception):  # see the docstring
                        await self.discard(task.result())
        if cancelled is not None:
            raise cancelled


def _answered(task: asyncio.Task[T]) -> bool:
    """Return whether a finished copy returned (not raised, not cancelled)."""
    return not task.cancelled() and task.exception() is None


def _error(task: asyncio.Task[T]) -> BaseException:
    """Return what a finished copy raised."""
    if task.cancelled():
        return asyncio.CancelledError()
    error = task.exception()
    assert error is not None
    return error
