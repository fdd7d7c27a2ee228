"""The cookie jar: RFC 6265 storage and retrieval, sans-IO (time comes in as ``now``).

Strategy
--------
The client hands :meth:`Cookies.extract` the raw ``Set-Cookie`` field values of
each response with the request URL, and asks :meth:`Cookies.header_for` for
the ``Cookie`` field value of each request. Neither reads a clock unless no
``now`` is given, and neither does any I/O.

Storage is two dicts holding the same :class:`Cookie` records:

- ``_cookies``: ``(name, domain, path) -> Cookie``, in creation order. A
  replacement keeps its slot (a dict keeps a key's position on reassignment)
  and its creation order (RFC 6265 §5.3 step 11), so the first entry is always
  the oldest cookie: eviction is O(1).
- ``_by_domain``: ``domain -> {(name, path): Cookie}``, also in creation order.
  :meth:`Cookies.header_for` looks up the request host and each parent domain
  (``a.b.example.com``, ``b.example.com``, ``example.com``, ``com``) plus the
  ``""`` bucket of cookies set by hand for any host, so a lookup never scans
  cookies of unrelated hosts.

Rules
-----
1. Parsing follows RFC 6265 §5.2 and never raises: a line without ``=`` in its
   first part, with an empty name, with control characters in the name or
   value (RFC 6265bis §5.6), or whose name and value exceed
   :data:`MAX_COOKIE_SIZE` is ignored. Unknown or invalid attributes are
   ignored; attribute names are case-insensitive; the last valid occurrence of
   an attribute wins (§5.3).
2. Expiry (§5.2.1, §5.2.2): Max-Age beats Expires; dates are parsed with the
   §5.1.1 algorithm (:func:`parse_cookie_date`). A cookie already expired on
   arrival (Max-Age <= 0, Expires in the past) deletes the stored cookie with
   its (name, domain, path) and is not stored.
3. Domain (§5.2.3, §5.3 steps 4-6): leading dot stripped, lower-cased; the
   request host must domain-match it (:func:`domain_matches`), else the cookie
   is ignored. A Domain without a dot must equal the host (``Domain=com`` is
   refused, ``Domain=localhost`` is fine from ``localhost``). There is no
   public suffix list: ``Domain=co.uk`` from ``example.co.uk`` is accepted.
   A trailing dot (a fully qualified name) is judged the same way: ``com.``
   is one label, ``127.0.0.1.`` an address. ``example.com.`` and
   ``example.com`` are different hosts, as they are in URLs and the pool:
   a cookie of one is not sent to the other.
   Without Domain the cookie is host-only: sent to that exact host alone.
4. Path (§5.2.4, §5.1.4): absent or not starting with "/" means the request
   path's :func:`default_path`; sending needs :func:`path_matches`.
5. Secure (§5.4, RFC 6265bis §5.7): a Secure cookie is sent over https only,
   and an http:// response can neither set one nor (6265bis "leave secure
   cookies alone") set a non-secure cookie that would shadow one. The
   ``__Secure-`` and ``__Host-`` name prefixes are enforced (6265bis §4.1.3).
   HttpOnly and SameSite are stored, not enforced: we are not a browser.
6. Sending (§5.4): longer paths first, then earlier creation; expired cookies
   are never sent and are dropped when a lookup meets them.
7. Bounds (§6.1 minimums): :data:`MAX_COOKIES_PER_DOMAIN` and
   :data:`MAX_COOKIES`; a new cookie beyond either evicts expired cookies
   first, then the oldest.

Cookies set by hand (``jar["a"] = "1"``, :meth:`Cookies.set`) have domain ""
unless given one, which matches every host, as httpx sends them.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import time
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast, overload

if TYPE_CHECKING:
    from _typeshed import SupportsKeysAndGetItem

    from ._models import Request
    from ._urls import URL

__all__ = [
    "MAX_COOKIES",
    "MAX_COOKIES_PER_DOMAIN",
    "MAX_COOKIE_SIZE",
    "Cookie",
    "CookieConflict",
    "CookieTypes",
    "Cookies",
    "default_path",
    "domain_matches",
    "parse_cookie_date",
    "path_matches",
    "with_cookies",
]

_T = TypeVar("_T")

#: What ``Cookies(...)`` and :meth:`Cookies.update` take: another jar (copied
#: with every attribute), a mapping of names to values, or (name, value) pairs.
CookieTypes: TypeAlias = "Cookies | SupportsKeysAndGetItem[str, str] | Iterable[tuple[str, str]]"

# RFC 6265 §6.1: user agents should store at least 4096 bytes per cookie, 50
# cookies per domain and 3000 cookies in all; browsers use about these numbers
# (Chrome: 180 per domain, 3300 in all; Firefox: 180 / 3000) and RFC 6265bis
# §5.6 ignores a cookie whose name and value together exceed 4096 octets.
# Set-Cookie values arrive latin-1 decoded, so characters count octets.
MAX_COOKIE_SIZE = 4096
MAX_COOKIES_PER_DOMAIN = 50
MAX_COOKIES = 3000
# RFC 6265bis §5.6: an attribute value longer than 1024 octets is ignored.
_MAX_ATTRIBUTE_VALUE = 1024
# Max-Age is clamped here (about 31 million years) so float time never
# overflows and huge digit strings are never handed to int().
_MAX_DELTA_SECONDS = 10**15

_WSP = " \t"  # RFC 5234 WSP: the only whitespace §5.2 trims
# RFC 6265bis §5.6: CTLs other than HTAB in a name or value void the cookie.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_AGE = re.compile(r"-?[0-9]+")
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}

# RFC 6265 §5.1.1: date tokens are runs of non-delimiters; the productions
# allow anything after the digits they need ("1*2DIGIT ( non-digit *OCTET )").
_DATE_TOKEN = re.compile(r"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9]|$)")
_DAY_OF_MONTH = re.compile(r"([0-9]{1,2})(?:[^0-9]|$)")
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9]|$)")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


@dataclass(frozen=True, slots=True)
class Cookie:
    """One stored cookie (RFC 6265 §5.3), immutable: the jar replaces, never edits."""

    name: str
    value: str
    domain: str  #: lower-case; "" for a cookie set by hand for any host
    path: str = "/"
    host_only: bool = False  #: sent to exactly ``domain``, not its subdomains
    secure: bool = False  #: sent over https only
    http_only: bool = False  #: stored; does not stop sending (we are not a browser)
    expires: float | None = None  #: unix time; None for a session cookie
    same_site: str | None = None  #: "Strict", "Lax", "None", or None when absent/unknown
    creation_order: int = 0  #: earlier cookies have lower numbers (§5.4 tie-break)

    def is_expired(self, now: float) -> bool:
        """Whether the cookie has expired at unix time ``now``."""
        return self.expires is not None and self.expires <= now


class CookieConflict(LookupError):
    """Several cookies share the name looked up; pass ``domain=`` or ``path=`` to pick one.

    Attributes:
        name: the name looked up.
        cookies: the cookies that carry it.

    """

    def __init__(self, name: str, cookies: Iterable[Cookie]) -> None:
        self.name = name
        self.cookies = tuple(cookies)
        where = ", ".join(f"{c.domain or '*'}{c.path}" for c in self.cookies)
        super().__init__(
            f"several cookies are named {name!r} ({where}); pass domain= and/or path= to choose one"
        )


# ---------------------------------------------------------------- matching


def _is_ip(host: str) -> bool:
    # IPv6 hosts come without brackets; a last label of digits is IPv4 (as
    # the WHATWG URL standard reads it), which no registered name can be. A
    # trailing dot changes neither ("127.0.0.1." is still an address).
    return ":" in host or host.rstrip(".").rpartition(".")[2].isdigit()


def _one_label(domain: str) -> bool:
    """Whether a domain is a single label, a trailing dot or not ("com", "com.")."""
    return "." not in domain.rstrip(".")


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3: ``host`` equals ``domain`` or is a name (not an IP) under it.

    Both must already be canonical (lower-case, IDNA, IPv6 without brackets).
    """
    if host == domain:
        return True
    return (
        bool(domain)
        and host.endswith(domain)
        and host[-len(domain) - 1] == "."
        and not _is_ip(host)
    )


