"""Request heads written together, at the end of the event loop's turn.

Strategy
--------
On a busy loop, a small HTTP/1.1 request (a head, with its body when that is
small) that is not the first of its turn of the loop is not written to its
socket at once: it is queued in its loop's :class:`WriteBatch`, and one
callback (``call_soon``, scheduled by the turn's first request) writes every
queued request of the turn, one ``write`` each, back to back.

Why: a client serving many connections resumes many tasks in one turn of the
loop, and each starts its next request tens of microseconds after the one
before. Written as they come, each write reaches a server that went back to
sleep in the meantime, and every one pays for waking it (on a virtual machine
an inter-processor interrupt, a VM exit: the most expensive part of a
loopback request). Written together, the first write wakes the server and
the others find it running. Measured on nginx, c = 64, 200 B (bench/cell
runs in the issue 16 note): +22 % requests/s on asyncio and +36 % on uvloop,
at 20-25 % less CPU per request.

What it costs: a queued request leaves when the current turn ends instead of
at once, and a busy turn costs one more turn of the loop (a ``select`` with
no wait). No response can be read before the next turn anyway, but:

- with fewer than ``BATCH_BUSY`` exchanges under way on the loop (counted
  from ``start`` to ``finish``) there is nothing to gain, and a request is
  written at once (measured: c = 1 and 4 lose 4-7 % batched on asyncio,
  c = 16 gains 8 %);
- the first request of a turn is written at once: a gateway whose turns
  start one or two requests each (20 ms upstream, c = 64) took +0.3 ms at
  P50 on asyncio when they waited for the turn's end, and takes nothing now,
  while the load generator keeps its gain (the first write wakes the server,
  the batch finds it awake).

Rules
-----
- Only a request that goes out in one piece of at most ``BATCH_MAX`` bytes,
  on a connection whose transport holds nothing unsent, is queued; one with
  a streamed body, a bigger one, or one behind unsent bytes is written at
  once (its write deadline and drain logic, rule 4a of ``_http11``, need to
  see the transport pause).
- A queued request counts as sent only once written (``Exchange.sent``): an
  exchange that ended before (cancelled, failed), or whose answer started
  before (a server that did not wait for it would read the late request as
  its next one), leaves its connection unusable, and its bytes are dropped,
  never written after the fact.
- An exchange counts as under way (``busy``) from ``start`` until
  ``finish`` or the loss of its connection, whichever comes first, once.
- One batch per event loop (a weak mapping: a closed loop takes its batch
  with it); the connection looks it up once, when it is made.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

__all__ = ["BATCH_BUSY", "BATCH_MAX", "WriteBatch", "batch_for"]

#: The largest request queued (a head and a small body); bigger ones go at once.
BATCH_MAX = 16 * 1024
#: With fewer exchanges than this under way on the loop, a request goes at once.
BATCH_BUSY = 8


class Queued(Protocol):
    """What the batch writes: an exchange holding its unsent request."""

    def send_queued(self) -> None: ...


class WriteBatch:
    """The requests queued in one loop's current turn (see the module docstring)."""

    __slots__ = ("busy", "open", "pending")

    def __init__(self) -> None:
        self.pending: list[Queued] = []
        self.busy = 0  # exchanges under way on the loop's HTTP/1.1 connections
        self.open = False  # a request went out this turn: the flush is scheduled

    def at_once(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether to write now: the turn's first request, or too few under way to batch.

        The first one of a turn opens the batch (its end is the flush); the
        ones after it in the same turn are queued (:meth:`add`).
        """
        if self.pending:  # gathering this turn's batch
            return False
        if self.busy < BATCH_BUSY:
            return True
        if self.open:  # the turn's first went out: the rest wait for its end
            return False
        self.open = True
        loop.call_soon(self.flush)
        return True

    def add(self, item: Queued) -> None:
        """Queue ``item`` for the flush :meth:`at_once` scheduled."""
        self.pending.append(item)

    def flush(self) -> None:
        """Write every queued request (each one's failure is its own); close the turn."""
        self.open = False
        pending = self.pending
        self.pending = []
        for item in pending:
            item.send_queued()


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatch] = (
    weakref.WeakKeyDictionary()
)


def batch_for(loop: asyncio.AbstractEventLoop) -> WriteBatch:
    """Return ``loop``'s batch (made on first use)."""
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = WriteBatch()
    return batch
