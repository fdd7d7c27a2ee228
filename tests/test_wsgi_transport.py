"""The client against a WSGI app in the same process: ``Client(transport=WSGITransport(app))``.

Plain PEP 3333 callables (no framework): what the environ holds, when the
head comes back (the first non-empty chunk), the body pulled as it is read,
``close()`` called on the app's iterable, the app's errors and the
protocol's, and the client's stack (redirects, cookies, decoding, limits)
on top.
"""

from __future__ import annotations

import gzip
import io
import sys
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator

    Environ = dict[str, Any]
    StartResponse = Callable[..., Callable[[bytes], object]]

pytestmark = pytest.mark.asyncio

BASE = "http://test"


def _client(app: Any, **kwargs: Any) -> hyperhttp.Client:
    names = ("raise_app_exceptions", "script_name", "remote_addr", "wsgi_errors")
    transport = hyperhttp.WSGITransport(app, **{k: kwargs.pop(k) for k in names if k in kwargs})
    return hyperhttp.Client(transport=transport, base_url=BASE, **kwargs)


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


async def test_get() -> None:
    """A plain WSGI app answers a GET; the reason phrase is the app's."""
    async with _client(hello) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.reason_phrase == "OK"
    assert response.text == "hello"
    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"] == "text/plain"


async def test_environ_per_pep_3333() -> None:
    """The environ's keys: CGI variables, HTTP_* fields, wsgi.* entries."""
    environs: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environs.append(environ)
        body = environ["wsgi.input"].read()
        start_response("201 Created", [])
        return [body]

    errors = io.StringIO()
    async with _client(app, remote_addr="10.0.0.7", wsgi_errors=errors) as client:
        response = await client.post(
            "/caf%C3%A9/x?q=%20y", content=b"payload", headers={"Content-Type": "text/x-test"}
        )
        await client.get("https://secure.test:8443/", headers=[("X-Two", "a"), ("X-Two", "b")])
    assert response.content == b"payload"
    environ = environs[0]
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/café/x".encode().decode("latin-1")  # PEP 3333 "bytes as str"
    assert environ["QUERY_STRING"] == "q=%20y"
    assert environ["CONTENT_TYPE"] == "text/x-test"
    assert environ["CONTENT_LENGTH"] == "7"
    assert environ["SERVER_NAME"] == "test"
    assert environ["SERVER_PORT"] == "80"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "10.0.0.7"
    assert environ["HTTP_HOST"] == "test"
    assert environ["HTTP_USER_AGENT"].startswith("hyperhttp/")
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.errors"] is errors
    assert (environ["wsgi.multithread"], environ["wsgi.multiprocess"]) == (False, False)
    assert environ["wsgi.run_once"] is False
    second = environs[1]
    assert (second["wsgi.url_scheme"], second["SERVER_PORT"]) == ("https", "8443")
    assert second["HTTP_X_TWO"] == "a,b"
    assert "CONTENT_LENGTH" not in second


async def test_default_wsgi_errors_is_stderr() -> None:
    """Without ``wsgi_errors``, ``wsgi.errors`` is sys.stderr."""
    seen: list[object] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ["wsgi.errors"])
        start_response("204 No Content", [])
        return []

    async with _client(app) as client:
        assert (await client.get("/")).status_code == 204
    assert seen == [sys.stderr]


async def test_streamed_request_body_is_read_whole() -> None:
    """A streamed body (chunked on the wire) arrives whole, with its length."""
    environs: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environs.append(environ)
        length = int(environ["CONTENT_LENGTH"])
        start_response("200 OK", [])
        return [environ["wsgi.input"].read(length)]

    async def body() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    async with _client(app) as client:
        response = await client.put("/", content=body())
    assert response.content == b"one,two"
    assert environs[0]["CONTENT_LENGTH"] == "7"
    assert "HTTP_TRANSFER_ENCODING" not in environs[0]


async def test_script_name() -> None:
    """``script_name`` is SCRIPT_NAME; a path under it loses the prefix in PATH_INFO."""
    seen: list[tuple[str, str]] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append((environ["SCRIPT_NAME"], environ["PATH_INFO"]))
        start_response("200 OK", [])
        return []

    async with _client(app, script_name="/app") as client:
        await client.get("/app/items")
        await client.get("/app")
        await client.get("/application")
    assert seen == [("/app", "/items"), ("/app", ""), ("/app", "/application")]


async def test_lazy_start_response_and_streamed_body() -> None:
    """A generator app calls start_response on its first next(); its chunks come as read."""
    produced: list[int] = []
    closed: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            for n in range(1_000_000):  # bounded; the client closes long before
                produced.append(n)
                yield b"line %d\n" % n
        finally:
            closed.append("closed")

    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert response.status_code == 200
            chunks = response.aiter_raw()
            try:
                assert [await anext(chunks) for _ in range(3)] == [
                    b"line 0\n",
                    b"line 1\n",
                    b"line 2\n",
                ]
                assert len(produced) == 3  # pulled as read, not run ahead
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
        assert closed == ["closed"]


