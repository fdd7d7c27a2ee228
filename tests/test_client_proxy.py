"""The Client through an HTTP forward proxy (tests/servers/connect_proxy.py).

https goes through a CONNECT tunnel with TLS (and ALPN) inside it; plain http
goes to the proxy in absolute-form. The pool is keyed by proxy and origin, the
environment picks a proxy when ``trust_env`` is on, and a proxy password is
never shown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import uuid
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
import pytest_asyncio

from tests.servers.connect_proxy import ConnectProxy
from tests.servers.routes import TraceRecorder

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from tests.servers.fixtures import H2Server, RawServer, Script, TLSSetup, WebServer

pytestmark = pytest.mark.asyncio

#: A bound on every test's I/O.
TIMEOUT = 20.0

USER = "user"
PASSWORD = "p@ss"  # noqa: S105 - a test proxy's password
#: A password distinctive enough to search for in reprs, messages and trace events.
SECRET = "s3cr3t-Pw0rd"  # noqa: S105 - searched for, must never show

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _seen_headers(echoed: dict[str, Any]) -> set[str]:
    """Lower-cased names of the header fields the echo endpoint received."""
    return {name.lower() for name, _ in echoed["headers"]}


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    """Yield a loopback port that refuses connections (bound, never listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _texts(exc: BaseException) -> str:
    """Return str and repr of an exception and of every exception it was raised from."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 20:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _assert_no_secret(text: str, password: str) -> None:
    assert password not in text
    assert password.replace("@", "%40") not in text
    assert base64.b64encode(f"{USER}:{password}".encode()).decode() not in text


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every proxy variable, so the machine's environment cannot leak in."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)  # httpoxy guard (see _proxy.py)


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    """Run an open forward proxy on 127.0.0.1."""
    async with ConnectProxy() as started:
        yield started


@pytest_asyncio.fixture
async def other_proxy() -> AsyncIterator[ConnectProxy]:
    """Run a second, independent forward proxy on 127.0.0.1."""
    async with ConnectProxy() as started:
        yield started


@pytest_asyncio.fixture
async def auth_proxy() -> AsyncIterator[ConnectProxy]:
    """Run a forward proxy requiring ``Proxy-Authorization: Basic user:p@ss``."""
    async with ConnectProxy(auth=(USER, PASSWORD)) as started:
        yield started


# ------------------------------------------------------------------ https: CONNECT tunnels


async def test_https_get_goes_through_a_connect_tunnel(
    tls: TLSSetup, tls_server: WebServer, proxy: ConnectProxy
) -> None:
    """An https GET through the proxy: CONNECT host:port, then TLS to the origin inside."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as client:
            r = await client.get(f"{tls_server.url}/echo?q=1")
    assert r.status_code == 200
    assert r.http_version == "HTTP/1.1"  # the aiohttp TLS server offers no ALPN
    echoed = r.json()
    assert echoed["method"] == "GET"
    assert echoed["raw_path"] == "/echo?q=1"
    assert dict(echoed["headers"])["Host"] == f"127.0.0.1:{tls_server.port}"
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]
    (connect,) = proxy.requests
    assert connect.method == "CONNECT"
    assert connect.target == f"127.0.0.1:{tls_server.port}"
    assert connect.get_all("host") == [f"127.0.0.1:{tls_server.port}"]
    assert connect.get_all("proxy-authorization") == []
    assert proxy.forwarded == []


