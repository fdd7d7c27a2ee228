"""Fault injection: thousands of requests through a chaos proxy to real servers.

Each test sends a seeded mix of requests (GET, HEAD, POST, PUT; no body,
small bytes, 1 MiB bytes, async-iterator streams, streams that raise
part-way; small, 1 MiB, chunked and early responses) through
:class:`tests.servers.chaos.ChaosProxy` to one server: aiohttp over
HTTP/1.1, nginx over HTTP/1.1, nginx over HTTP/2 with TLS. The proxy
injects latency, bandwidth caps, stalls past the timeouts, resets,
half-closes and truncations at random byte offsets. Every request carries
a unique id the server echoes (header and body). Each request must end in
a correct response for *its* id, or a typed hyperhttp error, within its
total timeout plus a margin; an error's ``request``, when set, is its own.
On cleartext connections the proxy also checks the client's byte stream is
whole requests one after another (``RequestFraming``): a request started
on a connection whose previous body was left half-sent is a desync even
when the server's answer to it is only a typed error on the client's side.
Afterwards: no lease held, no waiter, no client task, no client timer, no
client socket left after ``aclose``, the app read exactly the bodies sent
under their ids, and with the chaos off the same pool serves fresh
(replayable) requests, every one correctly.

What is allowed besides a correct response: any hyperhttp error; the
caller's own exception from a body iterator that raises; a response for the
right id saying the server saw a cut upload (the app's 400, nginx's error
page). Streamed bodies cannot be replayed, so a StreamRefused for one (an
nginx GOAWAY at ``keepalive_requests``) is an outcome even without chaos.

Configuration (environment):

- ``CHAOS_SEED``: replay a run (printed with every failure);
- ``CHAOS_REQUESTS``: requests for the whole file (default 3600), split
  over the three servers and the two event loops; a longer run is
  ``CHAOS_REQUESTS=20000 hatch test tests/test_fault_injection.py``;
- ``CHAOS_CONCURRENCY``: requests in flight (default 32);
- ``CHAOS_CLEAN``: the share of connections left without faults (``1``: a
  baseline run of the same mix with no chaos at all).

The same seed replays each connection's faults exactly and each request's
shape exactly; which request rides which connection depends on scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hyperhttp
import hyperhttp_dns
import hyperhttp_parser
import hyperhttp_pool
import hyperhttp_resilience
import pytest
from aiohttp import web

from tests.servers.chaos import ChaosProxy, Fault, Profile
from tests.servers.id_echo import EchoRecord, echo_app, expected_body, start_echo_nginx
from tests.servers.nginx import require_nginx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.servers.fixtures import TLSSetup

pytestmark = pytest.mark.asyncio

SEED = os.environ.get("CHAOS_SEED") or str(random.SystemRandom().randrange(10**9))
TOTAL = int(os.environ.get("CHAOS_REQUESTS", "3600"))
CONCURRENCY = int(os.environ.get("CHAOS_CONCURRENCY", "32"))
CLEAN = float(os.environ["CHAOS_CLEAN"]) if os.environ.get("CHAOS_CLEAN") else None
TARGETS = ("aiohttp-h1", "nginx-h1", "nginx-h2")
PER_TEST = max(1, TOTAL // (len(TARGETS) * 2))  # two event loops
RECOVERY = 48  # requests with the chaos off, afterwards

TIMEOUT = hyperhttp.Timeout(1.0, pool=2.0, total=3.0)
MARGIN = 2.0  # scheduling slack on a loaded 2-core machine
LIMITS = hyperhttp.Limits(max_connections_per_host=24, keepalive_expiry=10.0)
MIB = 1024 * 1024
# One HTTP/2 connection carries up to 100 requests (nginx's keepalive_requests),
# tens of MiB: more faults per connection, spread over all of it.
H2_PROFILE = Profile(
    clean=0.1,
    max_faults=4,
    offsets=((400, 2.0), (4096, 2.0), (64 * 1024, 2.0), (2 * MIB, 2.0), (32 * MIB, 4.0)),
)


class ChaosBodyError(Exception):
    """Raised by a request body iterator part-way (the caller's own failure)."""


@dataclass
class Shape:
    """One request of the run, drawn from the seed."""

    ident: str
    method: str
    kind: str  # small, large, chunked, early, native
    body: str  # none, small, big, stream, raising
    chunks: list[bytes] = field(default_factory=list)

    @property
    def streamed(self) -> bool:
        """Whether the body is an async iterator (sent once, never replayed)."""
        return self.body in ("stream", "raising")

    @property
    def sent(self) -> bytes:
        return b"".join(self.chunks)

    def content(self) -> bytes | AsyncIterator[bytes] | None:
        if self.body == "none":
            return None
        if self.body in ("small", "big"):
            return self.sent
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        for number, chunk in enumerate(self.chunks):
            if self.body == "raising" and number == len(self.chunks) - 1:
                await asyncio.sleep(0.05)  # an early response may come back meanwhile
                raise ChaosBodyError(self.ident)
            yield chunk
            await asyncio.sleep(0)

    def path(self) -> str:
        if self.kind == "native":
            return f"/native?id={self.ident}"
        return f"/chaos/{self.kind}?id={self.ident}"

    def expected(self) -> bytes:
        if self.method == "HEAD":
            return b""
        if self.kind == "native":
            return f"{self.ident} {self.method} native\n".encode()
        return expected_body(self.kind, self.ident, self.method, self.sent)


def shape(seed: str, target: str, number: int) -> Shape:
    """Draw request ``number`` of ``target``'s run (the same for the same seed)."""
    rng = random.Random(f"{seed}:{target}:{number}")
    nginx = target.startswith("nginx")
    ident = f"{target[:2]}{target[-2:]}-{number:05d}-{rng.getrandbits(24):06x}"
    method = rng.choices(("GET", "HEAD", "POST", "PUT"), (35, 15, 30, 20))[0]
    if method == "HEAD":
        kind = rng.choices(("small", "large", "native"), (5, 3, 2 if nginx else 0))[0]
        return Shape(ident, method, kind, "none")
    kinds = ("small", "large", "chunked", "early", "native")
    uploads = method in ("POST", "PUT")
    kind = rng.choices(kinds, (45, 15, 20, 10 if uploads else 0, 10 if nginx else 0))[0]
    if not uploads:
        return Shape(ident, method, kind, "none")
    body = rng.choices(("none", "small", "big", "stream", "raising"), (10, 35, 15, 32, 8))[0]
    fill = ident.encode()
    chunks: list[bytes] = []
    if body == "small":
        chunks = [(fill * 200)[: rng.randint(1, 2000)]]
    elif body == "big":
        chunks = [(fill * (MIB // len(fill) + 1))[:MIB]]
    elif body in ("stream", "raising"):
        size = 64 * 1024 if rng.random() < 0.8 else MIB // 16  # up to 1 MiB in all
        count = rng.randint(2, 16)
        chunks = [(fill * (size // len(fill) + 1))[: rng.randint(1, size)] for _ in range(count)]
    return Shape(ident, method, kind, body, chunks)


@dataclass
class Run:
    """Outcomes of one run, and every broken promise found."""

    target: str
    strict: bool = False  # chaos off: errors are failures too
    outcomes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # one message per error type
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0

    def fail(self, item: Shape, message: str) -> None:
        self.failures.append(f"{item.ident} {item.method} {item.kind}/{item.body}: {message}")


def check_response(run: Run, item: Shape, response: hyperhttp.Response) -> None:
    """Check that a response is ``item``'s: its id echoed, its body exact."""
    echoed = response.headers.get("x-echo-id")
    status = response.status_code
    content = response.content
    if echoed != item.ident:
        run.fail(
            item, f"answered for another request: {status} X-Echo-Id={echoed!r} {content[:80]!r}"
        )
        return
    if status == 200:
        if content != item.expected():
            run.fail(item, f"body differs: {len(content)} bytes {content[:80]!r}")
            return
        run.outcomes["ok"] += 1
        return
    # The server saw a damaged request (the proxy cut the upload) and said so, for this id.
    words = f"{item.ident} {item.method}".encode()
    if status == 400 and content == words + b" cut\n":
        run.outcomes["server saw a cut upload (400)"] += 1
    elif status == 503 and content in (words + b" nginx-error\n", b""):
        run.outcomes["nginx error page (503)"] += 1
    else:
        run.fail(item, f"unexpected response {status} {content[:80]!r}")


async def send(client: hyperhttp.Client, base: str, run: Run, item: Shape) -> None:
    """Send one request; record its outcome or what went wrong."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        response = await client.request(
            item.method,
            base + item.path(),
            headers={"X-Request-Id": item.ident},
            content=item.content(),
            timeout=TIMEOUT,
        )
    except ChaosBodyError:
        if item.body != "raising":
            run.fail(item, "a ChaosBodyError from a body that does not raise")
        run.outcomes["ChaosBodyError (the body's own)"] += 1
    except hyperhttp.HTTPError as exc:
        name = type(exc).__name__
        run.outcomes[f"{name} (streamed body)" if item.streamed else name] += 1
        run.examples.setdefault(name, str(exc))
        if run.strict:
            run.fail(item, f"{exc!r}")
        if exc.request is not None and item.ident not in str(exc.request.url):
            run.fail(item, f"{exc!r} names another request: {exc.request.url}")
    except Exception as exc:
        run.fail(item, f"untyped error {exc!r}")
    else:
        check_response(run, item, response)
    elapsed = loop.time() - started
    run.slowest = max(run.slowest, elapsed)
    assert TIMEOUT.total is not None
    if elapsed > TIMEOUT.total + MARGIN:
        run.fail(item, f"took {elapsed:.2f} s, over the total timeout {TIMEOUT.total} s")


async def drive(
    client: hyperhttp.Client, base: str, run: Run, items: list[Shape], concurrency: int
) -> None:
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            await send(client, base, run, queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# ------------------------------------------------------------------ leak probes


_LIBRARY = tuple(
    os.path.dirname(module.__file__ or "") + os.sep
    for module in (hyperhttp, hyperhttp_dns, hyperhttp_parser, hyperhttp_pool, hyperhttp_resilience)
)


def _client_tasks() -> list[asyncio.Task[Any]]:
    """Return the running tasks whose coroutine is the library's own code."""
    found = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if not task.done() and getattr(code, "co_filename", "").startswith(_LIBRARY):
            found.append(task)
    return found


def _client_timers(loop: asyncio.AbstractEventLoop) -> list[object]:
    """Live timer handles whose callback is hyperhttp's (asyncio's loop lists them)."""
    found: list[object] = []
    for handle in getattr(loop, "_scheduled", []):
        callback = getattr(handle, "_callback", None)
        owner = getattr(callback, "__self__", None)
        module = getattr(type(owner), "__module__", "") or getattr(callback, "__module__", "")
        if not handle.cancelled() and module.startswith("hyperhttp"):
            found.append(handle)
    return found


def _sockets_to(port: int) -> list[str]:
    """Return our TCP sockets connected to ``port`` on loopback (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                rows = lines.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if remote_port == port and cols[9] in inodes:
                found.append(f"{cols[1]}->{cols[2]} state {cols[3]}")
    return found


# ------------------------------------------------------------------ the servers


async def _start_app(record: EchoRecord) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(
        echo_app(record), access_log=None, shutdown_timeout=0.1, lingering_time=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def _stop_app(runner: web.AppRunner) -> None:
    """Stop the app, and its handlers still lingering over unread request bodies.

    aiohttp reads and drops a body its handler left unread for up to
    ``lingering_time`` (what the ``early`` kind relies on); those handler
    tasks can outlive ``cleanup``.
    """
    await runner.cleanup()
    lingering = [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "").endswith(
            os.path.join("aiohttp", "web_protocol.py")
        )
    ]
    for task in lingering:
        task.cancel()
    await asyncio.gather(*lingering, return_exceptions=True)


# ------------------------------------------------------------------ the suite


@dataclass
class Rig:
    """The servers of one test and the proxy in front of them."""

    base: str
    proxy: ChaosProxy
    record: EchoRecord


@contextlib.asynccontextmanager
async def rig(target: str, tls: TLSSetup, tmp_path: Path, **chaos: Any) -> AsyncIterator[Rig]:
    """Start the echo app (and nginx in front of it) and a chaos proxy for ``target``."""
    if target.startswith("nginx"):
        require_nginx()
    record = EchoRecord()
    runner, app_port = await _start_app(record)
    nginx = None
    proxy: ChaosProxy | None = None
    try:
        if target == "aiohttp-h1":
            upstream, scheme = app_port, "http"
        else:
            cert_path, key_path = tls.cert_files(tmp_path)
            nginx = start_echo_nginx(tmp_path, cert_path, key_path, app_port)
            if target == "nginx-h1":
                upstream, scheme = nginx.plain_port, "http"
            else:
                upstream, scheme = nginx.tls_port, "https"
        proxy = await ChaosProxy(
            ("127.0.0.1", upstream), check_http1=scheme == "http", **chaos
        ).start()
        yield Rig(f"{scheme}://127.0.0.1:{proxy.port}", proxy, record)
    finally:
        if proxy is not None:
            await proxy.aclose()
        await _stop_app(runner)
        if nginx is not None:
            nginx.stop()


def check_bodies_arrived_whole(record: EchoRecord, items: list[Shape], report: str) -> None:
    """Check the app read exactly what the client sent, under the id it was sent with."""
    by_id = {item.ident: item for item in items}
    assert not record.strays, f"requests without their id reached the app: {record.strays}"
    for ident, (length, crc) in record.bodies.items():
        sent = by_id[ident].sent
        assert (length, crc) == (len(sent), zlib.crc32(sent)), (
            f"{ident}: the app read {length} bytes, the client sent {len(sent)}{report}"
        )


@pytest.mark.parametrize("target", TARGETS)
async def test_every_request_ends_correctly_or_typed_under_chaos(
    target: str, tls: TLSSetup, tmp_path: Path
) -> None:
    """Under injected faults: right response or typed error, in time; no leaks; recovery."""
    loop = asyncio.get_running_loop()
    loop_name = type(loop).__module__.split(".")[0]
    seed = f"{SEED}:{target}:{loop_name}"
    profile = H2_PROFILE if target == "nginx-h2" else Profile()
    if CLEAN is not None:
        profile = dataclasses.replace(profile, clean=CLEAN)
    client: hyperhttp.Client | None = None
    async with rig(target, tls, tmp_path, seed=seed, profile=profile) as setup:
        proxy = setup.proxy
        try:
            client = hyperhttp.Client(verify=tls.ca_path, limits=LIMITS, trust_env=False)
            run = Run(target)
            items = [shape(seed, target, number) for number in range(PER_TEST)]
            started = time.perf_counter()
            async with asyncio.timeout(60 + PER_TEST * 0.5):  # bounded whatever happens
                await drive(client, setup.base, run, items, CONCURRENCY)
            report = (
                f"\nchaos {target} on {loop_name}: {PER_TEST} requests in"
                f" {time.perf_counter() - started:.1f} s through {proxy.connections}"
                f" connections (CHAOS_SEED={SEED})\n"
                f"  outcomes: {dict(run.outcomes.most_common())}\n"
                f"  faults struck: {dict(proxy.struck.most_common())}\n"
                f"  slowest request: {run.slowest:.2f} s\n"
                + "".join(f"  {name}: {text}\n" for name, text in sorted(run.examples.items()))
            )
            print(report)
            assert not proxy.framing_errors, (
                "the client sent a request on a connection whose previous request it had not"
                f" finished (HTTP/1.1 desync):{report}\n" + "\n".join(proxy.framing_errors[:10])
            )
            assert not run.failures, f"{len(run.failures)} broken promises{report}\n" + "\n".join(
                run.failures[:20]
            )
            assert sum(run.outcomes.values()) == PER_TEST

            # Every lease came back; nothing waits; no task of the client runs.
            await asyncio.sleep(0.05)
            stats = client.pool_stats()
            assert (stats.leases, stats.in_use, stats.waiters, stats.connecting) == (0, 0, 0, 0), (
                f"pool after the run: {stats}{report}"
            )
            assert not _client_tasks(), f"client tasks left: {_client_tasks()}{report}"
            check_bodies_arrived_whole(setup.record, items, report)

            # Chaos off: the same client and pool serve fresh requests, all correctly.
            proxy.calm()
            calm = Run(target, strict=True)
            fresh = [
                s
                for s in (shape(seed + ":calm", target, number) for number in range(RECOVERY * 2))
                if s.body not in ("stream", "raising")  # every one replayable: none may fail
            ][:RECOVERY]
            await drive(client, setup.base, calm, fresh, 16)
            assert not calm.failures, "with the chaos off:\n" + "\n".join(calm.failures[:20])
            assert calm.outcomes == Counter(ok=len(fresh)), f"with the chaos off: {calm.outcomes}"
            stats = client.pool_stats()
            assert (stats.leases, stats.in_use, stats.waiters) == (0, 0, 0), f"{stats}"

            # aclose leaves no socket, task or timer of the client behind.
            probe = Shape(f"{target}-probe", "GET", "small", "none")
            async with client.stream(
                "GET", setup.base + probe.path(), headers={"X-Request-Id": probe.ident}
            ) as response:
                assert _sockets_to(proxy.port), "the socket probe sees a connection in use"
                assert await response.aread() == probe.expected()
            await client.aclose()
            client = None
            await asyncio.sleep(0)
            assert not _sockets_to(proxy.port), f"client sockets left: {_sockets_to(proxy.port)}"
            assert not _client_tasks()
            assert not _client_timers(loop), f"client timers left: {_client_timers(loop)}"
        finally:
            if client is not None:
                await client.aclose()


async def test_http2_connection_loss_errors_name_each_request_its_own(
    tls: TLSSetup, tmp_path: Path
) -> None:
    """One HTTP/2 connection reset under 8 streams: 8 errors, each naming its own request.

    Found by the chaos run (CHAOS_SEED=3, nginx-h2 on asyncio): the connection
    failed every stream with one shared exception object, whose ``request``
    the first caller set, so the other seven named a request not theirs.
    """
    reset = (Fault("reset", "down", 512 * 1024),)
    async with (
        rig(
            "nginx-h2", tls, tmp_path, seed=0, plan=lambda index: reset if index == 0 else ()
        ) as setup,
        hyperhttp.Client(verify=tls.ca_path, trust_env=False) as client,
    ):
        items = [Shape(f"reset-{n}", "GET", "large", "none") for n in range(8)]

        async def one(item: Shape) -> BaseException | hyperhttp.Response:
            try:
                return await client.get(
                    setup.base + item.path(), headers={"X-Request-Id": item.ident}, timeout=TIMEOUT
                )
            except hyperhttp.HTTPError as exc:
                return exc

        results = await asyncio.gather(*(one(item) for item in items))
        assert setup.proxy.struck == {"reset@down": 1}
        errors = [r for r in results if isinstance(r, hyperhttp.HTTPError)]
        assert len(errors) == len(items), results
        assert len({id(error) for error in errors}) == len(errors), "one error object, shared"
        for item, error in zip(items, results, strict=True):
            assert isinstance(error, hyperhttp.HTTPError)
            if error.request is not None:  # None when it broke off the body, after the head
                assert item.ident in str(error.request.url), (item.ident, error.request.url)
        # The client moves on to a new connection.
        fresh = Shape("after-reset", "GET", "small", "none")
        response = await client.get(
            setup.base + fresh.path(), headers={"X-Request-Id": fresh.ident}, timeout=TIMEOUT
        )
        assert response.content == fresh.expected()
