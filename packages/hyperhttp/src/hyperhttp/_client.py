"""The Client: composes the URL, the pool, the resolver, HTTP/1.1 and resilience.

Hot path for a request (what runs per call, nothing more): the URL comes
from a parse cache; the head is the request line plus a per-origin header
block built once (caller headers, when given, go through the parser's
serializer and its validation); the pool hands an idle connection in O(1);
the connection writes once and the caller awaits one future for the
response, which for small bodies arrives complete with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json as _json
import warnings
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

import hyperhttp_dns

from ._auth import Auth, AuthTypes, BasicAuth, coerce_auth
from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_TIMEOUT,
    Limits,
    Timeout,
)
from ._cookies import Cookies
from ._encode import RequestEncoder, check_method
from ._exceptions import (
    InsecureRequestWarning,
    InvalidURL,
    ReadTimeout,
    RemoteProtocolError,
    StreamConsumed,
    TimeoutException,
    TooManyRedirects,
)
from ._headers import Headers
from ._http2 import CONNECTION_WINDOW, STREAM_WINDOW, StreamRefused
from ._http11 import StaleConnection
from ._mock import MockNetwork
from ._models import Request, Response
from ._multipart import encode_multipart
from ._pool_transport import BodyLimits, PoolTransport
from ._proxy import ProxySelector
from ._redirects import REDIRECT_STATUSES, keeps_credentials, redirect_request
from ._resilience import (
    breaker_listener,
    check_breaker,
    check_policy,
    replayable,
    send_resilient,
)
from ._urls import URL, QueryParams, join_base, merge_params, parse_url, redact

if TYPE_CHECKING:
    import hyperhttp_pool
    import hyperhttp_resilience

    from ._mock import MockTransport
    from ._pool_transport import Transport
    from ._tls import VerifyTypes
    from ._tracing import Tracer


__all__ = ["Client"]

_orjson: Any
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the optional extra
    _orjson = None

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_UNSET: Any = object()


class Client:
    """An async HTTP client with a connection pool; see ../shared/API.md."""

    def __init__(
        self,
        *,
        base_url: str | URL = "",
        headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None = None,
        cookies: Any = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        http2: bool = True,
        http1: bool = True,
        verify: VerifyTypes = True,
        follow_redirects: bool = True,
        max_redirects: int = 20,
        retry: hyperhttp_resilience.RetryPolicy | None = None,
        circuit_breaker: hyperhttp_resilience.CircuitBreaker | None = None,
        resolver: hyperhttp_dns.Resolver | None = None,
        trust_env: bool = True,
        proxy: str | None = None,
        trace: Tracer | None = None,
        max_response_size: int | None = None,
        max_decompressed_size: int | None = DEFAULT_MAX_DECOMPRESSED,
        http2_stream_window: int = STREAM_WINDOW,
        http2_connection_window: int = CONNECTION_WINDOW,
        auth: AuthTypes = None,
        event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None,
        transport: MockTransport | None = None,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a hyperhttp.Limits, not {type(limits).__name__}")
        if not http1 and not http2:
            raise ValueError("http1=False needs http2=True: no protocol left to speak")
        for name, value in (
            ("max_response_size", max_response_size),
            ("max_decompressed_size", max_decompressed_size),
        ):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int or None, not {value!r}")
        for name, value in (
            ("http2_stream_window", http2_stream_window),
            ("http2_connection_window", http2_connection_window),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 65535 <= value < 2**31:
                raise ValueError(f"{name} must be an int from 65535 to 2**31-1, not {value!r}")
        self.auth = coerce_auth(auth)
        self._request_hooks, self._response_hooks = _hooks(event_hooks)
        if transport is not None and not hasattr(transport, "handle"):
            raise TypeError(
                f"transport must be a hyperhttp.MockTransport, not {type(transport).__name__}"
            )
        if verify is False:
            warnings.warn(
                "verify=False: TLS certificates are not checked; anyone on the path can read"
                " and change this client's https traffic",
                InsecureRequestWarning,
                stacklevel=2,
            )
        self.timeout = Timeout.coerce(timeout)
        self.limits = limits
        self._h2_windows = (http2_stream_window, http2_connection_window)
        self.base_url: URL | None = parse_url(base_url) if base_url else None
        self._encoder = RequestEncoder()
        self.headers = headers  # the setter copies and validates
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.retry = check_policy(retry)
        self.circuit_breaker = check_breaker(circuit_breaker)
        self.cookies = Cookies(cookies)
        # Proxies: ``proxy=`` for every URL, else the environment's (trust_env).
        self._proxies = ProxySelector(proxy=proxy, trust_env=trust_env)
        self._traced_breakers: weakref.WeakSet[hyperhttp_resilience.CircuitBreaker] = (
            weakref.WeakSet()
        )
        self.trust_env = trust_env
        self.http2 = http2
        self._body_limits = BodyLimits(max_response_size, max_decompressed_size)
        self._trace = trace
        self._verify = verify
        self._own_resolver = resolver is None
        self.resolver = hyperhttp_dns.Resolver() if resolver is None else resolver
        self.http1 = http1
        self._network: Transport
        if transport is not None:
            self._network = MockNetwork(transport, self._encoder, self._body_limits)
        else:
            self._network = PoolTransport(
                encoder=self._encoder,
                limits=limits,
                body_limits=self._body_limits,
                resolver=self.resolver,
                proxies=self._proxies,
                verify=verify,
                trust_env=trust_env,
                http1=http1,
                http2=http2,
                h2_windows=self._h2_windows,
                trace=trace,
            )
        self._closed = False

    # ------------------------------------------------------------ default fields

    @property
    def headers(self) -> Headers:
        """The fields every request carries unless it sets its own; change them at any time."""
        return self._headers

    @headers.setter
    def headers(self, headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None) -> None:
        fresh = Headers(headers)
        self._encoder.use_defaults(fresh)  # validated before it replaces anything
        self._headers = fresh

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection (and the resolver the client created)."""
        if self._closed:
            return
        self._closed = True
        await self._network.aclose()
        if self._own_resolver:
            await self.resolver.aclose()

    def pool_stats(self) -> hyperhttp_pool.PoolStats:
        """Idle / in-use / connecting connections and waiters, over all origins."""
        return self._network.stats()

    @property
    def max_response_size(self) -> int | None:
        """The largest response body read, in raw bytes (None: no limit)."""
        return self._body_limits.max_response_size

    @max_response_size.setter
    def max_response_size(self, value: int | None) -> None:
        self._body_limits.max_response_size = value

    @property
    def max_decompressed_size(self) -> int | None:
        """The largest body after decoding (None: no limit)."""
        return self._body_limits.max_decompressed_size

    @max_decompressed_size.setter
    def max_decompressed_size(self, value: int | None) -> None:
        self._body_limits.max_decompressed_size = value

    # ------------------------------------------------------------ verbs

    async def get(self, url: str | URL, **kwargs: Any) -> Response:
        """GET ``url``; see :meth:`request`."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str | URL, **kwargs: Any) -> Response:
        """HEAD ``url``."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str | URL, **kwargs: Any) -> Response:
        """OPTIONS ``url``."""
        return await self.request("OPTIONS", url, **kwargs)

    async def delete(self, url: str | URL, **kwargs: Any) -> Response:
        """DELETE ``url``."""
        return await self.request("DELETE", url, **kwargs)

    async def post(self, url: str | URL, **kwargs: Any) -> Response:
        """POST to ``url``."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str | URL, **kwargs: Any) -> Response:
        """PUT to ``url``."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str | URL, **kwargs: Any) -> Response:
        """PATCH ``url``."""
        return await self.request("PATCH", url, **kwargs)

    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None = None,
        cookies: Any = None,
        content: bytes | str | AsyncIterable[bytes] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        json: Any = _UNSET,
        timeout: Timeout | float | None = _UNSET,
        follow_redirects: bool = _UNSET,
        retry: hyperhttp_resilience.RetryPolicy | None = _UNSET,
        circuit_breaker: hyperhttp_resilience.CircuitBreaker | None = _UNSET,
        auth: AuthTypes = _UNSET,
    ) -> Response:
        """Send a request and read the whole response body.

        ``follow_redirects``, ``retry``, ``circuit_breaker`` and ``auth``
        override the client's for this request (``None`` turns them off).
        ``files=`` (with ``data=`` fields) sends multipart/form-data.

        Raises:
            InvalidURL, LocalProtocolError: before anything is sent.
            TransportError subclasses: connect, timeouts, protocol errors.
            TooManyRedirects, StreamConsumed: while following redirects.
            CircuitOpenError: the origin's breaker is open; nothing was sent.

        """
        request = self.build_request(
            method,
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            content=content,
            data=data,
            files=files,
            json=json,
        )
        return await self.send(
            request,
            timeout=timeout,
            follow_redirects=follow_redirects,
            retry=retry,
            circuit_breaker=circuit_breaker,
            auth=auth,
        )

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str | URL, **kwargs: Any) -> AsyncIterator[Response]:
        """``async with client.stream(...) as response``: the body is not read yet."""
        options = {
            name: kwargs.pop(name, _UNSET)
            for name in ("timeout", "follow_redirects", "retry", "circuit_breaker", "auth")
        }
        request = self.build_request(method, url, **kwargs)
        response = await self.send(request, stream=True, **options)
        try:
            yield response
        finally:
            await response.aclose()

    # ------------------------------------------------------------ building

    def build_request(
        self,
        method: str,
        url: str | URL,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None = None,
        cookies: Any = None,
        content: bytes | str | AsyncIterable[bytes] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        json: Any = _UNSET,
    ) -> Request:
        """Build (and validate) a request without sending it."""
        if not isinstance(method, str):
            raise TypeError(f"method must be str, not {type(method).__name__}")
        method = method.upper()
        if isinstance(url, str) and "://" not in url[:16] and self.base_url is None:
            raise InvalidURL(f"relative URL {redact(url)!r} without a base_url")
        target = join_base(self.base_url, url)
        if (
            headers is None
            and content is None
            and data is None
            and files is None
            and json is _UNSET
            and cookies is None
            and not params
        ):  # the hot path: a request of its URL only
            check_method(method)  # the target is parse_url's; both are checked again as sent
            return Request(method, target, None, None, None)
        if params:
            target = merge_params(target, params)
        request_headers = Headers(headers) if headers is not None else None
        body: bytes | None = None
        stream: AsyncIterable[bytes] | None = None
        content_type: bytes | None = None
        multipart = None
        if files is not None:
            if content is not None or json is not _UNSET:
                raise TypeError("files= goes with data= fields only, not content= or json=")
            if request_headers is not None and "content-type" in request_headers:
                raise TypeError(
                    "files= sets its own Content-Type (multipart/form-data with its boundary);"
                    " do not pass one in headers="
                )
            multipart = encode_multipart(data, files)
            content_type = multipart.content_type.encode("latin-1")
            data = None
            whole = multipart.as_bytes()  # a form all in memory goes as plain bytes
            if whole is not None:
                body, multipart = whole, None
            else:
                stream = multipart
        if (content is not None) + (data is not None) + (json is not _UNSET) > 1:
            raise TypeError("pass only one of content=, data= and json=")
        given_content: object = content  # checked at run time: callers are not all typed
        given_data: object = data
        if given_content is not None:
            if isinstance(given_content, str):
                body = given_content.encode("utf-8")
            elif isinstance(given_content, bytes | bytearray | memoryview):
                body = bytes(given_content)
            elif isinstance(given_content, AsyncIterable):
                stream = given_content
            else:
                kind = type(given_content).__name__
                raise TypeError(f"content must be bytes, str or an async iterable, not {kind}")
        elif given_data is not None:
            if not isinstance(given_data, Mapping):
                kind = type(given_data).__name__
                raise TypeError(f"data must be a mapping (a form), not {kind}")
            pairs = [
                (key, item)
                for key, value in given_data.items()
                for item in (value if isinstance(value, list | tuple) else [value])
            ]
            body = urlencode(pairs).encode("ascii")
            content_type = b"application/x-www-form-urlencoded"
        elif json is not _UNSET:
            if _orjson is not None:
                try:
                    body = _orjson.dumps(json)
                except TypeError:
                    body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            else:
                body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            content_type = b"application/json"
        if content_type is not None:
            if request_headers is None:
                request_headers = Headers()
            if "content-type" not in request_headers:
                request_headers["Content-Type"] = content_type.decode()
        request = Request(method, target, request_headers, body, stream)
        if multipart is not None:
            request.extensions["length"] = multipart.length
            request.extensions["replayable"] = multipart.replayable
        if cookies is not None:
            request.extensions["cookies"] = Cookies(cookies)
        if request_headers is None or not request_headers._list:
            check_method(method)  # the target is parse_url's; both are checked again as sent
        else:  # the caller's fields: validated (and the head memoized) before any I/O
            self._encoder.checked_fields(request)
        return request

    # ------------------------------------------------------------ sending

    async def send(
        self,
        request: Request,
        *,
        timeout: Timeout | float | None = _UNSET,
        stream: bool = False,
        follow_redirects: bool = _UNSET,
        retry: hyperhttp_resilience.RetryPolicy | None = _UNSET,
        circuit_breaker: hyperhttp_resilience.CircuitBreaker | None = _UNSET,
        auth: AuthTypes = _UNSET,
    ) -> Response:
        """Send a built request; read the body unless ``stream``.

        The ``total`` timeout is a deadline over the whole call: every retry
        and every redirect of it.
        """
        if self._closed:
            raise RuntimeError("the client is closed")
        timeouts = self.timeout if timeout is _UNSET else Timeout.coerce(timeout)
        follow = self.follow_redirects if follow_redirects is _UNSET else follow_redirects
        policy = self.retry if retry is _UNSET else check_policy(retry)
        breaker = (
            self.circuit_breaker if circuit_breaker is _UNSET else check_breaker(circuit_breaker)
        )
        authority = self.auth if auth is _UNSET else coerce_auth(auth)
        chain = self._send_chain(request, timeouts, stream, follow, policy, breaker, authority)
        try:
            if timeouts.total is None:
                return await chain
            try:
                async with asyncio.timeout(timeouts.total):
                    return await chain
            except TimeoutError as exc:
                if isinstance(exc, TimeoutException):
                    raise
                raise ReadTimeout(
                    f"the request did not complete within the total timeout ({timeouts.total:g} s)",
                    request=request,
                ) from exc
        except BaseException as exc:
            _drop_frame_locals(exc)
            raise

    async def _send_chain(
        self,
        request: Request,
        timeouts: Timeout,
        stream: bool,
        follow: bool,
        policy: hyperhttp_resilience.RetryPolicy | None,
        breaker: hyperhttp_resilience.CircuitBreaker | None,
        auth: Auth | None = None,
    ) -> Response:
        """Send, following redirects; cookies go out from the jar and come back into it.

        ``auth`` applies to the first request's origin only (and to its
        http -> https upgrade): never to a redirect elsewhere.
        """
        jar = self.cookies
        history: list[Response] = []
        url = request.url
        if auth is None and (url.username or url.password):  # http://user:pass@host/
            auth = BasicAuth(unquote(url.username), unquote(url.password))
        while True:
            sent = request
            if not jar.is_empty or "cookies" in request.extensions:
                sent = self._with_cookies(request)
            if auth is not None:
                response = await self._send_authenticated(
                    sent, timeouts, stream, policy, breaker, auth
                )
            elif policy is None and breaker is None:  # (_send_attempts inlined: one await less)
                response = await self._send_replaying(sent, timeouts, stream)
            else:
                response = await self._send_attempts(sent, timeouts, stream, policy, breaker)
            set_cookie = response._raw_values(b"set-cookie")  # the Headers stay unbuilt
            if set_cookie:
                jar.extract(request.url, [value.decode("latin-1") for value in set_cookie])
            if (
                not follow
                or response.status_code not in REDIRECT_STATUSES
                or "location" not in response.headers
            ):
                if history:
                    response.history = history
                return response
            if len(history) >= self.max_redirects:
                await response.aclose()
                raise TooManyRedirects(
                    f"more than {self.max_redirects} redirects (last: {response.status_code}"
                    f" from {request.url})",
                    request=request,
                    history=[*history, response],
                )
            try:
                following = redirect_request(request, response)
                if stream:  # a redirect's own body is small: read it so the connection is reused
                    await response.aread()
            finally:
                await response.aclose()
            if self._trace is not None:
                self._trace(
                    "redirect",
                    {
                        "status": response.status_code,
                        "from": str(request.url),
                        "to": str(following.url),
                        "method": following.method,
                    },
                )
            history.append(response)
            if auth is not None and not keeps_credentials(request.url, following.url):
                auth = None  # left the first origin: no credentials for the rest of the chain
            request = following

    def _send_attempts(
        self,
        request: Request,
        timeouts: Timeout,
        stream: bool,
        policy: hyperhttp_resilience.RetryPolicy | None,
        breaker: hyperhttp_resilience.CircuitBreaker | None,
    ) -> Awaitable[Response]:
        """Send ``request`` under ``policy`` and ``breaker`` (see _resilience), or just send it."""
        if policy is None and breaker is None:
            return self._send_replaying(request, timeouts, stream)
        trace = self._trace
        if breaker is not None and trace is not None and breaker not in self._traced_breakers:
            self._traced_breakers.add(breaker)
            breaker.add_listener(breaker_listener(self, _live_trace))
        return send_resilient(
            lambda: self._send_replaying(request, timeouts, stream), request, policy, breaker, trace
        )

    async def _send_authenticated(
        self,
        request: Request,
        timeouts: Timeout,
        stream: bool,
        policy: hyperhttp_resilience.RetryPolicy | None,
        breaker: hyperhttp_resilience.CircuitBreaker | None,
        auth: Auth,
    ) -> Response:
        """Drive ``auth``'s flow: each request it yields is sent, its response sent back in."""
        flow = auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._send_attempts(request, timeouts, stream, policy, breaker)
                if auth.requires_response_body:
                    await response.aread()
                try:
                    following = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                except BaseException:
                    await response.aclose()
                    raise
                if stream:  # a challenge's body is small: read it so the connection is reused
                    await response.aread()
                await response.aclose()  # the challenge is released before the next round
                if not replayable(following):
                    raise StreamConsumed(
                        f"{auth!r} wants to send the request again, but its body was a stream"
                        " that was already sent; pass the body as bytes",
                        request=following,
                    )
                request = following
        finally:
            await flow.aclose()

    def _with_cookies(self, request: Request) -> Request:
        """Return ``request`` with a Cookie field from the jar (and its own ``cookies=``)."""
        own: Cookies | None = request.extensions.get("cookies")
        if own is not None:
            merged = Cookies(self.cookies)
            merged.update(own)
            value = merged.header_for(request.url)
        else:
            value = self.cookies.header_for(request.url)
        if value is None:
            return request
        sent = request.copy()
        headers = sent.headers
        given = headers.get("cookie")
        if given is not None:  # one Cookie field only (RFC 6265 §5.4): theirs first
            del headers["cookie"]
            value = f"{given}; {value}"
        headers["Cookie"] = value
        return sent

    async def _send_replaying(self, request: Request, timeouts: Timeout, stream: bool) -> Response:
        stale = False
        refused = 0  # refusals in a row by connections that made no progress
        replays = 0
        while True:
            try:
                return await self._send_once(request, timeouts, stream)
            except StreamRefused as exc:
                # HTTP/2: the server says it did not process the stream (GOAWAY
                # above it, REFUSED_STREAM): replay any method, for as long as
                # the connections make progress (a few times when they do not).
                replays += 1
                refused = 0 if exc.progress else refused + 1
                if not replayable(request) or refused > _MAX_REFUSED or replays > _MAX_REPLAYS:
                    exc.request = request  # still a RemoteProtocolError; a policy may retry it
                    raise
            except StaleConnection as exc:
                # The server closed an idle connection as we reused it: nothing of
                # the response came back. Replay an idempotent request once.
                if stale or request.method not in _IDEMPOTENT or not replayable(request):
                    raise RemoteProtocolError(str(exc), request=request) from exc
                stale = True

    async def _send_once(self, request: Request, timeouts: Timeout, stream: bool) -> Response:
        if self._request_hooks:
            request = await self._run_request_hooks(request)
        encoder = self._encoder
        if self._headers._list is not encoder.source:  # client.headers changed
            encoder.use_defaults(self._headers)
        response = await self._network.send(request, timeouts)
        if self._response_hooks:
            return await self._respond(response, stream)
        if not stream:
            await response.aread()
        return response

    async def _run_request_hooks(self, request: Request) -> Request:
        """Call the request hooks on this attempt's own copy of the request."""
        attempt = request.copy()
        for hook in self._request_hooks:
            await _call(hook, attempt)
        return attempt  # validated as it is sent, whatever the hooks changed

    async def _respond(self, response: Response, stream: bool) -> Response:
        """Run the response hooks (head only), then read the body unless ``stream``."""
        if self._response_hooks:
            try:
                for hook in self._response_hooks:
                    await _call(hook, response)
            except BaseException:
                await response.aclose()
                raise
        if not stream:
            await response.aread()
        return response


