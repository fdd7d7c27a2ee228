"""The Client with a RetryPolicy and a CircuitBreaker, against real loopback peers.

Servers: an aiohttp app answering a scripted number of failures before a 200
(``flaky``), scripted raw-socket servers that close or reset connections
(``raw_server``), and the scripted HTTP/2 server for refused streams. Every
count asserted is what a server saw (hits, accepted connections) or what the
client's ``trace`` reported, never the wall clock.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import hyperhttp
import hyperhttp_resilience
import pytest
import pytest_asyncio
from aiohttp import web

from tests.servers.fixtures import RawServer, Script, response
from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest
from tests.servers.routes import TraceRecorder

pytestmark = pytest.mark.asyncio

StartRaw = Callable[[Script], Awaitable[RawServer]]

CLOSED = hyperhttp_resilience.CircuitState.CLOSED
OPEN = hyperhttp_resilience.CircuitState.OPEN
HALF_OPEN = hyperhttp_resilience.CircuitState.HALF_OPEN

FOREVER = 10**9  # failures of a server that never recovers
GUARD = 5.0  # seconds: a hang guard only, never the thing asserted


# ------------------------------------------------------------------ peers and helpers


@dataclass
class Flaky:
    """An aiohttp server: ``failures`` answers of ``status``, then 200 ``ok``.

    ``retry_after`` goes out with every failure when set; ``delay`` makes
    every answer that late (for timeouts). ``hits`` counts requests,
    ``ports`` the client ports seen (one per connection).
    """

    url: str = ""
    port: int = 0
    failures: int = 0
    status: int = 503
    retry_after: str | None = "0"
    delay: float = 0.0
    hits: int = 0
    methods: list[str] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)

    @property
    def origin(self) -> tuple[str, str, int]:
        return ("http", "127.0.0.1", self.port)


def _flaky_app(state: Flaky) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        state.hits += 1
        state.methods.append(request.method)
        if request.transport is not None:
            state.ports.add(request.transport.get_extra_info("peername")[1])
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.failures > 0:
            state.failures -= 1
            headers = {} if state.retry_after is None else {"Retry-After": state.retry_after}
            body = f"failure {state.hits}: " + "x" * 2000
            return web.Response(status=state.status, text=body, headers=headers)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


StartFlaky = Callable[..., Awaitable[Flaky]]


@pytest_asyncio.fixture
async def flaky() -> AsyncIterator[StartFlaky]:
    """Provide a starter of Flaky servers (``await start(failures=2, status=503)``)."""
    runners: list[web.AppRunner] = []

    async def start(**settings: Any) -> Flaky:
        state = Flaky(**settings)
        # handler_cancellation: a client that gave up cancels the sleeping handler.
        runner = web.AppRunner(
            _flaky_app(state), access_log=None, shutdown_timeout=0.1, handler_cancellation=True
        )
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state.port = runner.addresses[0][1]
        state.url = f"http://127.0.0.1:{state.port}"
        return state

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


def fast(max_attempts: int = 3, **settings: Any) -> hyperhttp.RetryPolicy:
    """Return a policy with millisecond backoffs, so retried tests stay fast."""
    return hyperhttp.RetryPolicy(
        max_attempts=max_attempts, backoff_base=0.001, backoff_cap=0.01, **settings
    )


def dead_port() -> int:
    """Return a loopback port nothing listens on (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def past_cooldown(breaker: hyperhttp.CircuitBreaker, origin: tuple[str, str, int]) -> None:
    """Wait (bounded) until ``origin``'s circuit is no longer open."""
    for _ in range(500):
        if breaker.state(origin) is not OPEN:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the circuit of {origin} stayed open")


def _closing(status: int, body: bytes = b"") -> bytes:
    """Build a response asking for the connection to close (one per request)."""
    return response(status, body, ["Connection: close"])


# ------------------------------------------------------------------ retrying statuses


@pytest.mark.parametrize("status", [503, 429, 502, 504])
async def test_retryable_status_is_retried_until_success(flaky: StartFlaky, status: int) -> None:
    """A GET answered 503 (or 429, 502, 504) twice, then 200: three hits, the 200 returned."""
    server = await flaky(failures=2, status=status, retry_after="0")
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert r.status_code == 200
    assert r.text == "ok"
    assert server.hits == 3


async def test_retries_end_at_max_attempts_with_the_last_response(flaky: StartFlaky) -> None:
    """A server failing for ever: max_attempts hits, then the last 503 is returned."""
    server = await flaky(failures=FOREVER)
    async with hyperhttp.Client(retry=fast(max_attempts=4)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert r.status_code == 503
    assert r.text.startswith("failure 4:")
    assert server.hits == 4


async def test_non_retryable_status_is_returned_at_once(flaky: StartFlaky) -> None:
    """500 is not among the retried statuses: one hit, the 500 returned."""
    server = await flaky(failures=FOREVER, status=500)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert r.status_code == 500
    assert server.hits == 1


async def test_retry_after_beyond_max_retry_after_gives_up(flaky: StartFlaky) -> None:
    """Retry-After: 1 with max_retry_after=0.5: the 503 is returned after one hit (no sleep)."""
    server = await flaky(failures=1, retry_after="1")
    policy = fast(max_attempts=5, max_retry_after=0.5)
    events = TraceRecorder()
    async with hyperhttp.Client(retry=policy, trace=events) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert r.status_code == 503
    assert server.hits == 1
    assert events.named("retry") == []


async def test_retry_after_sets_the_delay(flaky: StartFlaky) -> None:
    """Retry-After: 0 is the wait chosen (not the backoff); without it, jitter within bounds."""
    server = await flaky(failures=1, retry_after="0")
    policy = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.002, backoff_cap=0.004)
    events = TraceRecorder()
    async with hyperhttp.Client(retry=policy, trace=events) as client:
        assert (await client.get(f"{server.url}/x")).status_code == 200
        server.failures, server.retry_after = 1, None
        assert (await client.get(f"{server.url}/x")).status_code == 200
    delays = [info["delay"] for info in events.named("retry")]
    assert len(delays) == 2
    assert delays[0] == 0.0
    assert 0.002 <= delays[1] <= 0.004
    assert server.hits == 4


async def test_shared_retry_budget_bounds_retries(flaky: StartFlaky) -> None:
    """A RetryBudget allowing one retry in its window: the second call is not retried."""
    server = await flaky(failures=FOREVER)
    budget = hyperhttp.RetryBudget(ratio=0.0, window=10.0, min_per_second=0.1)  # one retry
    async with hyperhttp.Client(retry=fast(max_attempts=5, budget=budget)) as client:
        first = await asyncio.wait_for(client.get(f"{server.url}/a"), GUARD)
        assert server.hits == 2
        second = await asyncio.wait_for(client.get(f"{server.url}/b"), GUARD)
    assert (first.status_code, second.status_code) == (503, 503)
    assert server.hits == 3


# ------------------------------------------------------------------ methods


async def test_post_is_not_retried_by_default(flaky: StartFlaky) -> None:
    """A POST answered 503: returned after one hit (POST is not idempotent)."""
    server = await flaky(failures=2)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.post(f"{server.url}/x", content=b"order"), GUARD)
    assert r.status_code == 503
    assert server.hits == 1


