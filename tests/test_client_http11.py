"""The Client over HTTP/1.1 against real loopback peers (issue 6)."""

from __future__ import annotations

import asyncio
import gzip
import resource
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import hyperhttp
import hyperhttp_dns
import pytest
from aiohttp import web
from hyperhttp import URL

from tests.servers.fixtures import RawServer, Script, TLSSetup, WebServer, echo_json, response
from tests.servers.routes import serve_routes

pytestmark = pytest.mark.asyncio

StartRaw = Callable[[Script], Awaitable[RawServer]]


class OneName:
    """A resolver backend knowing a few names, all at 127.0.0.1 (no DNS server is asked)."""

    def __init__(self, *names: str) -> None:
        self.names = {name.lower() for name in names}

    async def lookup(self, host: str, family: int) -> hyperhttp_dns.Answer:
        if host not in self.names:
            raise hyperhttp_dns.ResolveError(host, "unknown name", socket.EAI_NONAME)
        return hyperhttp_dns.Answer((hyperhttp_dns.Address(socket.AF_INET, "127.0.0.1", 0),))


# ------------------------------------------------------------------ basics


async def test_get_reads_the_whole_body(web_server: WebServer) -> None:
    """client.get() returns with content read; aread() is then a no-op returning it."""
    async with hyperhttp.Client() as client:
        r = await client.get(f"{web_server.url}/size/5000")
        assert r.status_code == 200
        assert r.reason_phrase == "OK"
        assert r.http_version == "HTTP/1.1"
        assert r.content == b"x" * 5000
        assert await r.aread() is r.content
        assert [c async for c in r.aiter_bytes()] == [r.content]
        assert r.is_success
        assert r.elapsed.total_seconds() > 0
        assert r.url == URL(f"{web_server.url}/size/5000")


async def test_default_headers(web_server: WebServer) -> None:
    """Host (with the non-default port), a User-Agent and only installed decoders are sent."""
    async with hyperhttp.Client() as client:
        data = echo_json((await client.get(f"{web_server.url}/echo")).content)
    headers = {k.lower(): v for k, v in data["headers"]}
    assert headers["host"] == f"127.0.0.1:{web_server.port}"
    assert headers["user-agent"].startswith("hyperhttp/")
    assert headers["accept-encoding"] == "gzip, deflate, br, zstd"


async def test_public_classes_say_hyperhttp() -> None:
    """Public classes report the package as their module (reprs and tracebacks)."""
    assert hyperhttp.Client.__module__ == "hyperhttp"
    assert hyperhttp.ReadTimeout.__module__ == "hyperhttp"
    assert issubclass(hyperhttp.ReadTimeout, TimeoutError)
    assert issubclass(hyperhttp.InvalidURL, ValueError)


async def test_response_helpers(web_server: WebServer) -> None:
    """text, json(), raise_for_status() and headers behave as httpx's."""
    async with hyperhttp.Client() as client:
        r = await client.post(f"{web_server.url}/echo", json={"name": "Zoë"})
        assert r.json()["body"] == '{"name":"Zoë"}'.encode().decode("latin-1")
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers.get_list("Content-Type") == [r.headers["content-type"]]
        assert r.raise_for_status() is r
        bad = await client.get(f"{web_server.url}/status/503")
        with pytest.raises(hyperhttp.HTTPStatusError) as info:
            bad.raise_for_status()
        assert info.value.response is bad
        assert bad.text == "status 503"


# ------------------------------------------------------------------ URLs


async def test_params_merge_with_the_query_and_encode(web_server: WebServer) -> None:
    """params= is appended to a query already in the URL; paths and queries are encoded."""
    async with hyperhttp.Client() as client:
        r = await client.get(f"{web_server.url}/echo/a b?x=1", params={"y": "2 3", "z": ["4", "5"]})
    data = echo_json(r.content)
    assert data["raw_path"] == "/echo/a%20b?x=1&y=2+3&z=4&z=5"
    assert data["query"] == [["x", "1"], ["y", "2 3"], ["z", "4"], ["z", "5"]]


