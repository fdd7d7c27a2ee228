"""Choosing a proxy for a request: sans-IO, decided once per origin.

Strategy
--------
Everything is read and parsed when a :class:`ProxySelector` is built: the
``proxy=`` argument or the environment, and the NO_PROXY list, which is
compiled into a dict of domain names and a tuple of IP networks. After that
:meth:`ProxySelector.select` only looks things up; its bypass decisions are
remembered per origin in a small bounded cache, so a client calling
the same origins pays for the NO_PROXY match once. With no proxy at all
``selector.enabled`` is False and the client need not call ``select()``.

Rules
-----
1. An explicit ``proxy=`` is used for every http and https URL; the
   environment (NO_PROXY included) is not read at all.
2. Otherwise, with ``trust_env``: ``http_proxy`` for http URLs,
   ``https_proxy`` for https URLs, ``all_proxy`` for either when the specific
   one is unset. Lower-case names win over upper-case ones (curl's
   convention); empty or blank values count as unset.
3. httpoxy (CVE-2016-5385): a CGI script gets the request's ``Proxy:`` header
   as ``HTTP_PROXY``, so the upper-case ``HTTP_PROXY`` is ignored when
   ``REQUEST_METHOD`` is present. Lower-case ``http_proxy`` still counts.
4. A value without ``://`` is a bare ``host:port`` and means ``http://`` (curl).
5. NO_PROXY (either case, lower wins) is a comma/whitespace-separated list:
   ``*`` bypasses the proxy for every host; a domain matches itself and its
   subdomains, with or without a leading ``.`` or ``*.`` (curl treats
   ``.example.com`` as also matching ``example.com``); IPv4/IPv6 addresses
   and CIDR networks match IP-literal hosts only; any entry may end in
   ``:port`` (IPv6 then bracketed: ``[::1]:8080``), and then matches that port
   only. Entries that cannot be parsed are ignored. Names are not resolved:
   ``localhost`` does not match ``127.0.0.1``, and loopback is not bypassed
   unless listed.
6. Proxy schemes: ``http://`` (https is reached through it with CONNECT) and
   the SOCKS ones, ``socks5://`` (names resolved here), ``socks5h://`` (names
   resolved by the proxy), ``socks4://`` and ``socks4a://`` (the same for
   SOCKS4); a SOCKS proxy's port defaults to 1080. Any other scheme raises
   :class:`InvalidURL`. Error messages and reprs never show a password.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import unquote_to_bytes

from ._exceptions import InvalidURL
from ._urls import parse_url, redact

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._urls import URL

__all__ = ["Proxy", "ProxySelector"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: A NO_PROXY entry's ports: None for any port.
Ports = frozenset[int] | None

# Bypass decisions remembered per origin; cleared when full, like the URL cache.
_DECISION_CACHE_SIZE: Final = 1024

_K = TypeVar("_K")

_NO_PROXY_SPLIT: Final = re.compile(r"[\s,]+")
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_PORT: Final = re.compile(r"[0-9]{1,5}")
#: Proxy schemes and their default ports.
_SCHEMES: Final = {"http": 80, "socks5": 1080, "socks5h": 1080, "socks4": 1080, "socks4a": 1080}


class Proxy:
    """A forward proxy: HTTP or SOCKS, where to connect and how to authenticate.

    Build with :meth:`Proxy.parse`. ``url`` carries no credentials (it is safe
    to log); they live only in ``auth_header`` (HTTP) or in the SOCKS
    handshake's ``password``, never shown.

    Attributes:
        scheme: ``"http"``, ``"socks5"``, ``"socks5h"``, ``"socks4"`` or ``"socks4a"``.
        url: the proxy's address as an ``http://`` URL without userinfo, e.g.
            ``http://127.0.0.1:3128/`` (also for a SOCKS proxy: only its host
            and port are used).
        origin: ``(scheme, host, port)`` of ``url``, the port filled in (80
            for http, 1080 for SOCKS).
        username: the percent-decoded user name, ``""`` without userinfo.
        auth_header: ``b"Basic ..."`` for a Proxy-Authorization field (an
            HTTP proxy with userinfo), or None.

    """

    __slots__ = ("_display", "_password", "auth_header", "origin", "scheme", "url", "username")

    url: URL
    origin: tuple[str, str, int]
    username: str
    auth_header: bytes | None
    scheme: str
    _display: str
    _password: str | None

    def __init__(
        self,
        url: URL,
        username: str,
        auth_header: bytes | None,
        display: str,
        scheme: str = "http",
        password: str | None = None,
    ) -> None:
        self.url = url
        self.origin = url.origin
        self.username = username
        self.auth_header = auth_header
        self._display = display
        self.scheme = scheme
        self._password = password

    @property
    def is_socks(self) -> bool:
        """Whether this is a SOCKS proxy (a tunnel for any origin, http or https)."""
        return self.scheme != "http"

    def socks_credentials(self) -> tuple[str | None, str | None]:
        """Return the SOCKS user name and password (None, None without userinfo)."""
        if not self.username and self._password is None:
            return None, None
        return self.username, self._password

    @classmethod
    def parse(cls, proxy: str | Proxy) -> Proxy:
        """Parse a proxy URL such as ``http://user:pa%40ss@127.0.0.1:3128``.

        A value without a scheme (``127.0.0.1:3128``) means ``http://``. The
        path, query and fragment of a proxy URL are ignored, as curl does.

        Args:
            proxy: the proxy URL, or a :class:`Proxy` (returned as is).

        Returns:
            The proxy.

        Raises:
            InvalidURL: a scheme other than http, no host, a bad port, or a
                user name holding ``:``.

        """
        if isinstance(proxy, Proxy):
            return proxy
        if not isinstance(proxy, str):
            raise TypeError(f"proxy must be str or hyperhttp Proxy, not {type(proxy).__name__}")
        text = proxy.strip()
        if not text:
            raise InvalidURL("empty proxy URL")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise InvalidURL("control characters in the proxy URL")
        scheme, rest = _after_scheme(text)
        userinfo, hostport = _split_userinfo(rest, text)
        try:
            url = parse_url(f"http://{hostport}")
            if scheme != "http" and not _has_port(hostport):
                url = parse_url(f"http://{hostport}:{_SCHEMES[scheme]}")
        except InvalidURL as exc:
            raise InvalidURL(f"invalid proxy URL {redact(text)!r}: {exc}") from None
        username, auth_header, shown = _credentials(userinfo, text, basic=scheme == "http")
        display = f"{scheme}://{shown}{url.host_header.decode('ascii')}"
        if scheme == "http":
            return cls(url, username, auth_header, display)
        return cls(url, username, None, display, scheme, _socks_password(scheme, userinfo, text))

    def __str__(self) -> str:
        return self._display

    def __repr__(self) -> str:
        return f"Proxy({self._display!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proxy):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[object, ...]:
        """Return what makes two proxies the same (a pool key holds it)."""
        return (self.scheme, self.origin, self.auth_header, self.username, self._password)


def _after_scheme(text: str) -> tuple[str, str]:
    """Return a proxy URL's ``(scheme, rest)``; refuse a scheme not in :data:`_SCHEMES`."""
    match = _SCHEME.match(text)
    if match is None:
        return "http", text  # a bare host:port means http://
    scheme = match.group(1).lower()
    if scheme not in _SCHEMES:
        raise InvalidURL(
            f"unsupported proxy scheme {scheme!r}"
            " (http://, socks5://, socks5h://, socks4:// or socks4a:// proxies only)"
        )
    return scheme, text[match.end() :]


