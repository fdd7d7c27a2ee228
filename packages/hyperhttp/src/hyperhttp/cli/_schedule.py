"""When a request may start (the closed and the open model) and what one worker counted.

Strategy
--------
Every connection (HTTP/1.1: one slot; HTTP/2: one per stream it may open)
asks :meth:`Scheduler.take` for a request whenever a slot frees. The
answer is the request's *intended* start time in ``perf_counter_ns``
nanoseconds, or -1 for "none now". Latency is always measured from that
intended time:

- **Closed model** (no ``--rate``): a free slot starts a request at once,
  so the intended time is now; ``concurrency`` requests are in flight.
- **Open model** (``--rate R``): request ``i`` is *due* at
  ``t0 + phase + i / R``, whatever happened before. A free slot takes the
  oldest due request; when none is due yet it is parked and a timer wakes
  the parked slots, oldest first, as requests fall due. When the server
  stalls, due requests queue (up to every slot busy) and each one's
  latency still counts from when it was due: the stall shows in every
  request it delayed, not only in the few that were in flight. This is
  the correction for coordinated omission that wrk2 made to wrk
  (Gil Tene, "How NOT to Measure Latency"); the queueing delay is also
  kept apart as ``lag`` (actual send - intended start) so the report can
  tell a slow server from a generator that could not keep up.

Invariants
----------
1. ``take`` hands out each request once: ``left`` counts down from ``-n``
   (or a huge number for a timed run), and a request refused by the server
   before it was processed (HTTP/2 REFUSED_STREAM, or above a GOAWAY's last
   stream) is handed back with its intended time (:meth:`give_back`).
2. Intended times never move: a late send is recorded as lag and as
   latency, never re-based.
3. The run ends when every request handed out has ended (response or
   error) and none is left (``-n``), or at the deadline (``-d``), whichever
   comes first; ``finished`` is then set.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Protocol

from ._hdr import Histogram

if TYPE_CHECKING:
    import asyncio

__all__ = ["EVERY", "WAKE_RESOLUTION", "Scheduler", "Slot", "Stats"]

#: ``left`` of a run without -n: more than any run can send.
EVERY = 1 << 62
#: The shortest wait for the schedule's timer, in seconds: event loops keep
#: time in milliseconds (libuv's timers, epoll's timeout), and a shorter one
#: makes uvloop spin. A slot freed by a response takes a due request at once;
#: only a request due while every free slot is parked can wait up to about
#: this long, and that lag is measured and counted in its latency.
WAKE_RESOLUTION = 0.001

_now = time.perf_counter_ns


class Slot(Protocol):
    """A connection as the scheduler sees it: parked while no request is due."""

    parked: bool

    def fill(self, now: int) -> None:
        """Start as many due requests as the connection has free slots."""


class Stats:
    """What one worker counted: latencies, statuses, errors by kind, bytes, connections."""

    __slots__ = (
        "connect_errors",
        "connects",
        "errors",
        "lag",
        "latency",
        "received",
        "sent",
        "statuses",
    )

    def __init__(self) -> None:
        self.latency = Histogram()  # response complete - intended start, ns
        self.lag = Histogram()  # actual send - intended start, ns (the open model)
        self.statuses = [0] * 1000  # responses by status code
        self.errors: dict[str, int] = {}
        self.received = 0  # bytes read (heads, bodies, framing; after TLS)
        self.sent = 0  # bytes written
        self.connects = 0  # connections opened
        self.connect_errors = 0

    def error(self, kind: str) -> None:
        """Count one failed request (or connection attempt) of ``kind``."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def responses(self) -> int:
        """Responses received, any status."""
        return self.latency.count


