"""HTTP/2 edge cases against a scripted h2 server (issue 7): GOAWAY, refusals, windows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import h2.settings
import hyperhttp
import pytest

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

_MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
_WINDOW = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE


async def _serve(server: ScriptedH2Server) -> AsyncIterator[ScriptedH2Server]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _path(request: ScriptedRequest) -> str:
    return request.headers[b":path"].decode()


async def test_goaway_mid_flight_replays_the_unprocessed_streams() -> None:
    """GOAWAY naming the second of four open streams: two complete, two are replayed.

    The first two streams complete on the first connection; the other two (a
    POST among them) were not processed and are replayed on a new connection.
    """
    held: list[ScriptedRequest] = []

    def handler(request: ScriptedRequest) -> None:
        if request.conn.index > 0 or _path(request) == "/warm":  # answered at once
            request.conn.respond(request.stream_id, body=f"second {_path(request)}".encode())
            return
        held.append(request)
        if len(held) == 4:
            conn = request.conn
            last = sorted(w.stream_id for w in held)[1]  # two processed, two not
            conn.goaway(last_stream_id=last)
            for waiting in held:
                if waiting.stream_id <= last:
                    conn.respond(waiting.stream_id, body=f"first {_path(waiting)}".encode())

    async for server in _serve(ScriptedH2Server(handler)):
        limits = hyperhttp.Limits(max_connections_per_host=2)
        async with hyperhttp.Client(http1=False, limits=limits) as client:
            await client.get(f"{server.url}/warm")  # learn the capacity: one connection
            calls = [
                client.get(f"{server.url}/a"),
                client.get(f"{server.url}/b"),
                client.post(f"{server.url}/c", content=b"body"),
                client.get(f"{server.url}/d"),
            ]
            responses = await asyncio.wait_for(asyncio.gather(*calls), 10)
        bodies = sorted(r.text for r in responses)
        firsts = [b for b in bodies if b.startswith("first")]
        seconds = [b for b in bodies if b.startswith("second")]
        assert len(firsts) == 2
        assert len(seconds) == 2
        assert len(server.connections) == 2


async def test_refused_stream_is_replayed_for_any_method() -> None:
    """RST_STREAM(REFUSED_STREAM): the server did not process it; a POST is replayed too."""
    refused: list[int] = []

    def handler(request: ScriptedRequest) -> None:
        if not refused:
            refused.append(request.stream_id)
            request.conn.refuse(request.stream_id)
            return
        request.conn.respond(request.stream_id, body=request.body or b"empty")

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            r = await asyncio.wait_for(client.post(f"{server.url}/x", content=b"payload"), 10)
        assert r.content == b"payload"
        assert len(server.requests) == 2


async def test_refusals_are_not_replayed_forever() -> None:
    """A server that refuses every stream: RemoteProtocolError after a few replays."""

    def handler(request: ScriptedRequest) -> None:
        request.conn.refuse(request.stream_id)

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match="REFUSED_STREAM"):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 10)
        assert 2 <= len(server.requests) <= 5


async def test_max_concurrent_streams_1_opens_more_connections() -> None:
    """A peer allowing one stream at a time: concurrent requests use several connections."""

    async def handler(request: ScriptedRequest) -> None:
        await asyncio.sleep(0.05)
        request.conn.respond(request.stream_id, body=b"done")

    async for server in _serve(ScriptedH2Server(handler, settings={_MAX_STREAMS: 1})):
        limits = hyperhttp.Limits(max_connections_per_host=3)
        async with hyperhttp.Client(http1=False, limits=limits) as client:
            await client.get(f"{server.url}/warm")
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(6))), 10
            )
        assert all(r.content == b"done" for r in responses)
        assert all(conn.peak_streams <= 1 for conn in server.connections)
        assert 2 <= len(server.connections) <= 3


async def test_tiny_windows_upload_waits_for_window_updates() -> None:
    """A 1 KiB stream window on the server: a 200 KiB upload goes through in window steps."""

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, body=b"%d" % len(request.body))

    async for server in _serve(ScriptedH2Server(handler, settings={_WINDOW: 1024})):
        payload = bytes(range(256)) * 800
        async with hyperhttp.Client(http1=False) as client:
            r = await asyncio.wait_for(client.post(f"{server.url}/up", content=payload), 10)
        assert r.content == b"%d" % len(payload)
        assert server.requests[0].body == payload


async def _big_stream() -> AsyncIterator[bytes]:
    for _ in range(64):
        yield b"u" * 16384


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "iterator"])
async def test_an_early_complete_response_ends_an_upload_waiting_for_window(streamed: bool) -> None:
    """RFC 9113 §8.1: the server answers before the body and stops granting window.

    The client waits for WINDOW_UPDATE that will never come; the complete
    response must end that wait at once (with no write timeout it hung for
    ever; the chaos suite met it as a WriteTimeout against nginx's ``return``).
    The server's RST_STREAM(NO_ERROR) after the response is not an error.
    """
    from h2.errors import ErrorCodes

    timers: list[asyncio.TimerHandle] = []

    def answer(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, status=413, body=b"too big")
        request.conn.h2.reset_stream(request.stream_id, ErrorCodes.NO_ERROR)
        request.conn.flush()

    def on_head(request: ScriptedRequest) -> None:
        if _path(request) == "/early":
            # Connection window for the next request; the stream's stays at 64 KiB.
            request.conn.h2.increment_flow_control_window(1 << 20)
            request.conn.flush()
            # The answer comes once the upload waits for the stream's window.
            timers.append(asyncio.get_running_loop().call_later(0.2, answer, request))

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, body=b"%d" % len(request.body))

    scripted = ScriptedH2Server(handler, acknowledge=False, on_head=on_head)
    async for server in _serve(scripted):
        timeout = hyperhttp.Timeout(5.0, write=None)
        async with hyperhttp.Client(http1=False, timeout=timeout) as client:
            content = _big_stream() if streamed else b"u" * (1024 * 1024)
            async with asyncio.timeout(2):
                r = await client.put(f"{server.url}/early", content=content)
            assert (r.status_code, r.content) == (413, b"too big")
            r = await client.put(f"{server.url}/next", content=b"small")  # the connection serves on
            assert r.content == b"5"
            assert len(server.connections) == 1
        for timer in timers:
            timer.cancel()


async def test_a_reset_ends_an_upload_waiting_for_window() -> None:
    """RST_STREAM while the upload waits for window: a prompt RemoteProtocolError, not a hang."""
    from h2.errors import ErrorCodes

    timers: list[asyncio.TimerHandle] = []

    def reset(request: ScriptedRequest) -> None:
        request.conn.h2.reset_stream(request.stream_id, ErrorCodes.INTERNAL_ERROR)
        request.conn.flush()

    def on_head(request: ScriptedRequest) -> None:
        timers.append(asyncio.get_running_loop().call_later(0.2, reset, request))

    scripted = ScriptedH2Server(lambda r: None, acknowledge=False, on_head=on_head)
    async for server in _serve(scripted):
        timeout = hyperhttp.Timeout(5.0, write=None)
        async with hyperhttp.Client(http1=False, timeout=timeout) as client:
            async with asyncio.timeout(2):
                with pytest.raises(hyperhttp.RemoteProtocolError, match="reset the stream"):
                    await client.put(f"{server.url}/up", content=b"u" * (1024 * 1024))
        for timer in timers:
            timer.cancel()


async def test_malformed_response_headers_are_remote_protocol_errors() -> None:
    """An uppercase field name (forbidden in HTTP/2) is a RemoteProtocolError, not a hang."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.h2.send_headers(
            request.stream_id, [(b":status", b"200"), (b"Bad-Name", b"x")], end_stream=True
        )
        conn.flush()

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 10)


