"""HTTP/2 responses held to the same rules as HTTP/1.1 (issue 15, defects 4, 10 and 19).

Scripted peers send what real servers rarely do: DATA after a 1xx head, DATA
on responses that have no content, statuses outside 100-599, absurd
Content-Length values, header blocks larger than we advertised, HTTP/1.1
bytes where the HTTP/2 preface belongs. Each is a typed error for the
request it concerns; a stream error leaves the other streams alone.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import tracemalloc
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.h2_hostile import (
    CONTINUATION,
    END_HEADERS,
    END_STREAM,
    HEADERS,
    PUSH_PROMISE,
)
from tests.servers.h2_hostile import frame as h2_frame
from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from tests.servers.fixtures import TLSSetup

pytestmark = pytest.mark.asyncio

_HTTP11_REFUSAL = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def _http11_only(context: ssl.SSLContext | None) -> AsyncIterator[str]:
    """Serve an HTTP/1.1 400 to anything, then close (ALPN h2 if TLS); yield the URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(100)
            writer.write(_HTTP11_REFUSAL)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_http11_bytes_where_the_http2_preface_belongs_h2c() -> None:
    """Prior knowledge (h2c) to an HTTP/1.1 server: the error says what the server sent."""
    async for url in _http11_only(None):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.ConnectError) as info:
                await asyncio.wait_for(client.get(f"{url}/"), 10)
    message = str(info.value)
    assert "did not start HTTP/2" in message
    assert "SETTINGS" in message
    assert "HTTP/1.1 400" in message


async def test_http11_bytes_after_alpn_chose_h2(tls: TLSSetup) -> None:
    """ALPN said h2, then the server spoke HTTP/1.1: the same clear error."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["h2"])
    async for url in _http11_only(context):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            with pytest.raises(
                hyperhttp.ConnectError, match=r"did not start HTTP/2.*HTTP/1\.1 400"
            ):
                await asyncio.wait_for(client.get(f"{url}/"), 10)


# ---------------------------------------------------------------- defect 10: framing


def _path(request: ScriptedRequest) -> str:
    return request.headers[b":path"].decode()


async def _bad_and_good(
    misbehave: Callable[[ScriptedRequest], None], *, method: str = "GET"
) -> tuple[BaseException | hyperhttp.Response, hyperhttp.Response, ScriptedH2Server]:
    """One stream answered by ``misbehave`` while another stays open; then both finish.

    Returns the outcome of the bad request, the good response (on the same
    connection, answered after the bad one), and the server.
    """
    waiting: list[ScriptedRequest] = []

    def handler(request: ScriptedRequest) -> None:
        if _path(request) == "/warm":
            request.conn.respond(request.stream_id)
        elif _path(request) == "/good":
            waiting.append(request)
        else:
            misbehave(request)
            for good in waiting:  # after the bad answer: the connection still serves
                good.conn.respond(good.stream_id, body=b"good")

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")  # one connection, its capacity known
            good = asyncio.ensure_future(client.get(f"{server.url}/good"))
            for _ in range(200):
                if server.requests[-1:] and _path(server.requests[-1]) == "/good":
                    break
                await asyncio.sleep(0.005)
            bad = await asyncio.wait_for(
                asyncio.gather(client.request(method, f"{server.url}/bad"), return_exceptions=True),
                10,
            )
            good_response = await asyncio.wait_for(good, 10)
    finally:
        await server.stop()
    return bad[0], good_response, server


def _assert_stream_error(
    outcome: BaseException | hyperhttp.Response,
    good: hyperhttp.Response,
    server: ScriptedH2Server,
    match: str,
) -> None:
    assert isinstance(outcome, hyperhttp.RemoteProtocolError), outcome
    assert re.search(match, str(outcome)), str(outcome)
    assert good.content == b"good"  # the other stream is unaffected
    assert len(server.connections) == 1  # a stream error: no GOAWAY, no new connection


@pytest.mark.parametrize("same_read", [True, False])
async def test_data_after_a_1xx_head_is_a_stream_error(same_read: bool) -> None:
    """HEADERS 103, then DATA: malformed (RFC 9113 §8.1), never part of the body."""

    async def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        frames = [
            conn.headers_frame(sid, [(b":status", b"103"), (b"link", b"</a>; rel=preload")]),
            conn.data_frame(sid, b"early"),
            conn.headers_frame(sid, [(b":status", b"200")]),
            conn.data_frame(sid, b"body", end_stream=True),
        ]
        if same_read:
            conn.write(b"".join(frames))
            return
        for frame in frames:
            conn.write(frame)
            await asyncio.sleep(0.02)

    def start(request: ScriptedRequest) -> None:
        task = asyncio.ensure_future(misbehave(request))
        request.conn.server.tasks.add(task)

    outcome, good, server = await _bad_and_good(start)
    _assert_stream_error(outcome, good, server, "DATA before the response head")


@pytest.mark.parametrize(("method", "status"), [("HEAD", b"200"), ("GET", b"204"), ("GET", b"304")])
async def test_data_on_a_response_without_content_is_a_stream_error(
    method: str, status: bytes
) -> None:
    """HEAD, 204 and 304 have no content (RFC 9110 §6.4.1): DATA on them is malformed."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", status), (b"content-length", b"5")]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"hello", end_stream=True))

    outcome, good, server = await _bad_and_good(misbehave, method=method)
    _assert_stream_error(outcome, good, server, "no content")


