"""HTTP/1.1 over an asyncio Protocol: the parser is fed from data_received.

Strategy
--------
One :class:`HTTP11Connection` per TCP (or TLS) connection, one request at a
time (the pool gives it capacity 1). No stream readers and no per-request
tasks: ``data_received`` feeds hyperhttp-parser and hands each event to the
current :class:`Exchange`, which buffers body bytes and wakes the one task
waiting on it. Waiting costs one future. The read timeout is one timer per
*connection*, armed lazily: data and new requests only stamp the time, and
the timer, when it fires, re-arms itself for the current deadline. A busy
connection thus arms about one timer per read-timeout period, not one per
request, and never cancels one on the hot path.

Rules
-----
1. A body being streamed to a slow consumer pauses the transport above
   ``HIGH_WATER`` buffered bytes and resumes it below ``LOW_WATER``:
   memory stays flat whatever the body size. Time paused is not read time.
   A response that completes while paused resumes reading at once, and a
   connection is never pooled with reading paused: its next answer would
   never be read.
1a. A body is read once: whole (``read_all``) or as a stream
   (``iter_raw``). Reading it again after a stream started is
   ``StreamConsumed`` (what is left is not the body, and a transport paused
   for the stream would never bring its end).
2. A connection is reusable only after a complete response that allows
   keep-alive, with nothing received beyond it (a byte more means the peer
   answered something we did not ask: no smuggling into the next request),
   *and* after the whole request was handed to the transport and taken by
   it. A request body cut short for any reason (a write or total timeout,
   cancellation, the body's iterator raising, a stream shorter than its
   Content-Length, or the server answering before we finished) aborts the
   connection: the server may still be reading that body, and the next
   request would be read as part of it (a desync).
2a. A request that says ``Connection: close`` is the last on its
   connection (RFC 9112 §9.6), whatever the response says.
3. A reused connection that closes before a single byte of the response is
   *stale* (the server dropped it while idle): the client may replay an
   idempotent request once on a fresh connection.
4. Server ``Keep-Alive: timeout=N`` shorter than ours is honoured.
4a. Writing has a deadline whatever the body: a streamed body waits at most
   the write timeout for each drain, and an in-memory body larger than the
   transport's buffer must keep draining (some progress every write
   timeout) until the response starts, or the request fails with
   ``WriteTimeout``.
5. Any malformed response, or a close mid-response, is a
   ``RemoteProtocolError`` and the connection is discarded.
6. Closing a response before its end (``Response.aclose``, from any task)
   fails a reader still waiting on it with ``StreamClosed`` (a
   ``StreamConsumed``) before the connection is dropped: no reader waits
   for ever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hyperhttp_parser as hp

from ._conn import BodyBuffer, ConnectionBase, check_chunk, close_iterator, wait_write
from ._exceptions import (
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    WriteTimeout,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["Exchange", "HTTP11Connection", "StaleConnection", "asks_close"]

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024

_ResponseHead = hp.ResponseHead
_Data = hp.Data
_EndOfMessage = hp.EndOfMessage


def asks_close(fields: list[tuple[bytes, bytes, bytes]]) -> bool:
    """Whether request fields (a ``Headers._list``) hold the ``close`` connection option.

    RFC 9110 §7.6.1: Connection is a comma-separated list of
    case-insensitive options, possibly in several fields. Callers ask only
    for a request with fields of its own: the hot path never gets here.
    """
    for name, _, value in fields:
        if name == b"connection" and any(
            option.strip().lower() == b"close" for option in value.split(b",")
        ):
            return True
    return False


class StaleConnection(RemoteProtocolError):
    """A reused connection closed before any byte of the response (rule 3)."""


class Exchange(BodyBuffer):
    """One request/response on a connection: the response head, then its body."""

    __slots__ = ("conn", "keep_alive", "paused", "received_bytes", "sent")

    def __init__(
        self, conn: HTTP11Connection, read_timeout: float | None, limit: int | None
    ) -> None:
        super().__init__(conn.loop, read_timeout, limit)
        self.conn = conn
        self.received_bytes = 0  # bytes of any kind (head included)
        self.keep_alive = False
        self.paused = False
        self.sent = False  # the whole request was handed to the transport (rule 2)

    # ------------------------------------------------------------ fed by the protocol

    def on_events(self, events: list[hp.Event]) -> None:
        for event in events:
            kind = type(event)
            if kind is _Data:
                data = event.data  # type: ignore[union-attr]
                self.chunks.append(data)
                self.buffered += len(data)
                self.received += len(data)
                if self.limit is not None and self.received > self.limit:
                    self.fail(ResponseTooLarge(f"response body over {self.limit} bytes"))
                    self.conn.abort()
                    return
                if self.streaming and self.buffered > HIGH_WATER and not self.paused:
                    self.paused = True
                    self.conn.pause_reading()
            elif kind is _ResponseHead:
                self.head = event
            elif kind is _EndOfMessage:
                self.done = True
                self.keep_alive = event.keep_alive  # type: ignore[union-attr]
                self.conn.on_complete(self)
                if self.paused:  # complete: reading resumes before any reuse (rule 1)
                    self.paused = False
                    self.conn.resume_reading()
            # InformationalResponse (100, 103): nothing to do.
        waiter = self.waiter
        if (
            waiter is not None
            and (self.done or (self.head is not None and not self.whole))
            and not waiter.done()
        ):
            waiter.set_result(None)

    # ------------------------------------------------------------ the read timeout

    def start_timer(self) -> None:
        timeout = self.read_timeout
        if timeout is not None:
            conn = self.conn
            self.last_data = now = conn.loop.time()
            conn.arm_timer(now + timeout)

    # ------------------------------------------------------------ read by the response

    async def read_all(self) -> bytes:
        """Return the body (no backpressure: the caller wants it all).

        Raises:
            StreamConsumed: it was streamed already (rule 1a).

        """
        self.whole = True  # wake at the end, not for every piece
        return await self._wait_done()

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, with backpressure (rule 1); once."""
        self.check_unread()
        chunks = self.chunks
        while True:
            while chunks:
                data = chunks.popleft()
                self.buffered -= len(data)
                if self.paused and self.buffered < LOW_WATER:
                    self.paused = False
                    self.last_data = self.loop.time()
                    self.conn.resume_reading()
                yield data  # type: ignore[misc]  # HTTP/1.1 pieces are bytes
            if self.done:
                return
            if self.error is not None:
                raise self.error
            await self._wait()


