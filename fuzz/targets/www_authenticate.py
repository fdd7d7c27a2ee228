"""WWW-Authenticate challenges (RFC 9110 §11.6.1) and the Digest flow (RFC 7616).

Input: a control byte (user name, request, whether the last line is an
Authentication-Info value), then field values, one a line (latin-1 text of
the wire bytes; lines holding CR or NUL are dropped, as every HTTP parser
refuses them). The only accepted error is ``AuthenticationError`` from the
flow: ``parse_challenges`` itself never raises.

Checks: parsing never raises (``auth.raises``); a well-formed challenge
written back with every parameter quoted parses to the same parameters
(``auth.round_trip``); the Authorization value the flow sends holds no
line break, parses as credentials, and names the realm, nonce and opaque of
one offered challenge, as sent (``auth.credentials``); after the server
accepts them, the next request in the space is answered at once with the
nonce count advanced or the server's next nonce (``auth.remembered``).
"""

from __future__ import annotations

from hyperhttp._auth import (
    AuthenticationError,
    Challenge,
    DigestAuth,
    parse_challenges,
)
from hyperhttp._headers import Headers
from hyperhttp._models import Request, Response
from hyperhttp._urls import parse_url

from fuzz._checks import fail
from fuzz._input import FuzzInput

MAX_LEN = 16 * 1024
MEMORY_BUDGET = 4 * 1024 * 1024

_USERS = ("Mufasa", "J\u00e4s\u00f8n Doe", 'a"b\\c', "")
_URLS = tuple(
    parse_url(url)
    for url in ("http://example.com/dir/index.html", "https://example.com:8443/a?b=c", "http://h/")
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _written(challenge: Challenge) -> str:
    params = ", ".join(f"{name}={_quote(value)}" for name, value in challenge.params.items())
    return f"{challenge.scheme} {params}"


def _credentials(request: Request, offered: list[Challenge]) -> tuple[dict[str, str], Challenge]:
    value = request.headers.get("authorization") or ""
    if any(char in value for char in "\r\n\x00"):
        fail("auth.credentials", f"a line break or NUL in {value!r}")
    parsed = parse_challenges([value])
    if len(parsed) != 1 or parsed[0].scheme != "digest" or parsed[0].error is not None:
        fail("auth.credentials", f"{value!r} does not parse back: {parsed!r}")
        return {}, Challenge("")
    params = parsed[0].params
    for challenge in offered:
        sent = challenge.params
        if (
            challenge.scheme == "digest"
            and sent.get("realm") == params.get("realm")
            and sent.get("nonce") == params.get("nonce")
            and sent.get("opaque") == params.get("opaque")
        ):
            return params, challenge
    fail("auth.credentials", f"{value!r} answers none of the challenges {offered!r}")
    return params, Challenge("")


def one_input(data: bytes) -> None:
    """Parse the challenges of ``data`` and run a Digest exchange against them."""
    source = FuzzInput(data)
    control = source.byte()
    user = _USERS[control & 3]
    url = _URLS[(control >> 2 & 3) % len(_URLS)]
    lines = [
        line.decode("latin-1")
        for line in source.rest().split(b"\n")
        if b"\r" not in line and b"\x00" not in line
    ]
    info = lines.pop() if control & 128 and lines else None
    try:
        offered = parse_challenges(lines)
    except Exception as exc:
        fail("auth.raises", f"{type(exc).__name__}: {exc} for {lines!r}")
        raise
    for challenge in offered:
        if challenge.error is None and challenge.token68 is None and challenge.params:
            again = parse_challenges([_written(challenge)])
            if len(again) != 1 or again[0].params != challenge.params:
                fail("auth.round_trip", f"{challenge!r} came back as {again!r}")
    auth = DigestAuth(user, "Circle Of Life", cnonce_factory=lambda: "0a4f113b")
    request = Request("GET", url, Headers())
    flow = auth.auth_flow(request)
    next(flow)
    challenge_fields = [(b"www-authenticate", line.encode("latin-1")) for line in lines]
    try:
        answered = flow.send(Response(401, headers=challenge_fields, request=request))
    except (StopIteration, AuthenticationError):
        return
    first, chosen = _credentials(answered, offered)
    accepted = [(b"authentication-info", info.encode("latin-1"))] if info is not None else []
    try:
        flow.send(Response(200, headers=accepted, request=answered))
        fail("auth.remembered", "the flow went on after a 200")
    except StopIteration:
        pass
    if "domain" in chosen.params:
        return  # the next request may be outside the protection space
    later = auth.auth_flow(Request("GET", url, Headers()))
    second = next(later)
    if second.headers.get("authorization") is None:
        fail("auth.remembered", "an accepted challenge was not answered at once next time")
        return
    value = second.headers["authorization"]
    if any(char in value for char in "\r\n\x00"):
        fail("auth.credentials", f"a line break or NUL in {value!r}")
    params = parse_challenges([value])[0].params
    if (
        "nc" in first
        and params.get("nonce") == first.get("nonce")
        and params.get("nc") != ("00000002")
    ):
        fail("auth.remembered", f"nc {params.get('nc')!r} for the second use of a nonce")