async def test_https_sequential_requests_reuse_one_tunnel(
    tls: TLSSetup, tls_server: WebServer, proxy: ConnectProxy
) -> None:
    """Keep-alive inside the tunnel: five requests, one CONNECT, one TLS connection."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as client:
            bodies = [(await client.get(f"{tls_server.url}/size/{n}")).content for n in range(5)]
    assert bodies == [b"x" * n for n in range(5)]
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]
    assert proxy.connections == 1
    assert len(tls_server.connections) == 1


async def test_https_concurrent_requests_open_at_most_the_per_host_cap(
    tls: TLSSetup, tls_server: WebServer, proxy: ConnectProxy
) -> None:
    """Twelve concurrent HTTP/1.1 requests with max_connections_per_host=3: <= 3 tunnels."""
    limits = hyperhttp.Limits(max_connections_per_host=3)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path, limits=limits) as client:
            responses = await asyncio.gather(
                *(client.get(f"{tls_server.url}/sleep/0.1") for _ in range(12))
            )
    assert [r.status_code for r in responses] == [200] * 12
    assert all(r.text == "slept" for r in responses)
    assert 1 <= len(proxy.tunnels) <= 3
    assert set(proxy.tunnels) == {("127.0.0.1", tls_server.port)}
    assert proxy.connections == len(proxy.tunnels)
    assert len(tls_server.connections) == len(proxy.tunnels)


async def test_http2_inside_a_connect_tunnel(
    tls: TLSSetup, h2_server: H2Server, proxy: ConnectProxy
) -> None:
    """ALPN inside the tunnel picks h2; a cold burst of requests shares one tunnel."""
    # A fresh tag: the session's hypercorn remembers every tag it saw, and an
    # id() is reused by a later test (3.13 did so here, and the test failed).
    tag = f"proxy-h2-{uuid.uuid4().hex}"
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as client:
            responses = await asyncio.gather(
                *(
                    client.get(f"{h2_server.url}/size/{n}", headers={"x-tag": tag})
                    for n in range(30)
                )
            )
            echoed = await client.get(f"{h2_server.url}/echo")
            seen = (await client.get(f"{h2_server.url}/seen/{tag}")).json()
    assert [len(r.content) for r in responses] == list(range(30))
    assert all(r.http_version == "HTTP/2" for r in responses)
    assert echoed.http_version == "HTTP/2"
    assert echoed.json()["http_version"] == "2"
    assert len(seen) == 1  # hypercorn saw one client port: the proxy's one upstream connection
    assert proxy.tunnels == [("127.0.0.1", h2_server.port)]
    assert proxy.connections == 1


async def test_http2_false_speaks_http11_inside_the_tunnel(
    tls: TLSSetup, h2_server: H2Server, proxy: ConnectProxy
) -> None:
    """http2=False: ALPN inside the tunnel offers http/1.1 only."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path, http2=False) as client:
            r = await client.get(f"{h2_server.url}/echo")
    assert r.http_version == "HTTP/1.1"
    assert r.json()["http_version"] == "1.1"
    assert proxy.tunnels == [("127.0.0.1", h2_server.port)]


# ------------------------------------------------------------------ http: absolute-form


async def test_http_request_goes_to_the_proxy_in_absolute_form(
    web_server: WebServer, proxy: ConnectProxy
) -> None:
    """Plain http: the proxy gets the absolute URL, the origin gets origin-form."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            r = await client.get(f"{web_server.url}/echo/a?x=1&y=2")
    assert r.status_code == 200
    assert r.http_version == "HTTP/1.1"
    (head,) = proxy.requests
    assert head.method == "GET"
    assert head.target == f"{web_server.url}/echo/a?x=1&y=2"
    assert head.get_all("host") == [f"127.0.0.1:{web_server.port}"]
    (forwarded,) = proxy.forwarded
    assert forwarded.method == "GET"
    assert forwarded.url == f"{web_server.url}/echo/a?x=1&y=2"
    echoed = r.json()
    assert echoed["raw_path"] == "/echo/a?x=1&y=2"
    assert "proxy-authorization" not in _seen_headers(echoed)
    assert proxy.tunnels == []


async def test_http_sequential_requests_keep_one_connection_to_the_proxy(
    web_server: WebServer, proxy: ConnectProxy
) -> None:
    """Keep-alive to the proxy: four requests, one client connection."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            for n in range(4):
                r = await client.get(f"{web_server.url}/echo?n={n}")
                assert r.json()["raw_path"] == f"/echo?n={n}"
    assert proxy.connections == 1
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo?n={n}" for n in range(4)]


