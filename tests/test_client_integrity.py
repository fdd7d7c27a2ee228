"""What goes on the wire is what the request says, whatever built or changed it (issue 15).

Every request the client sends is validated at the one point all requests
pass before the wire: CR/LF/NUL never reach a peer, framing fields set by the
caller are refused on both protocols, and a head cached at build time never
outlives a change to the request. Responses report what the server sent, and
no component package's exception escapes the client untranslated.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING

import hyperhttp
import hyperhttp_dns
import hyperhttp_parser
import hyperhttp_pool
import hyperhttp_resilience
import pytest
from hyperhttp import URL, Headers, Request
from hyperhttp._auth import with_header

from tests.servers.fixtures import RawServer, Script, response

if TYPE_CHECKING:
    from tests.servers.h2_scripted import ScriptedH2Server

pytestmark = pytest.mark.asyncio

StartRaw = Callable[[Script], Awaitable[RawServer]]


def _fields(raw: bytes) -> dict[str, str]:
    """Return the header fields of a raw HTTP/1.1 request, lower-cased names."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    pairs = [line.split(":", 1) for line in head.split("\r\n")[1:]]
    return {name.strip().lower(): value.strip() for name, value in pairs}


# ------------------------------------------------------------ reason phrases (defect 18)


@pytest.mark.parametrize(
    ("status_line", "reason"),
    [
        (b"HTTP/1.1 200 \r\n", ""),  # empty reason: not "OK"
        (b"HTTP/1.1 200\r\n", ""),  # no reason at all
        (b"HTTP/1.1 200 Fine Thanks\r\n", "Fine Thanks"),
        (b"HTTP/1.1 404 \r\n", ""),
    ],
)
async def test_reason_phrase_is_what_the_server_sent(
    status_line: bytes, reason: str, raw_server: StartRaw
) -> None:
    server = await raw_server(lambda r, n: status_line + b"Content-Length: 2\r\n\r\nok")
    async with hyperhttp.Client() as client:
        r = await client.get(server.url)
    assert r.reason_phrase == reason


async def test_http2_has_no_reason_phrase_so_the_standard_one_is_given(
    h2_peer: ScriptedH2Server,
) -> None:
    async with hyperhttp.Client(http1=False) as client:
        r = await client.get(h2_peer.url)
    assert (r.http_version, r.reason_phrase) == ("HTTP/2", "OK")


# ------------------------------------------------------------ no shared fields (defect 21)


async def test_requests_built_without_headers_share_no_fields(raw_server: StartRaw) -> None:
    """A field set on one header-less request never shows up on another."""
    server = await raw_server(lambda r, n: response())
    async with hyperhttp.Client() as client:
        first = client.build_request("GET", server.url)
        first.headers["X-Token"] = "only-mine"
        second = client.build_request("GET", server.url)
        assert "x-token" not in second.headers
        assert first.headers is not second.headers
        await client.send(second)
        await client.send(first)
        await client.get(server.url)
    sent = [_fields(raw) for raw in server.received]
    assert [fields.get("x-token") for fields in sent] == [None, "only-mine", None]


# ------------------------------------------------------------ a cached head never goes stale (7)


async def test_changes_after_build_request_are_what_is_sent(raw_server: StartRaw) -> None:
    """Fields removed or added and a new URL after build_request: the wire follows."""
    first = await raw_server(lambda r, n: response())
    other = await raw_server(lambda r, n: response())
    async with hyperhttp.Client() as client:
        request = client.build_request(
            "GET", f"{first.url}/a", headers={"Authorization": "Bearer secret"}
        )
        del request.headers["Authorization"]
        request.headers["X-Added"] = "1"
        request.url = URL(f"{other.url}/b")
        await client.send(request)
    assert first.received == []
    (raw,) = other.received
    assert raw.startswith(b"GET /b HTTP/1.1\r\n")
    fields = _fields(raw)
    assert "authorization" not in fields
    assert fields["x-added"] == "1"
    assert fields["host"] == f"127.0.0.1:{other.port}"


async def test_a_new_body_after_build_request_gets_its_own_length(raw_server: StartRaw) -> None:
    """content= replaced after build_request: Content-Length follows (no second request hidden)."""
    server = await raw_server(lambda r, n: response())
    async with hyperhttp.Client() as client:
        request = client.build_request("POST", server.url, headers={"X-A": "1"}, content=b"abc")
        request.content = b"abcdef"
        await client.send(request)
        request.method = "PUT"
        await client.send(request)
    assert [raw.split(b" ", 1)[0] for raw in server.received] == [b"POST", b"PUT"]
    for raw in server.received:
        assert _fields(raw)["content-length"] == "6"
        assert raw.endswith(b"\r\n\r\nabcdef")


