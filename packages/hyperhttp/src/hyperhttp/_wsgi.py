"""WSGITransport: the client's whole stack against a WSGI application in this process.

Strategy
--------
``Client(transport=WSGITransport(app))`` calls ``app(environ,
start_response)`` once per network attempt (:class:`_WSGICall`), in the
event loop's thread, as httpx's WSGITransport calls it in the caller's: no
thread, no executor. What that means:

- the request body is read whole first (WSGI's ``wsgi.input`` is a
  blocking file: it cannot wait for an async stream), and handed over as a
  ``BytesIO`` with its ``CONTENT_LENGTH``;
- the response head is returned once the app called ``start_response`` and
  produced its first non-empty chunk (or ended): PEP 3333's rule for when a
  server sends the head;
- the rest of the body is pulled from the app's iterable as the caller reads
  it, one ``next()`` per chunk: an app that yields for ever does not hold
  the head back, and nothing is buffered ahead of the reader;
- the app's code runs in the event loop: a WSGI app that blocks (sleeps,
  waits on I/O) blocks the loop while it does. For such an app, serve it
  with a real server on loopback instead.

Errors follow ASGITransport's rules (``_asgi`` module docstring, rules 3-5):
the app's exception as it is with ``raise_app_exceptions`` (a 500, or
``RemoteProtocolError`` once the head is out, without); a
``RemoteProtocolError`` when it breaks WSGI or HTTP framing (no
``start_response``, a bad status or field, a body longer or shorter than its
Content-Length); ``ResponseTooLarge`` past ``max_response_size``. The
iterable's ``close()`` is called when the response is closed, read to its
end or not (PEP 3333).
"""

from __future__ import annotations

import io
import re
import sys
import time
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote_to_bytes

from hyperhttp_pool import PoolStats

from ._asgi import AppTransport, check_options, request_fields, response_fields
from ._exceptions import HTTPError, RemoteProtocolError, ResponseTooLarge
from ._models import BodySource, Response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator
    from types import TracebackType

    from ._config import Timeout
    from ._encode import RequestEncoder
    from ._models import Request
    from ._pool_transport import BodyLimits, Transport

__all__ = ["WSGIApp", "WSGITransport"]

#: RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ), as the parser holds a server to.
_REASON = re.compile(r"[\t\x20-\x7e\x80-\xff]*")

_ExcInfo: TypeAlias = (
    "tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]"
)
#: PEP 3333's ``start_response(status, headers, exc_info=None) -> write``.
StartResponse: TypeAlias = (
    "Callable[[str, list[tuple[str, str]], _ExcInfo | None], Callable[[bytes], object]]"
)
#: A WSGI application: ``app(environ, start_response) -> iterable of bytes``.
WSGIApp: TypeAlias = "Callable[[dict[str, Any], StartResponse], Iterable[bytes]]"

# RFC 9110 §6.4.1: 204 and 304 responses carry no content.
_NO_CONTENT = frozenset({204, 304})