async def test_post_is_retried_when_retry_methods_allow(flaky: StartFlaky) -> None:
    """retry_methods naming POST: the 503s are retried and the 200 returned."""
    server = await flaky(failures=2)
    policy = fast(max_attempts=5, retry_methods={"GET", "POST"})
    async with hyperhttp.Client(retry=policy) as client:
        r = await asyncio.wait_for(client.post(f"{server.url}/x", content=b"order"), GUARD)
    assert r.status_code == 200
    assert server.hits == 3
    assert server.methods == ["POST"] * 3


# ------------------------------------------------------------------ errors after sending


def _hang_up(failures: int, mode: str, holder: list[RawServer]) -> Script:
    """Read the request, then close (EOF) or reset (RST) the first ``failures`` connections."""

    def respond(data: bytes, number: int) -> bytes | None:
        if number <= failures:
            if mode == "reset":  # SO_LINGER 0: close() sends RST
                writer = holder[0].writers[number - 1]
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        return response(200, b"ok")

    return respond


@pytest.mark.parametrize("mode", ["eof", "reset"])
async def test_get_is_retried_after_the_server_hangs_up(raw_server: StartRaw, mode: str) -> None:
    """A server closing (or resetting) the first two connections unanswered: GET succeeds."""
    holder: list[RawServer] = []
    server = await raw_server(_hang_up(2, mode, holder))
    holder.append(server)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert r.status_code == 200
    assert r.content == b"ok"
    assert len(server.received) == 3
    assert server.connections == 3


