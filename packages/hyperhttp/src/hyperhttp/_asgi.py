"""ASGITransport: the client's whole stack against an ASGI application in this process.

Strategy
--------
``Client(transport=ASGITransport(app))`` keeps everything above the network
(URL handling, cookies, redirects, retries, hooks, decoding, size limits,
Server-Sent Events) and replaces the connection with a call of the
application: each network attempt is one ``app(scope, receive, send)`` in a
task of its own (:class:`_Call`), which the client reads as it would read a
socket, streaming both ways:

- the request body goes to the app as the app asks for it: each
  ``receive()`` takes the next piece of the request's stream (bytes go
  whole, in one message), so a streamed body is produced only as fast as
  the app reads it, and nothing of it is buffered here;
- the response head is returned as soon as the app sends
  ``http.response.start``, and the body is read as the app sends it: an
  app that streams for ever does not hold the head back.

The transport is given to the client, which binds it to its request
encoder and size limits (:meth:`AppTransport._network`): the scope's
``headers`` are the fields the wire would carry (Host, the client's default
fields, the request's own, the framing field), checked as they would be.

Invariants
----------
1. Bounded: the app's ``send()`` of body bytes returns at once while less
   than :data:`BUFFER_HIGH` bytes wait unread, and waits for the reader past
   that (backpressure, as a socket's send buffer gives it). So what is
   held for a response is at most ``BUFFER_HIGH`` plus the app's last message.
2. Nothing outlives its response. Reading a body to its end waits for the app
   to return, so what the app does after its last message (a background
   task) is done when ``client.get()`` returns, as with httpx. Closing a
   response before that disconnects the app: ``receive()`` answers
   ``http.disconnect`` and ``send()`` raises :class:`ClientDisconnected`, an
   ``OSError`` (ASGI HTTP spec 2.4); the app runs one more step to see it,
   then is cancelled where it waits. The client's ``aclose()`` does the same
   to every call still running and awaits them.
3. One error per call, the first: the app's own exception (raised to the
   caller as it is with ``raise_app_exceptions``, the default); a
   ``RemoteProtocolError`` when the app breaks ASGI or HTTP framing (a
   body before its start, a second start, a status or field no server could
   send, more or less body than its Content-Length, returning before its
   response ended); ``ResponseTooLarge`` past ``max_response_size``;
   ``ReadTimeout`` when the app sends nothing for ``timeout.read`` seconds
   (its head, each body chunk, its return after its last message). The app
   is told of a protocol error too: its ``send()`` raises ``RuntimeError``.
4. An app that fails after its response was abandoned (closed early, or
   failed on the client's side) fails alone: nobody is left to tell.
5. ``raise_app_exceptions=False`` turns an exception before the response
   started into a 500 with an empty body (what a server sends), and one
   after it started into ``RemoteProtocolError`` (the body is cut short,
   as a server closing the connection would cut it).

Lifespan: ``async with ASGITransport(app) as transport`` runs the app's
``lifespan`` scope (``_lifespan.Lifespan``): startup on enter, shutdown on exit,
and every request's scope gets a shallow copy of the lifespan ``state``.
Without ``async with`` no lifespan event is sent (as with httpx's
ASGITransport).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import time
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote

from hyperhttp_parser import FIELD_VALUE_BYTES, TOKEN_BYTES
from hyperhttp_pool import PoolStats

from ._encode import wire_fields
from ._exceptions import HTTPError, ReadTimeout, RemoteProtocolError, ResponseTooLarge
from ._lifespan import Lifespan
from ._models import BodySource, Response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping

    from ._config import Timeout
    from ._encode import RequestEncoder
    from ._models import Request
    from ._pool_transport import BodyLimits, Transport

__all__ = [
    "ASGIApp",
    "ASGITransport",
    "AppTransport",
    "ClientDisconnected",
    "check_options",
    "request_fields",
    "response_fields",
]

Message: TypeAlias = "Mapping[str, Any]"
Receive: TypeAlias = "Callable[[], Awaitable[dict[str, Any]]]"
Send: TypeAlias = "Callable[[Message], Awaitable[None]]"
#: An ASGI 3 application: ``async def app(scope, receive, send)``.
ASGIApp: TypeAlias = "Callable[[dict[str, Any], Receive, Send], Awaitable[None]]"

#: Response bytes the app may send ahead of the reader before its ``send()``
#: waits: about what a socket's send buffer holds (Linux starts a TCP socket's
#: at 16 KiB and grows it to a few hundred), and asyncio's StreamReader's
#: default limit.
BUFFER_HIGH = 64 * 1024
# Seconds the client's aclose() waits for the calls it cancels to finish.
_CLOSE_GRACE = 1.0
# The longest Content-Length accepted: 18 digits (just under an exabyte), far
# below the 4 300 digits past which int() refuses a string.
_MAX_LENGTH_DIGITS = 18
# RFC 9110 §6.4.1: 204 and 304 responses carry no content.
_NO_CONTENT = frozenset({204, 304})


class ClientDisconnected(OSError):
    """Raised by an app's ``send()`` once the client has gone (ASGI HTTP spec 2.4)."""