class _WSGICall(BodySource):
    """One request to a WSGI app: ``start_response``, the iterable, the body read from it."""

    __slots__ = (
        "closed",
        "error",
        "exhausted",
        "fields",
        "head_only",
        "head_sent",
        "iterable",
        "iterator",
        "length",
        "limit",
        "pending",
        "raise_app_exceptions",
        "reason",
        "received",
        "request",
        "status",
    )

    def __init__(self, request: Request, limit: int | None, raise_app_exceptions: bool) -> None:
        self.request = request
        self.limit = limit
        self.raise_app_exceptions = raise_app_exceptions
        self.head_only = request.method == "HEAD"  # RFC 9110 §9.3.2
        self.status = 0
        self.reason = ""
        self.fields: list[tuple[bytes, bytes]] = []
        self.length: int | None = None
        self.head_sent = False  # PEP 3333: the first non-empty chunk (or write) sends it
        self.pending: list[bytes] = []  # what write() and the first next() produced
        self.iterable: Iterable[bytes] | None = None
        self.iterator: Iterator[bytes] | None = None
        self.exhausted = False
        self.received = 0
        self.closed = False
        self.error: BaseException | None = None  # the first error for the caller

    # ------------------------------------------------------------ the app's side

    def _broke(self, what: str) -> RuntimeError:
        """Record that the app broke WSGI (RemoteProtocolError); return its RuntimeError."""
        if self.error is None:
            self.error = RemoteProtocolError(f"the WSGI app {what}", request=self.request)
        return RuntimeError(f"WSGI: {what}")

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        """PEP 3333's ``start_response``: the status and fields, checked; returns ``write``."""
        if exc_info is not None and exc_info[1] is not None:
            if self.head_sent:  # PEP 3333: too late to replace the head: re-raise
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status:
            raise self._broke("called start_response twice without exc_info")
        given: object = status
        if (
            not isinstance(given, str)
            or len(given) < 3
            or not given[:3].isdigit()
            or given[3:4] not in ("", " ")
            or not 200 <= int(given[:3]) <= 599
            or not _REASON.fullmatch(given[4:])
        ):
            raise self._broke(f"sent status {given!r}: a final one is '200 OK' to '599 ...'")
        try:
            fields, length = response_fields(
                (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
            )
        except (ValueError, TypeError, AttributeError, UnicodeEncodeError) as exc:
            raise self._broke(f"sent a bad header: {exc}") from None
        self.status = int(given[:3])
        self.reason = given[4:]
        self.fields = fields
        self.length = length
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's legacy ``write()``: the data goes before what the iterable yields."""
        if not self.status:
            raise self._broke("called write() before start_response")
        if data:
            self.head_sent = True
            self.pending.append(self._check(data))

    def _check(self, chunk: object) -> bytes:
        if type(chunk) is not bytes:
            if not isinstance(chunk, bytearray | memoryview):
                raise self._broke(f"produced {type(chunk).__name__}, not bytes")
            chunk = bytes(chunk)
        return chunk

    def start(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        """Call the app; return once the head is known (PEP 3333's rule: the first chunk)."""
        try:
            iterable = self.iterable = app(environ, self.start_response)
            iterator = self.iterator = iter(iterable)
            while not self.pending:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    self.exhausted = True
                    break
                if chunk:
                    self.head_sent = True
                    self.pending.append(self._check(chunk))
            if not self.status and self.error is None:
                self.error = RemoteProtocolError(
                    "the WSGI app returned without calling start_response", request=self.request
                )
        except Exception as exc:
            if self.error is None and self.raise_app_exceptions:
                self.error = exc
            elif self.error is None:  # a server's answer to an app that failed
                self.status = 500
                self.reason = ""
                self.fields = [(b"content-length", b"0")]
                self.pending.clear()
                self.exhausted = True
        if self.error is not None:
            error = self.error
            self.close()
            raise error

    # ------------------------------------------------------------ the caller's side

    def _next(self) -> bytes | None:
        """Return the app's next non-empty chunk; None at the end. Raises the call's error."""
        pending = self.pending
        if pending:
            return pending.pop(0)
        iterator = self.iterator
        while not self.exhausted and iterator is not None:
            try:
                chunk = next(iterator)
            except StopIteration:
                self.exhausted = True
                break
            except Exception as exc:
                if self.error is None:
                    if self.raise_app_exceptions:
                        self.error = exc
                    else:
                        error = RemoteProtocolError(
                            f"the WSGI app raised {type(exc).__name__} after its response"
                            " started: the body is incomplete",
                            request=self.request,
                        )
                        error.__cause__ = exc
                        self.error = error
                raise self.error from None
            if self.error is not None:  # (a write() that broke the rules)
                raise self.error
            if chunk:
                return self._check(chunk)
            if pending:  # write() called meanwhile
                return pending.pop(0)
        return None

    def _take(self, chunk: bytes) -> bytes:
        size = self.received + len(chunk)
        if self.status in _NO_CONTENT:
            raise self._error(f"sent content with a {self.status} response (RFC 9110 §6.4.1)")
        if self.length is not None and size > self.length:
            raise self._error(f"sent more than its Content-Length of {self.length} bytes")
        limit = self.limit
        if limit is not None and size > limit:
            self.error = ResponseTooLarge(f"response body over {limit} bytes", request=self.request)
            raise self.error
        self.received = size
        return chunk

    def _error(self, what: str) -> BaseException:
        self.error = RemoteProtocolError(f"the WSGI app {what}", request=self.request)
        return self.error

    def _end(self) -> None:
        length = self.length
        if length is not None and self.received < length and self.status != 304:
            raise self._error(
                f"ended its body after {self.received} of its Content-Length of {length} bytes"
            )

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Yield the body, one ``next()`` of the app's iterable per chunk."""
        if self.error is not None:
            raise self.error
        if self.head_only:
            return
        while True:
            chunk = self._next()
            if chunk is None:
                break
            yield self._take(chunk)
        self._end()

    async def read_all(self) -> bytes:
        """Read the whole body."""
        return b"".join([chunk async for chunk in self.iter_raw()])

    def close(self) -> None:
        """Close the app's iterable (PEP 3333: whether it was read to its end or not)."""
        if self.closed:
            return
        self.closed = True
        self.pending.clear()
        close = getattr(self.iterable, "close", None)
        if close is not None:
            close()


class _WSGINetwork:
    """A :class:`WSGITransport` under one client: the ``Transport`` interface."""

    __slots__ = ("body_limits", "encoder", "transport")

    def __init__(
        self, transport: WSGITransport, encoder: RequestEncoder, body_limits: BodyLimits
    ) -> None:
        self.transport = transport
        self.encoder = encoder
        self.body_limits = body_limits

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Call the app with ``request`` (its body read first); return with the head."""
        started = time.perf_counter()
        fields = request_fields(self.encoder, request)
        body = request.content
        if body is None:
            body = b"" if request.stream is None else await _read_stream(request)
        transport = self.transport
        environ = transport._environ(request, fields, body)
        limits = self.body_limits
        call = _WSGICall(request, limits.max_response_size, transport.raise_app_exceptions)
        try:
            call.start(transport.app, environ)
        except HTTPError as exc:
            if exc.request is None:
                exc.request = request
            raise
        return Response(
            call.status,
            headers=call.fields,
            request=request,
            reason_phrase=call.reason,
            http_version="HTTP/1.1",
            source=call,
            started=started,
            decoded_limit=limits.max_decompressed_size,
        )

    async def aclose(self) -> None:
        """Nothing to release: every call ran in its caller."""

    def stats(self) -> PoolStats:
        """Return no connections: there are none."""
        return PoolStats()


async def _read_stream(request: Request) -> bytes:
    """Read a streamed request body whole (``wsgi.input`` cannot wait for it)."""
    assert request.stream is not None
    chunks = []
    async for chunk in request.stream:
        given: object = chunk  # typed as bytes, but user code yields it
        if not isinstance(given, bytes | bytearray | memoryview):
            kind = type(given).__name__
            raise TypeError(f"a request body stream must yield bytes, not {kind}")
        chunks.append(bytes(chunk))
    return b"".join(chunks)


class WSGITransport(AppTransport):
    """Sends a client's requests to a WSGI application, called in the event loop's thread.

    ``Client(transport=WSGITransport(app), base_url="http://test")``: the
    whole client talks to ``app`` (a Flask or Django app, any PEP 3333
    callable) as it would to a server. The request body is read whole
    first; the response body is pulled from the app as it is read. The app
    runs in the event loop: one that blocks, blocks the loop (docs/asgi.md).

    Args:
        app: a WSGI application, ``app(environ, start_response)``.
        raise_app_exceptions: raise the app's exceptions to the caller
            (True); False turns one raised before the response started into
            a 500 response and one raised after into ``RemoteProtocolError``.
        script_name: ``SCRIPT_NAME``, where the app is mounted ("" or a path
            like "/app", no trailing slash); a request path under it loses
            that prefix in ``PATH_INFO``.
        remote_addr: ``REMOTE_ADDR``.
        wsgi_errors: ``wsgi.errors``, a text stream (default ``sys.stderr``).

    Raises:
        TypeError, ValueError: a value of the wrong type or form.

    .. versionadded:: 0.2

    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: io.TextIOBase | Any = None,
    ) -> None:
        given: object = app
        if not callable(given):
            raise TypeError(f"app must be a WSGI application (a callable), not {given!r}")
        check_options(raise_app_exceptions, script_name, "script_name")
        if not isinstance(remote_addr, str):
            raise TypeError(f"remote_addr must be a str, not {type(remote_addr).__name__}")
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    def __repr__(self) -> str:
        return f"<WSGITransport {self.app!r}>"

    def _network(self, encoder: RequestEncoder, body_limits: BodyLimits) -> Transport:
        return _WSGINetwork(self, encoder, body_limits)

    def _environ(
        self, request: Request, fields: list[tuple[bytes, bytes]], body: bytes
    ) -> dict[str, Any]:
        """Return the PEP 3333 environ of ``request`` (fields as the wire would carry them)."""
        url = request.url
        # PEP 3333: PATH_INFO holds the decoded path's bytes as latin-1 ("bytes as str").
        path = unquote_to_bytes(url.path).decode("latin-1")
        script_name = self.script_name
        if script_name and (path == script_name or path.startswith(script_name + "/")):
            path = path[len(script_name) :]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.host,
            "SERVER_PORT": str(url.origin[2]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr if self.wsgi_errors is None else self.wsgi_errors,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in fields:
            key = name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            if key == "TRANSFER_ENCODING":
                continue  # the body is read whole: it goes with its length
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            if key in environ:  # RFC 9110 §5.3: repeated fields join with commas
                environ[key] += "," + text
            else:
                environ[key] = text
        if body or "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ
