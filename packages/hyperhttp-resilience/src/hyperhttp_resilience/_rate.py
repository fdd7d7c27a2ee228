"""Rate limiting per key: a token bucket as GCRA, sans-IO, and its async shell.

Theory of operation
-------------------
Each key (the umbrella uses the origin) has a bucket of ``burst`` tokens
refilled at ``rate`` per second. It is kept as the Generic Cell Rate
Algorithm's one number, the theoretical arrival time ``tat`` (ITU-T I.371;
the same arithmetic as a token bucket, without a refill timer): a call at
``now`` may start at ``max(tat - (burst - 1) / rate, now)``, and reserving
that start moves ``tat`` on by ``1 / rate``.

Rules
-----
1. :meth:`RateBuckets.reserve` returns how long the caller must wait and
   reserves that slot at once, so callers are served in the order they
   asked (FIFO) and none is starved by later ones.
2. A reservation given up before its slot (the waiting task cancelled) is
   handed back when no later one was made, so a burst of cancellations
   cannot leave the key idle.
3. :meth:`RateBuckets.pause` holds a key until a time (a server's
   ``Retry-After``): no slot before it, the others unaffected. The shell
   bounds a pause by ``max_pause`` (:data:`DEFAULT_MAX_PAUSE`): a number
   passed on from a server cannot hold a key for a day.
4. Keys are bounded (``max_keys``, least recently used dropped), paused
   ones too: a bucket back at full burst loses nothing by being forgotten.

:class:`RateLimiter` is the asyncio shell: ``await limiter.acquire(key)``
sleeps out the reserved delay (``clock`` and ``sleep`` injectable).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, TypeVar

from ._retry import _number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

T = TypeVar("T")

__all__ = ["DEFAULT_MAX_PAUSE", "RateBuckets", "RateLimiter"]

#: The longest a limiter holds a key for a pause it is given (seconds). A
#: server's Retry-After or RateLimit reset can say anything; the RateLimit
#: draft asks clients to set such thresholds (draft-ietf-httpapi-ratelimit-headers-10,
#: "Denial of Service"), and five minutes outlasts any per-second or
#: per-minute quota while a broken server cannot stop the caller for a day.
DEFAULT_MAX_PAUSE = 300.0


def _bounded_pause(seconds: float, max_pause: float) -> float:
    """Return ``seconds`` within ``[0, max_pause]``.

    Raises:
        ValueError: ``seconds`` is NaN.

    """
    if seconds != seconds:
        raise ValueError("a pause must be a number of seconds, not NaN")
    return min(max(seconds, 0.0), max_pause)


class RateBuckets:
    """The sans-IO core of :class:`RateLimiter`: per-key GCRA state (see the module docstring)."""

    def __init__(self, rate: float, burst: int = 1, *, max_keys: int = 10_000) -> None:
        """Create the buckets.

        Raises:
            TypeError, ValueError: ``rate`` not a positive number (calls per
                second), ``burst`` or ``max_keys`` not a positive int.

        """
        _number("rate", rate, minimum=0, strict=True)
        if rate == float("inf"):
            raise ValueError("rate must be finite (no limiter is no limit)")
        for name, value in (("burst", burst), ("max_keys", max_keys)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.rate = float(rate)
        self.burst = burst
        self.max_keys = max_keys
        self.interval = 1.0 / self.rate
        self.tolerance = (burst - 1) * self.interval
        self._tat: OrderedDict[Hashable, float] = OrderedDict()

    def reserve(self, key: Hashable, now: float) -> tuple[float, float]:
        """Reserve the key's next slot; return ``(delay, ticket)``: wait ``delay`` seconds first.

        ``ticket`` identifies the reservation for :meth:`cancel`.
        """
        tats = self._tat
        tat = tats.get(key)
        if tat is None:
            if len(tats) >= self.max_keys:
                self._forget(now)
            tat = now
        else:
            tats.move_to_end(key)
        start = max(tat - self.tolerance, now)
        tats[key] = ticket = max(tat, now) + self.interval
        return start - now, ticket

    def cancel(self, key: Hashable, ticket: float) -> None:
        """Hand back a reservation not used, if no later one was made (rule 2)."""
        if self._tat.get(key) == ticket:
            self._tat[key] = ticket - self.interval

    def pause(self, key: Hashable, until: float, now: float | None = None) -> None:
        """Give ``key`` no slot before ``until`` (rule 3); a later pause wins.

        ``now`` lets a new key displace an idle one rather than the least recently used.
        """
        tats = self._tat
        earliest = until + self.tolerance  # the first slot then: tat - tolerance == until
        tat = tats.get(key)
        if tat is None and len(tats) >= self.max_keys:
            self._forget(float("-inf") if now is None else now)
        if tat is None or tat < earliest:
            tats[key] = earliest
            tats.move_to_end(key)

    def delay(self, key: Hashable, now: float) -> float:
        """Return how long a call on ``key`` would wait now, reserving nothing."""
        tat = self._tat.get(key)
        return 0.0 if tat is None else max(tat - self.tolerance - now, 0.0)

    def _forget(self, now: float) -> None:
        """Drop the least recently used key (rule 4), preferring one back at full burst."""
        tats = self._tat
        for key, tat in tats.items():
            if tat <= now:
                del tats[key]
                return
        tats.popitem(last=False)


class RateLimiter:
    """At most ``rate`` calls per second per key, ``burst`` at once; waiters served FIFO.

    Usable alone around any coroutine::

        limiter = RateLimiter(rate=10, burst=5)
        await limiter.acquire("api.example.com")   # or: await limiter.run(key, fetch)
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        max_keys: int = 10_000,
        max_pause: float = DEFAULT_MAX_PAUSE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Create the limiter (``rate``, ``burst``, ``max_keys``: see :class:`RateBuckets`).

        Raises:
            TypeError, ValueError: as :class:`RateBuckets`; ``max_pause`` not a
                positive number.

        """
        _number("max_pause", max_pause, minimum=0, strict=True)
        self.buckets = RateBuckets(rate, burst, max_keys=max_keys)
        self.max_pause = float(max_pause)
        self.clock = clock
        self.sleep = sleep

    async def acquire(self, key: Hashable = None) -> None:
        """Wait for ``key``'s next slot (none: return at once)."""
        delay, ticket = self.buckets.reserve(key, self.clock())
        if delay <= 0:
            return
        try:
            await self.sleep(delay)
        except BaseException:
            self.buckets.cancel(key, ticket)
            raise

    async def run(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        """Call ``fn()`` once ``key`` has a slot; return what it returns."""
        await self.acquire(key)
        return await fn()

    def pause(self, key: Hashable, seconds: float) -> None:
        """Give ``key`` no slot for ``seconds`` (a server's ``Retry-After``), at most ``max_pause``.

        A negative pause is none; a later pause wins over an earlier one.

        Raises:
            ValueError: ``seconds`` is NaN.

        """
        now = self.clock()
        self.buckets.pause(key, now + _bounded_pause(seconds, self.max_pause), now)
