"""The client against ASGI apps in the same process: ``Client(transport=ASGITransport(app))``.

Real Starlette and FastAPI apps for what users write, raw ASGI callables for
the edges (what the scope holds, each message, an app that breaks the
protocol). Everything above the network runs: cookies, redirects, retries,
hooks, decoding, size limits, Server-Sent Events; and the bodies stream both
ways, which the tests prove with events rather than clocks: the app waits for
the caller (or the caller for the app) between two chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from fastapi import FastAPI, Request
from hyperhttp._asgi import BUFFER_HIGH
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping

    Scope = dict[str, Any]
    Message = dict[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

pytestmark = pytest.mark.asyncio

BASE = "http://test"


def _client(app: Any, **kwargs: Any) -> hyperhttp.Client:
    transport = hyperhttp.ASGITransport(
        app,
        **{
            k: kwargs.pop(k) for k in ("raise_app_exceptions", "root_path", "client") if k in kwargs
        },
    )
    return hyperhttp.Client(transport=transport, base_url=BASE, **kwargs)


async def _first(chunks: AsyncIterator[bytes]) -> bytes:
    """Return the first chunk; close the iterator (and so the response) at once."""
    try:
        return await anext(chunks)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def _start(send: Send, status: int = 200, headers: list[Any] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})


# ---------------------------------------------------------------- FastAPI and Starlette

fastapi_app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@fastapi_app.get("/")
async def read_root() -> dict[str, str]:
    return {"message": "Tomato"}


@fastapi_app.post("/items")
async def create_item(item: Item) -> dict[str, Any]:
    return {"name": item.name, "price": item.price, "taxed": item.price * 1.2}


@fastapi_app.get("/client")
async def read_client(request: Request) -> dict[str, Any]:
    assert request.client is not None
    return {"host": request.client.host, "port": request.client.port, "url": str(request.url)}


async def test_fastapi_get_json() -> None:
    """FastAPI's documented async test, on hyperhttp: a GET answered with JSON."""
    async with hyperhttp.Client(
        transport=hyperhttp.ASGITransport(app=fastapi_app), base_url="http://test"
    ) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Tomato"}
    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"] == "application/json"
    assert str(response.url) == "http://test/"


async def test_fastapi_post_body_and_validation() -> None:
    """A JSON body reaches a pydantic model; a bad one gets FastAPI's 422."""
    async with _client(fastapi_app) as client:
        good = await client.post("/items", json={"name": "nut", "price": 2.5})
        bad = await client.post("/items", json={"name": "nut"})
    assert good.json() == {"name": "nut", "price": 2.5, "taxed": 3.0}
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "price"]


async def test_client_address_and_url_as_the_app_sees_them() -> None:
    """``client=`` is the scope's client; Host and scheme make the app's URL."""
    transport = hyperhttp.ASGITransport(fastapi_app, client=("10.1.2.3", 4567))
    async with hyperhttp.Client(transport=transport) as client:
        response = await client.get("https://api.example:8443/client?x=1")
    assert response.json() == {
        "host": "10.1.2.3",
        "port": 4567,
        "url": "https://api.example:8443/client?x=1",
    }


async def test_starlette_root_path() -> None:
    """``root_path`` mounts the app: Starlette routes the path below it."""

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"{request.scope['root_path']} {request.url.path}")

    app = Starlette(routes=[Route("/hello", hello)])
    async with _client(app, root_path="/api") as client:
        under = await client.get("/api/hello")
        plain = await client.get("/hello")
    assert under.text == "/api /api/hello"
    assert plain.status_code == 200


async def test_cookies_round_trip() -> None:
    """A Set-Cookie from the app goes into the jar and back on the next request."""

    async def login(request: Any) -> Response:
        response = PlainTextResponse("in")
        response.set_cookie("session", "s3cr3t")
        return response

    async def whoami(request: Any) -> Response:
        return PlainTextResponse(request.cookies.get("session", "nobody"))

    app = Starlette(routes=[Route("/login", login), Route("/whoami", whoami)])
    async with _client(app) as client:
        await client.get("/login")
        response = await client.get("/whoami")
    assert response.text == "s3cr3t"
    assert client.cookies.get("session") == "s3cr3t"