async def test_http_post_body_is_forwarded_intact(
    web_server: WebServer, proxy: ConnectProxy
) -> None:
    """A POST body (every byte value, Content-Length framed) reaches the origin unchanged."""
    payload = bytes(range(256)) * 64
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            r = await client.post(f"{web_server.url}/echo", content=payload)
            j = await client.post(f"{web_server.url}/echo", json={"k": [1, 2, 3]})
    echoed = r.json()
    assert echoed["method"] == "POST"
    assert echoed["body"].encode("latin-1") == payload
    assert j.json()["body"] == '{"k":[1,2,3]}'
    assert [(f.method, f.url) for f in proxy.forwarded] == [("POST", f"{web_server.url}/echo")] * 2
    assert proxy.connections == 1


async def test_http_streamed_body_is_forwarded_intact(
    web_server: WebServer, proxy: ConnectProxy
) -> None:
    """A body from an async iterator goes chunked to the proxy and arrives whole."""
    parts = [b"first;", b"second;", b"x" * 10_000]

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            r = await client.post(f"{web_server.url}/echo", content=body())
    assert r.json()["body"].encode("latin-1") == b"".join(parts)
    (head,) = proxy.requests
    assert head.tokens("transfer-encoding") == {"chunked"}


async def test_http_absolute_form_carries_no_userinfo_or_fragment(
    web_server: WebServer, proxy: ConnectProxy
) -> None:
    """RFC 9110 §4.2.4: no userinfo in a target URI; a fragment is never sent either."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            url = f"http://alice:origin-pw@127.0.0.1:{web_server.port}/echo?a=1#frag"
            r = await client.get(url)
    assert r.status_code == 200
    (head,) = proxy.requests
    assert head.target == f"{web_server.url}/echo?a=1"
    assert "origin-pw" not in head.target


async def test_proxy_listening_on_ipv6_loopback(
    tls: TLSSetup, tls_server: WebServer, web_server: WebServer
) -> None:
    """A proxy URL with a bracketed IPv6 address: http forwarded, https tunnelled."""
    async with asyncio.timeout(TIMEOUT):
        async with ConnectProxy(host="::1") as v6:
            assert v6.url.startswith("http://[::1]:")
            async with hyperhttp.Client(proxy=v6.url, verify=tls.ca_path) as client:
                assert (await client.get(f"{web_server.url}/echo")).status_code == 200
                assert (await client.get(f"{tls_server.url}/echo")).status_code == 200
    assert [f.url for f in v6.forwarded] == [f"{web_server.url}/echo"]
    assert v6.tunnels == [("127.0.0.1", tls_server.port)]


# ------------------------------------------------------------------ proxy authentication


async def test_basic_auth_on_forwarded_http(
    web_server: WebServer, auth_proxy: ConnectProxy
) -> None:
    """Credentials in the proxy URL: each forwarded request carries Proxy-Authorization."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=auth_proxy.url_with_auth) as client:
            first = await client.get(f"{web_server.url}/echo")
            second = await client.get(f"{web_server.url}/echo")
    assert (first.status_code, second.status_code) == (200, 200)
    assert [h.get_all("proxy-authorization") for h in auth_proxy.requests] == [
        [_basic(USER, PASSWORD)]
    ] * 2
    assert "proxy-authorization" not in _seen_headers(first.json())
    assert auth_proxy.connections == 1


