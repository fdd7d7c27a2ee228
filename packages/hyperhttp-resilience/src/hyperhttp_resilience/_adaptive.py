"""Adaptive concurrency per key: AIMD, sans-IO, and its async shell.

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

Keys are bounded (``max_keys``): an idle key back at its initial limit is
dropped first. :class:`AdaptiveLimiter` is the asyncio shell.
"""

from __future__ import annotations

import asyncio
import enum
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ._retry import _number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

T = TypeVar("T")

__all__ = ["AdaptiveLimiter", "Outcome", "Slot"]


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
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


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
    """

    def __init__(
        self,
        *,
        initial: int = 8,
        min_limit: int = 1,
        max_limit: int = 1000,
        backoff: float = 0.5,
        max_keys: int = 10_000,
    ) -> None:
        """Create the limiter.

        Raises:
            TypeError, ValueError: limits that are not ints with
                ``1 <= min_limit <= initial <= max_limit``, ``backoff`` not in
                (0, 1), ``max_keys`` below 1.

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
        self.initial = initial
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.backoff = backoff
        self.max_keys = max_keys
        self._keys: OrderedDict[Hashable, _Key] = OrderedDict()

    def limit(self, key: Hashable = None) -> float:
        """Return ``key``'s current limit (``initial`` for a key not seen)."""
        state = self._keys.get(key)
        return self.initial if state is None else state.limit

    def in_flight(self, key: Hashable = None) -> int:
        """Return the calls on ``key`` holding a slot."""
        state = self._keys.get(key)
        return 0 if state is None else state.in_flight

    async def acquire(self, key: Hashable = None) -> Slot:
        """Wait for a slot on ``key`` (FIFO) and return it."""
        state = self._state(key)
        if state.in_flight < int(state.limit) and not state.waiters:
            state.in_flight += 1
            return Slot(key, state.round)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append(waiter)
        try:
            await waiter  # resolved with the slot already counted (see _admit)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                state.in_flight -= 1  # admitted as it was cancelled: give the slot on
                self._admit(state)
            else:
                state.waiters.remove(waiter)
            raise
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
        self._admit(state)

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

    def _state(self, key: Hashable) -> _Key:
        keys = self._keys
        state = keys.get(key)
        if state is None:
            if len(keys) >= self.max_keys:
                self._forget()
            state = keys[key] = _Key(float(self.initial))
        else:
            keys.move_to_end(key)
        return state

    def _forget(self) -> None:
        """Drop the least recently used idle key (a key in use stays)."""
        for key, state in self._keys.items():
            if not state.in_flight and not state.waiters:
                del self._keys[key]
                return

    def _admit(self, state: _Key) -> None:
        """Admit waiters while there is room (rule 4)."""
        waiters = state.waiters
        while waiters and state.in_flight < int(state.limit):
            waiter = waiters.popleft()
            if not waiter.done():
                state.in_flight += 1
                waiter.set_result(None)