async def test_close_called_after_a_full_read() -> None:
    """PEP 3333: the iterable's close() is called when the body has been read."""
    closed: list[str] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"
            yield b""
            yield b"b"

        def close(self) -> None:
            closed.append("closed")

    def app(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return Body()

    async with _client(app) as client:
        response = await client.get("/")
    assert response.content == b"ab"
    assert closed == ["closed"]


async def test_legacy_write() -> None:
    """The ``write`` callable's data comes before what the iterable yields."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"yielded"]

    async with _client(app) as client:
        response = await client.get("/")
    assert response.content == b"written yielded"


async def test_exc_info_replaces_the_head_before_the_body() -> None:
    """start_response with exc_info before any body: the new status wins."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        try:
            raise KeyError("late failure")
        except KeyError:
            start_response("503 Service Unavailable", [("Retry-After", "1")], sys.exc_info())
        return [b"sorry"]

    async with _client(app) as client:
        response = await client.get("/")
    assert (response.status_code, response.text) == (503, "sorry")


async def test_exc_info_after_the_body_started_reraises() -> None:
    """start_response with exc_info once the head went out re-raises (PEP 3333)."""

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"started"
        try:
            raise KeyError("too late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"  # pragma: no cover

    async with _client(app) as client:
        with pytest.raises(KeyError, match="too late"):
            await client.get("/")


async def test_app_exception_propagates_or_is_a_500() -> None:
    """raise_app_exceptions: the app's error; without: a 500 with an empty body."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise LookupError("no such thing")

    async with _client(app) as client:
        with pytest.raises(LookupError, match="no such thing"):
            await client.get("/")
    async with _client(app, raise_app_exceptions=False) as client:
        response = await client.get("/")
    assert (response.status_code, response.content) == (500, b"")


async def test_app_exception_mid_body() -> None:
    """An exception after the head: the app's, or RemoteProtocolError without raising."""
    closed: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            yield b"half"
            raise LookupError("mid-body")
        finally:
            closed.append("closed")

    async with _client(app) as client:
        with pytest.raises(LookupError, match="mid-body"):
            await client.get("/")
    async with _client(app, raise_app_exceptions=False) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match="after its response started"):
            await client.get("/")
    assert closed == ["closed", "closed"]


@pytest.mark.parametrize(
    ("status", "headers", "body", "match"),
    [
        (None, [], [b"x"], "without calling start_response"),
        ("OK", [], [], "sent status 'OK'"),
        ("99 Odd", [], [], "sent status '99 Odd'"),
        ("200 OK", [("Bad Name", "x")], [], "invalid header name"),
        ("200 OK", [("X", "a\nb")], [], "invalid value"),
        ("200 OK", [("X", "\u20ac")], [], "bad header"),
        ("200 OK", [("Content-Length", "3")], [b"toolong"], "more than its Content-Length of 3"),
        ("200 OK", [("Content-Length", "9")], [b"short"], "after 5 of its Content-Length of 9"),
        ("304 Not Modified", [], [b"body"], "content with a 304"),
        ("200 OK", [], ["text"], "produced str"),
    ],
)
async def test_protocol_errors(
    status: str | None, headers: list[tuple[str, str]], body: list[Any], match: str
) -> None:
    """A WSGI app that breaks PEP 3333 or HTTP framing: RemoteProtocolError."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if status is not None:
            start_response(status, headers)
        return body

    for raise_app_exceptions in (True, False):
        async with _client(app, raise_app_exceptions=raise_app_exceptions) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match=match) as info:
                await client.get("/")
        assert info.value.request is not None


async def test_start_response_twice_is_refused() -> None:
    """A second start_response without exc_info is an error for both sides."""
    told: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        try:
            start_response("200 OK", [])
        except RuntimeError as exc:
            told.append(exc)
        return [b"x"]

    async with _client(app) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match="twice"):
            await client.get("/")
    assert len(told) == 1


async def test_head_has_no_body() -> None:
    """HEAD: the app's body is not delivered (RFC 9110 §9.3.2)."""
    async with _client(hello) as client:
        response = await client.head("/")
    assert response.headers["content-length"] == "5"
    assert response.content == b""


async def test_max_response_size() -> None:
    """A body over max_response_size: ResponseTooLarge."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"x" * 1000] * 10

    async with _client(app, max_response_size=5000) as client:
        with pytest.raises(hyperhttp.ResponseTooLarge, match="over 5000 bytes"):
            await client.get("/")


async def test_client_stack_redirects_cookies_decoding() -> None:
    """Redirects are followed, cookies kept, gzip decoded: the client's layers on top."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/login":
            start_response("302 Found", [("Location", "/home"), ("Set-Cookie", "sid=42; Path=/")])
            return []
        cookie = environ.get("HTTP_COOKIE", "")
        body = gzip.compress(f"home for {cookie}".encode())
        start_response("200 OK", [("Content-Encoding", "gzip")])
        return [body]

    async with _client(app) as client:
        response = await client.get("/login")
    assert response.text == "home for sid=42"
    assert [r.status_code for r in response.history] == [302]
    assert str(response.url) == "http://test/home"


async def test_constructor_checks() -> None:
    """Bad options fail when the transport is built."""
    with pytest.raises(TypeError, match="WSGI application"):
        hyperhttp.WSGITransport(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="script_name"):
        hyperhttp.WSGITransport(hello, script_name="app")
    with pytest.raises(TypeError, match="remote_addr"):
        hyperhttp.WSGITransport(hello, remote_addr=None)  # type: ignore[arg-type]
    assert "WSGITransport" in repr(hyperhttp.WSGITransport(hello))
    async with _client(hello) as client:
        assert client.pool_stats().connections == 0
