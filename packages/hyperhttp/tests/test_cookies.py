"""Cookies: RFC 6265 parsing (§5.2), storage (§5.3), retrieval (§5.4) and the mapping view."""

from __future__ import annotations

import calendar
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp._cookies import (
    MAX_COOKIE_SIZE,
    MAX_COOKIES,
    MAX_COOKIES_PER_DOMAIN,
    Cookie,
    CookieConflict,
    Cookies,
    default_path,
    domain_matches,
    parse_cookie_date,
    path_matches,
)
from hyperhttp._urls import URL

NOW = 1_700_000_000.0  # 2023-11-14: every test injects its clock
PAST = "Thu, 01 Jan 2015 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


def jar_from(url: str, *lines: str, now: float = NOW) -> Cookies:
    jar = Cookies()
    jar.extract(URL(url), list(lines), now=now)
    return jar


def sent(jar: Cookies, url: str, now: float = NOW) -> str | None:
    return jar.header_for(URL(url), now=now)


def only(jar: Cookies) -> Cookie:
    (cookie,) = jar.records()
    return cookie


def gmt(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


# ---------------------------------------------------------------- §5.2 parsing


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=1", ("a", "1")),
        ("  a \t=  1 \t", ("a", "1")),  # WSP trimmed around name and value
        ("a=", ("a", "")),  # an empty value is a value
        ("a=b=c", ("a", "b=c")),  # split at the first "="
        ('a="quoted value"', ("a", '"quoted value"')),  # kept as sent
        ("a=1;", ("a", "1")),
        ("a=1;;; ;", ("a", "1")),  # empty attributes
        ("a=1; Unknown=x; Foo", ("a", "1")),  # unknown attributes ignored
        ("a=%20x y", ("a", "%20x y")),  # no decoding, inner space kept
        ("a=caf\xe9", ("a", "caf\xe9")),  # latin-1 decoded octets
        ("a=1\tb", ("a", "1\tb")),  # HTAB is not a control here
        ("a", None),  # no "=": the line is ignored
        ("a; b=1", None),  # "=" only in the attributes
        ("=1", None),  # empty name
        (" =1", None),
        ("", None),
        (";a=1", None),
        ("a\x00=1", None),  # RFC 6265bis: control characters void the cookie
        ("a=1\x00", None),
        ("a=1\x7f", None),
        ("a=1\r\nb=2", None),
    ],
)
def test_parse_name_and_value(line: str, expected: tuple[str, str] | None) -> None:
    """§5.2: name and value come from the part before the first ';', or the line is ignored."""
    jar = jar_from("https://example.com/", line)
    assert [(c.name, c.value) for c in jar.records()] == ([expected] if expected else [])


def test_attribute_names_are_case_insensitive() -> None:
    """§5.2: attribute names match case-insensitively; values keep their meaning."""
    cookie = only(
        jar_from(
            "https://www.example.com/",
            "a=1; pAtH=/x; DOMAIN=Example.COM; secure; HTTPONLY; max-AGE=5; samesite=lax",
        )
    )
    assert (cookie.path, cookie.domain, cookie.host_only) == ("/x", "example.com", False)
    assert (cookie.secure, cookie.http_only, cookie.same_site) == (True, True, "Lax")
    assert cookie.expires == NOW + 5


def test_last_attribute_wins() -> None:
    """§5.3: the last Path, Domain, Max-Age of a line count."""
    cookie = only(
        jar_from(
            "https://www.example.com/",
            "a=1; Path=/one; Path=/two; Domain=www.example.com; Domain=example.com;"
            " Max-Age=1; Max-Age=9",
        )
    )
    assert (cookie.path, cookie.domain, cookie.expires) == ("/two", "example.com", NOW + 9)


def test_attribute_values_over_1024_octets_are_ignored() -> None:
    """RFC 6265bis §5.6: an overlong attribute value is dropped, the cookie kept."""
    cookie = only(jar_from("https://example.com/a/b", "a=1; Path=/" + "x" * 1024))
    assert cookie.path == "/a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Strict", "Strict"),
        ("lax", "Lax"),
        ("NONE", "None"),
        ("bogus", None),
        ("", None),
        ("L\xe0x", None),
    ],
)
def test_same_site_is_stored(value: str, expected: str | None) -> None:
    """SameSite is kept in canonical spelling (unknown values: None); it is not enforced."""
    jar = jar_from("https://example.com/", f"a=1; SameSite={value}")
    assert only(jar).same_site == expected
    assert sent(jar, "https://other.example.com/") is None  # host-only, not SameSite
    assert sent(jar, "https://example.com/") == "a=1"


def test_http_only_is_stored_and_still_sent() -> None:
    """HttpOnly only hides cookies from scripts: an HTTP client still sends them."""
    jar = jar_from("https://example.com/", "a=1; HttpOnly")
    assert only(jar).http_only is True
    assert sent(jar, "https://example.com/") == "a=1"


def test_several_set_cookie_values_in_one_call() -> None:
    """Each Set-Cookie field value is one cookie; bad ones don't spoil the others."""
    jar = jar_from("https://example.com/", "a=1", "garbage", "b=2; Path=/", "=x", "c=3")
    assert sent(jar, "https://example.com/") == "a=1; b=2; c=3"


def test_a_single_string_is_refused() -> None:
    """Passing one str instead of a list of field values is a caller bug, caught early."""
    with pytest.raises(TypeError, match="list of field values"):
        Cookies().extract(URL("https://example.com/"), "a=1", now=NOW)