async def test_basic_auth_on_connect(
    tls: TLSSetup, tls_server: WebServer, auth_proxy: ConnectProxy
) -> None:
    """Https: CONNECT carries Proxy-Authorization; the request inside the tunnel does not."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=auth_proxy.url_with_auth, verify=tls.ca_path) as client:
            r = await client.get(f"{tls_server.url}/echo")
    assert r.status_code == 200
    (connect,) = auth_proxy.requests
    assert connect.method == "CONNECT"
    assert connect.get_all("proxy-authorization") == [_basic(USER, PASSWORD)]
    assert "proxy-authorization" not in _seen_headers(r.json())
    assert auth_proxy.tunnels == [("127.0.0.1", tls_server.port)]


@pytest.mark.parametrize("credentials", ["none", "wrong"])
async def test_https_without_valid_credentials_raises_proxy_error_407(
    tls: TLSSetup, tls_server: WebServer, auth_proxy: ConnectProxy, credentials: str
) -> None:
    """Https: a 407 to CONNECT is a ProxyError (a TransportError) with status_code 407."""
    url = auth_proxy.url if credentials == "none" else auth_proxy.url.replace("://", "://user:no@")
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=url, verify=tls.ca_path) as client:
            with pytest.raises(hyperhttp.ProxyError) as caught:
                await client.get(f"{tls_server.url}/echo")
    assert caught.value.status_code == 407
    assert isinstance(caught.value, hyperhttp.TransportError)
    assert f"127.0.0.1:{auth_proxy.port}" in str(caught.value)
    assert auth_proxy.tunnels == []
    assert [h.method for h in auth_proxy.requests] == ["CONNECT"]


async def test_http_without_credentials_returns_the_407_response(
    web_server: WebServer, auth_proxy: ConnectProxy
) -> None:
    """Plain http: the proxy's 407 is the response (a forward proxy answers for the origin)."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=auth_proxy.url) as client:
            r = await client.get(f"{web_server.url}/echo")
            again = await client.get(f"{web_server.url}/echo")
    assert r.status_code == 407
    assert r.headers["proxy-authenticate"] == 'Basic realm="test"'
    assert again.status_code == 407
    assert auth_proxy.forwarded == []
    assert auth_proxy.connections == 1  # the 407 left the connection usable
    assert web_server.requests == []


# ------------------------------------------------------------------ refusals


async def test_refused_connect_raises_proxy_error_with_its_status(
    tls: TLSSetup, tls_server: WebServer
) -> None:
    """CONNECT answered 503: ProxyError, status_code 503, the proxy named, its password not."""
    async with asyncio.timeout(TIMEOUT):
        async with ConnectProxy(auth=(USER, SECRET), refuse_status=503) as refusing:
            async with hyperhttp.Client(proxy=refusing.url_with_auth, verify=tls.ca_path) as client:
                with pytest.raises(hyperhttp.ProxyError) as caught:
                    await client.get(f"{tls_server.url}/echo")
            assert refusing.tunnels == []
    assert caught.value.status_code == 503
    message = str(caught.value)
    assert f"127.0.0.1:{refusing.port}" in message
    assert "503" in message
    _assert_no_secret(_texts(caught.value), SECRET)
    assert tls_server.requests == []


async def test_unreachable_proxy_for_https_raises_connect_error_naming_it(
    tls: TLSSetup, tls_server: WebServer
) -> None:
    """A proxy port that refuses connections: ConnectError naming the proxy."""
    with _closed_port() as port:
        async with asyncio.timeout(TIMEOUT):
            async with hyperhttp.Client(
                proxy=f"http://{USER}:{SECRET}@127.0.0.1:{port}", verify=tls.ca_path
            ) as client:
                with pytest.raises(hyperhttp.ConnectError) as caught:
                    await client.get(f"{tls_server.url}/echo")
    assert not isinstance(caught.value, hyperhttp.ProxyError)
    assert f"127.0.0.1:{port}" in str(caught.value)
    _assert_no_secret(_texts(caught.value), SECRET)


async def test_unreachable_proxy_for_http_raises_connect_error_naming_it(
    web_server: WebServer,
) -> None:
    """Plain http through a proxy that refuses connections: ConnectError naming the proxy."""
    with _closed_port() as port:
        async with asyncio.timeout(TIMEOUT):
            async with hyperhttp.Client(proxy=f"http://{USER}:{SECRET}@127.0.0.1:{port}") as client:
                with pytest.raises(hyperhttp.ConnectError) as caught:
                    await client.get(f"{web_server.url}/echo")
    assert f"127.0.0.1:{port}" in str(caught.value)
    _assert_no_secret(_texts(caught.value), SECRET)
    assert web_server.requests == []


