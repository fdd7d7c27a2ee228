"""``proxy="socks5://..."``: SOCKS4, 4a, 5 and 5h through Debian's dante and a scripted proxy.

dante (tests/servers/dante.py) is the real peer: SOCKS5 with and without
RFC 1929 authentication, SOCKS4, names resolved here (``socks5``) or by the
proxy (``socks5h``), HTTP/1.1 and, inside the tunnel, TLS with ALPN to
HTTP/2. dante 1.4.2 does not speak SOCKS4A: the scripted server
(tests/servers/socks_scripted.py) relays it, and plays every refusal and
every broken reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from hyperhttp._pool_transport import PoolTransport

from tests.servers.routes import TraceRecorder
from tests.servers.socks_scripted import Step, socks4_reply, socks5_reply

if TYPE_CHECKING:
    from tests.servers.dante import Dante
    from tests.servers.fixtures import H2Server, TLSSetup, WebServer
    from tests.servers.socks_scripted import ScriptedSocks

pytestmark = pytest.mark.asyncio


def socks_url(server: Any, scheme: str = "socks5", *, password: str | None = None) -> str:
    user = ""
    if getattr(server, "username", None):
        user = f"{server.username}:{password or server.password}@"
    return f"{scheme}://{user}{server.host}:{server.port}"


# ---------------------------------------------------------------- dante


@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4"])
async def test_http_through_dante(scheme: str, dante: Dante, web_server: WebServer) -> None:
    trace = TraceRecorder()
    async with hyperhttp.Client(proxy=socks_url(dante, scheme), trace=trace) as client:
        url = web_server.url.replace("127.0.0.1", "localhost") + "/echo"
        response = await client.post(url, content=b"through the tunnel")
        assert response.status_code == 200
        assert response.json()["body"] == "through the tunnel"
        assert response.json()["raw_path"] == "/echo"  # origin-form: a SOCKS proxy sees no request
        again = await client.get(web_server.url + "/size/10")
        assert again.status_code == 200
    assert "proxy.connect" in trace.names()


async def test_username_and_password_through_dante(
    dante_auth: Dante, web_server: WebServer
) -> None:
    async with hyperhttp.Client(proxy=socks_url(dante_auth)) as client:
        assert (await client.get(web_server.url + "/size/10")).status_code == 200
    wrong = socks_url(dante_auth, password="wrong")  # noqa: S106 - a wrong one on purpose
    async with hyperhttp.Client(proxy=wrong) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get(web_server.url + "/size/10")
    assert caught.value.auth_failed
    assert caught.value.version == 5
    assert "wrong" not in str(caught.value)
    assert isinstance(caught.value, hyperhttp.ProxyError)


async def test_no_credentials_where_dante_wants_them(
    dante_auth: Dante, web_server: WebServer
) -> None:
    async with hyperhttp.Client(proxy=f"socks5://{dante_auth.host}:{dante_auth.port}") as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get(web_server.url + "/size/10")
    assert caught.value.reply_code == 0xFF  # no acceptable methods


async def test_dante_refuses_a_destination_its_rules_block(dante: Dante) -> None:
    async with hyperhttp.Client(proxy=socks_url(dante, "socks5h")) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get("http://192.0.2.1:9/")  # TEST-NET-1: dante's rules refuse it
    assert caught.value.reply_code == 0x02  # not allowed by ruleset
    assert "not allowed" in str(caught.value)


async def test_https_and_http2_inside_the_tunnel(
    dante: Dante, tls: TLSSetup, h2_server: H2Server, tls_server: WebServer
) -> None:
    async with hyperhttp.Client(proxy=socks_url(dante, "socks5h"), verify=tls.ca_path) as client:
        response = await client.get(h2_server.url + "/size/200")
        assert response.http_version == "HTTP/2"
        assert len(response.content) == 200
        responses = [await client.get(h2_server.url + "/size/10") for _ in range(3)]
        assert {r.status_code for r in responses} == {200}
        assert client.pool_stats().idle == 1  # one HTTP/2 connection through the tunnel
        response = await client.get(tls_server.url + "/size/10")
        assert response.http_version == "HTTP/1.1"


async def test_all_proxy_from_the_environment(
    dante: Dante, web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", socks_url(dante, "socks5h"))
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    trace = TraceRecorder()
    async with hyperhttp.Client(trace=trace) as client:
        assert (await client.get(web_server.url + "/size/10")).status_code == 200
    assert "proxy.connect" in trace.names()


# ---------------------------------------------------------------- scripted


async def test_socks4a_sends_the_name_and_the_proxy_relays(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    socks_scripted.script(socks4_reply(90), then="relay", relay_to=("127.0.0.1", web_server.port))
    proxy = f"socks4a://alice@{socks_scripted.host}:{socks_scripted.port}"
    async with hyperhttp.Client(proxy=proxy) as client:
        response = await client.get(f"http://localhost:{web_server.port}/size/10")
    assert response.status_code == 200
    assert socks_scripted.requested == [("localhost", web_server.port)]
    assert b"alice\x00localhost\x00" in socks_scripted.received[0][0]


async def test_socks5_resolves_here_and_sends_an_address(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    socks_scripted.script(b"\x05\x00", socks5_reply(0), then="relay")
    async with hyperhttp.Client(proxy=socks_url(socks_scripted, "socks5")) as client:
        response = await client.get(f"http://localhost:{web_server.port}/size/10")
    assert response.status_code == 200
    assert socks_scripted.requested == [("127.0.0.1", web_server.port)]  # IPv4 first


SOCKS5_CODES = {
    0x01: "general",
    0x02: "not allowed",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "refused",
    0x06: "TTL",
    0x07: "command not supported",
    0x08: "address type not supported",
    0x2A: "unassigned",
}


@pytest.mark.parametrize("code", sorted(SOCKS5_CODES))
async def test_every_socks5_reply_code_is_a_typed_error(
    code: int, socks_scripted: ScriptedSocks
) -> None:
    socks_scripted.script(b"\x05\x00", socks5_reply(code))
    async with hyperhttp.Client(proxy=socks_url(socks_scripted, "socks5h")) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get("http://example.test/")
    error = caught.value
    assert error.reply_code == code
    assert error.version == 5
    assert SOCKS5_CODES[code].lower() in str(error).lower()
    assert f"{socks_scripted.host}:{socks_scripted.port}" in str(error)  # names the proxy
    assert error.request is not None


@pytest.mark.parametrize("code", [91, 92, 93])
async def test_every_socks4_refusal_is_a_typed_error(
    code: int, socks_scripted: ScriptedSocks
) -> None:
    socks_scripted.script(socks4_reply(code))
    async with hyperhttp.Client(proxy=socks_url(socks_scripted, "socks4a")) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get("http://example.test/")
    assert caught.value.reply_code == code
    assert caught.value.version == 4


async def test_a_rejected_password_is_auth_failed_and_never_shown(
    socks_scripted: ScriptedSocks,
) -> None:
    socks_scripted.script(b"\x05\x02", b"\x01\x01")
    proxy = f"socks5h://bob:s3cr%40t@{socks_scripted.host}:{socks_scripted.port}"
    async with hyperhttp.Client(proxy=proxy) as client:
        with pytest.raises(hyperhttp.SocksError) as caught:
            await client.get("http://example.test/")
    assert caught.value.auth_failed
    assert socks_scripted.received[0][1] == b"\x01\x03bob\x06s3cr@t"  # RFC 1929, decoded
    network = client._network
    assert isinstance(network, PoolTransport)
    for shown in (str(caught.value), repr(caught.value), repr(network.proxies)):
        assert "s3cr" not in shown


@pytest.mark.parametrize(
    "script",
    [
        (b"\x05",),  # half a method selection, then close
        (b"\x05\x00", b"\x05\x00\x00\x01\x7f"),  # a cut reply
        (b"\x04\x00",),  # the wrong version
        (b"\x05\x00", socks5_reply(0, reserved=1)),  # the reserved byte set
        (b"\x05\x00", socks5_reply(0)[:3] + b"\x09"),  # an unknown address type
        (b"\x05\x00", socks5_reply(0) + b"HTTP/1.1 200 OK\r\n"),  # talks before we do
    ],
)
async def test_a_broken_handshake_is_a_socks_error_and_nothing_is_pooled(
    script: tuple[bytes, ...], socks_scripted: ScriptedSocks
) -> None:
    socks_scripted.script(*script)
    async with hyperhttp.Client(proxy=socks_url(socks_scripted, "socks5h")) as client:
        with pytest.raises(hyperhttp.SocksError):
            await client.get("http://example.test/")
        stats = client.pool_stats()
        assert stats.idle == 0
        assert stats.in_use == 0


async def test_a_silent_proxy_is_a_connect_timeout(socks_scripted: ScriptedSocks) -> None:
    socks_scripted.script(Step(b"", read=True), then="hold")
    timeout = hyperhttp.Timeout(5.0, connect=0.2)
    proxy = socks_url(socks_scripted, "socks5h")
    async with hyperhttp.Client(proxy=proxy, timeout=timeout) as client:
        with pytest.raises(hyperhttp.ConnectTimeout, match="through socks5h://"):
            await client.get("http://example.test/")


async def test_an_unreachable_proxy_is_a_connect_error() -> None:
    async with hyperhttp.Client(proxy="socks5://127.0.0.1:1") as client:
        with pytest.raises(hyperhttp.ConnectError, match=r"through socks5://127\.0\.0\.1:1"):
            await client.get("http://127.0.0.1:9/")


async def test_socks4_needs_an_ipv4_address(socks_scripted: ScriptedSocks) -> None:
    async with hyperhttp.Client(proxy=socks_url(socks_scripted, "socks4")) as client:
        with pytest.raises(hyperhttp.SocksError, match="IPv4"):
            await client.get("http://[::1]:8080/")
    assert socks_scripted.connections == 0