@pytest.mark.parametrize("size", [MAX_COOKIE_SIZE - 1, MAX_COOKIE_SIZE])
def test_cookie_up_to_4096_octets_is_kept(size: int) -> None:
    """§6.1: name plus value up to 4096 octets is stored."""
    jar = jar_from("https://example.com/", "n=" + "v" * (size - 1))
    assert len(only(jar).value) == size - 1


def test_cookie_over_4096_octets_is_ignored() -> None:
    """RFC 6265bis §5.6: name plus value over 4096 octets voids the cookie."""
    jar = jar_from("https://example.com/", "n=" + "v" * MAX_COOKIE_SIZE)
    assert jar.is_empty


# ---------------------------------------------------------------- §5.1.1 dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", gmt(2015, 10, 21, 7, 28)),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", gmt(1994, 11, 6, 8, 49, 37)),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", gmt(1994, 11, 6, 8, 49, 37)),  # asctime
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00", gmt(2015, 10, 21, 7, 28)),  # no zone
        ("21 october 2015 7:8:9", gmt(2015, 10, 21, 7, 8, 9)),  # long month, one digit
        ("2015 OCT 21 07:28:00", gmt(2015, 10, 21, 7, 28)),  # any order
        ("07:28:00 21 Oct 2015", gmt(2015, 10, 21, 7, 28)),
        ("Wed,21-Oct-2015 07:28:00 UTC+2", gmt(2015, 10, 21, 7, 28)),  # zones are ignored
        ("01 Jan 69 00:00:00", gmt(2069, 1, 1)),  # §5.1.1: 0-69 -> 20xx
        ("01 Jan 70 00:00:00", gmt(1970, 1, 1)),  # 70-99 -> 19xx
        ("01 Jan 1601 00:00:00", gmt(1601, 1, 1)),  # the earliest year allowed
        ("29 Feb 2024 23:59:59", gmt(2024, 2, 29, 23, 59, 59)),
        ("31 Dec 9999 23:59:59", gmt(9999, 12, 31, 23, 59, 59)),
        ("01st Jan 2030 10:00:00am", gmt(2030, 1, 1, 10)),  # trailing non-digits allowed
    ],
)
def test_parse_cookie_date(text: str, expected: float) -> None:
    """§5.1.1: the tolerant algorithm reads every date format servers send."""
    assert parse_cookie_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "21 Oct 2015",  # no time
        "Oct 2015 07:28:00",  # no day of month
        "21 2015 07:28:00",  # no month
        "21 Oct 07:28:00",  # no year
        "21 Foo 2015 07:28:00",
        "0 Oct 2015 07:28:00",  # day out of range
        "32 Oct 2015 07:28:00",
        "31 Feb 2015 07:28:00",  # no such date
        "29 Feb 2023 07:28:00",
        "21 Oct 1600 07:28:00",  # before 1601
        "21 Oct 2015 24:00:00",  # hour
        "21 Oct 2015 23:60:00",  # minute
        "21 Oct 2015 23:59:60",  # second
        "21 Oct 20155 07:28:00",  # five-digit year
        "21 Oct 2015 123:28:00",  # three-digit hour
    ],
)
def test_parse_cookie_date_rejects(text: str) -> None:
    """§5.1.1: anything missing or out of range is no date."""
    assert parse_cookie_date(text) is None


@given(st.text())
def test_parse_cookie_date_never_raises(text: str) -> None:
    """Arbitrary text gives a float or None, never an exception."""
    result = parse_cookie_date(text)
    assert result is None or isinstance(result, float)


# ---------------------------------------------------------------- expiry


def test_session_cookie_has_no_expiry() -> None:
    """§5.3 step 3: without Max-Age or Expires the cookie lives as long as the jar."""
    jar = jar_from("https://example.com/", "a=1")
    assert only(jar).expires is None
    assert sent(jar, "https://example.com/", now=NOW + 10**9) == "a=1"


def test_expires_in_the_future_is_kept_until_then() -> None:
    """Expires sets the expiry; afterwards the cookie is not sent and is dropped."""
    jar = jar_from("https://example.com/", f"a=1; Expires={FUTURE}")
    assert only(jar).expires == gmt(2100, 1, 1)
    assert sent(jar, "https://example.com/", now=gmt(2099, 12, 31)) == "a=1"
    assert sent(jar, "https://example.com/", now=gmt(2100, 1, 1)) is None
    assert jar.is_empty  # purged by the lookup


def test_max_age_counts_from_now() -> None:
    """§5.2.2: Max-Age=N expires N seconds after the response."""
    jar = jar_from("https://example.com/", "a=1; Max-Age=60")
    assert only(jar).expires == NOW + 60
    assert sent(jar, "https://example.com/", now=NOW + 59.9) == "a=1"
    assert sent(jar, "https://example.com/", now=NOW + 60) is None


