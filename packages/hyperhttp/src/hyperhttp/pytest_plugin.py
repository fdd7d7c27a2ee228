"""The pytest plugin: the ``hyperhttp_mock`` fixture (docs/pytest-plugin.md).

It comes with hyperhttp and is active on install (the ``pytest11`` entry
point ``hyperhttp``). The fixture is shaped like pytest-httpx's
``httpx_mock``, so a test suite moving from httpx renames the fixture and
keeps its tests; the page lists the differences.

Strategy
--------
The fixture owns one :class:`~hyperhttp.MockTransport` whose handler is a
table of routes (:meth:`HyperHTTPMock._handle`), and activates it with
``_mock.intercept_clients`` for the test: every :class:`~hyperhttp.Client`
built meanwhile without ``transport=`` (the test's own, or one the code
under test builds) sends each network attempt to it. Nothing is patched:
the client reads one slot when it is built, and its whole stack runs as it
would against a server (redirects, cookies, auth, retries, decoding, size
limits); the routes see each request as the wire would carry it.

Rules (pytest-httpx 0.30 and later)
-----------------------------------
- A request is answered by the first route registered that matches it and
  has not answered yet; once every matching route has answered, by the last
  of them if it is reusable. Otherwise the request is unexpected: it raises
  :class:`~hyperhttp.MockTransportError` naming the request and every route,
  and the test fails at teardown as well (the code under test may have
  swallowed the error).
- Every route must answer at least once, unless it is optional: teardown
  fails listing those that never did.
- ``@pytest.mark.hyperhttp_mock(...)`` on a test, class or module changes
  those defaults; the closest marker wins, option by option.
"""

from __future__ import annotations

import contextlib
import inspect
import json as _json
import operator
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

import pytest

from ._exceptions import HTTPError
from ._headers import Headers
from ._mock import MockResponse, MockTransport, MockTransportError, intercept_clients
from ._models import Request
from ._urls import URL, parse_url

__all__ = ["Callback", "HyperHTTPMock", "hyperhttp_mock", "mock_clients"]

#: What answers a matched request: ``(request) -> MockResponse``, sync or
#: async; None means "not this one" (the request is then unexpected).
Callback: TypeAlias = Callable[[Request], MockResponse | Awaitable[MockResponse | None] | None]
_URLMatch: TypeAlias = str | URL | re.Pattern[str]
_Params: TypeAlias = dict[str, Any]  # name -> value, or a list of values in order

# The options of @pytest.mark.hyperhttp_mock(...) and mock_clients(), with their defaults.
_DEFAULTS: dict[str, Any] = {
    "assert_all_responses_were_requested": True,
    "assert_all_requests_were_expected": True,
    "can_send_already_matched_responses": False,
    "should_mock": None,
}
_MARKER_HELP = (
    "hyperhttp_mock(*, assert_all_responses_were_requested=True,"
    " assert_all_requests_were_expected=True, can_send_already_matched_responses=False,"
    " should_mock=None): configure the hyperhttp_mock fixture"
    " (should_mock: request -> bool, False sends that request to the network)."
)
_REUSE_HINT = (
    "pass is_reusable=True to let a response answer more than one request, or register"
    " one per request"
)


class _Options:
    """The fixture's options, checked when built (from markers or :func:`mock_clients`)."""

    __slots__ = tuple(_DEFAULTS)

    assert_all_responses_were_requested: bool
    assert_all_requests_were_expected: bool
    can_send_already_matched_responses: bool
    should_mock: Callable[[Request], bool] | None

    def __init__(self, **options: Any) -> None:
        __tracebackhide__ = True  # (a misspelt marker option: the message is what matters)
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise TypeError(
                f"hyperhttp_mock: unknown option(s) {unknown}; the options are {list(_DEFAULTS)}"
            )
        for name, default in _DEFAULTS.items():
            value = options.get(name, default)
            if name == "should_mock":
                if value is not None and not callable(value):
                    raise TypeError(f"hyperhttp_mock: should_mock must be callable, not {value!r}")
            elif not isinstance(value, bool):
                raise TypeError(f"hyperhttp_mock: {name} must be a bool, not {value!r}")
            setattr(self, name, value)


