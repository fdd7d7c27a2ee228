"""The HTTP/2 receive path made cheap for big bodies keeps its rules (issue 16, scenario 7).

A response head in one HEADERS frame that opens with an indexed final
``:status`` is decoded by the connection itself, not by h2; h2's state is
moved as h2 would move it. These tests hold what that must not change:
HPACK blocks decoded in wire order whichever path takes each (RFC 7541
§2.2), the heads h2 still judges (1xx, padded, PRIORITY, trailers), a
block that does not decode being a COMPRESSION_ERROR (RFC 9113 §4.3), and
window updates sent only where the server may still send: none for a stream
whose declared body is complete.

The peer is the raw-frame server of tests/servers/h2_hostile.py: each test
writes its frames in one write, so that the client reads them together.
"""

from __future__ import annotations

import asyncio

import hyperhttp
import hyperhttp._http2
import pytest

from tests.servers.fixtures import pooled_connections
from tests.servers.h2_hostile import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    HEADERS,
    PADDED,
    HostilePeer,
    HostileServer,
    Script,
    frame,
)

pytestmark = pytest.mark.asyncio

_COMPRESSION_ERROR = 0x9
_PRIORITY_FLAG = 0x20  # HEADERS carries a priority (RFC 9113 §6.2)
# HPACK by hand (RFC 7541 §6): indexed fields, and literals with incremental indexing.
_STATUS_200 = b"\x88"  # static entry 8
_STATUS_204 = b"\x89"  # static entry 9
_NEWEST = b"\xbe"  # dynamic entry 62: the field added last


def _literal(name: bytes, value: bytes) -> bytes:
    """Encode a literal field with incremental indexing and a new name (RFC 7541 §6.2.1)."""
    return b"\x40" + bytes((len(name),)) + name + bytes((len(value),)) + value


async def _run(
    script: Script, paths: list[str]
) -> tuple[list[hyperhttp.Response | BaseException], HostileServer]:
    """Send GETs for ``paths`` at once to a peer running ``script``; return their outcomes."""
    server = HostileServer([script])
    await server.start()
    try:
        async with hyperhttp.Client(
            http1=False, http2=True, timeout=hyperhttp.Timeout(5.0)
        ) as client:
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    *(client.get(f"{server.url}{path}") for path in paths), return_exceptions=True
                ),
                15,
            )
            if not any(isinstance(o, BaseException) for o in outcomes):
                after = await asyncio.wait_for(client.get(f"{server.url}/after"), 10)
                assert after.content == b"well-behaved /after"
    finally:
        await server.stop()
    assert not server.errors, server.errors
    return outcomes, server


def _content(outcome: hyperhttp.Response | BaseException) -> bytes:
    assert isinstance(outcome, hyperhttp.Response), repr(outcome)
    return outcome.content


@pytest.mark.parametrize("first", ["informational", "padded", "priority", "continued"])
async def test_a_head_left_to_h2_is_decoded_before_a_later_one_in_the_same_read(
    first: str,
) -> None:
    """The first head goes to h2 and adds a field to the HPACK table; the second refers to it.

    Both in one write: decoded out of order (the second, which looks like a
    head the connection decodes itself, before h2 reads the first), the
    second would name a table entry that does not exist yet.
    """
    added = _literal(b"x-token", b"abc")

    async def script(peer: HostilePeer) -> None:
        one, two = await peer.next_streams(2)
        if first == "informational":  # 103 Early Hints, then the final head by the fast path
            wire = frame(HEADERS, END_HEADERS, one, b"\x08\x03103" + added)
            wire += frame(HEADERS, END_HEADERS, one, _STATUS_200)
        elif first == "padded":
            payload = b"\x02" + _STATUS_200 + added + b"\x00\x00"
            wire = frame(HEADERS, END_HEADERS | PADDED, one, payload)
        elif first == "priority":
            payload = b"\x00\x00\x00\x00\x0f" + _STATUS_200 + added
            wire = frame(HEADERS, END_HEADERS | _PRIORITY_FLAG, one, payload)
        else:  # HEADERS + CONTINUATION
            wire = frame(HEADERS, 0, one, _STATUS_200)
            wire += frame(CONTINUATION, END_HEADERS, one, added)
        wire += frame(DATA, END_STREAM, one, b"one")
        wire += frame(HEADERS, END_HEADERS, two, _STATUS_200 + _NEWEST)
        wire += frame(DATA, END_STREAM, two, b"two")
        await peer.send(wire)
        await peer.serve()

    outcomes, _ = await _run(script, ["/one", "/two"])
    one, two = outcomes
    assert _content(one) == b"one"
    assert _content(two) == b"two"
    assert isinstance(two, hyperhttp.Response)
    assert two.headers["x-token"] == "abc"


