"""The load generator's HTTP/2 connection: many streams, one prebuilt header block.

Strategy
--------
The client's ``HTTP2Connection`` keeps h2's state machines per stream,
which a load generator cannot afford at 100 000 streams a second in
Python. This connection speaks the subset of RFC 9113 a client needs,
with the client's own pieces for what is hard to get right: the frame
layout (``_http2.frames``), the HPACK decoder with its block memo and
bounds (``_http2.hpack_codec``), and the response field checks
(``_http2.fields.check_fields``: ``:status``, field names and values,
Content-Length, connection-specific fields).

- The request's header block is encoded once (the client's encoder never
  uses the dynamic table, so the block is the same on every stream); a
  request is a 9-octet frame header plus that block.
- Everything a read makes us send (new streams' HEADERS, WINDOW_UPDATE,
  SETTINGS and PING acknowledgements) is written once, at the end of the
  read: with ``--streams`` 100, one TLS record carries dozens of requests.
- Receive windows are large (1 GiB per stream, 2**31 - 1 for the
  connection) and returned once half is used, so a body never waits for a
  round trip. Request bodies (``--data``) respect the server's windows and
  SETTINGS_MAX_FRAME_SIZE, and wait for WINDOW_UPDATE.

Rules (errors are the client's: a malformed response is never counted as one)
-----
1. The server's first frame must be SETTINGS (RFC 9113 §3.4); the
   connection is usable (and measured) only after it.
2. Connection errors (RFC 9113 §5.4.1) end the connection with GOAWAY:
   a frame over our SETTINGS_MAX_FRAME_SIZE, HEADERS or DATA on a stream we
   never opened, anything but CONTINUATION inside a header block, a header
   block over 64 KiB, a PUSH_PROMISE (push is disabled), an HPACK error,
   a bad SETTINGS, PING, GOAWAY, RST_STREAM or WINDOW_UPDATE. Every stream
   in flight fails (``protocol``).
3. Stream errors reset the stream and fail its request (``protocol``): a
   malformed head (``check_fields``), DATA before the head, a body on a
   HEAD/204/304 response, a body whose length differs from its
   Content-Length.
4. RST_STREAM(REFUSED_STREAM), and GOAWAY for streams above its last
   stream id, mean the server did not process the request: it goes again,
   with its intended start time. Any other RST_STREAM fails the request
   (``h2 reset NAME``).
5. GOAWAY: no new stream; the streams at or below its last id complete;
   then the connection closes and the engine opens another (nginx does
   this every ``keepalive_requests`` requests). So does running out of
   stream ids.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import TYPE_CHECKING

from hpack.exceptions import HPACKError

from hyperhttp._exceptions import RemoteProtocolError
from hyperhttp._http2.fields import CONTENT_LENGTH, MAX_HEADER_LIST_SIZE, OVERSIZED, check_fields
from hyperhttp._http2.frames import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    HEADERS,
    MAX_FRAME_SIZE,
    PADDED,
    PRIORITY,
    PUSH_PROMISE,
    frame_head,
    window_update,
)
from hyperhttp._http2.hpack_codec import Decoder

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["H2Connection", "H2Error"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
STREAM_WINDOW = 1 << 30  # our SETTINGS_INITIAL_WINDOW_SIZE
CONNECTION_WINDOW = (1 << 31) - 1
MAX_STREAM_ID = (1 << 31) - 1
_PRIORITY_FRAME = 0x2
_RST_STREAM = 0x3
_SETTINGS = 0x4
_PING = 0x6
_GOAWAY = 0x7
_WINDOW_UPDATE = 0x8
_ACK = 0x1
_REFUSED_STREAM = 0x7
_CANCEL = 0x8
# RFC 9113 §7 error codes, for the report.
ERROR_NAMES = (
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
)
_pack = struct.pack
_now = time.perf_counter_ns

# A stream is a list (cheaper to make than an object, 100 000 times a second):
_INTENDED = 0  # intended start, ns
_SENT_AT = 1  # actual send, ns
_STATUS = 2  # final status, 0 until the head came
_LENGTH = 3  # declared Content-Length, -1 for none
_GOT = 4  # body bytes received
_UNACKED = 5  # body bytes not yet returned to the stream's window
_BODY_AT = 6  # request body bytes sent
_WINDOW = 7  # the server's window for this stream (request bodies)

_OUR_SETTINGS = _pack(
    ">HIHIHIHI",
    0x2,  # SETTINGS_ENABLE_PUSH
    0,
    0x4,  # SETTINGS_INITIAL_WINDOW_SIZE
    STREAM_WINDOW,
    0x5,  # SETTINGS_MAX_FRAME_SIZE
    MAX_FRAME_SIZE,
    0x6,  # SETTINGS_MAX_HEADER_LIST_SIZE
    MAX_HEADER_LIST_SIZE,
)
_SETTINGS_ACK = _pack(">IBI", _SETTINGS, _ACK, 0)


def error_name(code: int) -> str:
    """Return an RFC 9113 error code's name (or its number)."""
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else f"0x{code:x}"