@pytest.mark.parametrize(
    "line",
    [
        "a=1; Max-Age=0",
        "a=1; Max-Age=-1",
        "a=1; Max-Age=-0",
        "a=1; Max-Age=-99999999999999999999999",
        f"a=1; Expires={PAST}",
        "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_expired_cookie_deletes_the_stored_one(line: str) -> None:
    """§5.3: an already-expired cookie removes the one with its name, domain and path."""
    jar = jar_from("https://example.com/", "a=1", "b=2")
    jar.extract(URL("https://example.com/"), [line], now=NOW)
    assert [c.name for c in jar.records()] == ["b"]
    assert sent(jar, "https://example.com/") == "b=2"


def test_expired_cookie_without_a_stored_one_stores_nothing() -> None:
    """Max-Age=0 for an unknown cookie is a no-op."""
    assert jar_from("https://example.com/", "a=1; Max-Age=0").is_empty


def test_deletion_needs_the_same_domain_and_path() -> None:
    """The key is (name, domain, path): deleting at another path leaves the cookie alone."""
    url = URL("https://www.example.com/")
    jar = jar_from(str(url), "a=1; Path=/x")
    jar.extract(url, ["a=; Path=/y; Max-Age=0"], now=NOW)
    jar.extract(url, ["a=; Domain=example.com; Path=/x; Max-Age=0"], now=NOW)
    assert only(jar).value == "1"
    jar.extract(url, ["a=; Path=/x; Max-Age=0"], now=NOW)
    assert jar.is_empty


@pytest.mark.parametrize(
    ("attributes", "expires"),
    [
        (f"Max-Age=100; Expires={PAST}", NOW + 100),  # Max-Age wins, whatever the order
        (f"Expires={PAST}; Max-Age=100", NOW + 100),
        (f"Expires={FUTURE}; Max-Age=100", NOW + 100),
        (f"Max-Age=abc; Expires={FUTURE}", gmt(2100, 1, 1)),  # invalid Max-Age is ignored
        (f"Max-Age=1.5; Expires={FUTURE}", gmt(2100, 1, 1)),
        (f"Max-Age=+5; Expires={FUTURE}", gmt(2100, 1, 1)),
        (f"Max-Age=-; Expires={FUTURE}", gmt(2100, 1, 1)),
        (f"Max-Age=; Expires={FUTURE}", gmt(2100, 1, 1)),
        (f"Max-Age=\u0665; Expires={FUTURE}", gmt(2100, 1, 1)),  # a non-ASCII digit
        ("Max-Age=5; Max-Age=x", NOW + 5),  # an invalid later one doesn't undo it
        ("Expires=garbage", None),  # invalid Expires is ignored: a session cookie
        ("Max-Age=" + "9" * 1000, NOW + 10**15),  # clamped: no overflow, no int() limit
        ("Max-Age=" + "0" * 20 + "5", NOW + 5),  # leading zeros are not a huge number
    ],
)
def test_max_age_beats_expires(attributes: str, expires: float | None) -> None:
    """§5.3 step 3: a valid Max-Age decides the expiry; Expires only without one."""
    jar = jar_from("https://example.com/", f"a=1; {attributes}")
    assert only(jar).expires == expires


def test_max_age_zero_beats_a_future_expires() -> None:
    """Max-Age=0 deletes even when Expires lies in the future."""
    jar = jar_from("https://example.com/", "a=1")
    jar.extract(URL("https://example.com/"), [f"a=1; Expires={FUTURE}; Max-Age=0"], now=NOW)
    assert jar.is_empty


def test_purge_expired() -> None:
    """purge_expired() drops what has expired at the given time and says how many."""
    jar = jar_from("https://example.com/", "a=1; Max-Age=10", "b=2; Max-Age=20", "c=3")
    assert jar.purge_expired(NOW + 15) == 1
    assert [c.name for c in jar.records()] == ["b", "c"]


# ---------------------------------------------------------------- §5.3 domain


@pytest.mark.parametrize(
    ("url", "domain", "stored"),
    [
        # (request URL, Domain attribute or None, (stored domain, host_only) or None: refused)
        ("https://example.com/", None, ("example.com", True)),
        ("https://example.com/", "example.com", ("example.com", False)),
        ("https://example.com/", ".example.com", ("example.com", False)),
        ("https://example.com/", "EXAMPLE.Com", ("example.com", False)),
        ("https://www.example.com/", "example.com", ("example.com", False)),
        ("https://a.b.example.com/", ".example.com", ("example.com", False)),
        ("https://example.com/", "", ("example.com", True)),  # empty: ignored
        ("https://example.com/", ".", ("example.com", True)),  # nothing left: host-only
        ("https://example.com/", "www.example.com", None),  # a subdomain
        ("https://www.example.com/", "other.example.com", None),  # a sibling
        ("https://example.com/", "ample.com", None),  # not at a dot
        ("https://example.com/", "other.com", None),
        ("https://example.com/", "example.com.", None),
        ("https://example.com/", "com", None),  # no dot, not the host
        ("https://www.example.com/", ".com", None),
        ("https://localhost/", "localhost", ("localhost", False)),  # no dot, but the host
        ("https://a.localhost/", "localhost", None),
        ("https://example.co.uk/", "co.uk", ("co.uk", False)),  # no public suffix list
        ("https://127.0.0.1/", None, ("127.0.0.1", True)),
        ("https://127.0.0.1/", "127.0.0.1", ("127.0.0.1", False)),  # an IP must equal the host
        ("https://127.0.0.1/", "0.0.1", None),
        ("https://127.0.0.1/", "1", None),
        ("https://127.0.0.1/", "127.0.0.2", None),
        ("https://example.com/", "127.0.0.1", None),
        ("https://[::1]/", None, ("::1", True)),
        ("https://[::1]/", "::1", ("::1", False)),
        ("https://[::1]/", "[::1]", ("::1", False)),
        ("https://[::1]/", "0:0::1", ("::1", False)),  # compared in canonical form
        ("https://[::1]/", "::2", None),
        ("https://[2001:db8::1]/", "db8::1", None),
        ("https://xn--bcher-kva.example/", "b\xfccher.example", ("xn--bcher-kva.example", False)),
        ("https://example.com/", "exa\xe9mple..com", None),  # no IDNA form: refused
        # A trailing dot (a fully qualified name) changes nothing of the rules above:
        ("https://evil.com./", "com.", None),  # one label, not the host
        ("https://evil.com./", ".com.", None),
        ("https://evil.com./", "com", None),
        ("https://a.evil.com./", "evil.com.", ("evil.com.", False)),
        ("https://evil.com./", None, ("evil.com.", True)),
        ("https://localhost./", "localhost.", ("localhost.", False)),  # the host itself
        ("https://example.com./", "example.com", None),  # "example.com" is another host
        ("https://127.0.0.1./", "0.0.1.", None),  # still an IP: must equal the host
        ("https://127.0.0.1./", "1.", None),
    ],
)
def test_domain_attribute(url: str, domain: str | None, stored: tuple[str, bool] | None) -> None:
    """§5.2.3 and §5.3 steps 4-6: the request host must domain-match the Domain attribute."""
    line = "a=1" if domain is None else f"a=1; Domain={domain}"
    jar = jar_from(url, line)
    assert [(c.domain, c.host_only) for c in jar.records()] == ([stored] if stored else [])


def test_a_trailing_dot_does_not_reach_a_top_level_domain() -> None:
    """Domain=com. from evil.com. is refused, so nothing reaches victim.com. (RFC 6265 §5.3)."""
    jar = jar_from("https://evil.com./", "a=1; Domain=com.", "b=2; Domain=.com.")
    assert jar.records() == []
    assert sent(jar, "https://victim.com./") is None
    assert sent(jar, "https://victim.com/") is None
    # set by hand with a trailing dot: one namespace with the dotted hosts, as a URL says
    jar.set("c", "3", domain="victim.com.")
    assert sent(jar, "https://www.victim.com./") == "c=3"
    assert sent(jar, "https://www.victim.com/") is None


@pytest.mark.parametrize(
    ("host", "domain", "matches"),
    [
        ("example.com", "example.com", True),
        ("www.example.com", "example.com", True),
        ("a.b.example.com", "example.com", True),
        ("example.com", "www.example.com", False),
        ("notexample.com", "example.com", False),
        ("example.com.evil", "example.com", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "0.0.1", False),  # IPs match only themselves
        ("::1", "::1", True),
        ("1::1", "::1", False),
        ("example.com", "", False),
    ],
)
def test_domain_matches(host: str, domain: str, matches: bool) -> None:
    """§5.1.3: equal, or a host name ending in "." + domain."""
    assert domain_matches(host, domain) is matches


@pytest.mark.parametrize(
    ("url", "sent_to"),
    [
        ("https://example.com/", True),
        ("https://www.example.com/", False),  # host-only: not to subdomains
        ("https://other.com/", False),
        ("https://ample.com/", False),
        ("https://com/", False),
    ],
)
def test_host_only_cookie_goes_to_its_host_alone(url: str, sent_to: bool) -> None:
    """§5.4: a cookie without Domain is sent to exactly the host that set it."""
    jar = jar_from("https://example.com/", "a=1")
    assert sent(jar, url) == ("a=1" if sent_to else None)


@pytest.mark.parametrize(
    ("url", "sent_to"),
    [
        ("https://example.com/", True),
        ("https://www.example.com/", True),
        ("https://a.b.example.com/", True),
        ("https://notexample.com/", False),
        ("https://example.com.evil/", False),
        ("https://com/", False),
        ("https://other.com/", False),
    ],
)
def test_domain_cookie_goes_to_the_domain_and_below(url: str, sent_to: bool) -> None:
    """§5.4: a Domain cookie is sent to that domain and all its subdomains."""
    jar = jar_from("https://www.example.com/", "a=1; Domain=example.com")
    assert sent(jar, url) == ("a=1" if sent_to else None)


@pytest.mark.parametrize(
    ("set_url", "url", "sent_to"),
    [
        ("https://127.0.0.1/", "https://127.0.0.1/", True),
        ("https://127.0.0.1/", "https://127.0.0.2/", False),
        ("https://127.0.0.1/", "https://127.0.0.1:8443/", True),  # ports don't matter (§1)
        ("https://[::1]/", "https://[::1]/", True),
        ("https://[::1]/", "https://[::2]/", False),
        ("https://[::1]/", "https://127.0.0.1/", False),
    ],
)
def test_ip_host_cookies(set_url: str, url: str, sent_to: bool) -> None:
    """Cookies set by IP hosts go back to that address only."""
    jar = jar_from(set_url, "a=1")
    assert sent(jar, url) == ("a=1" if sent_to else None)


def test_ip_host_gets_no_parent_domain_cookies() -> None:
    """An IPv4 host is not a name: "0.0.1" cookies are not its parent's."""
    jar = Cookies()
    jar.set("a", "1", domain="0.0.1")
    jar.set("b", "2", domain="1")
    assert sent(jar, "https://127.0.0.1/") is None


def test_host_only_and_domain_cookies_share_a_key() -> None:
    """§5.3 step 11: the key is (name, domain, path); a Domain cookie replaces a host-only one."""
    jar = jar_from("https://example.com/", "a=1", "a=2; Domain=example.com")
    cookie = only(jar)
    assert (cookie.value, cookie.host_only) == ("2", False)
    assert sent(jar, "https://www.example.com/") == "a=2"


def test_cookies_of_other_hosts_are_not_sent() -> None:
    """The domain index returns the host's and its parents' cookies, nothing else."""
    jar = Cookies()
    for host in ("a.example.com", "b.example.com", "example.com", "example.org", "a.com"):
        jar.extract(URL(f"https://{host}/"), [f"{host.split('.')[0]}=1"], now=NOW)
    jar.extract(URL("https://a.example.com/"), ["p=1; Domain=example.com"], now=NOW)
    assert sent(jar, "https://a.example.com/") == "a=1; p=1"
    assert sent(jar, "https://c.a.example.com/") == "p=1"
    assert sent(jar, "https://example.org/") == "example=1"


# ---------------------------------------------------------------- §5.1.4 paths


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        ("/", "/"),
        ("/a", "/"),
        ("/a/", "/a"),
        ("/a/b", "/a"),
        ("/a/b/", "/a/b"),
        ("/a/b/c", "/a/b"),
        ("", "/"),
        ("a/b", "/"),  # not starting with "/"
    ],
)
def test_default_path(request_path: str, expected: str) -> None:
    """§5.1.4: up to, not including, the last "/"; "/" when that leaves nothing."""
    assert default_path(request_path) == expected


