"""The layers one request passes through below ``Client.send`` (docs/architecture.md).

Strategy
--------
``Client.send`` resolves the per-request options into one frozen
``_options.SendOptions`` and hands the request to :meth:`Pipeline.send`. The
layers, outermost first; each behaviour lives in the module named after it,
the pipeline only composes them:

1. :meth:`Pipeline.send`: redirects (``_redirects.next_request``), with
   cookies from and into the jar (``_cookies.with_cookies``) and the auth
   flow (``_auth.send_with_auth``) on every hop;
2. :meth:`Pipeline.attempts`: retries and the circuit breaker, run by
   hyperhttp-resilience's own loops (``_resilience.send_resilient``), each
   attempt within its origin's ``limiter=`` (``_limit.send_limited``);
   skipped entirely when none is set;
3. :meth:`Pipeline.exchange`: one attempt: request hooks, the ``Transport``
   (pooled connections, ``_pool_transport``, or a mock, ``_mock``; copies
   of a slow attempt racing to the head with ``hedging=``, ``_hedge``), response
   hooks, the body unless streaming; a stale pooled connection or an HTTP/2
   stream the server refused is replayed here (bounded).

Hot path (no auth, no policy, no hooks): two coroutines, ``send`` and
``exchange``, above the transport's; a layer that is off costs one test.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._auth import BasicAuth, BearerAuth, send_with_auth
from ._conn import StaleConnection
from ._cookies import Cookies, with_cookies
from ._deadline import with_deadline
from ._exceptions import RemoteProtocolError
from ._hedge import IDEMPOTENT, send_hedged
from ._http2 import StreamRefused
from ._limit import limiter_for, send_limited
from ._redirects import REDIRECT_STATUSES, keeps_credentials, next_request
from ._resilience import breaker_listener, send_resilient

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import hyperhttp_resilience

    from ._encode import RequestEncoder
    from ._headers import Headers
    from ._hooks import Hooks
    from ._models import Request, Response
    from ._options import SendOptions
    from ._pool_transport import Transport
    from ._tracing import Tracer

__all__ = ["Pipeline"]

_MAX_REFUSED = 3  # HTTP/2 refusals in a row by connections that made no progress
_MAX_REPLAYS = 100  # HTTP/2 refusals replayed per request, progress or not


class Pipeline:
    """The client's layers over its transport; see the module docstring."""

    __slots__ = (
        "__weakref__",
        "closed",
        "cookies",
        "defaults",
        "encoder",
        "hooks",
        "network",
        "trace",
        "traced_breakers",
    )

    def __init__(
        self,
        network: Transport,
        encoder: RequestEncoder,
        defaults: Headers,
        cookies: Cookies,
        hooks: Hooks,
        trace: Tracer | None,
    ) -> None:
        self.network = network
        self.encoder = encoder
        self.defaults = defaults  # the client's headers (the client replaces them here)
        self.cookies = cookies
        self.hooks = hooks
        self.trace = trace
        self.closed = False  # a breaker shared with other clients stops reporting here
        self.traced_breakers: weakref.WeakSet[hyperhttp_resilience.CircuitBreaker] = (
            weakref.WeakSet()
        )

    async def send(self, request: Request, options: SendOptions) -> Response:
        """Send, following redirects; cookies go out from the jar and come back into it.

        ``auth`` applies to the first request's origin only (and to its
        http -> https upgrade): never to a redirect elsewhere.
        """
        jar = self.cookies
        history: list[Response] = []
        auth = options.auth
        url = request.url
        if auth is None and (url.username or url.password):  # http://user:pass@host/
            auth = BasicAuth(unquote(url.username), unquote(url.password))
        plain = options.retry is None and options.circuit_breaker is None and not options.limiter
        auth_options = options
        stateful = auth is not None and not isinstance(auth, BasicAuth | BearerAuth)
        if stateful and options.hedging is not None:  # a Digest flow... (_hedge rule 3)
            auth_options = options.replace(hedging=None)
        while True:
            sent = request
            if not jar.is_empty or request.cookies is not None:
                sent = with_cookies(jar, request)
            if auth is not None:
                response = await send_with_auth(
                    auth, sent, lambda r: self.attempts(r, auth_options), stream=options.stream
                )
            elif plain:  # (attempts inlined: one await less)
                response = await self.exchange(sent, options)
            else:
                response = await self.attempts(sent, options)
            set_cookie = response._raw_values(b"set-cookie")  # the Headers stay unbuilt
            if set_cookie:
                jar.extract(request.url, [value.decode("latin-1") for value in set_cookie])
            if (
                not options.follow_redirects
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
                max_redirects=options.max_redirects,
                stream=options.stream,
                trace=self.trace,
            )
            if auth is not None and not keeps_credentials(request.url, following.url):
                auth = None  # left the first origin: no credentials for the rest of the chain
            request = following

    def attempts(self, request: Request, options: SendOptions) -> Awaitable[Response]:
        """Send ``request`` under the options' retry policy, breaker and limiter (``_limit``)."""
        policy, breaker = options.retry, options.circuit_breaker
        limiter = limiter_for(options.limiter, request) if options.limiter else None

        def one() -> Awaitable[Response]:
            if limiter is None:
                return self.exchange(request, options)
            return send_limited(limiter, request, lambda: self.exchange(request, options))

        if policy is None and breaker is None:
            return one()
        trace = self.trace
        if breaker is not None and trace is not None and breaker not in self.traced_breakers:
            self.traced_breakers.add(breaker)
            breaker.add_listener(breaker_listener(self, _live_trace))
        return send_resilient(one, request, policy, breaker, trace)

    async def exchange(self, request: Request, options: SendOptions) -> Response:
        """Send ``request`` once, replaying what never reached a server (see below).

        Each attempt: request hooks, the transport, response hooks, the body
        unless streaming (one coroutine for all of it: this is the hot path).
        """
        stale = False
        refused = 0  # refusals in a row by connections that made no progress
        replays = 0
        hooks = self.hooks
        sent = request
        while True:
            try:
                if hooks.request:
                    sent = await hooks.on_request(request)
                if options.deadline_header:  # what is left of the call's total, each attempt
                    sent = with_deadline(sent, options.deadline_header)
                encoder = self.encoder
                if self.defaults._list is not encoder.source:  # client.headers changed in place
                    encoder.use_defaults(self.defaults)
                if options.hedging is None:
                    response = await self.network.send(sent, options.timeouts)
                else:  # copies of a slow attempt race to the head (_hedge)
                    replay = stale or replays > 0  # the call was counted on its first try
                    response = await send_hedged(sent, self.network, options, count_call=not replay)
                if hooks.response:
                    await hooks.on_response(response)
                if not options.stream:
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
                if stale or request.method not in IDEMPOTENT or not request.replayable:
                    raise RemoteProtocolError(str(exc), request=request) from exc
                stale = True


def _live_trace(pipeline: Pipeline) -> Callable[[str, dict[str, Any]], object] | None:
    """Return the tracer of a client still open (a breaker's listener reports there)."""
    return None if pipeline.closed else pipeline.trace
