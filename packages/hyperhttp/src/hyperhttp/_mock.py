"""MockTransport: the client's whole stack with only the network replaced.

Strategy
--------
``Client(transport=MockTransport(...))`` keeps URL handling, cookies,
redirects, retries, the circuit breaker, decoding and size limits, and asks
the transport instead of a connection for each network attempt: the client
sends through :class:`MockNetwork` (the ``Transport`` interface the pool's
transport implements too), which calls :meth:`MockTransport.handle` once per attempt and turns the
:class:`MockResponse` it returns into a :class:`~hyperhttp.Response` with
:meth:`MockResponse.build_response`, exactly as it would a response head
and body read from a socket.

Invariants
----------
- A :class:`MockResponse` is what a server would put on the wire: raw header
  pairs (names lower-cased, as the parser hands them over) and the raw body.
  A ``Content-Encoding: gzip`` response holds gzip bytes; the client decodes
  them. It is immutable in use, so one instance may answer many requests.
- Whatever the transport answers with is one of: a :class:`MockResponse`
  (returned), an exception instance or class (raised: ``ConnectError`` and
  friends are how tests simulate network failures), or a handler (called with
  the :class:`~hyperhttp.Request`, sync or async, returning a MockResponse or
  raising).
- Every request handled is appended to :attr:`MockTransport.requests` before
  it is answered, so a test can assert on requests that failed too. A
  streamed request body is read first: the recorded (and handed-over)
  request holds it in ``content``.

Route keys (a mapping given to :class:`MockTransport`), most specific first:

========================================  =====================================
key                                       matches
========================================  =====================================
``"GET http://h:8080/p?q=1"``             method, origin, path and exact query
``"http://h:8080/p?q=1"``                 any method, origin, path, exact query
``"GET http://h:8080/p"``                 method, origin and path, any query
``"http://h:8080/p"``                     any method, origin and path
``"GET /p?q=1"``                          method, path and exact query
``"/p?q=1"``                              any method, path and exact query
``"GET /p"``                              method and path, any query, any host
``"/p"``                                  any method, path, any query or host
========================================  =====================================

A more precise URL beats a method: ``"/p?q=1"`` answers ``GET /p?q=1``
before ``"GET /p"`` does. Paths and queries are compared percent-encoded,
as the client sends them, and queries exactly (parameter order matters);
a space in a key path is written ``%20``.
"""

from __future__ import annotations

import contextlib
import inspect
import json as _json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, cast, overload

from hyperhttp_pool import PoolStats

from ._decoders import CHUNK
from ._encode import wire_fields
from ._exceptions import HTTPError, InvalidURL, ResponseTooLarge
from ._headers import Headers
from ._models import BodySource, Request, Response
from ._urls import parse_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from ._config import Timeout
    from ._encode import RequestEncoder
    from ._pool_transport import BodyLimits, Transport

__all__ = [
    "Answer",
    "Handler",
    "Interception",
    "MockResponse",
    "MockTransport",
    "MockTransportError",
    "intercept_clients",
]

HTTP_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1", "HTTP/2"})
# RFC 9110 §6.4.1: 1xx, 204 and 304 responses carry no content. None gets a
# Content-Length added: 1xx and 204 must not send one (§8.6), and a 304's
# would describe the representation, not this empty body.
_NO_CONTENT = frozenset({204, 304})
# RFC 9110 §5.6.2: field names and methods are tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: CR, LF and NUL never appear in a field value.
_BAD_VALUE = re.compile(rb"[\r\n\x00]")
_UNSET: Any = object()
_PATH_BASE = "http://mock.invalid"  # resolves "/path" keys the way request URLs are encoded


class MockTransportError(HTTPError):
    """The mock transport cannot answer: its responses ran out, or no route matches.

    Attributes:
        request: the request that found no answer.

    """


class _MockBody(BodySource):
    """A :class:`MockResponse`'s raw body, as a connection would deliver it."""

    __slots__ = ("_content", "_limit")

    def __init__(self, content: bytes, limit: int | None) -> None:
        self._content = content
        self._limit = limit

    def _check_size(self) -> None:
        # The same rule and message as a connection's max_response_size check.
        if self._limit is not None and len(self._content) > self._limit:
            raise ResponseTooLarge(f"response body over {self._limit} bytes")

    async def read_all(self) -> bytes:
        self._check_size()
        return self._content

    async def iter_raw(self) -> AsyncIterator[bytes]:
        self._check_size()
        content = self._content
        for at in range(0, len(content), CHUNK):
            yield content[at : at + CHUNK]

    def close(self) -> None:
        """Nothing to give back: there is no connection."""


