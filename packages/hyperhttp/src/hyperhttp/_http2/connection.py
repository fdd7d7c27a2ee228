"""One HTTP/2 client connection over an asyncio Protocol: our I/O, h2's state machines.

Strategy
--------
One :class:`HTTP2Connection` per TCP (or TLS) connection carries many
:class:`H2Stream` exchanges at once; the pool sees its capacity (the peer's
SETTINGS_MAX_CONCURRENT_STREAMS) and is told when it changes. Who owns
what between h2 and us is written down in ``compat``, the one module that
touches h2 below its public API:

- frames produced by requests started in one loop iteration are written
  together, once, at the end of it (one write, one TLS record, for many
  requests), with the window updates and answers the reads of that
  iteration made us owe;
- the common frames never reach h2: DATA is taken straight from the read
  buffer, and a response head in one HEADERS frame is decoded by our HPACK
  decoder (h2's own), h2's state machines moved as h2 would move them;
  h2 judges everything else, in wire order;
- receive windows are large (2 MiB per stream, 4 MiB for the connection,
  both configurable) so a big body never waits on WINDOW_UPDATE round trips,
  and h2 batches the updates (one per half window consumed);
- a body read whole is copied once, into the bytes it becomes: large runs of
  its frames stay in the read buffer they were decrypted into, which the
  connection lends it (see LEND);
- a stream read whole acknowledges its data as it arrives; a *streamed* one
  acknowledges what the consumer took, so the peer can never have more than
  one stream window unread in our memory (backpressure per stream);
- uploads send what the peer's windows allow and wait, without polling, for
  WINDOW_UPDATE.

Rules
-----
1. GOAWAY: the connection takes no new stream and the pool retires it.
   Streams above ``last_stream_id`` were not processed by the server: they
   fail with :class:`StreamRefused`, which the client replays on another
   connection whatever the method. Streams at or below it complete.
2. RST_STREAM(REFUSED_STREAM) is a :class:`StreamRefused` too; any other
   reset is a ``RemoteProtocolError`` for that stream only.
3. A protocol error from the peer fails every stream with
   ``RemoteProtocolError`` and closes the connection; so does its loss.
4. A stream abandoned before its end (cancelled, or a body not read) is
   reset with CANCEL and frees its slot; the connection stays usable. A
   reader still waiting on it (another task) fails with ``StreamClosed``.
   A body is read once, whole or as a stream: reading it again after a
   stream started is ``StreamConsumed`` (as on HTTP/1.1).
5. What a server can make us hold is bounded before we hold it: a frame
   over our SETTINGS_MAX_FRAME_SIZE, or a header block (HEADERS or
   PUSH_PROMISE + CONTINUATION) over SETTINGS_MAX_HEADER_LIST_SIZE, ends
   the connection as its frame header arrives; a block within it that
   decodes to a longer list fails its stream only. DATA is bounded by the
   receive windows. The answers its frames make us owe (PING and SETTINGS
   ACKs...) while it reads nothing of ours are bounded by ``MAX_OWED``
   (then ENHANCE_YOUR_CALM): a peer that does not read cannot grow our
   write buffer without end. Frames that carry nothing but cost us work
   (SETTINGS, PING, PRIORITY, RST_STREAM, WINDOW_UPDATE, empty DATA or
   CONTINUATION...) are counted as their headers are read: past
   ``CALM_FRAMES`` per ``CALM_WINDOW`` (plus what our own streams and
   uploads account for) it is ENHANCE_YOUR_CALM before they are handled,
   so no read, and no series of reads, can hold the event loop for long.
6. The server's first frame must be SETTINGS (RFC 9113 §3.4); a response
   is held to HTTP/1.1's rules (no body before the final head, none on
   HEAD/204/304, :status 100-599, a sane Content-Length): stream errors.
7. Frames the server may not send are connection PROTOCOL_ERRORs, also
   where h2 is lenient or never looks (DATA we take ourselves): HEADERS on
   a stream we did not open (RFC 9113 §5.1.1), any frame but CONTINUATION
   inside a header block (§6.2, §6.10), RST_STREAM on an idle stream (§6.4).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Literal

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hpack.exceptions import HPACKError

from hyperhttp._conn import (
    ConnectionBase,
    StaleConnection,
    check_chunk,
    close_iterator,
    wait_write,
)
from hyperhttp._exceptions import (
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
)

from .compat import client_connection
from .fields import CONTENT_LENGTH, MAX_HEADER_LIST_SIZE, OVERSIZED, check_fields
from .flow import ReceiveWindow
from .frames import (
    BLOCK_FRAMES,
    CONTINUATION,
    DATA,
    DEFAULT_WINDOW,
    EMPTY_END,
    END_HEADERS,
    END_STREAM,
    HEADERS,
    MAX_FRAME_SIZE,
    PADDED,
    PRIORITY,
    PUSH_PROMISE,
    READ_BUFFER,
    ReadPass,
    assemble,
    final_head,
    frame_head,
    window_update,
)
from .hpack_codec import Decoder, Encoder
from .stream import H2Stream, StreamRefused, _Head, _own

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable

    from hyperhttp._config import Timeout
    from hyperhttp._encode import RequestEncoder
    from hyperhttp._models import Request

__all__ = ["CONNECTION_WINDOW", "STREAM_WINDOW", "HTTP2Connection"]


# Receive windows (Client(http2_stream_window=, http2_connection_window=)).
# A stream's covers a 1 MiB body with room; the connection's bounds what a
# server may have in flight to us at once. 4 MiB covers the bandwidth-delay
# product of a datacenter path (about 30 Gbit/s at 1 ms); beyond that a larger
# window adds only bytes queued in socket buffers, which arrive cold: on
# loopback, 64 concurrent 1 MiB bodies were ~10 % slower with 16 MiB than
# with 4 MiB. Raise both for long fat pipes (WAN transfers of big bodies).
STREAM_WINDOW = 2 * 1024 * 1024
CONNECTION_WINDOW = 4 * 1024 * 1024
MAX_STREAMS = 1000  # what we carry on one connection, whatever the peer allows
# A run of one stream's DATA frames at least this large, for a body read
# whole, is not copied out of the read buffer: the stream keeps views of it
# and the connection reads on into another buffer (see _receive). The body's
# one join then copies it once, instead of twice. At most one such run per
# buffer, so a lent buffer holds at most twice the body bytes it lends.
LEND = READ_BUFFER // 2
# Buffers given back after their body was joined, kept for reuse while the
# connection has streams (an idle connection keeps none).
SPARE_BUFFERS = 2
# What the frames we read may make us owe the server (PING and SETTINGS
# ACKs, RST_STREAM for frames on closed streams: h2's answers) while it
# reads none of ours, i.e. while the transport holds more than its high-water
# mark and has paused us. A peer that floods such frames and does not read
# (the CVE-2019-9512 class) would otherwise grow our write buffer without
# bound; past this it is ENHANCE_YOUR_CALM (RFC 9113 §10.5). A legitimate
# server owes us a few answers at a time, far below it.
MAX_OWED = 64 * 1024
# Frames that cost us work and carry nothing (RFC 9113 §10.5): SETTINGS,
# PING, PRIORITY, RST_STREAM, WINDOW_UPDATE, GOAWAY, unknown types, empty
# DATA without END_STREAM, empty CONTINUATION; and those that carry next to
# nothing: every HEADERS (an HPACK decode each: 1xx heads can repeat without
# end), DATA under _SMALL_DATA bytes on a stream no longer ours (h2 judges
# and resets each, and returns its window). h2 spends about 10 µs on
# each; one 256 KiB read holds 29 000 empty SETTINGS (~300 ms of the loop),
# and a server could send read after read, starving every other connection
# of the process (the CVE-2019-9512/9515/9518 class). We allow CALM_FRAMES
# of them per CALM_WINDOW seconds, plus what our own sending accounts for:
# CALM_PER_STREAM per stream we open (its RST_STREAM, its WINDOW_UPDATEs)
# and CALM_PER_DATA per DATA frame of an upload (stream and connection
# WINDOW_UPDATE), at most CALM_CREDIT at a time. Past that it is
# ENHANCE_YOUR_CALM, seen as the frame headers are read, before h2 handles
# any of them: no read makes us handle more than the allowance.
CALM_FRAMES = 1000
CALM_WINDOW = 1.0
CALM_PER_STREAM = 4
CALM_PER_DATA = 2
CALM_CREDIT = 16 * CALM_FRAMES
# DATA on a stream we reset still comes while in flight: full frames (16 KiB)
# cost per byte, like any body, and are not counted; tiny ones are.
_SMALL_DATA = 1024
_SETTINGS = h2.settings.SettingCodes

_DataReceived = h2.events.DataReceived
_ResponseReceived = h2.events.ResponseReceived
_StreamEnded = h2.events.StreamEnded
_WindowUpdated = h2.events.WindowUpdated
_StreamReset = h2.events.StreamReset
_RemoteSettingsChanged = h2.events.RemoteSettingsChanged
_ConnectionTerminated = h2.events.ConnectionTerminated
_TrailersReceived = h2.events.TrailersReceived
_InformationalResponseReceived = h2.events.InformationalResponseReceived


def _decoder() -> Decoder:
    """Return an HPACK decoder for a connection: Content-Length renamed, oversized blocks marked."""
    decoder = Decoder(
        rename={b"content-length": CONTENT_LENGTH, CONTENT_LENGTH: b"\x00"},
        oversized=(OVERSIZED, b""),
    )
    decoder.max_header_list_size = MAX_HEADER_LIST_SIZE
    return decoder


def _read_buffer() -> bytearray:
    """Return a new read buffer of READ_BUFFER bytes, with room to grow one (see give_back)."""
    buffer = bytearray(READ_BUFFER + 1)
    del buffer[READ_BUFFER:]
    return buffer


class HTTP2Connection(ConnectionBase, asyncio.BufferedProtocol):
    """An HTTP/2 client connection (see the module docstring).

    A buffered protocol: the transport (TLS included) decrypts or receives
    straight into the connection's own read buffer, which is reused, instead
    of making a new bytes object per TLS record and joining them per read.
    Payloads are copied out of it once, a run of frames at a time; a run of
    at least LEND bytes of a body read whole is not copied at all: the
    stream keeps views of the buffer (its body's join is then the only
    copy), the connection reads on into a spare one, and the buffer comes
    back once that body is joined.
    """

    http_version = "HTTP/2"

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        stream_window: int = STREAM_WINDOW,
        connection_window: int = CONNECTION_WINDOW,
    ) -> None:
        super().__init__(loop)
        # Our HPACK codec (see hpack_codec): same interface, a fraction of the cost.
        self.encoder = Encoder()
        self.decoder = decoder = _decoder()  # h2's, and ours for the heads we decode (_fast_head)
        self.h2 = client_connection(
            encoder=self.encoder,
            decoder=decoder,
            stream_window=stream_window,
            max_frame_size=MAX_FRAME_SIZE,
            max_header_list_size=MAX_HEADER_LIST_SIZE,
        )
        self.connection_window = connection_window
        self.stream_window = stream_window
        # Receive flow control of the DATA we take from the wire ourselves
        # (h2 never sees it), the connection's level (see flow).
        self.window = ReceiveWindow(connection_window)
        self.raw_out: list[bytes] = []  # our own frames (WINDOW_UPDATE) to send
        # A DATA frame cut by the end of a read: (stream id, bytes left, flags).
        self.partial: tuple[int, int, int] | None = None
        # Bytes of a header block whose END_HEADERS has not come; -1: none open.
        self.block = -1
        self.block_stream = 0  # the stream of that block
        self.streams: dict[int, H2Stream] = {}
        self.goaway = False
        self.heads = 0  # final response heads received: the connection's progress
        self.good_fields: set[tuple[bytes, bytes]] = set()  # see check_fields
        self.started = False  # the server's first frame, a SETTINGS, came (RFC 9113 §3.4)
        self.ready: asyncio.Future[None] = loop.create_future()
        self.rbuf = _read_buffer()
        self.rview = memoryview(self.rbuf)
        self.spare: list[bytearray] = []  # read buffers given back (see LEND)
        self.lendings = 0  # runs kept in their read buffer (see LEND), for the record
        self.rfill = 0  # bytes at the start of rbuf: a frame not complete yet
        self.read_at = 0.0  # loop time of the latest read (see _arriving)
        self.owed = 0  # answers queued since the transport paused us (see MAX_OWED)
        # Control-frame flood bound (see CALM_FRAMES): frames still allowed,
        # when the allowance may be renewed, and the streams (served) and
        # upload DATA frames already credited.
        self.calm_left = CALM_FRAMES
        self.calm_until = loop.time() + CALM_WINDOW
        self.calm_streams = 0
        self.data_frames = 0
        self.calm_data = 0
        self.flush_pending = False
        self.window_waiters: list[asyncio.Future[None]] = []
        self._capacity = 0
        # Set by the client: tell the pool about capacity changes and GOAWAY.
        self.on_capacity: Callable[[HTTP2Connection], None] | None = None
        self.on_retire: Callable[[HTTP2Connection], None] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("goaway" if self.goaway else "open")
        return f"<HTTP2Connection {state} streams={len(self.streams)} served={self.served}>"

    # ------------------------------------------------------------ PoolConnection

    @property
    def capacity(self) -> int:
        return self._capacity

    def is_usable(self) -> bool:
        if self.closed or self.goaway:
            return False
        transport = self.transport
        return transport is not None and not transport.is_closing()

    def resume_writing(self) -> None:
        self.owed = 0  # the server reads again: what we owed is on its way
        super().resume_writing()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_timer()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            try:
                self.h2.close_connection()
                transport.write(self.h2.data_to_send())
            except h2.exceptions.ProtocolError:
                pass
            transport.close()
        self._fail_all(RemoteProtocolError("the connection was closed"))

    def abort(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        h2conn = self.h2
        h2conn.initiate_connection()
        if self.connection_window > DEFAULT_WINDOW:
            h2conn.increment_flow_control_window(self.connection_window - DEFAULT_WINDOW)
        transport.write(h2conn.data_to_send())  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.rview[self.rfill :]

    def buffer_updated(self, nbytes: int) -> None:
        end = self.rfill + nbytes
        if not self.started and not self._check_preface(end):
            return
        try:
            self._receive(end)
        except Exception as exc:  # a protocol callback must never raise into the loop
            self._protocol_error(exc)

    def _check_preface(self, end: int) -> bool:
        """Whether the server's first bytes are a SETTINGS frame (RFC 9113 §3.4).

        A server that was asked for HTTP/2 (ALPN, or prior knowledge) and
        answers in HTTP/1.1 fails the connection with what it sent, instead
        of a frame header read from "HTTP/1.1 400".
        """
        data = self.rbuf
        if (
            (end > 3 and data[3] != 0x4)  # not SETTINGS
            or (end > 4 and data[4] & 0x1)  # an ACK
            or any(data[5 : min(end, 9)])  # not on stream 0
        ):
            shown = bytes(data[: min(end, 12)]).split(b"\r", 1)[0].decode("latin-1")
            self._fail_all(
                RemoteProtocolError(
                    f"the server did not start HTTP/2 (expected a SETTINGS frame, got {shown!r})"
                )
            )
            self.abort()
            return False
        if end < 9:
            self.rfill = end  # wait for the whole frame header
            if end >= 3 and int.from_bytes(data[:3], "big") > MAX_FRAME_SIZE:  # RFC 9113 §4.2
                self._frame_too_large(int.from_bytes(data[:3], "big"))
            return False
        self.started = True
        return True

    def data_received(self, data: bytes) -> None:
        """For a transport that does not fill our buffer itself."""
        view = memoryview(data)
        while view and not self.closed:
            room = self.get_buffer(len(view))
            size = min(len(room), len(view))
            room[:size] = view[:size]
            view = view[size:]
            self.buffer_updated(size)

    def _receive(self, end: int) -> None:
        """Take DATA frames and response heads of known streams ourselves; the rest is h2's.

        h2 costs tens of microseconds per frame and copies each payload four
        times; a body of 1 MiB comes in a hundred frames. DATA of a stream
        whose head we have is therefore taken straight from the read, with our
        own flow-control accounting (windows enforced, WINDOW_UPDATE sent as
        the reader consumes), and h2 is only told of the stream's end (an
        empty DATA frame with END_STREAM). A final head in one HEADERS frame
        is decoded here too (:meth:`_fast_head`) unless a header block of
        this read went to h2 before it: HPACK blocks are decoded in wire
        order. Frames are handled in wire order: :meth:`_data` for DATA,
        :meth:`_other` for the rest, then :meth:`_end_read`; what the read
        sends to h2 is planned in a :class:`ReadPass`.
        """
        self.rfill = 0
        if self.closed:
            return
        self.read_at = self.loop.time()
        data = self.rbuf
        pos = 0
        if self.partial is not None:
            pos = self._continue_partial(self.rview, end)
        # A header block of this read is left to h2: later blocks are too, since
        # HPACK blocks must be decoded in wire order (RFC 7541 §2.2).
        r = ReadPass(data, self.rview, pos, self.calm_left, self.block >= 0 or not self.h2.fast)
        unpack = frame_head
        while pos + 9 <= end:
            head, flags, stream_id = unpack(data, pos)
            length = head >> 8
            if length > MAX_FRAME_SIZE:  # RFC 9113 §4.2: before holding any of it
                self._frame_too_large(length)
                return
            kind = head & 0xFF
            if kind == DATA:
                pos = self._data(r, pos, end, length, flags, stream_id)
            elif (
                kind == HEADERS
                and length <= MAX_HEADER_LIST_SIZE
                and pos + 9 + length <= end
                and r.calm > 0
            ):  # a whole head (the usual frame), what _other checks first already true
                r.calm -= 1
                pos = self._headers(r, pos, pos + 9 + length, flags, stream_id)
            else:
                pos = self._other(r, pos, end, head, flags, stream_id)
            if pos < 0:
                return  # the connection failed
            if r.stop:
                break
        self.calm_left = r.calm
        self._end_read(r, pos, end)

    def _other(self, r: ReadPass, pos: int, end: int, head: int, flags: int, stream_id: int) -> int:
        """Handle a frame that is not DATA; return where the read goes on (-1: it failed)."""
        length = head >> 8
        kind = head & 0xFF
        frame_end = pos + 9 + length
        if kind in BLOCK_FRAMES:
            # A header block is bounded before it is buffered (RFC 9113 §10.5.1).
            # Not decoding it loses the HPACK state: the connection ends (a
            # decoded block over the limit fails its stream only: see OVERSIZED).
            size = length + self.block if kind == CONTINUATION and self.block > 0 else length
            if size > MAX_HEADER_LIST_SIZE:
                self._connection_error(
                    f"header block larger than {MAX_HEADER_LIST_SIZE} bytes"
                    " (our SETTINGS_MAX_HEADER_LIST_SIZE)",
                    h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
                )
                return -1
        if frame_end > end:
            r.stop = True
            return pos
        if kind != CONTINUATION or not length:
            r.calm -= 1  # a head or a control frame (or an empty CONTINUATION)
            if r.calm < 0 and not self._still_calm(r):
                return pos
        if kind == HEADERS:
            return self._headers(r, pos, frame_end, flags, stream_id)
        if kind == CONTINUATION and self.block >= 0:
            if flags & END_HEADERS:  # a head, maybe begun in an earlier read
                self.block = -1
                r.opened.setdefault(stream_id & 0x7FFFFFFF, -2)  # -2: not here to peek
            else:
                self.block += length
        elif kind == PUSH_PROMISE:
            r.blocks = True
            if not flags & END_HEADERS:
                self.block = length
                self.block_stream = stream_id & 0x7FFFFFFF
        return frame_end

    def _headers(self, r: ReadPass, pos: int, frame_end: int, flags: int, stream_id: int) -> int:
        """Handle HEADERS: a final head in one frame is ours to decode, anything else h2's."""
        if not stream_id & 1:  # RFC 9113 §5.1.1: we open odd ones, none promised
            self._connection_error(
                f"HEADERS on stream {stream_id & 0x7FFFFFFF}, which the client"
                " did not open (no PUSH_PROMISE: we disable push)",
                h2.errors.ErrorCodes.PROTOCOL_ERROR,
            )
            return -1
        if (
            not r.blocks
            and flags & END_HEADERS
            and not flags & (PADDED | PRIORITY)
            and frame_end > pos + 9
            and 0x88 <= r.data[pos + 9] <= 0x8E  # a final :status (see final_head)
        ):
            stream = self.streams.get(stream_id)
            if stream is not None and stream.head is None:
                # A response head in one frame: ours to decode (h2 spends tens
                # of µs on one), in wire order with the frames h2 reads.
                took = self._fast_head(stream, r.view[pos + 9 : frame_end], flags)
                if took is None:
                    return -1
                if took:
                    if r.h2_from < pos:
                        r.parts.append((r.h2_from, pos))
                    r.h2_from = frame_end
                    return frame_end
        r.blocks = True
        if not flags & END_STREAM:
            r.opened[stream_id & 0x7FFFFFFF] = pos
        if not flags & END_HEADERS:
            self.block = frame_end - pos - 9
            self.block_stream = stream_id & 0x7FFFFFFF
        return frame_end

    def _data(
        self, r: ReadPass, pos: int, end: int, length: int, flags: int, stream_id: int
    ) -> int:
        """Handle a DATA frame (and the run of its stream's that follow); return where to go on."""
        if self.block >= 0:  # RFC 9113 §6.2, §6.10: only CONTINUATION until END_HEADERS
            self._connection_error(
                "DATA inside a header block", h2.errors.ErrorCodes.PROTOCOL_ERROR
            )
            return -1
        frame_end = pos + 9 + length
        stream_id &= 0x7FFFFFFF
        stream = self.streams.get(stream_id)
        if stream is not None and stream.head is None:
            found = self._headless(r, pos, stream_id)
            if found is False:
                return -1
            stream = found
        if stream is None:
            if frame_end > end:
                r.stop = True
                return pos
            if length < _SMALL_DATA:
                r.calm -= 1  # next to nothing, on a stream not ours (any more): work only
                if r.calm < 0 and not self._still_calm(r):
                    return pos
            return frame_end  # h2's to judge (a stream we reset, or a bad peer)
        if r.h2_from < pos:
            r.parts.append((r.h2_from, pos))
        if frame_end > end:  # cut by the end of the read
            r.stop = True
            if flags & PADDED:
                r.h2_from = pos
                return pos
            taken = end - pos - 9
            self.partial = (stream_id, length - taken, flags)
            if taken:
                self._take(stream, r.view[pos + 9 : end], taken)
            r.h2_from = end
            return end
        if flags & PADDED:
            pos = self._padded(r, stream, pos, length, flags)
            if pos < 0 or r.stop:
                return pos
        else:
            pos, flags = self._data_run(r, stream, pos, end, length, flags)
        if flags & END_STREAM and stream_id in self.streams:
            at = r.opened.pop(stream_id, -1)
            if at >= 0:
                r.moved.append(at)
            elif r.parts:  # frames for h2 before it in this read: h2 sees them in order
                r.parts.append(EMPTY_END % stream_id.to_bytes(4, "big"))
            elif not self._end_stream(stream_id):
                return -1
        if r.calm < 0:  # empty DATA frames in that run (never with END_STREAM)
            self._still_calm(r)
        return pos

    def _headless(self, r: ReadPass, pos: int, stream_id: int) -> H2Stream | Literal[False] | None:
        """Return the stream of DATA at ``pos`` whose head we lack, once h2 read it (or None).

        Body only after the final head (RFC 9113 §8.1). A HEADERS frame of
        this read opening with an indexed final :status (nearly all
        responses) is one; anything else h2 must read first. False: the
        connection failed.
        """
        at = r.opened.get(stream_id, -1)
        stream = self.streams.get(stream_id)
        if at != -1 and (at < 0 or not final_head(r.data, at)):
            if not self._feed_planned(r, pos):
                return False
            stream = self.streams.get(stream_id)
            at = -1
        if stream is not None and stream.head is None and at < 0:
            self._stream_error(stream, RemoteProtocolError("DATA before the response head"))
            return None
        return stream

    def _padded(self, r: ReadPass, stream: H2Stream, pos: int, length: int, flags: int) -> int:
        """Take a padded DATA frame, whole in this read: its payload, less the padding."""
        pad = r.data[pos + 9] if length else 0
        if pad >= length:
            self._protocol_error(ValueError("DATA padding longer than the frame"))
            return -1
        if pad + 1 == length and not flags & END_STREAM:
            r.calm -= 1  # padding only: an empty DATA frame
            if r.calm < 0 and not self._still_calm(r):
                r.h2_from = pos
                return pos
        frame_end = pos + 9 + length
        self._take(stream, r.view[pos + 10 : frame_end - pad], length)
        r.h2_from = frame_end
        return frame_end

    def _data_run(
        self, r: ReadPass, stream: H2Stream, pos: int, end: int, length: int, flags: int
    ) -> tuple[int, int]:
        """Take unpadded DATA frames of one stream in a row: one delivery, one copy.

        Returns where the read goes on and the flags of the run's last frame.
        """
        data, view = r.data, r.view
        unpack = frame_head
        stream_id = stream.stream_id
        pieces = [view[pos + 9 : pos + 9 + length]]
        flow = length
        pos += 9 + length
        calm = r.calm
        if not length and not flags & END_STREAM:
            calm -= 1  # an empty DATA frame: nothing but work (see CALM_FRAMES)
        while not flags & END_STREAM and pos + 9 <= end and calm >= 0:
            head, next_flags, next_id = unpack(data, pos)
            length = head >> 8
            if (
                head & 0xFF != DATA
                or next_id & 0x7FFFFFFF != stream_id
                or next_flags & PADDED
                or pos + 9 + length > end
            ):
                break
            pieces.append(view[pos + 9 : pos + 9 + length])
            flow += length
            flags = next_flags
            pos += 9 + length
            if not length and not flags & END_STREAM:
                calm -= 1
        r.calm = calm
        if flow >= LEND and stream.whole and not r.lent:
            r.lent = self._take(stream, pieces, flow, lend=True)
        else:
            self._take(stream, pieces, flow)
        r.h2_from = pos
        return pos, flags

    def _still_calm(self, r: ReadPass) -> bool:
        """Renew the control-frame allowance if due (see CALM_FRAMES); False: a flood."""
        r.calm = self._calm(r.calm)
        if r.calm < 0:
            r.flooded = r.stop = True
            return False
        return True

    def _feed_planned(self, r: ReadPass, pos: int) -> bool:
        """Feed h2 what this read planned for it before ``pos`` (a head it must judge first)."""
        if r.h2_from < pos:
            r.parts.append((r.h2_from, pos))
        if r.parts:
            r.fed = True
            if not self._feed_h2(assemble(r.data, r.parts, r.moved)):
                return False
            r.parts, r.moved, r.h2_from = [], [], pos
        r.opened.clear()
        return True

    def _end_read(self, r: ReadPass, pos: int, end: int) -> None:
        """End a read: feed h2 its part, keep what is incomplete, flush."""
        data = r.data
        if r.h2_from < pos:
            r.parts.append((r.h2_from, pos))
        feed = assemble(data, r.parts, r.moved) if r.parts else None
        if r.flooded:  # the frames before the flood's, in wire order, then ENHANCE_YOUR_CALM
            if (feed is None or self._feed_h2(feed)) and not self.closed:
                self._connection_error(
                    "a flood of frames that carry nothing (SETTINGS, PING, PRIORITY,"
                    " RST_STREAM, WINDOW_UPDATE, empty DATA or CONTINUATION...): over"
                    f" {CALM_FRAMES} in {CALM_WINDOW:g} s (ENHANCE_YOUR_CALM)",
                    h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
                )
            return
        if r.lent:  # read on into another buffer, the rest of this one moved there
            self.rbuf = self.spare.pop() if self.spare else _read_buffer()
            self.rview = memoryview(self.rbuf)
            if pos < end:
                self.rbuf[: end - pos] = data[pos:end]
                end -= pos
                pos = 0
        if pos < end:
            if not self._keep(pos, end):
                return
        elif len(self.rbuf) > READ_BUFFER:  # grown for one large frame: back to the usual size
            self.rbuf = _read_buffer()
            self.rview = memoryview(self.rbuf)
        if feed is not None and not self._feed_h2(feed):
            return
        if self.raw_out or r.fed or feed is not None:
            # h2's answers (PING, SETTINGS ACK) and our window updates go out at
            # the end of this loop iteration, in one write with the requests its
            # callbacks start (a response ended here starts the next request).
            self.schedule_flush()
        if self.goaway and not self.streams:
            self.close()

    def _fast_head(self, stream: H2Stream, block: memoryview, flags: int) -> bool | None:
        """Take a final response head (one HEADERS frame) without h2; see _receive.

        h2's state moves as h2 would move it (``H2Core.head_received``) and the
        block is decoded by the connection's HPACK decoder, h2's own. Returns
        False, having changed nothing, if h2 has no open stream of this id
        (h2 then judges the frame); None once the connection failed.
        """
        end = bool(flags & END_STREAM)
        try:
            if not self.h2.head_received(stream.stream_id, end):
                return False
        except h2.exceptions.ProtocolError as exc:
            self._connection_error(str(exc), h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return None
        try:
            headers = self.decoder.decode(bytes(block))
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:  # as h2 sorts them
            # RFC 9113 §4.3: the HPACK state is lost, a connection error.
            self._connection_error(
                f"Error decoding header block: {exc}", h2.errors.ErrorCodes.COMPRESSION_ERROR
            )
            return None
        self._on_head(stream, headers)
        if end:
            ended = self.streams.pop(stream.stream_id, None)  # a malformed head reset it
            if ended is not None:
                self._on_end(ended)
        return not self.closed

    def _calm(self, left: int) -> int:
        """Renew the control-frame allowance once spent (see CALM_FRAMES); negative: a flood.

        ``left`` is what is left of it, negative: the frames counted past it.
        The allowance grows by what our sending accounts for since the last
        look, and by CALM_FRAMES once CALM_WINDOW has passed since its last
        renewal; if that does not cover what was counted, it is a flood (the
        caller ends the connection with ENHANCE_YOUR_CALM, RFC 9113 §10.5).
        """
        served, frames = self.served, self.data_frames
        credit = CALM_PER_STREAM * (served - self.calm_streams) + CALM_PER_DATA * (
            frames - self.calm_data
        )
        self.calm_streams, self.calm_data = served, frames
        left += min(credit, CALM_CREDIT)
        now = self.read_at
        if left < 0 and now >= self.calm_until:
            left += CALM_FRAMES
            self.calm_until = now + CALM_WINDOW
        return left

    def _keep(self, pos: int, end: int) -> bool:
        """Move the start of an incomplete frame to the front of the buffer.

        The buffer grows when the frame is larger than it (up to the largest
        frame our SETTINGS allow, plus its header); a DATA frame never needs
        this, its payload is taken as it comes. A frame header cut after its
        3 length bytes is judged on them at once (RFC 9113 §4.2): a frame
        over our SETTINGS_MAX_FRAME_SIZE ends the connection before any room
        is made for it. False once the connection failed.
        """
        size = end - pos
        data = self.rbuf
        if pos:
            data[:size] = data[pos:end]
        self.rfill = size
        if size >= 3:
            length = int.from_bytes(data[:3], "big")
            if length > MAX_FRAME_SIZE:
                self._frame_too_large(length)
                return False
            need = 9 + length
            if need > len(data):
                grown = bytearray(need)
                grown[:size] = data[:size]
                self.rbuf = grown
                self.rview = memoryview(grown)
        return True

    def _frame_too_large(self, length: int) -> None:
        """Refuse a frame over our SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR (RFC 9113 §4.2)."""
        self._connection_error(
            f"a frame of {length} bytes, larger than our SETTINGS_MAX_FRAME_SIZE",
            h2.errors.ErrorCodes.FRAME_SIZE_ERROR,
        )

    def _continue_partial(self, view: memoryview, end: int) -> int:
        """Take the rest of a DATA frame cut by the previous read; return where it ends."""
        assert self.partial is not None
        stream_id, left, flags = self.partial
        taken = min(left, end)
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._take(stream, view[:taken], taken)
        else:  # reset meanwhile: only the connection window counts it
            self._take_window(taken)
            self._return_window(taken)
        if taken < left:
            self.partial = (stream_id, left - taken, flags)
            return taken
        self.partial = None
        if flags & END_STREAM and stream is not None:
            self._end_stream(stream_id)
        return taken

    def _take(
        self,
        stream: H2Stream,
        payload: memoryview | list[memoryview],
        flow: int,
        *,
        lend: bool = False,
    ) -> bool:
        """Account ``flow`` bytes of window and give ``payload`` to ``stream``.

        ``payload`` is a view of the read buffer (or, for a run of unpadded
        frames, a list of views adding up to ``flow``); it is copied out once.
        With ``lend`` (a list), the stream keeps the views themselves and the
        read buffer (see LEND); returns whether it did.
        """
        if not self._take_window(flow):
            return False
        if not stream.window.take(flow):
            self._stream_error(
                stream, RemoteProtocolError("the server overran the stream's window"), 3
            )
            self._return_window(flow)
            return False
        stream.received_frames += 1
        if stream.read_timeout is not None:
            stream.last_data = self.read_at
        if isinstance(payload, list):
            size = flow
            if lend:
                self.lendings += 1
                stream.chunks.extend(payload)
                if stream.lent is None:
                    stream.lent = []
                stream.lent.append(self.rbuf)
            elif size:
                stream.chunks.append(b"".join(payload))
        else:
            size = len(payload)
            if size:
                stream.chunks.append(payload.tobytes())
        if size:
            stream.buffered += size
            stream.received += size
            if stream.limit is not None and stream.received > stream.limit:
                stream.fail(ResponseTooLarge(f"response body over {stream.limit} bytes"))
                self._reset(stream)
                return lend
            expected = stream.expected
            if expected is not None and stream.received > expected:
                self._overlong(stream)
                return lend
        if stream.whole:
            self._consume(stream, flow)
        else:
            stream.unacked += flow
            stream._wake()
        return lend

    def give_back(self, buffer: bytearray) -> None:
        """Keep a lent read buffer for reuse, once no view of it is left (see LEND).

        The stream's body was joined and its views dropped; a buffer something
        still views cannot change size, which is how that is checked.
        """
        if len(self.spare) >= SPARE_BUFFERS or len(buffer) != READ_BUFFER or not self.streams:
            return
        try:
            buffer.append(0)
        except BufferError:  # still viewed: left to the garbage collector
            return
        buffer.pop()
        self.spare.append(buffer)

    def _take_window(self, flow: int) -> bool:
        if not self.window.take(flow):
            self._protocol_error(ValueError("the server overran the connection window"))
            return False
        return True

    def _end_stream(self, stream_id: int) -> bool:
        """Move h2's state for an END_STREAM on DATA we took; False once the connection failed."""
        h2conn = self.h2
        if h2conn.fast:
            try:
                ended = h2conn.end_received(stream_id)
            except h2.exceptions.ProtocolError as exc:
                self._protocol_error(exc)
                return False
            if ended:
                stream = self.streams.pop(stream_id, None)
                if stream is not None:
                    self._on_end(stream)
                return not self.closed
        return self._feed_h2(EMPTY_END % stream_id.to_bytes(4, "big"))

    def _feed_h2(self, data: bytes | bytearray) -> bool:
        """Hand frames to h2 and act on its events; False once the connection failed."""
        h2conn = self.h2
        paused = self.write_paused
        queued = h2conn.outbound_size if paused else 0
        try:
            events = h2conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._protocol_error(exc)
            return False
        if paused and not self._owe(h2conn.outbound_size - queued):
            return False
        streams = self.streams
        for event in events:
            kind = type(event)
            if kind is _DataReceived:
                stream = streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    self._on_data(stream, event)  # type: ignore[arg-type]
                elif event.flow_controlled_length:  # type: ignore[attr-defined]
                    # A stream we reset: hand the connection window back.
                    self.h2.acknowledge_received_data(
                        event.flow_controlled_length,  # type: ignore[attr-defined]
                        event.stream_id,  # type: ignore[attr-defined]
                    )
            elif kind is _ResponseReceived:
                stream = streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    self._on_head(stream, event.headers)  # type: ignore[attr-defined]
            elif kind is _StreamEnded:
                stream = streams.pop(event.stream_id, None)  # type: ignore[attr-defined]
                if stream is not None:
                    self._on_end(stream)
            elif kind is _WindowUpdated:
                self._wake_uploads()
            elif kind is _StreamReset:
                self._on_reset(event)  # type: ignore[arg-type]
            elif kind is _RemoteSettingsChanged:
                self._on_settings(event)  # type: ignore[arg-type]
            elif kind is _ConnectionTerminated:
                self._on_goaway(event)  # type: ignore[arg-type]
            elif kind is _TrailersReceived or kind is _InformationalResponseReceived:
                stream = streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    stream.received_frames += 1
                    stream.last_data = self.read_at
                    try:
                        check_fields(
                            event.headers,  # type: ignore[attr-defined]
                            head=kind is not _TrailersReceived,
                            good=self.good_fields,
                        )
                    except RemoteProtocolError as exc:
                        self._malformed(stream, exc)
            # Pings are answered by h2; settings ACKs and the rest need nothing.
        return not self.closed

    def _owe(self, size: int) -> bool:
        """Count ``size`` bytes of answers queued while paused; False once over MAX_OWED."""
        self.owed += size
        if self.owed <= MAX_OWED:
            return True
        self.h2.clear_outbound_data_buffer()  # the connection ends: none of it is sent
        self._connection_error(
            "the server sends frames that need an answer (PING, SETTINGS...) and does not"
            f" read the answers: over {MAX_OWED // 1024} KiB owed",
            h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
        )
        return False

    def _on_end(self, stream: H2Stream) -> None:
        expected = stream.expected
        if expected is not None and stream.received != expected:
            stream.fail(RemoteProtocolError("response body shorter than its Content-Length"))
            if stream.unacked:
                unacked, stream.unacked = stream.unacked, 0
                self._return_window(unacked)
            return
        stream.done = True
        stream._wake()
        # RFC 9113 §8.1: a complete response may come before the whole request;
        # an upload waiting for window the server will never grant stops now.
        self._wake_uploads()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed_down()
        message = "the server closed the connection"
        if not self.started:
            message += " before starting HTTP/2 (no SETTINGS frame)"
        error: RemoteProtocolError = RemoteProtocolError(message)
        if exc is not None:
            error.__cause__ = exc
        self._fail_all(error)

    # ------------------------------------------------------------ events

    def _on_head(self, stream: H2Stream, headers: list[tuple[bytes, bytes]]) -> None:
        stream.received_frames += 1
        try:
            status, fields, stream.expected = check_fields(
                headers, head=True, good=self.good_fields
            )
        except RemoteProtocolError as exc:
            self._malformed(stream, exc)
            return
        stream.head = _Head(status, fields)
        self.heads += 1
        if stream.head_only or status == 204 or status == 304:
            stream.expected = 0  # no content, whatever Content-Length says (RFC 9110 §6.4.1)
        if stream.expected is not None and stream.received > stream.expected:
            self._overlong(stream)  # DATA of this read, taken before its head was read
            return
        if stream.read_timeout is not None:
            stream.last_data = self.read_at  # this read's time, taken once per read
        stream._wake()

    def _on_data(self, stream: H2Stream, event: h2.events.DataReceived) -> None:
        """Handle DATA that went through h2 (before the stream head, or our END marker)."""
        data = event.data or b""
        flow = event.flow_controlled_length or 0
        if flow:  # h2 counted it: hand it back through h2, at once
            self.h2.acknowledge_received_data(flow, stream.stream_id)
        if not data:
            return
        if stream.head is None:  # RFC 9113 §8.1 (h2 catches it too, as a connection error)
            self._stream_error(stream, RemoteProtocolError("DATA before the response head"))
            return
        stream.received_frames += 1
        stream.last_data = self.read_at
        stream.chunks.append(data)
        stream.buffered += len(data)
        stream.received += len(data)
        if stream.limit is not None and stream.received > stream.limit:
            stream.fail(ResponseTooLarge(f"response body over {stream.limit} bytes"))
            self._reset(stream)
            return
        if stream.expected is not None and stream.received > stream.expected:
            self._overlong(stream)
            return
        stream._wake()

    def _overlong(self, stream: H2Stream) -> None:
        """More DATA than the head allows: malformed (RFC 9113 §8.1.1), a stream error."""
        if stream.head_only or (stream.head is not None and stream.head.status_code in (204, 304)):
            error = RemoteProtocolError("DATA on a response that has no content (HEAD, 204, 304)")
        else:
            error = RemoteProtocolError("response body longer than its Content-Length")
        self._stream_error(stream, error)

    def _malformed(self, stream: H2Stream, error: RemoteProtocolError) -> None:
        """Reset and fail a malformed response: a stream error (RFC 9113 §8.1.1)."""
        self._stream_error(stream, error)

    def _stream_error(self, stream: H2Stream, error: RemoteProtocolError, code: int = 1) -> None:
        """Fail one stream and reset it (1: PROTOCOL_ERROR, 3: FLOW_CONTROL_ERROR)."""
        self.streams.pop(stream.stream_id, None)
        stream.fail(error)
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.reset_stream(stream.stream_id, code)
        if stream.unacked:
            unacked, stream.unacked = stream.unacked, 0
            self._return_window(unacked)
        self.schedule_flush()

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        stream = self.streams.pop(event.stream_id or 0, None)
        if stream is None:
            return
        code = event.error_code
        if code == h2.errors.ErrorCodes.REFUSED_STREAM:
            progress = self.heads > stream.heads_before
            stream.fail(
                StreamRefused("the server refused the stream (REFUSED_STREAM)", progress=progress)
            )
        else:
            name = getattr(code, "name", code)
            stream.fail(RemoteProtocolError(f"the server reset the stream ({name})"))

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        if _SETTINGS.MAX_CONCURRENT_STREAMS in event.changed_settings or not self.ready.done():
            self._set_capacity()
        if _SETTINGS.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._wake_uploads()
        if not self.ready.done():
            self.ready.set_result(None)

    def _set_capacity(self) -> None:
        capacity = 0
        if not self.goaway and not self.closed:
            capacity = min(self.h2.remote_settings.max_concurrent_streams, MAX_STREAMS)
        if capacity != self._capacity:
            self._capacity = capacity
            if self.on_capacity is not None and self.ready.done():
                self.on_capacity(self)

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.goaway = True
        last = event.last_stream_id if event.last_stream_id is not None else 0
        code = getattr(event.error_code, "name", event.error_code)
        # RFC 9113 §6.8: streams above last_stream_id were not processed. The
        # connection made progress if it admitted any stream at all.
        for stream_id in [s for s in self.streams if s > last]:
            stream = self.streams.pop(stream_id)
            stream.fail(
                StreamRefused(
                    f"the server sent GOAWAY ({code}) before this stream", progress=last > 0
                )
            )
        if not self.ready.done():
            self.ready.set_exception(RemoteProtocolError(f"the server sent GOAWAY ({code})"))
        if self.on_retire is not None:
            self.on_retire(self)

    def _connection_error(self, message: str, code: h2.errors.ErrorCodes) -> None:
        """Fail the connection for a reason h2 did not see: GOAWAY with ``code``, then close."""
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.close_connection(error_code=code)
        self._protocol_error(ValueError(message))

    def _protocol_error(self, exc: Exception) -> None:
        self._fail_all(RemoteProtocolError(f"HTTP/2 protocol error from the server: {exc}"))
        transport = self.transport
        if transport is not None:
            try:
                pending = self.h2.data_to_send()  # h2's GOAWAY, if it made one
                if pending:
                    transport.write(pending)
            except h2.exceptions.ProtocolError:
                pass
        self.abort()

    def _fail_all(self, error: RemoteProtocolError) -> None:
        """Fail every stream with ``error``: each with its own exception object.

        The client names the request on the error a stream raises
        (``exc.request``); one object shared by several streams would name
        the first caller's request to all of them.
        """
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            if stream.received_frames == 0 and self.served > len(streams) and not self.goaway:
                stream.fail(_own(error, StaleConnection))
            else:
                stream.fail(_own(error))
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # retrieved: a failed connect reports it its own way
        self._wake_uploads()

    # ------------------------------------------------------------ writing

    def _write_now(self) -> None:
        data = self.h2.data_to_send()
        if self.raw_out:
            data = b"".join([data, *self.raw_out])
            self.raw_out.clear()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def _flush(self) -> None:
        self.flush_pending = False
        if not self.closed:
            self._write_now()

    def schedule_flush(self) -> None:
        """Write what h2 has to send at the end of this loop iteration (once)."""
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self._flush)

    def acknowledge(self, stream: H2Stream, size: int) -> None:
        """Hand ``size`` bytes the reader took back as window (batched)."""
        stream.unacked -= size
        self._consume(stream, size)

    def _consume(self, stream: H2Stream, size: int) -> None:
        """Return window for bytes consumed: one WINDOW_UPDATE per half window, per level."""
        if self.closed:
            return
        self._return_window(size)
        if stream.stream_id in self.streams and (
            stream.expected is None or stream.received < stream.expected
        ):  # no update for a stream whose body is complete: it takes no more DATA
            increment = stream.window.give_back(size)
            if increment:
                self.raw_out.append(window_update(stream.stream_id, increment))
                self.schedule_flush()

    def _return_window(self, size: int) -> None:
        """Give ``size`` bytes of connection window back (sent once half of it is due)."""
        increment = self.window.give_back(size)
        if increment and not self.closed:
            self.raw_out.append(window_update(0, increment))
            self.schedule_flush()

    def _wake_uploads(self) -> None:
        waiters = self.window_waiters
        if waiters:
            self.window_waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # ------------------------------------------------------------ the read timer

    def _on_timer(self) -> None:
        self.timer = None
        now = self.loop.time()
        next_due: float | None = None
        for stream in list(self.streams.values()):
            timeout = stream.read_timeout
            if timeout is None or stream.done or stream.error is not None:
                continue
            if stream.streaming and stream.unacked and stream.buffered:
                due = now + timeout  # the consumer holds the window, not the server
            else:
                due = stream.last_data + timeout
                if due <= now:  # its frame may be on its way, a byte at a time
                    due = max(due, self._arriving(stream.stream_id) + timeout)
            if due <= now:
                self.streams.pop(stream.stream_id, None)
                stream.fail(ReadTimeout(f"no data from the server for {timeout:g} s"))
                self._reset(stream, remove=False)
            elif next_due is None or due < next_due:
                next_due = due
        if next_due is not None:
            self.arm_timer(next_due)
        self.schedule_flush()

    def _arriving(self, stream_id: int) -> float:
        """When bytes of a frame of ``stream_id`` last came, if it is still incomplete; else 0.

        ``read`` bounds the silence between bytes of a response (docs/guide.md),
        as on HTTP/1.1; a stream's ``last_data`` moves only as frames complete
        (DATA payload is taken as it comes, but a frame header, a HEADERS or
        CONTINUATION frame is taken whole). Bytes of a frame still arriving
        therefore count for its stream, known from its header; before that
        header is complete they may be any stream's and count for every one.
        Never all of the connection's bytes for all of its streams: a stream
        the server left silent times out while others are busy. The timer
        asks only once a deadline passed, so reads pay nothing for this.
        """
        if self.partial is not None:  # a DATA frame, its payload partly taken
            arriving = self.partial[0]
        elif self.block >= 0:  # inside a header block: only its stream's frames may come
            arriving = self.block_stream
        elif self.rfill >= 9:  # a frame held until complete
            arriving = int.from_bytes(self.rbuf[5:9], "big") & 0x7FFFFFFF
        elif self.rfill:
            return self.read_at  # the first bytes of a frame header: any stream's
        else:
            return 0.0
        return self.read_at if arriving == stream_id else 0.0

    # ------------------------------------------------------------ requests

    def start_request(
        self, request: Request, encoder: RequestEncoder, timeouts: Timeout, limit: int | None
    ) -> H2Stream:
        """Open a stream for ``request``: its fields, and a body that fits the windows.

        The connection interface both protocols share (``_conn.py``). The
        fields come from the request encoder, checked: if that raises, nothing
        was sent and the connection is untouched. ``stream.body_left``: a
        stream follows, or the windows did not take the body (see
        :meth:`send_rest`).
        """
        fields = encoder.h2_fields(request)
        content = request.content
        follows = request.stream is not None
        stream = self.start(fields, content, follows, timeouts.read, limit)
        stream.body_left = follows or (content is not None and not stream.sent_end)
        return stream

    async def send_rest(self, stream: H2Stream, request: Request, timeouts: Timeout) -> None:
        """Send what of the body did not go with the headers (a stream, or bytes held back)."""
        if request.stream is not None:
            await self.send_body(stream, request.stream, timeouts.write, request.stream_length)
        elif request.content is not None and not stream.sent_end:
            await self.send_body(stream, request.content, timeouts.write)

    def start(
        self,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        has_stream: bool,
        read_timeout: float | None,
        limit: int | None,
    ) -> H2Stream:
        """Open a stream: send the headers (and a body that fits the windows)."""
        if self.closed or self.goaway:
            stream = H2Stream(self, 0, read_timeout, limit)
            stream.fail(StreamRefused("the connection is closing"))
            return stream
        h2conn = self.h2
        try:
            stream_id = h2conn.get_next_available_stream_id()
            end = body is None and not has_stream
            active = h2conn.active = len(self.streams)
            block = self.encoder.encode(headers) if h2conn.fast else b""
            if block and len(block) <= h2conn.max_outbound_frame_size:
                if active >= h2conn.remote_settings.max_concurrent_streams:
                    raise h2.exceptions.TooManyStreamsError
                h2conn.open_stream(stream_id, headers[0][1], block, end)
            else:
                h2conn.send_headers(stream_id, headers, end_stream=end)
        except h2.exceptions.TooManyStreamsError:
            # The peer lowered its limit under the pool's feet: not sent, replay.
            stream = H2Stream(self, 0, read_timeout, limit)
            stream.fail(StreamRefused("the server allows no more concurrent streams"))
            self._set_capacity()
            return stream
        except h2.exceptions.NoAvailableStreamIDError:
            self.goaway = True  # 2^31 streams used: this connection is done
            stream = H2Stream(self, 0, read_timeout, limit)
            stream.fail(StreamRefused("the connection ran out of stream IDs"))
            if self.on_retire is not None:
                self.on_retire(self)
            return stream
        stream = H2Stream(self, stream_id, read_timeout, limit)
        stream.sent_end = end
        stream.head_only = headers[0][1] == b"HEAD"
        self.streams[stream_id] = stream
        self.served += 1
        if body is not None and len(body) <= h2conn.local_flow_control_window(stream_id):
            self._send_data(stream_id, body, end=True)
            stream.sent_end = True
        if read_timeout is not None:
            stream.last_data = now = self.loop.time()
            self.arm_timer(now + read_timeout)
        self.schedule_flush()
        return stream

    def _send_data(self, stream_id: int, data: bytes, *, end: bool) -> None:
        h2conn = self.h2
        size = h2conn.max_outbound_frame_size
        if len(data) <= size:
            h2conn.send_data(stream_id, data, end_stream=end)
            return
        view = memoryview(data)
        self.data_frames += len(data) // size + 1  # their WINDOW_UPDATEs (see CALM_FRAMES)
        for at in range(0, len(data), size):
            piece = view[at : at + size]
            h2conn.send_data(stream_id, piece.tobytes(), end_stream=end and at + size >= len(data))

    async def send_body(
        self,
        stream: H2Stream,
        body: bytes | AsyncIterable[bytes],
        write_timeout: float | None,
        length: int | None = None,
    ) -> None:
        """Send a request body the peer's windows did not take at once.

        ``length``: the Content-Length the head declared for a stream; a stream
        that turns out longer or shorter is reset, never ended as if complete.
        """
        if isinstance(body, bytes):
            await self._send_flow(stream, body, write_timeout)
            if not self._stream_gone(stream):
                self.h2.end_stream(stream.stream_id)
                stream.sent_end = True
                self.schedule_flush()
            return
        sent = 0
        chunks = aiter(body)
        try:
            async for chunk in chunks:
                check_chunk(chunk)
                if self._stream_gone(stream):
                    return  # the server answered (or failed) already: stop sending
                if chunk:
                    sent += len(chunk)
                    if length is not None and sent > length:
                        self._reset(stream)
                        raise LocalProtocolError(
                            f"the request body is longer than its {length} bytes"
                        )
                    await self._send_flow(stream, bytes(chunk), write_timeout)
        finally:
            await close_iterator(chunks)  # stopped early: files it opened close now
        if length is not None and sent != length and not self._stream_gone(stream):
            self._reset(stream)
            raise LocalProtocolError(f"the request body ended at {sent} of its {length} bytes")
        if not self._stream_gone(stream):
            self.h2.end_stream(stream.stream_id)
            stream.sent_end = True
            self.schedule_flush()

    def _stream_gone(self, stream: H2Stream) -> bool:
        return (
            self.closed
            or stream.error is not None
            or stream.done
            or stream.stream_id not in self.streams
            or self.h2.is_closed
        )

    async def _send_flow(self, stream: H2Stream, data: bytes, write_timeout: float | None) -> None:
        view = memoryview(data)
        at = 0
        h2conn = self.h2
        while at < len(data):
            if self._stream_gone(stream):
                return
            window = min(
                h2conn.local_flow_control_window(stream.stream_id), h2conn.max_outbound_frame_size
            )
            if window <= 0:
                self._write_now()
                await wait_write(self._window_future(), write_timeout)
                continue
            piece = view[at : at + window].tobytes()
            h2conn.send_data(stream.stream_id, piece)
            self.data_frames += 1  # its WINDOW_UPDATEs may come (see CALM_FRAMES)
            at += len(piece)
            self._write_now()
            await self.drain(write_timeout)

    def _window_future(self) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = self.loop.create_future()
        self.window_waiters.append(waiter)
        return waiter

    def _reset(self, stream: H2Stream, *, remove: bool = True) -> None:
        if remove:
            self.streams.pop(stream.stream_id, None)
        with contextlib.suppress(h2.exceptions.ProtocolError):  # closed on the wire already
            self.h2.reset_stream(stream.stream_id, h2.errors.ErrorCodes.CANCEL)
        if stream.unacked:  # the connection window must not shrink for good
            unacked, stream.unacked = stream.unacked, 0
            self._return_window(unacked)
        self.schedule_flush()

    def finish(self, stream: Any = None) -> bool:
        """End a stream (read, abandoned or failed); return whether the connection is reusable."""
        if isinstance(stream, H2Stream) and stream.stream_id:
            stream.closed_early()  # a reader still waiting (another task) ends now (rule 4)
            if not stream.done or not stream.sent_end:
                # Abandoned, or answered before we finished sending: free the slot.
                if not self.closed:
                    self._reset(stream)
            elif stream.unacked:
                self.acknowledge(stream, stream.unacked)
        if not self.streams:
            self.spare.clear()  # idle: no more memory than the read buffer
            if self.goaway and not self.closed:
                self.close()
        return not self.closed
