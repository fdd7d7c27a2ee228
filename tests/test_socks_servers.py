"""The SOCKS test servers (tests/servers/dante.py, socks_scripted.py), driven by the codec.

Only ``hyperhttp._socks.SocksHandshake`` and plain asyncio streams are used
(not the client): through danted, with and without RFC 1929 authentication,
a plain HTTP/1.1 request reaches the aiohttp test server; the scripted server
answers with each kind of refusal and broken reply, and every one comes out
as the right SocksError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import TYPE_CHECKING, Any

import pytest
from hyperhttp import SocksError
from hyperhttp._socks import SocksHandshake, SocksKind

from tests.servers.socks_scripted import Step, socks4_reply, socks5_reply

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.dante import Dante
    from tests.servers.fixtures import WebServer
    from tests.servers.socks_scripted import ScriptedSocks

pytestmark = pytest.mark.asyncio

TIMEOUT = 10.0
READ_SIZE = 65536

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


# ------------------------------------------------------------------ helpers


@contextlib.asynccontextmanager
async def _tunnel(host: str, port: int, hs: SocksHandshake) -> AsyncIterator[Connection]:
    """Connect to the proxy and run the handshake; yield the streams of the tunnel."""
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(TIMEOUT):
            writer.write(hs.start())
            while not hs.done:
                # b"" at the end of the stream: feed() reports the close as SocksError.
                out = hs.feed(await reader.read(READ_SIZE))
                if out:
                    writer.write(out)
        assert hs.trailing == b""
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _get(connection: Connection, port: int, path: str = "/echo") -> tuple[int, bytes]:
    """Send GET ``path`` with Connection: close through the tunnel; return status and body."""
    reader, writer = connection
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    async with asyncio.timeout(TIMEOUT):
        response = await reader.read(-1)
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


async def _socks_get(
    proxy: Dante | ScriptedSocks, web_server: WebServer, hs: SocksHandshake
) -> dict[str, Any]:
    async with _tunnel(proxy.host, proxy.port, hs) as connection:
        status, body = await _get(connection, web_server.port)
    assert status == 200
    echoed: dict[str, Any] = json.loads(body)
    return echoed


async def _refused(proxy: Dante | ScriptedSocks, hs: SocksHandshake) -> SocksError:
    """Run a handshake that must fail; return its SocksError."""
    with pytest.raises(SocksError) as caught:
        async with _tunnel(proxy.host, proxy.port, hs):
            pass
    return caught.value


# ------------------------------------------------------------------ dante


@pytest.mark.parametrize(
    ("kind", "host"),
    [
        ("socks5", "127.0.0.1"),
        ("socks5h", "localhost"),
        ("socks5h", "127.0.0.1"),
        ("socks4", "127.0.0.1"),
        ("socks4a", "127.0.0.1"),  # an IP literal: sent as plain SOCKS4
    ],
)
async def test_dante_tunnels_to_the_web_server(
    dante: Dante, web_server: WebServer, kind: SocksKind, host: str
) -> None:
    """Through danted without authentication, each kind reaches the aiohttp server: 200."""
    hs = SocksHandshake(kind, host, web_server.port)
    echoed = await _socks_get(dante, web_server, hs)
    assert echoed["method"] == "GET"
    assert echoed["path"] == "/echo"
    assert hs.bound is not None
    assert hs.bound[0] == "127.0.0.1"


async def test_dante_passes_a_socks4_userid(dante: Dante, web_server: WebServer) -> None:
    """A SOCKS4 USERID is accepted by dante (it has no identd check configured)."""
    hs = SocksHandshake("socks4", "127.0.0.1", web_server.port, "someone")
    await _socks_get(dante, web_server, hs)


async def test_dante_does_not_speak_socks4a(dante: Dante, web_server: WebServer) -> None:
    """Dante 1.4 takes a SOCKS4A request for 0.0.0.1 (blocked: reply 91), not the name."""
    hs = SocksHandshake("socks4a", "localhost", web_server.port)
    error = await _refused(dante, hs)
    assert (error.version, error.reply_code) == (4, 91)
    assert "request rejected or failed" in str(error)


async def test_dante_refused_destination_is_reply_5(dante: Dante, web_server: WebServer) -> None:
    """A loopback port nobody listens on: dante answers 0x05 connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    error = await _refused(dante, SocksHandshake("socks5", "127.0.0.1", closed_port))
    assert (error.version, error.reply_code) == (5, 0x05)
    assert "connection refused" in str(error)


async def test_dante_blocks_what_its_rules_do_not_pass(dante: Dante) -> None:
    """A destination outside 127.0.0.0/8 is refused by the ruleset (0x02), nothing is sent out."""
    hs = SocksHandshake("socks5", "192.0.2.1", 80)  # TEST-NET-1
    error = await _refused(dante, hs)
    assert (error.version, error.reply_code) == (5, 0x02)
    assert "not allowed by ruleset" in str(error)