class MockResponse:
    """A canned response: what a server would send, before the client decodes it.

    Args:
        status_code: 100-599.
        headers: a mapping or (name, value) pairs, str or bytes.
        content: the raw body (bytes, or str sent as UTF-8). With a
            ``Content-Encoding`` field it must be encoded already: the
            client decodes it, as it would a real response.
        json: a value sent as compact JSON; ``Content-Type: application/json``
            unless the headers name one.
        text: a str sent as UTF-8; ``Content-Type: text/plain; charset=utf-8``
            unless the headers name one.
        http_version: ``"HTTP/1.1"``, ``"HTTP/2"`` or ``"HTTP/1.0"``.
        reason_phrase: the reason; by default the status's standard phrase.

    At most one of ``content``, ``json`` and ``text`` may be given; none is an
    empty body. ``Content-Length`` is added when absent (except for 1xx, 204
    and 304, and alongside ``Transfer-Encoding``).

    Raises:
        TypeError: a wrong type, or more than one body.
        ValueError: a status out of range, an unknown HTTP version, a field
            that is no valid HTTP field, a body on a 1xx/204/304, or a
            Content-Length that contradicts the body.

    """

    __slots__ = ("content", "headers", "http_version", "reason_phrase", "status_code")

    status_code: int
    headers: list[tuple[bytes, bytes]]  #: raw pairs, names lower-cased
    content: bytes  #: the raw (still encoded) body
    http_version: str
    reason_phrase: str | None

    def __init__(
        self,
        status_code: int = 200,
        *,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        content: bytes | str | None = None,
        json: Any = _UNSET,
        text: str | None = None,
        http_version: str = "HTTP/1.1",
        reason_phrase: str | None = None,
    ) -> None:
        _check_status_line(status_code, http_version, reason_phrase)
        body, content_type = _encode_body(content, json, text)
        fields = _framed_fields(headers, status_code, body, content_type)
        self.status_code = status_code
        self.headers = fields
        self.content = body
        self.http_version = http_version
        self.reason_phrase = reason_phrase

    def __repr__(self) -> str:
        return f"<MockResponse [{self.status_code}]>"

    def build_response(
        self,
        request: Request,
        *,
        started: float | None = None,
        max_response_size: int | None = None,
        max_decompressed_size: int | None = None,
    ) -> Response:
        """Return the :class:`~hyperhttp.Response` a connection would have produced.

        The body is not read yet (``await response.aread()`` reads it, or
        ``aiter_bytes()`` streams it): it is decoded by Content-Encoding and
        held to the same limits as a body from the network.

        Args:
            request: the request answered (``response.request``, ``.url``).
            started: ``time.perf_counter()`` when the attempt began (for ``elapsed``).
            max_response_size: the raw body limit (``ResponseTooLarge``).
            max_decompressed_size: the decoded body limit (``ResponseTooLarge``).

        """
        # RFC 9110 §9.3.2: a response to HEAD has no content, whatever its fields say.
        content = b"" if request.method == "HEAD" else self.content
        return Response(
            self.status_code,
            headers=list(self.headers),
            request=request,
            reason_phrase=self.reason_phrase,
            http_version=self.http_version,
            source=_MockBody(content, max_response_size),
            started=started,
            decoded_limit=max_decompressed_size,
        )


#: What answers a request: ``(request) -> MockResponse``, sync or async.
Handler: TypeAlias = Callable[[Request], MockResponse | Awaitable[MockResponse]]
# What the transport may answer with: a response, an exception (instance or
# class) to raise, or a handler to call.
Answer: TypeAlias = MockResponse | BaseException | type[BaseException] | Handler
# A route: (method or None, origin or None, path, query or None).
_RouteKey: TypeAlias = tuple[str | None, tuple[str, str, int] | None, str, str | None]