def default_path(request_path: str) -> str:
    """RFC 6265 §5.1.4: the path a cookie without a Path attribute gets.

    Everything up to, not including, the last "/" of the request path, or "/"
    when that would be empty or the path does not start with "/".
    """
    if not request_path.startswith("/"):
        return "/"
    last = request_path.rfind("/")
    return "/" if last == 0 else request_path[:last]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4: whether a cookie with ``cookie_path`` is sent to ``request_path``.

    The paths are equal, or ``cookie_path`` is a prefix of ``request_path``
    that ends at a "/" (``/a/b`` matches ``/a/b/c``, not ``/a/bc``).
    """
    if not request_path.startswith(cookie_path):
        return False
    size = len(cookie_path)
    return len(request_path) == size or cookie_path[-1:] == "/" or request_path[size] == "/"


def _canonical_domain(domain: str) -> str | None:
    """Write a lower-case Domain value as URL hosts are written; None when it can't be."""
    if domain.startswith("[") and domain.endswith("]"):
        domain = domain[1:-1]
    if ":" in domain:
        try:
            return str(ipaddress.IPv6Address(domain))
        except ValueError:
            return None
    if not domain.isascii():
        # RFC 6265 §5.1.2: compare host names as IDNA A-labels, as URL.host is.
        try:
            return domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return domain


