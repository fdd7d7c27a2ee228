"""HTTP/2 responses held to the same rules as HTTP/1.1 (issue 15, defects 4, 10 and 19).

Scripted peers send what real servers rarely do: DATA after a 1xx head, DATA
on responses that have no content, statuses outside 100-599, absurd
Content-Length values, header blocks larger than we advertised, HTTP/1.1
bytes where the HTTP/2 preface belongs. Each is a typed error for the
request it concerns; a stream error leaves the other streams alone.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from tests.servers.fixtures import TLSSetup

pytestmark = pytest.mark.asyncio

_HTTP11_REFUSAL = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def _http11_only(context: ssl.SSLContext | None) -> AsyncIterator[str]:
    """Serve an HTTP/1.1 400 to anything, then close (ALPN h2 if TLS); yield the URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(100)
            writer.write(_HTTP11_REFUSAL)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_http11_bytes_where_the_http2_preface_belongs_h2c() -> None:
    """Prior knowledge (h2c) to an HTTP/1.1 server: the error says what the server sent."""
    async for url in _http11_only(None):
        async with hyperhttp.Client(http1=False) as client:
            with pytest.raises(hyperhttp.ConnectError) as info:
                await asyncio.wait_for(client.get(f"{url}/"), 10)
    message = str(info.value)
    assert "did not start HTTP/2" in message
    assert "SETTINGS" in message
    assert "HTTP/1.1 400" in message


async def test_http11_bytes_after_alpn_chose_h2(tls: TLSSetup) -> None:
    """ALPN said h2, then the server spoke HTTP/1.1: the same clear error."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["h2"])
    async for url in _http11_only(context):
        async with hyperhttp.Client(verify=tls.ca_path) as client:
            with pytest.raises(
                hyperhttp.ConnectError, match=r"did not start HTTP/2.*HTTP/1\.1 400"
            ):
                await asyncio.wait_for(client.get(f"{url}/"), 10)


# ---------------------------------------------------------------- defect 10: framing


def _path(request: ScriptedRequest) -> str:
    return request.headers[b":path"].decode()


async def _bad_and_good(
    misbehave: Callable[[ScriptedRequest], None], *, method: str = "GET"
) -> tuple[BaseException | hyperhttp.Response, hyperhttp.Response, ScriptedH2Server]:
    """One stream answered by ``misbehave`` while another stays open; then both finish.

    Returns the outcome of the bad request, the good response (on the same
    connection, answered after the bad one), and the server.
    """
    waiting: list[ScriptedRequest] = []

    def handler(request: ScriptedRequest) -> None:
        if _path(request) == "/warm":
            request.conn.respond(request.stream_id)
        elif _path(request) == "/good":
            waiting.append(request)
        else:
            misbehave(request)
            for good in waiting:  # after the bad answer: the connection still serves
                good.conn.respond(good.stream_id, body=b"good")

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/warm")  # one connection, its capacity known
            good = asyncio.ensure_future(client.get(f"{server.url}/good"))
            for _ in range(200):
                if server.requests[-1:] and _path(server.requests[-1]) == "/good":
                    break
                await asyncio.sleep(0.005)
            bad = await asyncio.wait_for(
                asyncio.gather(client.request(method, f"{server.url}/bad"), return_exceptions=True),
                10,
            )
            good_response = await asyncio.wait_for(good, 10)
    finally:
        await server.stop()
    return bad[0], good_response, server


def _assert_stream_error(
    outcome: BaseException | hyperhttp.Response,
    good: hyperhttp.Response,
    server: ScriptedH2Server,
    match: str,
) -> None:
    assert isinstance(outcome, hyperhttp.RemoteProtocolError), outcome
    assert re.search(match, str(outcome)), str(outcome)
    assert good.content == b"good"  # the other stream is unaffected
    assert len(server.connections) == 1  # a stream error: no GOAWAY, no new connection


@pytest.mark.parametrize("same_read", [True, False])
async def test_data_after_a_1xx_head_is_a_stream_error(same_read: bool) -> None:
    """HEADERS 103, then DATA: malformed (RFC 9113 §8.1), never part of the body."""

    async def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        frames = [
            conn.headers_frame(sid, [(b":status", b"103"), (b"link", b"</a>; rel=preload")]),
            conn.data_frame(sid, b"early"),
            conn.headers_frame(sid, [(b":status", b"200")]),
            conn.data_frame(sid, b"body", end_stream=True),
        ]
        if same_read:
            conn.write(b"".join(frames))
            return
        for frame in frames:
            conn.write(frame)
            await asyncio.sleep(0.02)

    def start(request: ScriptedRequest) -> None:
        task = asyncio.ensure_future(misbehave(request))
        request.conn.server.tasks.add(task)

    outcome, good, server = await _bad_and_good(start)
    _assert_stream_error(outcome, good, server, "DATA before the response head")


@pytest.mark.parametrize(("method", "status"), [("HEAD", b"200"), ("GET", b"204"), ("GET", b"304")])
async def test_data_on_a_response_without_content_is_a_stream_error(
    method: str, status: bytes
) -> None:
    """HEAD, 204 and 304 have no content (RFC 9110 §6.4.1): DATA on them is malformed."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", status), (b"content-length", b"5")]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"hello", end_stream=True))

    outcome, good, server = await _bad_and_good(misbehave, method=method)
    _assert_stream_error(outcome, good, server, "no content")


async def test_an_empty_end_on_a_response_without_content_is_fine() -> None:
    """HEAD answered with a Content-Length and an empty DATA frame ending it: no error."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", b"200"), (b"content-length", b"5")]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"", end_stream=True))

    outcome, good, _ = await _bad_and_good(misbehave, method="HEAD")
    assert isinstance(outcome, hyperhttp.Response)
    assert outcome.content == b""
    assert outcome.headers["content-length"] == "5"
    assert good.content == b"good"


@pytest.mark.parametrize("status", [b"000", b"099", b"600", b"999", b"20a", b"2000", b"+20"])
async def test_status_outside_100_to_599_is_a_stream_error(status: bytes) -> None:
    """:status is three digits, 100 to 599 (RFC 9110 §15)."""

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        conn.write(conn.headers_frame(sid, [(b":status", status)], end_stream=True))

    outcome, good, server = await _bad_and_good(misbehave)
    _assert_stream_error(outcome, good, server, "invalid :status")


@pytest.mark.parametrize("length", [b"9" * 5000, b"1" * 20, b"-1", b"1 ", b"0x10"])
async def test_absurd_content_length_is_a_stream_error(length: bytes) -> None:
    """A 5 000-digit Content-Length: a typed stream error, and nothing raised into the loop."""
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))

    def misbehave(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        head = [(b":status", b"200"), (b"content-length", length)]
        conn.write(conn.headers_frame(sid, head) + conn.data_frame(sid, b"x", end_stream=True))

    try:
        outcome, good, server = await _bad_and_good(misbehave)
    finally:
        asyncio.get_running_loop().set_exception_handler(None)
    _assert_stream_error(outcome, good, server, "invalid Content-Length")
    assert not loop_errors