async def test_dante_without_auth_refuses_credentials(dante: Dante) -> None:
    """Only username/password offered to a no-auth dante: 0xFF, no acceptable methods."""
    hs = SocksHandshake("socks5", "127.0.0.1", 80, "someone", "secret")
    error = await _refused(dante, hs)
    assert error.reply_code == 0xFF
    assert not error.auth_failed


@pytest.mark.parametrize(("kind", "host"), [("socks5", "127.0.0.1"), ("socks5h", "localhost")])
async def test_dante_auth_tunnels_with_the_password(
    dante_auth: Dante, web_server: WebServer, kind: SocksKind, host: str
) -> None:
    """With the test user's name and password, danted tunnels to the aiohttp server."""
    assert dante_auth.username is not None
    assert dante_auth.password is not None
    hs = SocksHandshake(kind, host, web_server.port, dante_auth.username, dante_auth.password)
    echoed = await _socks_get(dante_auth, web_server, hs)
    assert echoed["path"] == "/echo"


async def test_dante_auth_rejects_a_wrong_password(dante_auth: Dante) -> None:
    """A wrong password: RFC 1929 failure, auth_failed, no reply code, password not shown."""
    assert dante_auth.username is not None
    hs = SocksHandshake("socks5", "127.0.0.1", 80, dante_auth.username, "not-the-password")
    error = await _refused(dante_auth, hs)
    assert error.auth_failed
    assert error.reply_code is None
    assert "not-the-password" not in str(error)


async def test_dante_auth_refuses_no_credentials(dante_auth: Dante) -> None:
    """Without credentials only "no authentication" is offered: 0xFF."""
    error = await _refused(dante_auth, SocksHandshake("socks5", "127.0.0.1", 80))
    assert error.reply_code == 0xFF


async def test_dante_auth_refuses_socks4(dante_auth: Dante) -> None:
    """SOCKS4 has no password: the username-only dante refuses it (91)."""
    error = await _refused(dante_auth, SocksHandshake("socks4", "127.0.0.1", 80))
    assert (error.version, error.reply_code) == (4, 91)


async def test_dante_logs_to_its_own_folder(dante: Dante) -> None:
    """Danted writes its log into the fixture's temporary folder, not the system's."""
    assert dante.log.exists()
    assert "running" in dante.log.read_text()
    assert dante.process.poll() is None


# ------------------------------------------------------------------ the scripted server

OK5 = socks5_reply(0x00, "127.0.0.1", 1080)