def _cookie_domain(domain_attribute: str | None, host: str) -> tuple[str, bool] | None:
    """RFC 6265 §5.3 steps 4-6: the domain a cookie from ``host`` is stored under.

    Returns:
        ``(domain, host_only)``: the canonical Domain attribute and False, or
        ``host`` and True without one; None when the cookie is to be ignored.

    """
    if not domain_attribute:
        return host, True
    domain = _canonical_domain(domain_attribute)
    if domain is None:
        return None
    # §5.3 step 5 without a public suffix list: a single label ("com",
    # and "com." too, or evil.com. could set cookies for victim.com.)
    # only when it is the host itself; otherwise §5.1.3 domain-match.
    if domain != host and (_one_label(domain) or not domain_matches(host, domain)):
        return None
    return domain, False


def _prefixes_allow(name: str, secure: bool, host_only: bool, path: str) -> bool:
    """RFC 6265bis §4.1.3: whether the cookie name prefixes let this cookie be stored.

    ``__Secure-`` needs the Secure attribute; ``__Host-`` needs Secure, no
    Domain attribute (host-only) and the path "/".
    """
    prefix = name[:9].lower()
    if prefix.startswith("__secure-"):
        return secure
    if prefix.startswith("__host-"):
        return secure and host_only and path == "/"
    return True


# ---------------------------------------------------------------- parsing


def parse_cookie_date(text: str) -> float | None:
    """Parse a cookie date with the tolerant RFC 6265 §5.1.1 algorithm.

    Accepts the formats servers send (IMF-fixdate, RFC 850, asctime and their
    variants): the time, day of month, month and year are taken from the first
    tokens that look like them, in any order.

    Returns:
        The date as unix time (UTC), or None when it is not a valid date.

    """
    hms: tuple[int, int, int] | None = None
    day = month = year = -1
    for token in _DATE_TOKEN.findall(text):
        if hms is None:
            found = _TIME.match(token)
            if found is not None:
                hms = (int(found[1]), int(found[2]), int(found[3]))
                continue
        if day < 0:
            found = _DAY_OF_MONTH.match(token)
            if found is not None:
                day = int(found[1])
                continue
        if month < 0:
            number = _MONTHS.get(token[:3].lower())
            if number is not None:
                month = number
                continue
        if year < 0:
            found = _YEAR.match(token)
            if found is not None:
                year = int(found[1])
                continue
    if hms is None or day < 0 or month < 0 or year < 0:
        return None
    # §5.1.1 steps 3-4: two-digit years.
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = hms
    # §5.1.1 step 5, and "if no such date exists" (31 February).
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@dataclass(slots=True)
class _SetCookie:
    """One Set-Cookie line taken apart (§5.2), before the storage model judges it (§5.3)."""

    name: str
    value: str
    expires: float | None = None
    max_age: int | None = None
    domain: str | None = None  #: leading dot stripped, lower-case; "" for "Domain=."
    path: str | None = None  #: None: the default path
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None


