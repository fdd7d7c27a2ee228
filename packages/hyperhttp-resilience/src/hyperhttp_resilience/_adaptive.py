"""Adaptive concurrency per key (AIMD), held by a server's pause and paced by its quota.

Theory of operation
-------------------
Each key has a concurrency ``limit`` and the calls in flight. A call takes
a slot when one is free (else it waits, FIFO) and reports how it went when
done. The limit follows AIMD, TCP's congestion avoidance (RFC 5681 §3.1;
Netflix concurrency-limits' ``AIMDLimit``):

1. A success adds ``1 / limit`` (about one slot per limit's worth of
   successes, as congestion avoidance adds one segment per round trip), up
   to ``max_limit``; only while the limit is in use (at least half of it in
   flight, as AIMDLimit checks): a key that is not pushed does not grow.
2. An overload (429, 503, a timeout: the caller decides) multiplies the
   limit by ``backoff`` (0.5: halve), down to ``min_limit``, once per
   round: outcomes of calls that started before the last decrease do not
   decrease it again (a burst of 429s from one window is one signal).
3. A call given up without an outcome (cancelled) frees its slot only.
4. When the limit rises or a slot frees, waiters are admitted in order.

A concurrency limit cannot keep a request *rate*: a server's quota is
calls per second, and what a slot carries per second changes with the
server's latency. So a key can also be held, and paced, by what the server
says (draft-ietf-httpapi-ratelimit-headers-10, "Client Behavior": a client
SHOULD NOT exceed the remaining quota before the reset, and may slow down
when approaching quota limits):

5. :meth:`AdaptiveLimiter.pause` holds the key's new calls until a time
   (``Retry-After``, a quota with nothing left), at most ``max_pause``
   seconds; a later pause wins, a shorter one never cuts it. A paced key
   resumes at its rate, its burst empty (the server said its quota was
   spent: nothing says it refilled at once), as
   :meth:`~hyperhttp_resilience.RateBuckets.pause` does.
6. :meth:`AdaptiveLimiter.pace` spaces the key's calls at ``rate`` per
   second with ``burst`` at once (a quota policy: ``q`` calls per ``w``
   seconds is ``rate=q/w, burst=q``), kept as GCRA's one number ``tat``
   (ITU-T I.371, as :class:`~hyperhttp_resilience.RateBuckets`). Given the
   server's ``remaining``, the calls it would admit now, the pace tightens
   to it less the calls still in flight (the server may not have counted
   them): a stale report never loosens it.
7. A held key's waiters stay in their queue; the first one sleeps the hold
   out for all (the *sleeper*), then admits in order as many as the limit
   and the pace allow, and the next one sleeps again if the pace still
   holds. Every wait ends at a time already decided (a pause, a pace slot):
   a sleep is never repeated unless a new hold came during it. The queue is
   :class:`~hyperhttp_resilience._rate._Waiters`, shared with RateLimiter.

Keys are bounded (``max_keys``): an idle key whose hold is over is dropped
first, then any idle one. :class:`AdaptiveLimiter` is the asyncio shell; its
clock and sleep are injectable, so tests step time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ._rate import DEFAULT_MAX_PAUSE, _bounded_pause, _Waiters
from ._retry import _number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

T = TypeVar("T")

__all__ = ["AdaptiveLimiter", "Outcome", "Slot"]

_NEVER = float("-inf")


class Outcome(enum.Enum):
    """How a call went, for the limit."""

    SUCCESS = "success"  #: grow (rule 1)
    OVERLOAD = "overload"  #: the server is overloaded: shrink (rule 2)
    IGNORE = "ignore"  #: says nothing about load (a 404, a client error): slot freed only


@dataclass(eq=False)
class _Key:
    limit: float
    in_flight: int = 0
    round: int = 0  # bumped by every decrease (rule 2)
    queue: _Waiters = field(default_factory=_Waiters)  # rules 4, 7
    paused_until: float = _NEVER  # rule 5
    interval: float = 0.0  # rule 6: 1 / rate; 0: not paced
    tolerance: float = 0.0  # (burst - 1) * interval
    tat: float = _NEVER

    def opens_at(self) -> float:
        """Return when the next call may start, as far as the pause and the pace go."""
        if self.interval:
            return max(self.paused_until, self.tat - self.tolerance)
        return self.paused_until

    def opens(self) -> float | None:
        """Return when the next call may start (None: no free slot)."""
        return self.opens_at() if self.in_flight < int(self.limit) else None

    def untake(self) -> None:
        self.in_flight -= 1

    def empty_after_pause(self) -> None:
        """Start a paced key's bucket empty when its pause ends (rule 5): no saved-up burst."""
        if self.interval:
            self.tat = max(self.tat, self.paused_until + self.tolerance)

    def take(self, now: float) -> None:
        self.in_flight += 1
        if self.interval:
            self.tat = max(self.tat, now) + self.interval