async def test_refused_connect_fails_every_request_of_a_cold_burst(
    tls: TLSSetup, tls_server: WebServer
) -> None:
    """Concurrent requests waiting on one refused tunnel all fail with ProxyError; none hangs."""
    async with asyncio.timeout(TIMEOUT):
        async with (
            ConnectProxy(refuse_status=502) as refusing,
            hyperhttp.Client(proxy=refusing.url, verify=tls.ca_path) as client,
        ):
            results = await asyncio.gather(
                *(client.get(f"{tls_server.url}/echo") for _ in range(5)),
                return_exceptions=True,
            )
            stats = client.pool_stats()
            assert (stats.connections, stats.leases, stats.waiters) == (0, 0, 0)
    assert all(isinstance(r, hyperhttp.ProxyError) for r in results), results
    assert {r.status_code for r in results if isinstance(r, hyperhttp.ProxyError)} == {502}
    assert refusing.tunnels == []


@pytest.mark.parametrize("scheme", ["https", "socks6"])
async def test_unsupported_proxy_scheme_is_invalid_url_without_password(scheme: str) -> None:
    """http:// and SOCKS proxies only: another scheme is InvalidURL at once, password hidden."""
    with pytest.raises(hyperhttp.InvalidURL) as caught:
        hyperhttp.Client(proxy=f"{scheme}://{USER}:{SECRET}@127.0.0.1:3128")
    assert scheme in str(caught.value)
    _assert_no_secret(_texts(caught.value), SECRET)


async def test_invalid_proxy_in_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad HTTPS_PROXY fails the Client's construction, naming the variable, not the password."""
    monkeypatch.setenv("HTTPS_PROXY", f"ftp://{USER}:{SECRET}@127.0.0.1:3128")
    with pytest.raises(hyperhttp.InvalidURL) as caught:
        hyperhttp.Client()
    assert "HTTPS_PROXY" in str(caught.value)
    _assert_no_secret(_texts(caught.value), SECRET)
    async with hyperhttp.Client(trust_env=False):  # the environment is not read at all then
        pass


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (None, "closed"),
        (b"NOT HTTP AT ALL\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 Connection established\r\n\r\nearly bytes", "before TLS"),
    ],
    ids=["closed", "malformed", "early-bytes"],
)
async def test_broken_connect_answer_raises_proxy_error(
    tls: TLSSetup,
    raw_server: Callable[[Script], Awaitable[RawServer]],
    answer: bytes | None,
    words: str,
) -> None:
    """A proxy closing, garbling or over-sending in its CONNECT answer: ProxyError, no status."""

    def respond(request: bytes, number: int) -> bytes | None:
        return answer

    scripted = await raw_server(respond)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=scripted.url, verify=tls.ca_path) as client:
            with pytest.raises(hyperhttp.ProxyError) as caught:
                await client.get("https://127.0.0.1:9/echo")
    assert caught.value.status_code is None
    assert words in str(caught.value)
    assert scripted.received[0].startswith(b"CONNECT 127.0.0.1:9 HTTP/1.1\r\n")


async def test_silent_proxy_raises_connect_timeout_naming_it(
    tls: TLSSetup, raw_server: Callable[[Script], Awaitable[RawServer]]
) -> None:
    """A proxy that never answers CONNECT: ConnectTimeout naming the proxy, password hidden."""
    release = asyncio.Event()

    async def never(request: bytes, number: int) -> bytes | None:
        await release.wait()
        return None

    scripted = await raw_server(never)
    proxy_url = scripted.url.replace("://", f"://{USER}:{SECRET}@")
    try:
        async with asyncio.timeout(TIMEOUT):
            async with hyperhttp.Client(
                proxy=proxy_url, verify=tls.ca_path, timeout=hyperhttp.Timeout(connect=0.3)
            ) as client:
                with pytest.raises(hyperhttp.ConnectTimeout) as caught:
                    await client.get("https://127.0.0.1:9/echo")
    finally:
        release.set()
        for _ in range(200):  # bounded: let the scripted handler finish
            if all(w.is_closing() for w in scripted.writers):
                break
            await asyncio.sleep(0.01)
    assert isinstance(caught.value, hyperhttp.TimeoutException)
    assert f"127.0.0.1:{scripted.port}" in str(caught.value)
    _assert_no_secret(_texts(caught.value), SECRET)