async def test_base_url_joins_relative_urls(web_server: WebServer) -> None:
    """Relative URLs are joined onto base_url's path."""
    async with hyperhttp.Client(base_url=f"{web_server.url}/echo/") as client:
        data = echo_json((await client.get("items/7?q=1")).content)
        other = echo_json((await client.get("/other")).content)
    assert data["raw_path"] == "/echo/items/7?q=1"
    assert other["raw_path"] == "/echo/other"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "http://",
        "http:///path",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
        "example.com/path",
        "http://exa mple.com/",
        "http://[fe80::1%25eth0]/",
    ],
)
async def test_invalid_urls_fail_before_any_io(url: str, raw_server: StartRaw) -> None:
    """InvalidURL (also ValueError) for anything unparseable, and nothing is sent."""
    server = await raw_server(lambda request, n: response())
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.InvalidURL):
            await client.get(url)
    assert server.connections == 0


async def test_ipv6_literal_and_idna_host_headers(raw_server: StartRaw) -> None:
    """IDNA names are sent punycoded in Host; IPv6 literals are bracketed."""
    server = await raw_server(lambda request, n: response(body=b"ok"))
    resolver = hyperhttp_dns.Resolver(OneName("xn--bcher-kva.example"))
    async with hyperhttp.Client(resolver=resolver) as client:
        await client.get(f"http://bücher.example:{server.port}/")
    assert b"\r\nHost: xn--bcher-kva.example:%d\r\n" % server.port in server.received[0]
    await resolver.aclose()
    url = URL("http://[::1]:8080/a?b=c")
    assert (url.host, url.host_header, url.target) == ("::1", b"[::1]:8080", b"/a?b=c")
    assert URL("https://Example.COM:443/").host_header == b"example.com"


