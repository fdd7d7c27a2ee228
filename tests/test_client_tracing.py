"""Request tracing (issue 8): named events with timings; nothing when unset; pool_stats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hyperhttp
import hyperhttp_dns
import pytest

from tests.servers.routes import TraceRecorder

if TYPE_CHECKING:
    from tests.servers.fixtures import TLSSetup, WebServer

pytestmark = pytest.mark.asyncio


async def test_first_request_traces_every_phase_in_order(web_server: WebServer) -> None:
    trace = TraceRecorder()
    async with hyperhttp.Client(trace=trace) as client:
        await client.get(f"{web_server.url}/size/100")
        first = trace.names()
        trace.events.clear()
        await client.get(f"{web_server.url}/size/100")
        second = trace.names()
    assert first == [
        "pool.wait",
        "dns.start",
        "dns.end",
        "connect.start",
        "connect.attempt",
        "connect.tcp",
        "connect.end",
        "pool.acquired",
        "request.sent",
        "response.headers",
        "response.end",
    ]
    # A reused connection: no DNS, no connect.
    assert second == [
        "pool.wait",
        "pool.acquired",
        "request.sent",
        "response.headers",
        "response.end",
    ]
    end = trace.one("response.end")
    assert end["status"] == 200
    assert end["complete"] is True
    headers = trace.one("response.headers")
    assert 0 <= headers["ttfb"] <= end["elapsed"]
    assert trace.one("pool.acquired")["served"] == 1


async def test_dns_cache_hit_or_miss_and_happy_eyeballs_attempts() -> None:
    """A name through a scripted backend: a miss, then a hit; each address attempted is told."""
    import socket

    class Backend:
        async def lookup(self, host: str, family: int) -> hyperhttp_dns.Answer:
            return hyperhttp_dns.Answer((hyperhttp_dns.Address(socket.AF_INET, "127.0.0.1", 0),))

    import asyncio

    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    trace = TraceRecorder()
    resolver = hyperhttp_dns.Resolver(Backend())
    try:
        async with hyperhttp.Client(trace=trace, resolver=resolver, timeout=2) as client:
            for _ in range(2):
                with pytest.raises(hyperhttp.RemoteProtocolError):
                    await client.get(f"http://svc.test:{port}/")
    finally:
        listener.close()
        await listener.wait_closed()
        await resolver.aclose()
    dns = [info for name, info in trace.events if name == "dns.end"]
    assert [d["cached"] for d in dns] == [False, True]
    assert dns[0]["addresses"] == ["127.0.0.1"]
    attempts = [info for name, info in trace.events if name == "connect.attempt"]
    assert attempts[0] == {"address": "127.0.0.1", "port": port}


async def test_tls_event(tls: TLSSetup, tls_server: WebServer) -> None:
    trace = TraceRecorder()
    async with hyperhttp.Client(trace=trace, verify=tls.ca_path) as client:
        await client.get(f"{tls_server.url}/size/10")
    info = trace.one("tls")
    assert info["version"].startswith("TLS")
    assert info["alpn"] in (None, "http/1.1")  # this server negotiates no ALPN
    assert info["elapsed"] >= 0
    assert trace.one("connect.end")["http_version"] in ("HTTP/1.1", "HTTP/2")


async def test_streamed_response_ends_when_released(web_server: WebServer) -> None:
    trace = TraceRecorder()
    async with hyperhttp.Client(trace=trace) as client:
        async with client.stream("GET", f"{web_server.url}/slow?chunks=20&delay=0.02") as response:
            assert "response.end" not in trace.names()
            async for _ in response.aiter_bytes():
                break
        info = trace.one("response.end")
        assert info["complete"] is False  # released before its end
        async with client.stream("GET", f"{web_server.url}/size/10") as response:
            await response.aread()
    assert [info["complete"] for name, info in trace.events if name == "response.end"] == [
        False,
        True,
    ]


async def test_pool_stats(web_server: WebServer) -> None:
    async with hyperhttp.Client() as client:
        assert client.pool_stats().idle == 0
        async with client.stream("GET", f"{web_server.url}/size/10") as response:
            assert client.pool_stats().in_use == 1
            await response.aread()
        stats = client.pool_stats()
        assert stats.in_use == 0
        assert stats.idle == 1


async def test_no_trace_no_events_and_tracer_errors_propagate(web_server: WebServer) -> None:
    def broken(name: str, info: dict[str, Any]) -> None:
        raise RuntimeError(f"tracer failed at {name}")

    async with hyperhttp.Client(trace=broken) as client:
        with pytest.raises(RuntimeError, match=r"tracer failed at pool\.wait"):
            await client.get(f"{web_server.url}/size/1")