def _params(query: str) -> _Params:
    """Return a query as {name: value} ({name: [values]} for a repeated name)."""
    found: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


def _json_of(content: bytes) -> Any:
    """Return the JSON a body holds; raise ValueError if it holds none."""
    return _json.loads(content.decode("utf-8"))


class _Matcher:
    """What a route (or :meth:`HyperHTTPMock.get_requests`) selects requests by."""

    __slots__ = ("content", "extensions", "headers", "json", "method", "params", "pattern", "url")

    def __init__(
        self,
        method: str | None,
        url: _URLMatch | None,
        match_headers: Mapping[str, Any] | None,
        match_content: bytes | str | None,
        match_json: Any,
        match_params: Mapping[str, Any] | None,
        match_extensions: Mapping[str, Any] | None,
    ) -> None:
        if method is not None and not isinstance(method, str):
            raise TypeError(f"method must be a str, not {method!r}")
        self.method = method.upper() if method else None
        self.pattern: re.Pattern[str] | None = None
        self.url: URL | None = None
        self.params: _Params | None = None
        if isinstance(url, re.Pattern):
            if match_params is not None:
                raise ValueError("match_params cannot be combined with a regular-expression url")
            self.pattern = url
        elif isinstance(url, str | URL):
            self.url = parse_url(url)  # InvalidURL (a ValueError) now, not at the request
            if match_params is not None and self.url.query:
                raise ValueError("with match_params, the url must hold no query")
            self.params = (
                dict(match_params) if match_params is not None else _params(self.url.query)
            )
        elif url is not None:
            raise TypeError(f"url must be a str, a hyperhttp.URL or a re.Pattern, not {url!r}")
        elif match_params is not None:
            raise ValueError("match_params needs a url (the URL without its query)")
        if match_headers is not None and not isinstance(match_headers, Mapping):
            raise TypeError(f"match_headers must be a mapping, not {match_headers!r}")
        self.headers = dict(match_headers) if match_headers else None
        if match_content is not None and match_json is not None:
            raise ValueError("match the body one way: match_content or match_json, not both")
        if isinstance(match_content, str):
            match_content = match_content.encode("utf-8")
        elif match_content is not None and not isinstance(match_content, bytes):
            raise TypeError(f"match_content must be bytes, not {match_content!r}")
        self.content = match_content
        self.json = match_json
        if match_extensions is not None and not isinstance(match_extensions, Mapping):
            raise TypeError(f"match_extensions must be a mapping, not {match_extensions!r}")
        self.extensions = dict(match_extensions) if match_extensions else None

    def matches(self, request: Request) -> bool:
        """Whether ``request`` is one this matcher selects."""
        if self.method is not None and request.method != self.method:
            return False
        got = request.url
        if self.pattern is not None and self.pattern.match(str(got)) is None:
            return False
        if self.url is not None and (
            got.origin != self.url.origin
            or got.path != self.url.path
            or _params(got.query) != self.params
        ):
            return False
        if self.headers is not None and any(
            request.headers.get(name) != value for name, value in self.headers.items()
        ):
            return False
        body = request.content or b""
        if self.content is not None and body != self.content:
            return False
        if self.json is not None:
            try:
                if _json_of(body) != self.json:
                    return False
            except ValueError:  # (JSONDecodeError and UnicodeDecodeError both are)
                return False
        return self.extensions is None or all(
            request.extensions.get(name) == value for name, value in self.extensions.items()
        )

    def __str__(self) -> str:
        if self.pattern is not None:
            where = f'URL matching "{self.pattern.pattern}"'
        elif self.url is not None:
            where = str(self.url)  # (its query, or params given as match_params)
            if self.params and not self.url.query:
                where += f" with params {self.params}"
        else:
            where = "any URL"
        # "GET http://h/p", "any method, http://h/p", "GET, any URL"
        text = (
            f"{self.method} {where}"
            if self.method and self.url is not None
            else f"{self.method or 'any method'}, {where}"
        )
        extras = [
            f"{what} {value!r}"
            for what, value in (
                ("headers", self.headers),
                ("content", self.content),
                ("json", self.json),
                ("extensions", self.extensions),
            )
            if value is not None
        ]
        return f"{text} with {', '.join(extras)}" if extras else text


