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
returns at once while the bucket has a token, else queues (``clock`` and
``sleep`` injectable). A queued call does not sleep out a slot reserved when
it asked: the slot is taken when the call starts (:class:`_Waiters`), so

5. a pause given while calls wait holds them too, and
6. a late wake-up (the event loop blocked past several slots) starts the
   overdue calls at the rate from then, ``burst`` at once, not all together
   (calls that slept out slots reserved in advance would all start at the
   late wake-up: a burst the server sees as over its limit).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
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
_NEVER = float("-inf")


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
        return max(self.opens_at(key) - now, 0.0)

    def opens_at(self, key: Hashable) -> float:
        """Return when ``key``'s next slot is (``-inf``: a key not seen, full)."""
        tat = self._tat.get(key)
        return _NEVER if tat is None else tat - self.tolerance

    def _forget(self, now: float) -> None:
        """Drop the least recently used key (rule 4), preferring one back at full burst."""
        tats = self._tat
        for key, tat in tats.items():
            if tat <= now:
                del tats[key]
                return
        tats.popitem(last=False)


#: How late a sleeper's wake-up may be and still count as on time (seconds): the
#: event loop's timer lateness, absorbed as GCRA's cell delay variation
#: tolerance absorbs jitter (ITU-T I.371). Without it every wake-up's lateness
#: is lost: at 300/s a 0.9 ms late timer made ``RateLimiter(rate=300)`` send
#: 236/s (bench_ratelimit). A later wake-up is a stall: its time is lost, not
#: made up in a burst. asyncio's timers are well under 1 ms late on an idle
#: loop, a few ms on a busy one.
LATE_WAKE_UP = 0.005


def _woken_at(now: float, at: float | None) -> float:
    """Return the time a sleeper that slept until ``at`` admits at.

    ``at`` itself when the clock says no later than :data:`LATE_WAKE_UP` after
    it (or earlier: a clock that stands still in tests), else the clock.
    """
    if at is None or now - at > LATE_WAKE_UP:
        return now
    return at


class _Waiters:
    """The calls queued on one key, served in order, one of them sleeping out its hold.

    The limiter says when the next call may start (``opens()``: a time, or
    None while there is no room, e.g. a concurrency limit reached) and takes
    a call's place (``take(now)``). Rules:

    - a call that finds the queue empty and the key open starts at once;
      else it queues (FIFO);
    - when the key is held (its next start in the future), the first queued
      call is woken to sleep the hold out for all (the *sleeper*; its future
      ends False), then rejoins the front and admits in order as many as the
      limiter takes at that time; while it sleeps nobody else admits;
    - a call admitted (its future ends True) has its place taken already;
    - a call given up (cancelled) leaves: its place is handed back
      (``untake``), its sleeping to the next in line.

    Every sleep ends at a time already decided; a call sleeps again only if
    a new hold came meanwhile. A sleeper woken a little late admits as at
    the time it slept for (:data:`LATE_WAKE_UP`). Sans-IO apart from the
    futures: the clock and the sleep are the caller's.
    """

    __slots__ = ("futures", "sleeping")

    def __init__(self) -> None:
        # True: admitted (its place taken); False: woken to sleep the hold out for all.
        self.futures: deque[asyncio.Future[bool]] = deque()
        self.sleeping = False

    def idle(self) -> bool:
        """Return True when nobody waits or sleeps (the queue may be dropped)."""
        return not self.futures and not self.sleeping

    def admit(
        self, now: float, opens: Callable[[], float | None], take: Callable[[float], None]
    ) -> None:
        """Admit queued calls in order while the limiter has room and is open at ``now``."""
        if self.sleeping:
            return  # the sleeper admits when its wait is over
        futures = self.futures
        while futures:
            at = opens()
            if at is None:
                return  # no room: a release admits
            if now < at:
                while futures:  # the first queued call sleeps the hold out
                    head = futures.popleft()
                    if not head.done():
                        self.sleeping = True
                        head.set_result(False)
                        return
                return
            future = futures.popleft()
            if not future.done():
                take(now)
                future.set_result(True)

    async def wait(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        opens: Callable[[], float | None],
        take: Callable[[float], None],
        untake: Callable[[], None],
    ) -> None:
        """Queue, and return once admitted (its place taken)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self.futures.append(future)
        self.admit(clock(), opens, take)
        try:
            while not await future:  # woken to sleep out the hold, first in the queue
                at = opens()
                try:
                    await sleep(0.0 if at is None else max(at - clock(), 0.0))
                finally:
                    self.sleeping = False
                future = loop.create_future()
                self.futures.appendleft(future)
                self.admit(_woken_at(clock(), at), opens, take)
        except BaseException:
            if future.done() and not future.cancelled():
                if future.result():
                    untake()  # admitted as it was cancelled: give the place on
                else:
                    self.sleeping = False  # woken to sleep for the queue: hand that on
                self.admit(clock(), opens, take)
            else:
                future.cancel()
                if future in self.futures:
                    self.futures.remove(future)
            raise


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
        self._queues: dict[Hashable, _Waiters] = {}  # keys with calls waiting only

    async def acquire(self, key: Hashable = None) -> None:
        """Wait for ``key``'s next slot (none: return at once); FIFO."""
        buckets = self.buckets
        queue = self._queues.get(key)
        if queue is None:
            now = self.clock()
            if buckets.opens_at(key) <= now:
                buckets.reserve(key, now)
                return
            queue = self._queues[key] = _Waiters()

        def opens() -> float:
            return buckets.opens_at(key)

        def take(now: float) -> None:
            buckets.reserve(key, now)

        def untake() -> None:
            buckets.cancel(key, buckets._tat.get(key, _NEVER))

        try:
            await queue.wait(self.clock, self.sleep, opens, take, untake)
        finally:
            if queue.idle() and self._queues.get(key) is queue:
                del self._queues[key]

    async def run(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        """Call ``fn()`` once ``key`` has a slot; return what it returns."""
        await self.acquire(key)
        return await fn()

    def pause(self, key: Hashable, seconds: float) -> None:
        """Give ``key`` no slot for ``seconds`` (a server's ``Retry-After``), at most ``max_pause``.

        Calls already waiting wait it out too. A negative pause is none; a
        later pause wins over an earlier one.

        Raises:
            ValueError: ``seconds`` is NaN.

        """
        now = self.clock()
        self.buckets.pause(key, now + _bounded_pause(seconds, self.max_pause), now)
