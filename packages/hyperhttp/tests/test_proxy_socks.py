"""SOCKS proxy URLs: ``socks5://``, ``socks5h://``, ``socks4://``, ``socks4a://`` (``_proxy``).

Port 1080 by default; credentials checked per version (RFC 1929 §2: SOCKS5
takes a user name and a password, 1-255 bytes each; SOCKS4 a user name
only); never shown; a proxy's kind and credentials are part of its identity
(the pool keys connections by origin and proxy).
"""

from __future__ import annotations

import pytest

import hyperhttp
from hyperhttp._proxy import Proxy, ProxySelector


@pytest.mark.parametrize(
    ("url", "shown", "port"),
    [
        ("socks5://127.0.0.1", "socks5://127.0.0.1:1080", 1080),
        ("SOCKS5H://u:p@h.test:9050", "socks5h://u:***@h.test:9050", 9050),
        ("socks4://alice@[::1]:1081", "socks4://alice@[::1]:1081", 1081),
        ("socks4a://h.test", "socks4a://h.test:1080", 1080),
    ],
)
def test_socks_urls_parse_with_1080_as_the_default_port(url: str, shown: str, port: int) -> None:
    proxy = Proxy.parse(url)
    assert proxy.is_socks
    assert proxy.origin[2] == port
    assert str(proxy) == shown
    assert proxy.auth_header is None  # nothing for an HTTP field


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("socks5://user@127.0.0.1", "user name and a password together"),
        ("socks5://:pw@127.0.0.1", "user name and a password together"),
        ("socks4://u:pw@127.0.0.1", "no password"),
        ("socks6://127.0.0.1", "unsupported proxy scheme"),
        ("https://127.0.0.1", "unsupported proxy scheme"),
        (f"socks5://{'u' * 256}:p@127.0.0.1", "1-255 bytes"),
    ],
)
def test_bad_socks_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(hyperhttp.InvalidURL, match=message):
        Proxy.parse(url)


def test_proxies_differ_by_kind_and_credentials_so_the_pool_keeps_them_apart() -> None:
    assert Proxy.parse("socks5://127.0.0.1:1080") != Proxy.parse("socks5h://127.0.0.1:1080")
    assert Proxy.parse("socks5://a:b@127.0.0.1") != Proxy.parse("socks5://a:c@127.0.0.1")
    assert Proxy.parse("socks5://a:b@127.0.0.1") == Proxy.parse("socks5://a:b@127.0.0.1:1080")
    assert Proxy.parse("http://127.0.0.1:1080") != Proxy.parse("socks5://127.0.0.1:1080")


def test_all_proxy_may_be_socks_and_https_proxy_too() -> None:
    selector = ProxySelector(
        None,
        trust_env=True,
        environ={"ALL_PROXY": "socks5h://127.0.0.1:9050", "https_proxy": "socks4a://127.0.0.1"},
    )
    assert selector.http_proxy is not None
    assert str(selector.http_proxy) == "socks5h://127.0.0.1:9050"
    assert selector.https_proxy is not None
    assert selector.https_proxy.scheme == "socks4a"


def test_a_password_is_never_shown() -> None:
    proxy = Proxy.parse("socks5://user:hunter2@127.0.0.1")
    for shown in (str(proxy), repr(proxy), repr(ProxySelector(proxy))):
        assert "hunter2" not in shown
    assert proxy.socks_credentials() == ("user", "hunter2")