async def test_redirects_followed() -> None:
    """A RedirectResponse is followed; the chain is in ``history``."""

    async def old(request: Any) -> Response:
        return RedirectResponse("/new?from=old", status_code=307)

    async def new(request: Any) -> Response:
        return PlainTextResponse(f"{request.method} {request.url.query}")

    app = Starlette(
        routes=[Route("/old", old, methods=["POST"]), Route("/new", new, methods=["POST"])]
    )
    async with _client(app) as client:
        response = await client.post("/old", content=b"body")
    assert response.text == "POST from=old"
    assert [r.status_code for r in response.history] == [307]


async def test_retries_on_503() -> None:
    """A RetryPolicy retries the app's 503s (each attempt calls the app again)."""
    calls = 0

    async def flaky(request: Any) -> Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return PlainTextResponse("busy", status_code=503, headers={"Retry-After": "0"})
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", flaky)])
    retry = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.001)
    async with _client(app, retry=retry) as client:
        response = await client.get("/")
    assert response.text == "ok"
    assert calls == 3


async def test_event_hooks_run() -> None:
    """Request hooks see the request, response hooks the head, as with the network."""
    seen: list[str] = []

    async def on_request(request: hyperhttp.Request) -> None:
        seen.append(f"request {request.method} {request.url}")

    async def on_response(response: hyperhttp.Response) -> None:
        seen.append(f"response {response.status_code}")

    async with _client(
        fastapi_app, event_hooks={"request": [on_request], "response": [on_response]}
    ) as client:
        await client.get("/")
    assert seen == ["request GET http://test/", "response 200"]


async def test_gzip_decoded() -> None:
    """Starlette's GZipMiddleware compresses; the client decodes."""
    text = "hyperhttp " * 1000

    async def big(request: Any) -> Response:
        return PlainTextResponse(text)

    app = Starlette(routes=[Route("/", big)], middleware=[Middleware(GZipMiddleware)])
    async with _client(app) as client:
        response = await client.get("/")
        async with client.stream("GET", "/") as streamed:
            raw = b"".join([chunk async for chunk in streamed.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == text
    assert gzip.decompress(raw).decode() == text


async def test_background_task_done_when_the_call_returns() -> None:
    """What the app does after its last message (a BackgroundTask) is done when get() returns."""
    done: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0)
        done.append("background")

    async def endpoint(request: Any) -> Response:
        return PlainTextResponse("queued", background=BackgroundTask(work))

    app = Starlette(routes=[Route("/", endpoint)])
    async with _client(app) as client:
        response = await client.get("/")
        assert done == ["background"]
    assert response.text == "queued"


async def test_fastapi_lifespan_state() -> None:
    """``async with ASGITransport(app)``: startup on enter, state in requests, shutdown on exit."""
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"db": "connected"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/db")
    async def db(request: Request) -> dict[str, str]:
        return {"db": request.state.db}

    async with hyperhttp.ASGITransport(app) as transport:
        assert events == ["startup"]
        async with hyperhttp.Client(transport=transport, base_url=BASE) as client:
            response = await client.get("/db")
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]
    assert response.json() == {"db": "connected"}


async def test_lifespan_startup_failure_raises_on_enter() -> None:
    """A lifespan that raises at startup makes ``async with`` raise that error."""

    async def connect() -> None:
        raise ConnectionRefusedError("database down")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await connect()
        yield

    app = Starlette(lifespan=lifespan)
    with pytest.raises(ConnectionRefusedError, match="database down"):
        async with hyperhttp.ASGITransport(app):
            pytest.fail("entered")  # pragma: no cover


async def test_lifespan_unsupported_app_runs_without() -> None:
    """An app that refuses the lifespan scope before receive() serves requests without state."""
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        scopes.append(scope)
        await _start(send)
        await send({"type": "http.response.body", "body": b"ok"})

    async with (
        hyperhttp.ASGITransport(app) as transport,
        hyperhttp.Client(transport=transport, base_url=BASE) as client,
    ):
        response = await client.get("/")
    assert response.text == "ok"
    assert "state" not in scopes[0]


