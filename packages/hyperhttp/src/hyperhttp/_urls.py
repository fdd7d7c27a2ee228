"""URLs: parsed once, validated before any I/O, cached.

Strategy
--------
:func:`parse_url` splits with ``urllib.parse.urlsplit`` and then checks what
the standard library lets through: the scheme must be http or https, the
host present and valid (IDNA-encoded when not ASCII, brackets only around
IPv6), the port 1-65535. Path and query are percent-encoded where they hold
characters that may not appear raw (RFC 3986 §2), existing escapes kept.
Every other constructor (:meth:`URL.copy_with`, so ``params=`` and
``base_url`` joining too) applies the same rule, and a control character is
:class:`InvalidURL` everywhere: the request-target is written to the wire as
is (RFC 9112 §3.2), so a URL never holds a byte that could end the line.

A password in the userinfo is never shown: ``str(url)`` and ``repr(url)``
(so every message, repr and trace event that names a URL) write it as
``***``; :func:`redact` does the same for URL text an error quotes.
``url.unredacted`` is the real text, for resolving references against
(redirects, :meth:`URL.join`) and for equality; nothing sends it, the wire
gets ``target`` and ``host_header``.
Parsed URLs are immutable (setting or deleting a field raises
``AttributeError``: the client keys its validated head to the URL object,
so a URL changed in place could skip the checks) and remembered in a small cache bounded in bytes
(1024 URLs of at most 256 characters each), so a client calling the same
endpoints pays for parsing once, while long URLs (a crawler's, a hostile
``Location``) are parsed each time and never kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ._exceptions import InvalidURL

__all__ = ["URL", "QueryParams", "merge_params", "parse_url", "redact"]

QueryValue = str | int | float | bool | None
QueryParams = (
    Mapping[str, QueryValue | Sequence[str | int | float]]
    | Sequence[tuple[str, QueryValue]]
    | str
    | bytes
)

DEFAULT_PORTS = {"http": 80, "https": 443}

# RFC 3986 §3.3 pchar plus "/" and the escapes already there; §3.4 adds "?".
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?%:@!$&'()*+,;=-._~"
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+")
_NEEDS_PATH_QUOTE = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=\-._~]")
_NEEDS_QUERY_QUOTE = re.compile(r"[^A-Za-z0-9/?%:@!$&'()*+,;=\-._~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" )
_USERINFO = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*")


class URL:
    """An absolute http(s) URL, validated; build with :func:`parse_url` or ``URL(text)``."""

    __slots__ = (
        "fragment",
        "host",
        "host_header",
        "origin",
        "password",
        "path",
        "port",
        "query",
        "scheme",
        "target",
        "username",
    )

    scheme: str
    host: str  #: lower-case, IDNA-encoded, IPv6 without brackets
    port: int | None  #: as written; None for the scheme's default
    path: str  #: percent-encoded, never empty
    query: str  #: percent-encoded, without "?"
    fragment: str
    username: str
    password: str
    origin: tuple[str, str, int]  #: (scheme, host, port) keying the pool
    target: bytes  #: request-target: path and query
    host_header: bytes  #: the Host field value

    def __new__(cls, url: str | URL) -> URL:
        return parse_url(url)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"URL is immutable: cannot set {name!r} (build another with copy_with() or parse_url())"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"URL is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (URL, (self.unredacted,))

    def __copy__(self) -> URL:
        return self

    def __deepcopy__(self, memo: object) -> URL:
        return self

    @property
    def effective_port(self) -> int:
        """The port connected to: explicit, else the scheme's default."""
        return self.origin[2]

    @property
    def is_ipv6(self) -> bool:
        """Whether the host is an IPv6 literal."""
        return ":" in self.host

    @property
    def raw_path_and_query(self) -> str:
        """The request-target as text."""
        return self.target.decode("ascii")

    def copy_with(self, *, path: str | None = None, query: str | None = None) -> URL:
        """Return this URL with path and/or query replaced.

        Both are taken as encoded text: characters that may not appear raw in
        them (RFC 3986 §3.3, §3.4) are percent-encoded, existing escapes kept,
        as :func:`parse_url` does.

        Raises:
            InvalidURL: a control character (CR, LF, NUL, ...) or a path that
                does not start with "/".

        """
        if path is None:
            path = self.path
        else:
            path = _encoded(path, _NEEDS_PATH_QUOTE, _PATH_SAFE, "path")
            if path and path[0] != "/":
                raise InvalidURL(f"the URL path {path!r} must start with '/'")
        query = (
            self.query
            if query is None
            else _encoded(query, _NEEDS_QUERY_QUOTE, _QUERY_SAFE, "query")
        )
        return _build(
            self.scheme,
            self.host,
            self.port,
            path,
            query,
            self.fragment,
            self.username,
            self.password,
        )

    def join(self, reference: str) -> URL:
        """Resolve ``reference`` against this URL (RFC 3986 §5), as a redirect Location is."""
        from urllib.parse import urljoin

        return parse_url(urljoin(self.unredacted, reference))

    @property
    def unredacted(self) -> str:
        """The URL as text with its password: never log or show this (``str()`` hides it)."""
        return self._text(self.password)

    def _text(self, password: str) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        userinfo = ""
        if self.username or password:
            userinfo = self.username + (f":{password}" if password else "") + "@"
        port = "" if self.port is None else f":{self.port}"
        query = f"?{self.query}" if self.query else ""
        fragment = f"#{self.fragment}" if self.fragment else ""
        return f"{self.scheme}://{userinfo}{host}{port}{self.path}{query}{fragment}"

    def __str__(self) -> str:
        """Show the URL to people: a password is written as ``***``."""
        return self._text("***" if self.password else "")

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = parse_url(other)
            except InvalidURL:
                return False
        if not isinstance(other, URL):
            return NotImplemented
        return self.unredacted == other.unredacted

    def __hash__(self) -> int:
        return hash(self.unredacted)