# ------------------------------------------------------------ every request is checked (defect 2)


class _AddField(hyperhttp.Auth):
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def auth_flow(self, request: Request) -> Generator[Request, hyperhttp.Response, None]:
        yield with_header(request, self.name, self.value)


_BAD_FIELDS = [
    ("X-Bad", "a\r\nInjected: 1"),
    ("X-Bad", "a\nb"),
    ("X-Bad", "a\x00b"),
    ("X-Bad\r\nInjected", "1"),
    ("Bad Name", "1"),
    ("Host", "evil.test"),
    ("Content-Length", "5"),
    ("Transfer-Encoding", "chunked"),
]


async def _count_nothing_sent(
    protocol: str, raw_server: StartRaw, h2_peer: ScriptedH2Server
) -> tuple[str, Callable[[], int], bool]:
    """Return the URL of a peer speaking ``protocol``, how many requests it saw, and http1=."""
    if protocol == "h1":
        server = await raw_server(lambda r, n: response())
        return server.url, lambda: len(server.received), True
    return h2_peer.url, lambda: len(h2_peer.requests), False


@pytest.mark.parametrize("protocol", ["h1", "h2"])
@pytest.mark.parametrize(("name", "value"), _BAD_FIELDS)
async def test_bad_fields_are_refused_whatever_built_the_request(
    protocol: str, name: str, value: str, raw_server: StartRaw, h2_peer: ScriptedH2Server
) -> None:
    """send(Request(...)), request hooks, Auth flows, fields set after build_request."""
    url, seen, http1 = await _count_nothing_sent(protocol, raw_server, h2_peer)

    def hook(request: Request) -> None:
        request.headers[name] = value

    async with hyperhttp.Client(http1=http1) as client:
        await client.get(url)  # the connection is up: a bad request must not reach it
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request("GET", URL(url), Headers([(name, value)])))
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(url, auth=_AddField(name, value))
        built = client.build_request("GET", url)
        built.headers[name] = value
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(built)
        built = client.build_request("POST", url, headers={"X-Ok": "1"}, content=b"x")
        built.headers.add(name, value)
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(built)
    async with hyperhttp.Client(event_hooks={"request": [hook]}, http1=http1) as client:
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(url)
    assert seen() == 1


@pytest.mark.parametrize("protocol", ["h1", "h2"])
@pytest.mark.parametrize("method", ["", "G T", "GET\r\nX", "G\x00T", "GÉT"])
async def test_bad_methods_are_refused(
    protocol: str, method: str, raw_server: StartRaw, h2_peer: ScriptedH2Server
) -> None:
    url, seen, http1 = await _count_nothing_sent(protocol, raw_server, h2_peer)
    async with hyperhttp.Client(http1=http1) as client:
        with pytest.raises(hyperhttp.LocalProtocolError) as caught:
            await client.request(method, url)
        assert not isinstance(caught.value, hyperhttp_parser.ProtocolError)
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request(method, URL(url), Headers()))
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request(method, URL(url), Headers({"X-Ok": "1"})))
    assert seen() == 0


@pytest.mark.parametrize("protocol", ["h1", "h2"])
@pytest.mark.parametrize("path", ["/a\r\nX-Injected: 1", "/a b", "/a\x00", "/\n"])
async def test_a_bad_target_set_after_build_request_is_refused(
    protocol: str, path: str, raw_server: StartRaw, h2_peer: ScriptedH2Server
) -> None:
    """A URL replaced after build_request (even one built around parse_url) is checked too."""
    url, seen, http1 = await _count_nothing_sent(protocol, raw_server, h2_peer)
    bad = URL(url).copy_with(path="/fresh")  # a URL of its own, not parse_url's cached one
    # URLs are immutable: only a deliberate bypass can make one like this
    object.__setattr__(bad, "target", path.encode("latin-1"))
    async with hyperhttp.Client(http1=http1) as client:
        for headers in (None, {"X-Ok": "1"}):
            request = client.build_request("GET", url, headers=headers)
            request.url = bad
            with pytest.raises(hyperhttp.LocalProtocolError):
                await client.send(request)
    assert seen() == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "websocket"),
        ("TE", "gzip"),
    ],
)
async def test_connection_specific_fields_never_reach_http2(
    name: str, value: str, h2_peer: ScriptedH2Server
) -> None:
    """RFC 9113 §8.2.2: dropped from any HTTP/2 request, however built; te: trailers stays."""
    async with hyperhttp.Client(http1=False) as client:
        await client.send(Request("GET", URL(h2_peer.url), Headers([(name, value)])))
        built = client.build_request("GET", h2_peer.url, headers={"TE": "trailers"})
        built.headers[name] = value
        await client.send(built)
    first, second = (request.headers for request in h2_peer.requests)
    assert name.lower().encode() not in first
    assert b"host" not in first
    assert b"host" not in second
    assert second.get(b"te") == (b"trailers" if name != "TE" else None)
    assert name.lower().encode() not in second or name == "TE"