async def test_ipv6_loopback_request() -> None:
    """A request to http://[::1]:port/ reaches a server on ::1."""
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(response(body=b"v6"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "::1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with hyperhttp.Client() as client:
            r = await client.get(f"http://[::1]:{port}/")
        assert r.content == b"v6"
        assert b"Host: [::1]:%d\r\n" % port in seen[0]
    finally:
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------------ connections


async def test_keep_alive_reuses_one_connection(web_server: WebServer) -> None:
    """Sequential requests to one origin share one connection (counted by the server)."""
    async with hyperhttp.Client() as client:
        for _ in range(10):
            await client.get(f"{web_server.url}/size/10")
        assert client.pool_stats().idle == 1
    assert len(web_server.connections) == 1


async def test_per_host_cap_bounds_connections(web_server: WebServer) -> None:
    """50 concurrent requests with max_connections_per_host=4 use at most 4 connections."""
    limits = hyperhttp.Limits(max_connections_per_host=4)
    async with hyperhttp.Client(limits=limits) as client:
        results = await asyncio.gather(
            *(client.get(f"{web_server.url}/sleep/0.01") for _ in range(50))
        )
    assert all(r.text == "slept" for r in results)
    assert len(web_server.connections) <= 4


async def test_defaults_put_no_per_host_cap_below_the_global_one(web_server: WebServer) -> None:
    """At its defaults one slow origin gets as many connections as requests wait (up to 100).

    The old default of 10 per host held a 20 ms origin to 500 requests a
    second whatever the machine (issue 16).
    """
    assert hyperhttp.Limits().max_connections_per_host is None
    assert hyperhttp.Limits().max_connections == 100
    async with hyperhttp.Client() as client:
        results = await asyncio.gather(
            *(client.get(f"{web_server.url}/sleep/0.3") for _ in range(40))
        )
    assert all(r.text == "slept" for r in results)
    assert len(web_server.connections) == 40


async def _visit(client: hyperhttp.Client, urls: list[str], order: str) -> None:
    for letter in order:
        response = await client.get(f"{urls['abc'.index(letter)]}/r")
        assert response.text == "ok"


async def test_idle_connections_to_other_origins_hold_no_slot() -> None:
    """A crawler's idle connections are kept between visits, whatever max_connections is.

    With one slot and three origins visited in turn, each origin is reached
    over one connection (the server counts client addresses). When idle
    connections counted against max_connections, every visit closed another
    origin's connection to open its own: a crawler over 1 000 origins at the
    default 100 ran at 0.89x aiohttp (issue 16).
    """

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    routes = [web.get("/r", ok)]
    async with (
        serve_routes(routes) as (a, seen_a),
        serve_routes(routes) as (b, seen_b),
        serve_routes(routes) as (c, seen_c),
        hyperhttp.Client(limits=hyperhttp.Limits(max_connections=1)) as client,
    ):
        await _visit(client, [a, b, c], "abcabcabc")
        assert client.pool_stats().idle == 3
    assert [len(set(seen.peers)) for seen in (seen_a, seen_b, seen_c)] == [1, 1, 1]


async def test_idle_connections_past_their_cap_close_least_recently_used_first() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    routes = [web.get("/r", ok)]
    limits = hyperhttp.Limits(max_idle_connections=2)
    async with (
        serve_routes(routes) as (a, seen_a),
        serve_routes(routes) as (b, seen_b),
        serve_routes(routes) as (c, seen_c),
        hyperhttp.Client(limits=limits) as client,
    ):
        await _visit(client, [a, b, c], "abcbca")  # c closes a's; then a closes b's
        assert client.pool_stats().idle == 2
    assert [len(set(seen.peers)) for seen in (seen_a, seen_b, seen_c)] == [2, 1, 1]


async def test_unread_stream_closes_its_connection(web_server: WebServer) -> None:
    """A streamed body not read to the end closes the connection instead of pooling it."""
    async with hyperhttp.Client() as client:
        async with client.stream("GET", f"{web_server.url}/big?bytes={64 * 1024 * 1024}") as r:
            assert r.status_code == 200
        assert client.pool_stats().idle == 0  # (a body already whole in the buffer would be fine)
        await client.get(f"{web_server.url}/size/10")
    assert len(web_server.connections) == 2


async def test_stale_keep_alive_is_replayed_once(raw_server: StartRaw) -> None:
    """The server drops a kept-alive connection as a GET reuses it: replayed, unseen."""

    def respond(request: bytes, connection: int) -> bytes | None:
        if connection == 1 and request.startswith(b"GET /second"):
            return None  # close without answering: the idle-close race
        return response(body=b"fine")

    server = await raw_server(respond)
    async with hyperhttp.Client() as client:
        assert (await client.get(f"{server.url}/first")).content == b"fine"
        assert (await client.get(f"{server.url}/second")).content == b"fine"
    assert server.connections == 2


async def test_stale_keep_alive_is_not_replayed_for_post(raw_server: StartRaw) -> None:
    """A POST is not replayed: the error shows."""

    def respond(request: bytes, connection: int) -> bytes | None:
        return None if request.startswith(b"POST") else response(body=b"fine")

    server = await raw_server(respond)
    async with hyperhttp.Client() as client:
        await client.get(server.url)
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.post(server.url, content=b"once")
    assert sum(r.startswith(b"POST") for r in server.received) == 1


async def test_server_keep_alive_timeout_is_honoured(raw_server: StartRaw) -> None:
    """Keep-Alive: timeout=1 from the server: the connection is not reused after it."""
    server = await raw_server(lambda r, n: response(body=b"a", headers=["Keep-Alive: timeout=1"]))
    async with hyperhttp.Client() as client:
        await client.get(server.url)
        await client.get(server.url)
    assert server.connections == 2


async def test_bytes_after_a_response_make_the_connection_unusable(raw_server: StartRaw) -> None:
    """A response followed by bytes nobody asked for: the connection is not reused."""
    extra = response(body=b"smuggled")
    server = await raw_server(lambda r, n: response(body=b"real") + extra)
    async with hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == b"real"
        assert (await client.get(server.url)).content == b"real"
    assert server.connections == 2


# ------------------------------------------------------------------ bad peers


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"SPDY 200\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nabcde",
    ],
)
async def test_malformed_responses_are_remote_protocol_errors(
    raw: bytes, raw_server: StartRaw
) -> None:
    """Every malformed framing surfaces as RemoteProtocolError; the connection is dropped."""
    server = await raw_server(lambda r, n: raw)
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.get(server.url)
        assert client.pool_stats().connections == 0


async def test_premature_close_mid_body(raw_server: StartRaw) -> None:
    """The server closes before Content-Length bytes came: RemoteProtocolError."""
    server = await raw_server(lambda r, n: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    server.close_after = True
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match=r"mid-response|closed"):
            await client.get(server.url)


async def test_close_delimited_body_is_read_to_the_end(raw_server: StartRaw) -> None:
    """A response without framing ends at close, and its connection is not reused."""
    server = await raw_server(lambda r, n: b"HTTP/1.1 200 OK\r\n\r\nuntil close")
    server.close_after = True
    async with hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == b"until close"
        assert (await client.get(server.url)).content == b"until close"
    assert server.connections == 2


# ------------------------------------------------------------------ bodies


