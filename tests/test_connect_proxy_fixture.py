"""The test forward proxy (tests/servers/connect_proxy.py), driven by raw asyncio clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
from typing import TYPE_CHECKING

import hyperhttp_parser as hp
import pytest

from tests.servers.connect_proxy import ConnectProxy, Forwarded

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.fixtures import TLSSetup, WebServer

pytestmark = pytest.mark.asyncio

TIMEOUT = 10.0

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


# ------------------------------------------------------------------ helpers


@contextlib.asynccontextmanager
async def _connect(proxy: ConnectProxy) -> AsyncIterator[Connection]:
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def _echo_server(*, close_after: bytes | None = None) -> AsyncIterator[int]:
    """Serve TCP echo on 127.0.0.1; with ``close_after``, close on seeing those bytes."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if close_after is not None and close_after in data:
                    break
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _request(method: str, target: str, *fields: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(
    reader: asyncio.StreamReader, method: bytes = b"GET"
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Read one response with the workspace's parser: status, fields (last wins), body."""
    parser = hp.ResponseParser()
    parser.start(method)
    status = 0
    fields: dict[bytes, bytes] = {}
    body = bytearray()
    while True:
        data = await reader.read(65536)
        for event in parser.feed(data) if data else parser.feed_eof():
            if isinstance(event, hp.ResponseHead):
                status, fields = event.status_code, dict(event.headers)
            elif isinstance(event, hp.Data):
                body += event.data
            elif isinstance(event, hp.EndOfMessage):
                assert not parser.trailing_data
                return status, fields, bytes(body)
        if not data:
            raise AssertionError("the connection closed before the response ended")


async def _tunnel(
    proxy: ConnectProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
) -> None:
    writer.write(_request("CONNECT", f"127.0.0.1:{port}", f"Host: 127.0.0.1:{port}"))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head == b"HTTP/1.1 200 Connection established\r\n\r\n"


def _free_port() -> int:
    """Return a loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------ lifecycle


async def test_urls() -> None:
    """The url names the listening port; url_with_auth adds percent-encoded credentials."""
    async with ConnectProxy() as proxy:
        assert proxy.url == f"http://127.0.0.1:{proxy.port}"
        assert proxy.url_with_auth == proxy.url
        assert proxy.port > 0
    async with ConnectProxy(auth=("us er", "p@ss")) as proxy:
        assert proxy.url_with_auth == f"http://us%20er:p%40ss@127.0.0.1:{proxy.port}"


async def test_listens_on_ipv6_loopback() -> None:
    """host="::1" listens there and brackets the address in url."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        proxy = await ConnectProxy(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert proxy.url == f"http://[::1]:{proxy.port}"
        async with asyncio.timeout(TIMEOUT), _connect(proxy) as (reader, writer):
            writer.write(_request("CONNECT", "example.com:443"))
            status, _, _ = await _response(reader, b"CONNECT")
            assert status == 403
    finally:
        await proxy.aclose()


async def test_rejects_non_loopback_listen_address() -> None:
    """The proxy only listens on loopback."""
    with pytest.raises(ValueError, match="loopback"):
        ConnectProxy(host="0.0.0.0")  # noqa: S104 - the point of the test


async def test_closing_ends_open_tunnels() -> None:
    """Leaving ``async with`` aborts live tunnels: the client sees the end, nothing leaks."""
    async with asyncio.timeout(TIMEOUT), _echo_server() as port:
        async with ConnectProxy() as proxy:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            await _tunnel(proxy, reader, writer, port)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
        with contextlib.suppress(OSError):
            assert await reader.read() == b""
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# ------------------------------------------------------------------ CONNECT


async def test_tunnel_pipes_bytes_both_ways() -> None:
    """CONNECT answers 200 Connection established, then bytes flow both ways."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy() as proxy,
        _connect(proxy) as (reader, writer),
    ):
        await _tunnel(proxy, reader, writer, port)
        for message in (b"hello", b"x" * 200_000, b"bye"):
            writer.write(message)
            assert await reader.readexactly(len(message)) == message
        assert proxy.tunnels == [("127.0.0.1", port)]
        assert proxy.requests[0].method == "CONNECT"
        assert proxy.requests[0].target == f"127.0.0.1:{port}"


async def test_bytes_sent_with_the_connect_head_reach_the_target() -> None:
    """Bytes the client sends right behind the CONNECT head go through the tunnel."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy() as proxy,
        _connect(proxy) as (reader, writer),
    ):
        writer.write(_request("CONNECT", f"127.0.0.1:{port}") + b"early")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
        assert await reader.readexactly(5) == b"early"


async def test_tunnel_carries_http_to_an_aiohttp_server(web_server: WebServer) -> None:
    """A plain HTTP/1.1 exchange through the tunnel reaches the origin untouched."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        await _tunnel(proxy, reader, writer, web_server.port)
        writer.write(_request("GET", "/echo", "Host: 127.0.0.1", "Proxy-Authorization: kept"))
        status, _, body = await _response(reader)
        assert status == 200
        echoed = json.loads(body)
        assert echoed["path"] == "/echo"
        assert ["Proxy-Authorization", "kept"] in echoed["headers"]  # a tunnel is opaque
        assert proxy.forwarded == []


async def test_tunnel_carries_tls(tls: TLSSetup, tls_server: WebServer) -> None:
    """TLS started inside the tunnel is end to end with the origin."""
    context = ssl.create_default_context(cafile=tls.ca_path)
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        await _tunnel(proxy, reader, writer, tls_server.port)
        await writer.start_tls(context, server_hostname="127.0.0.1")
        writer.write(_request("GET", "/echo", "Host: 127.0.0.1", "Connection: close"))
        status, _, body = await _response(reader)
        assert status == 200
        assert json.loads(body)["path"] == "/echo"
        assert proxy.tunnels == [("127.0.0.1", tls_server.port)]


async def test_half_close_passes_through() -> None:
    """A client that shuts down its sending side still gets the answer, then the end."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy() as proxy,
        _connect(proxy) as (reader, writer),
    ):
        await _tunnel(proxy, reader, writer, port)
        writer.write(b"last words")
        writer.write_eof()
        assert await reader.read() == b"last words"  # echoed, then EOF