@pytest.mark.parametrize(
    ("url", "attributes", "path"),
    [
        ("https://example.com/a/b/c?q=/x/y", "", "/a/b"),  # the query is not the path
        ("https://example.com", "", "/"),
        ("https://example.com/a/b", "; Path=/x", "/x"),
        ("https://example.com/a/b", "; Path=x", "/a"),  # not "/...": the default
        ("https://example.com/a/b", "; Path=", "/a"),
        ("https://example.com/a/b", "; Path=/", "/"),
        ("https://example.com/", "; Path=/A%20b/", "/A%20b/"),  # stored as sent
    ],
)
def test_cookie_path(url: str, attributes: str, path: str) -> None:
    """§5.2.4: the Path attribute when it starts with "/", else the default path."""
    assert only(jar_from(url, "a=1" + attributes)).path == path


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "matches"),
    [
        ("/a/b", "/a/b", True),
        ("/a/b", "/a/b/", True),
        ("/a/b", "/a/b/c", True),
        ("/a/b", "/a", False),
        ("/a/b", "/ab", False),
        ("/a/b", "/a/bc", False),
        ("/a/b", "/", False),
        ("/a/b", "/A/B", False),  # case-sensitive
        ("/a/", "/a/", True),
        ("/a/", "/a/x", True),
        ("/a/", "/a", False),
        ("/", "/", True),
        ("/", "/anything/at/all", True),
    ],
)
def test_path_matching(cookie_path: str, request_path: str, matches: bool) -> None:
    """§5.1.4: equal, or a prefix ending at a "/" of the request path."""
    assert path_matches(request_path, cookie_path) is matches
    jar = jar_from("https://example.com/", f"a=1; Path={cookie_path}")
    assert (sent(jar, "https://example.com" + request_path) == "a=1") is matches


