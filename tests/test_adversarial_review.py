"""Adversarial review of issue 15's fixes: guards that held when we tried to break them.

Strategy
--------
A scripted HTTP/1.1 peer that frames requests strictly (Content-Length or
chunked) and answers each with the id the request carried (``X-Id``): a
response attributed to the wrong request, or a connection reused after an
exchange that did not complete, shows up as a wrong id or as the server
reading a head where it expected body bytes. Against it the client is
interrupted at every await point (cancellation after 0, 1, 2, ... loop
iterations), streamed responses are abandoned, hooks and auth flows raise,
and the server sends legal but unusual heads (HEAD with Content-Length, 1xx,
204/304 with Content-Length, ``Connection: close``, 101). Then bad bytes
are pushed at the wire through every public construction path, and error
messages and traces are searched for a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import hyperhttp
import pytest
import pytest_asyncio
from hyperhttp import URL, Headers, Request

pytestmark = pytest.mark.asyncio

PASSWORD = "hunter2-never-shown"  # noqa: S105 - a test value


# ------------------------------------------------------------ the peer


def _ok(rid: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(rid), rid)


Answer = Callable[[bytes, bytes, int], list[bytes] | None]


def _echo(head: bytes, rid: bytes, number: int) -> list[bytes] | None:
    """Answer with the request's id, head and body in two writes (a pause between)."""
    whole = _ok(rid)
    return [whole[:20], whole[20:]]


@dataclass
class IdServer:
    """Frames each request strictly and answers it through ``answer(head, id, n)``.

    ``answer`` returns the writes to make (a short pause between them) or
    None to close. ``garbage`` collects request lines that are not a method
    and target: what a desync would make the server read.
    """

    answer: Answer = _echo
    url: str = ""
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    garbage: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        number = self.connections
        self.writers.append(writer)
        try:
            for _ in range(1000):  # bounded: requests per connection
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0]
                method, _, rest = line.partition(b" ")
                if not method.isalpha() or not rest.endswith(b" HTTP/1.1"):
                    self.garbage.append(head)
                    return
                self.heads.append(head)
                fields = _fields(head)
                if "content-length" in fields:
                    await reader.readexactly(int(fields["content-length"]))
                elif fields.get("transfer-encoding") == "chunked":
                    for _ in range(100_000):
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                writes = self.answer(head, fields.get("x-id", "").encode(), number)
                if writes is None:
                    return
                for i, data in enumerate(writes):
                    if i:
                        await asyncio.sleep(0)
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def _fields(head: bytes) -> dict[str, str]:
    text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    pairs = [line.split(":", 1) for line in text.split("\r\n")[1:] if ":" in line]
    return {name.strip().lower(): value.strip() for name, value in pairs}


@contextlib.asynccontextmanager
async def _serving(peer: IdServer) -> AsyncIterator[IdServer]:
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    peer.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield peer
    finally:
        for writer in peer.writers:
            writer.close()
        server.close()
        await server.wait_closed()
        await asyncio.gather(*peer.tasks, return_exceptions=True)


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[IdServer]:
    async with _serving(IdServer()) as started:
        yield started


def _client(**options: object) -> hyperhttp.Client:
    return hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, read=2.0, write=2.0), **options)  # type: ignore[arg-type]


async def _clean(client: hyperhttp.Client, peer: IdServer, rid: str) -> None:
    """No lease is held, and a fresh request gets its own answer."""
    stats = client.pool_stats()
    assert stats.in_use == 0, stats
    assert stats.leases == 0, stats
    r = await client.get(peer.url, headers={"X-Id": rid})
    assert r.content == rid.encode()
    assert peer.garbage == []


# ------------------------------------------------------------ reuse after an incomplete exchange


async def _slow_body() -> AsyncIterator[bytes]:
    for _ in range(6):
        yield b"y" * 700
        await asyncio.sleep(0)


def _closing(head: bytes, rid: bytes, number: int) -> list[bytes] | None:
    """Answer and close: every request opens a connection (the connect awaits are hit too)."""
    whole = _ok(rid).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    return [whole[:20], whole[20:]]


