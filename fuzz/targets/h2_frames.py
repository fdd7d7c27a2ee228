"""The HTTP/2 frame reader: an :class:`HTTP2Connection` fed a hostile server's bytes.

No socket: the connection is an asyncio ``BufferedProtocol``, so the target
plays the transport. It makes the connection (the client preface goes to a
fake transport), feeds a valid server SETTINGS frame unless the first
control bit says not to, opens one to four streams as the client would,
then feeds the rest of the input through ``get_buffer``/``buffer_updated``
in the pieces a socket might deliver, and ends with ``connection_lost``.

Input: control bytes (preface, streams, HEAD, read mode, body limit, how to
cut the reads), then raw frames from the server.

Checks: nothing escapes the protocol callbacks (``h2_frames.callback``:
asyncio would report a "Fatal error" and the request would hang); every
stream ends completed or failed with a typed ``HTTPError``, none stays
pending after the connection is lost (``h2_frames.pending``,
``h2_frames.error``); a completed stream has a head (``h2_frames.headless``)
with a final status 200-599 (``h2_frames.status``), no body on HEAD/204/304
(``h2_frames.no_body``), exactly its Content-Length otherwise
(``h2_frames.length``); a body never outgrows the stream's limit unfailed
(``h2_frames.limit``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hyperhttp._exceptions import HTTPError, ResponseTooLarge
from hyperhttp._http2 import H2Stream, HTTP2Connection

from fuzz._checks import fail
from fuzz._input import FuzzInput, split

MAX_LEN = 64 * 1024
MEMORY_BUDGET = 4 * 1024 * 1024

SERVER_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # empty SETTINGS, stream 0
_LIMITS = (None, 1024 * 1024, 100, 0)


class FakeTransport:
    """What the connection writes to: counted, dropped."""

    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:  # noqa: D102 - asyncio.Transport's
        self.written += len(data)

    def is_closing(self) -> bool:  # noqa: D102
        return self.closing

    def close(self) -> None:  # noqa: D102
        self.closing = True

    def abort(self) -> None:  # noqa: D102
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:  # noqa: D102
        return default


def _feed(conn: HTTP2Connection, data: bytes) -> None:
    """Deliver ``data`` as asyncio delivers a read to a BufferedProtocol."""
    view = memoryview(data)
    while view and not conn.closed:
        room = conn.get_buffer(len(view))
        size = min(len(room), len(view))
        if size == 0:
            fail("h2_frames.buffer", "get_buffer returned no room")
            return
        room[:size] = view[:size]
        view = view[size:]
        try:
            conn.buffer_updated(size)
        except Exception as exc:
            fail("h2_frames.callback", f"{type(exc).__name__} escaped buffer_updated: {exc}")
            raise


def _request(method: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", method),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/"),
        (b"user-agent", b"fuzz"),
    ]


def _check_stream(stream: H2Stream) -> None:
    error = stream.error
    if error is not None and not isinstance(error, HTTPError):
        fail("h2_frames.error", f"stream failed with untyped {type(error).__name__}: {error}")
    if stream.limit is not None and stream.received > stream.limit and error is None:
        fail("h2_frames.limit", f"{stream.received} bytes over a limit of {stream.limit}")
    if error is not None and not isinstance(error, ResponseTooLarge):
        return
    if not stream.done:
        if error is None:
            fail("h2_frames.pending", "a stream neither ended nor failed after connection_lost")
        return
    head = stream.head
    if head is None:
        fail("h2_frames.headless", "a stream completed without a response head")
        return
    status = head.status_code
    if not 200 <= status <= 599:
        fail("h2_frames.status", f"a response completed with status {status}")
    if stream.head_only or status in (204, 304):
        if stream.received:
            kind = "HEAD" if stream.head_only else str(status)
            fail("h2_frames.no_body", f"a {kind} response has {stream.received} body bytes")
    elif stream.expected is not None and stream.received != stream.expected and error is None:
        fail(
            "h2_frames.length",
            f"{stream.received} body bytes for a Content-Length of {stream.expected}",
        )
    held = sum(len(chunk) for chunk in stream.chunks)
    if held != stream.buffered:
        fail("h2_frames.buffered", f"{held} bytes held, {stream.buffered} accounted")


def one_input(data: bytes) -> None:
    """Play a server sending ``data`` to a client with a few streams open."""
    source = FuzzInput(data)
    control = source.byte()
    seed = source.byte()
    limit = _LIMITS[source.byte() % len(_LIMITS)]
    payload = source.rest()
    loop = asyncio.new_event_loop()
    try:
        conn = HTTP2Connection(loop)
        transport = FakeTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        if not control & 1:
            _feed(conn, SERVER_SETTINGS)
        streams = []
        if not conn.closed:
            for index in range(1 + (control >> 1 & 3)):
                method = b"HEAD" if index == 0 and control & 8 else b"GET"
                stream = conn.start(_request(method), None, False, None, limit)
                if control & 16:
                    stream.whole = True  # read_all(): acknowledged as it arrives
                else:
                    stream.streaming = True  # iter_raw(): acknowledged as consumed
                streams.append(stream)
        for piece in split(payload, seed):
            if conn.closed:
                break
            _feed(conn, piece)
        conn.connection_lost(None)
        loop.run_until_complete(asyncio.sleep(0))  # scheduled flushes run
        for stream in streams:
            _check_stream(stream)
        if conn.ready.done() and not conn.ready.cancelled():
            conn.ready.exception()  # retrieved: no "never retrieved" noise
    finally:
        loop.close()
