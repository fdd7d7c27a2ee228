"""The Client: its configuration, request building, and ``send`` (docs/architecture.md).

Strategy
--------
``Client`` holds the configuration and builds requests (``_build``). ``send``
resolves the per-request options into one frozen ``SendOptions``, sets the
``total`` deadline, and hands the request to the ``Pipeline`` of layers
(``_pipeline``): redirects, cookies and auth on every hop, retries and the
circuit breaker (hyperhttp-resilience), event hooks and replays, over a
``Transport``: pooled HTTP/1.1 and HTTP/2 connections (``_pool_transport``)
or a mock (``_mock.MockNetwork``).

Every request's head (HTTP/1.1) or field list (HTTP/2) comes from one
encoder (``_encode``), checked whatever built the request. Hot path (a GET,
no auth, no policy, an idle connection): a cached URL parse, the encoder's
per-origin block, a pool acquire in O(1), one write, one future awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import hyperhttp_dns

from . import _mock
from ._asgi import AppTransport
from ._auth import AuthTypes, coerce_auth
from ._boundary import translate
from ._build import UNSET, build_request
from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_TIMEOUT,
    Limits,
    Timeout,
    check_client_options,
)
from ._cookies import Cookies
from ._deadline import CALL_DEADLINE, check_deadline_header, keep_deadline
from ._encode import RequestEncoder
from ._exceptions import drop_frame_locals
from ._headers import Headers
from ._hedge import check_hedging
from ._hooks import Hooks
from ._http2 import CONNECTION_WINDOW, STREAM_WINDOW
from ._limit import LimiterTypes, check_limiter
from ._mock import MockNetwork
from ._options import OPTION_NAMES, SendOptions, call_options, checked, client_options
from ._pipeline import Pipeline
from ._pool_transport import BodyLimits, PoolTransport
from ._proxy import ProxySelector
from ._resilience import check_breaker, check_policy
from ._sse import EventSource
from ._urls import URL, QueryParams, parse_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence

    import hyperhttp_pool
    import hyperhttp_resilience

    from ._mock import MockTransport
    from ._models import Request, Response
    from ._pool_transport import Transport
    from ._tls import VerifyTypes
    from ._tracing import Tracer


__all__ = ["Client"]


_UNSET: Any = UNSET  # (one sentinel: request() hands json= on to build_request)


class Client:
    """An async HTTP client with a connection pool; see docs/api.md and docs/architecture.md."""

    _options: list[SendOptions | None]
    _closed = False

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
        transport: MockTransport | AppTransport | None = None,
        limiter: LimiterTypes = None,
        deadline_header: str | None = None,
        hedging: hyperhttp_resilience.Hedging | None = None,
    ) -> None:
        sizes = (max_response_size, max_decompressed_size)
        windows = (http2_stream_window, http2_connection_window)
        check_client_options(limits, http1, http2, sizes, windows, transport, verify)
        hooks = Hooks(event_hooks)
        defaults = Headers(headers)
        self._encoder = RequestEncoder()
        self._encoder.use_defaults(defaults)  # validated before anything is built
        self._headers = defaults
        self.auth = coerce_auth(auth)  # (and again when set later: __setattr__)
        self.timeout = Timeout.coerce(timeout)
        self.limits = limits
        self.base_url: URL | None = parse_url(base_url) if base_url else None
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.retry = check_policy(retry)
        self.circuit_breaker = check_breaker(circuit_breaker)
        self.limiter = check_limiter(limiter)
        self.deadline_header = check_deadline_header(deadline_header)
        self.hedging = check_hedging(hedging)
        self.trust_env = trust_env
        self.http1 = http1
        self.http2 = http2
        self._body_limits = BodyLimits(*sizes)
        self._resolver = hyperhttp_dns.Resolver() if resolver is None else resolver
        # The resolver the client made, closed with it (not one given, or set later).
        self._own_resolver = self._resolver if resolver is None else None
        network = self._network = _network_for(self, transport, proxy, verify, windows, trace)
        self._pipeline = Pipeline(network, self._encoder, defaults, Cookies(cookies), hooks, trace)

    # ------------------------------------------------------------ default fields

    @property
    def headers(self) -> Headers:
        """The fields every request carries unless it sets its own; change them at any time."""
        return self._headers

    @headers.setter
    def headers(self, headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None) -> None:
        fresh = Headers(headers)
        self._encoder.use_defaults(fresh)  # validated before it replaces anything
        self._headers = self._pipeline.defaults = fresh

    @property
    def cookies(self) -> Cookies:
        """The cookie jar: sent with every request it matches, filled from responses."""
        return self._pipeline.cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._pipeline.cookies = cookies if isinstance(cookies, Cookies) else Cookies(cookies)

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection (and the resolver the client created)."""
        if self._closed:
            return
        self._closed = self._pipeline.closed = True
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
        hedging: hyperhttp_resilience.Hedging | None = _UNSET,
    ) -> Response:
        """Send a request and read the whole response body.

        ``follow_redirects``, ``retry``, ``circuit_breaker``, ``auth`` and ``hedging``
        override the client's for this request (``None`` turns them off).
        ``files=`` (with ``data=`` fields) sends multipart/form-data.

        Raises:
            InvalidURL, LocalProtocolError: before anything is sent.
            TransportError subclasses: connect, timeouts, protocol errors.
            TooManyRedirects, StreamConsumed: while following redirects.
            CircuitOpenError: the origin's breaker is open; nothing was sent.

        """
        request = build_request(  # (not self.build_request: one call less per request)
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
        return await self.send(
            request,
            timeout=timeout,
            follow_redirects=follow_redirects,
            retry=retry,
            circuit_breaker=circuit_breaker,
            auth=auth,
            hedging=hedging,
        )

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str | URL, **kwargs: Any) -> AsyncIterator[Response]:
        """``async with client.stream(...) as response``: the body is not read yet."""
        options = {
            name: kwargs.pop(name, _UNSET)
            for name in (
                "timeout",
                "follow_redirects",
                "retry",
                "circuit_breaker",
                "auth",
                "hedging",
            )
        }
        request = self.build_request(method, url, **kwargs)
        response = await self.send(request, stream=True, **options)
        try:
            yield response
        finally:
            await response.aclose()

    def sse(self, url: str | URL, **kwargs: Any) -> EventSource:
        """Server-Sent Events of ``url``, reconnecting: ``async with client.sse(url) as events``.

        ``method=``, ``max_reconnects=``, ``max_event_size=`` and
        :meth:`stream`'s keywords; see :class:`~hyperhttp.EventSource`.
        """
        return EventSource(self, url, **kwargs)

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
        hedging: hyperhttp_resilience.Hedging | None = _UNSET,
    ) -> Response:
        """Send a built request; read the body unless ``stream``.

        The ``total`` timeout is a deadline over the whole call: every retry
        and every redirect of it.
        """
        if self._closed:
            raise RuntimeError("the client is closed")
        if (
            (timeout is _UNSET)
            & (follow_redirects is _UNSET)
            & (retry is _UNSET)
            & (circuit_breaker is _UNSET)
            & (auth is _UNSET)
            & (hedging is _UNSET)
        ):  # none given: the client's own options, built once (until one is set again)
            options = self._options[1 if stream else 0] or client_options(self, stream)
        else:
            options = call_options(
                self, stream, timeout, follow_redirects, retry, circuit_breaker, auth, hedging
            )
        timeouts = options.timeouts
        chain = self._pipeline.send(request, options)
        try:
            if timeouts.total is None:
                return await chain
            token = (  # the attempts send what is left of it (deadline_header=)
                CALL_DEADLINE.set(asyncio.get_running_loop().time() + timeouts.total)
                if options.deadline_header
                else None
            )
            try:
                async with asyncio.timeout(timeouts.total) as scope:
                    response = await chain
                deadline = scope.when()
                if stream and deadline is not None:  # the body, read later, within it too
                    keep_deadline(response, deadline, timeouts.total)
                return response
            except TimeoutError as exc:  # the error boundary (_boundary) maps the deadline's
                raise translate(exc, "total", timeout=timeouts.total, request=request)  # noqa: B904
            finally:
                if token is not None:
                    CALL_DEADLINE.reset(token)
        except BaseException as exc:
            drop_frame_locals(exc)
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        """Set an attribute; an option is checked (and coerced) as its argument would be."""
        if name in OPTION_NAMES:
            object.__setattr__(self, name, checked(name, value))
            object.__setattr__(self, "_options", [None, None])  # built from the old value
        else:
            object.__setattr__(self, name, value)


def _network_for(
    client: Client,
    mock: MockTransport | AppTransport | None,
    proxy: str | None,
    verify: VerifyTypes,
    h2_windows: tuple[int, int],
    trace: Tracer | None,
) -> Transport:
    """Return the transport under the client's layers: the mock given, or pooled connections."""
    if isinstance(mock, AppTransport):  # ASGITransport, WSGITransport: streaming, in-process
        return mock._network(client._encoder, client._body_limits)
    if mock is not None:
        return MockNetwork(mock, client._encoder, client._body_limits)
    network = PoolTransport(
        encoder=client._encoder,
        limits=client.limits,
        body_limits=client._body_limits,
        resolver=client.resolver,
        # Proxies: ``proxy=`` for every URL, else the environment's (trust_env).
        proxies=ProxySelector(proxy=proxy, trust_env=client.trust_env),
        verify=verify,
        trust_env=client.trust_env,
        http1=client.http1,
        http2=client.http2,
        h2_windows=h2_windows,
        trace=trace,
    )
    # The pytest plugin's hyperhttp_mock, during a test (_mock.intercept_clients):
    # one read here, nothing per request.
    interception = _mock.interception
    if interception is not None:
        return interception.network(network, client._encoder, client._body_limits)
    return network