# ---------------------------------------------------------------- Secure, prefixes


@pytest.mark.parametrize(("scheme", "sent_to"), [("https", True), ("http", False)])
def test_secure_cookie_only_over_https(scheme: str, sent_to: bool) -> None:
    """§5.4: a Secure cookie goes over https only."""
    jar = jar_from("https://example.com/", "a=1; Secure", "b=2")
    expected = "a=1; b=2" if sent_to else "b=2"
    assert sent(jar, f"{scheme}://example.com/") == expected


def test_http_response_cannot_set_a_secure_cookie() -> None:
    """RFC 6265bis §5.7: Secure from an http:// response is refused."""
    assert jar_from("http://example.com/", "a=1; Secure").is_empty


def test_http_response_cannot_overwrite_or_delete_a_secure_cookie() -> None:
    """RFC 6265bis §5.7 step 16: leave secure cookies alone from insecure origins."""
    jar = jar_from("https://www.example.com/", "a=1; Secure; Domain=example.com")
    for line in ("a=evil", "a=evil; Domain=example.com", "a=evil; Max-Age=0", "a=x; Path=/z"):
        jar.extract(URL("http://www.example.com/"), [line], now=NOW)
        jar.extract(URL("http://other.example.com/"), [line], now=NOW)
    assert [(c.name, c.value) for c in jar.records()] == [("a", "1")]


def test_http_response_may_set_unrelated_cookies_next_to_secure_ones() -> None:
    """The shadowing rule is about the same name on a related domain only."""
    jar = jar_from("https://example.com/", "a=1; Secure")
    jar.extract(URL("http://example.com/"), ["b=2"], now=NOW)
    jar.extract(URL("http://example.org/"), ["a=3"], now=NOW)
    assert sent(jar, "https://example.com/") == "a=1; b=2"
    assert sent(jar, "http://example.org/") == "a=3"


def test_https_response_replaces_a_secure_cookie() -> None:
    """A secure origin may replace its Secure cookie with a non-secure one."""
    jar = jar_from("https://example.com/", "a=1; Secure")
    jar.extract(URL("https://example.com/"), ["a=2"], now=NOW)
    assert sent(jar, "http://example.com/") == "a=2"