@pytest.mark.parametrize("mode", ["eof", "reset"])
async def test_post_is_not_retried_after_the_server_hangs_up(
    raw_server: StartRaw, mode: str
) -> None:
    """The request may have been processed: a POST raises RemoteProtocolError after one hit."""
    holder: list[RawServer] = []
    server = await raw_server(_hang_up(2, mode, holder))
    holder.append(server)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await asyncio.wait_for(client.post(f"{server.url}/x", content=b"order"), GUARD)
    assert len(server.received) == 1


async def test_without_a_policy_a_hang_up_is_not_retried(raw_server: StartRaw) -> None:
    """No policy: a GET whose fresh connection is closed unanswered fails after one hit."""
    holder: list[RawServer] = []
    server = await raw_server(_hang_up(1, "eof", holder))
    holder.append(server)
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert len(server.received) == 1


# ------------------------------------------------------------------ connect errors


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connect_errors_are_retried_for_any_method(method: str) -> None:
    """No listener: max_attempts connection attempts (POST too: nothing was sent), ConnectError."""
    port = dead_port()
    body = b"order" if method == "POST" else None
    events = TraceRecorder()
    async with hyperhttp.Client(retry=fast(max_attempts=3), trace=events) as client:
        with pytest.raises(hyperhttp.ConnectError):
            await asyncio.wait_for(
                client.request(method, f"http://127.0.0.1:{port}/x", content=body), GUARD
            )
    attempts = events.named("connect.attempt")
    assert len(attempts) == 3
    assert all(a["port"] == port for a in attempts)
    retries = events.named("retry")
    assert [r["attempt"] for r in retries] == [1, 2]
    assert all(isinstance(r["error"], hyperhttp.ConnectError) for r in retries)


# ------------------------------------------------------------------ the circuit breaker


async def test_breaker_opens_and_refuses_without_connecting(raw_server: StartRaw) -> None:
    """Two 503s open the circuit; the third call raises CircuitOpenError, no connection made."""
    server = await raw_server(lambda data, number: _closing(503, b"down"))
    server.close_after = True  # every request on its own connection
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
    origin = ("http", "127.0.0.1", server.port)
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        for _ in range(2):
            r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
            assert r.status_code == 503
        assert breaker.state(origin) is OPEN
        with pytest.raises(hyperhttp.CircuitOpenError) as info:
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    error = info.value
    assert isinstance(error, hyperhttp_resilience.CircuitOpenError)
    assert isinstance(error, hyperhttp.HTTPError)
    assert error.key == origin
    assert error.retry_after > 0
    assert len(server.received) == 2
    assert server.connections == 2


async def test_breaker_half_open_trial_closes_the_circuit(raw_server: StartRaw) -> None:
    """After the cooldown one trial reaches the server; its success closes the circuit."""
    failing = [True]

    def respond(data: bytes, number: int) -> bytes:
        return _closing(503, b"down") if failing[0] else _closing(200, b"up")

    server = await raw_server(respond)
    server.close_after = True
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=0.05)
    origin = ("http", "127.0.0.1", server.port)
    url = f"{server.url}/x"
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        for _ in range(2):
            await asyncio.wait_for(client.get(url), GUARD)
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(url)
        assert server.connections == 2
        failing[0] = False
        await past_cooldown(breaker, origin)
        r = await asyncio.wait_for(client.get(url), GUARD)  # the trial
        assert r.status_code == 200
        assert server.connections == 3
        assert breaker.state(origin) is CLOSED
        for _ in range(3):  # calls flow again
            assert (await asyncio.wait_for(client.get(url), GUARD)).status_code == 200
    assert len(server.received) == 6