def _check_status_line(status_code: int, http_version: str, reason_phrase: str | None) -> None:
    """Refuse a status code, HTTP version or reason phrase a status line could not carry."""
    given_status: object = status_code  # checked at run time: tests are not all typed
    if isinstance(given_status, bool) or not isinstance(given_status, int):
        raise TypeError(f"status_code must be an int, not {type(given_status).__name__}")
    if not 100 <= status_code <= 599:
        raise ValueError(f"status_code must be from 100 to 599, not {status_code}")
    if http_version not in HTTP_VERSIONS:
        raise ValueError(
            f"http_version must be one of {sorted(HTTP_VERSIONS)}, not {http_version!r}"
        )
    if reason_phrase is not None and (
        not isinstance(reason_phrase, str) or _BAD_VALUE.search(reason_phrase.encode())
    ):
        raise ValueError(f"reason_phrase must be a str without CR/LF/NUL: {reason_phrase!r}")


def _encode_body(
    content: bytes | str | None, json: Any, text: str | None
) -> tuple[bytes, bytes | None]:
    """Return the raw body given as ``content``, ``json`` or ``text``, and its Content-Type.

    The Content-Type is the default for ``json`` and ``text`` bodies, None for
    ``content`` and for no body at all (an empty body).

    Raises:
        TypeError: more than one body is given, or one of the wrong type.
        ValueError: ``json`` holds NaN or an infinity.

    """
    bodies = [
        name
        for name, present in (
            ("content", content is not None),
            ("json", json is not _UNSET),
            ("text", text is not None),
        )
        if present
    ]
    if len(bodies) > 1:
        raise TypeError(f"pass at most one of content=, json= and text=, not {bodies}")
    given_content: object = content
    given_text: object = text
    if given_content is not None:
        if isinstance(given_content, str):
            return given_content.encode("utf-8"), None
        if isinstance(given_content, bytes | bytearray | memoryview):
            return bytes(given_content), None
        raise TypeError(f"content must be bytes or str, not {type(given_content).__name__}")
    if json is not _UNSET:
        # Compact, and strict: NaN and Infinity are not JSON (RFC 8259 §6).
        text_body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text_body.encode("utf-8"), b"application/json"
    if given_text is not None:
        if not isinstance(given_text, str):
            raise TypeError(f"text must be a str, not {type(given_text).__name__}")
        return given_text.encode("utf-8"), b"text/plain; charset=utf-8"
    return b"", None


def _framed_fields(
    headers: Mapping[str, str] | list[tuple[str, str]] | None,
    status_code: int,
    body: bytes,
    content_type: bytes | None,
) -> list[tuple[bytes, bytes]]:
    """Return the raw header fields, with Content-Type and Content-Length added when due.

    Raises:
        TypeError: ``headers`` is no mapping or list of pairs.
        ValueError: a field that is no valid HTTP field, a body on a
            1xx/204/304, both framing fields, or a Content-Length that
            contradicts the body.

    """
    fields = _raw_fields(headers)
    names = {name for name, _ in fields}
    bodiless = status_code < 200 or status_code in _NO_CONTENT
    if bodiless and body:
        raise ValueError(f"a {status_code} response has no content (RFC 9110 §6.4.1)")
    if content_type is not None and b"content-type" not in names:
        fields.append((b"content-type", content_type))
    if b"transfer-encoding" in names:
        if b"content-length" in names:  # RFC 9112 §6.2
            raise ValueError("Content-Length and Transfer-Encoding must not both be given")
    elif b"content-length" in names:
        for name, value in fields:
            # An empty body may carry the length of what it stands for (a
            # HEAD response, a 304); a body must match its length.
            if name == b"content-length" and body and value.strip() != b"%d" % len(body):
                raise ValueError(
                    f"Content-Length {value.decode('latin-1')} but the body has {len(body)} bytes"
                )
    elif not bodiless:
        fields.append((b"content-length", b"%d" % len(body)))
    return fields


def _raw_fields(headers: object) -> list[tuple[bytes, bytes]]:
    """Return ``headers`` as raw (lower-cased name, value) pairs, checked like a parser would."""
    if headers is None:
        return []
    if isinstance(headers, str | bytes) or not isinstance(headers, Mapping | Iterable):
        raise TypeError(f"headers must be a mapping or (name, value) pairs, not {headers!r}")
    try:
        raw = Headers(headers).raw
    except ValueError:  # a pair that does not unpack into two items
        raise TypeError(
            f"headers must be a mapping or (name, value) pairs, not {headers!r}"
        ) from None
    fields = []
    for name, value in raw:
        if not _TOKEN.fullmatch(name.decode("latin-1")):
            raise ValueError(f"invalid header name {name!r}")
        if _BAD_VALUE.search(value):
            raise ValueError(f"invalid header value {value!r} (CR, LF or NUL) for {name!r}")
        fields.append((name.lower(), value.strip(b" \t")))
    return fields