# ------------------------------------------------------------------ pool keys


async def test_two_clients_with_two_proxies_each_proxy_sees_only_its_own(
    tls: TLSSetup,
    tls_server: WebServer,
    web_server: WebServer,
    proxy: ConnectProxy,
    other_proxy: ConnectProxy,
) -> None:
    """The same origins through two proxies: each proxy carries only its client's requests."""
    async with asyncio.timeout(TIMEOUT):
        async with (
            hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as first,
            hyperhttp.Client(proxy=other_proxy.url, verify=tls.ca_path) as second,
        ):
            for client, who in ((first, "a"), (second, "b"), (first, "a"), (second, "b")):
                assert (await client.get(f"{web_server.url}/echo?who={who}")).status_code == 200
                assert (await client.get(f"{tls_server.url}/echo?who={who}")).status_code == 200
    for seen, who in ((proxy, "a"), (other_proxy, "b")):
        assert [f.url for f in seen.forwarded] == [f"{web_server.url}/echo?who={who}"] * 2
        assert seen.tunnels == [("127.0.0.1", tls_server.port)]
        assert seen.connections == 2  # one to forward http, one tunnel
    tunnelled = [r.raw_path for r in tls_server.requests]
    assert sorted(tunnelled) == ["/echo?who=a"] * 2 + ["/echo?who=b"] * 2


async def test_direct_and_proxied_clients_to_one_origin_do_not_share(
    tls: TLSSetup, tls_server: WebServer, web_server: WebServer, proxy: ConnectProxy
) -> None:
    """A direct client and a proxied one to the same origins: the proxy sees only its own."""
    async with asyncio.timeout(TIMEOUT):
        async with (
            hyperhttp.Client(proxy=None, trust_env=False, verify=tls.ca_path) as direct,
            hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as proxied,
        ):
            for _ in range(2):
                await direct.get(f"{web_server.url}/echo?via=direct")
                await proxied.get(f"{web_server.url}/echo?via=proxy")
                await direct.get(f"{tls_server.url}/echo?via=direct")
                await proxied.get(f"{tls_server.url}/echo?via=proxy")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo?via=proxy"] * 2
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]
    # Inside the tunnel, only proxied requests; the direct client used its own connection.
    assert len(tls_server.connections) == 2
    assert sum(r.raw_path == "/echo?via=proxy" for r in tls_server.requests) == 2


async def test_one_client_one_proxy_two_origins_get_two_tunnels(
    tls: TLSSetup, tls_server: WebServer, h2_server: H2Server, proxy: ConnectProxy
) -> None:
    """Two https origins through one proxy: one tunnel each, each reused."""
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url, verify=tls.ca_path) as client:
            for _ in range(3):
                assert (await client.get(f"{tls_server.url}/size/3")).content == b"xxx"
                assert (await client.get(f"{h2_server.url}/size/4")).content == b"xxxx"
    assert proxy.tunnels == [("127.0.0.1", tls_server.port), ("127.0.0.1", h2_server.port)]
    assert proxy.connections == 2


async def test_env_http_and_https_proxies_may_differ_in_one_client(
    monkeypatch: pytest.MonkeyPatch,
    tls: TLSSetup,
    tls_server: WebServer,
    web_server: WebServer,
    proxy: ConnectProxy,
    other_proxy: ConnectProxy,
) -> None:
    """HTTP_PROXY and HTTPS_PROXY naming two proxies: each scheme goes to its own."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", other_proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            await client.get(f"{web_server.url}/echo")
            await client.get(f"{tls_server.url}/echo")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]
    assert proxy.tunnels == []
    assert other_proxy.forwarded == []
    assert other_proxy.tunnels == [("127.0.0.1", tls_server.port)]


# ------------------------------------------------------------------ trust_env


async def test_env_https_proxy_is_used(
    monkeypatch: pytest.MonkeyPatch, tls: TLSSetup, tls_server: WebServer, proxy: ConnectProxy
) -> None:
    """HTTPS_PROXY: https requests tunnel through it."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            r = await client.get(f"{tls_server.url}/echo")
    assert r.status_code == 200
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]