async def test_abrupt_close_fails_in_flight_streams() -> None:
    """The server drops the connection with streams open: RemoteProtocolError for each."""

    def handler(request: ScriptedRequest) -> None:
        if _path(request) == "/warm":
            request.conn.respond(request.stream_id)
        elif len(request.conn.server.requests) == 4:  # /warm and three POSTs
            request.conn.abort()

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")  # one connection, its capacity known
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(client.post(f"{server.url}/{i}", content=b"x") for i in range(3)),
                    return_exceptions=True,
                ),
                10,
            )
        assert all(isinstance(r, hyperhttp.RemoteProtocolError) for r in results)


async def test_lowered_max_concurrent_streams_reaches_the_pool() -> None:
    """SETTINGS lowering MAX_CONCURRENT_STREAMS to 1 mid-connection reaches the pool.

    The pool stops putting more than one stream on that connection and opens
    other connections instead.
    """
    changed = asyncio.Event()

    async def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if _path(request) == "/lower":
            conn.h2.update_settings({_MAX_STREAMS: 1})
            conn.respond(request.stream_id)
            conn.peak_streams = conn.open_streams
            changed.set()
            return
        await asyncio.sleep(0.05)
        conn.respond(request.stream_id, body=b"done")

    async for server in _serve(ScriptedH2Server(handler)):
        limits = hyperhttp.Limits(max_connections_per_host=3)
        async with hyperhttp.Client(http1=False, limits=limits) as client:
            await client.get(f"{server.url}/lower")
            await asyncio.wait_for(changed.wait(), 5)
            await client.get(f"{server.url}/settle")  # the SETTINGS frame has been read
            first = server.connections[0]
            first.peak_streams = 0
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(6))), 10
            )
        assert all(r.content == b"done" for r in responses)
        assert first.peak_streams <= 1
        assert len(server.connections) >= 2