def _drop_frame_locals(error: BaseException) -> None:
    """Clear the locals of the client's frames ``error`` left on its way up to the caller's.

    An exchange that failed keeps its error for later readers, and that
    error's traceback holds the frames that were waiting on the exchange
    (and the client's, which held it too): a reference cycle per failed
    request, freed only by the cyclic collector's passes (issue 16). Called
    where :meth:`Client.send` catches it: the frames of hyperhttp's packages
    right below it, down to the first frame of anyone else's, are the ones
    the error just left, all finished, so dropping their locals breaks the
    cycle and changes nothing a printed traceback shows. Not further: an
    error raised before (a shared one, say the exception of a future that
    several requests await in a hook) carries on with the frames of that
    earlier raise, which may still run or be suspended in another task,
    and clearing a suspended coroutine's frame finalizes the coroutine
    (Python 3.11, 3.12: the task dies). Only the error's own traceback: the
    errors it was raised from may hold frames of the caller's that still run.
    """
    tb = error.__traceback__
    below = tb.tb_next if tb is not None else None  # (tb itself is the frame of send(), running)
    while below is not None:
        frame = below.tb_frame
        if not frame.f_globals.get("__name__", "").startswith(_OWN_MODULES):
            return  # someone else's frame (a hook's, an auth flow's...): left alone
        with contextlib.suppress(RuntimeError):  # (one still running: left alone)
            frame.clear()
        below = below.tb_next


