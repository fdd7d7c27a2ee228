"""Redirects (issue 8): chains across two origins, methods and bodies, credentials, limits."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from aiohttp import web

from tests.servers.routes import Seen, serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def _serve(routes: list[web.RouteDef]) -> AsyncIterator[tuple[str, Seen]]:
    """Serve ``routes`` on a loopback port; yield the URL and what was seen."""
    async with serve_routes(routes) as served:
        yield served


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "body": body.decode("latin-1"),
            "headers": {k.lower(): v for k, v in request.headers.items()},
        }
    )


def _redirect(status: int, location: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location}, text="moved")

    return handler


async def test_chain_across_two_origins_keeps_history_and_final_url() -> None:
    async with _serve([web.get("/end", _echo)]) as (b_url, b_seen):
        routes = [
            web.get("/start", _redirect(302, "/middle?x=1")),  # absolute-path
            web.get("/middle", _redirect(301, f"{b_url}/end")),  # to the other origin
        ]
        async with _serve(routes) as (a_url, a_seen), hyperhttp.Client() as client:
            response = await client.get(f"{a_url}/start")
    assert response.status_code == 200
    assert str(response.url) == f"{b_url}/end"
    assert [r.status_code for r in response.history] == [302, 301]
    assert [str(r.url) for r in response.history] == [f"{a_url}/start", f"{a_url}/middle?x=1"]
    assert response.json()["path"] == "/end"
    assert [r.path_qs for r in a_seen.requests] == ["/start", "/middle?x=1"]
    assert len(b_seen.requests) == 1


@pytest.mark.parametrize(
    ("status", "method", "expected_method", "keeps_body"),
    [
        (301, "POST", "GET", False),
        (302, "POST", "GET", False),
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (302, "PUT", "GET", False),
        (301, "HEAD", "HEAD", False),
        (303, "HEAD", "HEAD", False),
        (307, "POST", "POST", True),
        (308, "PUT", "PUT", True),
        (307, "DELETE", "DELETE", False),
        (302, "GET", "GET", False),
    ],
)
async def test_method_and_body_per_status(
    status: int, method: str, expected_method: str, keeps_body: bool
) -> None:
    routes = [
        web.route("*", "/from", _redirect(status, "/to")),
        web.route("*", "/to", _echo),
    ]
    body = b"payload" if method in ("POST", "PUT") else None
    async with _serve(routes) as (url, seen), hyperhttp.Client() as client:
        response = await client.request(
            method, f"{url}/from", content=body, headers={"Content-Type": "text/plain"}
        )
    to = seen.requests[-1]
    assert to.path == "/to"
    assert to.method == expected_method
    assert response.history[0].status_code == status
    if expected_method == "HEAD":
        return
    echoed = response.json()
    if keeps_body:
        assert echoed["body"] == "payload"
    else:
        assert echoed["body"] == ""
    # Content-* fields go only when the method changes (and the body with them).
    assert ("content-type" in echoed["headers"]) is (expected_method == method)


async def test_307_with_a_streamed_body_is_a_clear_error_and_nothing_half_sent() -> None:
    routes = [web.post("/from", _redirect(307, "/to")), web.post("/to", _echo)]

    async def body() -> AsyncIterator[bytes]:
        yield b"part one, "
        yield b"part two"

    async with _serve(routes) as (url, seen), hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.StreamConsumed, match="307 redirect"):
            await client.post(f"{url}/from", content=body())
        # Bytes are replayed fine.
        response = await client.post(f"{url}/from", content=b"again")
    assert [r.path for r in seen.requests] == ["/from", "/from", "/to"]
    assert response.json()["body"] == "again"


async def test_credentials_dropped_across_origins_kept_within_one() -> None:
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=1", "X-Other": "kept"}
    async with _serve([web.get("/end", _echo)]) as (b_url, _):
        routes = [
            web.get("/same", _redirect(302, "/end")),
            web.get("/end", _echo),
            web.get("/other", _redirect(302, f"{b_url}/end")),
        ]
        async with _serve(routes) as (a_url, _), hyperhttp.Client() as client:
            same = (await client.get(f"{a_url}/same", headers=secret)).json()["headers"]
            other = (await client.get(f"{a_url}/other", headers=secret)).json()["headers"]
    assert same["authorization"] == "Bearer s3cret"
    assert same["cookie"] == "session=1"
    assert "authorization" not in other
    assert "cookie" not in other
    assert other["x-other"] == "kept"


async def test_relative_scheme_relative_and_fragment() -> None:
    async with _serve([web.get("/b/target", _echo)]) as (b_url, _):
        b_host = b_url.removeprefix("http:")
        routes = [
            web.get("/a/rel", _redirect(302, "../b/target")),  # dot segments, relative path
            web.get("/b/target", _echo),
            web.get("/sr", _redirect(302, f"{b_host}/b/target?q=2")),  # scheme-relative
        ]
        async with _serve(routes) as (a_url, _), hyperhttp.Client() as client:
            rel = await client.get(f"{a_url}/a/rel#frag")
            sr = await client.get(f"{a_url}/sr")
    assert str(rel.url) == f"{a_url}/b/target#frag"  # the fragment is kept (RFC 9110 §10.2.2)
    assert rel.json()["path"] == "/b/target"
    assert str(sr.url) == f"{b_url}/b/target?q=2"


async def test_too_many_redirects_carries_the_history() -> None:
    async def loop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(status=302, headers={"Location": f"/loop/{n + 1}"})

    routes = [web.get("/loop/{n}", loop)]
    async with _serve(routes) as (url, seen), hyperhttp.Client(max_redirects=3) as client:
        with pytest.raises(hyperhttp.TooManyRedirects) as caught:
            await client.get(f"{url}/loop/0")
        assert len(seen.requests) == 4
        assert [str(r.url) for r in caught.value.history] == [f"{url}/loop/{n}" for n in range(4)]
        # Per request: not followed at all; the client's setting stays.
        response = await client.get(f"{url}/loop/0", follow_redirects=False)
        assert response.status_code == 302
        assert response.history == []
    async with _serve(routes) as (url, _), hyperhttp.Client(follow_redirects=False) as client:
        assert (await client.get(f"{url}/loop/5")).status_code == 302


async def test_unsupported_scheme_in_location_is_invalid_url() -> None:
    routes = [web.get("/ftp", _redirect(301, "ftp://127.0.0.1/file"))]
    async with _serve(routes) as (url, _), hyperhttp.Client() as client:
        with pytest.raises(hyperhttp.InvalidURL, match="ftp"):
            await client.get(f"{url}/ftp")


async def test_redirect_without_location_is_returned() -> None:
    async def no_location(request: web.Request) -> web.Response:
        return web.Response(status=302, text="nowhere")

    async with _serve([web.get("/x", no_location)]) as (url, _), hyperhttp.Client() as client:
        response = await client.get(f"{url}/x")
    assert response.status_code == 302
    assert response.text == "nowhere"


async def test_streamed_redirect_chain_reuses_the_connection() -> None:
    routes = [web.get("/from", _redirect(302, "/to")), web.get("/to", _echo)]
    async with _serve(routes) as (url, seen), hyperhttp.Client() as client:
        async with client.stream("GET", f"{url}/from") as response:
            body = await response.aread()
        stats = client.pool_stats()
    assert json.loads(body)["path"] == "/to"
    assert response.history[0].status_code == 302
    peers = set(seen.peers)
    assert len(peers) == 1  # both requests on one connection
    assert stats.in_use == 0


async def test_redirect_trace_event() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    routes = [web.post("/from", _redirect(303, "/to")), web.get("/to", _echo)]
    async with (
        _serve(routes) as (url, _),
        hyperhttp.Client(trace=lambda name, info: events.append((name, info))) as client,
    ):
        await client.post(f"{url}/from", content=b"x")
    (redirect,) = [info for name, info in events if name == "redirect"]
    assert redirect == {"status": 303, "from": f"{url}/from", "to": f"{url}/to", "method": "GET"}