async def test_breaker_failed_trial_reopens(raw_server: StartRaw) -> None:
    """A half-open trial answered 503 re-opens the circuit: the next call is refused."""
    server = await raw_server(lambda data, number: _closing(503, b"down"))
    server.close_after = True
    breaker = hyperhttp.CircuitBreaker(failure_threshold=1, cooldown=0.05, max_cooldown=60.0)
    origin = ("http", "127.0.0.1", server.port)
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        await past_cooldown(breaker, origin)
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)  # the trial
        assert r.status_code == 503
        assert breaker.state(origin) is OPEN
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(f"{server.url}/x")
    assert len(server.received) == 2


async def test_breaker_is_per_origin(raw_server: StartRaw) -> None:
    """One origin's open circuit leaves another origin (another port) unaffected."""
    bad = await raw_server(lambda data, number: _closing(503, b"down"))
    good = await raw_server(lambda data, number: _closing(200, b"up"))
    bad.close_after = good.close_after = True
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        for _ in range(2):
            await asyncio.wait_for(client.get(f"{bad.url}/x"), GUARD)
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(f"{bad.url}/x")
        for _ in range(3):
            r = await asyncio.wait_for(client.get(f"{good.url}/x"), GUARD)
            assert r.status_code == 200
    assert breaker.state(("http", "127.0.0.1", bad.port)) is OPEN
    assert breaker.state(("http", "127.0.0.1", good.port)) is CLOSED
    assert bad.connections == 2
    assert good.connections == 3


async def test_breaker_counts_connect_errors() -> None:
    """Two refused connections open the circuit; the third call makes no connection attempt."""
    port = dead_port()
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
    events = TraceRecorder()
    url = f"http://127.0.0.1:{port}/x"
    async with hyperhttp.Client(circuit_breaker=breaker, trace=events) as client:
        for _ in range(2):
            with pytest.raises(hyperhttp.ConnectError):
                await asyncio.wait_for(client.get(url), GUARD)
        assert len(events.named("connect.attempt")) == 2
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(url)
    assert len(events.named("connect.attempt")) == 2


async def test_breaker_counts_timeouts(flaky: StartFlaky) -> None:
    """A read timeout is a failure: with failure_threshold=1 the next call is refused."""
    server = await flaky(failures=0, delay=GUARD)
    breaker = hyperhttp.CircuitBreaker(failure_threshold=1, cooldown=60.0)
    timeout = hyperhttp.Timeout(5.0, read=0.05)
    async with hyperhttp.Client(circuit_breaker=breaker, timeout=timeout) as client:
        with pytest.raises(hyperhttp.ReadTimeout):
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(f"{server.url}/x")
    assert server.hits == 1


async def test_breaker_failure_statuses_are_configurable(flaky: StartFlaky) -> None:
    """failure_statuses={429}: 503s leave the circuit closed, one 429 opens it."""
    server = await flaky(failures=3, status=503, retry_after=None)
    breaker = hyperhttp.CircuitBreaker(failure_threshold=1, cooldown=60.0, failure_statuses={429})
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        for _ in range(3):
            assert (await client.get(f"{server.url}/x")).status_code == 503
        assert breaker.state(server.origin) is CLOSED
        server.failures, server.status = 1, 429
        assert (await client.get(f"{server.url}/x")).status_code == 429
        assert breaker.state(server.origin) is OPEN
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(f"{server.url}/x")
    assert server.hits == 4


async def test_breaker_is_failure_decides_what_counts() -> None:
    """is_failure counting only 5xx statuses: refused connections never open the circuit."""
    port = dead_port()

    def only_server_errors(error: BaseException | None, status: int | None) -> bool:
        return status is not None and status >= 500

    breaker = hyperhttp.CircuitBreaker(
        failure_threshold=1, cooldown=60.0, is_failure=only_server_errors
    )
    events = TraceRecorder()
    url = f"http://127.0.0.1:{port}/x"
    async with hyperhttp.Client(circuit_breaker=breaker, trace=events) as client:
        for _ in range(3):
            with pytest.raises(hyperhttp.ConnectError):
                await asyncio.wait_for(client.get(url), GUARD)
    assert breaker.state(("http", "127.0.0.1", port)) is CLOSED
    assert len(events.named("connect.attempt")) == 3


