"""The Client over HTTP/2 against hypercorn on loopback (issue 7)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import TYPE_CHECKING

import hyperhttp
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.fixtures import H2Server, TLSSetup, WebServer

pytestmark = pytest.mark.asyncio


def _client(tls: TLSSetup, **kwargs: object) -> hyperhttp.Client:
    return hyperhttp.Client(verify=tls.ca_path, **kwargs)  # type: ignore[arg-type]


async def _seen(client: hyperhttp.Client, server: H2Server, tag: str) -> list[int]:
    ports: list[int] = (await client.get(f"{server.url}/seen/{tag}")).json()
    return ports


async def test_alpn_picks_h2_by_default(tls: TLSSetup, h2_server: H2Server) -> None:
    """Https with the defaults: ALPN offers h2 first and the response says HTTP/2."""
    async with _client(tls) as client:
        r = await client.get(f"{h2_server.url}/echo")
        assert r.http_version == "HTTP/2"
        assert r.json()["http_version"] == "2"
        assert r.status_code == 200
        assert r.reason_phrase == "OK"
        sent = {name for name, _ in r.json()["headers"]}
        assert {"user-agent", "accept-encoding", "accept"} <= sent
        # :authority carried the host (hypercorn presents it as host)
        assert dict(r.json()["headers"])["host"] == f"127.0.0.1:{h2_server.port}"


async def test_http2_false_offers_only_http11(tls: TLSSetup, h2_server: H2Server) -> None:
    """http2=False: ALPN offers http/1.1 only."""
    async with _client(tls, http2=False) as client:
        r = await client.get(f"{h2_server.url}/echo")
        assert r.http_version == "HTTP/1.1"
        assert r.json()["http_version"] == "1.1"


async def test_h2c_prior_knowledge(h2c_server: H2Server) -> None:
    """http1=False on http://: HTTP/2 without asking (h2c prior knowledge)."""
    async with hyperhttp.Client(http1=False) as client:
        r = await client.get(f"{h2c_server.url}/echo")
        assert r.http_version == "HTTP/2"
        assert r.json()["http_version"] == "2"
    async with hyperhttp.Client() as client:  # the default on http:// stays HTTP/1.1
        assert (await client.get(f"{h2c_server.url}/echo")).http_version == "HTTP/1.1"


async def test_http1_and_http2_false_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="http1=False"):
        hyperhttp.Client(http1=False, http2=False)


async def test_100_concurrent_requests_share_one_connection(
    tls: TLSSetup, h2_server: H2Server
) -> None:
    """100 concurrent requests after the first: all streams of one connection."""
    async with _client(tls) as client:
        # Tags are fresh (not id()): the session's hypercorn keeps every tag it saw.
        tag = f"concurrent-100-{uuid.uuid4().hex}"
        first = await client.get(f"{h2_server.url}/size/10", headers={"x-tag": tag})
        assert first.http_version == "HTTP/2"
        responses = await asyncio.gather(
            *(client.get(f"{h2_server.url}/size/{n}", headers={"x-tag": tag}) for n in range(100))
        )
        assert [len(r.content) for r in responses] == list(range(100))
        assert all(r.http_version == "HTTP/2" for r in responses)
        assert len(await _seen(client, h2_server, tag)) == 1
        stats = client.pool_stats()
        assert stats.connections == 1


async def test_large_bodies_both_ways(tls: TLSSetup, h2_server: H2Server) -> None:
    """8 MiB up (beyond the default windows) and 8 MiB down, byte for byte."""
    upload = bytes(range(256)) * (8 * 4096)
    async with _client(tls) as client:
        r = await client.post(f"{h2_server.url}/echo", content=upload)
        answer = r.json()
        assert answer["length"] == len(upload)
        assert answer["sha256"] == hashlib.sha256(upload).hexdigest()
        big = await client.get(f"{h2_server.url}/big?bytes={8 * 1024 * 1024}")
        assert big.content == b"b" * (8 * 1024 * 1024)


async def test_streamed_upload_and_json(tls: TLSSetup, h2_server: H2Server) -> None:
    """An async iterator body and json= work over HTTP/2 as over HTTP/1.1."""

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(64):
            yield bytes([i]) * 65536

    expected = b"".join(bytes([i]) * 65536 for i in range(64))
    async with _client(tls) as client:
        r = await client.put(f"{h2_server.url}/echo", content=pieces())
        assert r.json()["length"] == len(expected)
        assert r.json()["sha256"] == hashlib.sha256(expected).hexdigest()
        r = await client.post(f"{h2_server.url}/echo", json={"a": [1, 2]})
        headers = dict(r.json()["headers"])
        assert headers["content-type"] == "application/json"
        compact = json.dumps({"a": [1, 2]}, separators=(",", ":"))
        assert headers["content-length"] == str(len(compact))