@pytest.mark.parametrize("second", ["padded", "trailers"])
async def test_a_head_decoded_by_the_connection_comes_before_a_later_one_for_h2(
    second: str,
) -> None:
    """The other order: the first head (the fast path) adds the field a later block refers to."""

    async def script(peer: HostilePeer) -> None:
        one, two = await peer.next_streams(2)
        wire = frame(HEADERS, END_HEADERS, one, _STATUS_200 + _literal(b"x-token", b"abc"))
        if second == "padded":
            wire += frame(DATA, END_STREAM, one, b"one")
            payload = b"\x01" + _STATUS_200 + _NEWEST + b"\x00"
            wire += frame(HEADERS, END_HEADERS | PADDED, two, payload)
            wire += frame(DATA, END_STREAM, two, b"two")
        else:  # trailers on the first stream refer to it; the second is plain
            wire += frame(DATA, 0, one, b"one")
            wire += frame(HEADERS, END_HEADERS | END_STREAM, one, _NEWEST)
            wire += frame(HEADERS, END_HEADERS, two, _STATUS_200 + _NEWEST)
            wire += frame(DATA, END_STREAM, two, b"two")
        await peer.send(wire)
        await peer.serve()

    outcomes, _ = await _run(script, ["/one", "/two"])
    one, two = outcomes
    assert _content(one) == b"one"
    assert _content(two) == b"two"
    assert isinstance(one, hyperhttp.Response)
    assert isinstance(two, hyperhttp.Response)
    assert one.headers["x-token"] == "abc"
    if second == "padded":
        assert two.headers["x-token"] == "abc"


async def test_heads_with_end_stream_end_their_streams() -> None:
    """204 and an empty 200, each a single HEADERS frame with END_STREAM: done, reusable."""

    async def script(peer: HostilePeer) -> None:
        one, two = await peer.next_streams(2)
        wire = frame(HEADERS, END_HEADERS | END_STREAM, one, _STATUS_204)
        wire += frame(HEADERS, END_HEADERS | END_STREAM, two, _STATUS_200 + b"\x0f\x0d\x010")
        await peer.send(wire)
        await peer.serve()

    outcomes, server = await _run(script, ["/one", "/two"])
    assert [o.status_code for o in outcomes if isinstance(o, hyperhttp.Response)] == [204, 200]
    assert [_content(o) for o in outcomes] == [b"", b""]
    assert len(server.peers) == 1  # the connection served /after too


async def test_a_head_that_does_not_decode_is_a_compression_error() -> None:
    """RFC 9113 §4.3: a field block that fails to decode is a COMPRESSION_ERROR.

    The block opens like any response (an indexed :status 200), then names
    a table entry that does not exist.
    """

    async def script(peer: HostilePeer) -> None:
        (one,) = await peer.next_streams(1)
        await peer.send(frame(HEADERS, END_HEADERS, one, _STATUS_200 + b"\xff\x20"))
        await peer.wait_for(lambda: peer.goaway is not None)

    outcomes, server = await _run(script, ["/one"])
    assert isinstance(outcomes[0], hyperhttp.RemoteProtocolError), repr(outcomes[0])
    assert server.peers[0].goaway is not None
    assert server.peers[0].goaway[1] == _COMPRESSION_ERROR