@pytest.mark.parametrize("fresh", [False, True], ids=["pooled", "fresh"])
@pytest.mark.parametrize("kind", ["get", "post-bytes", "post-stream", "stream-read"])
async def test_cancelled_at_every_await_point_no_half_exchange_is_reused(
    peer: IdServer, kind: str, fresh: bool
) -> None:
    """Cancel after k loop iterations, for each k until the request completes by itself."""
    if fresh:
        peer.answer = _closing
    async with _client() as client:
        await _clean(client, peer, "warm")
        completed = 0
        for k in range(400):  # bounded; ends once a request finishes before its cancel
            rid = f"c{k}"

            async def one(rid: str = rid) -> bytes:
                headers = {"X-Id": rid}
                if kind == "get":
                    return (await client.get(peer.url, headers=headers)).content
                if kind == "post-bytes":
                    r = await client.post(peer.url, headers=headers, content=b"z" * 3000)
                    return r.content
                if kind == "post-stream":
                    r = await client.post(peer.url, headers=headers, content=_slow_body())
                    return r.content
                request = client.build_request("GET", peer.url, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    return b"".join([piece async for piece in response.aiter_bytes()])
                finally:
                    await response.aclose()

            task = asyncio.ensure_future(one())
            for _ in range(k):
                await asyncio.sleep(0)
            task.cancel()
            try:
                assert await task == rid.encode()  # it finished first: its own answer
                completed += 1
            except asyncio.CancelledError:
                pass
            await _clean(client, peer, f"after{k}")
            if completed >= 3:
                break
        assert completed >= 3, "the request never completed within 400 iterations"


async def test_abandoned_streamed_body_is_never_reused(peer: IdServer) -> None:
    def big(head: bytes, rid: bytes, number: int) -> list[bytes]:
        body = rid + b"." * 512 * 1024
        return [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body]

    peer.answer = big
    async with _client() as client:
        for i in range(3):
            response = await client.send(
                client.build_request("GET", peer.url, headers={"X-Id": f"s{i}"}), stream=True
            )
            async for piece in response.aiter_raw():
                assert piece.startswith(f"s{i}".encode())
                break  # abandoned mid-body
            await response.aclose()
            assert client.pool_stats().idle == 0
        peer.answer = _echo
        await _clean(client, peer, "after")
    assert peer.connections == 4


async def test_hooks_and_auth_flows_that_raise_leave_no_connection_behind(
    peer: IdServer,
) -> None:
    class Boom(Exception):
        pass

    async def response_hook(response: hyperhttp.Response) -> None:
        raise Boom

    class RaisingAuth(hyperhttp.Auth):
        async def async_auth_flow(self, request: Request) -> AsyncIterator[Request]:  # type: ignore[override]
            yield request
            raise Boom

    async with _client(event_hooks={"response": [response_hook]}) as client:
        for stream in (False, True):
            with pytest.raises(Boom):
                await client.send(
                    client.build_request("GET", peer.url, headers={"X-Id": "h"}), stream=stream
                )
            assert client.pool_stats().in_use == 0
    async with _client() as client:
        for stream in (False, True):
            with pytest.raises(Boom):
                await client.send(
                    client.build_request("GET", peer.url, headers={"X-Id": "a"}),
                    stream=stream,
                    auth=RaisingAuth(),
                )
        await _clean(client, peer, "after")


@pytest.mark.parametrize(
    "first",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        (
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"
            b"Content-Length: 2\r\n\r\nok"
        ),
        b"HTTP/1.1 200 OK\r\nConnection: x-foo, Close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nPRI *",
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
        ),
    ],
    ids=["http10", "close", "close-repeated", "close-in-list", "101-unasked", "pipelined-extra"],
)
async def test_a_connection_the_server_ends_is_not_reused(peer: IdServer, first: bytes) -> None:
    def answer(head: bytes, rid: bytes, number: int) -> list[bytes]:
        return [first] if rid == b"first" else [_ok(rid)]

    peer.answer = answer
    async with _client() as client:
        with contextlib.suppress(hyperhttp.HTTPError):  # 101 unasked may be refused
            await client.get(peer.url, headers={"X-Id": "first"})
        assert client.pool_stats().idle == 0
        await _clean(client, peer, "second")
    assert peer.connections == 2