async def test_an_empty_end_on_a_response_without_content_is_fine() -> None:
    """HEAD answered with a Content-Length and an empty DATA frame ending it: no error."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", b"200"), (b"content-length", b"5")]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"", end_stream=True))

    outcome, good, _ = await _bad_and_good(misbehave, method="HEAD")
    assert isinstance(outcome, hyperhttp.Response)
    assert outcome.content == b""
    assert outcome.headers["content-length"] == "5"
    assert good.content == b"good"


@pytest.mark.parametrize("status", [b"000", b"099", b"600", b"999", b"20a", b"2000", b"+20"])
async def test_status_outside_100_to_599_is_a_stream_error(status: bytes) -> None:
    """:status is three digits, 100 to 599 (RFC 9110 §15)."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        conn.write(conn.headers_frame(sid, [(b":status", status)], end_stream=True))

    outcome, good, server = await _bad_and_good(misbehave)
    _assert_stream_error(outcome, good, server, "invalid :status")


@pytest.mark.parametrize("length", [b"9" * 5000, b"1" * 20, b"-1", b"1 ", b"0x10"])
async def test_absurd_content_length_is_a_stream_error(length: bytes) -> None:
    """A 5 000-digit Content-Length: a typed stream error, and nothing raised into the loop."""
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", b"200"), (b"content-length", length)]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"x", end_stream=True))

    try:
        outcome, good, server = await _bad_and_good(misbehave)
    finally:
        asyncio.get_running_loop().set_exception_handler(None)
    _assert_stream_error(outcome, good, server, "invalid Content-Length")
    assert not loop_errors


# ---------------------------------------------------------------- defect 4: header blocks

_REFUSED_BLOCK = "header block larger than|larger than our SETTINGS_MAX_FRAME_SIZE"


def _watch_the_loop() -> tuple[asyncio.Task[None], list[float]]:
    """Start a ticker recording the longest gap between its ticks (an event-loop stall)."""
    gaps = [0.0]

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        for _ in range(100_000):
            await asyncio.sleep(0.005)
            now = loop.time()
            gaps[0] = max(gaps[0], now - last)
            last = now

    return asyncio.ensure_future(tick()), gaps