async def test_retries_stop_when_the_circuit_opens(flaky: StartFlaky) -> None:
    """Retry and breaker together: the retry after the circuit opened never reaches the server."""
    server = await flaky(failures=FOREVER)
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
    async with hyperhttp.Client(retry=fast(max_attempts=5), circuit_breaker=breaker) as client:
        with pytest.raises(hyperhttp.CircuitOpenError):
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert server.hits == 2


# ------------------------------------------------------------------ per-request overrides


async def test_retry_none_disables_the_clients_policy(flaky: StartFlaky) -> None:
    """retry=None on one request: its 503 is returned after one hit; others still retry."""
    server = await flaky(failures=1)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x", retry=None), GUARD)
        assert r.status_code == 503
        assert server.hits == 1
        server.failures = 1
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        assert r.status_code == 200
    assert server.hits == 3


async def test_per_request_policy_on_a_client_without_one(flaky: StartFlaky) -> None:
    """retry=RetryPolicy(...) on one request of a client with none: that request retries."""
    server = await flaky(failures=2)
    async with hyperhttp.Client() as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x", retry=fast(5)), GUARD)
        assert r.status_code == 200
        assert server.hits == 3
        server.failures = 1
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        assert r.status_code == 503
    assert server.hits == 4


async def test_circuit_breaker_none_bypasses_an_open_circuit(flaky: StartFlaky) -> None:
    """circuit_breaker=None on one request: it reaches the server although the circuit is open."""
    server = await flaky(failures=2)
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        for _ in range(2):
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        with pytest.raises(hyperhttp.CircuitOpenError):
            await client.get(f"{server.url}/x")
        assert server.hits == 2
        r = await asyncio.wait_for(client.get(f"{server.url}/x", circuit_breaker=None), GUARD)
        assert r.status_code == 200
        assert server.hits == 3
        assert breaker.state(server.origin) is OPEN  # the bypassing call is not counted
        other = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=60.0)
        r = await asyncio.wait_for(client.get(f"{server.url}/x", circuit_breaker=other), GUARD)
        assert r.status_code == 200
    assert server.hits == 4


# ------------------------------------------------------------------ the total deadline


async def test_total_timeout_bounds_all_attempts(flaky: StartFlaky) -> None:
    """503 for ever, Retry-After 0, many attempts: total=0.3 ends them with a timeout."""
    server = await flaky(failures=FOREVER, retry_after="0")
    policy = fast(max_attempts=1_000_000)
    timeout = hyperhttp.Timeout(5.0, total=0.3)
    async with hyperhttp.Client(retry=policy, timeout=timeout) as client:
        with pytest.raises(hyperhttp.ReadTimeout) as info:
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert isinstance(info.value, hyperhttp.TimeoutException)
    assert isinstance(info.value, TimeoutError)
    assert server.hits > 1


async def test_total_timeout_per_request(flaky: StartFlaky) -> None:
    """A per-request Timeout(total=...) bounds that request's attempts too."""
    server = await flaky(failures=FOREVER, retry_after="0")
    async with hyperhttp.Client(retry=fast(max_attempts=1_000_000)) as client:
        with pytest.raises(hyperhttp.ReadTimeout):
            await asyncio.wait_for(
                client.get(f"{server.url}/x", timeout=hyperhttp.Timeout(5.0, total=0.2)), GUARD
            )
    assert server.hits > 1


# ------------------------------------------------------------------ released bodies


async def test_retried_response_is_released_and_its_connection_reused(
    flaky: StartFlaky,
) -> None:
    """Two retried 503s with bodies: one connection served all three; it ends idle."""
    server = await flaky(failures=2)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
        assert r.status_code == 200
        stats = client.pool_stats()
        assert stats.in_use == 0
        assert stats.leases == 0
        assert stats.idle == 1
    assert server.hits == 3
    assert len(server.ports) == 1


async def test_streamed_retry_releases_the_retried_response(flaky: StartFlaky) -> None:
    """client.stream(): while the final response is open, only its connection is in use."""
    server = await flaky(failures=2)
    async with hyperhttp.Client(retry=fast(max_attempts=5)) as client:
        async with client.stream("GET", f"{server.url}/x") as r:
            assert r.status_code == 200
            stats = client.pool_stats()
            assert stats.in_use == 1
            assert stats.leases == 1
            assert await asyncio.wait_for(r.aread(), GUARD) == b"ok"
        stats = client.pool_stats()
        assert stats.in_use == 0
        assert stats.leases == 0
    assert server.hits == 3