#: The packages whose frames _drop_frame_locals clears.
_OWN_MODULES = ("hyperhttp.", "hyperhttp_")


def _hooks(
    event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None,
) -> tuple[tuple[Callable[..., Any], ...], tuple[Callable[..., Any], ...]]:
    """Validate ``event_hooks=``; return the request and response hooks."""
    if event_hooks is None:
        return (), ()
    if not isinstance(event_hooks, Mapping):
        raise TypeError("event_hooks must be a mapping like {'request': [...], 'response': [...]}")
    unknown = set(event_hooks) - {"request", "response"}
    if unknown:
        raise ValueError(
            f"unknown event hook kinds {sorted(unknown)}: 'request' and 'response' only"
        )
    found: list[tuple[Callable[..., Any], ...]] = []
    for kind in ("request", "response"):
        hooks = event_hooks.get(kind, ())
        if callable(hooks) or not all(callable(hook) for hook in hooks):
            raise TypeError(f"event_hooks[{kind!r}] must be a list of callables")
        found.append(tuple(hooks))
    return found[0], found[1]


async def _call(hook: Callable[..., Any], argument: object) -> None:
    result = hook(argument)
    if inspect.isawaitable(result):
        await result


_MAX_REFUSED = 3
_MAX_REPLAYS = 100  # HTTP/2 refusals replayed per request, progress or not


def _live_trace(client: Client) -> Callable[[str, dict[str, Any]], object] | None:
    """Return the tracer of a client still open (a breaker's listener reports there)."""
    return None if client._closed else client._trace
