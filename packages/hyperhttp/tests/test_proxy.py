"""Choosing a proxy: parsing proxy URLs, the environment, NO_PROXY (sans-IO, table-driven)."""

from __future__ import annotations

import base64
import re

import pytest

from hyperhttp import _urls
from hyperhttp._exceptions import InvalidURL
from hyperhttp._proxy import Proxy, ProxySelector
from hyperhttp._urls import parse_url

PROXY_A = "http://127.0.0.1:3128"
PROXY_B = "http://127.0.0.2:3129"
PROXY_C = "http://127.0.0.3:3130"


def _credentials(proxy: Proxy) -> bytes:
    assert proxy.auth_header is not None
    scheme, _, encoded = proxy.auth_header.partition(b" ")
    assert scheme == b"Basic"
    return base64.b64decode(encoded, validate=True)


def _chosen(selector: ProxySelector, url: str) -> str | None:
    proxy = selector.select(parse_url(url))
    return None if proxy is None else str(proxy)


# ------------------------------------------------------------------ Proxy.parse


def test_parse_gives_url_origin_and_no_auth_without_userinfo() -> None:
    """A plain proxy URL: URL without credentials, origin with its port, no header."""
    proxy = Proxy.parse("http://127.0.0.1:3128")
    assert str(proxy.url) == "http://127.0.0.1:3128/"
    assert proxy.origin == ("http", "127.0.0.1", 3128)
    assert proxy.auth_header is None
    assert proxy.username == ""


def test_parse_fills_in_port_80() -> None:
    """Without a port the origin says 80, http's default."""
    assert Proxy.parse("http://proxy.example").origin == ("http", "proxy.example", 80)


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("127.0.0.1:3128", ("http", "127.0.0.1", 3128)),
        ("proxy.example", ("http", "proxy.example", 80)),
        ("[::1]:8080", ("http", "::1", 8080)),
        ("user:pw@proxy.example:3128", ("http", "proxy.example", 3128)),
        ("HTTP://Proxy.Example:3128", ("http", "proxy.example", 3128)),
        ("  http://127.0.0.1:3128  ", ("http", "127.0.0.1", 3128)),
        ("http://127.0.0.1:3128/", ("http", "127.0.0.1", 3128)),
    ],
)
def test_parse_forms(text: str, origin: tuple[str, str, int]) -> None:
    """No scheme means http:// (curl); scheme and host are case-insensitive; blanks trimmed."""
    assert Proxy.parse(text).origin == origin


def test_parse_ignores_path_query_and_fragment() -> None:
    """A proxy URL's path means nothing to a forward proxy; it is dropped, as curl does."""
    assert str(Proxy.parse("http://127.0.0.1:3128/some/path?q=1#f").url) == "http://127.0.0.1:3128/"


def test_parse_returns_a_proxy_unchanged() -> None:
    """A Proxy passed where a URL is expected is used as it is."""
    proxy = Proxy.parse(PROXY_A)
    assert Proxy.parse(proxy) is proxy


def test_parse_rejects_non_strings() -> None:
    """Bytes are not a proxy URL."""
    with pytest.raises(TypeError, match="proxy must be str"):
        Proxy.parse(b"http://127.0.0.1:3128")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "credentials"),
    [
        ("http://user:pass@127.0.0.1:3128", b"user:pass"),
        ("http://user:pa%40ss@127.0.0.1:3128", b"user:pa@ss"),  # percent-decoded
        ("http://us%65r:p%3Ass@127.0.0.1", b"user:p:ss"),  # ':' is fine in the password
        ("http://user:p@ss@127.0.0.1", b"user:p@ss"),  # the last '@' ends the userinfo
        ("http://us%C3%A9r:p%C3%A4ss@127.0.0.1", "usér:päss".encode()),
        ("http://usér:päss@127.0.0.1", "usér:päss".encode()),  # raw unicode -> UTF-8
        ("http://user@127.0.0.1", b"user:"),  # no password
        ("http://user:@127.0.0.1", b"user:"),
        ("http://:secret@127.0.0.1", b":secret"),  # no user name
        ("http://a%20b:c%2Bd@127.0.0.1", b"a b:c+d"),
    ],
)
def test_auth_header_encodes_decoded_credentials(text: str, credentials: bytes) -> None:
    """Basic credentials are the percent-decoded user and password, UTF-8 encoded."""
    assert _credentials(Proxy.parse(text)) == credentials