def _parse_set_cookie(line: str) -> _SetCookie | None:
    """RFC 6265 §5.2: one Set-Cookie field value, or None when it is to be ignored."""
    name_value, _, attributes = line.partition(";")
    name, equals, value = name_value.partition("=")
    if not equals:  # §5.2 step 2
        return None
    name = name.strip(_WSP)
    value = value.strip(_WSP)
    if not name or _CTL.search(name) or _CTL.search(value):  # §5.2 step 5; 6265bis §5.6
        return None
    if len(name) + len(value) > MAX_COOKIE_SIZE:
        return None
    cookie = _SetCookie(name, value)
    if not attributes:
        return cookie
    for av in attributes.split(";"):
        key, _, arg = av.partition("=")
        key = key.strip(_WSP)
        if not key.isascii():  # no attribute name has non-ASCII letters
            continue
        key = key.lower()
        arg = arg.strip(_WSP)
        if len(arg) > _MAX_ATTRIBUTE_VALUE:
            continue
        if key == "expires":  # §5.2.1
            expires = parse_cookie_date(arg)
            if expires is not None:
                cookie.expires = expires
        elif key == "max-age":  # §5.2.2: a DIGIT or "-", then DIGITs only
            if _MAX_AGE.fullmatch(arg):
                digits = arg.lstrip("-").lstrip("0") or "0"
                delta = int(digits) if len(digits) <= 15 else _MAX_DELTA_SECONDS
                cookie.max_age = -delta if arg[0] == "-" else delta
        elif key == "domain":  # §5.2.3: an empty value is ignored
            if arg:
                cookie.domain = (arg[1:] if arg[0] == "." else arg).lower()
        elif key == "path":  # §5.2.4
            cookie.path = arg if arg[:1] == "/" else None
        elif key == "secure":  # §5.2.5
            cookie.secure = True
        elif key == "httponly":  # §5.2.6
            cookie.http_only = True
        elif key == "samesite":  # RFC 6265bis §5.6.7
            cookie.same_site = _SAME_SITE.get(arg.lower()) if arg.isascii() else None
    return cookie