async def _paced(request: ScriptedRequest, frames: Iterator[bytes | memoryview]) -> None:
    """Write ``frames`` without queueing more than 1 MiB at the server (its memory is ours)."""
    transport = request.conn.transport
    for frame in frames:
        for _ in range(2000):
            if transport is None or transport.is_closing():
                return
            if transport.get_write_buffer_size() < 1 << 20:
                break
            await asyncio.sleep(0.002)
        else:
            return
        transport.write(frame)
        await asyncio.sleep(0)


async def _fails_within_bounds(
    frames: Callable[[ScriptedRequest], Iterator[bytes | memoryview]], match: str
) -> tuple[float, int]:
    """Request /bad (answered with ``frames``): RemoteProtocolError; return the stall and memory."""

    def handler(request: ScriptedRequest) -> None:
        if _path(request) == "/warm":
            request.conn.respond(request.stream_id)
            return
        request.conn.flush()
        task = asyncio.ensure_future(_paced(request, frames(request)))
        request.conn.server.tasks.add(task)

    server = await ScriptedH2Server(handler).start()
    ticker, gaps = _watch_the_loop()
    try:
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")
            tracemalloc.start()
            try:
                with pytest.raises(hyperhttp.RemoteProtocolError, match=match):
                    await asyncio.wait_for(client.get(f"{server.url}/bad"), 30)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    finally:
        ticker.cancel()
        await server.stop()
    return gaps[0], peak


@pytest.mark.parametrize("first", ["HEADERS", "PUSH_PROMISE"])
@pytest.mark.parametrize(("size", "count"), [(1 << 20, 40), (60 * 1024, 63)])
async def test_a_header_block_is_bounded_before_it_is_buffered(
    first: str, size: int, count: int
) -> None:
    """HEADERS (or PUSH_PROMISE) + CONTINUATION frames adding up far past our limit.

    40 frames of 1 MiB (legal frames for a client advertising 16 MiB) or 63
    of 60 KiB: the client stops at SETTINGS_MAX_HEADER_LIST_SIZE, never
    holding the block (RFC 9113 §6.5.2, §10.5.1); a connection error.
    """

    def frames(request: ScriptedRequest) -> Iterator[bytes]:
        sid = request.stream_id
        if first == "HEADERS":
            yield h2_frame(HEADERS, 0, sid, b"\x88" + b"\x00\x00" * 8000)
        else:  # a promised stream 2, then the block
            yield h2_frame(PUSH_PROMISE, 0, sid, b"\x00\x00\x00\x02" + b"\x00\x00" * 8000)
        for _ in range(count):
            yield h2_frame(CONTINUATION, 0, sid, b"\x00" * size)
        yield h2_frame(CONTINUATION, END_HEADERS, sid, b"\x00\x00")

    stall, peak = await _fails_within_bounds(frames, _REFUSED_BLOCK)
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB held for one header block"
    assert stall < 1.0