@pytest.mark.parametrize(
    "text", ["http://127.0.0.1:3128", "http://@127.0.0.1", "http://:@127.0.0.1"]
)
def test_no_credentials_no_header(text: str) -> None:
    """Without a user name or password there is no Proxy-Authorization."""
    proxy = Proxy.parse(text)
    assert proxy.auth_header is None
    assert str(proxy) == "http://127.0.0.1" + (":3128" if "3128" in text else "")


def test_credentials_never_reach_the_url_cache() -> None:
    """parse_url caches what it parses; a proxy's password is never handed to it."""
    Proxy.parse("http://user:s3cr3t-for-cache@127.0.0.1:3128")
    assert not [key for key in _urls._cache if "s3cr3t" in key]


def test_auth_header_exact_bytes() -> None:
    """The header is b"Basic " and standard base64 (RFC 7617 §2)."""
    proxy = Proxy.parse("http://Aladdin:open%20sesame@127.0.0.1")
    assert proxy.auth_header == b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert proxy.username == "Aladdin"


def test_username_is_decoded() -> None:
    """``username`` is the decoded user name, for logs and traces."""
    assert Proxy.parse("http://us%C3%A9r:x@127.0.0.1").username == "usér"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:secret@127.0.0.1:3128", "http://user:***@127.0.0.1:3128"),
        ("http://user:s%40cret@127.0.0.1", "http://user:***@127.0.0.1"),
        ("http://:secret@127.0.0.1", "http://:***@127.0.0.1"),
        ("http://user@127.0.0.1:3128", "http://user@127.0.0.1:3128"),
        ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
        ("http://[::1]:3128", "http://[::1]:3128"),
    ],
)
def test_str_and_repr_never_show_the_password(text: str, shown: str) -> None:
    """str() and repr() show user:*** (or just host:port), never the password."""
    proxy = Proxy.parse(text)
    assert str(proxy) == shown
    assert repr(proxy) == f"Proxy({shown!r})"
    for rendering in (str(proxy), repr(proxy), str(proxy.url), repr(proxy.url)):
        assert "secret" not in rendering
        assert "cret" not in rendering


