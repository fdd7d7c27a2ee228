"""Real peers on loopback for the client tests.

- ``web``: an aiohttp server with endpoints that echo what they received,
  serve sizes and encodings, stream slowly, sleep, and count connections;
- ``raw_server``: a scripted server answering each request with exact bytes
  (for malformed responses and connection tricks);
- ``tls``: a trustme CA and an HTTPS variant of ``web``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class WebServer:
    """The aiohttp test server: its base URL and what it saw."""

    url: str
    port: int
    connections: set[int] = field(default_factory=set)
    requests: list[web.Request] = field(default_factory=list)


def _make_app(server: WebServer) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "query": list(request.query.items()),
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": body.decode("latin-1"),
                "chunked": request.headers.get("Transfer-Encoding") == "chunked",
            }
        )

    async def size(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(body=b"x" * n)

    async def encoded(request: web.Request) -> web.Response:
        coding = request.match_info["coding"]
        data = b"hello, world! " * 1000
        if coding in ("gzip", "x-gzip"):
            body = gzip.compress(data)
        elif coding == "deflate":
            body = zlib.compress(data)
        elif coding == "rawdeflate":
            compressor = zlib.compressobj(wbits=-15)
            body = compressor.compress(data) + compressor.flush()
            coding = "deflate"
        elif coding == "br":
            import brotli

            body = brotli.compress(data)
        elif coding == "zstd":
            import zstandard

            body = zstandard.ZstdCompressor().compress(data)
        elif coding == "gzip-multi":
            body = gzip.compress(data[:7000]) + gzip.compress(data[7000:])
            coding = "gzip"
        elif coding == "stacked":  # deflate applied first, then gzip
            body = gzip.compress(zlib.compress(data))
            coding = "deflate, gzip"
        else:
            raise web.HTTPNotFound()
        return web.Response(body=body, headers={"Content-Encoding": coding})

    async def slow_stream(request: web.Request) -> web.StreamResponse:
        chunks = int(request.query.get("chunks", "5"))
        delay = float(request.query.get("delay", "0.01"))
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(chunks):
            await response.write(b"chunk%d;" % i)
            await asyncio.sleep(delay)
        await response.write_eof()
        return response

    async def big_stream(request: web.Request) -> web.StreamResponse:
        total = int(request.query["bytes"])
        response = web.StreamResponse()
        response.content_length = total
        await response.prepare(request)
        block = b"b" * 65536
        sent = 0
        while sent < total:
            piece = block[: min(len(block), total - sent)]
            await response.write(piece)
            sent += len(piece)
        await response.write_eof()
        return response

    async def sleep(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.match_info["seconds"]))
        return web.Response(text="slept")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        return web.Response(status=code, text=f"status {code}", headers=headers)

    async def connection(request: web.Request) -> web.Response:
        transport = request.transport
        ident = id(transport)
        return web.Response(text=str(ident))

    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:  # the client's port tells connections apart
            server.connections.add(transport.get_extra_info("peername")[1])
        server.requests.append(request)
        return await handler(request)

    app = web.Application(middlewares=[count])
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/size/{n}", size)
    app.router.add_get("/encoded/{coding}", encoded)
    app.router.add_get("/slow", slow_stream)
    app.router.add_get("/big", big_stream)
    app.router.add_get("/sleep/{seconds}", sleep)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/connection", connection)
    return app


async def _serve(ssl_context: ssl.SSLContext | None) -> AsyncIterator[WebServer]:
    server = WebServer("", 0)
    # handler_cancellation: a client that gave up (timeouts) cancels its handler.
    runner = web.AppRunner(
        _make_app(server), access_log=None, shutdown_timeout=0.1, handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    server.port = runner.addresses[0][1]
    scheme = "https" if ssl_context is not None else "http"
    server.url = f"{scheme}://127.0.0.1:{server.port}"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def web_server() -> AsyncIterator[WebServer]:
    """Serve the aiohttp test app on http://127.0.0.1:<port>."""
    async for server in _serve(None):
        yield server