async def test_lifespan_failed_message() -> None:
    """``lifespan.startup.failed`` without an exception: RuntimeError with its message."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no config"})
        await receive()  # waits: the transport ends it

    with pytest.raises(RuntimeError, match="startup failed: no config"):
        async with hyperhttp.ASGITransport(app):
            pytest.fail("entered")  # pragma: no cover


async def test_lifespan_shutdown_failure_raises_on_exit() -> None:
    """``lifespan.shutdown.failed`` makes the exit raise."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "stuck"})

    with pytest.raises(RuntimeError, match="shutdown failed: stuck"):
        async with hyperhttp.ASGITransport(app):
            pass


async def test_lifespan_raw_state_is_copied_per_request() -> None:
    """Each request gets a shallow copy of the lifespan state (ASGI lifespan spec)."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["counter"] = 1
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(dict(scope["state"]))
        scope["state"]["counter"] = 99  # changes this request's copy only
        await _start(send)
        await send({"type": "http.response.body"})

    async with (
        hyperhttp.ASGITransport(app) as transport,
        hyperhttp.Client(transport=transport, base_url=BASE) as client,
    ):
        await client.get("/")
        await client.get("/")
    assert seen == [{"counter": 1}, {"counter": 1}]


async def test_lifespan_entered_twice_is_refused() -> None:
    """One transport runs one lifespan at a time."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    transport = hyperhttp.ASGITransport(app)
    async with transport:
        with pytest.raises(RuntimeError, match="running already"):
            await transport.__aenter__()


# ---------------------------------------------------------------- the scope


async def test_scope_per_the_asgi_spec() -> None:
    """Every key of the HTTP connection scope, as the ASGI spec defines it."""
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await receive()
        await _start(send)
        await send({"type": "http.response.body"})

    async with _client(app, root_path="/mount", headers={"X-Token": "abc"}) as client:
        await client.post("/caf%C3%A9/a%20b/%2F?q=%20x&r=1", content=b"12345")
        await client.get("https://secure.test/")
        await client.get("http://[::1]:8080/")
    scope = scopes[0]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "POST"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a b//"  # percent-decoded, UTF-8 decoded
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b/%2F"
    assert scope["query_string"] == b"q=%20x&r=1"
    assert scope["root_path"] == "/mount"
    assert scope["client"] == ("127.0.0.1", 123)
    assert scope["server"] == ("test", 80)
    assert "state" not in scope
    headers = scope["headers"]
    assert all(type(n) is bytes and type(v) is bytes and n == n.lower() for n, v in headers)
    assert headers[0] == (b"host", b"test")
    assert (b"x-token", b"abc") in headers
    assert (b"content-length", b"5") in headers
    assert any(name == b"user-agent" for name, _ in headers)
    assert (scopes[1]["scheme"], scopes[1]["server"]) == ("https", ("secure.test", 443))
    assert scopes[2]["server"] == ("::1", 8080)
    assert (b"host", b"[::1]:8080") in scopes[2]["headers"]


async def test_no_client_address() -> None:
    """``client=None``: the scope's client is None (optional in the spec)."""
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await _start(send)
        await send({"type": "http.response.body"})

    async with _client(app, client=None) as client:
        await client.get("/")
    assert scopes[0]["client"] is None


# ---------------------------------------------------------------- streaming both ways