def _check_name_value(name: object, value: object) -> None:
    """Refuse by hand what would break the Cookie field or could never come from a server."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(
            f"cookie names and values must be str, not {type(name).__name__} "
            f"and {type(value).__name__}"
        )
    if not name or "=" in name or ";" in name or _CTL.search(name):
        raise ValueError(f"invalid cookie name {name!r}: empty, or holds '=', ';' or a control")
    if ";" in value or _CTL.search(value):
        raise ValueError(f"invalid cookie value {value!r}: holds ';' or a control character")


def _normalize_domain(domain: str) -> str:
    """Turn a ``domain=`` argument into stored form: no leading dot, lower-case, canonical."""
    if not isinstance(domain, str):
        raise TypeError(f"domain must be str, not {type(domain).__name__}")
    lowered = domain.removeprefix(".").lower()
    if not lowered:
        return ""
    canonical = _canonical_domain(lowered)
    if canonical is None:
        raise ValueError(f"invalid cookie domain {domain!r}")
    return canonical


def _reject_text(cookies: object) -> None:
    if isinstance(cookies, str | bytes):
        raise TypeError("cookies must be a mapping or (name, value) pairs, not text")


def _send_order(cookie: Cookie) -> tuple[int, int]:
    # RFC 6265 §5.4 step 2: longer paths first, then earlier creation.
    return (-len(cookie.path), cookie.creation_order)


def _describe(cookie: Cookie) -> str:
    where = cookie.domain or "any host"
    if cookie.path != "/":
        where += cookie.path
    return f"<Cookie {cookie.name}={cookie.value} for {where} />"


# ---------------------------------------------------------------- the jar


class Cookies(MutableMapping[str, str]):
    """A cookie jar: RFC 6265 rules for the client, an httpx-style mapping of names for users.

    ``Cookies()`` is empty; ``Cookies({"a": "1"})`` and ``Cookies([("a", "1")])``
    hold cookies sent to every host; ``Cookies(other)`` copies another jar.

    As a mapping it maps cookie names to values over the unexpired cookies.
    A name held for several domains or paths appears once per cookie when
    iterating (``len`` counts cookies), and ``jar[name]`` then raises
    :class:`CookieConflict`; :meth:`get` with ``domain=``/``path=`` picks one.
    """

    __slots__ = ("_by_domain", "_cookies", "_next_order", "_secure_count")

    def __init__(self, cookies: CookieTypes | None = None) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        self._by_domain: dict[str, dict[tuple[str, str], Cookie]] = {}
        self._next_order = 0
        self._secure_count = 0  # stored Secure cookies: skips the shadowing scan when 0
        if isinstance(cookies, Cookies):
            self._cookies = dict(cookies._cookies)
            self._by_domain = {d: dict(bucket) for d, bucket in cookies._by_domain.items()}
            self._next_order = cookies._next_order
            self._secure_count = cookies._secure_count
        elif cookies is not None:
            self.update(cookies)

    # ------------------------------------------------------------ client side

    @property
    def is_empty(self) -> bool:
        """Whether the jar holds no cookie at all (O(1); expired ones count until dropped)."""
        return not self._cookies

    def extract(self, url: URL, set_cookie_values: Iterable[str], now: float | None = None) -> None:
        """Store the cookies of one response (RFC 6265 §5.2-5.3); malformed lines are ignored.

        Args:
            url: the URL the response answered (its host, path and scheme decide).
            set_cookie_values: every raw Set-Cookie field value, latin-1 decoded.
            now: unix time of the response; ``time.time()`` when None.

        Raises:
            TypeError: ``set_cookie_values`` is a single str, not a list of them.

        """
        if isinstance(set_cookie_values, str):
            raise TypeError("set_cookie_values must be a list of field values, not one str")
        if now is None:
            now = time.time()
        for line in set_cookie_values:
            parsed = _parse_set_cookie(line)
            if parsed is not None:
                self._accept(url, parsed, now)

    def header_for(self, url: URL, now: float | None = None) -> str | None:
        """Return the Cookie field value for a request to ``url`` (RFC 6265 §5.4), or None.

        Args:
            url: the request URL.
            now: unix time of the request; ``time.time()`` when None.

        Returns:
            ``"a=1; b=2"``, longer paths first, then older cookies; None when no
            cookie applies.

        """
        if not self._cookies:
            return None
        if now is None:
            now = time.time()
        host = url.host
        path = url.path
        secure = url.scheme == "https"
        by_domain = self._by_domain
        found: list[Cookie] = []
        expired: list[Cookie] = []
        # The host itself, each parent domain (not for IPs), then "" (any host).
        domain = host
        exact = True
        while domain:
            bucket = by_domain.get(domain)
            if bucket is not None:
                for cookie in bucket.values():
                    if cookie.host_only and not exact:
                        continue
                    if cookie.expires is not None and cookie.expires <= now:
                        expired.append(cookie)
                    elif (secure or not cookie.secure) and path_matches(path, cookie.path):
                        found.append(cookie)
            if exact and _is_ip(host):
                break
            domain = domain.partition(".")[2]
            exact = False
        bucket = by_domain.get("")
        if bucket is not None:
            for cookie in bucket.values():
                if cookie.expires is not None and cookie.expires <= now:
                    expired.append(cookie)
                elif (secure or not cookie.secure) and path_matches(path, cookie.path):
                    found.append(cookie)
        for cookie in expired:
            self._remove(cookie)
        if not found:
            return None
        if len(found) > 1:
            found.sort(key=_send_order)
        return "; ".join([f"{cookie.name}={cookie.value}" for cookie in found])

    def purge_expired(self, now: float | None = None) -> int:
        """Drop every cookie expired at ``now`` (default ``time.time()``); return how many."""
        if now is None:
            now = time.time()
        expired = [cookie for cookie in self._cookies.values() if cookie.is_expired(now)]
        for cookie in expired:
            self._remove(cookie)
        return len(expired)

    def records(self) -> list[Cookie]:
        """Every stored cookie, oldest first (expired ones included until dropped)."""
        return list(self._cookies.values())

    # ------------------------------------------------------------ user side

    @overload
    def get(
        self, name: str, default: None = None, domain: str | None = None, path: str | None = None
    ) -> str | None: ...
    @overload
    def get(
        self, name: str, default: str | _T, domain: str | None = None, path: str | None = None
    ) -> str | _T: ...
    def get(
        self,
        name: str,
        default: str | _T | None = None,
        domain: str | None = None,
        path: str | None = None,
    ) -> str | _T | None:
        """Return the value of the unexpired cookie called ``name``, or ``default``.

        Args:
            name: the cookie name.
            default: returned when no cookie matches.
            domain: only a cookie of this domain ("" for cookies set for any host).
            path: only a cookie of this path.

        Raises:
            CookieConflict: several cookies match; narrow with ``domain``/``path``.

        """
        matches = self._find(name, domain, path)
        if not matches:
            return default
        if len(matches) > 1:
            raise CookieConflict(name, matches)
        return matches[0].value

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Set a cookie by hand; with ``domain=""`` it is sent to every host.

        A ``domain`` is matched like a Domain attribute: that host and its
        subdomains. The cookie replaces one of the same name, domain and path.

        Raises:
            TypeError: name or value is not a str.
            ValueError: the name is empty or holds "=", ";" or a control
                character, the value holds ";" or a control character, or the
                path does not start with "/".

        """
        _check_name_value(name, value)
        domain = _normalize_domain(domain)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"cookie path must start with '/', not {path!r}")
        order = self._reserve((name, domain, path), None)
        self._put(Cookie(name, value, domain, path, creation_order=order))

    def delete(self, name: str, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie called ``name`` (of that domain and path, when given)."""
        domain = None if domain is None else _normalize_domain(domain)
        for cookie in [
            c
            for c in self._cookies.values()
            if c.name == name
            and (domain is None or c.domain == domain)
            and (path is None or c.path == path)
        ]:
            self._remove(cookie)

    def clear(self, domain: str | None = None, path: str | None = None) -> None:
        """Remove every cookie, or only those of ``domain`` and/or ``path``."""
        if domain is None and path is None:
            self._cookies.clear()
            self._by_domain.clear()
            self._secure_count = 0
            return
        domain = None if domain is None else _normalize_domain(domain)
        for cookie in [
            c
            for c in self._cookies.values()
            if (domain is None or c.domain == domain) and (path is None or c.path == path)
        ]:
            self._remove(cookie)

    def update(self, other: CookieTypes | None = None, /, **kwargs: str) -> None:
        """Add cookies: another jar's (with all their attributes), a mapping's or pairs'."""
        if isinstance(other, Cookies):
            for cookie in other.records():
                key = (cookie.name, cookie.domain, cookie.path)
                order = self._reserve(key, None)
                self._put(replace(cookie, creation_order=order))
        elif other is not None:
            _reject_text(other)
            if hasattr(other, "keys"):
                mapping = cast("SupportsKeysAndGetItem[str, str]", other)
                for name in mapping.keys():  # noqa: SIM118 - only keys() is promised
                    self.set(name, mapping[name])
            else:
                for name, value in other:
                    self.set(name, value)
        for name, value in kwargs.items():
            self.set(name, value)

    def __getitem__(self, name: str) -> str:
        matches = self._find(name, None, None)
        if not matches:
            raise KeyError(name)
        if len(matches) > 1:
            raise CookieConflict(name, matches)
        return matches[0].value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        now = time.time()
        doomed = [c for c in self._cookies.values() if c.name == name]
        for cookie in doomed:
            self._remove(cookie)
        if not any(not cookie.is_expired(now) for cookie in doomed):
            raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        now = time.time()
        return any(c.name == name and not c.is_expired(now) for c in self._cookies.values())

    def __iter__(self) -> Iterator[str]:
        now = time.time()
        return iter([c.name for c in self._cookies.values() if not c.is_expired(now)])

    def __len__(self) -> int:
        now = time.time()
        return sum(1 for c in self._cookies.values() if not c.is_expired(now))

    def __repr__(self) -> str:
        listed = ", ".join(_describe(cookie) for cookie in self._cookies.values())
        return f"<Cookies[{listed}]>"

    # ------------------------------------------------------------ internals

    def _find(self, name: str, domain: str | None, path: str | None) -> list[Cookie]:
        now = time.time()
        domain = None if domain is None else _normalize_domain(domain)
        return [
            c
            for c in self._cookies.values()
            if c.name == name
            and (domain is None or c.domain == domain)
            and (path is None or c.path == path)
            and not c.is_expired(now)
        ]

    def _accept(self, url: URL, parsed: _SetCookie, now: float) -> None:
        """RFC 6265 §5.3: judge one parsed Set-Cookie line, then store or delete."""
        secure_request = url.scheme == "https"
        # Steps 4-6: Domain.
        stored_under = _cookie_domain(parsed.domain, url.host)
        if stored_under is None:
            return
        domain, host_only = stored_under
        # Step 7: Path.
        path = default_path(url.path) if parsed.path is None else parsed.path
        # Step 8 and RFC 6265bis §5.7: only a secure origin sets a Secure cookie.
        if parsed.secure and not secure_request:
            return
        name = parsed.name
        # RFC 6265bis §4.1.3: the cookie name prefixes.
        if not _prefixes_allow(name, parsed.secure, host_only, path):
            return
        # RFC 6265bis §5.7 step 16: an insecure origin can't shadow a Secure cookie.
        if (
            not parsed.secure
            and not secure_request
            and self._secure_count
            and self._shadows_secure(name, domain, path, now)
        ):
            return
        # Step 3: Max-Age beats Expires; no expiry makes a session cookie.
        if parsed.max_age is not None:
            if parsed.max_age <= 0:
                self._delete_key((name, domain, path))
                return
            expires: float | None = now + float(parsed.max_age)
        else:
            expires = parsed.expires
            if expires is not None and expires <= now:
                self._delete_key((name, domain, path))
                return
        # Step 11: a replacement keeps the old creation order.
        order = self._reserve((name, domain, path), now)
        self._put(
            Cookie(
                name,
                parsed.value,
                domain,
                path,
                host_only=host_only,
                secure=parsed.secure,
                http_only=parsed.http_only,
                expires=expires,
                same_site=parsed.same_site,
                creation_order=order,
            )
        )

    def _shadows_secure(self, name: str, domain: str, path: str, now: float) -> bool:
        """Whether a live Secure cookie called ``name`` sits on a related domain and path."""
        for stored_domain, bucket in self._by_domain.items():
            if not (
                stored_domain == domain
                or stored_domain.endswith("." + domain)
                or domain.endswith("." + stored_domain)
            ):
                continue
            for cookie in bucket.values():
                if (
                    cookie.secure
                    and cookie.name == name
                    and path_matches(path, cookie.path)
                    and not cookie.is_expired(now)
                ):
                    return True
        return False

    def _delete_key(self, key: tuple[str, str, str]) -> None:
        old = self._cookies.get(key)
        if old is not None:
            self._remove(old)

    def _reserve(self, key: tuple[str, str, str], now: float | None) -> int:
        """Return the creation order for a cookie to store under ``key``; make room if new."""
        old = self._cookies.get(key)
        if old is not None:
            return old.creation_order
        self._make_room(key[1], now)
        order = self._next_order
        self._next_order += 1
        return order

    def _make_room(self, domain: str, now: float | None) -> None:
        """§5.3: before adding a cookie, evict expired cookies, then the oldest, past the bounds."""
        bucket = self._by_domain.get(domain)
        if bucket is not None and len(bucket) >= MAX_COOKIES_PER_DOMAIN:
            if now is None:
                now = time.time()
            for cookie in [c for c in bucket.values() if c.is_expired(now)]:
                self._remove(cookie)
            while len(bucket) >= MAX_COOKIES_PER_DOMAIN:
                self._remove(next(iter(bucket.values())))
        if len(self._cookies) >= MAX_COOKIES:
            self.purge_expired(now)
            while len(self._cookies) >= MAX_COOKIES:
                self._remove(next(iter(self._cookies.values())))

    def _put(self, cookie: Cookie) -> None:
        key = (cookie.name, cookie.domain, cookie.path)
        old = self._cookies.get(key)
        if old is not None and old.secure:
            self._secure_count -= 1
        self._cookies[key] = cookie  # a replacement keeps its place: creation order
        bucket = self._by_domain.get(cookie.domain)
        if bucket is None:
            bucket = self._by_domain[cookie.domain] = {}
        bucket[(cookie.name, cookie.path)] = cookie
        if cookie.secure:
            self._secure_count += 1

    def _remove(self, cookie: Cookie) -> None:
        del self._cookies[(cookie.name, cookie.domain, cookie.path)]
        bucket = self._by_domain[cookie.domain]
        del bucket[(cookie.name, cookie.path)]
        if not bucket:
            del self._by_domain[cookie.domain]
        if cookie.secure:
            self._secure_count -= 1


def with_cookies(jar: Cookies, request: Request) -> Request:
    """Return ``request`` with a Cookie field from ``jar`` and the request's own ``cookies=``.

    The request's own cookies win over the jar's of the same name; a Cookie
    field the caller set comes first (one Cookie field only, RFC 6265 §5.4).
    The request itself is not changed: the one sent is a copy.
    """
    own = request.cookies
    if own is not None:
        merged = Cookies(jar)
        merged.update(own)
        value = merged.header_for(request.url)
    else:
        value = jar.header_for(request.url)
    if value is None:
        return request
    sent = request.copy()
    headers = sent.headers
    given = headers.get("cookie")
    if given is not None:
        del headers["cookie"]
        value = f"{given}; {value}"
    headers["Cookie"] = value
    return sent