async def test_a_huge_huffman_string_never_reaches_the_decoder() -> None:
    """One HEADERS frame of 16 MiB - 1 holding a Huffman string: refused, no multi-second stall."""
    # 'a' is 00011 in the Huffman code (RFC 7541 Appendix B): 8 of them fill 5 octets.
    eight_a = bytes((0x18, 0xC6, 0x31, 0x8C, 0x63))
    room = (1 << 24) - 1 - 1 - 2 - 5  # the frame, less the field's octets before the string
    huffman = eight_a * (room // 5)
    length = len(huffman) - 127  # 7-bit prefix integer (RFC 7541 §5.1), H bit set
    prefix = bytearray((0xFF,))
    while length >= 128:
        prefix.append((length & 0x7F) | 0x80)
        length >>= 7
    prefix.append(length)
    block = b"\x88" + b"\x00\x01x" + bytes(prefix) + huffman  # :status 200, x: <huffman>

    payload = memoryview(block)  # built before memory is measured: the client's is

    def frames(request: ScriptedRequest) -> Iterator[bytes | memoryview]:
        yield len(block).to_bytes(3, "big") + b"\x01\x05" + request.stream_id.to_bytes(4, "big")
        for at in range(0, len(block), 1 << 20):
            yield payload[at : at + (1 << 20)]

    stall, peak = await _fails_within_bounds(frames, _REFUSED_BLOCK)
    assert stall < 1.0, f"the event loop stalled {stall:.2f} s"
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB held for one header block"


async def _one_bad_head(fields: Callable[[ScriptedRequest], bytes]) -> None:
    def misbehave(request: ScriptedRequest) -> None:
        request.conn.write(fields(request))

    outcome, good, server = await _bad_and_good(misbehave)
    _assert_stream_error(outcome, good, server, "header list larger than")


async def test_a_small_block_decoding_past_the_limit_is_a_stream_error() -> None:
    """2 000 references to one 100-byte table entry: 2 KiB on the wire, 260 KiB decoded.

    The block was decoded (the HPACK state stays right), so only its stream fails.
    """

    def fields(request: ScriptedRequest) -> bytes:
        head = [(b":status", b"200")] + [(b"x-many", b"v" * 100)] * 2000
        return request.conn.headers_frame(request.stream_id, head, end_stream=True)

    await _one_bad_head(fields)


async def test_a_huffman_string_decoding_past_the_limit_is_a_stream_error() -> None:
    """A 50 KiB Huffman string (80 KiB decoded) in a block under the limit: its stream fails."""
    huffman = bytes((0x18, 0xC6, 0x31, 0x8C, 0x63)) * (50 * 1024 // 5)

    def fields(request: ScriptedRequest) -> bytes:
        length = len(huffman) - 127
        prefix = bytearray((0xFF,))
        while length >= 128:
            prefix.append((length & 0x7F) | 0x80)
            length >>= 7
        prefix.append(length)
        block = b"\x88\x00\x01x" + bytes(prefix) + huffman
        return h2_frame(HEADERS, END_STREAM | END_HEADERS, request.stream_id, block)

    await _one_bad_head(fields)


async def test_the_limits_are_advertised() -> None:
    """Our SETTINGS carry the header list and frame sizes the reader enforces."""
    from hyperhttp._http2.fields import MAX_HEADER_LIST_SIZE
    from hyperhttp._http2.frames import MAX_FRAME_SIZE

    assert 64 * 1024 <= MAX_HEADER_LIST_SIZE <= 256 * 1024
    assert 16 * 1024 <= MAX_FRAME_SIZE <= 1 << 20

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id)

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/")
        peer = server.connections[0].h2.remote_settings
        assert peer.max_header_list_size == MAX_HEADER_LIST_SIZE
        assert peer.max_frame_size == MAX_FRAME_SIZE
    finally:
        await server.stop()


@pytest.mark.parametrize("split", ["over-reads", "empty-headers-frame", "one-read"])
async def test_a_head_in_continuation_frames_then_its_body(split: str) -> None:
    """HEADERS + CONTINUATION, then DATA: a good response however the reads fall."""

    async def answer(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", b"200"), (b"x-long", b"v" * 3000), (b"content-length", b"4")]
        block = conn.h2.encoder.encode(head)
        cut = 0 if split == "empty-headers-frame" else len(block) // 2
        first = h2_frame(HEADERS, 0, sid, block[:cut])
        rest = h2_frame(CONTINUATION, END_HEADERS, sid, block[cut:]) + conn.data_frame(
            sid, b"body", end_stream=True
        )
        if split == "over-reads":
            conn.write(first)
            await asyncio.sleep(0.05)
            conn.write(rest)
        else:
            conn.write(first + rest)

    def handler(request: ScriptedRequest) -> None:
        task = asyncio.ensure_future(answer(request))
        request.conn.server.tasks.add(task)

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            for _ in range(2):
                r = await asyncio.wait_for(client.get(f"{server.url}/"), 10)
                assert r.status_code == 200
                assert r.content == b"body"
                assert r.headers["x-long"] == "v" * 3000
        assert len(server.connections) == 1
    finally:
        await server.stop()
