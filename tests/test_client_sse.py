"""Server-Sent Events against real peers: aiohttp (HTTP/1.1) and hypercorn (HTTP/2 over TLS).

``response.aiter_sse()`` on a stream written in pieces (one byte at a time
included); ``client.sse()`` reconnecting with Last-Event-ID and the server's
``retry``, stopping at a 204, failing on a response that is not an event
stream, and giving up on a server that is down.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from aiohttp import web

from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from tests.servers.fixtures import H2Server, TLSSetup

pytestmark = pytest.mark.asyncio

STREAM = (
    b': hello\n\nretry: 20\nevent: tick\nid: 1\ndata: {"n": 1}\n\n'
    b"data: two\r\ndata: lines\r\n\r\nid: 3\ndata: caf\xc3\xa9\n\n"
)
EXPECTED = [
    hyperhttp.ServerSentEvent('{"n": 1}', "tick", "1", 20),
    hyperhttp.ServerSentEvent("two\nlines", "message", "1"),
    hyperhttp.ServerSentEvent("caf\u00e9", "message", "3"),
]


def _stream_route(piece: int) -> web.RouteDef:
    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for at in range(0, len(STREAM), piece):
            await response.write(STREAM[at : at + piece])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    return web.get("/events", events)


@pytest.mark.parametrize("piece", [1, 7, len(STREAM)])
async def test_aiter_sse_over_http11_in_pieces(piece: int) -> None:
    async with (
        serve_routes([_stream_route(piece)]) as (url, _),
        hyperhttp.Client() as client,
        client.stream("GET", url + "/events") as response,
    ):
        events = [event async for event in response.aiter_sse()]
    assert events == EXPECTED
    assert events[0].json() == {"n": 1}


async def test_aiter_sse_refuses_a_response_that_is_not_an_event_stream() -> None:
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="data: x\n\n")

    async with (
        serve_routes([web.get("/plain", plain)]) as (url, _),
        hyperhttp.Client() as client,
        client.stream("GET", url + "/plain") as response,
    ):
        with pytest.raises(hyperhttp.SSEError, match="text/plain"):
            [event async for event in response.aiter_sse()]


def _resuming_route(per_connection: int, stop: int) -> tuple[web.RouteDef, list[str | None]]:
    """Events from Last-Event-ID + 1, ``per_connection`` at a time, then 204 from ``stop`` on."""
    asked: list[str | None] = []

    async def events(request: web.Request) -> web.StreamResponse:
        asked.append(request.headers.get("Last-Event-ID"))
        first = int(request.headers.get("Last-Event-ID") or -1) + 1
        if first >= stop:
            return web.Response(status=204)
        assert request.headers["Accept"] == "text/event-stream"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"retry: 5\n\n")
        for n in range(first, min(first + per_connection, stop)):
            await response.write(b"id: %d\ndata: %d\n\n" % (n, n))
        await response.write_eof()
        return response

    return web.get("/events", events), asked


async def test_sse_reconnects_with_last_event_id_until_a_204() -> None:
    route, asked = _resuming_route(per_connection=3, stop=8)
    async with (
        serve_routes([route]) as (url, _),
        hyperhttp.Client() as client,
        client.sse(url + "/events", retry=10.0) as events,
    ):
        received = [event async for event in events]
    assert [event.data for event in received] == [str(n) for n in range(8)]
    assert [event.id for event in received] == [str(n) for n in range(8)]
    assert asked == [None, "2", "5", "7"]  # the server's retry (5 ms) replaced ours (10 s)
    assert events.reconnects == 3


async def test_sse_stops_at_an_error_status_without_reconnecting() -> None:
    calls = 0

    async def broken(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=500, text="no")

    async with serve_routes([web.get("/events", broken)]) as (url, _), hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.SSEError, match="500"):
            async with client.sse(url + "/events", retry=0.0) as events:
                [event async for event in events]
    assert calls == 1


async def test_sse_gives_up_on_a_server_that_is_down() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with hyperhttp.Client() as client:
        events = client.sse(f"http://127.0.0.1:{port}/events", retry=0.0, max_reconnects=2)
        with pytest.raises(hyperhttp.ConnectError):
            async with events:
                [event async for event in events]
    assert events.reconnects == 2


async def test_breaking_out_closes_the_stream() -> None:
    route, _ = _resuming_route(per_connection=1000, stop=1000)
    async with serve_routes([route]) as (url, _), hyperhttp.Client() as client:
        async with client.sse(url + "/events") as events:
            async for event in events:
                if event.id == "3":
                    break
        stats = client.pool_stats()
        assert stats.in_use == 0, stats


async def test_sse_over_http2(tls: TLSSetup, h2_server: H2Server) -> None:
    async with hyperhttp.Client(verify=tls.ca_path) as client:
        url = h2_server.url + "/sse?count=2&stop=5"
        async with client.stream("GET", url) as response:
            assert response.http_version == "HTTP/2"
            first = [event async for event in response.aiter_sse()]
        async with client.sse(url) as events:
            received = [event async for event in events]
    assert [event.json() for event in first] == [{"n": 0, "via": "h2"}, {"n": 1, "via": "h2"}]
    assert [event.id for event in received] == ["0", "1", "2", "3", "4"]
    assert {event.event for event in received} == {"tick"}
    assert events.retry == 0.01


async def test_sse_does_not_reconnect_a_request_that_cannot_be_sent() -> None:
    async with hyperhttp.Client() as client:
        events = client.sse("http://127.0.0.1:1/events", headers={"x-bad": "a\nb"}, retry=0.0)
        with pytest.raises(hyperhttp.LocalProtocolError):
            async with events:
                [event async for event in events]
    assert events.reconnects == 0
