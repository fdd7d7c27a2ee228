"""The load generator's HTTP/1.1 connection: prebuilt request bytes, hyperhttp-parser framing.

Strategy
--------
One asyncio Protocol per connection and no task per request: the
response's last bytes arrive in ``data_received``, which records the
latency and writes the next request (the same prebuilt bytes) before it
returns. Every response goes through the client's own strict parser
(``hyperhttp_parser.ResponseParser``), so a malformed or ambiguous response
is an error here as it is in ``hyperhttp.Client``, and framing (Content-Length,
chunked, HEAD, 204/304) is the client's.

Rules
-----
1. One request at a time per connection (no pipelining), kept alive.
2. A response that does not allow keep-alive (``Connection: close``,
   HTTP/1.0) ends its connection after it is read; the engine opens
   another. Bytes beyond the response (nothing was asked) are a protocol
   error and end the connection, as in the client.
3. A connection lost mid-response fails that request (``closed``); a
   malformed response fails it (``protocol``); one unanswered for
   ``--timeout`` fails it (``timeout``). The engine replaces the connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import hyperhttp_parser as hp

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["H1Connection"]

_ResponseHead = hp.ResponseHead
_EndOfMessage = hp.EndOfMessage
_RemoteProtocolError = hp.RemoteProtocolError
_now = time.perf_counter_ns


class H1Connection(asyncio.Protocol):
    """One HTTP/1.1 connection of the load generator (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sched = engine.sched
        self.stats = stats = engine.stats
        self.record = stats.latency.record
        self.statuses = stats.statuses
        self.request = engine.request
        self.method = engine.method
        self.parser = hp.ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self.parked = False
        self.busy = False
        self.intended = 0
        self.sent_at = 0
        self.status = 0
        # Counted here, added to the engine's figures when the connection ends.
        self.received = 0
        self.sends = 0

    # ------------------------------------------------------------ the engine's side

    def fill(self, now: int) -> None:
        """Send the next request if the scheduler has one for this connection."""
        if self.busy or not self.alive:
            return
        intended = self.sched.take(self, now)
        if intended >= 0:
            self.send(intended, now)

    def send(self, intended: int, now: int) -> None:
        """Send the request (the prebuilt bytes) whose intended start is ``intended``."""
        self.busy = True
        self.intended = intended
        self.sent_at = now
        self.status = 0
        self.sends += 1
        self.parser.start(self.method)
        self.transport.write(self.request)  # type: ignore[union-attr]  # alive: connected

    def expire(self, now: int, limit: int) -> None:
        """Fail the request in flight if it has waited ``limit`` ns or more (rule 3)."""
        if self.busy and now - self.sent_at >= limit:
            self.fail("timeout")

    def fail(self, kind: str) -> None:
        """Fail the request in flight (if any) as ``kind`` and drop the connection."""
        if self.busy:
            self.busy = False
            self.stats.error(kind)
            self.sched.ended()
        self.close(abort=True)

    def close(self, *, abort: bool = False) -> None:
        """Close the connection (the engine hears of it through ``connection_lost``)."""
        self.alive = False
        transport = self.transport
        if transport is None:
            return
        if abort:  # (also one closing gracefully: the run is over)
            transport.abort()
        elif not transport.is_closing():
            transport.close()

    def settle(self) -> None:
        """Add this connection's byte counts to the engine's figures (once, then zero)."""
        stats = self.stats
        stats.received += self.received
        stats.sent += self.sends * len(self.request)
        self.received = self.sends = 0

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.alive = True
        self.engine.open.add(self)  # (the end of the run waits for its connection_lost)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if not self.busy:  # nothing was asked (rule 2)
            self.stats.error("protocol")
            self.close(abort=True)
            return
        try:
            events = self.parser.feed(data)
        except _RemoteProtocolError:
            self.fail("protocol")
            return
        if not events:
            return
        last = events[-1]
        first = events[0]
        if type(first) is _ResponseHead:  # the usual read: head, body, end
            self.status = first.status_code
        else:  # a head after interim responses, or a body's next piece
            for event in events:
                if type(event) is _ResponseHead:
                    self.status = event.status_code
        if type(last) is not _EndOfMessage:
            return
        now = _now()
        self.record(now - self.intended)
        self.statuses[self.status] += 1
        self.busy = False
        if last.keep_alive and not self.parser.trailing_data:
            intended = self.sched.swap(self, now)
            if intended >= 0:
                self.send(intended, now)
            return
        self.sched.ended()
        if last.keep_alive:  # bytes nobody asked for (rule 2)
            self.stats.error("protocol")
            self.close(abort=True)
        else:
            self.close()

    def eof_received(self) -> bool | None:
        if self.busy:
            try:
                events = self.parser.feed_eof()  # a body delimited by the close ends here
            except _RemoteProtocolError:
                self.fail("closed")
                return None
            if events:
                self.record(_now() - self.intended)
                self.statuses[self.status] += 1
                self.busy = False
                self.sched.ended()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.settle()
        if self.busy:
            self.busy = False
            if self.sched.running:  # (not a connection the engine closed at the end)
                self.stats.error("closed")
                self.sched.ended()
        self.engine.lost(self)
