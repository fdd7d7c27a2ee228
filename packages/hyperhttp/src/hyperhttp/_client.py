"""The Client: options, then the layers one request passes through (docs/architecture.md).

Strategy
--------
``Client`` holds the configuration and builds requests (``_build``); sending
one runs these layers, each in the module named after it:

1. ``send``: the per-request options and the ``total`` deadline;
2. ``_send_chain``: redirects (``_redirects``), cookies (``_cookies``), auth
   (``_auth.send_with_auth``);
3. ``_send_attempts``: retries and the circuit breaker, hyperhttp-resilience's
   own loops (``_resilience``), skipped when neither is set;
4. ``_send_replaying``: event hooks (``_hooks``) around one exchange on the
   ``Transport``: pooled HTTP/1.1 and HTTP/2 connections
   (``_pool_transport``), or a mock (``_mock.MockNetwork``); a stale
   connection or a refused HTTP/2 stream replayed.

Every request's head (HTTP/1.1) or field list (HTTP/2) comes from one
encoder (``_encode``), checked whatever built the request. Hot path (a GET,
no auth, no policy, an idle connection): a cached URL parse, the encoder's
per-origin block, a pool acquire in O(1), one write, one future awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import hyperhttp_dns

from ._auth import Auth, AuthTypes, BasicAuth, coerce_auth, send_with_auth
from ._build import UNSET, build_request
from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_TIMEOUT,
    Limits,
    Timeout,
    check_client_options,
)
from ._cookies import Cookies, with_cookies
from ._encode import RequestEncoder
from ._exceptions import (
    InsecureRequestWarning,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    drop_frame_locals,
)
from ._headers import Headers
from ._hooks import Hooks
from ._http2 import CONNECTION_WINDOW, STREAM_WINDOW, StreamRefused
from ._http11 import StaleConnection
from ._mock import MockNetwork
from ._pool_transport import BodyLimits, PoolTransport
from ._proxy import ProxySelector
from ._redirects import REDIRECT_STATUSES, keeps_credentials, next_request
from ._resilience import (
    breaker_listener,
    check_breaker,
    check_policy,
    send_resilient,
)
from ._urls import URL, QueryParams, parse_url

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterable,
        AsyncIterator,
        Awaitable,
        Callable,
        Mapping,
        Sequence,
    )

    import hyperhttp_pool
    import hyperhttp_resilience

    from ._mock import MockTransport
    from ._models import Request, Response
    from ._pool_transport import Transport
    from ._tls import VerifyTypes
    from ._tracing import Tracer


__all__ = ["Client"]


_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_UNSET: Any = UNSET  # (one sentinel: request() hands json= on to build_request)


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
        check_client_options(
            limits,
            http1,
            http2,
            {
                "max_response_size": max_response_size,
                "max_decompressed_size": max_decompressed_size,
            },
            {
                "http2_stream_window": http2_stream_window,
                "http2_connection_window": http2_connection_window,
            },
        )
        self.auth = coerce_auth(auth)
        self._hooks = Hooks(event_hooks)
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
        self._resolver = hyperhttp_dns.Resolver() if resolver is None else resolver
        # The resolver the client made, closed with it (not one given, or set later).
        self._own_resolver = self._resolver if resolver is None else None
        self.http1 = http1
        self._network: Transport
        if transport is not None:
            self._network = MockNetwork(transport, self._encoder, self._body_limits)
        else:
            self._network = PoolTransport(
                encoder=self._encoder,
                limits=limits,
                body_limits=self._body_limits,
                resolver=self._resolver,
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
        if self._own_resolver is not None:
            await self._own_resolver.aclose()

    def pool_stats(self) -> hyperhttp_pool.PoolStats:
        """Idle / in-use / connecting connections and waiters, over all origins."""
        return self._network.stats()

    @property
    def resolver(self) -> hyperhttp_dns.Resolver:
        """The resolver new connections use (replace it at any time)."""
        return self._resolver

    @resolver.setter
    def resolver(self, resolver: hyperhttp_dns.Resolver) -> None:
        self._resolver = resolver
        if isinstance(self._network, PoolTransport):
            self._network.resolver = resolver

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
        return build_request(
            self._encoder,
            self.base_url,
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
            drop_frame_locals(exc)
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
                sent = with_cookies(jar, request)
            if auth is not None:
                response = await send_with_auth(
                    auth,
                    sent,
                    lambda r: self._send_attempts(r, timeouts, stream, policy, breaker),
                    stream=stream,
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
            following = await next_request(
                request,
                response,
                history,
                max_redirects=self.max_redirects,
                stream=stream,
                trace=self._trace,
            )
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

    async def _send_replaying(self, request: Request, timeouts: Timeout, stream: bool) -> Response:
        """Send ``request`` once, replaying what never reached a server (see below).

        Each attempt: request hooks, the transport, response hooks, the body
        unless ``stream`` (one coroutine for all of it: this is the hot path).
        """
        stale = False
        refused = 0  # refusals in a row by connections that made no progress
        replays = 0
        hooks = self._hooks
        sent = request
        while True:
            try:
                if hooks.request:
                    sent = await hooks.on_request(request)
                encoder = self._encoder
                if self._headers._list is not encoder.source:  # client.headers changed
                    encoder.use_defaults(self._headers)
                response = await self._network.send(sent, timeouts)
                if hooks.response:
                    await hooks.on_response(response)
                if not stream:
                    await response.aread()
                return response
            except StreamRefused as exc:
                # HTTP/2: the server says it did not process the stream (GOAWAY
                # above it, REFUSED_STREAM): replay any method, for as long as
                # the connections make progress (a few times when they do not).
                replays += 1
                refused = 0 if exc.progress else refused + 1
                if not request.replayable or refused > _MAX_REFUSED or replays > _MAX_REPLAYS:
                    exc.request = request  # still a RemoteProtocolError; a policy may retry it
                    raise
            except StaleConnection as exc:
                # The server closed an idle connection as we reused it: nothing of
                # the response came back. Replay an idempotent request once.
                if stale or request.method not in _IDEMPOTENT or not request.replayable:
                    raise RemoteProtocolError(str(exc), request=request) from exc
                stale = True


_MAX_REFUSED = 3
_MAX_REPLAYS = 100  # HTTP/2 refusals replayed per request, progress or not


def _live_trace(client: Client) -> Callable[[str, dict[str, Any]], object] | None:
    """Return the tracer of a client still open (a breaker's listener reports there)."""
    return None if client._closed else client._trace
