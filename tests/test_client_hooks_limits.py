"""Event hooks, size limits, InsecureRequestWarning and install_uvloop (issue 9)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import hyperhttp
import pytest
from aiohttp import web

from tests.servers.routes import serve_routes

pytestmark = pytest.mark.asyncio


async def _echo_headers(request: web.Request) -> web.Response:
    return web.json_response({k.lower(): v for k, v in request.headers.items()})


def _flaky(failures: int) -> Any:
    state = {"left": failures}

    async def handler(request: web.Request) -> web.Response:
        if state["left"]:
            state["left"] -= 1
            return web.Response(status=503, headers={"Retry-After": "0"})
        return await _echo_headers(request)

    return handler


async def test_request_hooks_run_per_attempt_on_a_fresh_copy() -> None:
    """Signing with retries: each network attempt is signed anew; nothing accumulates."""
    attempts: list[int] = []

    def sign(request: hyperhttp.Request) -> None:
        attempts.append(len(attempts) + 1)
        assert "x-signature" not in request.headers  # a fresh copy per attempt
        request.headers["X-Signature"] = f"{request.method} {request.url.path} #{len(attempts)}"

    async def stamp(request: hyperhttp.Request) -> None:
        await asyncio.sleep(0)
        request.headers["X-Async"] = "yes"

    async with serve_routes([web.get("/r", _flaky(2))]) as (url, seen):
        policy = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.001)
        hooks = {"request": [sign, stamp]}
        async with hyperhttp.Client(event_hooks=hooks, retry=policy) as client:
            response = await client.get(f"{url}/r")
    assert attempts == [1, 2, 3]
    assert [r.headers.get("X-Signature") for r in seen.requests] == [
        "GET /r #1",
        "GET /r #2",
        "GET /r #3",
    ]
    assert response.json()["x-async"] == "yes"


async def test_response_hooks_see_the_head_before_the_body() -> None:
    seen_in_hook: list[tuple[int, bool]] = []

    async def check(response: hyperhttp.Response) -> None:
        try:
            _ = response.content
            read = True
        except hyperhttp.ResponseNotRead:
            read = False
        seen_in_hook.append((response.status_code, read))

    async def body(request: web.Request) -> web.Response:
        return web.Response(body=b"z" * 100_000)

    async with (
        serve_routes([web.get("/b", body)]) as (url, _),
        hyperhttp.Client(event_hooks={"response": [check]}) as client,
    ):
        response = await client.get(f"{url}/b")
    assert seen_in_hook == [(200, False)]
    assert len(response.content) == 100_000


async def test_hook_errors_propagate_and_release_the_connection() -> None:
    def refuse(response: hyperhttp.Response) -> None:
        response.raise_for_status()

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, body=b"n" * 50_000)

    async with (
        serve_routes([web.get("/m", missing)]) as (url, _),
        hyperhttp.Client(event_hooks={"response": [refuse]}) as client,
    ):
        with pytest.raises(hyperhttp.HTTPStatusError):
            await client.get(f"{url}/m")
        assert client.pool_stats().in_use == 0


async def test_hooks_fire_for_each_redirect_hop() -> None:
    urls: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/end"})

    hooks = {
        "request": [lambda request: urls.append(f"> {request.url.path}")],
        "response": [lambda response: urls.append(f"< {response.status_code}")],
    }
    routes = [web.get("/start", moved), web.get("/end", _echo_headers)]
    async with (
        serve_routes(routes) as (url, _),
        hyperhttp.Client(event_hooks=hooks) as client,
    ):
        await client.get(f"{url}/start")
    assert urls == ["> /start", "< 302", "> /end", "< 200"]


@pytest.mark.parametrize(
    ("hooks", "error"),
    [
        ({"requests": []}, ValueError),
        ({"request": "not a list"}, TypeError),
        ({"response": [42]}, TypeError),
        (["request"], TypeError),
    ],
)
async def test_bad_hooks_are_refused(hooks: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        hyperhttp.Client(event_hooks=hooks)


async def test_decompressed_size_is_limited_by_default() -> None:
    bomb = gzip.compress(b"\0" * (65 * 1024 * 1024))  # about 64 KiB on the wire

    async def gz(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    async with serve_routes([web.get("/bomb", gz)]) as (url, _):
        async with hyperhttp.Client() as client:
            with pytest.raises(hyperhttp.ResponseTooLarge, match="67108864"):
                await client.get(f"{url}/bomb")
            async with client.stream("GET", f"{url}/bomb") as response:
                with pytest.raises(hyperhttp.ResponseTooLarge):
                    async for _ in response.aiter_bytes():
                        pass
        async with hyperhttp.Client(max_decompressed_size=None) as client:
            assert len((await client.get(f"{url}/bomb")).content) == 65 * 1024 * 1024
        async with hyperhttp.Client(max_response_size=1000) as client:
            with pytest.raises(hyperhttp.ResponseTooLarge, match="1000"):
                await client.get(f"{url}/bomb")


async def test_text_and_lines_iterators() -> None:
    async def lines(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        for piece in (b"caf\xc3", b"\xa9\nsecond li", b"ne\r\nthird"):
            await response.write(piece)
        await response.write_eof()
        return response

    async with (
        serve_routes([web.get("/t", lines)]) as (url, _),
        hyperhttp.Client() as client,
    ):
        async with client.stream("GET", f"{url}/t") as response:
            text = "".join([piece async for piece in response.aiter_text()])
        async with client.stream("GET", f"{url}/t") as response:
            got = [line async for line in response.aiter_lines()]
    assert text == "café\nsecond line\r\nthird"
    assert got == ["café", "second line", "third"]


async def test_install_uvloop() -> None:
    policy = asyncio.get_event_loop_policy()
    try:
        assert hyperhttp.install_uvloop() is True  # uvloop is in the test environment
        import uvloop

        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    finally:
        asyncio.set_event_loop_policy(policy)