# name -> (kind, username, password, script steps, reply_code, auth_failed, words)
SCRIPTED_FAILURES: dict[
    str, tuple[SocksKind, str | None, str | None, list[bytes | Step], int | None, bool, str]
] = {
    **{
        f"socks5 reply 0x{code:02X}": (
            "socks5",
            None,
            None,
            [b"\x05\x00", socks5_reply(code)],
            code,
            False,
            name,
        )
        for code, name in [
            (0x01, "general SOCKS server failure"),
            (0x02, "connection not allowed by ruleset"),
            (0x03, "network unreachable"),
            (0x04, "host unreachable"),
            (0x05, "connection refused"),
            (0x06, "TTL expired"),
            (0x07, "command not supported"),
            (0x08, "address type not supported"),
            (0x2A, "unassigned reply code"),
        ]
    },
    "method 0xFF": ("socks5", None, None, [b"\x05\xff"], 0xFF, False, "no acceptable methods"),
    "RFC 1929 failure": (
        "socks5",
        "alice",
        "wonderland",
        [b"\x05\x02", b"\x01\x01"],
        None,
        True,
        "rejected the user name 'alice'",
    ),
    **{
        f"socks4 reply {code}": ("socks4", None, None, [socks4_reply(code)], code, False, name)
        for code, name in [
            (91, "request rejected or failed"),
            (92, "cannot connect to identd"),
            (93, "different user-ids"),
        ]
    },
    "truncated reply, then close": (
        "socks5",
        None,
        None,
        [b"\x05\x00", OK5[:6]],
        None,
        False,
        "closed the connection (waiting for the SOCKS5 reply, 6 bytes",
    ),
    "no reply, close": ("socks5", None, None, [b""], None, False, "closed the connection"),
    "garbage": (
        "socks5",
        None,
        None,
        [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
        None,
        False,
        "version byte 0x48",
    ),
    "reserved byte": (
        "socks5",
        None,
        None,
        [b"\x05\x00", socks5_reply(reserved=0x01)],
        None,
        False,
        "reserved byte 0x01",
    ),
    "method selection and more in one write": (
        "socks5",
        None,
        None,
        [b"\x05\x00" + OK5],
        None,
        False,
        "bytes too many",
    ),
    "SOCKS4 reply to SOCKS5": ("socks5", None, None, [socks4_reply(90)], None, False, "0x00"),
    "the server speaks first": (
        "socks5",
        None,
        None,
        [Step(b"\x05\x00\x05\x00", read=False)],
        None,
        False,
        "bytes too many",
    ),
}


@pytest.mark.parametrize("name", sorted(SCRIPTED_FAILURES))
async def test_scripted_failure_is_the_right_socks_error(
    socks_scripted: ScriptedSocks, name: str
) -> None:
    """Each scripted refusal or broken reply comes out as SocksError with its code."""
    kind, user, password, steps, code, auth_failed, words = SCRIPTED_FAILURES[name]
    socks_scripted.script(*steps)
    hs = SocksHandshake(kind, "127.0.0.1", 80, user, password)
    error = await _refused(socks_scripted, hs)
    assert error.reply_code == code
    assert error.auth_failed is auth_failed
    assert words in str(error)
    if password is not None:
        assert password not in str(error)


async def test_scripted_over_long_reply_leaves_trailing_bytes(
    socks_scripted: ScriptedSocks,
) -> None:
    """A granted reply with bytes after it: the codec hands them back as trailing."""
    socks_scripted.script(b"\x05\x00", OK5 + b"\x00junk")
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    reader, writer = await asyncio.open_connection(socks_scripted.host, socks_scripted.port)
    try:
        writer.write(hs.start())
        async with asyncio.timeout(TIMEOUT):
            while not hs.done:
                data = await reader.read(READ_SIZE)
                out = hs.feed(data)
                if out:
                    writer.write(out)
        assert hs.trailing == b"\x00junk"
        assert hs.bound == ("127.0.0.1", 1080)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_scripted_server_records_what_it_received(socks_scripted: ScriptedSocks) -> None:
    """The server records the greeting, the RFC 1929 request and the CONNECT request."""
    socks_scripted.script(b"\x05\x02", b"\x01\x01")
    hs = SocksHandshake("socks5h", "example.test", 8443, "alice", "wonderland")
    await _refused(socks_scripted, hs)
    assert socks_scripted.received == [[b"\x05\x01\x02", b"\x01\x05alice\x0awonderland"]]
    socks_scripted.script(b"\x05\x00", socks5_reply(0x05))
    await _refused(socks_scripted, SocksHandshake("socks5h", "example.test", 8443))
    assert socks_scripted.received[1] == [
        b"\x05\x01\x00",
        b"\x05\x01\x00\x03\x0cexample.test\x20\xfb",
    ]
    assert socks_scripted.requested == [("example.test", 8443)]
    assert socks_scripted.connections == 2


async def test_scripted_relay_reaches_the_web_server(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    """A correct reply, then a relay to the requested destination: HTTP goes through, 200."""
    socks_scripted.script(b"\x05\x00", OK5, then="relay")
    hs = SocksHandshake("socks5", "127.0.0.1", web_server.port)
    echoed = await _socks_get(socks_scripted, web_server, hs)
    assert echoed["path"] == "/echo"
    assert socks_scripted.relayed == [("127.0.0.1", web_server.port)]


async def test_scripted_socks4a_relay_to_a_fixed_target(
    socks_scripted: ScriptedSocks, web_server: WebServer
) -> None:
    """SOCKS4A with a name, relayed to the target the script names."""
    socks_scripted.script(socks4_reply(90), then="relay", relay_to=("127.0.0.1", web_server.port))
    hs = SocksHandshake("socks4a", "origin.test", 80, "bob")
    await _socks_get(socks_scripted, web_server, hs)
    assert socks_scripted.received == [[b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00origin.test\x00"]]
    assert socks_scripted.requested == [("origin.test", 80)]


async def test_scripted_hold_and_delay_leave_the_client_waiting(
    socks_scripted: ScriptedSocks,
) -> None:
    """``hold`` keeps a silent connection open; a delayed step sends late: timeouts are testable."""
    socks_scripted.script(Step(b"\x05\x00", delay=0.2), then="hold")
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    reader, writer = await asyncio.open_connection(socks_scripted.host, socks_scripted.port)
    try:
        writer.write(hs.start())
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await reader.read(READ_SIZE)
        writer.write(hs.feed(await reader.read(READ_SIZE)))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await reader.read(READ_SIZE)
        assert not hs.done
    finally:
        writer.close()
        await writer.wait_closed()


async def test_scripted_server_records_and_drops_a_non_socks_client(
    socks_scripted: ScriptedSocks,
) -> None:
    """A first byte that starts no SOCKS message is recorded and the connection closed."""
    socks_scripted.script(b"\x05\x00")
    reader, writer = await asyncio.open_connection(socks_scripted.host, socks_scripted.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        async with asyncio.timeout(TIMEOUT):
            assert await reader.read(READ_SIZE) == b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    assert socks_scripted.received == [[b"G"]]
    assert socks_scripted.requested == []