async def test_target_closing_ends_the_tunnel() -> None:
    """When the target closes, the client reads everything it sent, then EOF."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server(close_after=b"!") as port,
        ConnectProxy() as proxy,
        _connect(proxy) as (reader, writer),
    ):
        await _tunnel(proxy, reader, writer, port)
        writer.write(b"quit!")
        assert await reader.read() == b"quit!"


async def test_tunnels_are_counted_in_order() -> None:
    """Each tunnel is recorded as (host, port) in the order opened; connections counted."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as first,
        _echo_server() as second,
        ConnectProxy() as proxy,
    ):
        for port in (first, second, first):
            async with _connect(proxy) as (reader, writer):
                await _tunnel(proxy, reader, writer, port)
                writer.write(b"x")
                assert await reader.readexactly(1) == b"x"
        assert proxy.tunnels == [("127.0.0.1", first), ("127.0.0.1", second), ("127.0.0.1", first)]
        assert proxy.connections == 3


async def test_localhost_target(web_server: WebServer) -> None:
    """The name localhost is an allowed target, recorded in lower case."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("CONNECT", f"LOCALHOST:{web_server.port}"))
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 502"):
            pytest.skip("localhost does not resolve to the server's address here")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert proxy.tunnels == [("localhost", web_server.port)]


@pytest.mark.parametrize(
    "target", ["example.com:443", "10.0.0.1:80", "[2001:db8::1]:443", "127.0.0.2:80"]
)
async def test_targets_off_loopback_get_403(target: str) -> None:
    """Only 127.0.0.1, ::1 and localhost may be reached; the connection stays usable."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        for _ in range(2):
            writer.write(_request("CONNECT", target))
            status, _, body = await _response(reader, b"CONNECT")
            assert status == 403
            assert b"loopback" in body
        assert proxy.tunnels == []


