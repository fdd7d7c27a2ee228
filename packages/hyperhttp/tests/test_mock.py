"""MockResponse and MockTransport on their own: construction, answering, routing, recording."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

import pytest

from hyperhttp import ConnectError, Headers, ReadTimeout, Request, ResponseTooLarge
from hyperhttp._mock import MockResponse, MockTransport, MockTransportError
from hyperhttp._urls import URL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def _request(
    method: str = "GET",
    url: str = "http://api.test/items",
    *,
    content: bytes | None = None,
    stream: AsyncIterator[bytes] | None = None,
) -> Request:
    return Request(method, URL(url), Headers(), content, stream)


# ---------------------------------------------------------------- MockResponse


def test_defaults() -> None:
    """No arguments: a 200 over HTTP/1.1 with an empty body and Content-Length 0."""
    response = MockResponse()
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers == [(b"content-length", b"0")]
    assert response.http_version == "HTTP/1.1"
    assert repr(response) == "<MockResponse [200]>"


@pytest.mark.parametrize(
    ("content", "raw"),
    [
        (b"\x00\xffraw", b"\x00\xffraw"),
        ("h\u00e9", "h\u00e9".encode()),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
    ],
)
def test_content(content: Any, raw: bytes) -> None:
    """``content`` is the raw body; a str is sent as UTF-8; no Content-Type is invented."""
    response = MockResponse(201, content=content)
    assert response.content == raw
    assert type(response.content) is bytes
    assert response.headers == [(b"content-length", str(len(raw)).encode())]


def test_json_body() -> None:
    """``json`` is compact JSON in UTF-8, typed application/json."""
    response = MockResponse(json={"a": [1, 2], "name": "\u00e9"})
    assert response.content == '{"a":[1,2],"name":"\u00e9"}'.encode()
    assert (b"content-type", b"application/json") in response.headers
    assert (b"content-length", str(len(response.content)).encode()) in response.headers


def test_json_none_is_null() -> None:
    """``json=None`` sends ``null``: it is a value, not "no body"."""
    assert MockResponse(json=None).content == b"null"


def test_json_rejects_nan() -> None:
    """NaN is no JSON (RFC 8259 §6): refused when the response is built."""
    with pytest.raises(ValueError, match="JSON"):
        MockResponse(json=float("nan"))


def test_text_body() -> None:
    """``text`` is UTF-8 with ``text/plain; charset=utf-8``."""
    response = MockResponse(text="\u2713 ok")
    assert response.content == "\u2713 ok".encode()
    assert (b"content-type", b"text/plain; charset=utf-8") in response.headers


@pytest.mark.parametrize("kwargs", [{"json": [1]}, {"text": "<p>"}], ids=["json", "text"])
def test_given_content_type_wins(kwargs: dict[str, Any]) -> None:
    """A Content-Type in ``headers`` is kept and not doubled."""
    response = MockResponse(headers={"Content-Type": "text/html"}, **kwargs)
    assert [v for n, v in response.headers if n == b"content-type"] == [b"text/html"]


def test_headers_are_raw_lowercased_pairs() -> None:
    """Headers become (lower-cased name, value) bytes pairs; repeats keep their order."""
    response = MockResponse(
        headers=[("Set-Cookie", "a=1"), ("X-Thing", "x"), ("set-cookie", "b=2")], text="t"
    )
    assert response.headers[:3] == [
        (b"set-cookie", b"a=1"),
        (b"x-thing", b"x"),
        (b"set-cookie", b"b=2"),
    ]


def test_headers_from_mapping() -> None:
    """A mapping works too."""
    response = MockResponse(headers={"Location": "/next"})
    assert (b"location", b"/next") in response.headers


def test_given_content_length_is_kept() -> None:
    """A matching Content-Length is not added twice."""
    response = MockResponse(headers={"Content-Length": "2"}, content=b"ok")
    assert response.headers == [(b"content-length", b"2")]


def test_content_length_must_match_body() -> None:
    """A Content-Length that contradicts the body is refused: no server could send both."""
    with pytest.raises(ValueError, match="Content-Length 5 but the body has 2 bytes"):
        MockResponse(headers={"Content-Length": "5"}, content=b"ok")


def test_content_length_without_body() -> None:
    """An empty body may carry the length it stands for (a HEAD response)."""
    response = MockResponse(headers={"Content-Length": "1234"})
    assert response.headers == [(b"content-length", b"1234")]


def test_transfer_encoding_gets_no_content_length() -> None:
    """With Transfer-Encoding no Content-Length is added (RFC 9112 §6.2)."""
    response = MockResponse(headers={"Transfer-Encoding": "chunked"}, content=b"x")
    assert response.headers == [(b"transfer-encoding", b"chunked")]


def test_transfer_encoding_and_content_length_refused() -> None:
    """Both framing fields at once are refused."""
    with pytest.raises(ValueError, match="Transfer-Encoding"):
        MockResponse(headers={"Transfer-Encoding": "chunked", "Content-Length": "1"}, content=b"x")


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses_get_no_length(status: int) -> None:
    """204 and 304 get no Content-Length added."""
    assert MockResponse(status).headers == []


@pytest.mark.parametrize("status", [101, 204, 304])
def test_no_content_statuses_refuse_a_body(status: int) -> None:
    """1xx, 204 and 304 carry no content (RFC 9110 §6.4.1)."""
    with pytest.raises(ValueError, match=f"a {status} response has no content"):
        MockResponse(status, content=b"x")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"a", "text": "b"},
        {"content": b"a", "json": 1},
        {"text": "a", "json": None},
        {"content": b"a", "text": "b", "json": 1},
    ],
)
def test_two_bodies_refused(kwargs: dict[str, Any]) -> None:
    """At most one of content, json and text; the error names the ones given."""
    with pytest.raises(TypeError, match="at most one of content=, json= and text=") as info:
        MockResponse(**kwargs)
    for name in kwargs:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"status_code": "200"}, TypeError, "status_code must be an int, not str"),
        ({"status_code": True}, TypeError, "status_code must be an int, not bool"),
        ({"status_code": 99}, ValueError, "from 100 to 599, not 99"),
        ({"status_code": 600}, ValueError, "from 100 to 599, not 600"),
        ({"http_version": "HTTP/3"}, ValueError, "'HTTP/3'"),
        ({"content": 12}, TypeError, "content must be bytes or str, not int"),
        ({"text": b"x"}, TypeError, "text must be a str, not bytes"),
        ({"headers": "X: y"}, TypeError, "headers must be a mapping or"),
        ({"headers": 5}, TypeError, "headers must be a mapping or"),
        ({"headers": [("a", "b", "c")]}, TypeError, "headers must be a mapping or"),
        ({"headers": {"Bad Name": "x"}}, ValueError, "invalid header name"),
        ({"headers": {"X": "a\r\nInjected: 1"}}, ValueError, "invalid header value"),
        ({"reason_phrase": "OK\r\n"}, ValueError, "reason_phrase"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    """Wrong input fails in the constructor, naming what was given."""
    with pytest.raises(error, match=match):
        MockResponse(**kwargs)


@pytest.mark.asyncio
async def test_build_response_decodes() -> None:
    """build_response: a gzip body is decoded like one from the network."""
    mock = MockResponse(headers={"Content-Encoding": "gzip"}, content=gzip.compress(b"hello"))
    response = mock.build_response(_request())
    assert await response.aread() == b"hello"
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.asyncio
async def test_build_response_fields() -> None:
    """build_response carries status, reason, version, request and URL."""
    request = _request(url="http://api.test/x?y=1")
    mock = MockResponse(418, http_version="HTTP/2", reason_phrase="Teapot", text="t")
    response = mock.build_response(request)
    assert (response.status_code, response.reason_phrase) == (418, "Teapot")
    assert response.http_version == "HTTP/2"
    assert response.request is request
    assert response.url == "http://api.test/x?y=1"
    assert await response.aread() == b"t"


@pytest.mark.asyncio
async def test_build_response_default_reason() -> None:
    """Without a reason_phrase the status's standard phrase is used."""
    response = MockResponse(404).build_response(_request())
    assert response.reason_phrase == "Not Found"
    await response.aclose()