@pytest.mark.parametrize(
    ("url", "line", "stored"),
    [
        ("https://example.com/", "__Secure-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1", False),
        ("https://example.com/", "__secure-a=1", False),  # prefixes match case-insensitively
        ("http://example.com/", "__Secure-a=1; Secure", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/x/y", "__Host-a=1; Secure", False),  # default path "/x"
        ("https://example.com/", "__Host-a=1; Path=/", False),  # not Secure
        ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/x", False),
    ],
)
def test_cookie_name_prefixes(url: str, line: str, stored: bool) -> None:
    """RFC 6265bis §4.1.3: __Secure- needs Secure; __Host- also host-only and Path=/."""
    assert jar_from(url, line).is_empty is not stored


# ---------------------------------------------------------------- §5.4 order


def test_longer_paths_first_then_older() -> None:
    """§5.4 step 2: cookies with longer paths first; equal lengths by creation time."""
    jar = jar_from(
        "https://example.com/",
        "root=1; Path=/",
        "ab=2; Path=/a/b",
        "a=3; Path=/a",
        "cd=4; Path=/a/c",
        "first=5; Path=/a/b",
    )
    assert sent(jar, "https://example.com/a/b/c") == "ab=2; first=5; a=3; root=1"


def test_replacement_keeps_creation_order() -> None:
    """§5.3 step 11: a replaced cookie keeps the old one's creation time, so its place."""
    jar = jar_from("https://example.com/", "a=1", "b=2", "c=3")
    jar.extract(URL("https://example.com/"), ["a=new; HttpOnly"], now=NOW + 5)
    assert sent(jar, "https://example.com/") == "a=new; b=2; c=3"
    first = jar.records()[0]
    assert (first.name, first.value, first.http_only) == ("a", "new", True)


def test_deleted_and_set_again_goes_last() -> None:
    """A cookie deleted and then set again is a new cookie: the newest."""
    jar = jar_from("https://example.com/", "a=1", "b=2")
    jar.extract(URL("https://example.com/"), ["a=; Max-Age=0", "a=3"], now=NOW)
    assert sent(jar, "https://example.com/") == "b=2; a=3"


# ---------------------------------------------------------------- bounds


def test_per_domain_bound_evicts_the_oldest() -> None:
    """§6.1: at most 50 cookies per domain; the oldest goes first."""
    jar = jar_from("https://example.com/", *[f"c{i}=1" for i in range(MAX_COOKIES_PER_DOMAIN + 2)])
    names = [c.name for c in jar.records()]
    assert len(names) == MAX_COOKIES_PER_DOMAIN
    assert names[0] == "c2"
    assert names[-1] == f"c{MAX_COOKIES_PER_DOMAIN + 1}"


def test_per_domain_bound_evicts_expired_first() -> None:
    """Eviction drops expired cookies before live ones, however old."""
    lines = ["old=1", "short=1; Max-Age=10"] + [
        f"c{i}=1" for i in range(MAX_COOKIES_PER_DOMAIN - 2)
    ]
    jar = jar_from("https://example.com/", *lines)
    jar.extract(URL("https://example.com/"), ["new=1"], now=NOW + 20)
    names = [c.name for c in jar.records()]
    assert "short" not in names
    assert names[0] == "old"
    assert names[-1] == "new"


def test_replacing_at_the_bound_evicts_nothing() -> None:
    """A replacement is not a new cookie: a full domain stays as it is."""
    lines = [f"c{i}=1" for i in range(MAX_COOKIES_PER_DOMAIN)]
    jar = jar_from("https://example.com/", *lines)
    jar.extract(URL("https://example.com/"), ["c0=2"], now=NOW)
    assert [c.name for c in jar.records()] == [f"c{i}" for i in range(MAX_COOKIES_PER_DOMAIN)]


def test_total_bound_evicts_the_oldest() -> None:
    """§6.1: at most 3000 cookies in all; the oldest, whatever its domain, goes first."""
    jar = Cookies()
    per_host = 40
    hosts = MAX_COOKIES // per_host
    for h in range(hosts):
        jar.extract(URL(f"https://h{h}.example/"), [f"c{i}=1" for i in range(per_host)], now=NOW)
    assert len(jar.records()) == MAX_COOKIES
    jar.extract(URL("https://new.example/"), ["n=1"], now=NOW)
    records = jar.records()
    assert len(records) == MAX_COOKIES
    assert (records[0].domain, records[0].name) == ("h0.example", "c1")
    assert sent(jar, "https://h0.example/").startswith("c1=1; ")  # type: ignore[union-attr]
    assert sent(jar, "https://new.example/") == "n=1"


def test_total_bound_evicts_expired_first() -> None:
    """At the total bound, expired cookies of any domain go before live ones."""
    jar = Cookies()
    jar.extract(URL("https://short.example/"), ["s=1; Max-Age=10"], now=NOW)
    for h in range(MAX_COOKIES // 50):
        jar.extract(URL(f"https://h{h}.example/"), [f"c{i}=1" for i in range(50)], now=NOW)
    assert len(jar.records()) == MAX_COOKIES
    assert jar.records()[0].name == "c0"  # "s", alive and oldest, went at 3001
    jar.extract(URL("https://short.example/"), ["s=1; Max-Age=10"], now=NOW)
    jar.extract(URL("https://new.example/"), ["n=1"], now=NOW + 20)
    names = {(c.domain, c.name) for c in jar.records()}
    assert ("short.example", "s") not in names
    assert ("h0.example", "c1") in names  # the oldest live cookie survived
    assert ("new.example", "n") in names


# ---------------------------------------------------------------- robustness


_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "=",
        ";",
        " ",
        "\t",
        "1",
        "-",
        ".",
        "/",
        ":",
        "[",
        "]",
        "\x00",
        "\r",
        "\xe9",
        "\u0665",
        "\u212a",
        "__Host-",
        "__Secure-",
        "Domain",
        "Path",
        "Max-Age",
        "Expires",
        "Secure",
        "HttpOnly",
        "SameSite",
        "example.com",
        "www.example.com",
        "com",
        "::1",
        "127.0.0.1",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "99999999999999999999",
    ]
)
_LINES = st.lists(st.one_of(st.text(), st.lists(_PIECES, max_size=24).map("".join)), max_size=8)
_URLS = st.sampled_from(
    [
        "https://www.example.com/a/b",
        "http://www.example.com/",
        "https://example.com/",
        "http://127.0.0.1/x",
        "https://[::1]/",
        "https://com/",
    ]
)