async def test_request_bodies(web_server: WebServer) -> None:
    """content= bytes / str, data= form and json= (compact UTF-8) are sent as such."""

    async def parts() -> AsyncIterator[bytes]:
        for piece in (b"one,", b"two,", b"three"):
            yield piece

    async with hyperhttp.Client() as client:
        url = f"{web_server.url}/echo"
        as_bytes = echo_json((await client.put(url, content=b"\x00\xff")).content)
        as_text = echo_json((await client.post(url, content="é")).content)
        form = echo_json((await client.post(url, data={"a": "1 2", "b": ["x", "y"]})).content)
        doc = echo_json((await client.post(url, json={"k": [1, "ü"]})).content)
        streamed = echo_json((await client.post(url, content=parts())).content)
        empty = echo_json((await client.post(url)).content)
    assert as_bytes["body"] == "\x00\xff"
    assert as_text["body"] == "é".encode().decode("latin-1")
    assert form["body"] == "a=1+2&b=x&b=y"
    assert ("Content-Type", "application/x-www-form-urlencoded") in map(tuple, form["headers"])
    assert doc["body"] == '{"k":[1,"ü"]}'.encode().decode("latin-1")
    assert ("Content-Type", "application/json") in map(tuple, doc["headers"])
    assert streamed["body"] == "one,two,three"
    assert streamed["chunked"]
    assert ("Content-Length", "0") in map(tuple, empty["headers"])


async def test_bad_bodies_and_headers_fail_before_sending(raw_server: StartRaw) -> None:
    """Invalid headers raise LocalProtocolError and nothing reaches the server."""
    server = await raw_server(lambda r, n: response())
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(server.url, headers={"X-Bad": "a\r\nInjected: 1"})
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(server.url, headers={"Bad Name": "1"})
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.request("GE T", server.url)
        with pytest.raises(TypeError):
            await client.post(server.url, content=12)
        with pytest.raises(TypeError):
            await client.post(server.url, content=b"a", json={})
    with pytest.raises(hyperhttp.LocalProtocolError):  # the client's own fields, at once
        hyperhttp.Client(headers={"X-Bad": "a\r\nInjected: 1"})
    assert server.received == []


async def test_streaming_response(web_server: WebServer) -> None:
    """stream(): the body arrives piece by piece through aiter_bytes / aiter_raw."""
    async with hyperhttp.Client() as client:
        async with client.stream("GET", f"{web_server.url}/slow?chunks=4&delay=0.01") as r:
            with pytest.raises(hyperhttp.ResponseNotRead):
                _ = r.content
            pieces = [piece async for piece in r.aiter_raw()]
        assert b"".join(pieces) == b"chunk0;chunk1;chunk2;chunk3;"
        assert len(pieces) >= 2
        async with client.stream("GET", f"{web_server.url}/size/10") as r:
            assert await r.aread() == b"x" * 10
        assert client.pool_stats().idle == 1


async def test_backpressure_keeps_memory_flat(web_server: WebServer) -> None:
    """A 256 MiB body read slowly: the transport pauses, buffered bytes stay bounded."""
    from hyperhttp._http11 import HIGH_WATER

    total = 256 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = 0
    received = 0
    url = f"{web_server.url}/big?bytes={total}"
    async with (
        hyperhttp.Client(timeout=hyperhttp.Timeout(30.0)) as client,
        client.stream("GET", url) as r,
    ):
        exchange = r._source.exchange  # type: ignore[union-attr]
        async for chunk in r.aiter_raw():
            received += len(chunk)
            peak = max(peak, exchange.buffered)
            if received % (8 * 1024 * 1024) < len(chunk):
                await asyncio.sleep(0.005)  # a slow consumer
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert received == total
    assert peak <= HIGH_WATER + 1024 * 1024
    assert grown_kib < 128 * 1024, f"RSS grew {grown_kib} KiB"


# ------------------------------------------------------------------ decoding


CODINGS = ["gzip", "x-gzip", "deflate", "rawdeflate", "br", "zstd", "gzip-multi", "stacked"]


@pytest.mark.parametrize("coding", CODINGS)
async def test_decoding(coding: str, web_server: WebServer) -> None:
    """Each coding decodes (stacked ones in reverse order); aiter_raw gives the raw bytes."""
    expected = b"hello, world! " * 1000
    async with hyperhttp.Client() as client:
        assert (await client.get(f"{web_server.url}/encoded/{coding}")).content == expected
        async with client.stream("GET", f"{web_server.url}/encoded/{coding}") as r:
            assert b"".join([c async for c in r.aiter_bytes()]) == expected
        async with client.stream("GET", f"{web_server.url}/encoded/{coding}") as r:
            raw = b"".join([c async for c in r.aiter_raw()])
            assert raw != expected


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(b"a" * 1000, mtime=0)[:-10],
        b"\x1f\x8bnot gzip at all",
        gzip.compress(b"x", mtime=0) + b"garbage",
    ],
)
async def test_corrupt_or_truncated_bodies_raise_decoding_error(
    body: bytes, raw_server: StartRaw
) -> None:
    """Corrupt, truncated or trailing-garbage gzip: DecodingError."""
    server = await raw_server(lambda r, n: response(body=body, headers=["Content-Encoding: gzip"]))
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.DecodingError):
            await client.get(server.url)


