"""Review of issue 18: hedged requests (hyperhttp-resilience ``Hedging``, ``_hedge``) and SOCKS.

Every test but the ``test_guard_*`` ones failed on the reviewed code (the
commits after 5ca2b90 fix them); its docstring names the defect and where it
was. The guards pin what was checked
and found right (the total timeout mid-race, a cancelled SOCKS handshake,
the SOCKS password in traces and errors).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from aiohttp import web
from hyperhttp_resilience import Hedging, RetryBudget

from tests.servers.digest import AuthServer
from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest
from tests.servers.routes import TraceRecorder, serve_app, serve_routes
from tests.servers.socks_scripted import Step, socks5_reply

if TYPE_CHECKING:
    from tests.servers.fixtures import TLSSetup, WebServer
    from tests.servers.socks_scripted import ScriptedSocks


def roomy() -> RetryBudget:
    return RetryBudget(ratio=1.0, min_per_second=10.0)


async def _until(condition: Any, what: str) -> None:
    """Let the loop run until ``condition()`` holds (bounded: 1000 turns, then 5 s)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


# ---------------------------------------------------------------- Hedging.run


@pytest.mark.asyncio
async def test_run_a_discard_that_raises_keeps_the_winning_answer() -> None:
    """Two copies answer in the same turn and ``discard`` of the loser raises.

    ``_Race.run`` returns the winner from inside ``try`` and awaits
    ``_cancel_rest`` (which awaits ``discard``) in ``finally``: the discard's
    error replaces the return value, so the winner's answer is neither
    returned nor handed to ``discard``: what it holds (a pooled connection in
    the client) is never released.
    """
    gate = asyncio.Event()
    made: list[object] = []

    async def copy() -> object:
        token = object()
        made.append(token)
        await gate.wait()
        return token

    discarded: list[object] = []

    async def discard(answer: object) -> None:
        discarded.append(answer)
        raise RuntimeError("discard failed")

    hedging = Hedging(delay=0.0, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", copy, discard=discard))
    await _until(lambda: len(made) == 2, "the copy started")
    gate.set()  # both answer in the same turn
    returned: list[object] = []
    with contextlib.suppress(RuntimeError):
        returned.append(await task)
    accounted = {id(answer) for answer in returned + discarded}
    assert accounted == {id(answer) for answer in made}, (
        "an answer was neither returned nor discarded"
    )


@pytest.mark.asyncio
async def test_run_cancelled_while_a_loser_winds_down_discards_the_winning_answer() -> None:
    """The caller is cancelled while ``_cancel_rest`` awaits a loser's cancellation.

    The copy won (its answer is in hand); the first copy's cleanup on
    cancellation takes a few turns (closing a connection, say). A
    cancellation of the caller then (a ``total`` timeout firing, a task
    group) interrupts ``await asyncio.wait(losers)``: the winner's answer is
    dropped without ``discard``.
    """
    cleanup = asyncio.Event()
    finish_cleanup = asyncio.Event()
    made: list[object] = []
    copies: list[asyncio.Task[Any]] = []

    async def copy() -> object:
        current = asyncio.current_task()
        assert current is not None
        copies.append(current)
        token = object()
        index = len(made)
        made.append(token)
        if index == 0:
            try:
                await asyncio.Event().wait()  # stuck
            except asyncio.CancelledError:
                cleanup.set()
                await finish_cleanup.wait()  # cleaning up takes a while
                raise
        return token

    discarded: list[object] = []

    async def discard(answer: object) -> None:
        discarded.append(answer)

    hedging = Hedging(delay=0.0, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", copy, discard=discard))
    await cleanup.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    finish_cleanup.set()
    await _until(lambda: all(c.done() for c in copies), "the copies ended")
    assert len(made) == 2
    assert [id(answer) for answer in discarded] == [id(made[1])], "the winner was dropped"


@pytest.mark.asyncio
async def test_run_cancelled_twice_returns_only_when_every_copy_ended() -> None:
    """Rule 5 ("cancelling the caller cancels every copy") and every copy awaited.

    A second cancellation of the caller while ``_cancel_rest`` waits for the
    cancelled copies to end (asyncio.timeout inside a TaskGroup, say) makes
    ``run`` return while a copy still runs: a task the caller never sees.
    """
    cleanup = asyncio.Event()
    finish_cleanup = asyncio.Event()
    copies: list[asyncio.Task[Any]] = []

    async def copy() -> object:
        current = asyncio.current_task()
        assert current is not None
        copies.append(current)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleanup.set()
            await finish_cleanup.wait()
            raise
        return None  # pragma: no cover

    hedging = Hedging(delay=10.0, budget=roomy())
    task = asyncio.ensure_future(hedging.run("k", copy))
    await _until(lambda: len(copies) == 1, "the first copy started")
    task.cancel()
    await cleanup.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    still_running = [c for c in copies if not c.done()]
    finish_cleanup.set()
    await _until(lambda: all(c.done() for c in copies), "the copies ended")
    assert not still_running, "run() returned while a copy it started was still running"


class CountingBudget(RetryBudget):
    def __init__(self) -> None:
        super().__init__(ratio=0.0, min_per_second=0.0)
        self.asked = 0

    def try_spend(self, now: float | None = None) -> bool:
        self.asked += 1
        return super().try_spend(now)


@pytest.mark.asyncio
async def test_run_with_an_empty_budget_does_not_poll_it_every_delay() -> None:
    """An exhausted budget: the race wakes every ``delay`` to ask again, as long as the call runs.

    ``_Race.run`` loops ``asyncio.wait(timeout=delay)`` while ``may_hedge``
    and ``try_spend`` keeps saying no: with ``delay=0`` (accepted by the
    constructor) or a live percentile in the first bucket (100 µs) that is a
    busy loop, one timer and one budget lock per turn, for every slow call,
    exactly when the budget is empty because the origin is slow. The number
    of times the budget is asked should not grow with the call's duration
    (here: about 100 times for a call of 200 loop turns).
    """
    budget = CountingBudget()
    hedging = Hedging(delay=0.0, budget=budget)

    async def slow() -> str:
        for _ in range(200):  # a call that takes 200 turns of the loop
            await asyncio.sleep(0)
        return "done"

    assert await hedging.run("k", slow) == "done"
    assert budget.asked < 10, f"the budget was asked {budget.asked} times for one call"


def test_hedging_takes_min_samples_above_500() -> None:
    """``Hedging(min_samples=600)``: ValueError "memory must be at least twice min_samples".

    Hedging passes ``min_samples`` to ``LatencyTracker`` with its default
    ``memory=1000`` and has no ``memory`` parameter: a valid-looking
    ``min_samples`` is refused with a message about a value the caller
    cannot set.
    """
    hedging = Hedging(min_samples=600)
    assert hedging.latency.min_samples == 600


# ---------------------------------------------------------------- the client


class FirstHangs:
    """The first request hangs until released (at most 5 s); the others answer at once."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.in_flight = 0
        self.peak = 0
        self.headers: list[dict[str, str]] = []

    def routes(self) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            self.count += 1
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                if self.count == 1:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.release.wait(), 5.0)
                    return web.Response(text="first")
                return web.Response(text="copy")
            finally:
                self.in_flight -= 1

        return [web.route("*", "/work", handle)]


@pytest.mark.asyncio
async def test_client_hedged_copies_take_their_own_limiter_slot() -> None:
    """``limiter=AdaptiveLimiter(max 1)`` with hedging: two requests on the wire to one origin.

    ``Pipeline.attempts`` takes one limiter slot around ``exchange``, and
    ``send_hedged`` races its copies inside it: a copy holds no slot of its
    own, so an origin limited to one call at a time gets two at once.
    """
    server = FirstHangs()
    limiter = hyperhttp.AdaptiveLimiter(initial=1, min_limit=1, max_limit=1)
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.05, budget=roomy())
        async with hyperhttp.Client(hedging=hedging, limiter=limiter) as client:
            response = await client.get(url + "/work")
            server.release.set()
        assert response.status_code == 200
    assert server.peak <= 1, f"{server.peak} requests at once to an origin limited to 1"


@pytest.mark.asyncio
async def test_client_a_hedged_copy_carries_the_deadline_left_when_it_was_sent() -> None:
    """``deadline_header=``: the copy, sent ``delay`` later, claims as much time as the first.

    ``exchange`` computes ``with_deadline`` once per attempt and
    ``send_hedged`` sends that same request in every copy: the copy tells
    the server it has at least ``delay`` more than the client will wait.
    """
    server = FirstHangs()
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.3, budget=roomy())
        async with hyperhttp.Client(
            hedging=hedging,
            deadline_header="X-Deadline",
            timeout=hyperhttp.Timeout(10.0, total=30.0),
        ) as client:
            response = await client.get(url + "/work")
            server.release.set()
        assert response.text == "copy"
    first, copy = (int(headers["x-deadline"]) for headers in server.headers[:2])
    assert copy < first, f"the copy sent later claims {copy} ms, the first {first} ms"


@pytest.mark.asyncio
async def test_client_a_tracer_raising_on_a_discarded_loser_keeps_the_winner() -> None:
    """HTTP/2 tie: the loser is closed (``_discard``) and its ``response.end`` tracer raises.

    Both heads arrive in one read, so both copies answer in the same turn.
    issue 17 pinned "a tracer raising at response.end leaves no lease"; with
    hedging the discard's error propagates out of ``_Race.run``'s ``finally``
    and the winner's Response (its stream's lease) is dropped unreleased.
    """
    waiting: list[ScriptedRequest] = []

    def handler(request: ScriptedRequest) -> None:
        waiting.append(request)
        if len(waiting) == 2:  # both heads in one write: one read on the client
            conn = request.conn
            for held in waiting:
                conn.h2.send_headers(
                    held.stream_id, [(b":status", b"200"), (b"content-length", b"2")]
                )
                conn.h2.send_data(held.stream_id, b"ok", end_stream=True)
                conn.open_streams -= 1
            conn.flush()

    raised: list[str] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "response.end" and not raised:
            raised.append(name)
            raise RuntimeError("tracer failed at response.end")

    server = await ScriptedH2Server(handler).start()
    try:
        hedging = hyperhttp.Hedging(delay=0.05, budget=roomy())
        async with hyperhttp.Client(
            http1=False, hedging=hedging, trace=trace, timeout=hyperhttp.Timeout(5.0)
        ) as client:
            with contextlib.suppress(RuntimeError):
                await client.get(server.url + "/tie")
            assert raised, "no tie: the test did not reach the discard"
            stats = client.pool_stats()
            assert stats.leases == 0, f"a lease is held after the call ended: {stats}"
    finally:
        await server.stop()


# ---------------------------------------------------------------- SOCKS


def _scripted_url(server: ScriptedSocks, scheme: str = "socks5h", userinfo: str = "") -> str:
    return f"{scheme}://{userinfo}{server.host}:{server.port}"


@pytest.mark.asyncio
async def test_socks_connect_end_carries_the_documented_fields(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    """docs/tracing.md: ``connect.end`` has ``origin``, ``http_version``, ``address``, ``elapsed``.

    ``_socks_tunnel._tunnel`` reports only origin, proxy and http_version
    (as the CONNECT path does): the docs' own OpenTelemetry callback reads
    ``info["elapsed"]`` on connect.end, so with a SOCKS proxy it raises
    KeyError and every new connection fails.
    """
    socks_scripted.script(b"\x05\x00", socks5_reply(0), then="relay")
    trace = TraceRecorder()
    async with hyperhttp.Client(proxy=_scripted_url(socks_scripted), trace=trace) as client:
        assert (await client.get(web_server.url + "/size/10")).status_code == 200
    (end,) = trace.named("connect.end")
    assert {"origin", "http_version", "address", "elapsed"} <= set(end), sorted(end)


@pytest.mark.asyncio
async def test_socks_https_reports_the_tls_event(
    socks_scripted: ScriptedSocks, tls: TLSSetup, tls_server: WebServer
) -> None:
    """docs/tracing.md: ``tls`` when the TLS handshake finished; through SOCKS it never comes.

    ``_socks_tunnel._tunnel`` runs ``loop.start_tls`` without ``_trace_tls``:
    a tracer sees no TLS version or ALPN for any connection through a SOCKS
    proxy.
    """
    socks_scripted.script(b"\x05\x00", socks5_reply(0), then="relay")
    trace = TraceRecorder()
    async with hyperhttp.Client(
        proxy=_scripted_url(socks_scripted), trace=trace, verify=tls.ca_path
    ) as client:
        assert (await client.get(tls_server.url + "/size/10")).status_code == 200
    assert "tls" in trace.names(), trace.names()


@pytest.mark.asyncio
async def test_socks5_user_name_with_a_colon_is_sent(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    """RFC 1929 §2: UNAME is 1-255 octets, any octets; ``do%3Amain`` is a valid SOCKS5 user.

    ``Proxy.parse`` (``_credentials``) applies the HTTP Basic rule (RFC 7617
    §2: no ':' in a user-id) to SOCKS proxies too and refuses the client
    with InvalidURL, though no Basic header is ever sent for them
    (aiohttp-socks and python-socks accept it).
    """
    socks_scripted.script(b"\x05\x02", b"\x01\x00", socks5_reply(0), then="relay")
    proxy = _scripted_url(socks_scripted, userinfo="do%3Amain:pw@")
    async with hyperhttp.Client(proxy=proxy) as client:
        assert (await client.get(web_server.url + "/size/10")).status_code == 200
    assert socks_scripted.received[0][1] == b"\x01\x07do:main\x02pw"


@pytest.mark.asyncio
async def test_socks_a_refusal_where_nothing_was_sent_is_retried_like_a_connect_error(
    socks_scripted: ScriptedSocks,
) -> None:
    """A SOCKS5 "connection refused" (0x05): the origin got nothing, as with a ConnectError.

    docs/resilience.md: "connect errors ... (nothing was sent) are always
    safe to retry". ``_resilience.classify`` maps only ConnectError,
    ConnectTimeout, PoolTimeout and StreamRefused to CONNECT; ``SocksError``
    is a ``ProxyError``, so FATAL: the retry policy never retries it (and
    the breaker's TRANSPORT_FAILURES does not count it), where the same
    refused port reached directly is retried.
    """
    socks_scripted.script(b"\x05\x00", socks5_reply(0x05))
    policy = hyperhttp.RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.01)
    async with hyperhttp.Client(proxy=_scripted_url(socks_scripted), retry=policy) as client:
        with pytest.raises(hyperhttp.SocksError):
            await client.get("http://example.test/")
    assert socks_scripted.connections == 2, "the refused attempt was not retried"


@pytest.mark.asyncio
async def test_client_a_digest_flow_is_not_hedged() -> None:
    """RFC 7616 §3.4: a server sees the same ``nc`` twice as a replay; the copy sends it twice.

    ``send_with_auth`` builds the Authorization (nonce count 1) once and
    ``send_hedged`` sends that same request in every copy. The server
    (tests/servers/digest.py's checks) accepts the first and, while it works
    on it, answers the copy "replayed nc" with a fresh 401 at once; the first
    head wins the race, so that 401 beats the 200 under way, and the Digest
    flow, its credentials refused, returns it: right credentials, a 401.
    """
    auth_server = AuthServer()
    release = asyncio.Event()
    accepted: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        verdict = auth_server.verify(
            request.method, request.raw_path, request.headers.get("Authorization")
        )
        auth_server.outcomes.append(verdict)
        if verdict != "ok":
            return auth_server.challenge_response()
        accepted.append(verdict)
        if len(accepted) == 1:  # the first authenticated request is a slow one
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), 5.0)
        return web.Response(text="secret")

    app = web.Application()
    app.router.add_get("/digest/slow", slow)
    async with serve_app(app, shutdown_timeout=0.1) as url:
        hedging = hyperhttp.Hedging(delay=0.1, budget=roomy())
        auth = hyperhttp.DigestAuth(auth_server.username, auth_server.password)
        async with hyperhttp.Client(auth=auth, hedging=hedging) as client:
            response = await client.get(url + "/digest/slow")
            release.set()
        assert response.status_code == 200, auth_server.outcomes


# ---------------------------------------------------------------- guards (checked, found right)


class Hangs:
    """Every request hangs until released (at most 5 s)."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            self.count += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 5.0)
            return web.Response(text="late")

        return [web.get("/hang", handle)]


@pytest.mark.asyncio
async def test_guard_the_total_timeout_mid_race_releases_both_copies() -> None:
    """Guard: ``total`` fires while both copies wait for a head: ReadTimeout, no lease left.

    ``asyncio.timeout`` cancels the caller; ``_Race.run``'s ``finally``
    cancels and awaits both copies; each releases its lease unreusable. The
    conftest checks no task, timer or socket is left.
    """
    server = Hangs()
    async with serve_routes(server.routes()) as (url, _):
        hedging = hyperhttp.Hedging(delay=0.05, budget=roomy())
        timeout = hyperhttp.Timeout(5.0, total=0.5)
        async with hyperhttp.Client(hedging=hedging, timeout=timeout) as client:
            with pytest.raises(hyperhttp.ReadTimeout):
                await client.get(url + "/hang")
            stats = client.pool_stats()
            assert (stats.leases, stats.idle) == (0, 0), stats
        server.release.set()
    assert server.count == 2


@pytest.mark.asyncio
async def test_guard_a_cancelled_socks_handshake_leaves_nothing_open(
    socks_scripted: ScriptedSocks,
) -> None:
    """Guard: the caller cancelled while the proxy has not answered the greeting.

    ``connect_via_socks`` aborts the proxy's transport on any BaseException;
    the pool's connecting slot is freed (the conftest checks the socket).
    """
    socks_scripted.script(Step(b"", read=True), then="hold")
    async with hyperhttp.Client(proxy=_scripted_url(socks_scripted)) as client:
        task = asyncio.ensure_future(client.get("http://example.test/"))
        await _until(
            lambda: bool(socks_scripted.received and socks_scripted.received[0]), "greeting"
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.pool_stats().connections == 0


@pytest.mark.asyncio
async def test_guard_no_socks_password_in_any_trace_event_or_error(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    """Guard: a percent-encoded UTF-8 password goes out decoded (RFC 1929) and is shown nowhere.

    Checked: every trace event's info, the refused handshake's SocksError
    (message, repr, its notes) and the client's proxy selector.
    """
    password = "s3cr%C3%A9t%40"  # noqa: S105 - "s3crét@", the test's
    socks_scripted.script(b"\x05\x02", b"\x01\x00", socks5_reply(0), then="relay")
    trace = TraceRecorder()
    proxy = _scripted_url(socks_scripted, userinfo=f"b%C3%B8b:{password}@")
    async with hyperhttp.Client(proxy=proxy, trace=trace) as client:
        assert (await client.get(web_server.url + "/size/10")).status_code == 200
        shown = [repr(trace.events), repr(client._network.proxies)]  # type: ignore[attr-defined]
    assert socks_scripted.received[0][1] == b"\x01\x04b\xc3\xb8b\x08s3cr\xc3\xa9t@"
    socks_scripted.script(b"\x05\x02", b"\x01\x01")
    async with hyperhttp.Client(proxy=proxy, trace=trace) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get(web_server.url + "/size/10")
    shown += [str(caught.value), repr(caught.value), repr(getattr(caught.value, "__notes__", None))]
    for text in shown:
        assert "s3cr" not in text
