"""One workloads-benchmark cell in a fresh process: ``python bench/_wl_client.py < SPEC_JSON``.

Run by bench/bench_workloads.py, which documents the scenarios. The process
pins itself to CPU 0 (the servers run on CPU 1), raises its open-file limit,
builds one client (at its defaults, or tuned to the load when the spec says
so), runs one workload and prints one JSON line.

Workloads (``spec["mode"]``):

- ``load``: ``conc`` workers repeat GETs of ``url`` for ``warm`` seconds, then
  for ``seconds`` measured; latencies are of every request in flight during the
  measured window, from its start (in the warm-up, for a waiter starved since)
  to its end (the stragglers are waited for, so a starved waiter shows in P99
  instead of being cut off); RPS counts completions inside the window.
- ``list``: every URL of ``urls`` once, ``conc`` workers, at most ``per_host``
  requests in flight per origin (the crawler's politeness cap, enforced here
  so every client obeys the same one).
- ``hold``: ``conc`` concurrent GETs of a slow URL: RSS at the in-flight peak,
  then after they complete with the connections left pooled (sockets counted
  in /proc/self/fd).
- ``stream``: one GET of a large body through the client's streaming API;
  RSS growth sampled while it streams.

A cell that stops making progress fails fast instead of waiting out a
timeout: no response (no streamed byte) for ``STALL`` seconds ends it with
"stalled at X/Y", and a load's warm-up (a crawl, a held batch) that cannot
reach ``conc`` responses (every URL, every held request) within its cap at the
rate it goes ends it as "too slow". A client that keeps the event loop itself
busy without answering (httpx with 1 000 waiters on its 100 connections) is
caught by a watchdog thread (``_watchdog``), which ends the process.

The peers without type information (niquests, aiosonic, pyreqwest, rnet) are
imported with importlib: mypy checks this file where they are not installed.
CPU is ``getrusage(RUSAGE_SELF)``: user + system time of every thread of the
process (the Rust clients run their own threads), per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Fetch = Callable[[str], Awaitable[int]]
Stream = Callable[[str, Callable[[int], None]], Awaitable[int]]
Close = Callable[[], Awaitable[None]]
Spec = dict[str, Any]

PAGE = os.sysconf("SC_PAGE_SIZE")
STALL = 4.0  # seconds without progress that end a cell (a held batch: HOLD_STALL)
HOLD_STALL = 10.0  # 10 000 connections open, then the responses (held 1 s) come in a burst
WARM_CAP = 30.0  # the longest a load's warm-up may take
clock = time.perf_counter  # uvloop's loop.time() has 1 ms steps: too coarse for P50


def rss() -> int:
    """Return the resident set size of this process, in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


def sockets() -> int:
    """Return how many sockets this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pids: list[int]) -> float:
    """Return the CPU seconds (user + system) the server processes used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- clients


async def _watch(
    tasks: Sequence[asyncio.Future[Any]],
    progress: Callable[[], int],
    total: int,
    what: str,
    *,
    stall: float = STALL,
    limit: float | None = None,
    rate: bool = True,
) -> None:
    """Wait for ``tasks``; raise once one fails, ``progress()`` stops moving, or ``limit`` passes.

    Past ``stall`` seconds, a rate that cannot reach ``total`` within ``limit`` ends it too
    (with ``rate``; not for a held batch, whose responses come in one burst).
    """
    start = last_at = clock()
    last = progress()
    while True:
        done, pending = await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
        if not pending:
            return
        now, count = clock(), progress()
        if count != last:
            last, last_at = count, now
        elif now - last_at > stall:
            raise RuntimeError(
                f"stalled at {count}/{total} {what} ({stall:.0f} s without progress)"
            )
        took = now - start
        if limit is not None and took > limit:
            raise RuntimeError(f"stuck: {count}/{total} {what} in {limit:.0f} s")
        if (
            rate
            and limit is not None
            and took > stall
            and count + count / took * (limit - took) < total
        ):
            raise RuntimeError(f"too slow: {count}/{total} {what} after {took:.0f} s")