def _parse_route(key: object) -> _RouteKey:
    """Parse a mapping key ("GET /p", "/p?q", "GET http://h/p", ...) into a route."""
    if not isinstance(key, str):
        raise TypeError(f"route keys must be str, not {type(key).__name__}: {key!r}")
    parts = key.split()
    method: str | None = None
    if len(parts) == 2:
        method, target = parts
        if not _TOKEN.fullmatch(method):
            raise ValueError(f"route key {key!r}: {method!r} is not an HTTP method")
        method = method.upper()
    elif len(parts) == 1:
        target = parts[0]
    else:
        raise ValueError(
            f"route key {key!r} must be '/path', 'METHOD /path' or 'METHOD http://host/path'"
        )
    if target.startswith("/"):
        text = _PATH_BASE + target
    elif "://" in target:
        text = target
    else:
        raise ValueError(
            f"route key {key!r} must be '/path', 'METHOD /path' or 'METHOD http://host/path'"
        )
    try:
        url = parse_url(text)
    except InvalidURL as exc:
        raise ValueError(f"route key {key!r}: {exc}") from None
    has_query = "?" in target.partition("#")[0]
    origin = None if target.startswith("/") else url.origin
    return (method, origin, url.path, url.query if has_query else None)


def _check_answer(value: object, what: str) -> Answer:
    """Return ``value`` if the transport can answer with it; raise TypeError naming it if not."""
    if isinstance(value, MockResponse | BaseException):
        return value
    if isinstance(value, type):
        if issubclass(value, BaseException):
            return value
        raise TypeError(
            f"{what} must be a MockResponse, an exception or a handler, not the class"
            f" {value.__name__} (pass an instance?)"
        )
    if callable(value):
        return cast("Handler", value)
    raise TypeError(
        f"{what} must be a MockResponse, an exception or a handler, not {type(value).__name__}:"
        f" {value!r}"
    )