async def test_pings_are_answered() -> None:
    """A PING from the server gets its ACK with the same payload."""

    async def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.h2.ping(b"12345678")
        conn.flush()
        for _ in range(100):
            if conn.ping_acks:
                break
            await asyncio.sleep(0.01)
        conn.respond(request.stream_id, body=b"%d" % len(conn.ping_acks))

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            r = await asyncio.wait_for(client.get(f"{server.url}/ping"), 10)
        assert r.content == b"1"
        assert server.connections[0].ping_acks == [b"12345678"]


async def test_cancelling_a_request_sends_rst_stream_cancel() -> None:
    """A cancelled request resets its stream with CANCEL; the connection serves on."""

    async def handler(request: ScriptedRequest) -> None:
        if _path(request) == "/hang":
            return  # never answered
        request.conn.respond(request.stream_id, body=b"fine")

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")
            hang = asyncio.ensure_future(client.get(f"{server.url}/hang"))
            for _ in range(100):
                if len(server.requests) == 2:
                    break
                await asyncio.sleep(0.01)
            hang.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hang
            r = await asyncio.wait_for(client.get(f"{server.url}/after"), 10)
            assert r.content == b"fine"
        conn = server.connections[0]
        assert len(server.connections) == 1
        assert conn.resets == [(server.requests[1].stream_id, 8)]  # 8: CANCEL


async def test_a_lost_connection_is_replaced() -> None:
    """After the server drops a connection, the next request opens a new one."""

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, body=b"ok")
        if request.conn.index == 0:
            request.conn.abort()

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            first = await asyncio.wait_for(client.get(f"{server.url}/1"), 10)
            await asyncio.sleep(0.05)
            second = await asyncio.wait_for(client.get(f"{server.url}/2"), 10)
        assert first.content == second.content == b"ok"
        assert len(server.connections) == 2


async def test_content_length_mismatch_is_a_remote_protocol_error() -> None:
    """DATA longer than the announced content-length: RemoteProtocolError."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.h2.send_headers(request.stream_id, [(b":status", b"200"), (b"content-length", b"2")])
        conn.h2.send_data(request.stream_id, b"too long", end_stream=True)
        conn.flush()

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 10)


async def test_hpack_garbage_is_a_remote_protocol_error() -> None:
    """A HEADERS frame whose block is not valid HPACK: RemoteProtocolError, no hang."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.flush()
        block = b"\xff\xff\xff\xff\xff"  # an index far past any table
        frame = len(block).to_bytes(3, "big") + b"\x01\x05"  # HEADERS, END_STREAM|END_HEADERS
        frame += request.stream_id.to_bytes(4, "big") + block
        assert conn.transport is not None
        conn.transport.write(frame)

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 10)


async def test_a_malformed_response_resets_only_its_stream() -> None:
    """A response with a connection-specific field fails alone (PROTOCOL_ERROR reset)."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if _path(request) == "/bad":
            conn.h2.send_headers(
                request.stream_id,
                [(b":status", b"200"), (b"connection", b"close")],
                end_stream=False,  # the client must reset the stream itself
            )
            conn.flush()
            return
        conn.respond(request.stream_id, body=b"good")

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")
            with pytest.raises(hyperhttp.RemoteProtocolError, match="connection-specific"):
                await asyncio.wait_for(client.get(f"{server.url}/bad"), 10)
            r = await asyncio.wait_for(client.get(f"{server.url}/after"), 10)
        assert r.content == b"good"
        assert len(server.connections) == 1
        bad = server.requests[1].stream_id
        assert (bad, 1) in server.connections[0].resets  # 1: PROTOCOL_ERROR


async def test_body_shorter_than_its_content_length() -> None:
    """END_STREAM before Content-Length bytes came: RemoteProtocolError."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.h2.send_headers(request.stream_id, [(b":status", b"200"), (b"content-length", b"10")])
        conn.h2.send_data(request.stream_id, b"short", end_stream=True)
        conn.flush()

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match="shorter"):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 10)