@dataclass(frozen=True, slots=True)
class Slot:
    """A call's place in its key's limit; hand it back with :meth:`AdaptiveLimiter.release`."""

    key: Hashable
    round: int


class AdaptiveLimiter:
    """A concurrency limit per key that finds what the server takes (AIMD; module docstring).

    Usable alone around any coroutine::

        limiter = AdaptiveLimiter(initial=8)
        result = await limiter.run("api.example.com", fetch, overloaded=lambda r: r.status == 429)
        limiter.pause("api.example.com", 2.0)  # a Retry-After: hold that key's calls
    """

    def __init__(
        self,
        *,
        initial: int = 8,
        min_limit: int = 1,
        max_limit: int = 1000,
        backoff: float = 0.5,
        max_keys: int = 10_000,
        max_pause: float = DEFAULT_MAX_PAUSE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Create the limiter.

        Raises:
            TypeError, ValueError: limits that are not ints with
                ``1 <= min_limit <= initial <= max_limit``, ``backoff`` not in
                (0, 1), ``max_keys`` below 1, ``max_pause`` not a positive number.

        """
        limits = {"initial": initial, "min_limit": min_limit, "max_limit": max_limit}
        for name, value in (*limits.items(), ("max_keys", max_keys)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {value!r}")
        if not 1 <= min_limit <= initial <= max_limit or max_keys < 1:
            raise ValueError("need 1 <= min_limit <= initial <= max_limit, and max_keys >= 1")
        _number("backoff", backoff, minimum=0, strict=True)
        if backoff >= 1:
            raise ValueError(f"backoff must be below 1, got {backoff}")
        _number("max_pause", max_pause, minimum=0, strict=True)
        self.initial = initial
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.backoff = backoff
        self.max_keys = max_keys
        self.max_pause = float(max_pause)
        self.clock = clock
        self.sleep = sleep
        self._keys: OrderedDict[Hashable, _Key] = OrderedDict()

    def limit(self, key: Hashable = None) -> float:
        """Return ``key``'s current limit (``initial`` for a key not seen)."""
        state = self._keys.get(key)
        return self.initial if state is None else state.limit

    def in_flight(self, key: Hashable = None) -> int:
        """Return the calls on ``key`` holding a slot."""
        state = self._keys.get(key)
        return 0 if state is None else state.in_flight

    def delay(self, key: Hashable = None) -> float:
        """Return how long a call on ``key`` would wait now for its pause and pace (not the limit).

        .. versionadded:: 0.2.0
        """
        state = self._keys.get(key)
        return 0.0 if state is None else max(state.opens_at() - self.clock(), 0.0)

    def pause(self, key: Hashable, seconds: float) -> None:
        """Start no call on ``key`` for ``seconds`` (rule 5: Retry-After), ``max_pause`` at most.

        Calls already waiting wait it out too; other keys are not held. A
        negative pause is none; a later pause wins over an earlier one.

        Raises:
            ValueError: ``seconds`` is NaN.

        .. versionadded:: 0.2.0

        """
        seconds = _bounded_pause(seconds, self.max_pause)
        now = self.clock()
        state = self._state(key, now)
        state.paused_until = max(state.paused_until, now + seconds)
        state.empty_after_pause()

    def pace(
        self, key: Hashable, rate: float, burst: int = 1, *, remaining: int | None = None
    ) -> None:
        """Space ``key``'s calls at ``rate`` a second, ``burst`` at once (rule 6).

        Args:
            key: the key (the client uses the origin).
            rate: calls a second, e.g. a quota policy's ``q / w``. One call
                per ``max_pause`` at least: a policy of one call a day does
                not hold the key for a day.
            burst: calls that may start at once (the policy's ``q``).
            remaining: the calls the server says it would take now (the
                RateLimit field's ``r``). The calls in flight on ``key`` count
                against it; it only ever tightens the pace.

        Raises:
            TypeError, ValueError: ``rate`` not a positive finite number,
                ``burst`` not an int >= 1, ``remaining`` not an int >= 0.

        .. versionadded:: 0.2.0

        """
        _number("rate", rate, minimum=0, strict=True)
        if rate == float("inf"):
            raise ValueError("rate must be finite")
        for name, value, least in (("burst", burst, 1), ("remaining", remaining, 0)):
            if value is None and name == "remaining":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {value!r}")
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        now = self.clock()
        state = self._state(key, now)
        state.interval = interval = min(1.0 / rate, self.max_pause)
        state.tolerance = (burst - 1) * interval
        if remaining is not None:
            available = remaining - state.in_flight
            # GCRA: ``available`` calls may start now when
            # tat == now + tolerance - (available - 1) * interval.
            synced = state.tolerance + min((1 - available) * interval, self.max_pause)
            state.tat = max(state.tat, now + synced)
        state.empty_after_pause()

    async def acquire(self, key: Hashable = None) -> Slot:
        """Wait for a slot on ``key`` (FIFO; after its pause and pace) and return it."""
        state = self._state(key)
        if state.queue.idle() and state.in_flight < int(state.limit):
            held = state.interval or state.paused_until != _NEVER
            now = self.clock() if held else 0.0
            if not held or now >= state.opens_at():
                state.take(now)
                return Slot(key, state.round)
        await state.queue.wait(self.clock, self.sleep, state.opens, state.take, state.untake)
        return Slot(key, state.round)

    def release(self, slot: Slot, outcome: Outcome = Outcome.IGNORE) -> None:
        """Hand ``slot`` back with how the call went; adjust the limit (rules 1-3)."""
        state = self._keys.get(slot.key)
        if state is None:  # pragma: no cover - a key in use is never dropped
            return
        busy = state.in_flight
        state.in_flight -= 1
        if outcome is Outcome.SUCCESS:
            if busy * 2 >= state.limit:  # rule 1: only a limit in use grows
                state.limit = min(float(self.max_limit), state.limit + 1 / state.limit)
        elif outcome is Outcome.OVERLOAD and slot.round == state.round:
            state.limit = max(float(self.min_limit), state.limit * self.backoff)
            state.round += 1
        if state.queue.futures:
            state.queue.admit(self.clock(), state.opens, state.take)

    async def run(
        self,
        key: Hashable,
        fn: Callable[[], Awaitable[T]],
        *,
        overloaded: Callable[[T], bool] = lambda result: False,
        overload_errors: tuple[type[BaseException], ...] = (TimeoutError,),
    ) -> T:
        """Call ``fn()`` within ``key``'s limit; an ``overloaded`` result or error shrinks it."""
        slot = await self.acquire(key)
        outcome = Outcome.IGNORE  # cancelled, or an error that says nothing of load
        try:
            result = await fn()
            outcome = Outcome.OVERLOAD if overloaded(result) else Outcome.SUCCESS
        except overload_errors:
            outcome = Outcome.OVERLOAD
            raise
        finally:
            self.release(slot, outcome)
        return result

    def _state(self, key: Hashable, now: float | None = None) -> _Key:
        keys = self._keys
        state = keys.get(key)
        if state is None:
            if len(keys) >= self.max_keys:
                self._forget(self.clock() if now is None else now)
            state = keys[key] = _Key(float(self.initial))
        else:
            keys.move_to_end(key)
        return state

    def _forget(self, now: float) -> None:
        """Drop the least recently used idle key, one whose hold is over first (none in use)."""
        first_idle = None  # (key,): a key may be None
        for key, state in self._keys.items():
            if state.in_flight or not state.queue.idle():
                continue
            if state.opens_at() <= now:
                del self._keys[key]
                return
            if first_idle is None:
                first_idle = (key,)
        if first_idle is not None:
            del self._keys[first_idle[0]]
