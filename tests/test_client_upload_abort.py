"""HTTP/1.1 uploads cut short never leave a connection to be reused, and writing has a deadline.

Issue 15, defects 1 and 16. The peers are raw loopback servers that behave
as real ones do: Node and Go answer a request early and keep reading its
body; a stalled server accepts and never reads. A connection is reusable
only if the request went out whole *and* the response came in whole: else
the next request (with its Authorization) would be read as body bytes of
the one cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import hyperhttp
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

SECRET = b"Bearer never-a-body-byte"
MiB = 1024 * 1024


@dataclass
class EarlyAnswerServer:
    """Answers each connection's first request head at once (200, keep-alive), then reads on.

    Whatever arrives after that first head is logged as what the server
    takes for the rest of its body: a later request on the same connection
    would show up there. ``pause`` stops reading for a while after answering
    (so the client's writes stall).
    """

    pause: float = 0.0
    url: str = ""
    logs: list[bytearray] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _track(self.tasks)
        self.writers.append(writer)
        log = bytearray()
        self.logs.append(log)
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            if self.pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), self.pause)
            for _ in range(100_000):  # bounded: at most ~6 GiB at 64 KiB a read
                data = await reader.read(65536)
                if not data:
                    break
                log += data
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@dataclass
class SilentServer:
    """Accepts connections and never reads the body; with ``answer``, answers the head first."""

    answer: bytes = b""
    url: str = ""
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _track(self.tasks)
        self.writers.append(writer)
        try:
            if self.answer:  # the head only (the reader stops at its buffer limit)
                await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answer)
                await writer.drain()
            await self.stop.wait()  # set at teardown
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _track(tasks: set[asyncio.Task[object]]) -> None:
    task = asyncio.current_task()
    assert task is not None
    tasks.add(task)


async def _serve(
    peer: EarlyAnswerServer | SilentServer,
) -> AsyncIterator[EarlyAnswerServer | SilentServer]:
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    peer.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield peer
    finally:
        peer.stop.set()
        for writer in peer.writers:
            writer.close()
        server.close()
        await server.wait_closed()
        await asyncio.gather(*peer.tasks, return_exceptions=True)


@pytest_asyncio.fixture
async def early() -> AsyncIterator[EarlyAnswerServer]:
    async for peer in _serve(EarlyAnswerServer()):
        assert isinstance(peer, EarlyAnswerServer)
        yield peer


@pytest_asyncio.fixture
async def early_then_stalled() -> AsyncIterator[EarlyAnswerServer]:
    async for peer in _serve(EarlyAnswerServer(pause=1.5)):
        assert isinstance(peer, EarlyAnswerServer)
        yield peer


async def _answered_then(failure: BaseException | None, pieces: int = 1) -> AsyncIterator[bytes]:
    """Yield a few pieces, wait long enough for the early answer, then raise ``failure``."""
    for _ in range(pieces):
        yield b"x" * 1024
    await asyncio.sleep(0.2)  # the server's complete 200 arrives meanwhile
    if failure is not None:
        raise failure
    await asyncio.sleep(30)  # never ends by itself: the caller's timeout must
    yield b"never"  # pragma: no cover


async def _next_request_is_not_a_body(client: hyperhttp.Client, peer: EarlyAnswerServer) -> None:
    """Check the connection cut short is gone: the next request is read as a request."""
    assert client.pool_stats().idle == 0, client.pool_stats()
    r = await client.get(peer.url, headers={"Authorization": SECRET.decode()})
    assert r.status_code == 200
    await asyncio.sleep(0.1)  # let the server log whatever reached it
    assert all(SECRET not in log for log in peer.logs), [bytes(log[:200]) for log in peer.logs]
    assert any(SECRET in head for head in peer.heads)


def _client(**timeouts: float | None) -> hyperhttp.Client:
    options: dict[str, float | None] = {"read": 2.0, "write": 2.0, **timeouts}
    return hyperhttp.Client(timeout=hyperhttp.Timeout(5.0, **options))


async def test_body_iterator_raising_after_an_early_answer(early: EarlyAnswerServer) -> None:
    async with _client() as client:
        with pytest.raises(RuntimeError, match="disk gone"):
            await client.post(early.url, content=_answered_then(RuntimeError("disk gone")))
        await _next_request_is_not_a_body(client, early)


async def test_cancelled_upload_after_an_early_answer(early: EarlyAnswerServer) -> None:
    """asyncio.timeout around the call: the task is cancelled in the middle of the body."""
    async with _client() as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await client.post(early.url, content=_answered_then(None))
        await _next_request_is_not_a_body(client, early)


async def test_total_timeout_mid_upload_after_an_early_answer(early: EarlyAnswerServer) -> None:
    async with _client(total=0.5) as client:
        with pytest.raises(hyperhttp.TimeoutException):
            await client.post(early.url, content=_answered_then(None))
        await _next_request_is_not_a_body(client, early)


async def test_stream_shorter_than_its_length_after_an_early_answer(
    early: EarlyAnswerServer,
) -> None:
    async def shrunk() -> AsyncIterator[bytes]:
        yield b"x" * 1024
        await asyncio.sleep(0.2)  # the server's complete 200 arrives meanwhile

    async with _client() as client:
        request = client.build_request("PUT", early.url, content=shrunk())
        request.stream_length = 10 * 1024  # a file that shrank: 1 KiB came
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(request)
        await _next_request_is_not_a_body(client, early)


async def test_early_answer_stops_the_upload_and_drops_the_connection(
    early: EarlyAnswerServer,
) -> None:
    """The server answered before the body ended: we may stop sending, never reuse."""

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MiB at most, bounded
            yield b"y" * 65536
            await asyncio.sleep(0.005)

    async with _client() as client:
        r = await client.post(early.url, content=endless())
        assert (r.status_code, r.content) == (200, b"ok")
        await _next_request_is_not_a_body(client, early)
    assert len(early.logs[0]) < 64 * MiB  # it stopped early


async def test_write_timeout_after_an_early_answer(
    early_then_stalled: EarlyAnswerServer,
) -> None:
    """The server answered, then stops reading: the write stalls and times out."""

    async def big() -> AsyncIterator[bytes]:
        for _ in range(512):  # 32 MiB: more than the socket buffers hold
            yield b"z" * 65536

    async with _client(write=0.3) as client:
        with pytest.raises(hyperhttp.WriteTimeout):
            await client.post(early_then_stalled.url, content=big())
        await _next_request_is_not_a_body(client, early_then_stalled)


# ------------------------------------------------------------------ defect 16: in-memory bodies


@pytest_asyncio.fixture
async def silent() -> AsyncIterator[SilentServer]:
    async for peer in _serve(SilentServer()):
        assert isinstance(peer, SilentServer)
        yield peer


@pytest_asyncio.fixture
async def refusing() -> AsyncIterator[SilentServer]:
    answer = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig"
    async for peer in _serve(SilentServer(answer=answer)):
        assert isinstance(peer, SilentServer)
        yield peer


async def test_in_memory_upload_to_a_server_that_never_reads_is_a_write_timeout(
    silent: SilentServer,
) -> None:
    """64 MiB of content= bytes: WriteTimeout after Timeout.write, not ReadTimeout after read."""
    body = bytes(64 * MiB)
    async with _client(write=0.3, read=4.0) as client:
        with pytest.raises(hyperhttp.WriteTimeout):
            await client.post(silent.url, content=body)
        assert client.pool_stats().idle == 0


async def test_in_memory_upload_answered_early_returns_the_answer(refusing: SilentServer) -> None:
    """The server answers 413 without reading: the answer comes back; the connection goes."""
    body = bytes(64 * MiB)
    async with _client(write=0.3, read=4.0) as client:
        r = await client.post(refusing.url, content=body)
        assert (r.status_code, r.reason_phrase, r.content) == (413, "Content Too Large", b"big")
        assert client.pool_stats().idle == 0


async def test_small_in_memory_bodies_keep_their_connection(early: EarlyAnswerServer) -> None:
    """The rule costs nothing where it does not apply: a request sent whole keeps the connection."""
    async with _client() as client:
        r = await client.get(early.url)
        assert r.status_code == 200
        assert client.pool_stats().idle == 1
