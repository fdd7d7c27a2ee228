"""HTTP/1.1 over an asyncio BufferedProtocol: reads land in reused buffers, the parser frames them.

Strategy
--------
One :class:`HTTP11Connection` per TCP (or TLS) connection, one request at a
time (the pool gives it capacity 1). No stream readers and no per-request
tasks: each read is fed to hyperhttp-parser and each event handed to the
current :class:`Exchange`, which buffers body bytes and wakes the one task
waiting on it. Waiting costs one future. The read timeout is one timer per
*connection*, armed lazily: data and new requests only stamp the time, and
the timer, when it fires, re-arms itself for the current deadline. A busy
connection thus arms about one timer per read-timeout period, not one per
request, and never cancels one on the hot path.

Reading (the protocol is an ``asyncio.BufferedProtocol`` on both loops):

- The transport reads into one buffer per *thread* (``READ_BUFFER`` bytes,
  shared by every connection of the loop: ``get_buffer`` and
  ``buffer_updated`` come in pairs, synchronously), and the parser copies
  what it keeps out of it. An idle connection holds no read buffer at all,
  and no read allocates a fresh one (a fresh ``bytes`` of 128 KiB or more is
  an mmap and an munmap per read, page faults for every 4 KiB of it).
- A body not streamed (read whole, ``read_all``) with a plain Content-Length of
  ``DIRECT_MIN`` to ``DIRECT_MAX`` bytes, within the response size limit,
  that does not come whole with its head is read *directly* into a target
  buffer of exactly its size, taken from a per-thread free list (bounded by
  ``FREE_MAX`` bytes): ``get_buffer`` hands out the unfilled rest of it, so
  the kernel copies the body where it goes. When
  the head came with body bytes enough (``DIRECT_MIN``), the read is fed to
  the parser up to the head's end only, so the target holds the whole body.
  Its last ``TAIL`` bytes are read into the shared buffer instead, with
  whatever came after them in that read (bytes past the response make the
  connection unusable, rule 2, as when the body came in that read whole).
  Once full, the target is fed to the parser in one piece: the parser stays
  the framing authority (it sees every byte, decides the end and reuse)
  and its one copy is the body's ``bytes`` itself, returned as is. A body
  thus costs one allocation, the one the caller keeps; the first direct
  read raises glibc's mmap threshold once (``_ready_allocator``), so that
  allocation comes from the heap instead of fresh pages each time.
- A stream (``iter_raw``) leaves direct reading at once (what the target
  holds is fed to the parser) and is read piece by piece with backpressure.

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

import asyncio
import threading
from typing import TYPE_CHECKING

import hyperhttp_parser as hp

from ._batch import BATCH_MAX, batch_for
from ._conn import (
    BodyBuffer,
    ConnectionBase,
    StaleConnection,
    check_chunk,
    close_iterator,
    wait_write,
)
from ._exceptions import (
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    WriteTimeout,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

    from ._config import Timeout
    from ._encode import RequestEncoder
    from ._models import Request

__all__ = [
    "Exchange",
    "HTTP11Connection",
    "StaleConnection",
    "asks_close",
    "request_asks_close",
]

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
#: The per-thread read buffer (asyncio's own reads are this size).
READ_BUFFER = 256 * 1024
#: Bodies read straight into a buffer of their size (see the module docstring).
DIRECT_MIN = 64 * 1024
DIRECT_MAX = 8 * 1024 * 1024
#: Bytes of direct-read buffers kept per thread for reuse, and the largest kept.
FREE_MAX = 8 * 1024 * 1024
#: The last bytes of a direct body are read into the shared buffer, with
#: whatever follows them in the same read (bytes past a response: rule 2).
TAIL = 16 * 1024
#: The block freed once to raise glibc's mmap threshold (``_ready_allocator``).
ALLOCATOR_BLOCK = 16 * 1024 * 1024

_HEAD = hp.ParserState.HEAD
_BODY = hp.ParserState.BODY
_DONE = hp.ParserState.DONE

_ResponseHead = hp.ResponseHead
_Data = hp.Data
_EndOfMessage = hp.EndOfMessage


def _last_head(events: list[hp.Event]) -> hp.ResponseHead | None:
    for event in reversed(events):
        if type(event) is _ResponseHead:
            return event
    return None


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


def request_asks_close(request: Request) -> bool:
    """Whether the request's own fields say ``Connection: close`` (RFC 9112 §9.6)."""
    own = request._headers
    return own is not None and bool(own._list) and asks_close(own._list)