@given(_URLS, _LINES, _URLS)
def test_arbitrary_set_cookie_values_never_raise(set_url: str, lines: list[str], url: str) -> None:
    """Any text is either a cookie or ignored; the header only holds stored pairs."""
    jar = Cookies()
    jar.extract(URL(set_url), lines, now=NOW)
    jar.extract(URL(url), lines, now=NOW + 1)
    stored = {f"{c.name}={c.value}" for c in jar.records()}
    for cookie in jar.records():
        assert cookie.name
        assert ";" not in cookie.name + cookie.value
        assert "=" not in cookie.name
        assert not any(ord(ch) < 0x20 and ch != "\t" for ch in cookie.name + cookie.value)
        assert cookie.path.startswith("/")
    header = jar.header_for(URL(url), now=NOW + 2)
    if header is not None:
        assert set(header.split("; ")) <= stored
    repr(jar)


def test_header_for_on_an_empty_jar_does_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty jar answers None without reading the clock."""

    def no_clock() -> float:
        raise AssertionError("the clock was read")

    monkeypatch.setattr(time, "time", no_clock)
    jar = Cookies()
    assert jar.is_empty
    assert jar.header_for(URL("https://example.com/")) is None


def test_is_empty_follows_the_contents() -> None:
    """is_empty turns False on the first cookie and True when the last goes."""
    jar = Cookies()
    jar.extract(URL("https://example.com/"), ["a=1"], now=NOW)
    assert not jar.is_empty
    jar.extract(URL("https://example.com/"), ["a=1; Max-Age=0"], now=NOW)
    assert jar.is_empty


def test_nothing_applies_gives_none() -> None:
    """header_for answers None, not "", when cookies exist but none applies."""
    jar = jar_from("https://example.com/", "a=1")
    assert sent(jar, "https://example.org/") is None


# ---------------------------------------------------------------- the mapping view


def test_set_by_hand_goes_to_every_host() -> None:
    """jar[name] = value makes a cookie with domain "" and path "/", sent everywhere."""
    jar = Cookies()
    jar["a"] = "1"
    cookie = only(jar)
    assert (cookie.domain, cookie.path, cookie.host_only, cookie.expires) == ("", "/", False, None)
    assert sent(jar, "http://example.com/x") == "a=1"
    assert sent(jar, "https://127.0.0.1/") == "a=1"
    assert sent(jar, "https://[::1]/") == "a=1"


def test_set_with_domain_and_path() -> None:
    """set(domain=...) acts like a Domain attribute: that host and its subdomains."""
    jar = Cookies()
    jar.set("a", "1", domain=".Example.com", path="/api")
    assert only(jar).domain == "example.com"
    assert sent(jar, "https://www.example.com/api/x") == "a=1"
    assert sent(jar, "https://www.example.com/other") is None
    assert sent(jar, "https://example.org/api") is None


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("", "1", ValueError),
        ("a=b", "1", ValueError),
        ("a;b", "1", ValueError),
        ("a\nb", "1", ValueError),
        ("a", "1;2", ValueError),
        ("a", "1\r\n", ValueError),
        ("a", 1, TypeError),
        (1, "a", TypeError),
    ],
)
def test_set_refuses_what_would_break_the_header(name: object, value: object, error: type) -> None:
    """Names and values that cannot travel in a Cookie field are refused up front."""
    with pytest.raises(error):
        Cookies().set(name, value)  # type: ignore[arg-type]


def test_set_refuses_a_relative_path() -> None:
    """A cookie path must start with "/" or it would never match."""
    with pytest.raises(ValueError, match="path"):
        Cookies().set("a", "1", path="x")


def test_getitem_and_keyerror() -> None:
    """jar[name] is the value; a missing name raises KeyError."""
    jar = Cookies({"a": "1"})
    assert jar["a"] == "1"
    with pytest.raises(KeyError):
        jar["b"]


def test_getitem_conflict() -> None:
    """jar[name] with cookies of that name for several domains raises CookieConflict."""
    jar = Cookies()
    jar.extract(URL("https://a.com/"), ["x=1"], now=time.time())
    jar.extract(URL("https://b.com/"), ["x=2"], now=time.time())
    with pytest.raises(CookieConflict, match="x") as info:
        jar["x"]
    assert info.value.name == "x"
    assert {c.domain for c in info.value.cookies} == {"a.com", "b.com"}
    assert isinstance(info.value, LookupError)
    assert not isinstance(info.value, KeyError)
    assert "x" in jar  # membership does not raise


def test_get_with_domain_and_path() -> None:
    """get() narrows by domain and path; it returns the default when nothing matches."""
    jar = Cookies()
    jar.set("x", "1", domain="a.com")
    jar.set("x", "2", domain="b.com")
    jar.set("x", "3", domain="b.com", path="/p")
    assert jar.get("x", domain="a.com") == "1"
    assert jar.get("x", domain=".B.com", path="/") == "2"
    assert jar.get("x", path="/p") == "3"
    assert jar.get("y") is None
    assert jar.get("y", "dflt") == "dflt"
    assert jar.get("x", domain="c.com") is None
    with pytest.raises(CookieConflict):
        jar.get("x", domain="b.com")


def test_mapping_view_hides_expired_cookies() -> None:
    """Expired cookies are absent from get, [], in, iteration and len."""
    jar = Cookies()
    jar.extract(URL("https://example.com/"), ["a=1; Max-Age=1", "b=2"], now=time.time() - 10)
    assert jar.get("a") is None
    assert "a" not in jar
    assert list(jar) == ["b"]
    assert len(jar) == 1
    with pytest.raises(KeyError):
        del jar["a"]
    assert [c.name for c in jar.records()] == ["b"]


def test_delete() -> None:
    """delete() removes every cookie of that name, or only the given domain/path's."""
    jar = Cookies()
    jar.set("x", "1", domain="a.com")
    jar.set("x", "2", domain="b.com")
    jar.set("x", "3", domain="b.com", path="/p")
    jar.set("y", "4")
    jar.delete("x", domain="b.com", path="/p")
    assert sorted(c.value for c in jar.records()) == ["1", "2", "4"]
    jar.delete("x", domain="b.com")
    assert sorted(c.value for c in jar.records()) == ["1", "4"]
    jar.delete("x")
    jar.delete("missing")  # no error
    assert list(jar) == ["y"]