async def test_request_body_streamed_to_the_app_as_produced() -> None:
    """The app receives each piece while the caller's stream is still producing the next."""
    received: list[Message] = []
    first_seen = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"one"
        await first_seen.wait()  # only once the app has had the first piece
        yield b"two"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            received.append(message)
            first_seen.set()
            if not message.get("more_body"):
                break
        await _start(send, headers=[(b"content-type", b"text/plain")])
        body = b"".join(m["body"] for m in received)
        await send({"type": "http.response.body", "body": body})

    async with _client(app) as client:
        response = await client.post("/upload", content=body())
    assert response.text == "onetwo"
    assert received == [
        {"type": "http.request", "body": b"one", "more_body": True},
        {"type": "http.request", "body": b"two", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]


async def test_streamed_request_has_chunked_framing() -> None:
    """A stream of unknown length is announced as chunked, as on the wire; Starlette reads it."""

    async def echo(request: Any) -> Response:
        body = b"".join([chunk async for chunk in request.stream()])
        return JSONResponse({"te": request.headers.get("transfer-encoding"), "len": len(body)})

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    app = Starlette(routes=[Route("/", echo, methods=["PUT"])])
    async with _client(app) as client:
        response = await client.put("/", content=body())
    assert response.json() == {"te": "chunked", "len": 10000}


async def test_response_chunks_reach_the_caller_before_the_app_finishes() -> None:
    """client.stream() sees the first chunk while the app waits for the caller to go on."""
    go_on = asyncio.Event()

    async def endpoint(request: Any) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first "
            await go_on.wait()
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/plain")

    app = Starlette(routes=[Route("/", endpoint)])
    async with _client(app) as client, client.stream("GET", "/") as response:
        pieces = response.aiter_bytes()
        assert await anext(pieces) == b"first "
        go_on.set()
        assert [chunk async for chunk in pieces] == [b"second"]


async def test_an_endless_app_does_not_hold_the_head_and_is_cancelled_on_close() -> None:
    """An app that never finishes: the head comes back, and closing the response ends the app."""
    ended: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send, headers=[(b"content-type", b"text/plain")])
        try:
            await send({"type": "http.response.body", "body": b"tick", "more_body": True})
            await asyncio.Event().wait()  # for ever
        finally:
            ended.append("app ended")

    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert response.status_code == 200
            assert await _first(response.aiter_bytes()) == b"tick"
            assert ended == []
        for _ in range(3):  # (the app runs one step, then is cancelled)
            await asyncio.sleep(0)
        assert ended == ["app ended"]


async def test_disconnect_is_delivered_when_the_response_closes_early() -> None:
    """Closing the response early: the app's receive() answers http.disconnect."""
    after_close: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "http.request"
        await _start(send)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        after_close.append(await receive())  # waits until the client goes
        after_close.append(await receive())

    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert await _first(response.aiter_raw()) == b"part"
        for _ in range(3):
            await asyncio.sleep(0)
    assert after_close == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


async def test_receive_after_the_response_answers_disconnect() -> None:
    """receive() once the response ended answers http.disconnect at once (the call returns)."""
    after: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await _start(send)
        await send({"type": "http.response.body", "body": b"done"})
        after.append(await receive())

    async with _client(app) as client:
        response = await client.get("/")
    assert response.content == b"done"
    assert after == [{"type": "http.disconnect"}]


async def test_middleware_task_groups_end_with_an_early_close() -> None:
    """BaseHTTPMiddleware (anyio task groups) around an endless stream: closing ends the app."""
    ended: list[str] = []

    class Tag(BaseHTTPMiddleware):
        async def dispatch(self, request: Any, call_next: Any) -> Response:
            response: Response = await call_next(request)
            response.headers["x-tag"] = "on"
            return response

    async def endpoint(request: Any) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(1_000_000):  # bounded; the client closes long before
                yield b"%d\n" % n
                await asyncio.sleep(0)

        return StreamingResponse(chunks())

    inner = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(Tag)])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await inner(scope, receive, send)
        finally:
            ended.append(scope["type"])

    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert response.headers["x-tag"] == "on"
            assert await _first(response.aiter_raw()) == b"0\n"
        for _ in range(20):  # anyio cancels the task group's children, then the app ends
            if ended:
                break
            await asyncio.sleep(0)
    assert ended == ["http"]


async def test_send_after_disconnect_raises_oserror() -> None:
    """ASGI HTTP spec 2.4: send() on a closed connection raises an OSError."""
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send)
        try:
            for _ in range(1000):  # bounded; stopped by the backpressure, then the close
                await send({"type": "http.response.body", "body": b"x" * 4096, "more_body": True})
        except OSError as exc:
            errors.append(exc)

    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert await _first(response.aiter_raw()) == b"x" * 4096
        for _ in range(3):
            await asyncio.sleep(0)
    assert len(errors) == 1
    assert isinstance(errors[0], OSError)