class Scheduler:
    """Hands out requests to free slots in the closed or the open model (module docstring)."""

    __slots__ = (
        "finished",
        "inflight",
        "interval",
        "issued",
        "lag",
        "left",
        "loop",
        "parked",
        "returned",
        "running",
        "start",
        "timer",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stats: Stats,
        *,
        requests: int | None,
        rate: float | None,
    ) -> None:
        self.loop = loop
        self.lag = stats.lag
        self.left = EVERY if requests is None else requests
        self.interval = 1e9 / rate if rate else 0.0  # ns between arrivals; 0: closed model
        self.start = 0  # t0 + phase, ns
        self.issued = 0  # requests of the schedule handed out (open model)
        self.inflight = 0
        self.running = False
        self.parked: deque[Slot] = deque()
        self.returned: deque[int] = deque()  # intended times handed back (invariant 1)
        self.timer: asyncio.TimerHandle | None = None
        self.finished: asyncio.Future[None] = loop.create_future()

    # ------------------------------------------------------------ the hot path

    def take(self, slot: Slot, now: int) -> int:
        """Return the intended start (ns) of a request ``slot`` may send now, or -1.

        In the open model, a slot that finds nothing due is parked until
        something is (or until the run ends).
        """
        if not self.running or self.left <= 0:
            return -1
        if self.interval:
            if self.returned:
                intended = self.returned.popleft()
            else:
                intended = self.start + int(self.issued * self.interval)
                if intended > now:
                    if not slot.parked:
                        slot.parked = True
                        self.parked.append(slot)
                        if self.timer is None:
                            delay = max((intended - now) / 1e9, WAKE_RESOLUTION)
                            self.timer = self.loop.call_later(delay, self._wake)
                    return -1
                self.issued += 1
            self.lag.record(now - intended)
        else:
            intended = self.returned.popleft() if self.returned else now
        self.left -= 1
        self.inflight += 1
        return intended

    def claim(self, now: int) -> int:
        """Return the intended start of the next request, due or not (-1: none left).

        For a task that can wait (the ``client`` engine): it sleeps until
        the intended time itself, and records its lag once it sends.
        """
        if not self.running or self.left <= 0:
            return -1
        if self.returned:
            intended = self.returned.popleft()
        elif self.interval:
            intended = self.start + int(self.issued * self.interval)
            self.issued += 1
        else:
            intended = now
        self.left -= 1
        self.inflight += 1
        return intended

    def swap(self, slot: Slot, now: int) -> int:
        """End one request of ``slot`` and return its next one's intended start, or -1.

        :meth:`ended` then :meth:`take`, with the closed model's common case
        (a request left, none handed back) in one step: the hot path of an
        HTTP/1.1 connection.
        """
        if self.running and self.left > 0 and not self.interval and not self.returned:
            self.left -= 1
            return now  # one ended, one starts: in flight unchanged
        self.ended()
        return self.take(slot, now)

    def ended(self) -> None:
        """One request handed out ended (response or error): the run may be over (invariant 3)."""
        self.inflight -= 1
        if self.left <= 0 and not self.inflight and not self.finished.done():
            self.finished.set_result(None)

    def give_back(self, intended: int) -> None:
        """Take back a request the server did not process: it goes again, same intended time."""
        self.returned.append(intended)
        self.left += 1
        self.inflight -= 1

    # ------------------------------------------------------------ the open model's timer

    def _wake(self) -> None:
        self.timer = None
        now = _now()
        parked = self.parked
        while parked and self.running and self.left > 0:
            if not self.returned and self.start + int(self.issued * self.interval) > now:
                break
            slot = parked.popleft()
            slot.parked = False
            slot.fill(now)  # (may park it again, at the back)
        if parked and self.running and self.timer is None and self.left > 0:
            due = self.start + int(self.issued * self.interval)
            delay = max((due - now) / 1e9, WAKE_RESOLUTION)
            self.timer = self.loop.call_later(delay, self._wake)

    # ------------------------------------------------------------ the run

    def begin(self, start: int) -> None:
        """Start handing out requests; the schedule's first arrival is at ``start`` (ns)."""
        self.start = start
        self.running = True

    def stop(self) -> None:
        """Hand out nothing more (the deadline, or the run is over)."""
        self.running = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.parked.clear()
        if not self.finished.done():
            self.finished.set_result(None)

    def due_unsent(self, now: int) -> int:
        """Count the open model's requests due by ``now`` but not sent (every slot was busy)."""
        if not self.interval or now < self.start:
            return len(self.returned)
        due = int((now - self.start) / self.interval) + 1
        return max(0, min(due, self.issued + self.left) - self.issued) + len(self.returned)
