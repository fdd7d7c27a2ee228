"""The README's examples run as written: against an aiohttp server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

README = Path(__file__).resolve().parent.parent / "README.md"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


@contextlib.asynccontextmanager
async def _serve(handler: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """Serve ``handler`` at / on a loopback port; yield the URL."""
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


def _run(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(source, str(README), "exec"), namespace)  # noqa: S102 (our own README)
    return namespace


@pytest.mark.asyncio
async def test_aiohttp_example_retries_503_then_reads_the_body() -> None:
    """fetch() from the README retries two 503s (Retry-After: 0) and returns the body."""
    hits = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        if hits < 3:
            return web.Response(status=503, headers={"Retry-After": "0"}, text="busy")
        return web.Response(text="hello")

    async with _serve(flaky) as url:
        fetch = _run(_examples()[0])["fetch"]
        async with aiohttp.ClientSession() as session:
            assert await fetch(session, url) == "hello"
        assert hits == 3


@pytest.mark.asyncio
async def test_plain_coroutine_example() -> None:
    """main() from the README retries the flaky coroutine until it succeeds."""
    namespace = _run(_examples()[1])
    namespace["random"].seed(7)
    assert await namespace["main"]() == "done"


@pytest.mark.asyncio
async def test_limiter_example_keeps_the_rate_and_backs_off_on_429() -> None:
    """polite_get() from the README: 429s shrink the host's limit and pause it."""
    hits = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        if hits == 2:
            return web.Response(status=429, headers={"Retry-After": "0"}, text="slow down")
        return web.Response(text="page")

    async with _serve(handler) as url:
        namespace = _run(_examples()[2])
        async with aiohttp.ClientSession() as session:
            texts = [await namespace["polite_get"](session, url) for _ in range(4)]
        assert texts == ["page", "slow down", "page", "page"]
        # Halved once by the 429 (4 -> 2), then +1/2 for the success at full use.
        assert namespace["concurrency"].limit("127.0.0.1") == 2.5
