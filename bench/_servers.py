"""Benchmark servers, run in their own process: ``python bench/_servers.py aiohttp|raw``.

- ``aiohttp``: an aiohttp.web application (the seed's server).
- ``raw``: an asyncio Protocol answering every request with a prebuilt
  response (on uvloop when installed), so the client is the bottleneck.

Both serve ``/size/<n>`` with an n-byte body and print the port on stdout.
"""

from __future__ import annotations

import asyncio
import sys
from typing import ClassVar

SIZES = (200, 10 * 1024, 1024 * 1024)


def _body(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


async def _aiohttp() -> None:
    from aiohttp import web

    bodies = {str(size): _body(size) for size in SIZES}

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.match_info["n"]], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/size/{n}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


class _Raw(asyncio.Protocol):
    responses: ClassVar[dict[bytes, bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            line_end = buffer.find(b"\r\n")
            target = buffer[:line_end].split(b" ")[1]
            self.transport.write(self.responses.get(target, self.responses[b"404"]))
            buffer = buffer[end + 4 :]
        self.buffer = buffer


async def _raw() -> None:
    for size in SIZES:
        _Raw.responses[b"/size/%d" % size] = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Date: Mon, 23 Nov 2026 22:00:00 GMT\r\nServer: raw\r\n\r\n" % size
        ) + _body(size)
    _Raw.responses[b"404"] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    server = await asyncio.get_running_loop().create_server(_Raw, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def main() -> None:
    kind = sys.argv[1]
    if kind == "raw":
        try:
            import uvloop
        except ImportError:
            asyncio.run(_raw())
        else:
            uvloop.run(_raw())
    else:
        asyncio.run(_aiohttp())


if __name__ == "__main__":
    main()
