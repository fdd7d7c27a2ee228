"""AiohttpResolver: an aiohttp client session resolves through a hyperhttp-dns Resolver."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from hyperhttp_dns import Address, Answer, ResolveError, Resolver
from hyperhttp_dns.aiohttp_resolver import AiohttpResolver

pytestmark = pytest.mark.asyncio


class OneName:
    """Knows one name, service.test, at 127.0.0.1 (no real DNS server answers for it)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def lookup(self, host: str, family: int) -> Answer:
        self.calls.append(host)
        if host != "service.test":
            raise ResolveError(host, "Name or service not known", socket.EAI_NONAME)
        return Answer((Address(socket.AF_INET, "127.0.0.1", 0),))


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request.host}")


async def test_aiohttp_session_resolves_through_our_resolver() -> None:
    """A name only our backend knows reaches the loopback server through aiohttp."""
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    backend = OneName()
    try:
        resolver = AiohttpResolver(Resolver(backend))
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(2):
                async with session.get(f"http://service.test:{port}/") as response:
                    assert response.status == 200
                    assert await response.text() == f"hello service.test:{port}"
            with pytest.raises(aiohttp.ClientConnectorError):
                await session.get(f"http://unknown.test:{port}/")
        assert backend.calls == ["service.test", "unknown.test"]  # the second GET hit our cache
    finally:
        await runner.cleanup()


async def test_adapter_results_and_ownership() -> None:
    """resolve() returns aiohttp's ResolveResult dicts; close() closes only an owned resolver."""
    ours = Resolver(OneName())
    adapter = AiohttpResolver(ours)
    (result,) = await adapter.resolve("service.test", 8080, socket.AF_INET)
    assert result["hostname"] == "service.test"
    assert (result["host"], result["port"], result["family"]) == ("127.0.0.1", 8080, socket.AF_INET)
    await adapter.close()
    assert await ours.resolve("service.test", 1)  # still open: the caller owns it
    await ours.aclose()
    owning = AiohttpResolver()
    await owning.close()
    with pytest.raises(RuntimeError, match="closed"):
        await owning.resolver.resolve("service.test", 1)