async def test_env_http_proxy_is_used(
    monkeypatch: pytest.MonkeyPatch, web_server: WebServer, proxy: ConnectProxy
) -> None:
    """HTTP_PROXY: http requests are forwarded by it."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client() as client:
            r = await client.get(f"{web_server.url}/echo")
    assert r.status_code == 200
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]


async def test_env_all_proxy_is_used_when_the_specific_one_is_unset(
    monkeypatch: pytest.MonkeyPatch,
    tls: TLSSetup,
    tls_server: WebServer,
    web_server: WebServer,
    proxy: ConnectProxy,
) -> None:
    """ALL_PROXY alone: both http and https go through it."""
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            await client.get(f"{web_server.url}/echo")
            await client.get(f"{tls_server.url}/echo")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]


async def test_env_specific_proxy_beats_all_proxy(
    monkeypatch: pytest.MonkeyPatch,
    tls: TLSSetup,
    tls_server: WebServer,
    proxy: ConnectProxy,
    other_proxy: ConnectProxy,
) -> None:
    """HTTPS_PROXY wins over ALL_PROXY for https."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", other_proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            await client.get(f"{tls_server.url}/echo")
    assert proxy.tunnels == [("127.0.0.1", tls_server.port)]
    assert other_proxy.connections == 0


async def test_env_lower_case_beats_upper_case(
    monkeypatch: pytest.MonkeyPatch,
    web_server: WebServer,
    proxy: ConnectProxy,
    other_proxy: ConnectProxy,
) -> None:
    """http_proxy wins over HTTP_PROXY (curl's convention)."""
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", other_proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client() as client:
            await client.get(f"{web_server.url}/echo")
    assert len(proxy.forwarded) == 1
    assert other_proxy.connections == 0


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
async def test_env_no_proxy_bypasses_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
    tls: TLSSetup,
    tls_server: WebServer,
    web_server: WebServer,
    proxy: ConnectProxy,
    name: str,
) -> None:
    """NO_PROXY=127.0.0.1: requests to 127.0.0.1 go direct; the proxy sees nothing."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv(name, "127.0.0.1")
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            assert (await client.get(f"{web_server.url}/echo")).json()["raw_path"] == "/echo"
            assert (await client.get(f"{tls_server.url}/echo")).status_code == 200
    assert proxy.connections == 0
    assert proxy.requests == []


async def test_env_no_proxy_for_another_port_does_not_bypass(
    monkeypatch: pytest.MonkeyPatch, web_server: WebServer, proxy: ConnectProxy
) -> None:
    """NO_PROXY=127.0.0.1:<other port> does not cover the origin's port."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    other = 1 if web_server.port != 1 else 2
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{other}")
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client() as client:
            await client.get(f"{web_server.url}/echo")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]