# ------------------------------------------------------------------ trace events


async def test_retry_and_breaker_trace_events(flaky: StartFlaky) -> None:
    """trace= hears each retry (url, attempt, delay, status) and each breaker transition."""
    server = await flaky(failures=FOREVER, retry_after="0")
    breaker = hyperhttp.CircuitBreaker(failure_threshold=2, cooldown=0.05)
    events = TraceRecorder()
    url = f"{server.url}/x"
    async with hyperhttp.Client(
        retry=fast(max_attempts=5), circuit_breaker=breaker, trace=events
    ) as client:
        with pytest.raises(hyperhttp.CircuitOpenError):
            await asyncio.wait_for(client.get(url), GUARD)
        retries = events.named("retry")
        assert [r["attempt"] for r in retries] == [1, 2]
        for info in retries:
            assert info["url"] == url
            assert info["status"] == 503
            assert info["delay"] == 0.0
            assert "error" not in info
        server.failures = 0
        await past_cooldown(breaker, server.origin)
        assert (await asyncio.wait_for(client.get(url), GUARD)).status_code == 200
    changes = [(b["origin"], b["from"], b["to"]) for b in events.named("breaker")]
    assert changes == [
        (server.origin, "CLOSED", "OPEN"),
        (server.origin, "OPEN", "HALF_OPEN"),
        (server.origin, "HALF_OPEN", "CLOSED"),
    ]
    assert server.hits == 3


async def test_retry_trace_event_carries_the_error(raw_server: StartRaw) -> None:
    """A retried error's trace event names the error (and no status)."""
    holder: list[RawServer] = []
    server = await raw_server(_hang_up(1, "eof", holder))
    holder.append(server)
    events = TraceRecorder()
    async with hyperhttp.Client(retry=fast(max_attempts=3), trace=events) as client:
        assert (await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)).status_code == 200
    (retry,) = events.named("retry")
    assert retry["attempt"] == 1
    assert isinstance(retry["error"], hyperhttp.RemoteProtocolError)
    assert "status" not in retry
    assert 0.001 <= retry["delay"] <= 0.01


# ------------------------------------------------------------------ HTTP/2 refused streams


async def _h2(handler: Callable[[ScriptedRequest], None]) -> ScriptedH2Server:
    return await ScriptedH2Server(handler).start()


async def test_h2_refused_post_is_replayed_with_resilience_on() -> None:
    """REFUSED_STREAM once: a POST is replayed (not processed), with a policy and a breaker."""
    refused: list[int] = []

    def handler(request: ScriptedRequest) -> None:
        if not refused:
            refused.append(request.stream_id)
            request.conn.refuse(request.stream_id)
            return
        request.conn.respond(request.stream_id, body=request.body)

    server = await _h2(handler)
    try:
        breaker = hyperhttp.CircuitBreaker(failure_threshold=5)
        async with hyperhttp.Client(
            http1=False, retry=fast(max_attempts=3), circuit_breaker=breaker
        ) as client:
            r = await asyncio.wait_for(client.post(f"{server.url}/x", content=b"order"), GUARD)
    finally:
        await server.stop()
    assert r.status_code == 200
    assert r.content == b"order"
    assert len(server.requests) == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_h2_refused_beyond_the_builtin_replays_is_retried_by_the_policy(
    method: str,
) -> None:
    """Five refusals, then an answer: REFUSED_STREAM is always safe, so the policy retries.

    The client replays a refused stream itself only a few times; past that,
    a policy should still treat the refusal as "nothing was processed" and
    retry it whatever the method.
    """

    def handler(request: ScriptedRequest) -> None:
        if len(request.conn.server.requests) <= 5:
            request.conn.refuse(request.stream_id)
            return
        request.conn.respond(request.stream_id, body=b"done")

    server = await _h2(handler)
    try:
        async with hyperhttp.Client(http1=False, retry=fast(max_attempts=10)) as client:
            body = b"order" if method == "POST" else None
            r = await asyncio.wait_for(
                client.request(method, f"{server.url}/x", content=body), GUARD
            )
    finally:
        await server.stop()
    assert r.content == b"done"
    assert len(server.requests) == 6