class H2Error(Exception):
    """The connection could not start HTTP/2 (ALPN, or no SETTINGS from the server)."""


class _ConnectionError(Exception):
    """A connection error (rule 2): its code and what broke."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _decoder() -> Decoder:
    decoder = Decoder(
        rename={b"content-length": CONTENT_LENGTH, CONTENT_LENGTH: b"\x00"},
        oversized=(OVERSIZED, b""),
    )
    decoder.max_header_list_size = MAX_HEADER_LIST_SIZE
    return decoder


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection of the load generator (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sched = engine.sched
        self.stats = stats = engine.stats
        self.record = stats.latency.record
        self.statuses = stats.statuses
        self.first_block, self.block = engine.blocks
        body = engine.plan.body
        self.body = body or None  # an empty body: content-length 0 and END_STREAM on HEADERS
        self.bodyless = engine.plan.method == "HEAD"
        self.wanted = engine.plan.streams
        self.capacity = self.wanted  # streams we may open: min(--streams, the server's limit)
        self.decoder = _decoder()
        self.good: set[tuple[bytes, bytes]] = set()  # fields already checked (check_fields)
        # The last response head that passed check_fields, and what it gave: a
        # server sends the same head again and again (nginx: until its Date changes).
        self.last_fields: list[tuple[bytes, bytes]] | None = None
        self.last_head: tuple[int, int | None] = (0, None)
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self.ready = False  # the server's SETTINGS came (rule 1)
        self.parked = False
        self.goaway = False
        self.streams: dict[int, list[int]] = {}
        self.next_id = 1
        self.out: list[bytes] = []
        self.buf = b""
        self.in_read = False
        # A header block waiting for CONTINUATION: stream, flags, pieces, size.
        self.block_stream = 0
        self.block_flags = 0
        self.block_parts: list[bytes] | None = None
        self.block_size = 0
        self.unacked = 0  # connection-level bytes received, not yet returned
        self.send_window = 65535  # the server's connection window (request bodies)
        self.initial_window = 65535  # the server's SETTINGS_INITIAL_WINDOW_SIZE
        self.max_frame = 16384  # the server's SETTINGS_MAX_FRAME_SIZE
        self.blocked: list[int] = []  # streams whose body waits for the server's windows
        self.settled_future: asyncio.Future[None] = engine.loop.create_future()

    async def settled(self) -> None:
        """Wait for the server's SETTINGS (rule 1).

        Raises:
            H2Error: ALPN did not pick h2, or the connection ended first.

        """
        await self.settled_future

    # ------------------------------------------------------------ the engine's side

    def fill(self, now: int) -> None:
        """Open as many streams as the scheduler allows and the connection can carry."""
        if not self.alive or not self.ready or self.goaway:
            return
        streams = self.streams
        capacity = self.capacity
        take = self.sched.take
        out = self.out
        block = self.block
        body = self.body
        flags = END_HEADERS if body is not None else END_HEADERS | END_STREAM
        head = (len(block) << 8) | HEADERS
        while len(streams) < capacity:
            stream_id = self.next_id
            if stream_id > MAX_STREAM_ID:  # out of stream ids: drain, then a new connection
                self.goaway = True
                if not streams:
                    self.close()
                break
            intended = take(self, now)
            if intended < 0:
                break
            self.next_id = stream_id + 2
            stream = [intended, now, 0, -1, 0, 0, 0, self.initial_window]
            streams[stream_id] = stream
            if stream_id == 1:
                first = self.first_block
                out.append(_pack(">IBI", (len(first) << 8) | HEADERS, flags, 1))
                out.append(first)
            else:
                out.append(_pack(">IBI", head, flags, stream_id))
                out.append(block)
            if body is not None:
                self._send_body(stream_id, stream)
        if not self.in_read:
            self.flush()

    def expire(self, now: int, limit: int) -> None:
        """Reset and fail the streams in flight for ``limit`` ns or more."""
        for stream_id, stream in list(self.streams.items()):
            if now - stream[_SENT_AT] >= limit:
                self._stream_error(stream_id, _CANCEL, "timeout")
        if not self.in_read:
            self.flush()

    def close(self, *, abort: bool = False) -> None:
        """Close the connection (the engine hears of it through ``connection_lost``)."""
        self.alive = False
        transport = self.transport
        if transport is None:
            return
        if abort:  # (also one closing gracefully, a TLS shutdown under way: the run is over)
            transport.abort()
        elif not transport.is_closing():
            self.out.append(_pack(">IBIII", (8 << 8) | _GOAWAY, 0, 0, 0, 0))
            self.flush()
            transport.close()

    def settle(self) -> None:
        """Add the connection's own counters to the engine's figures (none: counted as they go)."""

    def flush(self) -> None:
        """Write what the connection owes the server, in one write."""
        out = self.out
        if out and self.transport is not None:
            data = b"".join(out)
            out.clear()
            self.transport.write(data)
            self.stats.sent += len(data)

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.engine.open.add(self)  # (the end of the run waits for its connection_lost)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
            alpn = ssl_object.selected_alpn_protocol()
            self.settled_future.set_exception(
                H2Error(f"the server did not agree to HTTP/2 (ALPN: {alpn or 'none'})")
            )
            transport.abort()  # type: ignore[attr-defined]  # a Transport, not its base
            return
        self.alive = True
        increment = CONNECTION_WINDOW - 65535
        self.out.append(PREFACE)
        self.out.append(_pack(">IBI", (len(_OUR_SETTINGS) << 8) | _SETTINGS, 0, 0))
        self.out.append(_OUR_SETTINGS)
        self.out.append(window_update(0, increment))
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        sched, stats = self.sched, self.stats
        if sched.running:  # (not a connection the engine closed at the end)
            for _ in range(len(self.streams)):
                stats.error("closed")
                sched.ended()
        self.streams.clear()
        settled = self.settled_future
        if not settled.done():
            settled.set_exception(H2Error("the connection closed before the server's SETTINGS"))
            settled.exception()  # (retrieved: a connect cancelled at the end never awaits it)
        self.engine.lost(self)  # (kept or not: Engine.open forgets it, Engine.conns if kept)

    def data_received(self, data: bytes) -> None:
        self.stats.received += len(data)
        now = _now()  # every response this read completes arrived now
        buf = self.buf + data if self.buf else data
        pos = 0
        end = len(buf)
        self.in_read = True
        try:
            while end - pos >= 9:
                head, flags, stream_id = frame_head(buf, pos)
                length = head >> 8
                if length > MAX_FRAME_SIZE:
                    raise _ConnectionError(6, f"a frame of {length} bytes")
                frame_end = pos + 9 + length
                if frame_end > end:
                    break
                kind = head & 0xFF
                stream_id &= MAX_STREAM_ID
                if self.block_parts is not None and kind != CONTINUATION:
                    raise _ConnectionError(1, "a frame inside a header block (RFC 9113 §6.10)")
                if kind == DATA:
                    self._data(buf, pos + 9, frame_end, flags, stream_id, now)
                elif kind == HEADERS:
                    self._headers(buf, pos + 9, frame_end, flags, stream_id, now)
                else:
                    self._other(kind, buf, pos + 9, frame_end, flags, stream_id, now)
                pos = frame_end
        except _ConnectionError as exc:
            self.in_read = False
            self._connection_error(exc.code, str(exc))
            return
        self.in_read = False
        self.buf = buf[pos:] if pos < end else b""
        if self.alive:
            if self.goaway and not self.streams:
                self.close()
            else:
                self.fill(now)  # (flushes)

    # ------------------------------------------------------------ frames

    def _data(self, buf: bytes, start: int, end: int, flags: int, stream_id: int, now: int) -> None:
        if not self.ready:
            raise _ConnectionError(1, "DATA before the server's SETTINGS (RFC 9113 §3.4)")
        length = end - start
        if flags & PADDED:
            if not length or buf[start] >= length:
                raise _ConnectionError(1, "DATA padding longer than the frame")
            length -= 1 + buf[start]
        self.unacked += end - start  # flow control counts the padding (RFC 9113 §6.9.1)
        if self.unacked >= CONNECTION_WINDOW // 2:
            self.out.append(window_update(0, self.unacked))
            self.unacked = 0
        stream = self.streams.get(stream_id)
        if stream is None:
            if stream_id == 0 or stream_id >= self.next_id or not stream_id & 1:
                raise _ConnectionError(1, f"DATA on stream {stream_id}, never opened")
            return  # a stream we reset: its frames in flight are dropped
        if not stream[_STATUS]:
            self._stream_error(stream_id, 1, "protocol")  # DATA before the final head (rule 3)
            return
        stream[_GOT] += length
        if flags & END_STREAM:
            self._end(stream_id, stream, now)
            return
        stream[_UNACKED] += end - start
        if stream[_UNACKED] >= STREAM_WINDOW // 2:
            self.out.append(window_update(stream_id, stream[_UNACKED]))
            stream[_UNACKED] = 0

    def _headers(
        self, buf: bytes, start: int, end: int, flags: int, stream_id: int, now: int
    ) -> None:
        if not self.ready:
            raise _ConnectionError(1, "HEADERS before the server's SETTINGS (RFC 9113 §3.4)")
        if stream_id == 0 or not stream_id & 1 or stream_id >= self.next_id:
            raise _ConnectionError(1, f"HEADERS on stream {stream_id}, never opened (§5.1.1)")
        if flags & PADDED:
            if start >= end or buf[start] >= end - start:
                raise _ConnectionError(1, "HEADERS padding longer than the frame")
            end -= buf[start]
            start += 1
        if flags & PRIORITY:
            start += 5
            if start > end:
                raise _ConnectionError(6, "HEADERS too short for its priority")
        fragment = buf[start:end]
        if flags & END_HEADERS:
            self._head(stream_id, flags, fragment, now)
        else:
            self.block_stream = stream_id
            self.block_flags = flags
            self.block_parts = [fragment]
            self.block_size = len(fragment)

    def _continuation(
        self, buf: bytes, start: int, end: int, flags: int, stream_id: int, now: int
    ) -> None:
        parts = self.block_parts
        if parts is None or stream_id != self.block_stream:
            raise _ConnectionError(1, "CONTINUATION outside its header block (RFC 9113 §6.10)")
        parts.append(buf[start:end])
        self.block_size += end - start
        if self.block_size > MAX_HEADER_LIST_SIZE:
            raise _ConnectionError(11, f"a header block over {MAX_HEADER_LIST_SIZE} bytes")
        if flags & END_HEADERS:
            self.block_parts = None
            self._head(stream_id, self.block_flags, b"".join(parts), now)

    def _head(self, stream_id: int, flags: int, block: bytes, now: int) -> None:
        try:
            fields = self.decoder.decode(block)  # always: the HPACK state must follow
        except HPACKError as exc:
            raise _ConnectionError(9, f"HPACK: {exc}") from None
        stream = self.streams.get(stream_id)
        if stream is None:
            return  # a stream we reset
        head = not stream[_STATUS]
        if head and fields == self.last_fields:  # the same head as the last: checked already
            status, length = self.last_head
        else:
            try:
                status, _, length = check_fields(fields, head=head, good=self.good)
            except RemoteProtocolError:
                self._stream_error(stream_id, 1, "protocol")
                return
            if head:
                self.last_fields = fields
                self.last_head = (status, length)
        if head:
            if status < 200:  # informational (RFC 9110 §15.2): the final head follows
                if flags & END_STREAM:
                    self._stream_error(stream_id, 1, "protocol")
                return
            stream[_STATUS] = status
            stream[_LENGTH] = -1 if length is None else length
        elif not flags & END_STREAM:  # trailers end the stream
            self._stream_error(stream_id, 1, "protocol")
            return
        if flags & END_STREAM:
            self._end(stream_id, stream, now)

    def _other(
        self, kind: int, buf: bytes, start: int, end: int, flags: int, stream_id: int, now: int
    ) -> None:
        length = end - start
        if kind == _SETTINGS:
            if stream_id:
                raise _ConnectionError(1, "SETTINGS on a stream")
            if flags & _ACK:
                if length:
                    raise _ConnectionError(6, "SETTINGS ACK with a payload")
                return
            if length % 6:
                raise _ConnectionError(6, "SETTINGS of a length not a multiple of 6")
            self._settings(buf, start, end)
            self.out.append(_SETTINGS_ACK)
            if not self.ready:
                self.ready = True
                self.settled_future.set_result(None)
            return
        if not self.ready:
            raise _ConnectionError(1, "the server's first frame is not SETTINGS (RFC 9113 §3.4)")
        if kind == CONTINUATION:
            self._continuation(buf, start, end, flags, stream_id, now)
        elif kind == _PING:
            if stream_id or length != 8:
                raise _ConnectionError(1, "a malformed PING")
            if not flags & _ACK:
                self.out.append(_pack(">IBI", (8 << 8) | _PING, _ACK, 0) + buf[start:end])
        elif kind == _RST_STREAM:
            if not stream_id or length != 4:
                raise _ConnectionError(1, "a malformed RST_STREAM")
            if stream_id >= self.next_id:
                raise _ConnectionError(1, f"RST_STREAM on stream {stream_id}, never opened")
            self._reset(stream_id, int.from_bytes(buf[start:end], "big"))
        elif kind == _WINDOW_UPDATE:
            if length != 4:
                raise _ConnectionError(6, "a WINDOW_UPDATE not 4 bytes long")
            self._window_update(stream_id, int.from_bytes(buf[start:end], "big") & MAX_STREAM_ID)
        elif kind == _GOAWAY:
            if stream_id or length < 8:
                raise _ConnectionError(1, "a malformed GOAWAY")
            self._goaway(int.from_bytes(buf[start : start + 4], "big") & MAX_STREAM_ID)
        elif kind == PUSH_PROMISE:
            raise _ConnectionError(1, "PUSH_PROMISE, with push disabled (RFC 9113 §8.4)")
        elif kind == _PRIORITY_FRAME and length != 5:
            raise _ConnectionError(6, "a PRIORITY frame not 5 bytes long")
        # PRIORITY and unknown types (RFC 9113 §5.5): ignored.

    def _settings(self, buf: bytes, start: int, end: int) -> None:
        for at in range(start, end, 6):
            key, value = struct.unpack_from(">HI", buf, at)
            if key == 0x2 and value != 0:  # a server never enables push (§6.5.2)
                raise _ConnectionError(1, f"SETTINGS_ENABLE_PUSH = {value} from a server")
            if key == 0x3:
                self.capacity = min(self.wanted, value)
            elif key == 0x4:
                if value > MAX_STREAM_ID:
                    raise _ConnectionError(3, f"SETTINGS_INITIAL_WINDOW_SIZE = {value}")
                delta = value - self.initial_window
                self.initial_window = value
                for stream in self.streams.values():
                    stream[_WINDOW] += delta
                if delta > 0:
                    self._unblock()
            elif key == 0x5:
                if not 16384 <= value <= 16777215:
                    raise _ConnectionError(1, f"SETTINGS_MAX_FRAME_SIZE = {value}")
                self.max_frame = value

    def _window_update(self, stream_id: int, increment: int) -> None:
        if not stream_id:
            if not increment:
                raise _ConnectionError(1, "a connection WINDOW_UPDATE of 0")
            self.send_window += increment
            if self.send_window > MAX_STREAM_ID:
                raise _ConnectionError(3, "the server's window over 2**31 - 1")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                return
            if not increment:
                self._stream_error(stream_id, 1, "protocol")
                return
            stream[_WINDOW] += increment
        self._unblock()

    def _goaway(self, last: int) -> None:
        self.goaway = True
        for stream_id in [s for s in self.streams if s > last]:  # not processed (rule 4)
            stream = self.streams.pop(stream_id)
            self.sched.give_back(stream[_INTENDED])

    def _reset(self, stream_id: int, code: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if code == _REFUSED_STREAM:  # not processed: it goes again (rule 4)
            self.sched.give_back(stream[_INTENDED])
            return
        self.stats.error(f"h2 reset {error_name(code)}")
        self.sched.ended()

    # ------------------------------------------------------------ streams

    def _end(self, stream_id: int, stream: list[int], now: int) -> None:
        del self.streams[stream_id]
        status = stream[_STATUS]
        got = stream[_GOT]
        if (got and (self.bodyless or status == 204 or status == 304)) or (
            stream[_LENGTH] >= 0 and got != stream[_LENGTH] and not self.bodyless
        ):
            self.stats.error("protocol")  # rule 3 (the server ended the stream itself)
        else:
            self.record(now - stream[_INTENDED])
            self.statuses[status] += 1
        self.sched.ended()

    def _stream_error(self, stream_id: int, code: int, kind: str) -> None:
        """Reset a stream with ``code`` and fail its request as ``kind`` (rule 3)."""
        if self.streams.pop(stream_id, None) is None:
            return
        self.out.append(_pack(">IBII", (4 << 8) | _RST_STREAM, 0, stream_id, code))
        self.stats.error(kind)
        self.sched.ended()

    def _connection_error(self, code: int, message: str) -> None:
        """End the connection with GOAWAY(code) (rule 2); its streams fail as ``protocol``."""
        if not self.settled_future.done():
            self.settled_future.set_exception(H2Error(message))
        sched, stats = self.sched, self.stats
        for _ in range(len(self.streams)):
            stats.error("protocol")
            sched.ended()
        self.streams.clear()
        self.out.append(_pack(">IBIII", (8 << 8) | _GOAWAY, 0, 0, 0, code))
        self.flush()
        self.close(abort=True)

    def _send_body(self, stream_id: int, stream: list[int]) -> None:
        body = self.body
        assert body is not None  # a stream with a body
        at = stream[_BODY_AT]
        size = len(body)
        out = self.out
        while at < size:
            n = min(size - at, self.max_frame, self.send_window, stream[_WINDOW])
            if n <= 0:
                self.blocked.append(stream_id)  # until WINDOW_UPDATE
                break
            last = at + n == size
            out.append(_pack(">IBI", (n << 8) | DATA, END_STREAM if last else 0, stream_id))
            out.append(body[at : at + n])
            self.send_window -= n
            stream[_WINDOW] -= n
            at += n
        stream[_BODY_AT] = at

    def _unblock(self) -> None:
        blocked = self.blocked
        if not blocked:
            return
        self.blocked = []
        for stream_id in blocked:
            stream = self.streams.get(stream_id)
            if stream is not None:
                self._send_body(stream_id, stream)

    def __repr__(self) -> str:
        state = "closed" if not self.alive else ("goaway" if self.goaway else "open")
        return f"<bench H2Connection {state} streams={len(self.streams)} next={self.next_id}>"