async def test_trust_env_false_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    tls: TLSSetup,
    tls_server: WebServer,
    web_server: WebServer,
    proxy: ConnectProxy,
) -> None:
    """trust_env=False: proxy variables are not read; requests go direct."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(trust_env=False, verify=tls.ca_path) as client:
            assert (await client.get(f"{web_server.url}/echo")).status_code == 200
            assert (await client.get(f"{tls_server.url}/echo")).status_code == 200
    assert proxy.connections == 0


async def test_env_upper_case_http_proxy_ignored_under_cgi(
    monkeypatch: pytest.MonkeyPatch, web_server: WebServer, proxy: ConnectProxy
) -> None:
    """httpoxy: with REQUEST_METHOD set, HTTP_PROXY is ignored (http_proxy is not)."""
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client() as client:
            await client.get(f"{web_server.url}/echo")
        assert proxy.connections == 0
        monkeypatch.setenv("http_proxy", proxy.url)
        async with hyperhttp.Client() as client:
            await client.get(f"{web_server.url}/echo")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]


async def test_explicit_proxy_ignores_no_proxy(
    monkeypatch: pytest.MonkeyPatch, web_server: WebServer, proxy: ConnectProxy
) -> None:
    """proxy= applies to every URL: NO_PROXY in the environment does not bypass it."""
    monkeypatch.setenv("NO_PROXY", "*")
    async with asyncio.timeout(TIMEOUT):
        async with hyperhttp.Client(proxy=proxy.url) as client:
            await client.get(f"{web_server.url}/echo")
    assert [f.url for f in proxy.forwarded] == [f"{web_server.url}/echo"]


# ------------------------------------------------------------------ the password stays hidden


async def test_password_not_in_client_repr_or_http_trace(web_server: WebServer) -> None:
    """repr(client) and the trace of a forwarded request never show the proxy password."""
    trace = TraceRecorder()
    async with asyncio.timeout(TIMEOUT):
        async with (
            ConnectProxy(auth=(USER, SECRET)) as secured,
            hyperhttp.Client(proxy=secured.url_with_auth, trace=trace) as client,
        ):
            _assert_no_secret(repr(client), SECRET)
            r = await client.get(f"{web_server.url}/echo")
            assert r.status_code == 200
            assert r.request is not None
            _assert_no_secret(repr(r), SECRET)
            _assert_no_secret(repr(r.request), SECRET)
            _assert_no_secret(repr(r.request.headers), SECRET)
    assert "connect.end" in trace.names()
    _assert_no_secret(repr(trace.events), SECRET)


async def test_password_not_in_https_trace(tls: TLSSetup, tls_server: WebServer) -> None:
    """The trace of a tunnelled request names the proxy but never its password."""
    trace = TraceRecorder()
    async with asyncio.timeout(TIMEOUT):
        async with (
            ConnectProxy(auth=(USER, SECRET)) as secured,
            hyperhttp.Client(
                proxy=secured.url_with_auth, verify=tls.ca_path, trace=trace
            ) as client,
        ):
            r = await client.get(f"{tls_server.url}/echo")
    assert r.status_code == 200
    assert "proxy.connect" in trace.names()
    assert f"127.0.0.1:{secured.port}" in repr(trace.events)
    _assert_no_secret(repr(trace.events), SECRET)


async def test_password_not_in_errors_or_their_trace(
    tls: TLSSetup, tls_server: WebServer, web_server: WebServer
) -> None:
    """A 407 to CONNECT and an unreachable proxy: no password in messages or trace events."""
    trace = TraceRecorder()
    async with asyncio.timeout(TIMEOUT):
        async with ConnectProxy(auth=(USER, "the-right-one")) as secured:
            wrong = secured.url.replace("://", f"://{USER}:{SECRET}@")
            async with hyperhttp.Client(proxy=wrong, verify=tls.ca_path, trace=trace) as client:
                _assert_no_secret(repr(client), SECRET)
                with pytest.raises(hyperhttp.ProxyError) as refused:
                    await client.get(f"{tls_server.url}/echo")
                assert refused.value.status_code == 407
                r = await client.get(f"{web_server.url}/echo")
                assert r.status_code == 407
        with _closed_port() as port:
            async with hyperhttp.Client(
                proxy=f"http://{USER}:{SECRET}@127.0.0.1:{port}", verify=tls.ca_path, trace=trace
            ) as client:
                for url in (tls_server.url, web_server.url):
                    with pytest.raises(hyperhttp.ConnectError) as unreachable:
                        await client.get(f"{url}/echo")
                    _assert_no_secret(_texts(unreachable.value), SECRET)
    _assert_no_secret(_texts(refused.value), SECRET)
    assert trace.events
    _assert_no_secret(repr(trace.events), SECRET)
