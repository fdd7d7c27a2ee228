"""Retries and the circuit breaker around one request: hyperhttp-resilience's own loops.

Strategy
--------
The client hands :func:`send_resilient` one attempt (a zero-argument
coroutine function: one send of the request, with the transport's own
replays of refused HTTP/2 streams and stale connections) and the request.
The retry loop is ``RetryPolicy.run`` and the guard ``CircuitBreaker.run``:
the components' loops, not copies, so a policy's ``sleep``, ``deadline``
and notes mean the same inside the client as around any coroutine.

What is the client's, and lives here:

- how our errors are classified for retrying (:func:`classify`: nothing was
  sent, or it may have been) and which count against a breaker that keeps
  its default rule (``TRANSPORT_FAILURES``);
- whether a request can be sent again (``Request.replayable``: a streamed
  body that went out cannot), asked before each retry is decided, so a request
  that cannot be replayed spends nothing of a retry budget;
- the ``retry`` and ``breaker`` trace events;
- the components' errors as ours: ``CircuitOpenError`` carries the request,
  and an attempt cut by the policy's ``deadline`` is a ``TimeoutException``.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Any

import hyperhttp_resilience

from ._boundary import translate
from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    PoolTimeout,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    WriteTimeout,
)
from ._http2 import StreamRefused

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._models import Request, Response

__all__ = [
    "TRANSPORT_FAILURES",
    "breaker_listener",
    "check_breaker",
    "check_policy",
    "classify",
    "send_resilient",
]

#: What a breaker with its default rule counts as failures, besides 5xx statuses.
TRANSPORT_FAILURES = (ConnectError, ProxyError, TimeoutException, RemoteProtocolError)


def classify(error: BaseException) -> hyperhttp_resilience.ErrorKind:
    """Retry classification of our errors: what happened before anything was sent."""
    kind = hyperhttp_resilience.ErrorKind
    # Nothing was sent (a proxy's refusal too: it comes before the request), or
    # (StreamRefused) the server says it did not process it.
    if isinstance(error, ConnectError | ConnectTimeout | PoolTimeout | ProxyError | StreamRefused):
        return kind.CONNECT
    if isinstance(error, ReadTimeout | WriteTimeout | RemoteProtocolError):
        return kind.SENT
    return kind.FATAL


def check_policy(policy: object) -> hyperhttp_resilience.RetryPolicy | None:
    """Check ``retry=``; the policy classifies hyperhttp's errors unless it has its own rule."""
    if policy is not None and not isinstance(policy, hyperhttp_resilience.RetryPolicy):
        raise TypeError("retry must be a hyperhttp.RetryPolicy or None")
    if policy is None or policy.classify is not hyperhttp_resilience.default_classify:
        return policy
    return dataclasses.replace(policy, classify=classify)


def check_breaker(breaker: object) -> hyperhttp_resilience.CircuitBreaker | None:
    """Check ``circuit_breaker=``."""
    if breaker is not None and not isinstance(breaker, hyperhttp_resilience.CircuitBreaker):
        raise TypeError("circuit_breaker must be a hyperhttp.CircuitBreaker or None")
    return breaker


def breaker_listener(
    owner: Any, trace_of: Callable[[Any], Callable[[str, dict[str, Any]], object] | None]
) -> Callable[[Any, hyperhttp_resilience.CircuitState, hyperhttp_resilience.CircuitState], None]:
    """Return a breaker listener reporting to ``trace_of(owner)`` while ``owner`` lives.

    The breaker may outlive the client (one breaker shared by several): it
    keeps only a weak reference, and reports nothing once the client is gone.
    """
    ref = weakref.ref(owner)

    def listener(
        key: Any, old: hyperhttp_resilience.CircuitState, new: hyperhttp_resilience.CircuitState
    ) -> None:
        alive = ref()
        trace = trace_of(alive) if alive is not None else None
        if trace is not None:
            trace("breaker", {"origin": key, "from": old.name, "to": new.name})

    return listener


async def send_resilient(
    attempt: Callable[[], Awaitable[Response]],
    request: Request,
    policy: hyperhttp_resilience.RetryPolicy | None,
    breaker: hyperhttp_resilience.CircuitBreaker | None,
    trace: Callable[[str, dict[str, Any]], object] | None,
) -> Response:
    """Run ``attempt`` through ``breaker`` (per origin) and ``policy``; see the module docstring."""
    send = attempt
    if breaker is not None:
        origin = request.url.origin

        async def guarded() -> Response:
            try:
                return await breaker.run(origin, attempt, also_failures=TRANSPORT_FAILURES)
            except hyperhttp_resilience.CircuitOpenError as exc:
                raise translate(exc, "resilience", request=request)  # noqa: B904 - chained there

        send = guarded
    if policy is None:
        return await send()
    on_retry = None
    if trace is not None:
        url = str(request.url)

        def on_retry(event: hyperhttp_resilience.RetryEvent) -> None:
            what: dict[str, Any] = (
                {"status": event.status} if event.error is None else {"error": event.error}
            )
            trace("retry", {"url": url, "attempt": event.attempt, "delay": event.delay, **what})

    try:
        return await policy.run(
            send,
            method=request.method,
            replayable=lambda: request.replayable,
            on_retry=on_retry,
        )
    except hyperhttp_resilience.DeadlineExceeded as exc:
        # The policy's deadline stopped the attempt in flight, or the next one.
        raise translate(exc, "resilience", request=request)  # noqa: B904 - chained there