def _has_port(hostport: str) -> bool:
    """Return whether ``host:port`` (or ``[v6]:port``) names a port."""
    return ":" in hostport.rpartition("]")[2]


def _split_userinfo(rest: str, text: str) -> tuple[str, str]:
    """Split the authority that starts ``rest`` into ``(userinfo, host and port)``.

    ``rest`` is the proxy URL ``text`` without its scheme; ``text`` is quoted
    (password hidden) in the error.
    """
    # Split the userinfo off here (RFC 3986 §3.2: it ends at the last "@" of
    # the authority), so parse_url never sees the password: its messages
    # quote the URL, and it caches what it parsed.
    ends = [i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i != -1]
    authority = rest[: min(ends)] if ends else rest
    userinfo, _, hostport = authority.rpartition("@")
    if "@" in rest[len(authority) :]:
        raise InvalidURL(
            f"invalid proxy URL {redact(text)!r}: percent-encode '/', '?', '#' and '@'"
            " in the user name and password"
        )
    return userinfo, hostport


def _credentials(userinfo: str, text: str, *, basic: bool = True) -> tuple[str, bytes | None, str]:
    """Decode a proxy URL's userinfo into ``(username, auth_header, shown)``.

    ``shown`` is the userinfo as :class:`Proxy` displays it, ``"user@"`` or
    ``"user:***@"``: never the password. Without userinfo: ``("", None, "")``.
    ``text`` is the proxy URL, quoted (password hidden) in the error.
    ``basic``: an HTTP proxy's (its user name goes into Basic credentials,
    where ':' cannot be; RFC 1929 allows any octet in a SOCKS user name).
    """
    raw_user, _, raw_password = userinfo.partition(":")
    if not (raw_user or raw_password):
        return "", None, ""
    user = unquote_to_bytes(raw_user)  # UTF-8 for non-ASCII text
    if basic and b":" in user:
        raise InvalidURL(f"proxy user name must not contain ':' (RFC 7617 §2): {redact(text)!r}")
    auth_header = b"Basic " + base64.b64encode(user + b":" + unquote_to_bytes(raw_password))
    # the user as written, never the password
    shown = f"{raw_user}:***@" if raw_password else f"{raw_user}@"
    return user.decode("utf-8", "replace"), auth_header, shown


