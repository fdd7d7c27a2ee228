"""A GOAWAY must not discard the frames the client has queued but not written yet.

Found by the soak (bench/bench_soak.py): h2 empties its outbound buffer when
it receives GOAWAY, but the client keeps the connection open for the streams
at or below the GOAWAY's last-stream-id (RFC 9113 §6.8). Whatever was queued
in that moment was lost: the HEADERS of streams just started (their DATA then
went out on streams the server never saw: a PROTOCOL_ERROR that failed every
stream of the connection), WINDOW_UPDATEs, and acknowledgements.

The scripted server makes the moment deterministic: it sends PING and GOAWAY
(2^31-1, the graceful notice of §6.8) in one write, so the client queues its
PING ACK and then reads the GOAWAY in the same call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

_NOTICE = 2**31 - 1


async def test_ping_ack_queued_with_a_graceful_goaway_is_sent() -> None:
    """The PING ACK queued while reading PING + GOAWAY reaches the server; the stream ends."""
    acked = asyncio.Event()

    async def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        conn.h2.ping(b"soak-#15")
        conn.goaway(last_stream_id=_NOTICE)  # one flush: PING and GOAWAY in one write
        for _ in range(200):  # up to 2 s for the ACK
            if conn.ping_acks:
                acked.set()
                break
            await asyncio.sleep(0.01)
        conn.respond(request.stream_id, body=b"answered after the notice")

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            response = await asyncio.wait_for(client.get(f"{server.url}/"), 10)
        assert response.text == "answered after the notice"
        assert acked.is_set(), "the PING ACK queued before the GOAWAY was never sent"
        assert server.connections[0].ping_acks == [b"soak-#15"]
    finally:
        await server.stop()


async def test_streams_started_before_a_graceful_goaway_reach_the_server() -> None:
    """Requests started on a connection as its GOAWAY notice arrives are all answered.

    Streamed uploads among them: DATA on a stream whose HEADERS were dropped
    is a connection error for the server, and every stream would fail.
    """
    answered: list[int] = []

    async def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if len(answered) == 0 and conn.index == 0 and request.stream_id == 1:
            conn.goaway(last_stream_id=_NOTICE)
        answered.append(request.stream_id)
        conn.respond(request.stream_id, body=request.headers[b":path"])

    async def upload() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0)
            yield b"x" * 100

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            calls = [client.get(f"{server.url}/first")]
            for n in range(20):
                if n % 2:
                    calls.append(client.get(f"{server.url}/g{n}"))
                else:
                    calls.append(client.post(f"{server.url}/p{n}", content=upload()))
            responses = await asyncio.wait_for(asyncio.gather(*calls), 10)
        assert sorted(r.text for r in responses) == sorted(
            ["/first"] + [f"/{'g' if n % 2 else 'p'}{n}" for n in range(20)]
        )
    finally:
        await server.stop()