async def test_starlette_streaming_response_sees_the_disconnect() -> None:
    """Starlette's StreamingResponse stops its generator when the client goes (spec 2.4 path)."""
    produced = 0
    stopped = asyncio.Event()

    async def endpoint(request: Any) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            nonlocal produced
            try:
                for _ in range(10_000):
                    produced += 1
                    yield b"y" * 8192
            finally:
                stopped.set()

        return StreamingResponse(chunks())

    app = Starlette(routes=[Route("/", endpoint)])
    async with _client(app) as client:
        async with client.stream("GET", "/") as response:
            assert len(await _first(response.aiter_raw())) == 8192
        await stopped.wait()
    assert produced < 100  # stopped by backpressure then the close, not run to the end


async def test_backpressure_bounds_what_the_app_sends_ahead() -> None:
    """A reader that does not read: the app's send() waits once BUFFER_HIGH bytes are queued."""
    sent = 0
    chunk = b"z" * 4096

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal sent
        await _start(send)
        for _ in range(256):  # 1 MiB
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
        await send({"type": "http.response.body"})

    async with _client(app) as client, client.stream("GET", "/") as response:
        for _ in range(50):  # the app has every chance to run ahead
            await asyncio.sleep(0)
        assert BUFFER_HIGH <= sent <= BUFFER_HIGH + len(chunk)
        total = sum([len(piece) async for piece in response.aiter_raw()])
    assert total == sent == 256 * len(chunk)


async def test_server_sent_events_stream() -> None:
    """aiter_sse() yields each event as the app sends it."""
    next_event = asyncio.Event()

    async def endpoint(request: Any) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield b"event: tick\ndata: 1\n\n"
            await next_event.wait()
            yield b'event: tick\ndata: {"n": 2}\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/events", endpoint)])
    async with _client(app) as client, client.stream("GET", "/events") as response:
        events = response.aiter_sse()
        first = await anext(events)
        assert (first.event, first.data) == ("tick", "1")
        next_event.set()
        second = await anext(events)
        assert second.json() == {"n": 2}
        assert [event async for event in events] == []


async def test_client_sse_reconnects_with_last_event_id() -> None:
    """client.sse() over the transport: events, a reconnection with Last-Event-ID, then a 204."""
    seen_ids: list[str | None] = []

    async def endpoint(request: Any) -> Response:
        last = request.headers.get("last-event-id")
        seen_ids.append(last)
        if last == "2":
            return Response(status_code=204)
        first = 1 if last is None else int(last) + 1
        body = b"retry: 1\n\n" + b"".join(b"id: %d\ndata: %d\n\n" % (n, n) for n in (first,))
        return Response(body, media_type="text/event-stream")

    app = Starlette(routes=[Route("/feed", endpoint)])
    async with _client(app) as client, client.sse("/feed") as events:
        data = [event.data async for event in events]
    assert data == ["1", "2"]
    assert seen_ids == [None, "1", "2"]


async def test_request_stream_left_unread_is_closed() -> None:
    """An app that answers without reading the body: the caller's generator is closed."""
    closed: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append("closed")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the first piece only
        await _start(send, 413)
        await send({"type": "http.response.body"})

    async with _client(app) as client:
        response = await client.post("/", content=body())
    assert response.status_code == 413
    assert closed == ["closed"]


async def test_request_stream_failure_reaches_the_caller_and_disconnects_the_app() -> None:
    """The caller's body stream raising: the caller gets that error, the app a disconnect."""
    app_saw: list[Message] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("producer broke")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        app_saw.append(await receive())
        app_saw.append(await receive())

    async with _client(app) as client:
        with pytest.raises(ValueError, match="producer broke"):
            await client.post("/", content=body())
    assert app_saw[1] == {"type": "http.disconnect"}


# ---------------------------------------------------------------- errors


async def test_app_exception_propagates() -> None:
    """raise_app_exceptions (the default): the app's exception reaches the caller as it is."""

    async def boom(request: Any) -> Response:
        raise LookupError("no such thing")

    app = Starlette(routes=[Route("/", boom)])
    async with _client(app) as client:
        with pytest.raises(LookupError, match="no such thing"):
            await client.get("/")


