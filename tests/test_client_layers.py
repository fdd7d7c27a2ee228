"""The client as options over a pipeline of layers (issue 17): what a user can see of it.

``client.cookies`` and ``client.headers`` are read by the layers as they are
now, whatever replaced them; the options one ``send`` runs with are frozen;
``verify=False`` warns at the user's line, not inside the library. The peer is
the mock transport (no network) or a raw loopback HTTP/1.1 server.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from hyperhttp._options import SendOptions

from tests.servers.fixtures import ok_http11_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

pytestmark = pytest.mark.asyncio


def _echo_cookie(request: hyperhttp.Request) -> hyperhttp.MockResponse:
    return hyperhttp.MockResponse(200, content=request.headers.get("cookie", "").encode())


async def test_a_cookie_mapping_assigned_to_the_client_becomes_its_jar() -> None:
    async with hyperhttp.Client(transport=hyperhttp.MockTransport(_echo_cookie)) as client:
        client.cookies = {"session": "abc"}
        assert isinstance(client.cookies, hyperhttp.Cookies)
        assert (await client.get("http://example.test/")).content == b"session=abc"


async def test_a_jar_assigned_to_the_client_is_the_one_it_fills() -> None:
    def set_cookie(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        return hyperhttp.MockResponse(200, headers={"set-cookie": "a=1; Path=/"})

    jar = hyperhttp.Cookies()
    async with hyperhttp.Client(transport=hyperhttp.MockTransport(set_cookie)) as client:
        client.cookies = jar
        await client.get("http://example.test/")
    assert client.cookies is jar
    assert jar.get("a") == "1"


async def test_headers_replaced_after_construction_are_the_ones_sent() -> None:
    async with ok_http11_server() as (url, seen), hyperhttp.Client(headers={"x-a": "1"}) as client:
        await client.get(url)
        client.headers = {"x-b": "2"}
        await client.get(url)
        client.headers["x-c"] = "3"  # changed in place
        await client.get(url)
    first, replaced, changed = [head.lower() for head in seen]
    assert b"x-a: 1" in first
    assert b"x-a" not in replaced
    assert b"x-b: 2" in replaced
    assert b"x-b: 2" in changed
    assert b"x-c: 3" in changed


async def test_the_options_of_one_send_are_frozen() -> None:
    options = SendOptions(hyperhttp.Timeout(1.0), False, True, 20, None, None, None)
    with pytest.raises(AttributeError):
        options.stream = True


async def test_verify_false_warns_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyperhttp.Client(verify=False)
    (warning,) = [w for w in caught if issubclass(w.category, hyperhttp.InsecureRequestWarning)]
    assert warning.filename == __file__


async def test_client_options_set_after_a_request_apply_to_the_next() -> None:
    """The client's own options are built once per client, and again whenever one is set."""
    calls: list[str] = []

    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        calls.append(str(request.url))
        if request.url.path == "/from":
            return hyperhttp.MockResponse(302, headers={"location": "/to"})
        return hyperhttp.MockResponse(200, content=request.headers.get("authorization", ""))

    async with hyperhttp.Client(transport=hyperhttp.MockTransport(handler)) as client:
        assert (await client.get("http://example.test/from")).status_code == 200
        client.follow_redirects = False
        assert (await client.get("http://example.test/from")).status_code == 302
        async with client.stream("GET", "http://example.test/from") as streamed:
            assert streamed.status_code == 302
        client.follow_redirects = True
        client.auth = ("user", "pass")  # type: ignore[assignment]
        response = await client.get("http://example.test/to")
        assert response.content.startswith(b"Basic ")
        client.auth = None
        assert (await client.get("http://example.test/to")).content == b""
        client.max_redirects = 0
        with pytest.raises(hyperhttp.TooManyRedirects):
            await client.get("http://example.test/from")
        client.max_redirects = 5
        client.timeout = hyperhttp.Timeout(0.5)
        response = await client.get("http://example.test/to")
        assert response.status_code == 200
    assert calls.count("http://example.test/to") == 4


async def test_per_call_options_do_not_stick_to_the_client() -> None:
    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        if request.url.path == "/from":
            return hyperhttp.MockResponse(302, headers={"location": "/to"})
        return hyperhttp.MockResponse(200)

    async with hyperhttp.Client(transport=hyperhttp.MockTransport(handler)) as client:
        response = await client.get("http://example.test/from", follow_redirects=False)
        assert response.status_code == 302
        assert (await client.get("http://example.test/from")).status_code == 200


async def test_options_set_on_the_client_are_checked_like_its_arguments() -> None:
    async with hyperhttp.Client(transport=hyperhttp.MockTransport(_echo_cookie)) as client:
        client.timeout = 2.5  # type: ignore[assignment]
        assert client.timeout == hyperhttp.Timeout(2.5)
        client.auth = ("user", "pass")  # type: ignore[assignment]
        assert isinstance(client.auth, hyperhttp.BasicAuth)
        with pytest.raises(TypeError):
            client.retry = "three times"  # type: ignore[assignment]
        with pytest.raises(TypeError):
            client.circuit_breaker = object()  # type: ignore[assignment]
        assert (await client.get("http://example.test/")).status_code == 200


async def _send_stream(
    change: Callable[[hyperhttp.Request], None],
) -> tuple[hyperhttp.Request, hyperhttp.Request]:
    """Send a POST of a 3-byte stream, changed by ``change``; return it and what the mock saw."""
    seen: list[hyperhttp.Request] = []

    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        seen.append(request)
        return hyperhttp.MockResponse(200)

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"

    async with hyperhttp.Client(transport=hyperhttp.MockTransport(handler)) as client:
        request = client.build_request("POST", "http://example.test/", content=body())
        change(request)
        await client.send(request)
    (sent,) = seen
    return request, sent


async def test_user_extensions_are_carried_and_never_read_by_the_client() -> None:
    """Extensions is the user's: keys the client once used there mean nothing now."""
    keys = {"cookies": "not a jar", "length": 99, "replayable": True}
    request, sent = await _send_stream(lambda request: request.extensions.update(keys))
    assert "cookie" not in sent.headers
    assert sent.content == b"abc"
    assert sent.extensions["length"] == 99
    assert not request.replayable  # a generator cannot be read again, whatever extensions say


async def test_a_request_declares_its_stream_length_as_an_attribute() -> None:
    def declare(request: hyperhttp.Request) -> None:
        request.stream_length = 3

    _, sent = await _send_stream(declare)
    assert sent.headers["content-length"] == "3"
    assert "transfer-encoding" not in sent.headers
