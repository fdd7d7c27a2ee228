"""A password in a URL's userinfo is never shown, yet always used (issue 15, defect 6).

Every place a URL is shown (``str``/``repr`` of URL, Request and Response,
the messages of HTTPStatusError, TooManyRedirects, InvalidURL and
StreamConsumed, every trace event) hides the password as ``***``. The places
that put a URL on the wire or resolve one (the Basic credentials taken from
the URL, redirect Location resolution, ``URL.join``, URL equality) use the
real value.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import hyperhttp
import pytest
import pytest_asyncio
from aiohttp import web
from hyperhttp import URL, InvalidURL
from hyperhttp._redirects import redirect_url

from tests.servers.routes import TraceRecorder, serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

USER = "alice"
SECRET = "S3cr3t-Pw"  # noqa: S105 - a test password


def _assert_hidden(*shown: object) -> None:
    for item in shown:
        text = item if isinstance(item, str) else repr(item)
        assert SECRET not in text, text
        assert SECRET not in str(item), str(item)


def _with_secret(url: str) -> str:
    return url.replace("://", f"://{USER}:{SECRET}@", 1)


async def _routes() -> list[web.RouteDef]:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "-"))

    async def hop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "end?x=1"})  # relative

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def again(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/end"})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=503)

    async def bad_location(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "http://[::1/"})

    return [
        web.get("/end", echo),
        web.get("/hop", hop),
        web.get("/loop", loop),
        web.post("/again", again),
        web.get("/missing", missing),
        web.get("/busy", busy),
        web.get("/bad-location", bad_location),
    ]


def test_url_str_and_repr_hide_the_password() -> None:
    """Str and repr show ``user:***@``; the real value stays on the URL for the wire."""
    url = URL(f"http://{USER}:{SECRET}@a.test:8080/p?q=1#f")
    _assert_hidden(url, str(url), f"{url}", [url])
    assert str(url) == f"http://{USER}:***@a.test:8080/p?q=1#f"
    assert url.password == SECRET
    assert url.unredacted == f"http://{USER}:{SECRET}@a.test:8080/p?q=1#f"
    assert str(URL(f"http://{USER}@a.test/")) == f"http://{USER}@a.test/"  # no password: as is


def test_resolution_and_equality_use_the_real_password() -> None:
    """Joining and redirects keep the password; URLs differing in it are not equal."""
    url = URL(f"http://{USER}:{SECRET}@a.test/x/y")
    for joined in (url.join("z"), redirect_url(url, "../z"), redirect_url(url, "/z?q")):
        assert joined.password == SECRET, joined.unredacted
    # A network-path reference brings its own authority (RFC 3986 §5.2.2): no userinfo.
    assert redirect_url(url, "//a.test/z").password == ""
    assert url.copy_with(path="/other").password == SECRET
    assert url != URL(f"http://{USER}:other@a.test/x/y")
    assert url == URL(f"http://{USER}:{SECRET}@a.test/x/y")
    assert hash(url) == hash(URL(f"http://{USER}:{SECRET}@a.test/x/y"))
    assert url == url.unredacted


@pytest.mark.parametrize(
    "text",
    [
        f"http://{USER}:{SECRET}@[::1/",  # bad bracketed host
        f"http://{USER}:{SECRET}@a.test:99999/",  # port out of range
        f"http://{USER}:{SECRET}@a.test:/",  # empty port
        f"ftp://{USER}:{SECRET}@a.test/",  # scheme
        f"http://{USER}:{SECRET}@/",  # no host
        f"http://{USER}:{SECRET}@a..test/",  # bad host
        f"http://{USER}:{SECRET}@[fe80::1%25eth0]/",  # zone identifier
        f"http://{USER}:{SECRET}@[::zz]/",  # bad IPv6
        f"//{USER}:{SECRET}@a.test/",  # no scheme
        f"http://{USER}:{SECRET}@a.test/a\r\nb",  # controls
        f"http://{USER}:{SECRET}\uff03@a.test/",  # urlsplit's NFKC message quotes the netloc
        f"http://{USER}:{SECRET}@a.test:port/",  # and its port message
        f"http://{USER}:{SECRET}@\u00e9\u0301\u0000x.test/",
    ],
)
def test_invalid_url_messages_hide_the_password(text: str) -> None:
    """InvalidURL quotes the URL it refuses, with the password hidden."""
    with pytest.raises(InvalidURL) as caught:
        URL(text)
    _assert_hidden(caught.value, str(caught.value), caught.value.args)


@pytest.mark.asyncio
async def test_client_relative_url_message_hides_the_password() -> None:
    """A scheme-relative URL with no base_url: InvalidURL, password hidden."""
    async with hyperhttp.Client() as client:
        with pytest.raises(InvalidURL) as caught:
            await client.get(f"//{USER}:{SECRET}@127.0.0.1:1/")
    _assert_hidden(caught.value)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[str]:
    async with serve_routes(await _routes()) as (url, _seen):
        yield _with_secret(url)


@pytest.mark.asyncio
async def test_responses_errors_and_trace_never_show_the_password(server: str) -> None:
    """Drive each message and trace event with a password in the URL."""
    trace = TraceRecorder()
    retry = hyperhttp.RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.001)
    shown: list[object] = []
    async with hyperhttp.Client(trace=trace, retry=retry, max_redirects=2) as client:
        # A relative redirect on the same origin: the credentials still go (taken from
        # the real URL), and the final URL still holds the real password.
        response = await client.get(f"{server}/hop")
        expected = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        assert response.text == expected
        assert response.url is not None
        assert response.url.password == SECRET
        shown += [response, response.request, response.url, response.history[0].url]

        missing = await client.get(f"{server}/missing")
        with pytest.raises(hyperhttp.HTTPStatusError) as status_error:
            missing.raise_for_status()
        shown += [status_error.value, missing.url]

        with pytest.raises(hyperhttp.TooManyRedirects) as redirects:
            await client.get(f"{server}/loop")
        shown += [redirects.value, *(r.url for r in redirects.value.history)]

        async def body() -> AsyncIterator[bytes]:
            yield b"once"

        with pytest.raises(hyperhttp.StreamConsumed) as consumed:
            await client.post(f"{server}/again", content=body())
        shown.append(consumed.value)

        with pytest.raises(InvalidURL) as bad:
            await client.get(f"{server}/bad-location")
        shown.append(bad.value)

        busy = await client.get(f"{server}/busy")  # retried once: a "retry" event
        assert busy.status_code == 503

        async with client.stream("GET", f"{server}/end") as streamed:
            shown.append(streamed)
    names = {name for name, _ in trace.events}
    assert {"request.sent", "response.headers", "response.end", "redirect", "retry"} <= names
    shown += [f"{name} {info}" for name, info in trace.events]
    _assert_hidden(*shown)
    # The trace names the URL, password hidden (what docs/tracing.md's OpenTelemetry
    # example exports as url.full).
    sent = [info["url"] for name, info in trace.events if name == "request.sent"]
    assert f"{USER}:***@" in sent[0]


@pytest.mark.asyncio
async def test_mock_transport_messages_hide_the_password() -> None:
    """MockTransport's 'no route' error names the request URL, password hidden."""
    transport = hyperhttp.MockTransport({"GET /known": hyperhttp.MockResponse(200)})
    async with hyperhttp.Client(transport=transport) as client:
        with pytest.raises(hyperhttp.HTTPError) as caught:
            await client.get(f"http://{USER}:{SECRET}@api.test/unknown")
    _assert_hidden(caught.value)
