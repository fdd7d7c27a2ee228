"""Origin-aware flow control: the client's ``limiter=`` around each attempt.

Strategy
--------
``Client(limiter=...)`` takes a hyperhttp-resilience ``RateLimiter`` or
``AdaptiveLimiter`` (keyed by origin: each origin its own bucket or limit),
or a mapping from origin (``"https://api.example.com"``) to one, for
origins with limits of their own (origins not in it are not limited).
Every attempt (retries and redirects included) passes :func:`send_limited`:

- a ``RateLimiter`` gives the attempt its origin's next slot; a response
  that asks to slow down pauses that origin, not the client: a 429 or 503
  with ``Retry-After`` (RFC 9110 §10.2.3), or a ``RateLimit`` field with no
  quota left (``r=0``, its ``t`` seconds; draft-ietf-httpapi-ratelimit-headers)
  or the older ``RateLimit-Remaining: 0`` with ``RateLimit-Reset``;
- an ``AdaptiveLimiter`` holds a slot of its origin's limit for the
  attempt: a 429, a 503 or a timeout shrinks the limit, any other response
  grows it, an error that says nothing of load (refused, cancelled) only
  frees the slot.

A pause a server asks for is bounded (:data:`MAX_PAUSE`): a hostile or
broken server cannot stop the client for a day. The decisions are the
component's (sans-IO there); this module only reads the response.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Union

from hyperhttp_resilience import AdaptiveLimiter, Outcome, RateLimiter, parse_retry_after

from ._exceptions import TimeoutException
from ._urls import parse_url

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = ["MAX_PAUSE", "LimiterTypes", "check_limiter", "limiter_for", "pause_for", "send_limited"]

Limiter = RateLimiter | AdaptiveLimiter
LimiterTypes = Union[Limiter, Mapping[str, Limiter], None]  # noqa: UP007 - a runtime alias
#: The longest pause a response can impose on its origin (seconds).
MAX_PAUSE = 300.0
_OVERLOAD = frozenset({429, 503})
_Origin = tuple[str, str, int]


def check_limiter(value: object) -> Limiter | dict[_Origin, Limiter] | None:
    """Return ``limiter=`` checked: a limiter, or a mapping keyed by parsed origin.

    Raises:
        TypeError: not a RateLimiter, an AdaptiveLimiter or a mapping of them.
        InvalidURL: a mapping key that is not an http(s) origin.

    """
    if value is None or isinstance(value, RateLimiter | AdaptiveLimiter):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(
            "limiter must be a hyperhttp_resilience.RateLimiter or AdaptiveLimiter, or a mapping"
            f" of origins to them, not {type(value).__name__}"
        )
    checked: dict[_Origin, Limiter] = {}
    for origin, limiter in value.items():
        if not isinstance(limiter, RateLimiter | AdaptiveLimiter):
            raise TypeError(f"limiter[{origin!r}] must be a RateLimiter or AdaptiveLimiter")
        # (keys parsed already when a checked mapping is checked again)
        checked[origin if isinstance(origin, tuple) else parse_url(origin).origin] = limiter
    return checked


def limiter_for(limiter: Limiter | dict[_Origin, Limiter], request: Request) -> Limiter | None:
    """Return the limiter of the request's origin (None: not limited)."""
    if isinstance(limiter, dict):
        return limiter.get(request.url.origin)
    return limiter


async def send_limited(
    limiter: Limiter, request: Request, send: Callable[[], Awaitable[Response]]
) -> Response:
    """Send one attempt within its origin's limit (see the module docstring)."""
    origin = request.url.origin
    if isinstance(limiter, RateLimiter):
        await limiter.acquire(origin)
        response = await send()
        pause = pause_for(response)
        if pause:
            limiter.pause(origin, pause)
        return response
    slot = await limiter.acquire(origin)
    outcome = Outcome.IGNORE  # refused, cancelled...: says nothing of the origin's load
    try:
        response = await send()
        outcome = Outcome.OVERLOAD if response.status_code in _OVERLOAD else Outcome.SUCCESS
    except TimeoutException:
        outcome = Outcome.OVERLOAD
        raise
    finally:
        limiter.release(slot, outcome)
    return response


def pause_for(response: Response) -> float | None:
    """Return how long the response asks its origin to be left alone (None: it does not).

    Reads the raw fields (the response's ``Headers`` stay unbuilt).
    """
    if response.status_code in _OVERLOAD:
        after = parse_retry_after(_first(response, b"retry-after"), time.time())
        if after is not None:
            return min(after, MAX_PAUSE)
    quota = _ratelimit_reset(_first(response, b"ratelimit"))
    if quota is None and (_first(response, b"ratelimit-remaining") or "").strip() == "0":
        quota = _seconds(_first(response, b"ratelimit-reset"))
    return None if quota is None else min(quota, MAX_PAUSE)


def _first(response: Response, name: bytes) -> str | None:
    values = response._raw_values(name)
    return values[0].decode("latin-1") if values else None


def _ratelimit_reset(value: str | None) -> float | None:
    """Return the ``t`` of a ``RateLimit`` item whose ``r`` is 0 (``"default";r=0;t=30``: 30)."""
    if not value:
        return None
    for item in value.split(","):
        params = dict(
            part.strip().partition("=")[::2] for part in item.split(";")[1:] if "=" in part
        )
        if params.get("r", "").strip() == "0":
            return _seconds(params.get("t"))
    return None


def _seconds(value: str | None) -> float | None:
    text = (value or "").strip()
    return float(int(text)) if text.isascii() and text.isdigit() and len(text) < 12 else None