@dataclass
class TLSSetup:
    """A trustme CA, the CA file path for ``verify=``, and the server's context."""

    ca_path: str
    server_context: ssl.SSLContext
    ca: Any

    def cert_files(self, folder: Path) -> tuple[Path, Path]:
        """Issue a certificate for localhost and 127.0.0.1, written into ``folder``.

        Return the paths of its chain and its key (cert.pem, key.pem), for a
        server that reads them from files (nginx).
        """
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSSetup:
    """Make a private CA with a certificate for localhost, 127.0.0.1 and ::1."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return TLSSetup(str(path), server_context, ca)


@pytest_asyncio.fixture
async def tls_server(tls: TLSSetup) -> AsyncIterator[WebServer]:
    """Serve the aiohttp test app over TLS (certificate from the ``tls`` CA)."""
    async for server in _serve(tls.server_context):
        yield server


# ------------------------------------------------------------------ raw server


Script = Callable[[bytes, int], "bytes | Awaitable[bytes | None] | None"]


@dataclass
class RawServer:
    """A loopback server answering each request head with scripted bytes.

    ``respond(request_bytes, connection_number)`` returns the bytes to send
    (then the connection stays open), or None to close the connection.
    """

    url: str = ""
    port: int = 0
    connections: int = 0
    received: list[bytes] = field(default_factory=list)
    close_after: bool = False
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


async def _raw(respond: Script, state: RawServer) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        number = state.connections
        state.writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                chunked = False
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    if name.strip().lower() == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                body = b""
                if chunked:
                    while True:
                        size_line = await reader.readuntil(b"\r\n")
                        size = int(size_line.split(b";")[0], 16)
                        body += await reader.readexactly(size + 2)
                        if size == 0:
                            break
                elif length:
                    body = await reader.readexactly(length)
                state.received.append(head + body)
                answer = respond(head + body, number)
                if asyncio.iscoroutine(answer) or isinstance(answer, Awaitable):
                    answer = await answer
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
                if state.close_after:
                    return
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest_asyncio.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[RawServer]]]:
    """Provide a starter of scripted servers: await it with a respond function."""
    servers: list[tuple[asyncio.Server, RawServer]] = []

    async def start(respond: Script) -> RawServer:
        state = RawServer()
        server = await _raw(respond, state)
        state.port = server.sockets[0].getsockname()[1]
        state.url = f"http://127.0.0.1:{state.port}"
        servers.append((server, state))
        return state

    try:
        yield start
    finally:
        for server, state in servers:
            server.close()
            for writer in state.writers:
                writer.close()
            await server.wait_closed()


def response(status: int = 200, body: bytes = b"", headers: list[str] | None = None) -> bytes:
    """Build a well-formed response with a Content-Length."""
    lines = [f"HTTP/1.1 {status} X", *(headers or []), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def echo_json(data: bytes) -> dict[str, Any]:
    """Decode what the echo endpoint returned."""
    result: dict[str, Any] = json.loads(data)
    return result


# ------------------------------------------------------------------ HTTP/2: hypercorn


@dataclass
class H2Server:
    """A hypercorn server in its own process (tests/servers/h2_app.py)."""

    url: str
    port: int
    process: Any


def _start_h2_app(certfile: str) -> H2Server:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("h2_app.py")
    process = subprocess.Popen(
        [sys.executable, str(script), certfile],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.isdigit():
        process.kill()
        process.wait(10)
        raise RuntimeError(f"the hypercorn test server did not start: {line!r}")
    scheme = "http" if certfile == "-" else "https"
    return H2Server(f"{scheme}://127.0.0.1:{line}", int(line), process)


def _stop_h2_app(server: H2Server) -> None:
    process = server.process
    process.stdin.close()  # the server stops when its stdin closes
    try:
        process.wait(10)
    except Exception:
        process.kill()
        process.wait(10)
    process.stdout.close()


@pytest.fixture(scope="session")
def h2_server(tls: TLSSetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[H2Server]:
    """Hypercorn over TLS (ALPN h2, http/1.1) with a certificate from the ``tls`` CA."""
    cert = tls.ca.issue_cert("localhost", "127.0.0.1", "::1")
    path = tmp_path_factory.mktemp("h2") / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    server = _start_h2_app(str(path))
    try:
        yield server
    finally:
        _stop_h2_app(server)


@pytest.fixture(scope="session")
def h2c_server() -> Iterator[H2Server]:
    """Hypercorn over cleartext: HTTP/1.1, and HTTP/2 with prior knowledge."""
    server = _start_h2_app("-")
    try:
        yield server
    finally:
        _stop_h2_app(server)


# ---------------------------------------------------------------- "ok" peers

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def ok_http11_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """Serve OK to every request, keeping the connection; yield (url, heads and bodies seen).

    A request's Content-Length body is read with its head (and recorded with
    it), so a request sent whole never looks like the start of the next one.
    """
    heads: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            for _ in range(100):
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                if b"content-length: " in lower:
                    size = int(lower.split(b"content-length: ")[1].split(b"\r\n")[0])
                    head += await reader.readexactly(size)
                heads.append(head)
                writer.write(OK)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heads
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest_asyncio.fixture
async def h2_peer() -> AsyncIterator[ScriptedH2Server]:
    """Provide a scripted h2c peer answering 200 "ok" to every stream (it records what it got)."""

    def answer(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, 200, b"ok")

    server = await ScriptedH2Server(answer).start()
    try:
        yield server
    finally:
        await server.stop()


def pooled_connections(client: Any) -> list[Any]:
    """Return the connections a client's pool transport has opened and not yet dropped."""
    from hyperhttp._pool_transport import PoolTransport

    network = client._network
    assert isinstance(network, PoolTransport)
    return list(network._connections)