@pytest.mark.parametrize("target", ["127.0.0.1", "127.0.0.1:", "127.0.0.1:0", ":80", "::1:80"])
async def test_malformed_connect_target_gets_400(target: str) -> None:
    """CONNECT needs host:port (IPv6 bracketed); anything else is a 400 and a close."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("CONNECT", target))
        status, fields, _ = await _response(reader, b"CONNECT")
        assert status == 400
        assert fields[b"connection"] == b"close"
        assert await reader.read() == b""


async def test_unreachable_target_gets_502() -> None:
    """A target that refuses the connection is a 502, and no tunnel is counted."""
    port = _free_port()
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("CONNECT", f"127.0.0.1:{port}"))
        status, _, _ = await _response(reader, b"CONNECT")
        assert status == 502
        assert proxy.tunnels == []


async def test_refuse_status() -> None:
    """refuse_status answers every CONNECT with that status and a Content-Length body."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy(refuse_status=503) as proxy,
        _connect(proxy) as (reader, writer),
    ):
        writer.write(_request("CONNECT", f"127.0.0.1:{port}"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert length > 0
        assert await reader.readexactly(length) == b"refused by the test proxy\n"
        assert proxy.tunnels == []


async def test_refuse_status_is_validated() -> None:
    """refuse_status must be an HTTP status code."""
    with pytest.raises(ValueError, match="refuse_status"):
        ConnectProxy(refuse_status=1000)


# ------------------------------------------------------------------ authentication


async def test_connect_without_credentials_gets_407_then_succeeds_with_them() -> None:
    """407 with a Basic challenge; the same connection then tunnels with credentials."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy(auth=("user", "pass")) as proxy,
        _connect(proxy) as (reader, writer),
    ):
        writer.write(_request("CONNECT", f"127.0.0.1:{port}"))
        status, fields, _ = await _response(reader, b"CONNECT")
        assert status == 407
        assert fields[b"proxy-authenticate"] == b'Basic realm="test"'
        assert proxy.tunnels == []
        writer.write(
            _request(
                "CONNECT", f"127.0.0.1:{port}", f"Proxy-Authorization: {_basic('user', 'pass')}"
            )
        )
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
        writer.write(b"in")
        assert await reader.readexactly(2) == b"in"
        assert proxy.tunnels == [("127.0.0.1", port)]
        assert proxy.connections == 1


@pytest.mark.parametrize(
    "credentials",
    [
        _basic("user", "wrong"),
        _basic("USER", "pass"),
        "Bearer dXNlcjpwYXNz",
        "Basic not-base64!",
        "Basic",
    ],
)
async def test_wrong_credentials_get_407(credentials: str) -> None:
    """Anything but the right Basic credentials is refused."""
    async with (
        asyncio.timeout(TIMEOUT),
        ConnectProxy(auth=("user", "pass")) as proxy,
        _connect(proxy) as (reader, writer),
    ):
        writer.write(_request("CONNECT", "127.0.0.1:1", f"Proxy-Authorization: {credentials}"))
        status, _, _ = await _response(reader, b"CONNECT")
        assert status == 407


async def test_forwarded_request_without_credentials_gets_407(web_server: WebServer) -> None:
    """Absolute-form requests need credentials too; its body is read, the connection kept."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy(auth=("user", "pass")) as proxy:
        async with _connect(proxy) as (reader, writer):
            url = f"{web_server.url}/echo"
            writer.write(_request("POST", url, "Content-Length: 3", body=b"abc"))
            status, fields, _ = await _response(reader)
            assert status == 407
            assert fields[b"proxy-authenticate"] == b'Basic realm="test"'
            writer.write(_request("GET", url, f"Proxy-Authorization: {_basic('user', 'pass')}"))
            status, _, _ = await _response(reader)
            assert status == 200
        assert [f.method for f in proxy.forwarded] == ["GET"]
        assert len(web_server.requests) == 1


async def test_non_ascii_credentials() -> None:
    """Credentials compare as UTF-8 bytes."""
    async with (
        asyncio.timeout(TIMEOUT),
        _echo_server() as port,
        ConnectProxy(auth=("usér", "päss")) as proxy,
        _connect(proxy) as (reader, writer),
    ):
        token = base64.b64encode("usér:päss".encode()).decode()
        writer.write(
            _request("CONNECT", f"127.0.0.1:{port}", f"Proxy-Authorization: basic {token}")
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")


# ------------------------------------------------------------------ absolute-form


async def test_get_is_forwarded_without_proxy_fields(web_server: WebServer) -> None:
    """Origin-form upstream; Proxy-Authorization and Proxy-Connection dropped; close added."""
    async with (
        asyncio.timeout(TIMEOUT),
        ConnectProxy(auth=("user", "pass")) as proxy,
        _connect(proxy) as (reader, writer),
    ):
        url = f"{web_server.url}/echo/a%20b?x=1&y=2"
        writer.write(
            _request(
                "GET",
                url,
                f"Host: 127.0.0.1:{web_server.port}",
                f"Proxy-Authorization: {_basic('user', 'pass')}",
                "Proxy-Connection: keep-alive",
                "Connection: keep-alive, X-Hop",
                "X-Hop: dropped",
                "X-Kept: yes",
            )
        )
        status, fields, body = await _response(reader)
        assert status == 200
        assert b"connection" not in fields  # keep-alive towards the client
        echoed = json.loads(body)
        assert echoed["raw_path"] == "/echo/a%20b?x=1&y=2"
        names = [name.lower() for name, _ in echoed["headers"]]
        assert "proxy-authorization" not in names
        assert "proxy-connection" not in names
        assert "x-hop" not in names
        assert ["X-Kept", "yes"] in echoed["headers"]
        assert ["Connection", "close"] in echoed["headers"]
        assert proxy.forwarded == [
            Forwarded(
                "GET",
                url,
                [
                    ("Host", f"127.0.0.1:{web_server.port}"),
                    ("X-Kept", "yes"),
                    ("Connection", "close"),
                ],
            )
        ]
        method, forwarded_url, _ = proxy.forwarded[0]  # a plain 3-tuple too
        assert (method, forwarded_url) == ("GET", url)
        assert ("Proxy-Authorization", _basic("user", "pass")) in proxy.requests[0].headers


async def test_host_comes_from_the_url(web_server: WebServer) -> None:
    """Upstream Host is the target URL's authority, whatever the client said (RFC 9112 §3.2.2)."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("GET", f"{web_server.url}/echo", "Host: elsewhere.test"))
        _, _, body = await _response(reader)
        hosts = [v for n, v in json.loads(body)["headers"] if n.lower() == "host"]
        assert hosts == [f"127.0.0.1:{web_server.port}"]


async def test_client_connection_is_kept_alive(web_server: WebServer) -> None:
    """Several requests share one client connection; each gets a fresh upstream one."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        for n in (0, 10, 100_000):
            writer.write(_request("GET", f"{web_server.url}/size/{n}"))
            status, fields, body = await _response(reader)
            assert status == 200
            assert fields[b"content-length"] == b"%d" % n
            assert body == b"x" * n
        assert proxy.connections == 1
        assert len(web_server.connections) == 3
        assert [f.url for f in proxy.forwarded] == [
            f"{web_server.url}/size/{n}" for n in (0, 10, 100_000)
        ]


async def test_chunked_response_is_streamed_and_the_connection_kept(
    web_server: WebServer,
) -> None:
    """A chunked origin response reaches the client chunked, and the connection survives."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("GET", f"{web_server.url}/slow?chunks=3&delay=0.01"))
        status, fields, body = await _response(reader)
        assert status == 200
        assert fields[b"transfer-encoding"] == b"chunked"
        assert body == b"chunk0;chunk1;chunk2;"
        writer.write(_request("GET", f"{web_server.url}/size/5"))
        assert (await _response(reader))[2] == b"xxxxx"
        assert proxy.connections == 1


async def test_close_delimited_response_is_rechunked() -> None:
    """An origin body that runs to the close reaches an HTTP/1.1 client chunked."""

    async def origin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        writer.close()

    server = await asyncio.start_server(origin, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
            reader, writer = conn
            writer.write(_request("GET", f"http://127.0.0.1:{port}/"))
            status, fields, body = await _response(reader)
            assert (status, body) == (200, b"until the end")
            assert fields[b"transfer-encoding"] == b"chunked"
            assert b"connection" not in fields
    finally:
        server.close()
        await server.wait_closed()


async def test_post_body_is_forwarded(web_server: WebServer) -> None:
    """A Content-Length body reaches the origin."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("POST", f"{web_server.url}/echo", "Content-Length: 5", body=b"hello"))
        _, _, body = await _response(reader)
        assert json.loads(body)["body"] == "hello"


async def test_chunked_request_body_is_forwarded_with_a_length(web_server: WebServer) -> None:
    """A chunked request body is de-chunked and sent upstream with a Content-Length."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        chunked = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        writer.write(
            _request("PUT", f"{web_server.url}/echo", "Transfer-Encoding: chunked", body=chunked)
        )
        _, _, body = await _response(reader)
        echoed = json.loads(body)
        assert echoed["body"] == "abcde"
        assert ["Content-Length", "5"] in echoed["headers"]
        assert echoed["chunked"] is False


async def test_expect_100_continue(web_server: WebServer) -> None:
    """The proxy answers Expect: 100-continue itself before reading the body."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(
            _request("POST", f"{web_server.url}/echo", "Content-Length: 2", "Expect: 100-continue")
        )
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"ok")
        _, _, body = await _response(reader)
        echoed = json.loads(body)
        assert echoed["body"] == "ok"
        assert "expect" not in [name.lower() for name, _ in echoed["headers"]]


async def test_head_request(web_server: WebServer) -> None:
    """HEAD: the origin's Content-Length comes back, no body, and the connection goes on."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("HEAD", f"{web_server.url}/size/7"))
        status, fields, body = await _response(reader, b"HEAD")
        assert (status, fields[b"content-length"], body) == (200, b"7", b"")
        writer.write(_request("GET", f"{web_server.url}/size/7"))
        assert (await _response(reader))[2] == b"x" * 7


async def test_connection_close_from_the_client_is_honoured(web_server: WebServer) -> None:
    """Connection: close from the client: the proxy says close and closes after the response."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("GET", f"{web_server.url}/size/3", "Connection: close"))
        status, fields, body = await _response(reader)
        assert (status, fields[b"connection"], body) == (200, b"close", b"xxx")
        assert await reader.read() == b""


async def test_http10_client_gets_the_body_until_close(web_server: WebServer) -> None:
    """An HTTP/1.0 client cannot take chunked: the body runs to the close."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(f"GET {web_server.url}/slow?chunks=2&delay=0 HTTP/1.0\r\n\r\n".encode())
        data = await reader.read()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" in head.lower()
        assert b"transfer-encoding" not in head.lower()
        assert body == b"chunk0;chunk1;"


async def test_unreachable_origin_gets_502() -> None:
    """A forwarded request to a closed port is a 502 from the proxy."""
    port = _free_port()
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("GET", f"http://127.0.0.1:{port}/"))
        status, _, _ = await _response(reader)
        assert status == 502


async def test_forward_off_loopback_gets_403() -> None:
    """Absolute-form requests off loopback are refused like tunnels are."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(_request("GET", "http://example.com/", "Host: example.com"))
        status, _, _ = await _response(reader)
        assert status == 403
        assert proxy.forwarded == []


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/2.0\r\n\r\n", 400),
        (b"GET  http://127.0.0.1/ HTTP/1.1\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nX: a\nY: b\r\n\r\n", 400),
        (b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400),
        (
            (
                b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: 1\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            ),
            400,
        ),
        (b"POST http://127.0.0.1/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ],
)
async def test_bad_requests_are_answered_and_closed(request_bytes: bytes, status: int) -> None:
    """Malformed, ambiguous or oversized requests get an error status and a close."""
    async with asyncio.timeout(TIMEOUT), ConnectProxy() as proxy, _connect(proxy) as conn:
        reader, writer = conn
        writer.write(request_bytes)
        got, fields, _ = await _response(reader)
        assert got == status
        assert fields[b"connection"] == b"close"
        assert await reader.read() == b""
        assert proxy.forwarded == []
