"""Shared pieces of the client tests: an app on loopback that records, a trace recorder.

``serve_routes`` runs aiohttp routes on a loopback port and records what each
request looked like (``serve_app`` runs any aiohttp app there);
``TraceRecorder`` is a ``trace=`` callback that keeps every event.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@dataclass
class Seen:
    """What a :func:`serve_routes` server saw, request by request."""

    requests: list[web.Request] = field(default_factory=list)
    peers: list[object] = field(default_factory=list)  #: the client address of each
    cookies: list[str | None] = field(default_factory=list)  #: the Cookie field of each


@contextlib.asynccontextmanager
async def serve_routes(routes: list[web.RouteDef]) -> AsyncIterator[tuple[str, Seen]]:
    """Serve ``routes`` on a loopback port; yield the base URL and what was seen."""
    seen = Seen()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        await request.read()
        transport = request.transport
        seen.peers.append(transport.get_extra_info("peername") if transport else None)
        seen.cookies.append(request.headers.get("Cookie"))
        seen.requests.append(request)
        return await handler(request)  # type: ignore[no-any-return]

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    async with serve_app(app) as url:
        yield url, seen


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, **runner_options: Any) -> AsyncIterator[str]:
    """Serve ``app`` on a loopback port; yield its base URL.

    ``runner_options`` go to its ``web.AppRunner`` (``access_log=None``,
    ``shutdown_timeout=0.1``, ``handler_cancellation=True``...).
    """
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class TraceRecorder:
    """A ``trace=`` callback keeping every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.events.append((name, info))

    def names(self) -> list[str]:
        """Return the event names, in order."""
        return [name for name, _ in self.events]

    def named(self, name: str) -> list[dict[str, Any]]:
        """Return the infos of the events called ``name``, in order."""
        return [info for n, info in self.events if n == name]

    def one(self, name: str) -> dict[str, Any]:
        """Return the info of the only event called ``name``."""
        (info,) = self.named(name)
        return info
