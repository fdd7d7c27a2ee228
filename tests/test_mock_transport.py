"""The client with its network replaced by a MockTransport: examples to copy.

Everything but the network runs: URL joining, cookies, redirects, retries,
decoding, streaming. A MockTransport answers each network attempt with a
canned MockResponse, a handler's answer, or an exception (how a test
simulates a refused connection or a timeout); ``transport.requests`` records
what the client sent.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from hyperhttp import MockResponse, MockTransport, MockTransportError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

# Retries in tests should not wait: the smallest backoff the policy allows.
FAST_RETRY = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.001)


# ---------------------------------------------------------------- retries


async def test_retry_until_success() -> None:
    """Two 503s, then a 200: with three attempts allowed, the caller sees the 200."""
    transport = MockTransport(
        [
            MockResponse(503, headers={"Retry-After": "0"}),
            MockResponse(503),
            MockResponse(200, text="ok"),
        ]
    )
    async with hyperhttp.Client(transport=transport, retry=FAST_RETRY) as client:
        response = await client.get("http://api.test/flaky")
    assert response.status_code == 200
    assert response.text == "ok"
    assert transport.calls == 3
    assert [str(r.url) for r in transport.requests] == ["http://api.test/flaky"] * 3


async def test_retries_exhausted_returns_last_status() -> None:
    """When every attempt gets a 503, the last 503 is returned (no exception)."""
    transport = MockTransport(MockResponse(503, headers={"Retry-After": "0"}))
    async with hyperhttp.Client(transport=transport, retry=FAST_RETRY) as client:
        response = await client.get("http://api.test/down")
    assert response.status_code == 503
    assert transport.calls == 3


async def test_retry_after_connect_error() -> None:
    """A handler raising ConnectError simulates a refused connection; the retry succeeds."""
    attempts = 0

    def flaky(request: hyperhttp.Request) -> MockResponse:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise hyperhttp.ConnectError("connection refused")
        return MockResponse(200, json={"attempt": attempts})

    transport = MockTransport(flaky)
    async with hyperhttp.Client(transport=transport, retry=FAST_RETRY) as client:
        response = await client.get("http://api.test/items")
    assert response.json() == {"attempt": 2}
    assert transport.calls == 2


async def test_connect_error_without_retry() -> None:
    """Without a retry policy the simulated network failure reaches the caller."""
    transport = MockTransport([hyperhttp.ConnectError("connection refused")])
    async with hyperhttp.Client(transport=transport) as client:
        with pytest.raises(hyperhttp.ConnectError, match="connection refused") as info:
            await client.get("http://api.test/items")
    assert info.value.request is not None
    assert str(info.value.request.url) == "http://api.test/items"


# ---------------------------------------------------------------- redirects


async def test_redirect_followed() -> None:
    """A 301 to /new is followed: the final URL is /new and history holds the 301."""
    transport = MockTransport(
        {
            "GET /old": MockResponse(301, headers={"Location": "/new"}),
            "GET /new": MockResponse(200, json={"ok": True}),
        }
    )
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.get("http://api.test/old")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert str(response.url).endswith("/new")
    assert [r.status_code for r in response.history] == [301]
    assert str(response.history[0].url) == "http://api.test/old"
    assert [r.url.path for r in transport.requests] == ["/old", "/new"]


async def test_redirect_303_turns_post_into_get() -> None:
    """After a POST, a 303 is followed with a GET without the body."""
    transport = MockTransport(
        {
            "POST /orders": MockResponse(303, headers={"Location": "/orders/7"}),
            "GET /orders/7": MockResponse(200, json={"id": 7}),
        }
    )
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.post("http://api.test/orders", json={"item": "tea"})
    assert response.json() == {"id": 7}
    follow = transport.requests[1]
    assert (follow.method, follow.content) == ("GET", None)


async def test_redirect_not_followed() -> None:
    """With follow_redirects=False the 301 itself is returned."""
    transport = MockTransport({"/old": MockResponse(301, headers={"Location": "/new"})})
    async with hyperhttp.Client(transport=transport, follow_redirects=False) as client:
        response = await client.get("http://api.test/old")
    assert response.status_code == 301
    assert response.headers["location"] == "/new"
    assert transport.calls == 1


# ---------------------------------------------------------------- cookies, bodies


async def test_cookie_set_then_sent() -> None:
    """A cookie set by one response goes out with the next request."""
    transport = MockTransport(
        {
            "POST /login": MockResponse(204, headers={"Set-Cookie": "session=abc; Path=/"}),
            "GET /me": MockResponse(200, json={"user": "ada"}),
        }
    )
    async with hyperhttp.Client(transport=transport, base_url="http://api.test") as client:
        await client.post("/login")
        await client.get("/me")
        assert client.cookies.get("session") == "abc"
    assert "cookie" not in transport.requests[0].headers
    assert transport.requests[1].headers["cookie"] == "session=abc"


async def test_gzip_body_decoded() -> None:
    """A gzip-encoded mock body is decoded by the client, as a network one would be."""
    body = json.dumps({"items": list(range(100))}).encode()
    transport = MockTransport(
        MockResponse(
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            content=gzip.compress(body),
        )
    )
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.get("http://api.test/items")
    assert response.content == body
    assert response.json()["items"][-1] == 99


async def test_stream_with_mock() -> None:
    """client.stream() works: the body arrives through aiter_bytes(), decoded."""
    body = b"line\n" * 50_000
    transport = MockTransport(
        MockResponse(headers={"Content-Encoding": "gzip"}, content=gzip.compress(body))
    )
    async with (
        hyperhttp.Client(transport=transport) as client,
        client.stream("GET", "http://api.test/export") as response,
    ):
        assert response.status_code == 200
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == body


async def test_json_post_body_checked_by_handler() -> None:
    """A handler asserts on the JSON body the client sent, and answers."""

    def create(request: hyperhttp.Request) -> MockResponse:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.content is not None
        assert json.loads(request.content) == {"name": "ada", "tags": ["x"]}
        return MockResponse(201, json={"id": 1})

    transport = MockTransport({"POST /users": create})
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.post("http://api.test/users", json={"name": "ada", "tags": ["x"]})
    assert response.status_code == 201
    assert response.json() == {"id": 1}


async def test_streamed_upload_seen_as_bytes() -> None:
    """A body sent as an async iterator reaches the handler whole, in ``content``."""

    async def upload() -> AsyncIterator[bytes]:
        yield b"chunk 1;"
        yield b"chunk 2"

    transport = MockTransport(MockResponse(204))
    async with hyperhttp.Client(transport=transport) as client:
        await client.put("http://api.test/blob", content=upload())
    assert transport.requests[0].content == b"chunk 1;chunk 2"


# ---------------------------------------------------------------- misc


async def test_unmatched_request_raises() -> None:
    """A request no route matches raises MockTransportError naming it and the routes."""
    transport = MockTransport({"GET /known": MockResponse()})
    async with hyperhttp.Client(transport=transport) as client:
        with pytest.raises(MockTransportError) as info:
            await client.delete("http://api.test/missing?id=3")
    message = str(info.value)
    assert "DELETE http://api.test/missing?id=3" in message
    assert "'GET /known'" in message
    assert isinstance(info.value, hyperhttp.HTTPError)


async def test_http2_flavour() -> None:
    """A MockResponse can claim HTTP/2; the Response says so."""
    transport = MockTransport(MockResponse(http_version="HTTP/2", text="h2"))
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.get("https://api.test/")
    assert response.http_version == "HTTP/2"
    assert response.text == "h2"


async def test_raise_for_status_on_mock() -> None:
    """Status handling is the client's own: raise_for_status sees a mocked 404."""
    transport = MockTransport(MockResponse(404, text="nope"))
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.get("http://api.test/gone")
    with pytest.raises(hyperhttp.HTTPStatusError) as info:
        response.raise_for_status()
    assert info.value.response is response


async def test_max_response_size_applies() -> None:
    """The client's size limit applies to mocked bodies too."""
    transport = MockTransport(MockResponse(content=b"x" * 2048))
    async with hyperhttp.Client(transport=transport, max_response_size=1024) as client:
        with pytest.raises(hyperhttp.ResponseTooLarge):
            await client.get("http://api.test/big")