async def test_streaming_response(tls: TLSSetup, h2_server: H2Server) -> None:
    async with _client(tls) as client:
        async with client.stream("GET", f"{h2_server.url}/slow?chunks=4&delay=0.01") as r:
            assert r.http_version == "HTTP/2"
            pieces = [piece async for piece in r.aiter_raw()]
        assert b"".join(pieces) == b"chunk0;chunk1;chunk2;chunk3;"
        assert len(pieces) >= 2


async def test_slow_consumer_of_a_big_stream_keeps_memory_bounded(
    tls: TLSSetup, h2_server: H2Server
) -> None:
    """A streamed 64 MiB body read slowly: unread data stays within one stream window."""
    from hyperhttp._http2 import STREAM_WINDOW

    total = 64 * 1024 * 1024
    peak = 0
    received = 0
    async with (
        _client(tls, timeout=hyperhttp.Timeout(30.0)) as client,
        client.stream("GET", f"{h2_server.url}/big?bytes={total}") as r,
    ):
        stream = r._source.exchange  # type: ignore[union-attr]
        async for chunk in r.aiter_raw():
            received += len(chunk)
            peak = max(peak, stream.buffered)
            if received % (4 * 1024 * 1024) < len(chunk):
                await asyncio.sleep(0.02)  # a slow consumer
    assert received == total
    assert peak <= STREAM_WINDOW + 64 * 1024


async def test_unread_stream_is_reset_and_the_connection_kept(
    tls: TLSSetup, h2_server: H2Server
) -> None:
    """Leaving a streamed body unread resets that stream only: the connection serves on."""
    async with _client(tls) as client:
        tag = f"unread-reset-{uuid.uuid4().hex}"
        async with client.stream(
            "GET", f"{h2_server.url}/big?bytes={32 * 1024 * 1024}", headers={"x-tag": tag}
        ) as r:
            async for _ in r.aiter_raw():
                break
        r = await client.get(f"{h2_server.url}/size/5", headers={"x-tag": tag})
        assert r.content == b"xxxxx"
        assert len(await _seen(client, h2_server, tag)) == 1


async def test_cancelled_request_frees_its_stream(tls: TLSSetup, h2_server: H2Server) -> None:
    """Cancelling a request resets its stream and frees the slot; others carry on."""
    limits = hyperhttp.Limits(max_connections_per_host=1)
    async with _client(tls, limits=limits) as client:
        await client.get(f"{h2_server.url}/size/1")
        slow = asyncio.ensure_future(client.get(f"{h2_server.url}/sleep/10"))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        r = await client.get(f"{h2_server.url}/size/3")
        assert r.content == b"xxx"
        stats = client.pool_stats()
        assert stats.connections == 1


async def test_read_timeout_on_one_stream(tls: TLSSetup, h2_server: H2Server) -> None:
    """A stream that gets nothing within the read timeout fails alone."""
    async with _client(tls, timeout=hyperhttp.Timeout(read=0.2)) as client:
        fast = client.get(f"{h2_server.url}/size/4")
        slow = client.get(f"{h2_server.url}/sleep/5")
        results = await asyncio.gather(fast, slow, return_exceptions=True)
        assert isinstance(results[0], hyperhttp.Response)
        assert isinstance(results[1], hyperhttp.ReadTimeout)
        assert (await client.get(f"{h2_server.url}/size/2")).content == b"xx"


async def test_head_and_no_content_over_http2(tls: TLSSetup, h2_server: H2Server) -> None:
    """HEAD gets a Content-Length and no body: no length error; the connection goes on."""
    async with _client(tls) as client:
        r = await client.head(f"{h2_server.url}/size/100")
        assert r.http_version == "HTTP/2"
        assert r.headers["content-length"] == "100"
        assert r.content == b""
        assert (await client.get(f"{h2_server.url}/size/7")).content == b"x" * 7


async def test_a_cold_burst_shares_one_connection(tls: TLSSetup, h2_server: H2Server) -> None:
    """50 concurrent first requests to a new origin: one connection, not one each."""
    async with _client(tls) as client:
        tag = f"cold-burst-{uuid.uuid4().hex}"
        responses = await asyncio.gather(
            *(client.get(f"{h2_server.url}/size/3", headers={"x-tag": tag}) for _ in range(50))
        )
        assert all(r.http_version == "HTTP/2" for r in responses)
        assert len(await _seen(client, h2_server, tag)) == 1


async def test_a_cold_burst_to_an_http11_only_origin_still_spreads(
    tls: TLSSetup, tls_server: WebServer
) -> None:
    """The HTTP/2 guess was wrong (ALPN: http/1.1): the burst opens connections as usual."""
    limits = hyperhttp.Limits(max_connections_per_host=5)
    async with _client(tls, limits=limits) as client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.get(f"{tls_server.url}/sleep/0.1") for _ in range(10))), 20
        )
        assert all(r.http_version == "HTTP/1.1" for r in responses)
        assert len(tls_server.connections) == 5