class _Buffers(threading.local):
    """The read buffer and the free direct-read buffers of this thread (its event loop)."""

    def __init__(self) -> None:
        self.read = bytearray(READ_BUFFER)
        self.read_view = memoryview(self.read)
        self.free: list[bytearray] = []
        self.free_bytes = 0

    def take(self, size: int) -> bytearray:
        """Return a buffer of ``size`` to ``2 * size`` bytes, a free one when there is one."""
        free = self.free
        for index in range(len(free) - 1, -1, -1):
            buffer = free[index]
            if size <= len(buffer) <= 2 * size:
                del free[index]
                self.free_bytes -= len(buffer)
                return buffer
        if not _allocator_ready:
            _ready_allocator()
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        """Keep ``buffer`` for reuse while the free ones stay within ``FREE_MAX`` bytes."""
        if self.free_bytes + len(buffer) <= FREE_MAX:
            self.free.append(buffer)
            self.free_bytes += len(buffer)


_buffers = _Buffers()
_allocator_ready = False


def _ready_allocator() -> None:
    """Let glibc keep bodies up to ``ALLOCATOR_BLOCK`` bytes on its heap (once per process).

    glibc serves a block of 128 KiB or more with its own mmap, and gives the
    top of its heap back to the system once 128 KiB of it is free: below
    these thresholds a 1 MiB body costs 256 page faults (and the munmap or
    brk calls) each time, whatever buffers we reuse, since the caller's
    ``bytes`` is new. Its documented dynamic threshold (mallopt(3),
    M_MMAP_THRESHOLD) rises to the size of a mapped block freed: one block
    of ``ALLOCATOR_BLOCK`` bytes, mapped and freed untouched (``bytes(n)``
    asks calloc, which trusts fresh pages to be zero), makes the heap serve
    such bodies, and keeps up to twice that much free heap before trimming
    it (measured at 1 MiB, c = 64: 8 MiB left uvloop at ~140 faults per
    request, 16 MiB at ~1; 32 MiB, glibc's cap, is past it). Elsewhere it is
    one mmap and munmap, once.
    """
    global _allocator_ready
    _allocator_ready = True
    bytes(ALLOCATOR_BLOCK)  # mapped, and freed at once


def _plain_length(headers: list[tuple[bytes, bytes]]) -> int:
    """Return the length a head with one digits-only Content-Length and no Transfer-Encoding gives.

    -1 for any other head. Only a hint for sizing a direct read: the parser
    frames the body whatever this says.
    """
    length = -1
    for name, value in headers:
        if name == b"content-length":
            if length >= 0 or not value.isdigit() or len(value) >= 19:
                return -1
            length = int(value)
        elif name == b"transfer-encoding":
            return -1
    return length


class Exchange(BodyBuffer):
    """One request/response on a connection: the response head, then its body."""

    __slots__ = (
        "conn",
        "counted",
        "keep_alive",
        "length",
        "paused",
        "received_bytes",
        "sent",
        "unsent",
    )

    def __init__(
        self, conn: HTTP11Connection, read_timeout: float | None, limit: int | None
    ) -> None:
        super().__init__(conn.loop, read_timeout, limit)
        self.conn = conn
        self.received_bytes = 0  # bytes of any kind (head included)
        self.keep_alive = False
        self.paused = False
        self.sent = False  # the whole request was handed to the transport (rule 2)
        self.unsent: bytes | None = None  # queued in the loop's WriteBatch, not written yet
        self.counted = False  # in the loop's WriteBatch.busy (until finish or the loss)
        self.length = -2  # the plain Content-Length, once looked up (-1: none)

    async def send_rest(self, request: Request, timeouts: Timeout) -> None:
        """Send what of the request's body did not go with its head (see ``body_left``)."""
        await self.conn.send_rest(self, request, timeouts)

    def direct_size(self) -> int:
        """Bytes of body still to come, when they may be read directly (else 0).

        For a body of a plain Content-Length, from ``DIRECT_MIN`` to
        ``DIRECT_MAX`` bytes and within the size limit, not streamed.
        """
        length = self.length
        if length == -2:
            head = self.head
            if head is None:
                return 0
            length = self.length = _plain_length(head.headers)
        if (
            length < DIRECT_MIN
            or length > DIRECT_MAX
            or self.streaming
            or self.done
            or self.error is not None
            or (self.limit is not None and length > self.limit)
        ):
            return 0
        return length - self.received

    def send_queued(self) -> None:
        """Write the request queued for this turn (``_batch``), if it is still wanted.

        Not when the exchange ended first (cancelled, failed), nor once any
        byte of an answer came (a server that did not wait for it would read
        it as a new request, and its answer would reach the next one): the
        connection is not reused (``sent`` stays false) and the bytes never
        reach it.
        """
        data = self.unsent
        self.unsent = None
        conn = self.conn
        if (
            data is None
            or conn.exchange is not self
            or self.received_bytes  # (an exchange done has received bytes)
            or self.error is not None
        ):
            return
        transport = conn.transport
        if conn.closed or transport is None or transport.is_closing():
            return  # connection_lost fails the exchange
        try:
            transport.write(data)
        except Exception as exc:  # uvloop raises on a handle closed under us
            error = RemoteProtocolError("the connection failed while sending the request")
            error.__cause__ = exc
            self.fail(error)
            conn.abort()
            return
        self.sent = True

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
        if self.conn.exchange is self:
            self.conn.leave_direct()  # a stream is read piece by piece
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