async def test_decompression_bomb_is_bounded(raw_server: StartRaw) -> None:
    """100 MiB of zeros gzipped: decoded pieces are bounded; max_decompressed_size stops it."""
    bomb = gzip.compress(b"\x00" * (100 * 1024 * 1024), compresslevel=9)
    server = await raw_server(lambda r, n: response(body=bomb, headers=["Content-Encoding: gzip"]))
    async with hyperhttp.Client(max_decompressed_size=10 * 1024 * 1024) as client:
        sizes: list[int] = []

        async def consume() -> None:
            async with client.stream("GET", server.url) as r:
                async for piece in r.aiter_bytes():
                    sizes.append(len(piece))

        with pytest.raises(hyperhttp.ResponseTooLarge):
            await consume()
        assert max(sizes) <= 64 * 1024
        with pytest.raises(hyperhttp.ResponseTooLarge):
            await client.get(server.url)


# ------------------------------------------------------------------ TLS


async def test_tls_with_a_ca_file(tls: TLSSetup, tls_server: WebServer) -> None:
    """verify=<CA file>: the handshake verifies; ALPN offered http/1.1 only."""
    async with hyperhttp.Client(verify=tls.ca_path) as client:
        r = await client.get(f"{tls_server.url}/size/3")
        assert r.content == b"xxx"
        transport = tls_server.requests[-1].transport
        assert transport is not None
        ssl_object = transport.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() in (None, "http/1.1")


async def test_tls_default_verification_rejects_an_unknown_ca(tls_server: WebServer) -> None:
    """With certifi's roots, a private CA's certificate is rejected: ConnectError."""
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.ConnectError, match="certificate"):
            await client.get(tls_server.url + "/size/1")


async def test_tls_verify_false_and_own_context(tls: TLSSetup, tls_server: WebServer) -> None:
    """verify=False: no verification, one warning at construction; a context is used as given."""
    with pytest.warns(hyperhttp.InsecureRequestWarning, match="verify=False") as warned:
        client = hyperhttp.Client(verify=False)
    assert len(warned) == 1
    async with client:
        assert (await client.get(f"{tls_server.url}/size/1")).content == b"x"
        assert (await client.get(f"{tls_server.url}/size/1")).content == b"x"  # no more warnings
    context = ssl.create_default_context(cafile=tls.ca_path)
    async with hyperhttp.Client(verify=context) as client:
        assert (await client.get(f"{tls_server.url}/size/1")).content == b"x"


