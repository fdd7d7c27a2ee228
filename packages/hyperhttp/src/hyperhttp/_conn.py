"""What HTTP/1.1 and HTTP/2 connections share: the body buffer and the protocol plumbing.

:class:`BodyBuffer` is one response being received (an HTTP/1.1 exchange or
an HTTP/2 stream): its head, the body pieces not read yet, and the one task
waiting on them. :class:`ConnectionBase` is the asyncio side of a connection:
the lazily re-armed read timer (one per connection, see ``arm_timer``),
write-side flow control (``drain``), and the future ``Client.aclose`` waits
on for a clean close. Subclasses define ``_on_timer``.

The one connection interface
----------------------------
``_http11.HTTP11Connection`` and ``_http2.HTTP2Connection`` are used the
same way (``_pool_transport.PoolTransport`` never asks which it holds):

1. ``exchange = connection.start_request(request, encoder, timeouts, limit)``:
   the encoder builds what the protocol sends (an HTTP/1.1 head, an HTTP/2
   field list), checked; if that raises, nothing was sent. The head goes
   out, with a body in memory when the transport or the windows take it.
2. ``if exchange.body_left: await exchange.send_rest(request, timeouts)``:
   a streamed body, or bytes held back (HTTP/1.1 backpressure, HTTP/2
   windows).
3. ``exchange.head`` or ``await exchange.wait_head()``: status, fields and
   ``reason`` (bytes; None for HTTP/2).
4. ``await exchange.read_all()`` or ``exchange.iter_raw()``: the body, within
   ``limit`` bytes.
5. ``connection.finish(exchange)``: the exchange ends (read, abandoned or
   failed); it returns whether the connection may be pooled again: only
   when the exchange completed cleanly.

Both also have ``http_version``, ``served``, ``is_usable()``, ``close()``,
``abort()`` and ``lost`` (done once the connection is gone).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from ._exceptions import RemoteProtocolError, StreamClosed, StreamConsumed, WriteTimeout

__all__ = ["BodyBuffer", "ConnectionBase", "StaleConnection", "StreamClosed"]


class StaleConnection(RemoteProtocolError):
    """A reused connection (either protocol) closed before any byte of the response.

    Nothing of the exchange reached the server's application as far as we
    can tell: the client replays an idempotent request once (``_pipeline``).
    """


class BodyBuffer:
    """A response being received: head, buffered body, and the task waiting for them."""

    __slots__ = (
        "body_left",
        "buffered",
        "chunks",
        "done",
        "error",
        "head",
        "last_data",
        "limit",
        "loop",
        "read_timeout",
        "received",
        "streaming",
        "waiter",
        "whole",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, read_timeout: float | None, limit: int | None
    ) -> None:
        self.loop = loop
        self.head: Any = None
        self.chunks: collections.deque[bytes | memoryview] = collections.deque()
        self.buffered = 0  # body bytes held, not read yet
        self.received = 0  # body bytes received in all
        self.limit = limit
        self.done = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.streaming = False  # iter_raw reads it: backpressure applies
        self.whole = False  # read_all reads it: wake at the end only
        self.read_timeout = read_timeout
        self.last_data = 0.0
        self.body_left = False  # the request's body is not all sent yet: see send_rest

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def check_unread(self) -> None:
        """Refuse a second stream of the body (a first one took pieces of it).

        Raises:
            StreamConsumed: it was streamed already.

        """
        if self.streaming:
            raise StreamConsumed("the response body was read as a stream already")
        self.streaming = True

    def closed_early(self) -> None:
        """Fail a reader still waiting: the response is closed before its end."""
        if not self.done:
            self.fail(StreamClosed("the response was closed while its body was being read"))

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.done:
            self.error = error
        self._wake()

    async def _wait(self) -> None:
        waiter = self.waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self.waiter = None

    async def wait_head(self) -> Any:
        while self.head is None:
            if self.error is not None:
                raise self.error
            await self._wait()
        return self.head

    async def _wait_done(self) -> bytes:
        """Wait for the end of the body and return all of it (one join, or none).

        Raises:
            StreamConsumed: the body was (partly) read as a stream already:
                what is left is not the body, and a transport paused for that
                stream's backpressure would never bring its end.

        """
        if self.streaming:
            raise StreamConsumed("the response body was read as a stream already")
        while not self.done:
            if self.error is not None:
                raise self.error
            await self._wait()
        chunks = self.chunks
        if not chunks:
            return b""
        body = b"".join(chunks)  # a single bytes piece comes back as is
        chunks.clear()
        self.buffered = 0
        return body


class ConnectionBase(asyncio.BaseProtocol):
    """The asyncio plumbing of a client connection (see the module docstring).

    A ``BaseProtocol``, not a ``Protocol``: the connections are buffered
    protocols, and uvloop reads into a protocol's buffer only when it is not
    an ``asyncio.Protocol`` too (asyncio takes either).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.served = 0
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.lost: asyncio.Future[None] = loop.create_future()  # done at connection_lost

    # ------------------------------------------------------------ the read timer

    def arm_timer(self, due: float) -> None:
        """Make sure the timer fires no later than ``due`` (it may fire earlier)."""
        timer = self.timer
        if timer is not None:
            if self.timer_due <= due:
                return  # it fires first, finds the deadline later, and re-arms
            timer.cancel()
        self.timer_due = due
        self.timer = self.loop.call_at(due, self._on_timer)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:  # pragma: no cover - every connection defines it
        raise NotImplementedError

    # ------------------------------------------------------------ closing

    def _closed_down(self) -> None:
        """Record the end of the connection (from ``connection_lost``)."""
        self.closed = True
        self._cancel_timer()
        if not self.lost.done():
            self.lost.set_result(None)
        self._release_drain()

    # ------------------------------------------------------------ writing

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._release_drain()

    def _release_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self, timeout: float | None) -> None:
        """Wait until the transport takes writes again.

        Raises:
            WriteTimeout: not within ``timeout``.

        """
        if not self.write_paused or self.closed:
            return
        waiter = self.drain_waiter = self.loop.create_future()
        try:
            await wait_write(waiter, timeout)
        finally:
            self.drain_waiter = None


async def wait_write(waiter: asyncio.Future[None], timeout: float | None) -> None:
    """Await ``waiter``, a step of sending a request.

    Raises:
        WriteTimeout: not within ``timeout``.

    """
    if timeout is None:
        await waiter
        return
    try:
        async with asyncio.timeout(timeout):
            await waiter
    except TimeoutError:
        raise WriteTimeout(f"could not send the request in {timeout:g} s") from None


async def close_iterator(iterator: object) -> None:
    """Close an async iterator left before its end (an async generator's ``aclose``)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def check_chunk(chunk: object) -> None:
    """Refuse a request body chunk that is not bytes (callers are not all typed)."""
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise TypeError(f"request body chunks must be bytes, not {type(chunk).__name__}")
