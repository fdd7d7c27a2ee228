"""Graceful GOAWAY (issue 15, defect 15): streams the server never processed are retried.

nginx with ``keepalive_requests 5`` ends every HTTP/2 connection with GOAWAY
after five streams; a burst of concurrent requests therefore meets GOAWAY
(and REFUSED_STREAM) on every connection it opens. None of it may reach the
caller: a stream above GOAWAY's last-stream-id, or refused, was not
processed and goes to a new connection for as long as new connections make
progress. A server that processes nothing still ends in a typed error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest
from tests.servers.nginx_proc import nginx_binary, start_nginx, stop_nginx

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.servers.fixtures import TLSSetup
    from tests.servers.nginx_proc import Nginx

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def nginx5(tls: TLSSetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """Run nginx over TLS + HTTP/2, ending each connection after 5 requests."""
    if nginx_binary() is None:
        pytest.fail("nginx is not installed (apt-get install nginx-light)")
    root = tmp_path_factory.mktemp("nginx5")
    cert_path, key_path = tls.cert_files(root)
    server = start_nginx(root, cert_path, key_path, keepalive_requests=5)
    try:
        yield server
    finally:
        stop_nginx(server.process)


async def test_30_concurrent_requests_to_nginx_with_keepalive_requests_5(
    tls: TLSSetup, nginx5: Nginx
) -> None:
    """Every one of 30 concurrent requests succeeds, over and over, on connections of 5."""
    async with hyperhttp.Client(verify=tls.ca_path) as client:
        for _ in range(3):
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(client.get(f"{nginx5.url}/size/200") for _ in range(30)),
                    return_exceptions=True,
                ),
                60,
            )
            failed = [r for r in results if isinstance(r, BaseException)]
            assert not failed, failed
            assert all(r.http_version == "HTTP/2" for r in results)  # type: ignore[union-attr]
            assert all(r.content == b"x" * 200 for r in results)  # type: ignore[union-attr]


async def test_a_burst_through_connections_that_each_serve_two_streams() -> None:
    """A scripted server processing two streams per connection, then GOAWAY: all 12 succeed.

    Each connection makes progress (two responses), so the streams above its
    last-stream-id go on to the next connection however many times it takes.
    """
    served: dict[int, list[int]] = {}

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        done = served.setdefault(conn.index, [])
        if len(done) >= 2:
            return  # above the GOAWAY: never processed
        done.append(request.stream_id)
        conn.respond(request.stream_id, body=b"served")
        if len(done) == 2:
            conn.goaway(last_stream_id=max(done))

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(client.get(f"{server.url}/{i}") for i in range(12)), return_exceptions=True
                ),
                30,
            )
    finally:
        await server.stop()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, failed
    assert all(r.content == b"served" for r in results)  # type: ignore[union-attr]
    assert sum(len(done) for done in served.values()) == 12
    assert len(server.connections) >= 6


async def test_goaway_without_progress_ends_in_a_typed_error() -> None:
    """GOAWAY(last_stream_id=0) on every connection: a few tries, then StreamRefused."""

    def handler(request: ScriptedRequest) -> None:
        request.conn.goaway(last_stream_id=0)

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match="GOAWAY"):
                await asyncio.wait_for(client.get(f"{server.url}/x"), 30)
    finally:
        await server.stop()
    assert 2 <= len(server.requests) <= 5