async def test_app_exception_as_500() -> None:
    """raise_app_exceptions=False: an exception before the response is a 500, as a server sends."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("no such thing")

    async with _client(app, raise_app_exceptions=False) as client:
        response = await client.get("/")
    assert response.status_code == 500
    assert response.content == b""


async def test_app_exception_after_the_response_started() -> None:
    """An exception mid-body: raised from the body read, or RemoteProtocolError without raising."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send)
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise LookupError("mid-body")

    async with _client(app) as client, client.stream("GET", "/") as response:
        assert response.status_code == 200
        with pytest.raises(LookupError, match="mid-body"):
            await response.aread()
    async with _client(app, raise_app_exceptions=False) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError, match="LookupError after") as info:
            await client.get("/")
    assert isinstance(info.value.__cause__, LookupError)
    assert info.value.request is not None


async def test_app_exception_after_the_last_message() -> None:
    """An exception after a complete response (a failing background task) is still raised."""

    async def fail() -> None:
        raise LookupError("background failed")

    async def endpoint(request: Any) -> Response:
        return PlainTextResponse("done", background=BackgroundTask(fail))

    app = Starlette(routes=[Route("/", endpoint)])
    async with _client(app) as client:
        with pytest.raises(LookupError, match="background failed"):
            await client.get("/")
    async with _client(app, raise_app_exceptions=False) as client:
        response = await client.get("/")
    assert response.text == "done"


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"type": "http.response.body", "body": b"x"}], "body before http.response.start"),
        ([], "returned without sending a response"),
        (
            [{"type": "http.response.start", "status": 200, "headers": []}],
            "returned before the end of its response body",
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "headers": []},
                {"type": "http.response.start", "status": 200, "headers": []},
            ],
            "start twice",
        ),
        ([{"type": "http.response.start", "status": 99, "headers": []}], "sent status 99"),
        ([{"type": "http.response.start", "status": "200"}], "sent status '200'"),
        (
            [{"type": "http.response.start", "status": 200, "headers": [("a", "b")]}],
            "must be bytes",
        ),
        (
            [{"type": "http.response.start", "status": 200, "headers": [(b"a b", b"c")]}],
            "invalid header name",
        ),
        (
            [{"type": "http.response.start", "status": 200, "headers": [(b"a", b"c\r\nd: e")]}],
            "invalid value",
        ),
        (
            [
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1"), (b"content-length", b"2")],
                }
            ],
            "Content-Length 1 and 2 differ",
        ),
        (
            [
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"3")],
                },
                {"type": "http.response.body", "body": b"toolong"},
            ],
            "more than its Content-Length of 3",
        ),
        (
            [
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"9")],
                },
                {"type": "http.response.body", "body": b"short"},
            ],
            "after 5 of its Content-Length of 9",
        ),
        (
            [
                {"type": "http.response.start", "status": 204, "headers": []},
                {"type": "http.response.body", "body": b"content"},
            ],
            "content with a 204",
        ),
        ([{"type": "websocket.accept"}], "'websocket.accept'"),
        (
            [
                {"type": "http.response.start", "status": 200, "headers": []},
                {"type": "http.response.body", "body": "text"},
            ],
            "a body of type str",
        ),
    ],
)
async def test_protocol_errors_are_remote_protocol_errors(
    messages: list[Message], match: str
) -> None:
    """An app that breaks ASGI or HTTP framing: RemoteProtocolError, whatever it does after."""
    app_errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            for message in messages:
                await send(message)
        except RuntimeError as exc:  # the app is told too
            app_errors.append(exc)
            raise

    for raise_app_exceptions in (True, False):
        async with _client(app, raise_app_exceptions=raise_app_exceptions) as client:
            with pytest.raises(hyperhttp.RemoteProtocolError, match=match) as info:
                await client.get("/")
        assert info.value.request is not None
    if app_errors:
        assert all("ASGI:" in str(error) for error in app_errors)