class _Route:
    """A registered answer: its matcher, callback, and how many requests it answered."""

    __slots__ = ("answered", "callback", "is_optional", "is_reusable", "matcher")

    def __init__(
        self, matcher: _Matcher, callback: Callback, is_optional: bool, is_reusable: bool
    ) -> None:
        self.matcher = matcher
        self.callback = callback
        self.is_optional = is_optional
        self.is_reusable = is_reusable
        self.answered = 0

    def __str__(self) -> str:
        if self.answered:
            times = "once" if self.answered == 1 else f"{self.answered} times"
            state = f"answered {times}" + ("" if self.is_reusable else ", used up")
        else:
            state = "not used yet"
        flags = [
            flag
            for flag, on in (("reusable", self.is_reusable), ("optional", self.is_optional))
            if on
        ]
        return f"{self.matcher} ({', '.join([state, *flags])})"


def _check_bool(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")


def _raiser(exception: BaseException | type[BaseException]) -> Callback:
    """Return a callback raising ``exception`` (an instance, or a class to instantiate)."""

    def raise_it(request: Request) -> MockResponse:
        error = (
            exception(f"raised by hyperhttp_mock for {request.method} {request.url}")
            if isinstance(exception, type)
            else exception
        )
        if isinstance(error, HTTPError):
            error.request = request  # (an instance may answer many requests)
        raise error.with_traceback(None)

    return raise_it


class HyperHTTPMock:
    """What the ``hyperhttp_mock`` fixture gives a test: answers to register, requests to read.

    Every :class:`~hyperhttp.Client` built during the test without
    ``transport=`` is answered from here (see docs/pytest-plugin.md). The
    class is public for type annotations (``hyperhttp_mock: HyperHTTPMock``);
    outside pytest, :func:`mock_clients` builds and activates one.

    Attributes:
        transport: the :class:`~hyperhttp.MockTransport` answering, for a client
            built before the test (``Client(transport=hyperhttp_mock.transport)``).

    """

    def __init__(self, **options: Any) -> None:
        __tracebackhide__ = operator.methodcaller("errisinstance", TypeError)  # (an option)
        self._routes: list[_Route] = []
        self._unexpected: list[Request] = []
        self.transport = MockTransport(self._handle)
        self._options = _Options(**options)

    def __repr__(self) -> str:
        return (
            f"<HyperHTTPMock [{len(self._routes)} responses, {len(self.transport.requests)}"
            " requests]>"
        )

    # ------------------------------------------------------------ registering

    def add_response(
        self,
        *,
        method: str | None = None,
        url: _URLMatch | None = None,
        status_code: int = 200,
        json: Any = None,
        content: bytes | str | None = None,
        text: str | None = None,
        html: str | None = None,
        headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None = None,
        http_version: str = "HTTP/1.1",
        match_headers: Mapping[str, Any] | None = None,
        match_json: Any = None,
        match_content: bytes | str | None = None,
        match_params: Mapping[str, Any] | None = None,
        match_extensions: Mapping[str, Any] | None = None,
        is_optional: bool | None = None,
        is_reusable: bool | None = None,
    ) -> None:
        """Answer the requests matching ``method``, ``url`` and the ``match_*`` arguments.

        Args:
            method: the request method (any case); None matches any.
            url: the URL, query included (parameter order aside): a str or
                :class:`~hyperhttp.URL`, or a compiled pattern matched
                against ``str(request.url)``; None matches any.
            status_code: the response's status.
            json: a body sent as JSON (``application/json``); None: no JSON body.
            content: a raw body (bytes, or str sent as UTF-8).
            text: a body sent as ``text/plain; charset=utf-8``.
            html: a body sent as ``text/html; charset=utf-8``.
            headers: the response's fields.
            http_version: ``"HTTP/1.1"``, ``"HTTP/2"`` (also spelt
                ``"HTTP/2.0"``) or ``"HTTP/1.0"``.
            match_headers: fields the request must carry, with these values
                (repeated fields joined with ", ").
            match_json: the request body, decoded from JSON, equals this.
            match_content: the request body equals this.
            match_params: the query as {name: value or [values]} (the url
                then holds none); ``unittest.mock.ANY`` matches any value.
            match_extensions: entries ``request.extensions`` must hold.
            is_optional: the test passes even if no request used it
                (default: the marker's ``assert_all_responses_were_requested``, negated).
            is_reusable: it may answer more than one request (default: the
                marker's ``can_send_already_matched_responses``).

        Raises:
            TypeError, ValueError: a response a server could not send, or a
                matcher that cannot match (checked now, not at the request).

        """
        if http_version == "HTTP/2.0":  # httpx's spelling
            http_version = "HTTP/2"
        if html is not None:
            if any(body is not None for body in (json, content, text)):
                raise TypeError("pass at most one of content=, json=, text= and html=")
            fields = Headers(headers)
            if "content-type" not in fields:
                fields["content-type"] = "text/html; charset=utf-8"
            headers, content = fields, html
        kwargs: dict[str, Any] = {} if json is None else {"json": json}
        response = MockResponse(
            status_code,
            headers=headers,
            content=content,
            text=text,
            http_version=http_version,
            **kwargs,
        )
        self.add_callback(
            lambda request: response,
            method=method,
            url=url,
            match_headers=match_headers,
            match_json=match_json,
            match_content=match_content,
            match_params=match_params,
            match_extensions=match_extensions,
            is_optional=is_optional,
            is_reusable=is_reusable,
        )

    def add_callback(
        self,
        callback: Callback,
        *,
        method: str | None = None,
        url: _URLMatch | None = None,
        match_headers: Mapping[str, Any] | None = None,
        match_json: Any = None,
        match_content: bytes | str | None = None,
        match_params: Mapping[str, Any] | None = None,
        match_extensions: Mapping[str, Any] | None = None,
        is_optional: bool | None = None,
        is_reusable: bool | None = None,
    ) -> None:
        """Answer the matching requests with ``callback(request)`` (sync or async).

        The callback returns a :class:`~hyperhttp.MockResponse`, raises (a
        ``hyperhttp.ConnectError`` simulates a refused connection), or
        returns None: the request is then unexpected. The other arguments
        are :meth:`add_response`'s.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        _check_bool("is_optional", is_optional)
        _check_bool("is_reusable", is_reusable)
        matcher = _Matcher(
            method, url, match_headers, match_content, match_json, match_params, match_extensions
        )
        options = self._options
        self._routes.append(
            _Route(
                matcher,
                callback,
                not options.assert_all_responses_were_requested
                if is_optional is None
                else is_optional,
                options.can_send_already_matched_responses if is_reusable is None else is_reusable,
            )
        )

    def add_exception(
        self,
        exception: BaseException | type[BaseException],
        *,
        method: str | None = None,
        url: _URLMatch | None = None,
        match_headers: Mapping[str, Any] | None = None,
        match_json: Any = None,
        match_content: bytes | str | None = None,
        match_params: Mapping[str, Any] | None = None,
        match_extensions: Mapping[str, Any] | None = None,
        is_optional: bool | None = None,
        is_reusable: bool | None = None,
    ) -> None:
        """Raise ``exception`` (an instance, or a class) for the matching requests.

        A ``hyperhttp.HTTPError`` gets the request as ``.request``. The other
        arguments are :meth:`add_response`'s.
        """
        if not (
            isinstance(exception, BaseException)
            or (isinstance(exception, type) and issubclass(exception, BaseException))
        ):
            raise TypeError(f"exception must be an exception or its class, not {exception!r}")
        self.add_callback(
            _raiser(exception),
            method=method,
            url=url,
            match_headers=match_headers,
            match_json=match_json,
            match_content=match_content,
            match_params=match_params,
            match_extensions=match_extensions,
            is_optional=is_optional,
            is_reusable=is_reusable,
        )

    # ------------------------------------------------------------ reading

    def get_requests(
        self,
        *,
        method: str | None = None,
        url: _URLMatch | None = None,
        match_headers: Mapping[str, Any] | None = None,
        match_json: Any = None,
        match_content: bytes | str | None = None,
        match_params: Mapping[str, Any] | None = None,
        match_extensions: Mapping[str, Any] | None = None,
    ) -> list[Request]:
        """Return the requests sent to the mock that match (all of them by default), in order.

        Each is the request as the wire would carry it (Host, the client's
        default fields, the framing field) with its body in ``content``;
        unexpected requests, and those a callback raised for, are included.
        """
        matcher = _Matcher(
            method, url, match_headers, match_content, match_json, match_params, match_extensions
        )
        return [request for request in self.transport.requests if matcher.matches(request)]

    def get_request(
        self,
        *,
        method: str | None = None,
        url: _URLMatch | None = None,
        match_headers: Mapping[str, Any] | None = None,
        match_json: Any = None,
        match_content: bytes | str | None = None,
        match_params: Mapping[str, Any] | None = None,
        match_extensions: Mapping[str, Any] | None = None,
    ) -> Request | None:
        """Return the one request that matches, or None if none does.

        Raises:
            AssertionError: more than one request matches.

        """
        requests = self.get_requests(
            method=method,
            url=url,
            match_headers=match_headers,
            match_json=match_json,
            match_content=match_content,
            match_params=match_params,
            match_extensions=match_extensions,
        )
        if len(requests) > 1:
            raise AssertionError(
                f"{len(requests)} requests matched, not one: use get_requests(), or match more"
                f" precisely: {[f'{r.method} {r.url}' for r in requests]}"
            )
        return requests[0] if requests else None

    def reset(self) -> None:
        """Forget every route and request (checking nothing)."""
        self._routes.clear()
        self._unexpected.clear()
        self.transport.requests.clear()
        self.transport.calls = 0

    # ------------------------------------------------------------ answering

    async def _handle(self, request: Request) -> MockResponse:
        """Answer one network attempt: the MockTransport's handler."""
        route = self._pick(request)
        if route is not None:
            answer = route.callback(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                if not isinstance(answer, MockResponse):
                    raise TypeError(
                        f"the callback {route.callback!r} returned {type(answer).__name__},"
                        " not a hyperhttp.MockResponse"
                    )
                return answer
        self._unexpected.append(request)
        raise MockTransportError(self._explain(request, declined=route), request=request)

    def _pick(self, request: Request) -> _Route | None:
        """Return the route answering ``request`` (pytest-httpx's order), counting its use."""
        matching = [route for route in self._routes if route.matcher.matches(request)]
        for route in matching:
            if not route.answered:
                route.answered += 1
                return route
        if matching and matching[-1].is_reusable:
            matching[-1].answered += 1
            return matching[-1]
        return None

    def _describe(self, request: Request) -> list[str]:
        """Describe the request, with the fields and body the routes match on."""
        lines = [f"{request.method} {request.url}"]
        names = sorted({name.lower() for r in self._routes for name in r.matcher.headers or ()})
        if names:
            shown = {name: request.headers.get(name) for name in names}
            lines.append(f"  with headers {shown}")
        body = request.content or b""
        if any(r.matcher.json is not None for r in self._routes):
            try:
                lines.append(f"  with json {_json_of(body)!r}")
            except ValueError:
                lines.append(f"  with content {body!r} (no JSON)")
        elif any(r.matcher.content is not None for r in self._routes):
            lines.append(f"  with content {body!r}")
        extensions = {name for r in self._routes for name in r.matcher.extensions or ()}
        if extensions:
            shown = {name: request.extensions.get(name) for name in sorted(extensions)}
            lines.append(f"  with extensions {shown}")
        return lines

    def _explain(self, request: Request, declined: _Route | None) -> str:
        """Explain an unexpected request: it, every route, and why none answered."""
        first, *details = self._describe(request)
        lines = [f"hyperhttp_mock: no response for {first}", *details]
        if not self._routes:
            lines.append("No response is registered (hyperhttp_mock.add_response(...)).")
            return "\n".join(lines)
        # The unused routes first: the likeliest to be the one meant.
        routes = sorted(self._routes, key=lambda route: route.answered > 0)
        lines.append(f"Registered responses ({len(routes)}):")
        lines.extend(f"  - {route}" for route in routes)
        if declined is not None:
            lines.append(f"The callback of {declined.matcher} returned None.")
        elif any(route.matcher.matches(request) for route in self._routes):
            lines.append(f"Responses match it but have answered already: {_REUSE_HINT}.")
        return "\n".join(lines)

    def _teardown_failure(self) -> str | None:
        """Return what a test fails with at teardown, or None if all went as registered."""
        parts = []
        unused = [route for route in self._routes if not route.answered and not route.is_optional]
        if unused:
            parts.append(
                "hyperhttp_mock: these responses were registered but never requested:\n"
                + "\n".join(f"  - {route.matcher}" for route in unused)
                + "\nIf that is on purpose: add_response(..., is_optional=True), or"
                " @pytest.mark.hyperhttp_mock(assert_all_responses_were_requested=False)."
            )
        if self._unexpected and self._options.assert_all_requests_were_expected:
            parts.append(
                "hyperhttp_mock: these requests were not expected (no response answered them):\n"
                + "\n".join(f"  - {request.method} {request.url}" for request in self._unexpected)
                + "\nIf that is on purpose:"
                " @pytest.mark.hyperhttp_mock(assert_all_requests_were_expected=False)."
            )
        return "\n\n".join(parts) or None


@contextlib.contextmanager
def mock_clients(**options: Any) -> Iterator[HyperHTTPMock]:
    """Mock every Client built in the block: the fixture's work, outside pytest.

    ``with mock_clients() as hyperhttp_mock:`` yields a :class:`HyperHTTPMock`
    answering every :class:`~hyperhttp.Client` built in the block without
    ``transport=``; on a clean exit it checks what the fixture checks at
    teardown.

    Args:
        options: the ``hyperhttp_mock`` marker's options.

    Raises:
        AssertionError: a response was never requested, or a request not
            expected (unless the options allow it).

    """
    mock = HyperHTTPMock(**options)
    with intercept_clients(mock.transport, should_mock=mock._options.should_mock):
        yield mock
    failure = mock._teardown_failure()
    if failure:
        raise AssertionError(failure)


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    """Merge the test's ``hyperhttp_mock`` markers: the closest one wins, option by option."""
    options: dict[str, Any] = {}
    for marker in node.iter_markers("hyperhttp_mock"):  # the closest first
        if marker.args:
            raise TypeError(f"@pytest.mark.hyperhttp_mock takes keyword options, not {marker.args}")
        options = {**marker.kwargs, **options}
    return options


@pytest.fixture
def hyperhttp_mock(request: pytest.FixtureRequest) -> Iterator[HyperHTTPMock]:
    """Answer every hyperhttp.Client built during the test from registered responses."""
    __tracebackhide__ = operator.methodcaller("errisinstance", TypeError)  # (a marker's option)
    mock = HyperHTTPMock(**_marker_options(request.node))
    with intercept_clients(mock.transport, should_mock=mock._options.should_mock):
        yield mock
    failure = mock._teardown_failure()
    mock.reset()
    if failure:
        pytest.fail(failure, pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``hyperhttp_mock`` marker (``--strict-markers`` accepts it)."""
    config.addinivalue_line("markers", _MARKER_HELP)