@pytest.mark.parametrize(
    ("declared", "expected_updates"),
    [(True, 0), (False, 1)],
    ids=["content-length", "no-length"],
)
async def test_no_stream_window_update_once_the_declared_body_is_in(
    declared: bool, expected_updates: int
) -> None:
    """A 1 MiB body is half the stream window: the update it earns is due as its last byte comes.

    With a Content-Length the server has nothing more to send on the stream:
    no WINDOW_UPDATE for it. Without one the client cannot know, and sends it.
    The connection's own update (at half of its 4 MiB) is not due after 1 MiB.
    """
    body = bytes(range(256)) * 4096  # 1 MiB
    piece = 16 * 1024

    async def script(peer: HostilePeer) -> None:
        (one,) = await peer.next_streams(1)
        fields = _STATUS_200 + (b"\x0f\x0d\x071048576" if declared else b"")
        wire = frame(HEADERS, END_HEADERS, one, fields)
        for at in range(0, len(body), piece):
            last = at + piece >= len(body)
            wire += frame(DATA, END_STREAM if last else 0, one, body[at : at + piece])
        await peer.send(wire)
        await peer.serve()

    outcomes, server = await _run(script, ["/one"])
    assert _content(outcomes[0]) == body
    # The connection's first update (its window raised to 4 MiB) comes with the preface;
    # the rest came before GET /after, which the peer has read.
    assert server.peers[0].seen["window_update"] == 1 + expected_updates


async def test_bodies_read_from_lent_buffers_are_exact() -> None:
    """Big runs of one stream's DATA are kept as views of the read buffer, which is then reused.

    Batches of concurrent 1 MiB responses, each stream's frames back to back
    (runs far over LEND), each body a different pattern: a buffer read into
    again while a body still viewed it would show here as a wrong byte.
    """
    from hyperhttp._http2.connection import LEND

    piece = 16 * 1024
    bodies = {i: bytes((i * 7 + k) % 251 for k in range(256)) * 4096 for i in range(4)}

    async def script(peer: HostilePeer) -> None:
        for _ in range(3):
            streams = await peer.next_streams(4)
            wire = b""
            for index, stream in enumerate(streams):
                body = bodies[index]
                wire += frame(HEADERS, END_HEADERS, stream, _STATUS_200)
                for at in range(0, len(body), piece):
                    last = at + piece >= len(body)
                    wire += frame(DATA, END_STREAM if last else 0, stream, body[at : at + piece])
            await peer.send(wire)
        await peer.serve()

    server = HostileServer([script])
    await server.start()
    try:
        async with hyperhttp.Client(http1=False, timeout=hyperhttp.Timeout(10.0)) as client:
            for _ in range(3):
                responses = await asyncio.wait_for(
                    asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(4))), 20
                )
                # The peer answers in the order it read the requests: match by content.
                assert sorted(r.content for r in responses) == sorted(bodies.values())
            (connection,) = pooled_connections(client)
            assert isinstance(connection, hyperhttp._http2.HTTP2Connection)
            assert connection.lendings, "every run was copied, none lent"
            assert connection.spare == []  # idle: no spare buffer kept
    finally:
        await server.stop()
    assert not server.errors, server.errors
    assert piece < LEND < 1024 * 1024  # runs of many frames, several per body


async def test_a_buffer_still_viewed_is_not_taken_back() -> None:
    """give_back keeps a lent buffer for reuse only once no view of it is left."""
    from hyperhttp._http2.connection import HTTP2Connection, _read_buffer
    from hyperhttp._http2.stream import H2Stream

    connection = HTTP2Connection(asyncio.get_running_loop())
    connection.streams[1] = H2Stream(connection, 1, None, None)  # busy: spares are kept
    buffer = _read_buffer()
    view = memoryview(buffer)[10:20]
    connection.give_back(buffer)
    assert connection.spare == []
    view.release()
    connection.give_back(buffer)
    assert connection.spare == [buffer]
    assert len(buffer) == len(_read_buffer())