@pytest.mark.asyncio
async def test_build_response_streams() -> None:
    """The body can be streamed, raw or decoded."""
    body = bytes(range(256)) * 1024  # several chunks
    response = MockResponse(content=body).build_response(_request())
    assert b"".join([chunk async for chunk in response.aiter_bytes()]) == body
    assert response.is_closed


@pytest.mark.asyncio
async def test_build_response_head_has_no_body() -> None:
    """A response to HEAD has no content, its fields kept (RFC 9110 §9.3.2)."""
    response = MockResponse(text="body").build_response(_request("HEAD"))
    assert await response.aread() == b""
    assert response.headers["content-length"] == "4"


@pytest.mark.asyncio
async def test_build_response_max_response_size() -> None:
    """max_response_size applies to the raw body."""
    response = MockResponse(content=b"x" * 11).build_response(_request(), max_response_size=10)
    with pytest.raises(ResponseTooLarge, match="over 10 bytes"):
        await response.aread()


@pytest.mark.asyncio
async def test_build_response_max_decompressed_size() -> None:
    """max_decompressed_size applies to the decoded body."""
    mock = MockResponse(headers={"Content-Encoding": "gzip"}, content=gzip.compress(b"x" * 100))
    response = mock.build_response(_request(), max_decompressed_size=50)
    with pytest.raises(ResponseTooLarge, match="decoded response body over 50 bytes"):
        await response.aread()