def _socks_password(scheme: str, userinfo: str, text: str) -> str | None:
    """Return a SOCKS proxy's password (None: none), checked for its version.

    SOCKS5 (RFC 1929 §2) takes a user name and a password together, each 1
    to 255 bytes; SOCKS4 has a user name (USERID) and no password.
    """
    raw_user, colon, raw_password = userinfo.partition(":")
    user = unquote_to_bytes(raw_user)
    password = unquote_to_bytes(raw_password)
    if scheme.startswith("socks4"):
        if password or (colon and not raw_user):
            raise InvalidURL(
                f"a SOCKS4 proxy takes a user name only, no password: {redact(text)!r}"
            )
        if b"\x00" in user:
            raise InvalidURL(f"a SOCKS4 user name cannot hold NUL: {redact(text)!r}")
        return None
    if not userinfo:
        return None
    if not (user and password):
        raise InvalidURL(
            f"a SOCKS5 proxy takes a user name and a password together: {redact(text)!r}"
        )
    if len(user) > 255 or len(password) > 255:
        raise InvalidURL(f"SOCKS5 user names and passwords are 1-255 bytes: {redact(text)!r}")
    return password.decode("utf-8", "replace")


def _env(environ: Mapping[str, str], name: str, *, cgi_guard: bool = False) -> tuple[str, str]:
    """Return ``(variable, value)`` for ``name``: lower case first, blank means unset."""
    lower = name.lower()
    value = environ.get(lower, "").strip()
    if value:
        return lower, value
    upper = name.upper()
    if cgi_guard and "REQUEST_METHOD" in environ:  # httpoxy: HTTP_PROXY came from a header
        return upper, ""
    return upper, environ.get(upper, "").strip()


def _env_proxy(variable: str, value: str) -> Proxy | None:
    if not value:
        return None
    try:
        return Proxy.parse(value)
    except InvalidURL as exc:
        raise InvalidURL(f"{exc} (from the environment variable {variable})") from None


class _NoProxy:
    """A compiled NO_PROXY list.

    ``domains`` maps a domain (no leading or trailing dot) to the ports it
    covers; ``networks`` holds IP networks (single addresses as /32, /128).
    """

    __slots__ = ("domains", "everything", "networks")

    def __init__(self, value: str) -> None:
        self.everything = False
        domains: dict[str, set[int] | None] = {}
        networks: dict[IPNetwork, set[int] | None] = {}
        for entry in _NO_PROXY_SPLIT.split(value.lower()):
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            parsed = _parse_entry(entry)
            if parsed is None:
                continue
            target, port = parsed
            if isinstance(target, str):
                _add(domains, target, port)
            else:
                _add(networks, target, port)
        self.domains: dict[str, Ports] = {
            k: None if v is None else frozenset(v) for k, v in domains.items()
        }
        self.networks: tuple[tuple[IPNetwork, Ports], ...] = tuple(
            (k, None if v is None else frozenset(v)) for k, v in networks.items()
        )

    def __bool__(self) -> bool:
        return self.everything or bool(self.domains) or bool(self.networks)

    def matches(self, host: str, port: int) -> bool:
        """Whether a request to ``host`` (lower-case, IPv6 unbracketed) and ``port`` bypasses."""
        if self.everything:
            return True
        address = _ip(host)
        if address is not None:
            return any(
                (ports is None or port in ports) and address in network
                for network, ports in self.networks
            )
        name = host.rstrip(".")
        while True:  # the name itself, then each parent domain
            if name in self.domains:
                ports = self.domains[name]
                if ports is None or port in ports:
                    return True
            dot = name.find(".")
            if dot == -1:
                return False
            name = name[dot + 1 :]