async def test_a_server_overrunning_the_stream_window_is_reset() -> None:
    """DATA beyond the window we granted: the stream fails and is reset with FLOW_CONTROL_ERROR."""
    from hyperhttp._http2 import STREAM_WINDOW

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if _path(request) != "/flood":
            conn.respond(request.stream_id, body=b"fine")
            return
        conn.h2.send_headers(request.stream_id, [(b":status", b"200")])
        conn.flush()
        assert conn.transport is not None
        chunk = 16384
        frame = chunk.to_bytes(3, "big") + b"\x00\x00" + request.stream_id.to_bytes(4, "big")
        for _ in range(STREAM_WINDOW // chunk + 1):  # written raw: h2 would stop at the window
            conn.transport.write(frame + b"f" * chunk)

    async def read_slowly(client: hyperhttp.Client, url: str) -> None:
        async with client.stream("GET", url) as r:
            await asyncio.sleep(0.5)  # read nothing: the window fills
            async for _ in r.aiter_raw():
                pass

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match="window"):
                await read_slowly(client, f"{server.url}/flood")
        assert any(code == 3 for _, code in server.connections[0].resets)  # FLOW_CONTROL_ERROR


async def test_many_responses_in_one_read() -> None:
    """Responses of every shape for four streams arrive in one write; each is right.

    Plain body, body with trailers, 103 before the final head, and no body at all:
    the client takes DATA before h2 has read the HEADERS of the same read.
    """
    held: list[ScriptedRequest] = []

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if _path(request) == "/warm":
            conn.respond(request.stream_id)
            return
        held.append(request)
        if len(held) < 4:
            return
        h = conn.h2
        by_path = {_path(r): r.stream_id for r in held}
        s = by_path["/plain"]
        h.send_headers(s, [(b":status", b"200"), (b"content-length", b"5")])
        h.send_data(s, b"plain", end_stream=True)
        s = by_path["/trailers"]
        h.send_headers(s, [(b":status", b"200")])
        h.send_data(s, b"with trailers")
        h.send_headers(s, [(b"x-checksum", b"abc")], end_stream=True)
        s = by_path["/early"]
        h.send_headers(s, [(b":status", b"103"), (b"link", b"</a>; rel=preload")])
        h.send_headers(s, [(b":status", b"200")])
        h.send_data(s, b"after 103", end_stream=True)
        s = by_path["/empty"]
        h.send_headers(s, [(b":status", b"204")], end_stream=True)
        conn.open_streams -= len(held)
        conn.flush()  # all of it in one write

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")
            paths = ["/plain", "/trailers", "/early", "/empty"]
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get(f"{server.url}{p}") for p in paths)), 10
            )
            after = await asyncio.wait_for(client.get(f"{server.url}/warm"), 10)
        assert [r.status_code for r in responses] == [200, 200, 200, 204]
        assert [r.content for r in responses] == [b"plain", b"with trailers", b"after 103", b""]
        assert after.content == b"ok"
        assert len(server.connections) == 1


async def test_keepalive_expiry_and_request_recycling_apply_to_http2() -> None:
    """An idle HTTP/2 connection past keepalive_expiry is closed; so is one past its requests."""

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, body=b"%d" % request.conn.index)

    async for server in _serve(ScriptedH2Server(handler)):
        limits = hyperhttp.Limits(keepalive_expiry=0.2)
        async with hyperhttp.Client(http1=False, limits=limits) as client:
            assert (await client.get(f"{server.url}/1")).content == b"0"
            await asyncio.sleep(0.6)
            assert (await client.get(f"{server.url}/2")).content == b"1"
        assert server.connections[0].transport is None  # the expired one was closed
        limits = hyperhttp.Limits(max_requests_per_connection=2)
        async with hyperhttp.Client(http1=False, limits=limits) as client:
            bodies = [(await client.get(f"{server.url}/{i}")).content for i in range(4)]
        assert bodies == [b"2", b"2", b"3", b"3"]


