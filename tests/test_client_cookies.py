"""Cookies through the client (issue 8): the jar, per-request cookies, redirects, HTTP/2."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from aiohttp import web

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest
from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def _serve(routes: list[web.RouteDef]) -> AsyncIterator[tuple[str, list[str | None]]]:
    """Serve ``routes`` on loopback; yield the URL and the Cookie field of each request."""
    async with serve_routes(routes) as (url, seen):
        yield url, seen.cookies


def _setting(*values: str, status: int = 200, location: str | None = None) -> Any:
    async def handler(request: web.Request) -> web.Response:
        response = web.Response(status=status, text="ok")
        for value in values:
            response.headers.add("Set-Cookie", value)
        if location is not None:
            response.headers["Location"] = location
        return response

    return handler


async def _plain(request: web.Request) -> web.Response:
    return web.Response(text="plain")


async def test_set_cookie_then_sent_back_with_path_and_deletion() -> None:
    routes = [
        web.get("/login", _setting("session=abc; Path=/", "pref=dark; Path=/app; HttpOnly")),
        web.get("/", _plain),
        web.get("/app/page", _plain),
        web.get("/logout", _setting("session=; Max-Age=0; Path=/")),
    ]
    async with _serve(routes) as (url, seen), hyperhttp.Client() as client:
        await client.get(f"{url}/login")
        await client.get(f"{url}/")
        await client.get(f"{url}/app/page")
        assert client.cookies["session"] == "abc"
        await client.get(f"{url}/logout")
        await client.get(f"{url}/app/page")
        assert "session" not in client.cookies
    assert seen == [None, "session=abc", "pref=dark; session=abc", "session=abc", "pref=dark"]


async def test_secure_cookies_stay_off_plain_http_and_malformed_lines_are_ignored() -> None:
    routes = [
        web.get("/set", _setting("s=1; Secure", "=novalue", "noequals", "ok=1; Expires=garbage")),
        web.get("/", _plain),
    ]
    async with _serve(routes) as (url, seen), hyperhttp.Client() as client:
        await client.get(f"{url}/set")
        await client.get(f"{url}/")
    assert seen[-1] == "ok=1"


async def test_client_and_per_request_cookies() -> None:
    routes = [web.get("/", _plain)]
    async with _serve(routes) as (url, seen):
        async with hyperhttp.Client(cookies={"a": "1"}) as client:
            await client.get(f"{url}/")
            await client.get(f"{url}/", cookies={"b": "2"})
            await client.get(f"{url}/", headers={"Cookie": "own=3"})
            assert dict(client.cookies) == {"a": "1"}  # per-request cookies are not kept
        jar = hyperhttp.Cookies()
        jar.set("c", "3", domain="127.0.0.1")
        async with hyperhttp.Client(cookies=jar) as client:
            await client.get(f"{url}/")
    assert seen == ["a=1", "a=1; b=2", "own=3; a=1", "c=3"]


async def test_cookies_set_inside_a_redirect_chain_go_to_the_next_hop() -> None:
    async with _serve([web.get("/end", _plain)]) as (b_url, b_seen):
        routes = [
            web.get("/start", _setting("hop=1; Path=/", status=302, location="/next")),
            web.get("/next", _setting("hop2=2", status=302, location=f"{b_url}/end")),
        ]
        async with _serve(routes) as (a_url, a_seen), hyperhttp.Client() as client:
            response = await client.get(f"{a_url}/start")
    assert response.status_code == 200
    assert a_seen == [None, "hop=1"]
    # Host-only cookies of 127.0.0.1 match its other port too: no ports in cookies (RFC 6265 §8.5).
    assert b_seen == ["hop=1; hop2=2"]


async def test_many_set_cookie_fields_over_http2() -> None:
    def handler(request: ScriptedRequest) -> None:
        h = request.conn.h2
        path = request.headers[b":path"]
        head = [(b":status", b"200")]
        if path == b"/set":
            head += [
                (b"set-cookie", b"x=1"),
                (b"set-cookie", b"y=2; Path=/"),
                (b"set-cookie", b"z=3"),
            ]
        cookie = request.headers.get(b"cookie", b"")
        h.send_headers(request.stream_id, head)
        h.send_data(request.stream_id, cookie, end_stream=True)
        request.conn.open_streams -= 1
        request.conn.flush()

    server = await ScriptedH2Server(handler).start()
    try:
        async with hyperhttp.Client(http1=False) as client:
            await client.get(f"{server.url}/set")
            echoed = await client.get(f"{server.url}/echo")
    finally:
        await server.stop()
    assert sorted(echoed.content.split(b"; ")) == [b"x=1", b"y=2", b"z=3"]


async def test_per_request_cookies_follow_a_redirect_only_within_the_origin() -> None:
    async with _serve([web.get("/end", _plain)]) as (b_url, b_seen):
        routes = [
            web.get("/same", _setting(status=302, location="/end")),
            web.get("/end", _plain),
            web.get("/away", _setting(status=302, location=f"{b_url}/end")),
        ]
        async with _serve(routes) as (a_url, a_seen), hyperhttp.Client() as client:
            await client.get(f"{a_url}/same", cookies={"own": "1"})
            await client.get(f"{a_url}/away", cookies={"own": "1"})
    assert a_seen == ["own=1", "own=1", "own=1"]
    assert b_seen == [None]  # another origin: the request's own cookies stay behind