class HTTP11Connection(ConnectionBase):
    """An HTTP/1.1 client connection (see the module docstring)."""

    capacity = 1
    http_version = "HTTP/1.1"
    #: A connection to a forward proxy (plain http through a proxy): requests
    #: go in absolute-form, with this Proxy-Authorization value when set.
    forward = False
    proxy_auth: bytes | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.parser = hp.ResponseParser()
        self.exchange: Exchange | None = None
        self.reusable = True
        self.idle_until: float | None = None  # the server's Keep-Alive timeout

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("busy" if self.exchange else "idle")
        return f"<HTTP11Connection {state} served={self.served}>"

    # ------------------------------------------------------------ PoolConnection

    def is_usable(self) -> bool:
        if self.closed or not self.reusable:
            return False
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        return self.idle_until is None or self.loop.time() < self.idle_until

    def close(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.done:  # bytes nobody asked for (rule 2)
            self.reusable = False
            self.abort()
            return
        exchange.received_bytes += len(data)
        if exchange.read_timeout is not None:
            exchange.last_data = self.loop.time()
        try:
            events = self.parser.feed(data)
        except hp.RemoteProtocolError as exc:
            exchange.fail(RemoteProtocolError(str(exc)))
            self.abort()
            return
        if events:
            exchange.on_events(events)

    def eof_received(self) -> bool:
        self.closed = True
        exchange = self.exchange
        if exchange is not None and not exchange.done:
            if exchange.received_bytes == 0:
                self._lost(exchange)
                return False
            try:  # ends a close-delimited body, or finds the response cut short
                events = self.parser.feed_eof()
            except hp.RemoteProtocolError as exc:
                exchange.fail(RemoteProtocolError(str(exc)))
                return False
            exchange.on_events(events)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed_down()
        exchange = self.exchange
        if exchange is not None and not exchange.done:
            self._lost(exchange, exc)

    def _lost(self, exchange: Exchange, exc: Exception | None = None) -> None:
        error: RemoteProtocolError
        if exchange.received_bytes:
            error = RemoteProtocolError("the server closed the connection mid-response")
        elif self.served > 1:
            error = StaleConnection("the server closed the kept-alive connection")
        else:
            error = RemoteProtocolError("the server closed the connection without a response")
        if exc is not None:
            error.__cause__ = exc
        exchange.fail(error)

    # ------------------------------------------------------------ the read timer

    def _on_timer(self) -> None:
        self.timer = None
        exchange = self.exchange
        if exchange is None or exchange.done or exchange.error is not None:
            return
        timeout = exchange.read_timeout
        if timeout is None:
            return
        now = self.loop.time()
        if exchange.paused:  # time paused by us is not read time: look again later
            self.arm_timer(now + timeout)
            return
        due = exchange.last_data + timeout
        if due > now:  # data came meanwhile
            self.arm_timer(due)
            return
        exchange.fail(ReadTimeout(f"no data from the server for {timeout:g} s"))
        self.abort()

    # ------------------------------------------------------------ requests

    def on_complete(self, exchange: Exchange) -> None:
        """Decide reuse once the response ended (rules 2 and 4)."""
        if not exchange.keep_alive or self.parser.trailing_data:
            self.reusable = False
            return
        head = exchange.head
        if head is not None:
            for name, value in head.headers:
                if name == b"keep-alive":
                    self._keep_alive_hint(value)

    def _keep_alive_hint(self, value: bytes) -> None:
        for part in value.split(b","):
            key, _, number = part.strip().partition(b"=")
            if key.strip().lower() == b"timeout" and number.strip().isdigit():
                # A second early, so we never send as the server gives up.
                seconds = int(number.strip()) - 1.0
                until = self.loop.time() + max(0.0, seconds)
                if self.idle_until is None or until < self.idle_until:
                    self.idle_until = until

    def start(
        self,
        method: bytes,
        head: bytes,
        read_timeout: float | None,
        limit: int | None,
        *,
        body_follows: bool = False,
        close: bool = False,
    ) -> Exchange:
        """Send a request whose body is in ``head`` (or absent) and return its exchange.

        ``body_follows``: the body is streamed next by :meth:`send_body`, so
        the request is not whole yet (rule 2). ``close``: the request says
        ``Connection: close`` (see :func:`asks_close`), its connection's last
        (rule 2a).
        """
        exchange = Exchange(self, read_timeout, limit)
        self.exchange = exchange
        self.served += 1
        if close:
            self.reusable = False
        self.parser.start(method)
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            self._lost(exchange)
            return exchange
        transport.write(head)
        exchange.sent = not body_follows
        exchange.start_timer()
        return exchange

    async def wait_sent(self, exchange: Exchange, write_timeout: float | None) -> None:
        """Wait until the transport takes the rest of a request written whole (rule 4a).

        Returns once the transport drained, or the response started (or
        failed): the server answered without reading all of it, and the
        connection is then not reused unless it drained after all.

        Raises:
            WriteTimeout: no progress at all for ``write_timeout`` (the
                connection is aborted: half a request is on the wire).

        """
        transport = self.transport
        assert transport is not None
        loop = self.loop
        try:
            while (
                self.write_paused
                and not self.closed
                and exchange.head is None
                and exchange.error is None
            ):
                backlog = transport.get_write_buffer_size()
                # One future woken by either side: the transport drains, or data arrives.
                waiter = self.drain_waiter = exchange.waiter = loop.create_future()
                try:
                    await wait_write(waiter, write_timeout)
                except WriteTimeout:
                    if transport.get_write_buffer_size() < backlog:
                        continue  # slow but moving: another period
                    raise
                finally:
                    self.drain_waiter = exchange.waiter = None
        except BaseException:
            self.abort()  # half a request on the wire: the connection is done for
            raise

    async def send_body(
        self,
        exchange: Exchange,
        body: AsyncIterable[bytes],
        write_timeout: float | None,
        length: int | None = None,
    ) -> None:
        """Stream a request body (chunked, or ``length`` bytes), waiting for the transport to drain.

        A stream longer or shorter than the ``length`` its head declared
        aborts the connection (half a request is never left looking whole)
        and raises ``LocalProtocolError``.

        Any exception on the way (a timeout, cancellation, the iterator
        raising) aborts the connection, and so does stopping early because
        the server already answered: the request is not whole (rule 2).
        """
        transport = self.transport
        assert transport is not None
        chunks = aiter(body)
        try:
            writer = hp.BodyWriter(length)
            async for chunk in chunks:
                check_chunk(chunk)
                if exchange.done or exchange.error is not None or self.closed:
                    break  # the server answered (or failed) already: stop sending
                if chunk:
                    transport.write(writer.write(bytes(chunk)))
                    await self.drain(write_timeout)
            else:
                if exchange.error is None and not self.closed:
                    transport.write(writer.end())
                    exchange.sent = True
                    await self.drain(write_timeout)
        except hp.LocalProtocolError as exc:
            self.abort()
            raise LocalProtocolError(f"the request body does not match its head: {exc}") from exc
        except BaseException:
            self.abort()  # half a request on the wire: the connection is done for
            raise
        finally:
            await close_iterator(chunks)  # stopped early: files it opened close now

    def finish(self, exchange: object = None) -> bool:
        """End the exchange (body read or abandoned); return whether to pool the connection.

        A reader of it still waiting (another task) fails with ``StreamClosed``
        now: once detached, neither the loss of the connection nor the read
        timer would find it (rule 6).
        """
        exchange = self.exchange
        self.exchange = None
        if exchange is None:
            return False
        reusable = (
            exchange.done
            and exchange.error is None
            and exchange.sent  # rule 2: the whole request went out...
            and not self.write_paused  # ...and the server is taking it
            and not exchange.paused  # rule 1: never pooled with reading paused
            and self.reusable
            and not self.closed
            and self.parser.state is hp.ParserState.DONE
        )
        if not reusable:
            exchange.closed_early()
            self.reusable = False
            self.abort()  # unread or broken: nothing of it may reach the next request
        return reusable