def test_delitem() -> None:
    """Deleting jar[name] removes all cookies of that name; KeyError when there is none."""
    jar = Cookies()
    jar.set("x", "1", domain="a.com")
    jar.set("x", "2", domain="b.com")
    del jar["x"]
    assert jar.is_empty
    with pytest.raises(KeyError):
        del jar["x"]


def test_clear() -> None:
    """clear() empties the jar, or only one domain's or path's cookies."""
    jar = Cookies()
    jar.set("a", "1", domain="a.com")
    jar.set("b", "2", domain="a.com", path="/p")
    jar.set("c", "3", domain="b.com", path="/p")
    jar.set("d", "4")
    jar.clear(domain="a.com", path="/p")
    assert list(jar) == ["a", "c", "d"]
    jar.clear(path="/p")
    assert list(jar) == ["a", "d"]
    jar.clear(domain="")
    assert list(jar) == ["a"]
    jar.clear()
    assert jar.is_empty
    assert sent(jar, "https://a.com/") is None


def test_update() -> None:
    """update() takes a mapping, pairs, keywords or another jar (with its attributes)."""
    jar = Cookies({"a": "1"})
    jar.update({"b": "2"})
    jar.update([("c", "3")])
    jar.update(d="4")
    other = jar_from("https://example.com/", "e=5; Secure; Path=/p", "a=9; Domain=example.com")
    jar.update(other)
    assert list(jar) == ["a", "b", "c", "d", "e", "a"]
    e = jar.records()[4]
    assert (e.domain, e.path, e.secure, e.host_only) == ("example.com", "/p", True, True)
    assert jar.get("a", domain="") == "1"


def test_update_replaces_in_place() -> None:
    """A cookie with an existing key keeps its place when updated."""
    jar = Cookies([("a", "1"), ("b", "2")])
    jar.update({"a": "3"})
    assert list(jar.items()) == [("a", "3"), ("b", "2")]


def test_constructor_refuses_text() -> None:
    """Cookies("a=1") is a mistake, not a list of pairs."""
    with pytest.raises(TypeError, match="mapping"):
        Cookies("a=1")  # type: ignore[arg-type]


def test_mapping_protocol() -> None:
    """len, iteration in creation order, in, items, pop and setdefault work by name."""
    jar = Cookies({"a": "1", "b": "2"})
    assert len(jar) == 2
    assert list(jar) == ["a", "b"]
    assert "a" in jar
    assert "z" not in jar
    assert dict(jar.items()) == {"a": "1", "b": "2"}
    assert jar.pop("a") == "1"
    assert jar.setdefault("c", "3") == "3"
    assert dict(jar) == {"b": "2", "c": "3"}


def test_repr() -> None:
    """The repr lists each cookie with its domain (and path when not "/")."""
    jar = jar_from("https://example.com/", "a=1", "b=x y; Path=/p")
    jar["c"] = ""
    assert repr(jar) == (
        "<Cookies[<Cookie a=1 for example.com />, <Cookie b=x y for example.com/p />,"
        " <Cookie c= for any host />]>"
    )
    assert repr(Cookies()) == "<Cookies[]>"


def test_copy_is_independent() -> None:
    """Cookies(other) copies every cookie with its attributes; later changes don't leak."""
    original = jar_from(
        "https://www.example.com/a/b",
        "a=1; Domain=example.com; Secure; HttpOnly; SameSite=Strict; Max-Age=60",
        "b=2",
    )
    copy = Cookies(original)
    assert copy.records() == original.records()
    copy["c"] = "3"
    copy.extract(URL("https://www.example.com/a/"), ["a=; Domain=example.com; Max-Age=0"], now=NOW)
    original.extract(URL("https://www.example.com/a/"), ["d=4"], now=NOW)
    assert [c.name for c in original.records()] == ["a", "b", "d"]
    assert [c.name for c in copy.records()] == ["b", "c"]
    assert sent(copy, "https://www.example.com/a/x") == "b=2; c=3"


def test_copy_keeps_order_for_new_cookies() -> None:
    """A copy's new cookies come after the copied ones in sending order."""
    copy = Cookies(jar_from("https://example.com/", "a=1"))
    copy.extract(URL("https://example.com/"), ["b=2"], now=NOW)
    assert sent(copy, "https://example.com/") == "a=1; b=2"
