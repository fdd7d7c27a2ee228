"""The Set-Cookie parser and the jar's rules (RFC 6265), from a hostile origin.

Input: a control byte choosing the response's URL (http or https; hosts
with a trailing dot, IPs, localhost), then Set-Cookie field values, one a
line, as the client hands them over (latin-1 text of the wire bytes, which
the HTTP parsers have cleared of CR, LF and NUL). No error is accepted:
``extract`` must ignore what it cannot use (rule 1 of ``_cookies``).

Checks: ``extract`` and ``header_for`` never raise (``cookie.raises``); no
cookie reaches a host the origin does not share a registrable (two-label
or more) domain with (``cookie.victim``); an http response stores no
Secure cookie, and the ``__Secure-``/``__Host-`` prefixes hold
(``cookie.secure``); stored names and values hold no control byte nor ";",
and fit ``MAX_COOKIE_SIZE`` (``cookie.value``); the jar stays within
``MAX_COOKIES`` (``cookie.count``).
"""

from __future__ import annotations

import re

from hyperhttp._cookies import MAX_COOKIE_SIZE, MAX_COOKIES, Cookies
from hyperhttp._urls import parse_url

from fuzz._checks import fail
from fuzz._input import FuzzInput

MAX_LEN = 16 * 1024
MEMORY_BUDGET = 4 * 1024 * 1024

NOW = 1_700_000_000.0
# Origins, and hosts that share no registrable domain with any of them.
_ORIGINS = tuple(
    parse_url(url)
    for url in (
        "http://evil.com/a/b",
        "https://evil.com./login",
        "https://a.b.evil.example/",
        "http://localhost/p/",
        "https://127.0.0.1:8443/x",
        "http://[::1]/",
        "https://xn--bcher-kva.example/",
        "http://evil.co.uk/",
    )
)
_VICTIMS = tuple(
    parse_url(url)
    for url in (
        "https://victim.com/",
        "https://victim.com./",
        "https://victim.example/",
        "https://127.0.0.2/",
        "https://victim.uk./",
    )
)
_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f;]")


def one_input(data: bytes) -> None:
    """Extract the Set-Cookie lines of ``data`` and check what the jar does with them."""
    source = FuzzInput(data)
    origin = source.choice(_ORIGINS)
    lines = [
        line.decode("latin-1")
        for line in source.rest().split(b"\n")
        if b"\r" not in line and b"\x00" not in line
    ]
    jar = Cookies()
    try:
        jar.extract(origin, lines, now=NOW)
        sent = jar.header_for(origin, now=NOW)
        stolen = [jar.header_for(victim, now=NOW + 1) for victim in _VICTIMS]
    except Exception as exc:
        fail("cookie.raises", f"{type(exc).__name__}: {exc} for {lines!r} from {origin}")
        raise
    for victim, header in zip(_VICTIMS, stolen, strict=True):
        if header is not None and victim.host.rstrip(".") != origin.host.rstrip("."):
            fail("cookie.victim", f"{origin} set {header!r}, sent to {victim}: {lines!r}")
    if sent is not None and ("\r" in sent or "\n" in sent):
        fail("cookie.value", f"a Cookie field with a line break: {sent!r}")
    records = jar.records()
    if len(records) > MAX_COOKIES:
        fail("cookie.count", f"{len(records)} cookies stored")
    for cookie in records:
        if cookie.secure and origin.scheme != "https":
            fail("cookie.secure", f"an http response stored a Secure cookie {cookie!r}")
        prefix = cookie.name[:9].lower()
        if prefix.startswith("__secure-") and not cookie.secure:
            fail("cookie.secure", f"{cookie!r} breaks the __Secure- prefix")
        if prefix.startswith("__host-") and not (
            cookie.secure and cookie.host_only and cookie.path == "/"
        ):
            fail("cookie.secure", f"{cookie!r} breaks the __Host- prefix")
        if not cookie.name or _BAD.search(cookie.name) or _BAD.search(cookie.value):
            fail("cookie.value", f"stored {cookie!r}")
        if len(cookie.name) + len(cookie.value) > MAX_COOKIE_SIZE:
            fail("cookie.value", f"stored {len(cookie.name) + len(cookie.value)} bytes")
