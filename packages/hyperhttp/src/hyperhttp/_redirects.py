"""Following redirects (RFC 9110 §15.4): the next request of a chain, sans-IO.

Rules
-----
1. ``Location`` is resolved against the request URL (RFC 3986 §5.2):
   relative, absolute-path and scheme-relative references all work; a
   reference without a fragment inherits the request's (RFC 9110 §10.2.2).
   A scheme other than http/https is :class:`InvalidURL`. Resolution uses
   the request URL's real userinfo (``url.unredacted``); messages show it
   with the password hidden.
2. 301 and 302 turn any method but GET and HEAD into GET, 303 any but HEAD
   (what every browser and httpx do); the body and its ``Content-*`` fields
   go with it. 307 and 308 keep the method and the body; a body that was a
   stream cannot be sent again, so :class:`StreamConsumed` is raised before
   anything of the new request is sent.
3. ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped when
   the origin changes, except for an upgrade from http to https on the same
   host with both ports the defaults. Cookies of the jar are added again for
   the new URL by the client, so only the caller's own Cookie field is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ._exceptions import InvalidURL, StreamConsumed, TooManyRedirects
from ._headers import Headers
from ._models import Request, Response
from ._urls import URL, parse_url, redact

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["REDIRECT_STATUSES", "keeps_credentials", "next_request", "redirect_request"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS = frozenset({b"authorization", b"cookie", b"proxy-authorization"})


def redirect_url(url: URL, location: str) -> URL:
    """Resolve a ``Location`` value against the URL of the request it answers."""
    text = location.strip()
    if not text:
        raise InvalidURL(f"empty Location in a redirect from {url}")
    try:
        joined = urljoin(url.unredacted, text)  # the real userinfo: str(url) hides it
    except ValueError as exc:
        raise InvalidURL(f"invalid Location {redact(location)!r}: {exc}") from None
    target = parse_url(joined)
    if url.fragment and "#" not in text:
        target = parse_url(f"{joined.partition('#')[0]}#{url.fragment}")
    return target


def keeps_credentials(old: URL, new: URL) -> bool:
    """Whether credentials for ``old`` may go to ``new`` (same origin, or the https upgrade)."""
    if old.origin == new.origin:
        return True
    return (
        old.scheme == "http"
        and new.scheme == "https"
        and old.host == new.host
        and old.origin[2] == 80
        and new.origin[2] == 443
    )


def redirect_request(request: Request, response: Response) -> Request:
    """Return the request that follows ``response`` (a redirect with a Location).

    Raises:
        InvalidURL: Location is not an http(s) URL.
        StreamConsumed: a 307/308 would need a streamed body again.

    """
    status = response.status_code
    location = response.headers.get("location")
    assert location is not None
    url = redirect_url(request.url, location)
    method = request.method
    if (status == 303 and method != "HEAD") or (
        status in (301, 302) and method not in ("GET", "HEAD")
    ):
        method = "GET"
    keep_body = method == request.method
    if keep_body and not request.replayable:
        raise StreamConsumed(
            f"{status} redirect to {url} needs the request body again, but it was a stream"
            " that was already sent; pass the body as bytes, or follow_redirects=False",
            request=request,
        )
    drop_content = not keep_body
    drop_credentials = not keeps_credentials(request.url, url)
    headers = Headers(request.headers)  # its own: no two requests share fields
    if drop_content or drop_credentials:
        raw = headers.raw
        kept = [
            (name, value)
            for name, value in raw
            if not (drop_content and name.lower().startswith(b"content-"))
            and not (drop_credentials and name.lower() in _CREDENTIALS)
        ]
        if len(kept) != len(raw):
            headers = Headers(kept)
    follow = Request(
        method,
        url,
        headers,
        request.content if keep_body else None,
        request.stream if keep_body else None,
    )
    follow.extensions.update(request.extensions)
    if keep_body:
        follow.stream_length = request.stream_length
        follow.stream_replayable = request.stream_replayable
    if not drop_credentials:  # its own cookies= go where its Cookie field goes
        follow.cookies = request.cookies
    return follow


async def next_request(
    request: Request,
    response: Response,
    history: list[Response],
    *,
    max_redirects: int,
    stream: bool,
    trace: Callable[[str, dict[str, Any]], object] | None,
) -> Request:
    """Return the request that follows ``response`` (a redirect); ``response`` joins ``history``.

    The redirect is released first (read whole when streaming: its body is
    small, and its connection is then reused).

    Raises:
        TooManyRedirects: ``history`` already holds ``max_redirects`` responses.

    """
    if len(history) >= max_redirects:
        await response.aclose()
        raise TooManyRedirects(
            f"more than {max_redirects} redirects (last: {response.status_code}"
            f" from {request.url})",
            request=request,
            history=[*history, response],
        )
    try:
        following = redirect_request(request, response)
        if stream:
            await response.aread()
    finally:
        await response.aclose()
    if trace is not None:
        trace(
            "redirect",
            {
                "status": response.status_code,
                "from": str(request.url),
                "to": str(following.url),
                "method": following.method,
            },
        )
    history.append(response)
    return following
