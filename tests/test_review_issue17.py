"""Review of c15a0ab..HEAD (issue 17): invariants checked on the refactored layers.

No test here fails on the reviewed code: the defects looked for were not found
(see each docstring for what was checked). These pin invariants that had no
test of their own.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.fixtures import ok_http11_server

if TYPE_CHECKING:
    from tests.servers.h2_scripted import ScriptedH2Server

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("http1", [True, False])
@pytest.mark.parametrize("event", ["pool.wait", "response.end"])
async def test_a_tracer_raising_at_the_span_ends_leaves_no_lease(
    event: str, http1: bool, h2_peer: ScriptedH2Server
) -> None:
    """A tracer raising in ``Spans.open`` (pool.wait) or ``ExchangeSpan.ended`` (response.end).

    pool.wait is reported before any lease is taken; response.end after the
    lease went back (PooledBody.close releases first). Either way nothing stays
    leased, and the one connection serves the next request (no PoolTimeout
    with max_connections=1): the lease is released exactly once.
    """

    def trace(name: str, info: object) -> None:
        if name == event:
            raise RuntimeError(f"tracer failed at {name}")

    async with contextlib.AsyncExitStack() as stack:
        url = (await stack.enter_async_context(ok_http11_server()))[0] if http1 else h2_peer.url
        client = await stack.enter_async_context(
            hyperhttp.Client(
                trace=trace,
                limits=hyperhttp.Limits(max_connections=1),
                http1=http1,
                timeout=hyperhttp.Timeout(5.0, pool=1.0),
            )
        )
        for _ in range(3):
            with pytest.raises(RuntimeError, match="tracer failed"):
                await client.get(url)
            stats = client.pool_stats()
            assert stats.in_use == 0, stats
            assert stats.leases == 0, stats
            assert stats.connections <= 1, stats


@pytest.mark.parametrize("status", [307, 308])
async def test_a_307_of_a_files_upload_keeps_its_declared_length(status: int) -> None:
    """A 307/308 replays a multipart ``files=`` body with its ``stream_length``.

    redirect_request copies stream_length/stream_replayable only when the body
    is kept: the second hop must still send Content-Length (not chunked) and
    the same bytes.
    """
    seen: list[tuple[str | None, str | None, bytes]] = []

    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        seen.append(
            (
                request.headers.get("content-length"),
                request.headers.get("transfer-encoding"),
                request.content or b"",
            )
        )
        if request.url.path == "/up":
            return hyperhttp.MockResponse(status, headers={"location": "/there"})
        return hyperhttp.MockResponse(200, text="ok")

    mock = hyperhttp.MockTransport(handler)
    async with hyperhttp.Client(transport=mock) as client:
        response = await client.post("http://a.test/up", files={"f": ("a.txt", b"x" * 1000)})
    assert response.status_code == 200
    assert len(seen) == 2
    (length_1, chunked_1, body_1), (length_2, chunked_2, body_2) = seen
    assert chunked_1 is None
    assert chunked_2 is None
    assert length_1 is not None
    assert length_1 == length_2 == str(len(body_1))
    assert body_1 == body_2


async def test_a_303_of_a_files_upload_drops_the_body_and_its_length() -> None:
    """A 303 turns the upload into a GET: no body, no Content-Length, nothing chunked."""
    seen: list[hyperhttp.Request] = []

    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        seen.append(request)
        if request.url.path == "/up":
            return hyperhttp.MockResponse(303, headers={"location": "/there"})
        return hyperhttp.MockResponse(200, text="ok")

    mock = hyperhttp.MockTransport(handler)
    async with hyperhttp.Client(transport=mock) as client:
        await client.post("http://a.test/up", files={"f": ("a.txt", b"x" * 10)})
    follow = seen[1]
    assert follow.method == "GET"
    assert follow.stream is None
    assert follow.stream_length is None
    assert not follow.content
    assert "content-length" not in follow.headers
    assert "transfer-encoding" not in follow.headers


async def test_a_truthy_non_bool_stream_uses_the_streaming_options() -> None:
    """``send(stream=1)``: the options cache is indexed by truthiness; the body stays unread.

    And the cached non-streaming options are untouched by it: the next plain
    send reads its body.
    """
    mock = hyperhttp.MockTransport(hyperhttp.MockResponse(200, content=b"body"))
    async with hyperhttp.Client(transport=mock) as client:
        streamed = await client.send(client.build_request("GET", "http://a.test/"), stream=1)  # type: ignore[arg-type]
        assert not streamed.is_closed
        await streamed.aclose()
        plain = await client.get("http://a.test/")
        assert plain.is_closed
        assert plain.content == b"body"
        client.follow_redirects = False  # an option set later: both cached entries dropped
        assert client._options == [None, None]