# ------------------------------------------------------------------ one retry loop: the component's


async def test_the_policys_sleep_is_what_waits_between_attempts(flaky: StartFlaky) -> None:
    """RetryPolicy(sleep=...) is honoured: the client runs hyperhttp-resilience's own loop."""
    server = await flaky(failures=2, status=503, retry_after=None)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    policy = hyperhttp.RetryPolicy(max_attempts=5, backoff_base=7.0, backoff_cap=9.0, sleep=sleep)
    async with hyperhttp.Client(retry=policy) as client:
        r = await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)  # no 7 s of real waiting
    assert r.status_code == 200
    assert server.hits == 3
    assert len(waited) == 2
    assert all(7.0 <= w <= 9.0 for w in waited)


async def test_the_last_error_says_why_retries_ended() -> None:
    """docs/resilience.md: the last error comes with a note saying why the policy gave up."""
    port = dead_port()
    async with hyperhttp.Client(retry=fast(max_attempts=2)) as client:
        with pytest.raises(hyperhttp.ConnectError) as caught:
            await asyncio.wait_for(client.get(f"http://127.0.0.1:{port}/x"), GUARD)
    notes = getattr(caught.value, "__notes__", [])
    assert any("retries ended after 2 attempts" in note for note in notes), notes


async def test_a_streamed_body_is_not_retried_and_spends_no_budget(flaky: StartFlaky) -> None:
    """A request whose streamed body was sent cannot be replayed: no decision, no budget spent."""
    server = await flaky(failures=FOREVER, status=503)
    budget = hyperhttp.RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)
    policy = fast(max_attempts=3, budget=budget, retry_methods={"PUT"})

    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    async with hyperhttp.Client(retry=policy) as client:
        r = await asyncio.wait_for(client.put(f"{server.url}/x", content=body()), GUARD)
    assert r.status_code == 503
    assert server.hits == 1
    assert budget.available() == pytest.approx(1.0)


async def test_the_policys_deadline_stops_the_attempt_in_flight(flaky: StartFlaky) -> None:
    """RetryPolicy(deadline=) bounds the attempt running when it passes: a typed timeout."""
    server = await flaky(failures=0, delay=3.0)
    policy = fast(max_attempts=3, deadline=0.2)
    async with hyperhttp.Client(retry=policy) as client:
        with pytest.raises(hyperhttp.TimeoutException) as caught:
            await asyncio.wait_for(client.get(f"{server.url}/x"), GUARD)
    assert "deadline" in str(caught.value)
    assert caught.value.request is not None
    assert server.hits == 1


@pytest.mark.parametrize("deadline", [None, 30.0])
async def test_a_timeout_error_of_the_users_own_is_not_the_policys_deadline(
    deadline: float | None,
) -> None:
    """A hook's own TimeoutError propagates as it is, with or without a policy deadline.

    (Found by review: the first cut formatted a None deadline, a TypeError, and
    relabelled any TimeoutError as the deadline's.)
    """
    own = TimeoutError("the hook's own")

    def hook(request: hyperhttp.Request) -> None:
        raise own

    transport = hyperhttp.MockTransport(hyperhttp.MockResponse(200))
    policy = fast(max_attempts=2, deadline=deadline)
    async with hyperhttp.Client(
        retry=policy, transport=transport, event_hooks={"request": [hook]}
    ) as client:
        with pytest.raises(TimeoutError) as caught:
            await asyncio.wait_for(client.get("http://example.test/"), GUARD)
    assert caught.value is own


async def test_retry_notes_do_not_pile_up_on_a_mock_answers_exception() -> None:
    """One exception instance answering many requests carries one retry note each time.

    (Found by review: add_note changed the shared instance, note after note.)
    """
    error = hyperhttp.ConnectError("down")
    error.add_note("given by the test")
    transport = hyperhttp.MockTransport(error)
    async with hyperhttp.Client(retry=fast(max_attempts=2), transport=transport) as client:
        for _ in range(3):
            with pytest.raises(hyperhttp.ConnectError) as caught:
                await asyncio.wait_for(client.get("http://example.test/"), GUARD)
            notes = caught.value.__notes__
            assert notes[0] == "given by the test"
            assert sum("retries ended" in note for note in notes) == 1