class HTTP11Connection(ConnectionBase, asyncio.BufferedProtocol):
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
        self.buffers = _buffers  # this thread's: the loop calls us from it
        self.batch = batch_for(loop)  # small requests are written at the turn's end
        # Direct reading (module docstring): the target, its unfilled rest
        # (what get_buffer hands out), and the bytes read into it.
        self.direct: bytearray | None = None
        self.direct_view: memoryview | None = None
        self.direct_rest: memoryview | None = None
        self.filled = 0

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
        self._drop_direct()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self._cancel_timer()
        self._drop_direct()
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

    def get_buffer(self, sizehint: int) -> memoryview:
        rest = self.direct_rest
        return self.buffers.read_view if rest is None else rest

    def buffer_updated(self, nbytes: int) -> None:
        if self.direct_rest is not None:
            self._direct_received(nbytes)
        else:
            self._received(self.buffers.read_view[:nbytes], True)

    def data_received(self, data: bytes | memoryview) -> None:
        """Take bytes read elsewhere (the transport calls the buffered methods instead)."""
        self.leave_direct()  # (never reading directly here: keep the order anyway)
        self._received(data, False)

    def _received(self, data: bytes | memoryview, shared: bool) -> None:
        if self.direct is not None:
            self._direct_tail(data)
            return
        exchange = self.exchange
        if exchange is None or exchange.done:  # bytes nobody asked for (rule 2)
            self.reusable = False
            self.abort()
            return
        size = len(data)
        exchange.received_bytes += size
        if exchange.read_timeout is not None:
            exchange.last_data = self.loop.time()
        parser = self.parser
        try:
            if shared and size >= DIRECT_MIN and parser.state is _HEAD:
                events = self._feed_head(exchange, data)
            else:
                events = parser.feed(data)
        except hp.RemoteProtocolError as exc:
            exchange.fail(RemoteProtocolError(str(exc)))
            self.abort()
            return
        if events:
            exchange.on_events(events)
        if shared and self.direct is None and parser.state is _BODY and not self.closed:
            size = exchange.direct_size()
            if size >= DIRECT_MIN:  # a large body under way: read the rest of it directly
                self._start_direct(size, data[:0])

    def _feed_head(self, exchange: Exchange, data: bytes | memoryview) -> list[hp.Event]:
        """Feed a large read up to the end of the head; read a large body in it directly.

        Feeding the parser in two pieces is the same as in one; split at the
        head's end, the body's first bytes can go to the target, which then
        holds the whole body (no second piece to join).
        """
        parser = self.parser
        read = self.buffers.read
        size = len(data)
        events: list[hp.Event] = []
        pos = 0
        while parser.state is _HEAD:
            end = read.find(b"\r\n\r\n", pos, size)
            if end < 0:
                break
            events += parser.feed(data[pos : end + 4])
            pos = end + 4
        head = _last_head(events)
        if parser.state is _BODY and head is not None and type(events[-1]) is _ResponseHead:
            # The head just ended here, no body byte fed yet.
            exchange.length = _plain_length(head.headers)
            body = exchange.direct_size()
            if body > size - pos:  # the body goes on beyond this read
                self._start_direct(body, data[pos:])
                return events
        if pos < size:
            events += parser.feed(data[pos:])
        return events

    # ------------------------------------------------------------ direct reading

    def _start_direct(self, size: int, first: memoryview | bytes) -> None:
        """Read the next ``size`` body bytes into a buffer of that size, ``first`` first."""
        buffer = self.buffers.take(size)
        view = self.direct_view = memoryview(buffer)[:size]
        self.direct = buffer
        filled = self.filled = len(first)
        if filled:
            view[:filled] = first
        self._next_rest()

    def _next_rest(self) -> None:
        """Hand the target out up to its last ``TAIL`` bytes, then the shared buffer."""
        view = self.direct_view
        assert view is not None
        end = len(view) - TAIL
        self.direct_rest = view[self.filled : end] if self.filled < end else None

    def _direct_received(self, nbytes: int) -> None:
        exchange = self.exchange
        if exchange is None:  # pragma: no cover - direct reading ends with the exchange
            self._drop_direct()
            return
        exchange.received_bytes += nbytes
        if exchange.read_timeout is not None:
            exchange.last_data = self.loop.time()
        self.filled += nbytes
        self._next_rest()

    def _direct_tail(self, data: bytes | memoryview) -> None:
        """Take the end of a direct body from a read that may hold more."""
        exchange = self.exchange
        view = self.direct_view
        assert exchange is not None
        assert view is not None
        size = len(data)
        exchange.received_bytes += size
        if exchange.read_timeout is not None:
            exchange.last_data = self.loop.time()
        filled = self.filled
        take = min(size, len(view) - filled)
        view[filled : filled + take] = data[:take]
        self.filled = filled + take
        if self.filled == len(view):
            if take < size:  # bytes beyond the response, in the same read (rule 2)
                self.reusable = False
            self.leave_direct()

    def leave_direct(self) -> None:
        """Hand what the target holds to the parser (it frames it) and read normally again."""
        view = self.direct_view
        if view is None:
            return
        filled = self.filled
        exchange = self.exchange
        try:
            events = self.parser.feed(view[:filled]) if filled and exchange is not None else []
        except hp.RemoteProtocolError as exc:
            self._drop_direct()
            assert exchange is not None
            exchange.fail(RemoteProtocolError(str(exc)))
            self.abort()
            return
        self._drop_direct()  # the parser copied what it keeps
        if events and exchange is not None:
            exchange.on_events(events)

    def _drop_direct(self) -> None:
        buffer = self.direct
        if buffer is not None:
            self.direct = self.direct_view = self.direct_rest = None
            self.filled = 0
            self.buffers.give(buffer)

    def eof_received(self) -> bool:
        self.leave_direct()  # the body read so far, for the parser to judge the end
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
        self._drop_direct()
        exchange = self.exchange
        if exchange is not None:
            self._uncount(exchange)  # (a response never closed would stay counted)
            if not exchange.done:
                self._lost(exchange, exc)

    def _uncount(self, exchange: Exchange) -> None:
        """Take ``exchange`` out of the loop's count of exchanges under way, once."""
        if exchange.counted:
            exchange.counted = False
            self.batch.busy -= 1

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

    def start_request(
        self, request: Request, encoder: RequestEncoder, timeouts: Timeout, limit: int | None
    ) -> Exchange:
        """Send ``request``'s head (and a body in memory) and return its exchange.

        The connection interface both protocols share (``_conn.py``). The head
        comes from the encoder, checked: if that raises, nothing was sent and
        the connection is untouched. ``exchange.body_left``: a stream follows,
        or the transport has not taken the body yet (see :meth:`send_rest`).
        """
        if self.forward:  # to a forward proxy: absolute-form
            head = encoder.proxy_head(request, self.proxy_auth)
        else:
            head = encoder.http11_head(request)
        body = request.content
        follows = request.stream is not None
        exchange = self.start(
            request.method.encode("ascii"),
            head + body if body else head,
            timeouts.read,
            limit,
            follows,
            encoder.close_all or request_asks_close(request),
        )
        exchange.body_left = follows or self.write_paused
        return exchange

    async def send_rest(self, exchange: Exchange, request: Request, timeouts: Timeout) -> None:
        """Send what of the body did not go out with the head (a stream, or bytes held back)."""
        if request.stream is not None:
            await self.send_body(exchange, request.stream, timeouts.write, request.stream_length)
        elif self.write_paused:  # an in-memory body the transport could not take at once
            await self.wait_sent(exchange, timeouts.write)

    def start(
        self,
        method: bytes,
        head: bytes,
        read_timeout: float | None,
        limit: int | None,
        body_follows: bool = False,
        close: bool = False,
    ) -> Exchange:
        """Send a request whose body is in ``head`` (or absent) and return its exchange.

        ``body_follows``: the body is streamed next by :meth:`send_body`, so
        the request is not whole yet (rule 2). ``close``: the request says
        ``Connection: close`` (see :func:`asks_close`), its connection's last
        (rule 2a). On a busy loop, a request whole in ``head`` and at most
        ``BATCH_MAX`` bytes that is not its turn's first is written at the end
        of the turn, with the turn's others (``_batch``); it counts as sent
        once written.
        """
        exchange = Exchange(self, read_timeout, limit)
        self.exchange = exchange
        exchange.counted = True  # under way until finish() or the connection's loss
        self.batch.busy += 1
        self.served += 1
        if close:
            self.reusable = False
        self.parser.start(method)
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            self._lost(exchange)
            return exchange
        batch = self.batch
        if (
            body_follows
            or len(head) > BATCH_MAX
            or batch.at_once(self.loop)
            or transport.get_write_buffer_size()  # rule 4a: the caller must see it pause
        ):
            transport.write(head)
            exchange.sent = not body_follows
        else:  # written with the turn's other requests (_batch); sent once written
            exchange.unsent = head
            batch.add(exchange)
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
        self._drop_direct()  # (reading directly means the body is not whole yet)
        self.exchange = None
        if exchange is None:
            return False
        self._uncount(exchange)
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