async def test_frames_cut_at_every_byte_and_a_frame_larger_than_a_read() -> None:
    """Responses arriving a few bytes per read, and a frame as large as we allow, read right.

    The connection reads into its own buffer; frames cut anywhere (in the
    9-byte header, in a DATA payload, in a HEADERS block) are completed by
    the next reads, and a frame larger than the buffer (here an extension
    frame, which must be ignored) grows it.
    """
    body = bytes(range(256)) * 40  # 10 KiB in two DATA frames, cut many times
    from hyperhttp._http2.frames import MAX_FRAME_SIZE, READ_BUFFER

    big = b"x" * MAX_FRAME_SIZE  # with its 9-byte header, larger than the read buffer
    assert MAX_FRAME_SIZE + 9 > READ_BUFFER

    async def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        h = conn.h2
        head = [(b":status", b"200"), (b"x-path", _path(request).encode())]
        h.send_headers(request.stream_id, head)
        h.send_data(request.stream_id, body[:6000])
        h.send_data(request.stream_id, body[6000:], end_stream=True)
        conn.open_streams -= 1
        wire = h.data_to_send()
        piece = 7
        if _path(request) == "/big-frame":
            # An unknown frame type (0xF0) on the connection, before the response.
            wire = len(big).to_bytes(3, "big") + b"\xf0\x00\x00\x00\x00\x00" + big + wire
            piece = 65_000
        assert conn.transport is not None
        for at in range(0, len(wire), piece):
            conn.transport.write(wire[at : at + piece])
            await asyncio.sleep(0)  # a piece per read, most of the time

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            small = await asyncio.wait_for(client.get(f"{server.url}/small"), 10)
            framed = await asyncio.wait_for(client.get(f"{server.url}/big-frame"), 10)
            again = await asyncio.wait_for(client.get(f"{server.url}/again"), 10)
        for response, path in ((small, "/small"), (framed, "/big-frame"), (again, "/again")):
            assert response.headers["x-path"] == path
            assert response.content == body
        assert len(server.connections) == 1


@pytest.mark.parametrize("fast", [True, False])
async def test_h2_bookkeeping_paths(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams opened and ended by our fast bookkeeping or by h2's public API alike.

    With ``fast`` the HEADERS frames are written by us and DATA's END_STREAM
    moves h2's state directly; without it (an h2 lacking the internals used)
    every path is h2's own. A request head larger than one frame always takes
    h2's path (HEADERS + CONTINUATION), in order with the others.
    """
    from hyperhttp._http2.compat import H2Core

    assert H2Core.fast  # the installed h2 has what the fast paths use
    monkeypatch.setattr(H2Core, "fast", fast)

    def handler(request: ScriptedRequest) -> None:
        size = int(_path(request).rsplit("/", 1)[1])
        body = b"%d;" % request.stream_id + b"b" * size
        request.conn.respond(request.stream_id, body=body)

    async for server in _serve(ScriptedH2Server(handler)):
        async with hyperhttp.Client(http1=False) as client:
            sizes = [0, 10, 70_000, 5, 200_000, 1]
            big = {"x-big": "h" * 40_000}  # larger than the server's 16 KiB frames
            responses = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        client.get(f"{server.url}/size/{size}", headers=big if i == 2 else None)
                        for i, size in enumerate(sizes)
                    )
                ),
                10,
            )
            again = await asyncio.wait_for(client.get(f"{server.url}/size/3"), 10)
        for response, size in zip(responses, sizes, strict=True):
            assert response.status_code == 200
            assert response.content.partition(b";")[2] == b"b" * size
        assert again.content.endswith(b";bbb")
        assert len(server.requests) == len(sizes) + 1
        assert [len(r.headers.get(b"x-big", b"")) for r in server.requests].count(40_000) == 1
        assert len(server.connections) == 1


async def test_receive_windows_are_configurable() -> None:
    """The client's SETTINGS and connection WINDOW_UPDATE carry the windows asked for."""
    from hyperhttp._http2 import CONNECTION_WINDOW, STREAM_WINDOW

    def handler(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id)

    for stream, connection in ((STREAM_WINDOW, CONNECTION_WINDOW), (1 << 20, 3 << 20)):
        async for server in _serve(ScriptedH2Server(handler)):
            async with hyperhttp.Client(
                http1=False, http2_stream_window=stream, http2_connection_window=connection
            ) as client:
                await client.get(f"{server.url}/")
            peer = server.connections[0].h2
            assert peer.remote_settings.initial_window_size == stream
            # The server's view of what it may send on the connection.
            assert peer.outbound_flow_control_window == connection - len(b"ok")
    async for server in _serve(ScriptedH2Server(handler)):  # the defaults
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/")
        peer = server.connections[0].h2
        assert peer.remote_settings.initial_window_size == STREAM_WINDOW
        assert peer.outbound_flow_control_window == CONNECTION_WINDOW - len(b"ok")


@pytest.mark.parametrize(
    "bad",
    [
        {"http2_stream_window": 1000},
        {"http2_connection_window": 2**31},
        {"http2_stream_window": True},
        {"http2_connection_window": 1.5e6},
    ],
)
async def test_receive_windows_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="65535 to 2\\*\\*31-1"):
        hyperhttp.Client(**bad)  # type: ignore[arg-type]