@pytest.mark.parametrize(
    ("method", "first"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"),
        ("GET", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: </a>\r\n\r\n"),
    ],
    ids=["head-cl", "head-chunked", "204-cl", "304-cl", "1xx"],
)
async def test_bodiless_and_interim_responses_keep_framing(
    peer: IdServer, method: str, first: bytes
) -> None:
    def answer(head: bytes, rid: bytes, number: int) -> list[bytes]:
        if rid != b"first":
            return [_ok(rid)]
        if first.startswith(b"HTTP/1.1 100"):
            return [first, _ok(rid)]
        return [first]

    peer.answer = answer
    async with _client() as client:
        r = await client.request(method, peer.url, headers={"X-Id": "first"})
        assert r.content in (b"", b"first")
        for i in range(3):
            await _clean(client, peer, f"next{i}")
    assert peer.connections == 1


# ------------------------------------------------------------ nothing bad reaches the wire


async def test_construction_paths_never_put_controls_on_the_wire(peer: IdServer) -> None:
    bad = "a\r\nX-Injected: 1"
    async with _client(base_url=peer.url) as client:
        await _clean(client, peer, "warm")
        # encoded, not refused: params as text and as pairs, a redirect Location with spaces
        r = await client.get("/p", params=f"q={bad}", headers={"X-Id": "p1"})
        assert r.content == b"p1"
        r = await client.get("/p", params={bad: bad}, headers={"X-Id": "p2"})
        assert r.content == b"p2"
        # refused before any byte: URL builders, fields anywhere, cookies
        with pytest.raises(hyperhttp.InvalidURL):
            await client.get(f"/x{bad}")
        with pytest.raises(hyperhttp.InvalidURL):
            URL(peer.url).copy_with(query=bad)
        with pytest.raises(hyperhttp.InvalidURL):
            URL(peer.url).copy_with(path="/\x00")
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request("GET", URL(peer.url), Headers([("X-A", bad)])))
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request("GET", URL(peer.url), Headers([(bad, "1")])))
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(Request("GET\r\n", URL(peer.url)))
        for framing in ("Host", "Content-Length", "Transfer-Encoding", "host", "TRANSFER-ENCODING"):
            with pytest.raises(hyperhttp.LocalProtocolError):
                await client.get("/", headers={framing: "1"})
            built = client.build_request("POST", "/", content=b"abc")
            built.headers[framing] = "5"
            with pytest.raises(hyperhttp.LocalProtocolError):
                await client.send(built)
        with pytest.raises(ValueError, match="cookie"):
            await client.get("/", cookies={"a": bad})
        with pytest.raises(ValueError, match="cookie"):
            await client.get("/", cookies={bad: "b"})
        # a multipart field or file name: escaped inside the body, never a head of its own
        r = await client.post("/", files={bad: (bad + '".txt', b"data")}, headers={"X-Id": "m"})
        assert r.content == b"m"
    for head in peer.heads:
        assert b"X-Injected" not in head.split(b"\r\n", 1)[1], head
        assert b"\x00" not in head


# ------------------------------------------------------------ passwords


async def test_no_failure_shows_a_password() -> None:
    """Error text, reprs, chained causes and trace events of failing requests."""
    seen: list[str] = []

    def trace(name: str, data: object) -> None:
        seen.append(f"{name} {data!r}")

    user = f"user:{PASSWORD}@"
    attempts = [
        f"http://{user}127.0.0.1:1/refused",
        f"http://{user}127.0.0.1:99999/",
        f"http://{user}[::1/",
        f"http://{user}host name/",
        f"ftp://{user}h/",
        f"http://{user}127.0.0.1:1/\x7f",
    ]
    async with hyperhttp.Client(trace=trace, timeout=2.0) as client:
        for url in attempts:
            with pytest.raises(hyperhttp.HTTPError) as caught:
                await client.get(url)
            error = caught.value
            seen.append("".join(traceback.format_exception(error)))
            seen.append(f"{error!r} {error.request!r}")
        with pytest.raises(hyperhttp.LocalProtocolError) as caught:
            await client.get(f"http://{user}127.0.0.1:1/", headers={"X": "\r"})
        seen.append("".join(traceback.format_exception(caught.value)))
    assert seen
    assert not [text for text in seen if PASSWORD in text]