async def test_head_response_has_no_body() -> None:
    """HEAD: whatever body the app sends, the response has none (RFC 9110 §9.3.2)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send, headers=[(b"content-length", b"11")])
        await send({"type": "http.response.body", "body": b"hello world"})

    async with _client(app) as client:
        response = await client.head("/")
    assert response.headers["content-length"] == "11"
    assert response.content == b""


async def test_max_response_size() -> None:
    """A body over max_response_size: ResponseTooLarge, and the app is stopped."""
    stopped: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send)
        try:
            for _ in range(100):
                await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        except OSError as exc:
            stopped.append(exc)
            raise
        await send({"type": "http.response.body"})  # pragma: no cover

    async with _client(app, max_response_size=5000) as client:
        with pytest.raises(hyperhttp.ResponseTooLarge, match="over 5000 bytes") as info:
            await client.get("/")
        assert info.value.request is not None
        async with client.stream("GET", "/") as response:
            received: list[bytes] = []
            with pytest.raises(hyperhttp.ResponseTooLarge):
                await _collect(response.aiter_raw(), received)
            assert sum(map(len, received)) == 5000
    assert len(stopped) == 2


async def test_read_timeout_on_a_silent_app() -> None:
    """An app that never answers: ReadTimeout after the read timeout, and the app is cancelled."""
    cancelled: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("cancelled")
            raise

    async with _client(app, timeout=hyperhttp.Timeout(read=0.01)) as client:
        with pytest.raises(hyperhttp.ReadTimeout, match="before its response head"):
            await client.get("/")
        for _ in range(3):
            await asyncio.sleep(0)
    assert cancelled == ["cancelled"]


async def test_total_timeout_cancels_the_app() -> None:
    """The call's total deadline cancels the exchange; the app ends with it."""
    ended: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("ended")

    async with _client(app, timeout=hyperhttp.Timeout(total=0.01)) as client:
        with pytest.raises(hyperhttp.TimeoutException):
            await client.get("/")
        for _ in range(3):
            await asyncio.sleep(0)
    assert ended == ["ended"]


async def test_client_close_cancels_running_apps() -> None:
    """A response left open when the client closes: its app is cancelled and awaited."""
    ended: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _start(send)
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("ended")

    client = _client(app)
    response = await client.send(client.build_request("GET", "/"), stream=True)
    assert response.status_code == 200
    await client.aclose()
    assert ended == ["ended"]
    with pytest.raises(RuntimeError, match="client is closed"):
        await response.aread()


# ---------------------------------------------------------------- the transport itself


async def test_one_transport_serves_two_clients() -> None:
    """A transport is bound per client: two clients with their own defaults share it."""
    transport = hyperhttp.ASGITransport(fastapi_app)
    async with (
        hyperhttp.Client(transport=transport, base_url="http://a.test") as first,
        hyperhttp.Client(transport=transport, base_url="http://b.test") as second,
    ):
        answers = await asyncio.gather(first.get("/client"), second.get("/client"))
    assert [r.json()["url"] for r in answers] == ["http://a.test/client", "http://b.test/client"]


async def test_concurrent_requests() -> None:
    """Many requests at once, each its own app call."""
    async with _client(fastapi_app) as client:
        responses = await asyncio.gather(*(client.get("/") for _ in range(50)))
    assert {r.json()["message"] for r in responses} == {"Tomato"}


async def test_invalid_request_is_refused_before_the_app_runs() -> None:
    """A request the wire would refuse never reaches the app (LocalProtocolError)."""
    calls = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
        nonlocal calls
        calls += 1

    async with _client(app) as client:
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get("/", headers={"X-Bad": "a\r\nb"})
    assert calls == 0


async def test_constructor_checks() -> None:
    """Bad options fail when the transport is built, naming the value."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError, match="ASGI application"):
        hyperhttp.ASGITransport("app")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="raise_app_exceptions"):
        hyperhttp.ASGITransport(app, raise_app_exceptions=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root_path"):
        hyperhttp.ASGITransport(app, root_path="api/")
    with pytest.raises(TypeError, match="client"):
        hyperhttp.ASGITransport(app, client=("127.0.0.1", "80"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        hyperhttp.ASGITransport(app, client=("127.0.0.1", 70000))
    with pytest.raises(TypeError, match="MockTransport, ASGITransport or WSGITransport"):
        hyperhttp.Client(transport=object())  # type: ignore[arg-type]
    assert "ASGITransport" in repr(hyperhttp.ASGITransport(app))