@contextlib.contextmanager
def _watchdog(progress: Callable[[], int], total: int, what: str) -> Iterator[None]:
    """End this process if ``progress()`` stands still for ``STALL`` + 1 s, seen from a thread.

    The event loop's own checks (``_watch``) cannot run while a client keeps the
    loop busy; this thread still gets the interpreter every switch interval.
    """
    done = threading.Event()

    def run() -> None:
        last, last_at = progress(), time.monotonic()
        while not done.wait(0.25):
            count, now = progress(), time.monotonic()
            if count != last:
                last, last_at = count, now
            elif now - last_at > STALL + 1:
                print(
                    f"RuntimeError: stalled at {count}/{total} {what} "
                    f"({STALL + 1:.0f} s without progress, the event loop busy)",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(3)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Client:
    """One HTTP client under test: ``fetch`` reads a whole body, ``stream`` streams one."""

    def __init__(self, fetch: Fetch, stream: Stream, close: Close) -> None:
        self.fetch = fetch
        self.stream = stream
        self.close = close


def _ca(spec: Spec) -> str | None:
    ca: str | None = spec.get("ca")
    return ca


async def _hyperhttp(spec: Spec) -> Client:
    import hyperhttp

    conc, ca = spec["pool"], _ca(spec)
    kwargs: dict[str, Any] = {}
    if spec["tuned"]:
        kwargs["limits"] = hyperhttp.Limits(max_connections=conc, max_connections_per_host=conc)
    if ca is not None:
        kwargs["verify"] = ca
    if spec.get("proto") == "h1":
        kwargs["http2"] = False
    client = hyperhttp.Client(**kwargs)

    async def fetch(url: str) -> int:
        response = await client.get(url)
        return response.status_code

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        async with client.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                sample(total)
        return total

    return Client(fetch, stream, client.aclose)


async def _aiohttp(spec: Spec) -> Client:
    import ssl

    import aiohttp

    conc, ca = spec["pool"], _ca(spec)
    options: dict[str, Any] = {}
    if spec["tuned"]:
        options.update(limit=conc, limit_per_host=0)
    if ca is not None:
        options["ssl"] = ssl.create_default_context(cafile=ca)
    session = (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(**options))
        if options
        else aiohttp.ClientSession()
    )

    async def fetch(url: str) -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        async with session.get(url) as response:
            async for chunk in response.content.iter_chunked(65536):
                total += len(chunk)
                sample(total)
        return total

    return Client(fetch, stream, session.close)


async def _httpx(spec: Spec) -> Client:
    import httpx

    conc, ca = spec["pool"], _ca(spec)
    kwargs: dict[str, Any] = {}
    if spec["tuned"]:
        kwargs["limits"] = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        kwargs["http2"] = spec.get("proto") == "h2"
    if ca is not None:
        kwargs["verify"] = ca
    client = httpx.AsyncClient(**kwargs)

    async def fetch(url: str) -> int:
        response = await client.get(url)
        status: int = response.status_code
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        async with client.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                sample(total)
        return total

    return Client(fetch, stream, client.aclose)


async def _niquests(spec: Spec) -> Client:
    niquests = importlib.import_module("niquests")

    conc, ca = spec["pool"], _ca(spec)
    kwargs: dict[str, Any] = {}
    if spec["tuned"]:
        kwargs.update(pool_connections=conc, pool_maxsize=conc)
    session = niquests.AsyncSession(**kwargs)
    verify: Any = ca if ca is not None else True

    async def fetch(url: str) -> int:
        response = await session.get(url, verify=verify)
        status: int = response.status_code or 0
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        response = await session.get(url, verify=verify, stream=True)
        chunks: Any = await response.iter_content(65536)
        async for chunk in chunks:
            total += len(chunk)
            sample(total)
        return total

    return Client(fetch, stream, session.close)