class MockTransport:
    """Answers a client's requests without a network: ``Client(transport=MockTransport(...))``.

    Args:
        handler: what answers, one of

            - a handler ``(request) -> MockResponse`` (sync or async) that may
              raise, e.g. ``hyperhttp.ConnectError("refused")``;
            - a :class:`MockResponse`, returned for every request (or an
              exception, raised for every request);
            - a sequence, one item per request in order (a MockResponse, an
              exception to raise, or a handler); once exhausted every further
              request raises :class:`MockTransportError`;
            - a mapping of route keys (see the module docstring) to any of
              those; an unmatched request raises :class:`MockTransportError`.

    Attributes:
        requests: every request handled, in order (failed attempts included).
        calls: how many times :meth:`handle` was called.

    Raises:
        TypeError: ``handler`` (or an item or key in it) is none of the above.
        ValueError: an empty sequence or mapping, a malformed route key, or
            two keys naming the same route.

    """

    # One overload per form, so a literal dict or list of mixed answers is
    # inferred against that form alone (a union context defeats inference).
    @overload
    def __init__(self, handler: Mapping[str, Answer]) -> None: ...
    @overload
    def __init__(
        self, handler: Handler | MockResponse | BaseException | type[BaseException]
    ) -> None: ...
    @overload
    def __init__(self, handler: Iterable[Answer]) -> None: ...
    def __init__(
        self,
        handler: Mapping[str, Answer]
        | Handler
        | MockResponse
        | BaseException
        | type[BaseException]
        | Iterable[Answer],
    ) -> None:
        self.requests: list[Request] = []
        self.calls = 0
        self._notes: dict[int, list[str]] = {}  # an exception answer's notes as given
        self._single: Answer | None = None
        self._sequence: list[Answer] | None = None
        self._routes: dict[_RouteKey, tuple[str, Answer]] | None = None
        given: object = handler
        if isinstance(given, Mapping):
            if not given:
                raise ValueError("the route mapping must not be empty")
            routes: dict[_RouteKey, tuple[str, Answer]] = {}
            for key, value in given.items():
                route = _parse_route(key)
                if route in routes:
                    raise ValueError(
                        f"route keys {routes[route][0]!r} and {key!r} name the same route"
                    )
                routes[route] = (key, _check_answer(value, f"the value of {key!r}"))
            self._routes = routes
        elif isinstance(given, MockResponse | BaseException | type) or callable(given):
            self._single = _check_answer(given, "handler")
        elif isinstance(given, Iterable) and not isinstance(given, str | bytes | bytearray):
            items = list(given)
            if not items:
                raise ValueError("the response sequence must not be empty")
            self._sequence = [_check_answer(item, f"item {i}") for i, item in enumerate(items)]
        else:
            raise TypeError(
                "MockTransport takes a handler, a MockResponse, a sequence of responses or a"
                f" mapping of routes, not {type(given).__name__}: {given!r}"
            )

    def __repr__(self) -> str:
        return f"<MockTransport [{self.calls} calls]>"

    async def handle(self, request: Request) -> MockResponse:
        """Answer one network attempt of ``request``.

        A streamed body (``request.stream``) is read first; the request
        recorded and passed to a handler holds it in ``content``.

        Raises:
            MockTransportError: the responses ran out, or no route matches.
            Exception: whatever the configured exception or handler raises
                (an ``HTTPError`` gets ``request`` set when it has none).

        """
        if request.stream is not None:
            chunks = []
            async for chunk in request.stream:
                given: object = chunk  # typed as bytes, but user code yields it
                if not isinstance(given, bytes | bytearray | memoryview):
                    kind = type(given).__name__
                    raise TypeError(f"a request body stream must yield bytes, not {kind}")
                chunks.append(bytes(chunk))
            read = Request(request.method, request.url, request.headers, b"".join(chunks))
            read.extensions.update(request.extensions)
            request = read
        self.calls += 1
        self.requests.append(request)
        number = len(self.requests)
        answer: Answer
        if self._single is not None:
            answer = self._single
        elif self._sequence is not None:
            if number > len(self._sequence):
                raise MockTransportError(
                    f"no more responses: {len(self._sequence)} were given, request {number}"
                    f" was {request.method} {request.url}",
                    request=request,
                )
            answer = self._sequence[number - 1]
        else:
            answer = self._route(request)
        return await self._answer(answer, request)

    def _route(self, request: Request) -> Answer:
        """Return the answer of the most specific route matching ``request``."""
        assert self._routes is not None
        url = request.url
        for origin in (url.origin, None):
            for query in (url.query, None):
                for method in (request.method, None):
                    found = self._routes.get((method, origin, url.path, query))
                    if found is not None:
                        return found[1]
        known = ", ".join(repr(key) for key, _ in self._routes.values())
        raise MockTransportError(
            f"no route matches {request.method} {url}; known keys: {known}", request=request
        )

    async def _answer(self, answer: Answer, request: Request) -> MockResponse:
        if isinstance(answer, MockResponse):
            return answer
        if isinstance(answer, BaseException):
            if isinstance(answer, HTTPError):
                answer.request = request  # the instance may answer many requests
            # No traceback, and no notes added on the way up (a retry loop's),
            # piling up over repeats: the instance is as it was given each time.
            notes = self._notes.setdefault(id(answer), list(getattr(answer, "__notes__", ())))
            if notes:
                answer.__notes__ = list(notes)
            elif hasattr(answer, "__notes__"):
                del answer.__notes__
            raise answer.with_traceback(None)
        if isinstance(answer, type):
            error = answer(f"raised by MockTransport for {request.method} {request.url}")
            if isinstance(error, HTTPError):
                error.request = request
            raise error
        try:
            result = answer(request)
            if inspect.isawaitable(result):
                result = await result
        except HTTPError as exc:
            if exc.request is None:
                exc.request = request
            raise
        if not isinstance(result, MockResponse):
            raise TypeError(
                f"the handler {answer!r} returned {type(result).__name__}, not a MockResponse"
            )
        return result

    async def aclose(self) -> None:
        """Nothing to close; here so a client can close any transport alike."""