ONLY = " (http://, socks5://, socks5h://, socks4:// or socks4a:// proxies only)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "socks6://127.0.0.1:1080",
            "unsupported proxy scheme 'socks6'" + ONLY,
        ),
        (
            "SOCKS://127.0.0.1:1080",
            "unsupported proxy scheme 'socks'" + ONLY,
        ),
        (
            "https://127.0.0.1:3128",
            "unsupported proxy scheme 'https'" + ONLY,
        ),
        (
            "ftp://127.0.0.1",
            "unsupported proxy scheme 'ftp'" + ONLY,
        ),
        ("", "empty proxy URL"),
        ("   ", "empty proxy URL"),
        ("http://", "no host"),
        ("http://:3128", "no host"),
        ("http://user:pw@", "no host"),
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://127.0.0.1:port", "Port could not be cast"),
        ("http://[::1:3128", "invalid"),
        ("http://a%3Ab:c@127.0.0.1", "user name must not contain ':'"),
        ("http://127.0.0.1\n:3128", "control characters"),
        ("http://us\ter:pw@127.0.0.1", "control characters"),
        ("http://user:pa/ss@127.0.0.1", "percent-encode '/', '?', '#' and '@'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    """Unsupported schemes and unusable URLs raise InvalidURL (a ValueError) saying why."""
    with pytest.raises(InvalidURL, match=re.escape(message)):
        Proxy.parse(text)
    with pytest.raises(ValueError, match=re.escape(message)):  # InvalidURL is a ValueError
        Proxy.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "http://user:hunter2@127.0.0.1:99999",
        "http://user:hunter2@",
        "http://user:hun/ter2@127.0.0.1",  # an unescaped '/' splits the userinfo
        "http://user:hunter2@127.0.0.1:x",
        "http://us%3Aer:hunter2@127.0.0.1",
    ],
)
def test_parse_errors_never_show_the_password(text: str) -> None:
    """Error messages hide the password as repr() does."""
    with pytest.raises(InvalidURL) as info:
        Proxy.parse(text)
    assert "hunter2" not in str(info.value)
    assert "ter2" not in str(info.value)
    assert "***" in str(info.value)


def test_equality_and_hash_follow_origin_and_credentials() -> None:
    """Two spellings of one proxy are equal; other credentials make another proxy."""
    one = Proxy.parse("http://u:p@127.0.0.1:80")
    assert one == Proxy.parse("HTTP://u:p@127.0.0.1/")
    assert hash(one) == hash(Proxy.parse("http://u:p@127.0.0.1"))
    assert one != Proxy.parse("http://u:q@127.0.0.1")
    assert one != Proxy.parse("http://127.0.0.1")
    assert one != "http://u:p@127.0.0.1"


# ------------------------------------------------------------------ the environment

HTTP_URL = "http://example.com/path"
HTTPS_URL = "https://example.com/path"


@pytest.mark.parametrize(
    ("environ", "for_http", "for_https"),
    [
        ({}, None, None),
        ({"http_proxy": PROXY_A}, PROXY_A, None),
        ({"HTTP_PROXY": PROXY_A}, PROXY_A, None),
        ({"https_proxy": PROXY_A}, None, PROXY_A),
        ({"HTTPS_PROXY": PROXY_A}, None, PROXY_A),
        ({"all_proxy": PROXY_C}, PROXY_C, PROXY_C),
        ({"ALL_PROXY": PROXY_C}, PROXY_C, PROXY_C),
        # the specific variable beats ALL_PROXY, each for its scheme
        ({"http_proxy": PROXY_A, "all_proxy": PROXY_C}, PROXY_A, PROXY_C),
        ({"HTTPS_PROXY": PROXY_B, "all_proxy": PROXY_C}, PROXY_C, PROXY_B),
        ({"http_proxy": PROXY_A, "https_proxy": PROXY_B, "ALL_PROXY": PROXY_C}, PROXY_A, PROXY_B),
        # lower case wins over upper case (curl)
        ({"http_proxy": PROXY_A, "HTTP_PROXY": PROXY_B}, PROXY_A, None),
        ({"https_proxy": PROXY_A, "HTTPS_PROXY": PROXY_B}, None, PROXY_A),
        ({"all_proxy": PROXY_A, "ALL_PROXY": PROXY_B}, PROXY_A, PROXY_A),
        # empty or blank values are unset: the next candidate counts
        ({"http_proxy": "", "HTTP_PROXY": PROXY_B}, PROXY_B, None),
        ({"http_proxy": "  ", "HTTP_PROXY": PROXY_B}, PROXY_B, None),
        ({"https_proxy": "", "all_proxy": PROXY_C}, PROXY_C, PROXY_C),
        ({"http_proxy": "", "HTTP_PROXY": "", "https_proxy": ""}, None, None),
        # a bare host:port means http:// (curl)
        ({"http_proxy": "127.0.0.1:3128"}, PROXY_A, None),
        ({"https_proxy": "127.0.0.1:3128"}, None, PROXY_A),
        # other variables do not count
        ({"ftp_proxy": PROXY_A, "proxy": PROXY_A, "HTTP_PROXY_X": PROXY_A}, None, None),
    ],
)
def test_environment_precedence(
    environ: dict[str, str], for_http: str | None, for_https: str | None
) -> None:
    """HTTP_PROXY for http, HTTPS_PROXY for https, ALL_PROXY as the fallback; lower case first."""
    selector = ProxySelector(environ=environ)
    assert _chosen(selector, HTTP_URL) == for_http
    assert _chosen(selector, HTTPS_URL) == for_https


@pytest.mark.parametrize(
    ("environ", "for_http", "for_https"),
    [
        # CGI: HTTP_PROXY may come from the request's "Proxy:" header (httpoxy)
        ({"REQUEST_METHOD": "GET", "HTTP_PROXY": PROXY_A}, None, None),
        ({"REQUEST_METHOD": "", "HTTP_PROXY": PROXY_A}, None, None),
        ({"REQUEST_METHOD": "GET", "HTTP_PROXY": PROXY_A, "ALL_PROXY": PROXY_C}, PROXY_C, PROXY_C),
        # the lower-case name cannot come from a header: still used
        ({"REQUEST_METHOD": "GET", "http_proxy": PROXY_A}, PROXY_A, None),
        ({"REQUEST_METHOD": "GET", "http_proxy": PROXY_A, "HTTP_PROXY": PROXY_B}, PROXY_A, None),
        # only HTTP_PROXY is affected
        ({"REQUEST_METHOD": "GET", "HTTPS_PROXY": PROXY_B}, None, PROXY_B),
        # not CGI: HTTP_PROXY as usual
        ({"HTTP_PROXY": PROXY_A}, PROXY_A, None),
    ],
)
def test_httpoxy(environ: dict[str, str], for_http: str | None, for_https: str | None) -> None:
    """Upper-case HTTP_PROXY is ignored when REQUEST_METHOD is set (CVE-2016-5385)."""
    selector = ProxySelector(environ=environ)
    assert _chosen(selector, HTTP_URL) == for_http
    assert _chosen(selector, HTTPS_URL) == for_https


def test_trust_env_false_ignores_the_environment() -> None:
    """With trust_env=False the environment is not consulted."""
    selector = ProxySelector(trust_env=False, environ={"http_proxy": PROXY_A, "all_proxy": PROXY_B})
    assert not selector.enabled
    assert selector.select(parse_url(HTTP_URL)) is None
    assert selector.select(parse_url(HTTPS_URL)) is None


def test_environment_is_read_once() -> None:
    """Changes to the environment after construction have no effect."""
    environ = {"http_proxy": PROXY_A}
    selector = ProxySelector(environ=environ)
    environ["http_proxy"] = PROXY_B
    environ["no_proxy"] = "*"
    assert _chosen(selector, HTTP_URL) == PROXY_A


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"http_proxy": "socks6://127.0.0.1:1080"}, "'socks6'.*http_proxy"),
        ({"HTTPS_PROXY": "https://127.0.0.1:3128"}, "'https'.*HTTPS_PROXY"),
        ({"all_proxy": "http://:3128"}, "no host.*all_proxy"),
    ],
)
def test_unusable_proxy_in_environment_raises(environ: dict[str, str], message: str) -> None:
    """A proxy variable that cannot be used fails construction and names the variable."""
    with pytest.raises(InvalidURL, match=message):
        ProxySelector(environ=environ)


def test_credentials_from_the_environment() -> None:
    """Userinfo in a proxy variable becomes the Proxy-Authorization header."""
    selector = ProxySelector(environ={"https_proxy": "http://u:p%40ss@127.0.0.1:3128"})
    proxy = selector.select(parse_url(HTTPS_URL))
    assert proxy is not None
    assert _credentials(proxy) == b"u:p@ss"


# ------------------------------------------------------------------ explicit proxy=


def test_explicit_proxy_is_used_for_http_and_https() -> None:
    """proxy= serves every http and https URL."""
    selector = ProxySelector(proxy=PROXY_A, environ={})
    assert selector.enabled
    assert _chosen(selector, "http://example.com") == PROXY_A
    assert _chosen(selector, "https://example.com:8443/x") == PROXY_A
    assert _chosen(selector, "http://127.0.0.1:8080") == PROXY_A


def test_explicit_proxy_ignores_the_environment_and_no_proxy() -> None:
    """proxy= wins over the proxy variables, and NO_PROXY does not apply to it."""
    environ = {"http_proxy": PROXY_B, "https_proxy": PROXY_B, "no_proxy": "*", "NO_PROXY": "*"}
    selector = ProxySelector(proxy=PROXY_A, environ=environ)
    assert _chosen(selector, HTTP_URL) == PROXY_A
    assert _chosen(selector, HTTPS_URL) == PROXY_A


def test_explicit_proxy_with_trust_env_false() -> None:
    """trust_env=False does not turn an explicit proxy off."""
    selector = ProxySelector(proxy=PROXY_A, trust_env=False)
    assert _chosen(selector, HTTP_URL) == PROXY_A


def test_explicit_proxy_object() -> None:
    """A Proxy object is accepted and used as it is."""
    proxy = Proxy.parse("http://u:p@127.0.0.1:3128")
    selector = ProxySelector(proxy=proxy, environ={})
    assert selector.select(parse_url(HTTPS_URL)) is proxy


@pytest.mark.parametrize("proxy", ["socks5://user@127.0.0.1:1080", "https://127.0.0.1", ""])
def test_explicit_proxy_errors_at_construction(proxy: str) -> None:
    """An unusable proxy= fails when the selector is built, not per request."""
    with pytest.raises(InvalidURL):
        ProxySelector(proxy=proxy, environ={})


@pytest.mark.parametrize(
    ("proxy", "environ", "enabled"),
    [
        (None, {}, False),
        (None, {"no_proxy": "example.com"}, False),
        (None, {"http_proxy": ""}, False),
        (None, {"http_proxy": PROXY_A}, True),
        (None, {"https_proxy": PROXY_A}, True),
        (None, {"ALL_PROXY": PROXY_A, "NO_PROXY": "*"}, True),  # NO_PROXY decides per URL
        (PROXY_A, {}, True),
    ],
)
def test_enabled(proxy: str | None, environ: dict[str, str], enabled: bool) -> None:
    """``enabled`` is False only when no URL could ever be proxied."""
    assert ProxySelector(proxy=proxy, environ=environ).enabled is enabled


def test_repr_hides_passwords() -> None:
    """The selector's repr shows its proxies the way Proxy's repr does."""
    selector = ProxySelector(environ={"http_proxy": "http://u:secret@127.0.0.1:3128"})
    assert "secret" not in repr(selector)
    assert "u:***@127.0.0.1:3128" in repr(selector)


# ------------------------------------------------------------------ NO_PROXY

NO_PROXY_CASES: list[tuple[str, str, bool]] = [
    # domains: the name and its subdomains, never a mere suffix of the text
    ("example.com", "http://example.com", True),
    ("example.com", "http://www.example.com", True),
    ("example.com", "http://a.b.example.com:8080", True),
    ("example.com", "https://example.com", True),
    ("example.com", "http://notexample.com", False),
    ("example.com", "http://example.com.evil.test", False),
    ("example.com", "http://example.org", False),
    ("ample.com", "http://example.com", False),
    ("www.example.com", "http://example.com", False),
    # a leading dot (or "*.") matches the subdomains and the domain itself (curl)
    (".example.com", "http://example.com", True),
    (".example.com", "http://www.example.com", True),
    (".example.com", "http://notexample.com", False),
    ("*.example.com", "http://www.example.com", True),
    ("*.example.com", "http://example.com", True),
    # case and trailing dots
    ("EXAMPLE.COM", "http://example.com", True),
    ("example.com", "http://WWW.Example.COM", True),
    ("example.com.", "http://example.com", True),
    ("example.com", "http://example.com./", True),
    ("localhost", "http://localhost:8080", True),
    ("localhost", "http://127.0.0.1", False),  # names are not resolved
    # international names compare as IDNA
    ("bücher.example", "http://xn--bcher-kva.example", True),
    ("bücher.example", "http://BÜCHER.example", True),
    # "*" means everything
    ("*", "http://example.com", True),
    ("*", "https://10.1.2.3:8443", True),
    ("*", "http://[::1]", True),
    ("foo.test, *", "http://example.com", True),
    # IPv4 addresses and networks
    ("127.0.0.1", "http://127.0.0.1:8080", True),
    ("127.0.0.1", "http://127.0.0.2", False),
    ("127.0.0.1", "http://localhost", False),
    ("10.0.0.0/8", "http://10.1.2.3", True),
    ("10.0.0.0/8", "http://11.0.0.1", False),
    ("10.1.2.3/8", "http://10.200.0.1", True),  # host bits set: still the /8
    ("192.168.1.0/24", "http://192.168.1.77", True),
    ("192.168.1.0/24", "http://192.168.2.1", False),
    ("0.0.0.0/0", "http://203.0.113.9", True),
    ("0.0.0.0/0", "http://[::1]", False),  # v4 networks never match v6 hosts
    ("0.1", "http://10.0.0.1", False),  # no suffix matching for addresses
    ("10.0.0.1", "http://x.10.0.0.1.example", False),
    # IPv6 addresses and networks, bare or bracketed
    ("::1", "http://[::1]", True),
    ("::1", "http://[::2]", False),
    ("[::1]", "http://[::1]:8080", True),
    ("0:0:0:0:0:0:0:1", "http://[::1]", True),
    ("::1/128", "http://[::1]", True),
    ("[::1/128]", "http://[::1]", True),
    ("fe80::/10", "http://[fe80::1]", True),
    ("2001:db8::/32", "http://[2001:db8:1::1]", True),
    ("2001:db8::/32", "http://[2001:db9::1]", False),
    ("::/0", "http://127.0.0.1", False),  # v6 networks never match v4 hosts
    ("2001:DB8::1", "http://[2001:db8::1]", True),
    # ports: only that port (the URL's effective port)
    ("example.com:8080", "http://example.com:8080", True),
    ("example.com:8080", "http://www.example.com:8080", True),
    ("example.com:8080", "http://example.com", False),
    ("example.com:80", "http://example.com", True),
    ("example.com:443", "https://example.com", True),
    ("example.com:443", "https://example.com:8443", False),
    ("example.com:443", "http://example.com", False),
    ("127.0.0.1:8080", "http://127.0.0.1:8080", True),
    ("127.0.0.1:8080", "http://127.0.0.1:8081", False),
    ("[::1]:8080", "http://[::1]:8080", True),
    ("[::1]:8080", "http://[::1]", False),
    ("10.0.0.0/8:80", "http://10.0.0.1", True),
    ("10.0.0.0/8:80", "http://10.0.0.1:81", False),
    ("example.com:80,example.com:8080", "http://example.com:8080", True),
    ("example.com:80,example.com:8080", "http://example.com:8081", False),
    ("example.com:80,example.com", "http://example.com:8081", True),  # any port wins
    ("example.com,example.com:80", "http://example.com:8081", True),
    # separators: commas and any whitespace; empty entries skipped
    ("  example.com  ,\t foo.test \n", "http://foo.test", True),
    ("a.test b.test", "http://b.test", True),
    ("a.test\tb.test", "http://b.test", True),
    (",,example.com,,", "http://example.com", True),
    ("", "http://example.com", False),
    (" , ,, ", "http://example.com", False),
    # unparseable entries are skipped, the rest still applies
    ("example.com:notaport,foo.test", "http://example.com", False),
    ("example.com:notaport,foo.test", "http://foo.test", True),
    ("example.com:0,foo.test", "http://example.com", False),
    ("example.com:65536", "http://example.com", False),
    ("10.0.0.0/33,foo.test", "http://10.0.0.1", False),
    ("[::1,foo.test", "http://foo.test", True),
    ("[::1]x,foo.test", "http://[::1]", False),
    ("*example.com", "http://www.example.com", False),
    ("exa*mple.com", "http://exa.mple.com", False),
    ("*:80", "http://example.com", False),
    ("::1:80", "http://[::1]:80", False),  # unbracketed v6 carries no port: the address ::1:80
    (".", "http://example.com", False),
]


@pytest.mark.parametrize(("no_proxy", "url", "bypass"), NO_PROXY_CASES)
def test_no_proxy(no_proxy: str, url: str, bypass: bool) -> None:
    """A URL whose host and port match a NO_PROXY entry goes direct."""
    environ = {"http_proxy": PROXY_A, "https_proxy": PROXY_A, "no_proxy": no_proxy}
    selector = ProxySelector(environ=environ)
    expected = None if bypass else PROXY_A
    assert _chosen(selector, url) == expected
    assert _chosen(selector, url) == expected  # the cached decision agrees


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({"no_proxy": "a.test", "NO_PROXY": "b.test"}, "http://a.test", None),
        ({"no_proxy": "a.test", "NO_PROXY": "b.test"}, "http://b.test", PROXY_A),
        ({"no_proxy": "", "NO_PROXY": "b.test"}, "http://b.test", None),
        ({"NO_PROXY": "b.test"}, "http://b.test", None),
        ({"no_proxy": " ", "NO_PROXY": "*"}, "http://b.test", None),
    ],
)
def test_no_proxy_lower_case_wins(environ: dict[str, str], url: str, expected: str | None) -> None:
    """no_proxy is read before NO_PROXY; an empty one counts as unset."""
    selector = ProxySelector(environ={"http_proxy": PROXY_A, **environ})
    assert _chosen(selector, url) == expected


def test_no_proxy_applies_to_every_environment_proxy() -> None:
    """NO_PROXY bypasses HTTP_PROXY, HTTPS_PROXY and ALL_PROXY alike."""
    environ = {"http_proxy": PROXY_A, "ALL_PROXY": PROXY_C, "NO_PROXY": "example.com"}
    selector = ProxySelector(environ=environ)
    assert _chosen(selector, "http://example.com") is None
    assert _chosen(selector, "https://example.com") is None
    assert _chosen(selector, "http://other.test") == PROXY_A
    assert _chosen(selector, "https://other.test") == PROXY_C


def test_many_hosts_keep_answering_correctly() -> None:
    """Past the decision cache's size, answers stay right and the cache stays bounded."""
    selector = ProxySelector(environ={"http_proxy": PROXY_A, "no_proxy": "10.0.0.0/16"})
    for i in range(3000):
        inside = f"http://10.0.{i // 256 % 256}.{i % 256}"
        outside = f"http://10.1.{i // 256 % 256}.{i % 256}"
        assert _chosen(selector, inside) is None
        assert _chosen(selector, outside) == PROXY_A
    assert len(selector._decisions) <= 1024


def test_select_without_any_proxy_returns_none() -> None:
    """With nothing configured select() answers None for every URL."""
    selector = ProxySelector(environ={"no_proxy": "*"})
    assert not selector.enabled
    assert selector.select(parse_url("http://example.com")) is None
    assert selector.select(parse_url("https://example.com")) is None