async def _aiosonic(spec: Spec) -> Client:
    import ssl

    aiosonic = importlib.import_module("aiosonic")
    pool_config = importlib.import_module("aiosonic.pools").PoolConfig

    conc, ca = spec["pool"], _ca(spec)
    connector = (
        aiosonic.TCPConnector(pool_configs={":default": pool_config(size=conc)})
        if spec["tuned"]
        else None
    )
    client = aiosonic.HTTPClient(connector=connector)
    context = ssl.create_default_context(cafile=ca) if ca is not None else None

    async def fetch(url: str) -> int:
        response = await client.get(url, ssl=context)
        await response.content()
        status: int = response.status_code
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        # Its streaming API (``client.get`` reads the whole body before it returns).
        total = 0
        async with client.stream("GET", url, ssl=context) as response:
            async for chunk in response.read_chunks():
                total += len(chunk)
                sample(total)
        return total

    async def close() -> None:
        await client.connector.cleanup()

    return Client(fetch, stream, close)


async def _pyreqwest(spec: Spec) -> Client:
    client_builder = importlib.import_module("pyreqwest.client").ClientBuilder

    ca = _ca(spec)
    builder = client_builder()
    if ca is not None:
        builder = builder.add_root_certificate_pem(Path(ca).read_bytes())
    if spec.get("proto") == "h2":
        builder = builder.http2(True)
    # Its pool has no cap at its defaults: "tuned" changes nothing.
    client = builder.build()

    async def fetch(url: str) -> int:
        response = await client.get(url).build().send()
        await response.bytes()
        status: int = response.status
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        async with client.get(url).build_streamed() as response:
            reader = response.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                total += len(chunk)
                sample(total)
        return total

    return Client(fetch, stream, client.close)


async def _rnet(spec: Spec) -> Client:
    rnet = importlib.import_module("rnet")

    ca = _ca(spec)
    kwargs: dict[str, Any] = {}
    if ca is not None:
        kwargs["verify"] = Path(ca)
    # Its pool has no cap at its defaults: "tuned" changes nothing.
    client = rnet.Client(**kwargs)

    async def fetch(url: str) -> int:
        response = await client.get(url)
        await response.bytes()
        status: int = response.status
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        total = 0
        response = await client.get(url)
        async with response.stream() as chunks:
            async for chunk in chunks:
                total += len(chunk)
                sample(total)
        return total

    async def close() -> None:
        return None

    return Client(fetch, stream, close)


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
            self.need = end + 4 + int(buffer[at : buffer.find(b"\r\n", at)])
        if len(buffer) >= self.need:
            del buffer[: self.need]
            self.need = -1
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(200)


async def _floor(spec: Spec) -> Client:
    """Open one connection per worker up front (it is its own pool, sized to the load)."""
    parts = urlsplit(spec["url"])
    loop = asyncio.get_running_loop()
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    idle: list[_Floor] = []
    for _ in range(spec["conc"]):
        _, protocol = await loop.create_connection(_Floor, parts.hostname or "", parts.port or 80)
        idle.append(protocol)

    async def fetch(url: str) -> int:
        protocol = idle.pop()
        protocol.waiter = loop.create_future()
        protocol.transport.write(request)
        status = await protocol.waiter
        idle.append(protocol)
        return status

    async def stream(url: str, sample: Callable[[int], None]) -> int:
        raise NotImplementedError("the floor client does not stream")

    async def close() -> None:
        for protocol in idle:
            protocol.transport.close()

    return Client(fetch, stream, close)


CLIENTS: dict[str, Callable[[Spec], Awaitable[Client]]] = {
    "hyperhttp": _hyperhttp,
    "aiohttp": _aiohttp,
    "httpx": _httpx,
    "niquests": _niquests,
    "aiosonic": _aiosonic,
    "pyreqwest": _pyreqwest,
    "rnet": _rnet,
    "floor": _floor,
}


# ---------------------------------------------------------------- workloads


def _percentiles(latencies: list[float]) -> dict[str, float]:
    latencies.sort()
    if not latencies:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"p50": pct(0.50), "p99": pct(0.99), "max": latencies[-1] * 1000}