class MockNetwork:
    """A :class:`MockTransport` under a client: the same ``Transport`` interface as the pool's.

    The handler sees the request as the wire would carry it: the fields the
    client's encoder checked (Host, the defaults, the request's own) and the
    framing field it would send, if any.
    """

    def __init__(
        self, mock: MockTransport, encoder: RequestEncoder, body_limits: BodyLimits
    ) -> None:
        self.mock = mock
        self.encoder = encoder
        self.body_limits = body_limits

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Answer one attempt from the mock; the body is unread, as from a socket."""
        started = time.perf_counter()
        wire = request.copy()
        wire.headers = Headers(wire_fields(self.encoder, request))  # checked as on the wire
        mocked = await self.mock.handle(wire)
        return mocked.build_response(
            wire,
            started=started,
            max_response_size=self.body_limits.max_response_size,
            max_decompressed_size=self.body_limits.max_decompressed_size,
        )

    async def aclose(self) -> None:
        """Nothing to release: a mock holds no connection."""

    def stats(self) -> PoolStats:
        """Return no connections: a mock has none."""
        return PoolStats()


# ---------------------------------------------------------------- interception
#
# The hook behind the pytest plugin's ``hyperhttp_mock`` fixture
# (hyperhttp.pytest_plugin, docs/pytest-plugin.md). While an Interception is
# active, every Client built without ``transport=`` sends through its mock
# instead of the network: ``_client._network_for`` reads :data:`interception`
# once, when the client is built, and nothing else ever does. A client built
# before (or given its own ``transport=``) keeps its network, and a client
# built while none is active pays one module attribute read at construction
# and nothing per request. A module-level slot rather than a ContextVar: a
# client the code under test builds in another thread, or in a task started
# before the test, is caught all the same.


class Interception:
    """A mock that answers for every :class:`~hyperhttp.Client` built while it is active.

    Args:
        mock: the transport answering.
        should_mock: ``(request) -> bool``: False sends that request to the
            network through the client's own pool (None: mock every request).
            It sees the request as the client's layers hand it to the
            transport (before the client's default fields are added).

    """

    __slots__ = ("mock", "should_mock")

    def __init__(
        self, mock: MockTransport, should_mock: Callable[[Request], bool] | None = None
    ) -> None:
        self.mock = mock
        self.should_mock = should_mock

    def network(
        self, pooled: Transport, encoder: RequestEncoder, body_limits: BodyLimits
    ) -> Transport:
        """Return the transport of a client built now, given the pooled one it would use."""
        mocked = MockNetwork(self.mock, encoder, body_limits)
        if self.should_mock is None:
            return mocked  # (the pooled transport holds nothing yet: dropped unused)
        return _PartlyMocked(mocked, pooled, self.should_mock)


class _PartlyMocked:
    """The mock for the requests ``should_mock`` picks, the pooled network for the rest."""

    __slots__ = ("mocked", "pooled", "should_mock")

    def __init__(
        self, mocked: MockNetwork, pooled: Transport, should_mock: Callable[[Request], bool]
    ) -> None:
        self.mocked = mocked
        self.pooled = pooled
        self.should_mock = should_mock

    async def send(self, request: Request, timeouts: Timeout) -> Response:
        """Send one attempt through the mock or the network, as ``should_mock`` says."""
        if self.should_mock(request):
            return await self.mocked.send(request, timeouts)
        return await self.pooled.send(request, timeouts)

    async def aclose(self) -> None:
        """Close the pooled connections the unmocked requests opened."""
        await self.pooled.aclose()

    def stats(self) -> PoolStats:
        """Return the pool's counts (the unmocked requests' connections)."""
        return self.pooled.stats()


#: The active :class:`Interception`, or None (clients use the network).
#: Set and restored by :func:`intercept_clients`; read by ``Client()`` alone.
interception: Interception | None = None
#: The interceptions whose blocks are open, oldest first.
_active: list[Interception] = []


@contextlib.contextmanager
def intercept_clients(
    mock: MockTransport, *, should_mock: Callable[[Request], bool] | None = None
) -> Iterator[Interception]:
    """Make ``mock`` answer for every Client built without ``transport=`` in the block.

    ``with intercept_clients(MockTransport(...)):`` is what the
    ``hyperhttp_mock`` fixture does around each test. Clients built inside
    keep the mock after the block ends; blocks nest (the newest open one
    wins; when it ends, the newest still open is back, whatever the order
    in which blocks end).

    Args:
        mock: the transport answering.
        should_mock: see :class:`Interception`.

    """
    global interception  # (the one slot Client() reads)
    mine = Interception(mock, should_mock)
    _active.append(mine)
    interception = mine
    try:
        yield mine
    finally:
        # Blocks may end out of order (two tasks, two threads): drop this
        # one wherever it is, and the slot is the newest still open, or none.
        _active.remove(mine)
        interception = _active[-1] if _active else None