# ---------------------------------------------------------------- handlers


@pytest.mark.asyncio
async def test_sync_handler() -> None:
    """A plain function gets the request and answers it."""
    seen: list[Request] = []

    def handler(request: Request) -> MockResponse:
        seen.append(request)
        return MockResponse(text=f"{request.method} {request.url.path}")

    transport = MockTransport(handler)
    request = _request("DELETE", "http://api.test/items/3")
    response = await transport.handle(request)
    assert response.content == b"DELETE /items/3"
    assert seen == [request]


@pytest.mark.asyncio
async def test_async_handler() -> None:
    """An async function is awaited."""

    async def handler(request: Request) -> MockResponse:
        return MockResponse(json={"query": request.url.query})

    transport = MockTransport(handler)
    response = await transport.handle(_request(url="http://api.test/?q=1"))
    assert json.loads(response.content) == {"query": "q=1"}


@pytest.mark.asyncio
async def test_handler_exception_propagates() -> None:
    """What a handler raises reaches the caller; an HTTPError gets its request."""

    def handler(request: Request) -> MockResponse:
        raise ConnectError("connection refused")

    transport = MockTransport(handler)
    request = _request()
    with pytest.raises(ConnectError, match="connection refused") as info:
        await transport.handle(request)
    assert info.value.request is request
    assert transport.requests == [request]


@pytest.mark.asyncio
async def test_handler_must_return_a_mock_response() -> None:
    """A handler returning anything else is a TypeError naming what it returned."""
    transport = MockTransport(lambda request: 200)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="returned int, not a MockResponse"):
        await transport.handle(_request())


@pytest.mark.asyncio
async def test_single_response_answers_everything() -> None:
    """One MockResponse answers every request, the same object each time."""
    canned = MockResponse(204)
    transport = MockTransport(canned)
    for method in ("GET", "POST", "PUT"):
        assert await transport.handle(_request(method)) is canned
    assert transport.calls == 3


@pytest.mark.asyncio
async def test_single_exception_raised_every_time() -> None:
    """One exception instance is raised for every request, carrying the latest request."""
    transport = MockTransport(ConnectError("down"))
    for path in ("/a", "/b"):
        request = _request(url="http://api.test" + path)
        with pytest.raises(ConnectError, match="down") as info:
            await transport.handle(request)
        assert info.value.request is request
        # no traceback piling up: one frame from handle, one from _answer
        tb_depth = 0
        tb = info.value.__traceback__
        while tb is not None:
            tb_depth += 1
            tb = tb.tb_next
        assert tb_depth < 6


@pytest.mark.asyncio
async def test_exception_class_is_instantiated() -> None:
    """An exception class is raised as a fresh instance naming the request."""
    transport = MockTransport(ReadTimeout)
    with pytest.raises(ReadTimeout, match=r"GET http://api\.test/items") as info:
        await transport.handle(_request())
    assert info.value.request is not None


# ---------------------------------------------------------------- sequences


@pytest.mark.asyncio
async def test_sequence_replayed_in_order() -> None:
    """A list answers one request per item, exceptions raised in their turn."""
    first, third = MockResponse(503), MockResponse(200, text="ok")
    transport = MockTransport([first, ConnectError("reset"), third])
    assert await transport.handle(_request()) is first
    with pytest.raises(ConnectError, match="reset"):
        await transport.handle(_request())
    assert await transport.handle(_request()) is third


@pytest.mark.asyncio
async def test_sequence_of_handlers() -> None:
    """Items may be handlers too."""
    transport = MockTransport(
        (lambda r: MockResponse(text=r.method), MockResponse(202))  # tuple: any iterable
    )
    assert (await transport.handle(_request("PATCH"))).content == b"PATCH"
    assert (await transport.handle(_request())).status_code == 202