class AppTransport:
    """Base of the transports that call an application in this process (ASGI, WSGI).

    ``Client(transport=...)`` binds one to its request encoder and size
    limits with :meth:`_network`: one transport may serve several clients.
    """

    def _network(self, encoder: RequestEncoder, body_limits: BodyLimits) -> Transport:
        """Return the ``Transport`` a client sends through."""
        raise NotImplementedError  # pragma: no cover - interface


# ---------------------------------------------------------------- fields


def request_fields(encoder: RequestEncoder, request: Request) -> list[tuple[bytes, bytes]]:
    """Return the fields the wire would carry for ``request``, names lower-cased.

    Host, the client's default fields the request does not set, its own, and
    the framing field of its body, checked as the connections check them.

    Raises:
        LocalProtocolError: a method, target or field the wire would refuse.

    """
    return [(name.lower(), value) for name, value in wire_fields(encoder, request)]


def response_fields(headers: Iterable[Any]) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Return an app's response fields checked (names lower-cased), and its Content-Length.

    The same rules the parser holds a server to: names are tokens (RFC 9110
    §5.1), values hold no CR, LF, NUL or other control byte (§5.5) and lose
    their surrounding whitespace, and every Content-Length is one same
    non-negative number (RFC 9112 §6.3).

    Raises:
        ValueError: the first field that breaks one of these, named.

    """
    fields = []
    length: int | None = None
    for pair in headers:
        name, value = pair
        if type(name) is not bytes or type(value) is not bytes:
            raise ValueError(f"header names and values must be bytes: {pair!r}")
        if not name or name.translate(None, TOKEN_BYTES):
            raise ValueError(f"invalid header name {name!r}")
        value = value.strip(b" \t")
        if value.translate(None, FIELD_VALUE_BYTES):
            raise ValueError(f"invalid value for header {name!r}: {value!r}")
        name = name.lower()
        if name == b"content-length":
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                raise ValueError(f"invalid Content-Length {value!r}")
            if length is not None and int(value) != length:
                raise ValueError(f"Content-Length {length} and {int(value)} differ")
            length = int(value)
        fields.append((name, value))
    return fields, length


# ---------------------------------------------------------------- one call


class _Call(BodySource):
    """One request to the app: its task, the request body going in, the response coming out.

    The app's side (``receive``, ``send``, ``run``) and the caller's
    (``head``, ``read_all``, ``iter_raw``, ``close``) meet in these fields;
    each side waits on futures the other side resolves (``_wake``,
    ``_wake_app``), re-checking the fields when woken.
    """

    __slots__ = (
        "_app_waiters",
        "_waiter",
        "buffered",
        "chunks",
        "closed",
        "disconnected",
        "ended",
        "error",
        "fields",
        "finished",
        "head_only",
        "length",
        "limit",
        "loop",
        "network",
        "raise_app_exceptions",
        "read_timeout",
        "received",
        "request",
        "request_done",
        "status",
        "stream",
        "task",
    )

    def __init__(
        self,
        network: _ASGINetwork,
        request: Request,
        read_timeout: float | None,
        limit: int | None,
        raise_app_exceptions: bool,
    ) -> None:
        self.network = network
        self.request = request
        self.read_timeout = read_timeout
        self.limit = limit
        self.raise_app_exceptions = raise_app_exceptions
        self.loop = asyncio.get_running_loop()
        stream = request.stream
        self.stream: AsyncIterator[bytes] | None = None if stream is None else aiter(stream)
        self.request_done = False  # the last http.request message went out
        # RFC 9110 §9.3.2: a response to HEAD has no content, whatever the app sends.
        self.head_only = request.method == "HEAD"
        self.status = 0  # 0 until http.response.start
        self.fields: list[tuple[bytes, bytes]] = []
        self.length: int | None = None  # the response's Content-Length
        self.received = 0  # response body bytes taken
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0  # bytes in chunks
        self.ended = False  # the app sent its last body message
        self.finished = False  # the app returned or raised
        self.disconnected = False  # the app is told the client has gone
        self.closed = False  # the caller closed the response
        self.error: BaseException | None = None  # what the caller is told, the first only
        self.task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[bool] | None = None  # the caller's
        self._app_waiters: list[asyncio.Future[None]] = []  # the app's (it may wait twice)

    # ------------------------------------------------------------ waiting

    def _wake(self) -> None:
        """Wake the caller: something it waits for may have happened."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _wake_app(self) -> None:
        """Wake every wait of the app's (``send`` on a full buffer, ``receive`` idle)."""
        waiters = self._app_waiters
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            waiters.clear()

    async def _wait(self, phase: str) -> None:
        """Wait for the app's next move, at most the read timeout (then ReadTimeout)."""
        loop = self.loop
        waiter = self._waiter = loop.create_future()
        timeout = self.read_timeout
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            moved = await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if not moved:
            raise ReadTimeout(
                f"the ASGI app sent nothing {phase} for {timeout} s", request=self.request
            )

    async def _app_wait(self) -> None:
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._app_waiters.append(waiter)
        await waiter

    # ------------------------------------------------------------ the app's side

    async def run(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        """Call the app; record how it ended. The task never ends in an exception but a cancel."""
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the app's failure, for the caller (rule 3)
            self._app_failed(exc)
        else:
            self._app_returned()
        finally:
            try:
                stream = self.stream
                if stream is not None and not self.request_done:
                    # A request body the app did not read to its end: the iterator
                    # is closed here, in the task that iterated it, not by the
                    # garbage collector in a task of its own.
                    close = getattr(stream, "aclose", None)
                    if close is not None:
                        with contextlib.suppress(Exception):
                            await close()
            finally:
                self.finished = True
                self.network.calls.discard(self)
                self._wake()

    def _fail(self, error: BaseException) -> None:
        """Record the caller's error (the first one only) and disconnect the app."""
        if self.error is None:
            self.error = error
        self._disconnect()

    def _disconnect(self) -> None:
        if not self.disconnected:
            self.disconnected = True
            self._wake_app()
        self._wake()

    def _broke(self, what: str) -> RuntimeError:
        """Record that the app broke ASGI (RemoteProtocolError); return its RuntimeError."""
        self._fail(RemoteProtocolError(f"the ASGI app {what}", request=self.request))
        return RuntimeError(f"ASGI: {what}")

    def _app_failed(self, exc: Exception) -> None:
        if self.disconnected or self.error is not None:
            return  # rule 4: nobody to tell
        if self.raise_app_exceptions:
            self.error = exc
        elif not self.status:  # rule 5: what a server sends for an app that failed
            self.status = 500
            self.fields = [(b"content-length", b"0")]
            self.ended = True
        elif not self.ended:
            error = RemoteProtocolError(
                f"the ASGI app raised {type(exc).__name__} after its response started:"
                " the body is incomplete",
                request=self.request,
            )
            error.__cause__ = exc
            self.error = error

    def _app_returned(self) -> None:
        if self.disconnected or self.error is not None:
            return
        if not self.status:
            self.error = RemoteProtocolError(
                "the ASGI app returned without sending a response", request=self.request
            )
        elif not self.ended:
            self.error = RemoteProtocolError(
                "the ASGI app returned before the end of its response body", request=self.request
            )

    async def receive(self) -> dict[str, Any]:
        """Answer the app's ``receive()``: the request body piece by piece, then a disconnect."""
        if self.disconnected:
            return {"type": "http.disconnect"}
        if not self.request_done:
            stream = self.stream
            if stream is None:
                self.request_done = True
                return {
                    "type": "http.request",
                    "body": self.request.content or b"",
                    "more_body": False,
                }
            try:
                chunk: object = await anext(stream)
            except StopAsyncIteration:
                self.request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            except Exception as exc:  # the caller's body failed: so does the request
                self._fail(exc)
                return {"type": "http.disconnect"}
            if type(chunk) is not bytes:
                if not isinstance(chunk, bytearray | memoryview):
                    kind = type(chunk).__name__
                    self._fail(TypeError(f"a request body stream must yield bytes, not {kind}"))
                    return {"type": "http.disconnect"}
                chunk = bytes(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}
        # ASGI: after the body, receive() waits for the response to end or the client to go.
        while not (self.disconnected or self.ended):
            await self._app_wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        """Take the app's ``send()``: the response head, then its body (rule 1: bounded)."""
        kind = message["type"]
        if self.disconnected:
            raise ClientDisconnected(f"the client has gone; {kind} was not sent")
        if kind == "http.response.body":
            if not self.status:
                raise self._broke("sent http.response.body before http.response.start")
            if self.ended:
                raise self._broke("sent http.response.body after the end of its response")
            body = message.get("body", b"")
            if type(body) is not bytes:
                if not isinstance(body, bytearray | memoryview):
                    raise self._broke(f"sent a body of type {type(body).__name__}, not bytes")
                body = bytes(body)
            if body and not self.head_only:
                self._take(body)
            if not message.get("more_body", False):
                self._end()
            self._wake()
            while self.buffered > BUFFER_HIGH and not self.disconnected:
                await self._app_wait()
            if self.disconnected:
                raise ClientDisconnected(f"the client has gone; {kind} was not read")
            return
        if kind == "http.response.start":
            if self.status:
                raise self._broke("sent http.response.start twice")
            self._start(message)
            self._wake()
            return
        raise self._broke(f"sent a message of type {kind!r} (not an http.response one)")

    def _start(self, message: Message) -> None:
        status = message.get("status")
        # A final status: ASGI has no interim (1xx) responses.
        if type(status) is not int or not 200 <= status <= 599:
            raise self._broke(f"sent status {status!r}: a response's is an int from 200 to 599")
        try:
            fields, length = response_fields(message.get("headers", ()))
        except (ValueError, TypeError) as exc:
            raise self._broke(f"sent a bad header: {exc}") from None
        self.status = status
        self.fields = fields
        self.length = length

    def _take(self, body: bytes) -> None:
        """Queue body bytes for the reader, within Content-Length and max_response_size."""
        size = self.received + len(body)
        if self.status in _NO_CONTENT:
            raise self._broke(f"sent content with a {self.status} response (RFC 9110 §6.4.1)")
        if self.length is not None and size > self.length:
            raise self._broke(f"sent more than its Content-Length of {self.length} bytes")
        limit = self.limit
        if limit is not None and size > limit:
            # The same rule and message as a connection's max_response_size check.
            self._fail(ResponseTooLarge(f"response body over {limit} bytes", request=self.request))
            raise ClientDisconnected("the client refused a response body this large")
        self.received = size
        self.chunks.append(body)
        self.buffered += len(body)

    def _end(self) -> None:
        length = self.length
        if (
            length is not None
            and self.received < length
            and not self.head_only
            and self.status != 304  # (a 304's Content-Length describes what it stands for)
        ):
            raise self._broke(
                f"ended its body after {self.received} of its Content-Length of {length} bytes"
            )
        self.ended = True
        self._wake_app()  # a receive() waiting for the end answers http.disconnect

    # ------------------------------------------------------------ the caller's side

    async def head(self) -> None:
        """Wait for the response head; raise the call's error if it ended without one."""
        while not self.status:
            if self.error is not None:
                raise self.error
            if self.finished:  # (its task was cancelled)
                raise RemoteProtocolError("the ASGI app was cancelled", request=self.request)
            await self._wait("before its response head")

    def _took(self, size: int) -> None:
        self.buffered -= size
        if self._app_waiters and self.buffered <= BUFFER_HIGH:
            self._wake_app()

    async def read_all(self) -> bytes:
        """Read the whole body; return once the app has returned."""
        parts: list[bytes] = []
        chunks = self.chunks
        while True:
            if chunks:
                parts.extend(chunks)
                chunks.clear()
                self._took(self.buffered)
                continue
            if self.error is not None:
                raise self.error
            if self.finished:
                if self.ended:
                    return b"".join(parts) if len(parts) != 1 else parts[0]
                raise RemoteProtocolError("the ASGI app stopped", request=self.request)
            await self._wait(
                "after the end of its response body" if self.ended else "within its response body"
            )

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Yield the body as the app sends it; end once the app has returned."""
        chunks = self.chunks
        while True:
            if chunks:
                chunk = chunks.popleft()
                self._took(len(chunk))
                yield chunk
                continue
            if self.error is not None:
                raise self.error
            if self.finished:
                if self.ended:
                    return
                raise RemoteProtocolError("the ASGI app stopped", request=self.request)
            await self._wait(
                "after the end of its response body" if self.ended else "within its response body"
            )

    def close(self) -> None:
        """Done with the response: an app still running is disconnected, then cancelled (rule 2)."""
        if self.closed:
            return
        self.closed = True
        self.chunks.clear()
        self.buffered = 0
        if self.finished:
            return
        self._disconnect()
        # One step for the app to see the disconnect (its wake-up is already
        # queued, ahead of this), then cancelled where it waits.
        self.loop.call_soon(self._cancel)

    def _cancel(self) -> None:
        task = self.task
        if task is not None and not task.done():
            task.cancel()


def _start_task(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]
) -> asyncio.Task[None]:
    """Return a task running ``coroutine``, started at once where Python can (3.12+).

    Started eagerly, an app that answers without waiting (most handlers)
    has sent its whole response when this returns: the caller reads it
    without waiting for the loop to run the task, and then to wake it
    (two loop iterations, about a third of a small request's cost here).
    """
    if sys.version_info >= (3, 12):
        return asyncio.Task(coroutine, loop=loop, eager_start=True)
    return loop.create_task(coroutine)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


# ---------------------------------------------------------------- the client's view


class _ASGINetwork:
    """An :class:`ASGITransport` under one client: the ``Transport`` interface."""

    __slots__ = ("body_limits", "calls", "encoder", "transport")

    def __init__(
        self, transport: ASGITransport, encoder: RequestEncoder, body_limits: BodyLimits
    ) -> None:
        self.transport = transport
        self.encoder = encoder
        self.body_limits = body_limits
        self.calls: set[_Call] = set()  # the calls whose app is still running

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Call the app with ``request``; return once it sent its response head."""
        started = time.perf_counter()
        fields = request_fields(self.encoder, request)
        transport = self.transport
        url = request.url
        path = url.path
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(path),
            "raw_path": path.encode("ascii"),
            "query_string": url.query.encode("ascii"),
            "root_path": transport.root_path,
            "headers": fields,
            "client": transport.client,
            "server": (url.host, url.origin[2]),
        }
        state = transport._state
        if state is not None:
            scope["state"] = state.copy()  # lifespan spec: a shallow copy per request
        limits = self.body_limits
        call = _Call(
            self, request, timeouts.read, limits.max_response_size, transport.raise_app_exceptions
        )
        self.calls.add(call)
        call.task = _start_task(call.loop, call.run(transport.app, scope))
        try:
            await call.head()
        except BaseException as exc:
            call.close()
            if isinstance(exc, HTTPError) and exc.request is None:
                exc.request = request
            raise
        return Response(
            call.status,
            headers=call.fields,
            request=request,
            http_version="HTTP/1.1",
            source=call,
            started=started,
            decoded_limit=limits.max_decompressed_size,
        )

    async def aclose(self) -> None:
        """Disconnect and cancel every call still running; wait (briefly) for them to end."""
        running = [call for call in self.calls if not call.finished]
        for call in running:
            if call.error is None:
                call.error = RuntimeError("the client is closed")
            call.close()
        tasks = [call.task for call in running if call.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_GRACE)

    def stats(self) -> PoolStats:
        """Return no connections: there are none."""
        return PoolStats()


# ---------------------------------------------------------------- the transport


class ASGITransport(AppTransport):
    """Sends a client's requests to an ASGI application in this process.

    ``Client(transport=ASGITransport(app), base_url="http://test")``: the
    whole client (cookies, redirects, retries, hooks, decoding, limits,
    Server-Sent Events) talks to ``app`` as it would to a server, the
    request and response bodies streamed both ways (docs/asgi.md).

    ``async with ASGITransport(app) as transport:`` also runs the app's
    lifespan: startup on enter (its failure raised there), shutdown on exit,
    and its ``state`` copied into every request's scope.

    Args:
        app: an ASGI 3 application, ``async def app(scope, receive, send)``.
        raise_app_exceptions: raise the app's exceptions to the caller
            (True); False turns one raised before the response started into
            a 500 response and one raised after into ``RemoteProtocolError``.
        root_path: the scope's ``root_path``: where the app is mounted
            ("" or a path like "/api", no trailing slash).
        client: the scope's ``client``: the (host, port) the app sees the
            request come from; None for none.

    Raises:
        TypeError: a value of the wrong type.
        ValueError: a ``root_path`` that is not "" or "/..." without a
            trailing slash, or a port out of range.

    .. versionadded:: 0.2

    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] | None = ("127.0.0.1", 123),
    ) -> None:
        given: object = app
        if not callable(given):
            raise TypeError(f"app must be an ASGI application (a callable), not {given!r}")
        check_options(raise_app_exceptions, root_path, "root_path")
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = _check_client(client)
        self._state: dict[str, Any] | None = None  # the lifespan's, while it runs
        self._lifespan: Lifespan | None = None

    def __repr__(self) -> str:
        return f"<ASGITransport {self.app!r}>"

    def _network(self, encoder: RequestEncoder, body_limits: BodyLimits) -> Transport:
        return _ASGINetwork(self, encoder, body_limits)

    async def __aenter__(self) -> ASGITransport:
        """Run the app's lifespan startup (if it supports lifespan)."""
        if self._lifespan is not None:
            raise RuntimeError("this ASGITransport's lifespan is running already")
        lifespan = Lifespan(self.app)
        if await lifespan.start():
            self._lifespan = lifespan
            self._state = lifespan.state
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Run the app's lifespan shutdown."""
        lifespan = self._lifespan
        if lifespan is None:
            return
        self._lifespan = None
        self._state = None
        await lifespan.stop()


def check_options(raise_app_exceptions: object, root_path: object, name: str) -> None:
    """Check the options ASGITransport and WSGITransport share.

    Raises:
        TypeError, ValueError: naming the value.

    """
    if not isinstance(raise_app_exceptions, bool):
        raise TypeError(f"raise_app_exceptions must be a bool, not {raise_app_exceptions!r}")
    if not isinstance(root_path, str):
        raise TypeError(f"{name} must be a str, not {type(root_path).__name__}")
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise ValueError(f'{name} must be "" or start with "/" and not end with it: {root_path!r}')


def _check_client(client: object) -> tuple[str, int] | None:
    if client is None:
        return None
    if not (
        isinstance(client, tuple)
        and len(client) == 2
        and isinstance(client[0], str)
        and isinstance(client[1], int)
        and not isinstance(client[1], bool)
    ):
        raise TypeError(f"client must be a (host, port) tuple or None, not {client!r}")
    if not 0 <= client[1] <= 65535:
        raise ValueError(f"client port must be from 0 to 65535, not {client[1]}")
    return client[0], client[1]
