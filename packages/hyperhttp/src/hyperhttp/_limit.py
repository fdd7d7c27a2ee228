"""Origin-aware flow control: the client's ``limiter=`` around each attempt.

Strategy
--------
``Client(limiter=...)`` takes a hyperhttp-resilience ``RateLimiter`` or
``AdaptiveLimiter`` (keyed by origin: each origin its own bucket or limit),
or a mapping from origin (``"https://api.example.com"``) to one, for
origins with limits of their own (origins not in it are not limited).
Every attempt (retries and redirects included) passes :func:`send_limited`:

- a ``RateLimiter`` gives the attempt its origin's next slot;
- an ``AdaptiveLimiter`` holds a slot of its origin's limit for the
  attempt: a 429, a 503 or a timeout shrinks the limit, any other response
  grows it, an error that says nothing of load (refused, cancelled) only
  frees the slot. A response carrying the origin's quota policy
  (``RateLimit-Policy: "default";q=300;w=1``) paces the origin's calls at
  ``q/w`` a second, ``q`` at once, tightened by the ``RateLimit`` field's
  remaining quota ``r`` (:func:`pace_for`): the client slows down before
  the quota is spent rather than after the 429s;
- with either, a response that asks to slow down pauses its origin, not the
  client (:func:`pause_for`): a 429 or 503 with ``Retry-After`` (RFC 9110
  §10.2.3), or a ``RateLimit`` field with no quota left (``r=0``, its ``t``
  seconds), or the older ``RateLimit-Remaining: 0`` with ``RateLimit-Reset``.

The fields are draft-ietf-httpapi-ratelimit-headers-10's: both are
Structured Field Lists (RFC 9651 §3.1) of Items whose value names a policy,
split over any number of field lines; a malformed item is ignored, as the
draft requires, and so are policies not counted in requests (``qu``). When
``Retry-After`` and ``RateLimit`` disagree, ``Retry-After`` wins (the
draft's Client Behavior). A pause a server asks for is bounded
(:data:`MAX_PAUSE`): a hostile or broken server cannot stop the client for
a day. The decisions are the component's (sans-IO there); this module only
reads the response.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Union

from hyperhttp_resilience import AdaptiveLimiter, Outcome, RateLimiter, parse_retry_after

from ._exceptions import TimeoutException
from ._urls import parse_url

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = [
    "MAX_PAUSE",
    "LimiterTypes",
    "check_limiter",
    "limiter_for",
    "pace_for",
    "pause_for",
    "send_limited",
]

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
        # Before the slot is released, so no waiter starts past what the response said.
        pace = pace_for(response)
        if pace is not None:
            limiter.pace(origin, pace[0], pace[1], remaining=pace[2])
        pause = pause_for(response)
        if pause:
            limiter.pause(origin, pause)
    except TimeoutException:
        outcome = Outcome.OVERLOAD
        raise
    finally:
        limiter.release(slot, outcome)
    return response


def pause_for(response: Response) -> float | None:
    """Return how long the response asks its origin to be left alone (None: it does not).

    ``Retry-After`` on a 429 or 503 first; else the longest reset ``t`` of the
    ``RateLimit`` items with nothing left (``r=0``); else the older
    ``RateLimit-Remaining: 0`` with ``RateLimit-Reset``. At most :data:`MAX_PAUSE`.
    Reads the raw fields (the response's ``Headers`` stay unbuilt).
    """
    if response.status_code in _OVERLOAD:
        retry_after = response._raw_values(b"retry-after")
        after = parse_retry_after(retry_after[0], time.time()) if retry_after else None
        if after is not None:
            return min(after, MAX_PAUSE)
    resets = [
        item.numbers["t"]
        for item in _items(response._raw_values(b"ratelimit"))
        if item.numbers.get("r") == 0 and "t" in item.numbers
    ]
    if resets:
        return min(float(max(resets)), MAX_PAUSE)
    remaining = response._raw_values(b"ratelimit-remaining")
    if remaining and remaining[0].strip() == b"0":
        reset = response._raw_values(b"ratelimit-reset")
        seconds = reset[0].strip() if reset else b""
        if _INTEGER.fullmatch(seconds):
            return min(float(seconds), MAX_PAUSE)
    return None


def pace_for(response: Response) -> tuple[float, int, int | None] | None:
    """Return the pace a response's quota policy asks for: ``(rate, burst, remaining)``.

    ``RateLimit-Policy: "default";q=300;w=1`` is 300 calls a second, 300 at
    once (``rate = q / w``, ``burst = q``); ``remaining`` is the ``r`` the
    ``RateLimit`` field gives for that policy (None: not given). Of several
    policies, the one with the least of its quota left paces (the draft
    leaves the choice to the client); without ``RateLimit``, the slowest.
    None: no policy in requests with a window.
    """
    policies = {
        item.name: (item.numbers["q"], item.numbers["w"])
        for item in _items(response._raw_values(b"ratelimit-policy"))
        if item.numbers.get("q", 0) > 0 and item.numbers.get("w", 0) > 0 and item.unit == _REQUESTS
    }
    if not policies:
        return None
    remaining = {
        item.name: item.numbers["r"]
        for item in _items(response._raw_values(b"ratelimit"))
        if "r" in item.numbers
    }

    def tightness(name: str) -> tuple[float, float]:
        quota, window = policies[name]
        left = remaining.get(name)
        return (1.0 if left is None else left / quota, quota / window)

    name = min(policies, key=tightness)
    quota, window = policies[name]
    return quota / window, quota, remaining.get(name)


# ---------------------------------------------------------------- the fields' syntax

_REQUESTS = "requests"  # the draft's default quota unit (``qu``)
#: Items read from one field (all its lines): the fields name a handful of policies.
MAX_ITEMS = 16
# RFC 9651 §3.1.2: a parameter key; §3.3.1: an Integer has at most 15 digits
# (the draft's r, t, q and w are non-negative Integers, qu a String).
_KEY = re.compile(rb"[a-z*][a-z0-9_.*-]*")
_INTEGER = re.compile(rb"[0-9]{1,15}")
_TOKEN = re.compile(rb"[A-Za-z*][!#$%&'*+\-.^_`|~:/0-9A-Za-z]*")
_INTEGER_KEYS = frozenset({"r", "t", "q", "w"})


class _Item(NamedTuple):
    """A List member of RateLimit or RateLimit-Policy: the policy's name and what we read."""

    name: str
    numbers: dict[str, int]  # r, t, q, w as given
    unit: str  # qu


def _items(values: list[bytes]) -> list[_Item]:
    """Parse a Structured Field List of Items (RFC 9651 §4.2.1), its lines joined with ``,``.

    Each member's value (a String or Token) names a policy; of its
    parameters, ``r``, ``t``, ``q`` and ``w`` must be non-negative Integers
    and ``qu`` a String, others (``pk``, vendor ones) are passed over. A
    malformed member is left out, not the whole field; at most
    :data:`MAX_ITEMS` are read.
    """
    items: list[_Item] = []
    if not values:
        return items
    for member in _split(b",".join(values), b","):
        parts = _split(member, b";")
        name = _bare(parts[0].strip())
        if not isinstance(name, str):
            continue
        numbers: dict[str, int] = {}
        unit = _REQUESTS
        for part in parts[1:]:
            raw_key, _, raw = part.strip().partition(b"=")
            if not _KEY.fullmatch(raw_key):
                break
            key, value = raw_key.decode("ascii"), _bare(raw)
            if key in _INTEGER_KEYS:
                if not isinstance(value, int):
                    break
                numbers[key] = value
            elif key == "qu":
                if not isinstance(value, str):
                    break
                unit = value
        else:
            items.append(_Item(name, numbers, unit))
            if len(items) == MAX_ITEMS:
                break
    return items


def _bare(raw: bytes) -> int | str | None:
    """Return an Integer, a String or a Token (RFC 9651 §3.3), or None for anything else."""
    if _INTEGER.fullmatch(raw):
        return int(raw)
    if raw[:1] == b'"':
        return _string(raw)
    return raw.decode("ascii") if _TOKEN.fullmatch(raw) else None


def _string(raw: bytes) -> str | None:
    """Return a String's text (RFC 9651 §4.2.5: a backslash escapes ``"`` and itself), or None."""
    if len(raw) < 2 or raw[-1:] != b'"':
        return None
    text = bytearray()
    escaped = False
    for byte in raw[1:-1]:
        if escaped:
            if byte not in b'"\\':
                return None
            text.append(byte)
            escaped = False
        elif byte == 0x5C:  # backslash
            escaped = True
        elif byte == 0x22 or not 0x20 <= byte <= 0x7E:
            return None
        else:
            text.append(byte)
    return None if escaped else text.decode("ascii")


def _split(value: bytes, separator: bytes) -> list[bytes]:
    """Split ``value`` at ``separator`` outside Strings (where a backslash escapes)."""
    parts: list[bytes] = []
    start = 0
    quoted = escaped = False
    for index, byte in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and byte == 0x5C:  # backslash
            escaped = True
        elif byte == 0x22:  # double quote
            quoted = not quoted
        elif not quoted and byte == separator[0]:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return parts