# ------------------------------------------------------------ component exceptions (defect 17)


_COMPONENT_ERRORS: tuple[type[BaseException], ...] = (
    hyperhttp_parser.ProtocolError,
    hyperhttp_dns.DNSError,
    hyperhttp_pool.PoolError,
    hyperhttp_resilience.ResilienceError,
)


def _only_hyperhttp(error: BaseException, expected: type[hyperhttp.HTTPError]) -> None:
    assert isinstance(error, expected), repr(error)
    # CircuitOpenError is documented as both (hyperhttp's and the component's).
    if not isinstance(error, hyperhttp.CircuitOpenError):
        assert not isinstance(error, _COMPONENT_ERRORS), repr(error)
    assert type(error).__module__ == "hyperhttp", type(error)


class _NoNames:
    async def lookup(self, host: str, family: int) -> hyperhttp_dns.Answer:
        raise hyperhttp_dns.ResolveError(host, "unknown name", socket.EAI_NONAME)


async def test_component_errors_come_out_as_hyperhttp_errors(raw_server: StartRaw) -> None:
    """Each component's errors, driven through the Client's public calls."""
    server = await raw_server(lambda r, n: b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    caught: list[tuple[BaseException, type[hyperhttp.HTTPError]]] = []

    async def expect(call: Awaitable[object], kind: type[hyperhttp.HTTPError]) -> None:
        try:
            await call
        except BaseException as exc:  # each is checked below
            caught.append((exc, kind))
        else:  # pragma: no cover - the assertion says what went wrong
            pytest.fail(f"no {kind.__name__} raised")

    async def short_stream() -> AsyncIterator[bytes]:
        yield b"ab"

    # hyperhttp_parser: local (bad method, body shorter than its length) and remote.
    async with hyperhttp.Client() as client:
        await expect(client.request("", server.url), hyperhttp.LocalProtocolError)
        await expect(client.request("GET", server.url), hyperhttp.RemoteProtocolError)
        request = client.build_request("POST", server.url, content=short_stream())
        request.stream_length = 5
        await expect(client.send(request), hyperhttp.LocalProtocolError)
    # hyperhttp_dns: a name that does not resolve, a port that refuses.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    async with (
        hyperhttp_dns.Resolver(_NoNames()) as resolver,
        hyperhttp.Client(resolver=resolver) as client,
    ):
        await expect(client.get("http://nowhere.test/"), hyperhttp.ConnectError)
        await expect(client.get(f"http://127.0.0.1:{closed_port}/"), hyperhttp.ConnectError)
    # hyperhttp_pool: no connection within the pool timeout.
    hold = asyncio.Event()

    async def slow(request: bytes, number: int) -> bytes:
        await hold.wait()
        return response()

    slow_server = await raw_server(slow)
    limits = hyperhttp.Limits(max_connections=1)
    async with hyperhttp.Client(limits=limits) as client:
        first = asyncio.create_task(client.get(slow_server.url))
        await asyncio.sleep(0.05)
        timeout = hyperhttp.Timeout(5.0, pool=0.05)
        await expect(client.get(slow_server.url, timeout=timeout), hyperhttp.PoolTimeout)
        hold.set()
        await first
    # hyperhttp_resilience: an open breaker.
    breaker = hyperhttp.CircuitBreaker(failure_threshold=1, cooldown=60)
    async with hyperhttp.Client(circuit_breaker=breaker) as client:
        await expect(client.get(f"http://127.0.0.1:{closed_port}/"), hyperhttp.ConnectError)
        await expect(client.get(f"http://127.0.0.1:{closed_port}/"), hyperhttp.CircuitOpenError)
    assert len(caught) == 8
    for error, kind in caught:
        _only_hyperhttp(error, kind)


async def test_a_redirect_shares_no_fields_with_the_request_it_follows(
    raw_server: StartRaw,
) -> None:
    """Each hop of a redirect chain has its own Headers, even when no field was dropped."""

    def respond(request: bytes, number: int) -> bytes:
        if request.startswith(b"GET /start "):
            return response(302, headers=["Location: /end"])
        return response()

    server = await raw_server(respond)
    async with hyperhttp.Client() as client:
        r = await client.get(f"{server.url}/start", headers={"X-A": "1"})
    first = r.history[0].request
    assert first is not None
    assert r.request is not None
    assert first.headers is not r.request.headers
    r.request.headers["X-Later"] = "only-the-last-hop"
    assert "x-later" not in first.headers
    assert _fields(server.received[1])["x-a"] == "1"
