"""One benchmark run in a fresh process: ``python bench/_clients.py CLIENT URL N C [--uvloop]``.

Prints one JSON line: requests per second, latency percentiles (ms) and the
client's CPU time per request (user + sys, µs) over the measured phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

Fetch = Callable[[], Awaitable[int]]


class _Floor(asyncio.Protocol):
    """The least work an asyncio client can do: prebuilt request, Content-Length framing."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.need = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            at = buffer.find(b"Content-Length: ", 0, end) + 16
            length = int(buffer[at : buffer.find(b"\r\n", at)])
            self.need = end + 4 + length
        if len(buffer) >= self.need:
            del buffer[: self.need]
            self.need = -1
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(200)


async def _floor(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    parts = urlsplit(url)
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    idle: list[_Floor] = []
    for _ in range(concurrency):
        _, protocol = await loop.create_connection(_Floor, parts.hostname or "", parts.port or 80)
        idle.append(protocol)

    async def fetch() -> int:
        protocol = idle.pop()
        protocol.waiter = loop.create_future()
        protocol.transport.write(request)
        status = await protocol.waiter
        idle.append(protocol)
        return status

    async def close() -> None:
        for protocol in idle:
            protocol.transport.close()

    return fetch, close


async def _hyperhttp(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import hyperhttp

    limits = hyperhttp.Limits(max_connections=concurrency, max_connections_per_host=concurrency)
    client = hyperhttp.Client(limits=limits)

    async def fetch() -> int:
        response = await client.get(url)
        return response.status_code

    return fetch, client.aclose


async def _aiohttp(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    session = aiohttp.ClientSession(connector=connector)

    async def fetch() -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    return fetch, session.close


async def _httpx(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(limits=limits)

    async def fetch() -> int:
        response = await client.get(url)
        status: int = response.status_code
        return status

    return fetch, client.aclose


def _ca() -> str:
    """Return the CA file of the TLS server under test (``BENCH_CA``)."""
    return os.environ["BENCH_CA"]


async def _hyperhttp_h2(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import hyperhttp

    # HTTP/2: every request a stream of one connection.
    limits = hyperhttp.Limits(max_connections=1, max_connections_per_host=1)
    client = hyperhttp.Client(limits=limits, verify=_ca())

    async def fetch() -> int:
        response = await client.get(url)
        if response.http_version != "HTTP/2":
            raise SystemExit(f"hyperhttp-h2 spoke {response.http_version}")
        return response.status_code

    return fetch, client.aclose


async def _hyperhttp_tls(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import hyperhttp

    limits = hyperhttp.Limits(max_connections=concurrency, max_connections_per_host=concurrency)
    client = hyperhttp.Client(limits=limits, verify=_ca(), http2=False)

    async def fetch() -> int:
        response = await client.get(url)
        return response.status_code

    return fetch, client.aclose


async def _aiohttp_tls(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=_ca())
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ssl=context)
    session = aiohttp.ClientSession(connector=connector)

    async def fetch() -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    return fetch, session.close


async def _httpx_h2(url: str, concurrency: int) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(limits=limits, http2=True, verify=_ca())

    async def fetch() -> int:
        response = await client.get(url)
        if response.http_version != "HTTP/2":
            raise SystemExit(f"httpx-h2 spoke {response.http_version}")
        status: int = response.status_code
        return status

    return fetch, client.aclose


CLIENTS = {
    "hyperhttp": _hyperhttp,
    "aiohttp": _aiohttp,
    "httpx": _httpx,
    "floor": _floor,
    "hyperhttp-h2": _hyperhttp_h2,
    "hyperhttp-tls": _hyperhttp_tls,
    "aiohttp-tls": _aiohttp_tls,
    "httpx-h2": _httpx_h2,
}


async def _run(client: str, url: str, total: int, concurrency: int) -> dict[str, float]:
    fetch, close = await CLIENTS[client](url, concurrency)
    latencies: list[float] = []

    async def worker(count: int, record: bool) -> None:
        for _ in range(count):
            start = time.perf_counter()
            status = await fetch()
            if status != 200:
                raise SystemExit(f"{client}: status {status}")
            if record:
                latencies.append(time.perf_counter() - start)

    warm = max(concurrency, total // 10)
    await asyncio.gather(*(worker(warm // concurrency, False) for _ in range(concurrency)))
    per_worker = total // concurrency
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    await asyncio.gather(*(worker(per_worker, True) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    await close()
    done = per_worker * concurrency
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    cpu_seconds = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return {
        "rps": done / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "cpu_us": cpu_seconds / done * 1e6,
    }


def main() -> None:
    client, url, total, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if "--uvloop" in sys.argv:
        import uvloop

        result = uvloop.run(_run(client, url, total, concurrency))
    else:
        result = asyncio.run(_run(client, url, total, concurrency))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
