"""Every ```python block of docs/*.md runs against a loopback server.

Each block is executed in a fresh namespace where ``BASE`` is the base URL of
the aiohttp test app (tests/servers/fixtures.py: /echo, /size/{n},
/status/{code}, /slow, /sleep/{seconds}, ...) plus the two routes the
cookies-and-redirects page needs (/redirect, /cookies/set) and the
Server-Sent Events the streaming page reads (/events), ``H2C`` that of a
cleartext HTTP/2 server, ``PROXY`` that of a forward proxy and ``SOCKS``
that of a SOCKS5 proxy (the scripted one, relaying). ``__name__`` is
not ``"__main__"``, so an example's ``if __name__ == "__main__":`` entry point
(``asyncio.run(main())``, ``install_uvloop()``) is skipped and the test awaits
``main()`` itself, on the test's own loop.

Every block runs (httpx, for the "before" side of the migration guide, is in
the test environment), except docs/tracing.md's, which
tests/test_docs_tracing.py runs with OpenTelemetry's in-memory exporters.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from tests.servers.connect_proxy import ConnectProxy
from tests.servers.fixtures import WebServer, _make_app
from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest
from tests.servers.routes import serve_app
from tests.servers.socks_scripted import ScriptedSocks, socks5_reply

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.asyncio

DOCS = Path(__file__).resolve().parent.parent / "docs"
SKIPPED_PAGES = {"tracing.md"}  # tests/test_docs_tracing.py runs its example
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[Any]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        if page.name in SKIPPED_PAGES:
            continue
        text = page.read_text()
        for match in BLOCK.finditer(text):
            code = match.group(1)
            line = text.count("\n", 0, match.start()) + 2  # the block's first line
            found.append(pytest.param(page, line, code, id=f"{page.name}:{line}"))
    return found


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query.get("to", "/echo"))


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events 1, 2, 3 (then, asked again after 3, a 204: the stream is over)."""
    after = int(request.headers.get("Last-Event-ID") or 0)
    if after >= 3:
        return web.Response(status=204)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"retry: 10\n\n")
    for n in range(after + 1, 4):
        await response.write(b'id: %d\nevent: progress\ndata: {"done": %d}\n\n' % (n, n))
    await response.write_eof()
    return response


async def _set_cookies(request: web.Request) -> web.Response:
    response = web.Response(text="set")
    for name, value in request.query.items():
        response.set_cookie(name, value)
    return response


@pytest_asyncio.fixture
async def docs_server() -> AsyncIterator[str]:
    """Serve the test app with the docs' extra routes; yield its base URL."""
    server = WebServer("", 0)
    app = _make_app(server)
    app.router.add_route("*", "/redirect", _redirect)
    app.router.add_get("/cookies/set", _set_cookies)
    app.router.add_get("/events", _events)
    async with serve_app(
        app, access_log=None, shutdown_timeout=0.1, handler_cancellation=True
    ) as url:
        yield url


async def test_there_are_examples_to_run() -> None:
    """The collector finds the pages' examples (a broken regex would pass silently)."""
    assert len(_blocks()) >= 10


@pytest.mark.parametrize(("page", "line", "code"), _blocks())
async def test_the_example_runs(page: Path, line: int, code: str, docs_server: str) -> None:
    """The block executes without error, and so does its main() when it has one."""
    # Pad with newlines so tracebacks point at the right line of the page.
    source = "\n" * (line - 1) + code

    def answer(request: ScriptedRequest) -> None:
        request.conn.respond(request.stream_id, body=b"hello over h2c")

    h2c = await ScriptedH2Server(answer).start()
    try:
        async with ConnectProxy() as proxy, ScriptedSocks() as socks:
            socks.script(b"\x05\x00", socks5_reply(0), then="relay")
            namespace: dict[str, Any] = {
                "__name__": "docs_example",
                "BASE": docs_server,  # an HTTP/1.1 server on loopback
                "H2C": h2c.url,  # an HTTP/2 (cleartext) server on loopback
                "PROXY": proxy.url,  # a forward proxy on loopback
                "SOCKS": f"socks5h://{socks.host}:{socks.port}",  # a SOCKS5 proxy on loopback
            }
            exec(compile(source, str(page), "exec"), namespace)  # noqa: S102 - our own documents
            main = namespace.get("main")
            if main is not None:
                await main()
    finally:
        await h2c.stop()