@pytest.mark.asyncio
async def test_sequence_exhausted() -> None:
    """Past the last item: MockTransportError saying how many were given and which request."""
    transport = MockTransport([MockResponse(), MockResponse()])
    await transport.handle(_request())
    await transport.handle(_request())
    request = _request("POST", "http://api.test/late?x=1")
    with pytest.raises(MockTransportError) as info:
        await transport.handle(request)
    assert str(info.value) == (
        "no more responses: 2 were given, request 3 was POST http://api.test/late?x=1"
    )
    assert info.value.request is request
    with pytest.raises(MockTransportError, match="request 4 was GET"):
        await transport.handle(_request())
    assert transport.calls == 4


# ---------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("key", "method", "url"),
    [
        ("GET /items", "GET", "http://api.test/items"),
        ("GET /items", "GET", "http://other.test:8080/items?page=2"),
        ("get /items", "GET", "http://api.test/items"),
        ("/items", "DELETE", "http://api.test/items"),
        ("GET /items?page=2", "GET", "http://api.test/items?page=2"),
        ("/items?page=2", "POST", "http://api.test/items?page=2"),
        ("GET http://api.test/items", "GET", "http://api.test/items?page=2"),
        ("GET http://api.test/items?page=2", "GET", "http://api.test/items?page=2"),
        ("http://api.test:80/items", "PUT", "http://api.test/items"),
        ("GET https://api.test/items", "GET", "https://api.test:443/items"),
        ("/caf\u00e9", "GET", "http://api.test/caf%C3%A9"),
        ("/a%20b", "GET", "http://api.test/a b"),
    ],
)
@pytest.mark.asyncio
async def test_route_key_forms(key: str, method: str, url: str) -> None:
    """Every key form matches the requests it describes."""
    canned = MockResponse()
    transport = MockTransport({key: canned})
    assert await transport.handle(_request(method, url)) is canned


@pytest.mark.parametrize(
    ("key", "method", "url"),
    [
        ("GET /items", "POST", "http://api.test/items"),
        ("GET /items", "GET", "http://api.test/items/"),
        ("/items?page=2", "GET", "http://api.test/items?page=3"),
        ("/items?page=2", "GET", "http://api.test/items"),
        ("/items?", "GET", "http://api.test/items?page=2"),
        ("/items?a=1&b=2", "GET", "http://api.test/items?b=2&a=1"),
        ("GET http://api.test/items", "GET", "https://api.test/items"),
        ("GET http://api.test/items", "GET", "http://api.test:8080/items"),
        ("GET http://api.test/items", "GET", "http://other.test/items"),
    ],
)
@pytest.mark.asyncio
async def test_route_key_mismatches(key: str, method: str, url: str) -> None:
    """Method, path, exact query and origin must all agree where the key names them."""
    transport = MockTransport({key: MockResponse()})
    with pytest.raises(MockTransportError, match="no route matches"):
        await transport.handle(_request(method, url))


ROUTES = {
    "/items": MockResponse(200),
    "GET /items": MockResponse(201),
    "/items?page=2": MockResponse(202),
    "GET /items?page=2": MockResponse(203),
    "http://api.test/items": MockResponse(204),
    "GET http://api.test/items": MockResponse(205),
    "http://api.test/items?page=2": MockResponse(206),
    "GET http://api.test/items?page=2": MockResponse(207),
}


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "http://api.test/items?page=2", 207),
        ("POST", "http://api.test/items?page=2", 206),
        ("GET", "http://api.test/items?page=3", 205),
        ("POST", "http://api.test/items", 204),
        ("GET", "http://b.test/items?page=2", 203),
        ("PUT", "http://b.test/items?page=2", 202),
        ("GET", "http://b.test/items", 201),
        ("PUT", "http://b.test/items?page=9", 200),
    ],
)
@pytest.mark.asyncio
async def test_route_precedence(method: str, url: str, status: int) -> None:
    """The most specific key wins: origin, then exact query, then method."""
    transport = MockTransport(ROUTES)
    assert (await transport.handle(_request(method, url))).status_code == status


@pytest.mark.asyncio
async def test_precedence_ignores_key_order() -> None:
    """Specificity, not insertion order, decides."""
    transport = MockTransport({"/x": MockResponse(200), "POST /x": MockResponse(201)})
    assert (await transport.handle(_request("POST", "http://a.test/x"))).status_code == 201
    assert (await transport.handle(_request("GET", "http://a.test/x"))).status_code == 200


@pytest.mark.asyncio
async def test_route_values_may_raise_or_handle() -> None:
    """Route values may be exceptions or handlers (sync or async)."""

    async def echo(request: Request) -> MockResponse:
        return MockResponse(content=request.content or b"")

    transport = MockTransport(
        {"GET /down": ConnectError("refused"), "POST /echo": echo, "/slow": ReadTimeout}
    )
    with pytest.raises(ConnectError, match="refused"):
        await transport.handle(_request(url="http://a.test/down"))
    with pytest.raises(ReadTimeout):
        await transport.handle(_request(url="http://a.test/slow"))
    response = await transport.handle(_request("POST", "http://a.test/echo", content=b"hi"))
    assert response.content == b"hi"