def _add(table: dict[_K, set[int] | None], key: _K, port: int | None) -> None:
    if port is None:
        table[key] = None
    elif key not in table:
        table[key] = {port}
    else:
        ports = table[key]
        if ports is not None:
            ports.add(port)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ":" not in host and not host[-1:].isdigit():
        return None  # a name: cheap test before ipaddress's
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parse_entry(entry: str) -> tuple[str | IPNetwork, int | None] | None:
    """Parse one NO_PROXY entry into a domain or network and an optional port."""
    port: int | None = None
    if entry.startswith("["):  # [v6] or [v6]:port, perhaps with a prefix length
        host, bracket, rest = entry[1:].partition("]")
        if not bracket:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = _port(rest[1:])
            if port is None:
                return None
    elif entry.count(":") == 1:  # name:port or v4:port
        host, _, text = entry.partition(":")
        port = _port(text)
        if port is None:
            return None
    else:  # a name, a v4 address, or an unbracketed v6 address (no port then)
        host = entry
    if not host:
        return None
    if "/" in host or ":" in host or host[-1].isdigit():
        try:
            return ipaddress.ip_network(host, strict=False), port
        except ValueError:
            if "/" in host or ":" in host:
                return None  # a malformed address; a name like "1.example.2" carries on
    if host.startswith("*."):
        host = host[1:]
    host = host.strip(".")
    if not host or "*" in host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host, port


def _port(text: str) -> int | None:
    if not _PORT.fullmatch(text):
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


class ProxySelector:
    """Decide which proxy, if any, a request goes through.

    Args:
        proxy: an explicit proxy URL (or :class:`Proxy`) used for every http
            and https URL. It takes precedence over the environment entirely:
            NO_PROXY does not apply to it.
        trust_env: without ``proxy``, read ``http_proxy``, ``https_proxy``,
            ``all_proxy`` and ``no_proxy`` (lower-case first, then upper-case;
            upper-case ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is
            set). See the module docstring for the NO_PROXY grammar.
        environ: the environment to read, ``os.environ`` by default; read once,
            here.

    Raises:
        InvalidURL: ``proxy`` or a proxy variable in the environment is not a
            usable http:// proxy URL.

    Attributes:
        enabled: False when no URL can ever be proxied: the client may skip
            :meth:`select`.
        http_proxy: the proxy for http URLs (before NO_PROXY), or None.
        https_proxy: the proxy for https URLs (before NO_PROXY), or None.

    """

    __slots__ = ("_decisions", "_no_proxy", "enabled", "http_proxy", "https_proxy")

    def __init__(
        self,
        proxy: str | Proxy | None = None,
        *,
        trust_env: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.http_proxy: Proxy | None = None
        self.https_proxy: Proxy | None = None
        self._no_proxy: _NoProxy | None = None
        self._decisions: dict[tuple[str, str, int], bool] = {}
        if proxy is not None:
            self.http_proxy = self.https_proxy = Proxy.parse(proxy)
        elif trust_env:
            env = os.environ if environ is None else environ
            every = _env_proxy(*_env(env, "all_proxy"))
            self.http_proxy = _env_proxy(*_env(env, "http_proxy", cgi_guard=True)) or every
            self.https_proxy = _env_proxy(*_env(env, "https_proxy")) or every
            no_proxy = _NoProxy(_env(env, "no_proxy")[1])
            if no_proxy:
                self._no_proxy = no_proxy
        self.enabled = self.http_proxy is not None or self.https_proxy is not None

    def select(self, url: URL) -> Proxy | None:
        """Return the proxy for a request to ``url``, or None to connect directly.

        Args:
            url: the request's URL.

        """
        proxy = self.https_proxy if url.scheme == "https" else self.http_proxy
        if proxy is None or self._no_proxy is None:
            return proxy
        key = url.origin  # built with the URL: a hit allocates nothing
        bypass = self._decisions.get(key)
        if bypass is None:
            bypass = self._no_proxy.matches(key[1], key[2])
            if len(self._decisions) >= _DECISION_CACHE_SIZE:
                self._decisions.clear()
            self._decisions[key] = bypass
        return None if bypass else proxy

    def __repr__(self) -> str:
        return f"ProxySelector(http={self.http_proxy!r}, https={self.https_proxy!r})"