class _Building(URL):
    """A URL under construction: the one type whose fields can be set (by :func:`_build`).

    Same layout as :class:`URL` (no slots of its own), so the finished object
    becomes a URL by a ``__class__`` assignment: construction pays one plain
    store per field, not an ``object.__setattr__`` call each.
    """

    __slots__ = ()
    # Both, so CPython's attribute-setting slot is the plain one (one of them
    # left to URL would route every store through a Python-level lookup).
    __setattr__ = object.__setattr__  # type: ignore[assignment]
    __delattr__ = object.__delattr__


def redact(text: str) -> str:
    """Return URL text with the password of its userinfo replaced by ``***``.

    For messages quoting a URL that may not parse, so it errs towards hiding:
    the userinfo runs to the last ``@`` (a password holding a raw ``/`` or
    ``@`` is still hidden).
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, hostport = rest.rpartition("@")
    if not at:
        return text
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{hostport}"


def _encoded(value: str, needs_quote: re.Pattern[str], safe: str, part: str) -> str:
    """Percent-encode what may not appear raw in a path or query; refuse controls.

    The request-target is written as is (RFC 9112 §3.2): a CR or LF here would
    end the request line, so it is refused, as :func:`parse_url` refuses it.
    """
    if not needs_quote.search(value):  # the usual case: one scan
        return value
    if _CONTROL.search(value):
        raise InvalidURL(f"control characters in the URL {part} {value!r}")
    return quote(value, safe=safe)


def _build(
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    query: str,
    fragment: str,
    username: str,
    password: str,
) -> URL:
    url = object.__new__(_Building)
    url.scheme = scheme
    url.host = host
    url.port = None if port == DEFAULT_PORTS[scheme] else port
    url.path = path or "/"
    url.query = query
    url.fragment = fragment
    url.username = username
    url.password = password
    effective = DEFAULT_PORTS[scheme] if url.port is None else url.port
    url.origin = (scheme, host, effective)
    target = url.path + ("?" + query if query else "")
    url.target = target.encode("ascii")
    bracketed = f"[{host}]" if ":" in host else host
    url.host_header = (bracketed if url.port is None else f"{bracketed}:{url.port}").encode("ascii")
    url.__class__ = URL  # type: ignore[assignment]  # finished: immutable from here on
    return url


def _host(raw: str, url: str) -> str:
    text = redact(url) if "@" in url else url  # for messages only
    if not raw:
        raise InvalidURL(f"no host in URL {text!r}")
    if ":" in raw:  # urlsplit keeps only bracketed IPv6 here
        try:
            address = ipaddress.IPv6Address(raw.split("%", 1)[0])
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address {raw!r} in URL {text!r}") from None
        if "%" in raw:
            raise InvalidURL(f"zone identifiers are not supported in URLs: {text!r}")
        return str(address)
    if raw.isascii():
        host = raw.lower()
    else:
        try:
            host = raw.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise InvalidURL(f"invalid international host name {raw!r}: {exc}") from None
    if not _REG_NAME.fullmatch(host) or host.startswith(".") or ".." in host:
        raise InvalidURL(f"invalid host {raw!r} in URL {text!r}")
    return host


def _scheme_error(scheme: str, url: str) -> InvalidURL:
    """Return the error for a URL whose scheme (as written) is missing or not http(s)."""
    if not scheme:
        return InvalidURL(f"URL {redact(url)!r} has no scheme (http:// or https://)")
    return InvalidURL(f"unsupported URL scheme {scheme!r} in {redact(url)!r}")


def _authority_error(url: str) -> InvalidURL:
    """Return the error for a URL with a backslash or a non-RFC 3986 userinfo in its authority."""
    return InvalidURL(
        f"invalid characters in the authority of URL {redact(url)!r} (RFC 3986 §3.2.1:"
        " the userinfo holds unreserved, percent-encoded, sub-delims and ':' only)"
    )


_cache: dict[str, URL] = {}
_CACHE_SIZE = 1024
_CACHE_URL = 256  # longest URL text kept: the cache holds at most ~1 MiB
_urlsplit_uncached = getattr(urlsplit, "__wrapped__", urlsplit)  # functools' documented attribute


def parse_url(url: str | URL) -> URL:
    """Parse and validate an absolute http(s) URL.

    Raises:
        InvalidURL: unparseable, missing host, bad port, unsupported scheme.

    """
    # Checks stay inline, only messages are built apart: a valid URL pays no extra call.
    if isinstance(url, URL):
        return url
    cached = _cache.get(url)
    if cached is not None:
        return cached
    if not isinstance(url, str):
        raise TypeError(f"URL must be str or hyperhttp.URL, not {type(url).__name__}")
    text = url.strip()
    if _CONTROL.search(text):
        raise InvalidURL(f"control characters in URL {redact(url)!r}")
    try:
        # urlsplit memoizes its last 128 answers process-wide (an lru_cache):
        # a long URL is split by the function itself, so it is never kept.
        parts = urlsplit(text) if len(text) <= _CACHE_URL else _urlsplit_uncached(text)
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:
        # urlsplit's own messages may quote the netloc: hide its password too
        raise InvalidURL(f"invalid URL {redact(url)!r}: {redact(str(exc))}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _scheme_error(parts.scheme, url)
    netloc = parts.netloc
    userinfo, at, host_part = netloc.rpartition("@")
    # "\" is "/" to WHATWG parsers (browsers, Node, many allow-list checks):
    # "http://127.0.0.1\@evil/" is host 127.0.0.1 there, evil.invalid here.
    # Refused, as is any userinfo outside RFC 3986 §3.2.1, so both readings agree.
    if "\\" in netloc or (at and not _USERINFO.fullmatch(userinfo)):
        raise _authority_error(url)
    if host_part.startswith("[") != ("]" in host_part):
        raise InvalidURL(f"invalid bracketed host in URL {redact(url)!r}")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidURL(f"port out of range in URL {redact(url)!r}")
    if host_part.endswith(":"):
        raise InvalidURL(f"empty port in URL {redact(url)!r}")
    host = _host(hostname or "", url)
    path = parts.path
    if _NEEDS_PATH_QUOTE.search(path):
        path = quote(path, safe=_PATH_SAFE)
    query = parts.query
    if _NEEDS_QUERY_QUOTE.search(query):
        query = quote(query, safe=_QUERY_SAFE)
    result = _build(
        scheme, host, port, path, query, parts.fragment, parts.username or "", parts.password or ""
    )
    if len(url) <= _CACHE_URL:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[url] = result
    return result


def _encode_params(params: QueryParams) -> str:
    if isinstance(params, bytes):
        params = params.decode("ascii")
    if isinstance(params, str):
        text = params.lstrip("?")
        return quote(text, safe=_QUERY_SAFE) if _NEEDS_QUERY_QUOTE.search(text) else text
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, Mapping) else params
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if item is True or item is False:
                item = "true" if item else "false"
            pairs.append((str(key), str(item)))
    return urlencode(pairs)


def merge_params(url: URL, params: QueryParams | None) -> URL:
    """Append ``params`` to the URL's query (after what it has), as httpx and aiohttp do."""
    if not params:
        return url
    extra = _encode_params(params)
    if not extra:
        return url
    return url.copy_with(query=f"{url.query}&{extra}" if url.query else extra)


def join_base(base: URL | None, url: str | URL) -> URL:
    """Resolve a request URL against ``base_url``: relative paths are appended to its path."""
    if isinstance(url, URL):
        return url
    if base is None or "://" in url[:16]:
        return parse_url(url)
    url = url.strip()  # as parse_url does, and it refuses the same controls
    if _CONTROL.search(url):
        raise InvalidURL(f"control characters in URL {redact(url)!r}")
    relative, _, query = url.partition("?")
    relative = relative.partition("#")[0]
    path = base.path.rstrip("/") + "/" + relative.lstrip("/") if relative else base.path
    if _NEEDS_PATH_QUOTE.search(path):
        path = quote(path, safe=_PATH_SAFE)
    if _NEEDS_QUERY_QUOTE.search(query):
        query = quote(query, safe=_QUERY_SAFE)
    return base.copy_with(path=path, query=query if (query or relative) else base.query)