@pytest.mark.asyncio
async def test_unmatched_request_names_request_and_keys() -> None:
    """No route: MockTransportError with the method, the URL and every known key."""
    transport = MockTransport({"GET /old": MockResponse(301), "POST /new": MockResponse()})
    request = _request("PUT", "http://api.test/nowhere?x=1")
    with pytest.raises(MockTransportError) as info:
        await transport.handle(request)
    assert str(info.value) == (
        "no route matches PUT http://api.test/nowhere?x=1; known keys: 'GET /old', 'POST /new'"
    )
    assert info.value.request is request
    assert transport.requests == [request]


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        (None, TypeError, "not NoneType"),
        (200, TypeError, "not int: 200"),
        ("GET /x", TypeError, "not str"),
        (b"x", TypeError, "not bytes"),
        (MockResponse, TypeError, "not the class MockResponse"),
        ([], ValueError, "must not be empty"),
        ({}, ValueError, "must not be empty"),
        ([MockResponse(), 42], TypeError, "item 1 must be a MockResponse.*not int"),
        ({"GET /x": "ok"}, TypeError, "the value of 'GET /x' must be .*not str"),
        ({1: MockResponse()}, TypeError, "route keys must be str, not int"),
        ({"GET": MockResponse()}, ValueError, "route key 'GET' must be"),
        ({"GET x": MockResponse()}, ValueError, "route key 'GET x' must be"),
        ({"GET /x y": MockResponse()}, ValueError, "route key 'GET /x y' must be"),
        ({"G(T /x": MockResponse()}, ValueError, "is not an HTTP method"),
        ({"GET ftp://h/x": MockResponse()}, ValueError, "unsupported URL scheme"),
        ({"GET /x": MockResponse(), "get /x": MockResponse()}, ValueError, "the same route"),
    ],
)
def test_bad_constructor_input(given: Any, error: type[Exception], match: str) -> None:
    """Anything the transport cannot answer with fails at construction, named."""
    with pytest.raises(error, match=match):
        MockTransport(given)


# ---------------------------------------------------------------- recording and bodies


@pytest.mark.asyncio
async def test_requests_recorded_in_order() -> None:
    """``requests`` holds every request handled, failed ones included; ``calls`` counts them."""
    transport = MockTransport([MockResponse(), ConnectError("x"), MockResponse()])
    sent = [_request(url=f"http://a.test/{n}") for n in range(3)]
    await transport.handle(sent[0])
    with pytest.raises(ConnectError):
        await transport.handle(sent[1])
    await transport.handle(sent[2])
    assert transport.requests == sent
    assert transport.calls == 3
    assert repr(transport) == "<MockTransport [3 calls]>"


async def _chunks(*parts: Any) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.asyncio
async def test_streamed_body_read_into_content() -> None:
    """A streamed body is read first; the handler and ``requests`` see it in ``content``."""
    bodies: list[bytes | None] = []

    def handler(request: Request) -> MockResponse:
        assert request.stream is None
        bodies.append(request.content)
        return MockResponse()

    transport = MockTransport(handler)
    request = Request(
        "POST",
        URL("http://api.test/upload"),
        Headers({"X-Id": "7"}),
        stream=_chunks(b"part 1, ", bytearray(b"part 2")),
    )
    request.extensions["marker"] = True
    await transport.handle(request)
    assert bodies == [b"part 1, part 2"]
    recorded = transport.requests[0]
    assert recorded.content == b"part 1, part 2"
    assert (recorded.method, recorded.url) == ("POST", request.url)
    assert recorded.headers["x-id"] == "7"
    assert recorded.extensions["marker"] is True


@pytest.mark.asyncio
async def test_streamed_body_must_be_bytes() -> None:
    """A stream yielding anything but bytes is a TypeError."""

    async def bad() -> AsyncIterator[Any]:
        yield "text"

    transport = MockTransport(MockResponse())
    with pytest.raises(TypeError, match="must yield bytes, not str"):
        await transport.handle(_request("POST", stream=bad()))


@pytest.mark.asyncio
async def test_aclose_is_harmless() -> None:
    """aclose() exists and does nothing, as often as called."""
    transport = MockTransport(MockResponse())
    await transport.aclose()
    await transport.aclose()
    assert (await transport.handle(_request())).status_code == 200