async def _load(client: Client, spec: Spec) -> dict[str, Any]:
    url, conc = spec["url"], spec["conc"]
    window = [float("inf"), float("inf")]  # measured window: [start, end) in loop time
    latencies: list[float] = []
    completed = [0]
    warmed = [0]  # completions since the start
    stop = [False]
    fetch = client.fetch

    async def worker() -> None:
        while not stop[0]:
            start = clock()
            status = await fetch(url)
            if status != 200:
                raise RuntimeError(f"status {status}")
            end = clock()
            # Every request in flight during the window counts, also one that waited
            # since the warm-up: a starved waiter shows in P99 instead of vanishing.
            if end >= window[0] and start < window[1]:
                latencies.append(end - start)
            if window[0] <= end < window[1]:
                completed[0] += 1
            warmed[0] += 1

    tasks = [asyncio.ensure_future(worker()) for _ in range(conc)]
    pids = spec.get("server_pids", [])
    with _watchdog(lambda: warmed[0], conc, "responses (the warm-up waits for all)"):
        try:
            # Warm-up: ``warm`` seconds, and on until ``conc`` requests completed (opening
            # 10 000 connections takes longer than the window), at most WARM_CAP s; no
            # response in STALL s, or a rate that cannot reach ``conc`` by then, ends the cell.
            begun = clock()
            await asyncio.wait(tasks, timeout=spec["warm"], return_when=asyncio.FIRST_EXCEPTION)
            last, last_at = warmed[0], clock()
            while (
                warmed[0] < conc and clock() - begun < WARM_CAP and not any(t.done() for t in tasks)
            ):
                await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_EXCEPTION)
                now, count = clock(), warmed[0]
                if count != last:
                    last, last_at = count, now
                elif now - last_at > STALL:
                    raise RuntimeError(
                        f"stalled at {count}/{conc} in the warm-up "
                        f"({STALL:.0f} s without a response)"
                    )
                took = now - begun
                if took > STALL and count + count / took * (WARM_CAP - took) < conc:
                    raise RuntimeError(
                        f"too slow: {count}/{conc} responses in the warm-up after {took:.0f} s"
                    )
            for task in tasks:
                if task.done():
                    task.result()  # a failure in warm-up ends the cell with its error
            cpu0, server0, start = _cpu(), _server_cpu(pids), clock()
            window[0] = start
            window[1] = start + spec["seconds"]
            rss0 = rss()
            await asyncio.wait(tasks, timeout=spec["seconds"], return_when=asyncio.FIRST_EXCEPTION)
            end = clock()
            cpu1, server1, rss1 = _cpu(), _server_cpu(pids), rss()
            window[1] = min(window[1], end)
            stop[0] = True
            # The requests started in the window finish (bounded), so a starved waiter counts.
            await _watch(
                tasks,
                lambda: sum(task.done() for task in tasks),
                conc,
                "workers finished after the window",
                limit=spec.get("grace", 15.0),
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = end - start
    count = max(completed[0], 1)
    return {
        "rps": completed[0] / elapsed,
        **_percentiles(latencies),
        "cpu_us": (cpu1 - cpu0) / count * 1e6,
        "server_cpu": (server1 - server0) / elapsed,
        "rss_mib": rss1 / 2**20,
        "rss0_mib": rss0 / 2**20,
    }


async def _list(client: Client, spec: Spec) -> dict[str, Any]:
    urls: list[str] = spec["urls"]
    per_host = spec["per_host"]
    limits: dict[str, asyncio.Semaphore] = {}
    for url in urls:
        limits.setdefault(urlsplit(url).netloc, asyncio.Semaphore(per_host))
    queue = iter(urls)
    latencies: list[float] = []
    fetch = client.fetch

    async def worker() -> None:
        for url in queue:
            async with limits[urlsplit(url).netloc]:
                start = clock()
                status = await fetch(url)
                if status != 200:
                    raise RuntimeError(f"status {status} from {url}")
                latencies.append(clock() - start)

    cpu0, server0, start = _cpu(), _server_cpu(spec.get("server_pids", [])), clock()
    workers = [asyncio.ensure_future(worker()) for _ in range(spec["conc"])]
    try:
        with _watchdog(lambda: len(latencies), len(urls), "done"):
            await _watch(workers, lambda: len(latencies), len(urls), "done", limit=spec["limit_s"])
    finally:
        for task in workers:
            task.cancel()
    elapsed = clock() - start
    cpu1, server1 = _cpu(), _server_cpu(spec.get("server_pids", []))
    return {
        "rps": len(urls) / elapsed,
        **_percentiles(latencies),
        "cpu_us": (cpu1 - cpu0) / len(urls) * 1e6,
        "server_cpu": (server1 - server0) / elapsed,
        "seconds": elapsed,
    }


async def _hold(client: Client, spec: Spec) -> dict[str, Any]:
    """RSS per in-flight request, then per idle pooled connection, ``conc`` of each."""
    conc = spec["conc"]
    if await client.fetch(spec["warm_url"]) != 200:
        raise RuntimeError("warm-up request failed")
    base_rss, base_sockets = rss(), sockets()
    peak = [base_rss]
    finished = asyncio.Event()

    async def sampler() -> None:
        while not finished.is_set():
            peak[0] = max(peak[0], rss())
            await asyncio.sleep(0.05)

    watch = asyncio.ensure_future(sampler())
    start = clock()
    held = [asyncio.ensure_future(client.fetch(spec["url"])) for _ in range(conc)]
    try:
        await _watch(
            held,
            lambda: sum(task.done() for task in held),
            conc,
            "held requests done",
            stall=HOLD_STALL,
            limit=spec["patience"],
            rate=False,
        )
    finally:
        for task in held:
            task.cancel()
        finished.set()
        await watch
    elapsed = clock() - start
    if any(task.result() != 200 for task in held):
        raise RuntimeError("a held request failed")
    await asyncio.sleep(0.2)  # closes scheduled on completion run
    idle_rss, idle_sockets = rss(), sockets() - base_sockets
    return {
        "inflight_kib": (peak[0] - base_rss) / conc / 1024,
        "idle_kib": (idle_rss - base_rss) / max(idle_sockets, 1) / 1024,
        "idle_sockets": idle_sockets,
        "seconds": elapsed,
        "rss0_mib": base_rss / 2**20,
    }


async def _stream(client: Client, spec: Spec) -> dict[str, Any]:
    if await client.fetch(spec["warm_url"]) != 200:
        raise RuntimeError("warm-up request failed")
    base = rss()
    peak = [base]
    calls = [0]

    def sample(total: int) -> None:
        calls[0] += 1
        if calls[0] % 16 == 0:
            peak[0] = max(peak[0], rss())

    got = [0]

    def progress(total: int) -> None:
        got[0] = total
        sample(total)

    cpu0 = _cpu()
    start = clock()
    task = asyncio.ensure_future(client.stream(spec["url"], progress))
    try:
        await _watch([task], lambda: got[0], spec["size"], "bytes", limit=spec["patience"])
    finally:
        task.cancel()
    total = task.result()
    elapsed = clock() - start
    cpu1 = _cpu()
    peak[0] = max(peak[0], rss())
    if total != spec["size"]:
        raise RuntimeError(f"streamed {total} bytes of {spec['size']}")
    return {
        "growth_mib": (peak[0] - base) / 2**20,
        "mib_s": total / 2**20 / elapsed,
        "cpu_s": cpu1 - cpu0,
        "chunks": calls[0],
        "rss0_mib": base / 2**20,
    }


MODES = {"load": _load, "list": _list, "hold": _hold, "stream": _stream}


async def _main(spec: Spec) -> dict[str, Any]:
    client = await CLIENTS[spec["client"]](spec)
    try:
        return await MODES[spec["mode"]](client, spec)
    finally:
        await client.close()


def main() -> None:
    spec: Spec = json.loads(sys.stdin.read())  # stdin: the crawler's URL list is long
    os.sched_setaffinity(0, {spec.get("cpu", 0)})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if spec.get("loop") == "uvloop":
        import uvloop

        result = uvloop.run(_main(spec))
    else:
        result = asyncio.run(_main(spec))
    print(json.dumps(result), flush=True)
    # pyreqwest and rnet can crash in interpreter finalisation (their runtime threads
    # against a finalising interpreter: PyGILState_Release, SIGSEGV) after the
    # measurement is done: leave without finalising, the same way for every client.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