async def test_tls_sends_sni_for_names(tls: TLSSetup) -> None:
    """SNI carries the host name (localhost here)."""
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("localhost").configure_cert(context)
    context.sni_callback = lambda sock, name, ctx: names.append(name)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response(body=b"sni"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    resolver = hyperhttp_dns.Resolver(OneName("tls.test"))
    try:
        async with hyperhttp.Client(verify=tls.ca_path, resolver=resolver) as client:
            with pytest.raises(hyperhttp.ConnectError):  # certificate is for localhost
                await client.get(f"https://tls.test:{port}/")
        assert names == ["tls.test"]
    finally:
        await resolver.aclose()
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------------ timeouts


async def test_read_timeout(web_server: WebServer) -> None:
    """No response within the read timeout: ReadTimeout (a TimeoutError)."""
    async with hyperhttp.Client(timeout=hyperhttp.Timeout(read=0.1)) as client:
        with pytest.raises(hyperhttp.ReadTimeout) as info:
            await client.get(f"{web_server.url}/sleep/2")
        assert isinstance(info.value, TimeoutError)
        # per-request override
        r = await client.get(f"{web_server.url}/sleep/0.2", timeout=hyperhttp.Timeout(read=5))
        assert r.text == "slept"


async def test_shorter_read_timeout_on_a_reused_connection(web_server: WebServer) -> None:
    """The connection's timer, armed for a long timeout, is pulled in for a short one."""
    loop = asyncio.get_running_loop()
    async with hyperhttp.Client(timeout=hyperhttp.Timeout(read=30)) as client:
        assert (await client.get(f"{web_server.url}/size/3")).content == b"xxx"
        started = loop.time()
        with pytest.raises(hyperhttp.ReadTimeout):
            await client.get(f"{web_server.url}/sleep/20", timeout=hyperhttp.Timeout(read=0.1))
        assert loop.time() - started < 10  # the 0.1 s deadline, not the armed 30 s one
        assert client.pool_stats().connections == 0  # the timed-out connection is gone
        assert (await client.get(f"{web_server.url}/size/3")).content == b"xxx"


async def test_read_timeout_counts_from_the_last_data(web_server: WebServer) -> None:
    """Data at intervals shorter than the timeout keeps a long body alive; silence ends it."""
    timeout = hyperhttp.Timeout(read=0.5)
    async with hyperhttp.Client(timeout=timeout) as client:
        r = await client.get(f"{web_server.url}/slow?chunks=8&delay=0.1")  # 0.8 s in all
        assert r.content.count(b";") == 8
        async with client.stream("GET", f"{web_server.url}/slow?chunks=2&delay=3") as r:
            pieces = r.aiter_raw()
            assert (await anext(pieces)).startswith(b"chunk0;")
            with pytest.raises(hyperhttp.ReadTimeout):
                await anext(pieces)


async def test_a_paused_slow_consumer_is_not_a_read_timeout(web_server: WebServer) -> None:
    """Time the client itself paused reading (backpressure) does not count as silence."""
    total = 4 * 1024 * 1024
    async with (
        hyperhttp.Client(timeout=hyperhttp.Timeout(read=0.1)) as client,
        client.stream("GET", f"{web_server.url}/big?bytes={total}") as r,
    ):
        received = 0
        slept = False
        async for chunk in r.aiter_raw():
            received += len(chunk)
            if not slept:
                await asyncio.sleep(0.4)  # the buffer fills, the transport pauses
                slept = True
                assert r._source.exchange.paused  # type: ignore[union-attr]
    assert received == total


async def test_per_request_connect_timeout() -> None:
    """A per-request connect timeout applies to the connection that request opens."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    loop = asyncio.get_running_loop()
    try:
        async with hyperhttp.Client(timeout=hyperhttp.Timeout(connect=30)) as client:
            started = loop.time()
            short = hyperhttp.Timeout(connect=0.2)
            with pytest.raises(hyperhttp.ConnectTimeout):
                await client.get(f"http://127.0.0.1:{port}/", timeout=short)
            assert loop.time() - started < 10  # the request's 0.2 s, not the client's 30 s
    finally:
        filler.close()
        listener.close()


async def test_connect_timeout() -> None:
    """A listener that never answers (full accept queue): ConnectTimeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        async with hyperhttp.Client(timeout=hyperhttp.Timeout(connect=0.2)) as client:
            with pytest.raises(hyperhttp.ConnectTimeout):
                await client.get(f"http://127.0.0.1:{port}/")
    finally:
        filler.close()
        listener.close()


async def test_connect_refused_is_connect_error() -> None:
    """Nothing listening: ConnectError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_pool_timeout(web_server: WebServer) -> None:
    """The only connection is busy: PoolTimeout after the pool timeout."""
    limits = hyperhttp.Limits(max_connections=1)
    timeout = hyperhttp.Timeout(pool=0.1)
    async with (
        hyperhttp.Client(limits=limits, timeout=timeout) as client,
        client.stream("GET", f"{web_server.url}/size/10"),
    ):
        with pytest.raises(hyperhttp.PoolTimeout):
            await client.get(f"{web_server.url}/size/10")


async def test_total_timeout(web_server: WebServer) -> None:
    """Total bounds the whole request."""
    timeout = hyperhttp.Timeout(read=10, total=0.2)
    async with hyperhttp.Client(timeout=timeout) as client:
        with pytest.raises(hyperhttp.TimeoutException):
            await client.get(f"{web_server.url}/sleep/2")


async def test_write_timeout() -> None:
    """A server that never reads: sending a big body runs into WriteTimeout."""
    accepted: list[asyncio.StreamWriter] = []
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await release.wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def endless() -> AsyncIterator[bytes]:
        block = b"w" * 65536
        for _ in range(4096):  # 256 MiB at most
            yield block

    try:
        async with hyperhttp.Client(timeout=hyperhttp.Timeout(write=0.2)) as client:
            with pytest.raises(hyperhttp.WriteTimeout):
                await client.post(f"http://127.0.0.1:{port}/", content=endless())
    finally:
        release.set()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
