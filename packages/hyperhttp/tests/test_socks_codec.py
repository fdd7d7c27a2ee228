"""The SOCKS client handshake, sans-IO (``_socks.SocksHandshake``): bytes in, bytes out.

Every exchange is also fed split at every byte boundary and one byte at a
time: what is sent, the outcome and the error must not depend on where the
network cut the proxy's replies. Hypothesis feeds garbage and random valid
replies: only SocksError ever comes out, and the buffer stays bounded.
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp import ProxyError, SocksError
from hyperhttp._socks import MAX_REPLY_SIZE, SocksHandshake, SocksKind

PASSWORD = "pa55-w0rd-never-shown"  # noqa: S105 - a test value
OK5 = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"  # granted, bound 127.0.0.1:8080
OK4 = b"\x00\x5a\x1f\x90\x7f\x00\x00\x01"  # SOCKS4 granted, 127.0.0.1:8080


def _exchange(hs: SocksHandshake, replies: list[bytes], pieces: int | None = None) -> list[bytes]:
    """Run a handshake: start, then each reply in pieces; return every non-empty send.

    ``pieces``: None feeds each reply whole; an int cuts each reply there.
    """
    sent = [hs.start()]
    for reply in replies:
        chunks = [reply] if pieces is None else [reply[:pieces], reply[pieces:]]
        for chunk in chunks:
            if chunk:
                out = hs.feed(chunk)
                if out:
                    sent.append(out)
    return sent


def _done(hs: SocksHandshake) -> bool:
    """``hs.done``, read through a call (mypy narrows a property read twice)."""
    return hs.done


def _each_byte(hs: SocksHandshake, replies: list[bytes]) -> list[bytes]:
    sent = [hs.start()]
    for reply in replies:
        for i in range(len(reply)):
            out = hs.feed(reply[i : i + 1])
            if out:
                sent.append(out)
    return sent


# --------------------------------------------------------------- successful exchanges

# name -> (kind, host, port, username, password, replies, expected sends, bound)
EXCHANGES: dict[
    str,
    tuple[
        SocksKind,
        str,
        int,
        str | None,
        str | None,
        list[bytes],
        list[bytes],
        tuple[str, int],
    ],
] = {
    "socks5 IPv4, no auth": (
        "socks5",
        "127.0.0.1",
        80,
        None,
        None,
        [b"\x05\x00", OK5],
        [b"\x05\x01\x00", b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"],
        ("127.0.0.1", 8080),
    ),
    "socks5 IPv6": (
        "socks5",
        "::1",
        443,
        None,
        None,
        [b"\x05\x00", b"\x05\x00\x00\x04" + bytes(15) + b"\x01\x01\xbb"],
        [b"\x05\x01\x00", b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x01\xbb"],
        ("::1", 443),
    ),
    "socks5 bracketed IPv6": (
        "socks5",
        "[2001:db8::2]",
        8443,
        None,
        None,
        [b"\x05\x00", OK5],
        [
            b"\x05\x01\x00",
            b"\x05\x01\x00\x04" + ipaddress.IPv6Address("2001:db8::2").packed + b"\x20\xfb",
        ],
        ("127.0.0.1", 8080),
    ),
    "socks5h name": (
        "socks5h",
        "example.com",
        443,
        None,
        None,
        [b"\x05\x00", b"\x05\x00\x00\x03\x09localhost\x00\x01"],
        [b"\x05\x01\x00", b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"],
        ("localhost", 1),
    ),
    "socks5h IP literal is sent as an address": (
        "socks5h",
        "10.1.2.3",
        80,
        None,
        None,
        [b"\x05\x00", OK5],
        [b"\x05\x01\x00", b"\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50"],
        ("127.0.0.1", 8080),
    ),
    "socks5h IDNA name": (
        "socks5h",
        "b\u00fccher.example",
        80,
        None,
        None,
        [b"\x05\x00", OK5],
        [b"\x05\x01\x00", b"\x05\x01\x00\x03\x15xn--bcher-kva.example\x00\x50"],
        ("127.0.0.1", 8080),
    ),
    "socks5 username/password": (
        "socks5",
        "127.0.0.1",
        80,
        "alice",
        PASSWORD,
        [b"\x05\x02", b"\x01\x00", OK5],
        [
            b"\x05\x01\x02",
            b"\x01\x05alice" + bytes((len(PASSWORD),)) + PASSWORD.encode(),
            b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50",
        ],
        ("127.0.0.1", 8080),
    ),
    "socks5h UTF-8 credentials": (
        "socks5h",
        "localhost",
        80,
        "\u00e9l\u00e8ve",
        "\u2603",
        [b"\x05\x02", b"\x01\x00", OK5],
        [
            b"\x05\x01\x02",
            b"\x01\x07" + "\u00e9l\u00e8ve".encode() + b"\x03" + "\u2603".encode(),
            b"\x05\x01\x00\x03\x09localhost\x00\x50",
        ],
        ("127.0.0.1", 8080),
    ),
    "socks4": (
        "socks4",
        "127.0.0.1",
        80,
        None,
        None,
        [OK4],
        [b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00"],
        ("127.0.0.1", 8080),
    ),
    "socks4 with USERID": (
        "socks4",
        "192.0.2.7",
        8080,
        "bob",
        None,
        [OK4],
        [b"\x04\x01\x1f\x90\xc0\x00\x02\x07bob\x00"],
        ("127.0.0.1", 8080),
    ),
    "socks4a name": (
        "socks4a",
        "localhost",
        80,
        "bob",
        None,
        [b"\x00\x5a\x00\x00\x00\x00\x00\x00"],
        [b"\x04\x01\x00\x50\x00\x00\x00\x01bob\x00localhost\x00"],
        ("0.0.0.0", 0),  # noqa: S104 - an address in a reply, not a binding
    ),
    "socks4a IP literal is plain socks4": (
        "socks4a",
        "127.0.0.1",
        80,
        None,
        None,
        [OK4],
        [b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00"],
        ("127.0.0.1", 8080),
    ),
}


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_exchange_sends_the_rfc_messages_and_ends_done(name: str) -> None:
    """Each kind sends exactly the documented messages and ends done with the bound address."""
    kind, host, port, user, password, replies, sends, bound = EXCHANGES[name]
    hs = SocksHandshake(kind, host, port, user, password)
    assert not hs.done
    assert _exchange(hs, replies) == sends
    assert _done(hs)
    assert hs.bound == bound
    assert hs.trailing == b""


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_exchange_at_every_split(name: str) -> None:
    """Cutting every reply at any byte, or feeding it byte by byte, changes nothing."""
    kind, host, port, user, password, replies, sends, bound = EXCHANGES[name]
    for cut in range(1, max(len(r) for r in replies)):
        hs = SocksHandshake(kind, host, port, user, password)
        assert _exchange(hs, replies, cut) == sends, cut
        assert (hs.done, hs.bound, hs.trailing) == (True, bound, b""), cut
    hs = SocksHandshake(kind, host, port, user, password)
    assert _each_byte(hs, replies) == sends
    assert (hs.done, hs.bound) == (True, bound)


def test_bytes_after_the_final_reply_are_trailing() -> None:
    """What follows the final reply in the same read is the tunnel's, handed back."""
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    hs.start()
    hs.feed(b"\x05\x00")
    assert hs.feed(OK5 + b"HTTP/1.1 200 OK\r\n") == b""
    assert hs.done
    assert hs.trailing == b"HTTP/1.1 200 OK\r\n"
    hs4 = SocksHandshake("socks4", "127.0.0.1", 80)
    hs4.start()
    hs4.feed(OK4 + b"\x16\x03")
    assert hs4.trailing == b"\x16\x03"


def test_the_longest_reply_is_accepted_and_bounds_the_buffer() -> None:
    """A reply naming a 255-byte host is MAX_REPLY_SIZE long; it is read whole, no more."""
    name = b"a" * 255
    reply = b"\x05\x00\x00\x03\xff" + name + b"\x00\x50"
    assert len(reply) == MAX_REPLY_SIZE == 262
    hs = SocksHandshake("socks5h", "localhost", 80)
    hs.start()
    hs.feed(b"\x05\x00")
    for i in range(len(reply) - 1):
        assert hs.feed(reply[i : i + 1]) == b""
        assert len(hs._buffer) <= MAX_REPLY_SIZE
    hs.feed(reply[-1:] + b"x" * 100_000)
    assert hs.bound == ("a" * 255, 80)
    assert len(hs.trailing) == 100_000
    assert len(hs._buffer) == 0


def test_bound_name_with_odd_bytes_is_escaped() -> None:
    """A BND.ADDR name is reported as ASCII with backslash escapes, never a decoding error."""
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    hs.start()
    hs.feed(b"\x05\x00")
    hs.feed(b"\x05\x00\x00\x03\x03a\xffb\x00\x01")
    assert hs.bound == ("a\\xffb", 1)


# --------------------------------------------------------------- refusals and malformed replies

# name -> (kind, username, password, replies, reply_code, auth_failed, words in the message)
FAILURES: dict[
    str, tuple[SocksKind, str | None, str | None, list[bytes], int | None, bool, tuple[str, ...]]
] = {
    **{
        f"socks5 reply 0x{code:02X}": (
            "socks5",
            None,
            None,
            [b"\x05\x00", bytes((5, code, 0, 1, 127, 0, 0, 1, 0, 80))],
            code,
            False,
            (text, f"0x{code:02X}", "127.0.0.1:80"),
        )
        for code, text in [
            (0x01, "general SOCKS server failure"),
            (0x02, "connection not allowed by ruleset"),
            (0x03, "network unreachable"),
            (0x04, "host unreachable"),
            (0x05, "connection refused"),
            (0x06, "TTL expired"),
            (0x07, "command not supported"),
            (0x08, "address type not supported"),
            (0x09, "unassigned reply code"),
            (0x80, "unassigned reply code"),
            (0xFF, "unassigned reply code"),
        ]
    },
    "socks5 truncated refusal": (
        "socks5",
        None,
        None,
        [b"\x05\x00", b"\x05\x05"],
        0x05,
        False,
        ("connection refused",),
    ),
    "method 0xFF": (
        "socks5",
        None,
        None,
        [b"\x05\xff"],
        0xFF,
        False,
        ("no acceptable methods", "no authentication required"),
    ),
    "method 0xFF with credentials": (
        "socks5",
        "alice",
        PASSWORD,
        [b"\x05\xff"],
        0xFF,
        False,
        ("no acceptable methods", "username/password"),
    ),
    "password method chosen, none offered": (
        "socks5",
        None,
        None,
        [b"\x05\x02"],
        None,
        False,
        ("0x02", "username/password", "not offered"),
    ),
    "no-auth chosen, password offered": (
        "socks5",
        "alice",
        PASSWORD,
        [b"\x05\x00"],
        None,
        False,
        ("0x00", "not offered"),
    ),
    "GSSAPI chosen": (
        "socks5",
        None,
        None,
        [b"\x05\x01"],
        None,
        False,
        ("GSSAPI", "not offered"),
    ),
    "IANA-assigned method chosen": (
        "socks5",
        None,
        None,
        [b"\x05\x03"],
        None,
        False,
        ("0x03", "assigned by IANA", "not offered"),
    ),
    "private method chosen": (
        "socks5",
        None,
        None,
        [b"\x05\x80"],
        None,
        False,
        ("0x80", "private method"),
    ),
    "RFC 1929 failure": (
        "socks5",
        "alice",
        PASSWORD,
        [b"\x05\x02", b"\x01\x01"],
        None,
        True,
        ("rejected", "'alice'", "0x01"),
    ),
    "RFC 1929 failure 0xFF": (
        "socks5",
        "alice",
        PASSWORD,
        [b"\x05\x02", b"\x01\xff"],
        None,
        True,
        ("rejected", "0xFF"),
    ),
    "RFC 1929 wrong version": (
        "socks5",
        "alice",
        PASSWORD,
        [b"\x05\x02", b"\x05\x00"],
        None,
        False,
        ("version byte 0x05", "expected 0x01"),
    ),
    "method selection wrong version": (
        "socks5",
        None,
        None,
        [b"\x04\x00"],
        None,
        False,
        ("method selection", "0x04"),
    ),
    "an HTTP proxy answering": (
        "socks5",
        None,
        None,
        [b"HTTP/1.1 400 Bad Request\r\n\r\n"],
        None,
        False,
        ("version byte 0x48",),
    ),
    "reply wrong version": (
        "socks5",
        None,
        None,
        [b"\x05\x00", b"\x04\x00\x00\x01\x7f\x00\x00\x01\x00\x50"],
        None,
        False,
        ("SOCKS5 reply", "0x04"),
    ),
    "reply reserved byte": (
        "socks5",
        None,
        None,
        [b"\x05\x00", b"\x05\x00\x01\x01\x7f\x00\x00\x01\x00\x50"],
        None,
        False,
        ("reserved byte 0x01",),
    ),
    "reply unknown address type": (
        "socks5",
        None,
        None,
        [b"\x05\x00", b"\x05\x00\x00\x02\x7f\x00\x00\x01\x00\x50"],
        None,
        False,
        ("address type 0x02",),
    ),
    "reply empty name": (
        "socks5",
        None,
        None,
        [b"\x05\x00", b"\x05\x00\x00\x03\x00\x00\x50"],
        None,
        False,
        ("empty bound host name",),
    ),
    **{
        f"socks4 reply {code}": (
            "socks4",
            None,
            None,
            [bytes((0, code)) + bytes(6)],
            code,
            False,
            words,
        )
        for code, words in [
            (91, ("request rejected or failed", "reply 91")),
            (92, ("cannot connect to identd", "reply 92")),
            (93, ("different user-ids", "reply 93")),
            (0, ("unknown reply code", "reply 0")),
            (0x5B + 10, ("unknown reply code",)),
        ]
    },
    "socks4 reply version 4": (
        "socks4",
        None,
        None,
        [b"\x04\x5a" + bytes(6)],
        None,
        False,
        ("SOCKS4 reply", "version byte 0x04", "expected 0x00"),
    ),
    "socks4 truncated refusal": ("socks4", None, None, [b"\x00\x5b"], 91, False, ("rejected",)),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failure_maps_to_socks_error(name: str) -> None:
    """Each refusal or malformed reply raises SocksError with its code and a readable message."""
    kind, user, password, replies, code, auth_failed, words = FAILURES[name]
    for cut in [None, *range(1, max(len(r) for r in replies))]:
        hs = SocksHandshake(kind, "127.0.0.1", 80, user, password)
        with pytest.raises(SocksError) as caught:
            _exchange(hs, replies, cut)
        error = caught.value
        assert isinstance(error, ProxyError)
        assert error.version == (4 if kind.startswith("socks4") else 5)
        assert error.reply_code == code
        assert error.auth_failed is auth_failed
        for word in words:
            assert word in str(error), (word, str(error))
        assert PASSWORD not in str(error)
        assert PASSWORD not in repr(hs)
    hs = SocksHandshake(kind, "127.0.0.1", 80, user, password)
    with pytest.raises(SocksError) as caught:
        _each_byte(hs, replies)
    assert caught.value.reply_code == code


@pytest.mark.parametrize(
    ("user", "password", "replies", "words"),
    [
        (None, None, [b"\x05\x00" + OK5], "10 bytes too many (waiting for the method selection"),
        ("alice", PASSWORD, [b"\x05\x02", b"\x01\x00\x05"], "1 bytes too many (waiting for the "),
    ],
)
def test_bytes_past_an_earlier_reply_fail(
    user: str | None, password: str | None, replies: list[bytes], words: str
) -> None:
    """Bytes in the same read after the method selection or RFC 1929 status fail the handshake.

    The proxy sent them before it could have read our next message (only in
    the same read can they be told apart from an early reply: no split test).
    """
    hs = SocksHandshake("socks5", "127.0.0.1", 80, user, password)
    with pytest.raises(SocksError) as caught:
        _exchange(hs, replies)
    assert words in str(caught.value)
    assert caught.value.reply_code is None


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_close_at_every_point_fails(name: str) -> None:
    """feed(b"") is the proxy closing: before the handshake ends it always fails."""
    kind, host, port, user, password, replies, _, _ = EXCHANGES[name]
    stream = [
        (step, reply[:cut]) for step, reply in enumerate(replies) for cut in range(len(reply))
    ]
    for step, partial in stream:
        hs = SocksHandshake(kind, host, port, user, password)
        hs.start()
        for reply in replies[:step]:
            hs.feed(reply)
        if partial:
            hs.feed(partial)
        with pytest.raises(SocksError, match="closed the connection") as caught:
            hs.feed(b"")
        assert caught.value.reply_code is None
        assert f"{len(partial)} bytes of it received" in str(caught.value)


def test_feed_after_a_failure_raises_the_same_error_again() -> None:
    """A failed handshake stays failed: every later feed raises the same code."""
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    hs.start()
    hs.feed(b"\x05\x00")
    with pytest.raises(SocksError):
        hs.feed(b"\x05\x04")
    for data in (b"\x05\x00\x00\x01", b"", OK5):
        with pytest.raises(SocksError, match=r"failed already: .*host unreachable") as caught:
            hs.feed(data)
        assert caught.value.reply_code == 0x04
    assert not hs.done
    assert "failed" in repr(hs)


def test_feed_after_an_auth_failure_keeps_auth_failed() -> None:
    hs = SocksHandshake("socks5", "127.0.0.1", 80, "alice", PASSWORD)
    hs.start()
    hs.feed(b"\x05\x02")
    with pytest.raises(SocksError):
        hs.feed(b"\x01\x01")
    with pytest.raises(SocksError) as caught:
        hs.feed(b"\x05")
    assert caught.value.auth_failed


def test_feed_after_done_or_before_start_is_the_callers_mistake() -> None:
    """Feed before start() or after done, or start() twice, raise RuntimeError."""
    hs = SocksHandshake("socks4", "127.0.0.1", 80)
    with pytest.raises(RuntimeError, match="start"):
        hs.feed(OK4)
    hs.start()
    with pytest.raises(RuntimeError, match="started already"):
        hs.start()
    hs.feed(OK4)
    assert hs.done
    with pytest.raises(RuntimeError, match="done"):
        hs.feed(b"more")
    with pytest.raises(RuntimeError, match="done"):
        hs.feed(b"")


# --------------------------------------------------------------- checks when built


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("socks6", "127.0.0.1", 80), ValueError, "kind"),
        (("http", "127.0.0.1", 80), ValueError, "kind"),
        (("socks5", "127.0.0.1", 0), ValueError, "port"),
        (("socks5", "127.0.0.1", 65536), ValueError, "port"),
        (("socks5", "127.0.0.1", True), TypeError, "port"),
        (("socks5", "127.0.0.1", "80"), TypeError, "port"),
        (("socks5", b"127.0.0.1", 80), TypeError, "host"),
        (("socks5", "localhost", 80), ValueError, "socks5h"),
        (("socks4", "localhost", 80), ValueError, "socks4a"),
        (("socks5h", "", 80), ValueError, "1 to 255"),
        (("socks5h", "a" * 256, 80), ValueError, "1 to 255"),
        (("socks4a", "a\x00b", 80), ValueError, "control"),
        (("socks5h", "a b", 80), ValueError, "control"),
        (("socks5h", "a\r\nb", 80), ValueError, "control"),
        (("socks5h", "[not-ipv6]", 80), ValueError, "brackets"),
        (("socks5", "fe80::1%eth0", 80), ValueError, "zone"),
        (("socks5h", "\u2603" * 100, 80), ValueError, "IDNA"),
        (("socks5h", ("\u00e9" * 20 + ".") * 10, 80), ValueError, "1 to 255"),
        (("socks5h", "a..b\u00e9", 80), ValueError, "IDNA"),
    ],
)
def test_bad_values_are_refused_when_built(
    args: tuple[SocksKind, str, int], error: type[Exception], match: str
) -> None:
    """Kind, host and port are checked in the constructor, naming the value."""
    with pytest.raises(error, match=match):
        SocksHandshake(*args)


@pytest.mark.parametrize(
    ("kind", "user", "password", "error", "match"),
    [
        ("socks5", "alice", None, ValueError, "together"),
        ("socks5", None, PASSWORD, ValueError, "together"),
        ("socks5h", "", PASSWORD, ValueError, "user name must be 1 to 255"),
        ("socks5", "alice", "", ValueError, "password must be 1 to 255"),
        ("socks5", "a" * 256, PASSWORD, ValueError, "user name must be 1 to 255"),
        ("socks5", "alice", PASSWORD * 20, ValueError, "password must be 1 to 255"),
        ("socks5", "alice", "\u2603" * 86, ValueError, "not 258"),
        ("socks5", "alice", b"secret", TypeError, "password must be str"),
        ("socks4", "alice", PASSWORD, ValueError, "no password"),
        ("socks4a", None, PASSWORD, ValueError, "no password"),
        ("socks4", "al\x00ice", None, ValueError, "NUL"),
        ("socks4", "a" * 256, None, ValueError, "0 to 255"),
        ("socks4", 7, None, TypeError, "user name must be str"),
    ],
)
def test_bad_credentials_are_refused_and_never_shown(
    kind: SocksKind, user: str | None, password: str | None, error: type[Exception], match: str
) -> None:
    """Credentials are checked when built; the message never holds the password."""
    with pytest.raises(error, match=match) as caught:
        SocksHandshake(kind, "127.0.0.1", 80, user, password)
    if isinstance(password, str) and password:
        assert password not in str(caught.value)
        assert PASSWORD not in str(caught.value)


def test_a_socks4_empty_user_name_is_an_empty_userid() -> None:
    """SOCKS4's USERID may be empty (the field is NUL-ended, not length-prefixed)."""
    assert (
        SocksHandshake("socks4", "127.0.0.1", 80, "").start()
        == b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00"
    )


@pytest.mark.parametrize("kind", ["socks4", "socks4a"])
def test_socks4_with_an_ipv6_address_is_a_socks_error(kind: SocksKind) -> None:
    """SOCKS4 carries IPv4 only; an IPv6 destination (from resolving) raises SocksError."""
    with pytest.raises(SocksError, match="IPv4 addresses only") as caught:
        SocksHandshake(kind, "::1", 80)
    assert caught.value.version == 4
    assert caught.value.reply_code is None


def test_the_password_is_never_in_a_repr_and_dropped_once_sent() -> None:
    """Repr shows the kind, target and state, never credentials; the password goes once sent."""
    hs = SocksHandshake("socks5h", "example.com", 443, "alice", PASSWORD)
    assert repr(hs) == "<SocksHandshake socks5h to example.com:443, with credentials: not started>"
    hs.start()
    assert repr(hs) == (
        "<SocksHandshake socks5h to example.com:443, with credentials: "
        "waiting for the method selection>"
    )
    sent = hs.feed(b"\x05\x02")
    assert PASSWORD.encode() in sent
    assert hs._password is None
    assert PASSWORD not in repr(hs)
    v6 = SocksHandshake("socks5", "::1", 443)
    assert "to [::1]:443:" in repr(v6)


# --------------------------------------------------------------- properties

_KINDS: list[SocksKind] = ["socks4", "socks4a", "socks5", "socks5h"]


@st.composite
def _handshake_in_any_state(draw: st.DrawFn) -> SocksHandshake:
    """Draw a started handshake of any kind, moved to any state that waits for the proxy."""
    kind = draw(st.sampled_from(_KINDS))
    with_auth = kind.startswith("socks5") and draw(st.booleans())
    hs = SocksHandshake(
        kind, "127.0.0.1", 80, "alice" if with_auth else None, PASSWORD if with_auth else None
    )
    hs.start()
    if kind.startswith("socks5"):
        steps = [b"\x05\x02", b"\x01\x00"] if with_auth else [b"\x05\x00"]
        for reply in steps[: draw(st.integers(0, len(steps)))]:
            hs.feed(reply)
    return hs


@given(hs=_handshake_in_any_state(), garbage=st.lists(st.binary(min_size=0, max_size=300)))
def test_garbage_only_ever_raises_socks_error_and_stays_bounded(
    hs: SocksHandshake, garbage: list[bytes]
) -> None:
    """Any bytes in any pieces: done, more wanted, or SocksError; never another error."""
    error: SocksError | None = None
    for chunk in garbage:
        try:
            out = hs.feed(chunk)
        except SocksError as exc:
            error = exc
            break
        assert isinstance(out, bytes)
        assert len(hs._buffer) <= MAX_REPLY_SIZE
        if hs.done:
            assert hs.bound is not None
            return
    if error is not None:
        assert PASSWORD not in str(error)
        assert not _done(hs)


_ADDRESSES = st.one_of(
    st.builds(lambda a: (1, a.packed, str(a)), st.ip_addresses(v=4)),
    st.builds(lambda a: (4, a.packed, str(a)), st.ip_addresses(v=6)),
    st.builds(
        lambda n: (3, bytes((len(n),)) + n, n.decode()),
        st.binary(min_size=1, max_size=255).map(lambda b: bytes(0x61 + x % 26 for x in b)),
    ),
)


@given(
    address=_ADDRESSES,
    port=st.integers(0, 65535),
    trailing=st.binary(max_size=64),
    cuts=st.lists(st.integers(0, MAX_REPLY_SIZE + 64), max_size=5),
)
def test_any_valid_socks5_reply_in_any_pieces(
    address: tuple[int, bytes, str], port: int, trailing: bytes, cuts: list[int]
) -> None:
    """A granted reply with any address, cut anywhere, gives its bound address and trailing."""
    atyp, raw, text = address
    reply = b"\x05\x00\x00" + bytes((atyp,)) + raw + port.to_bytes(2, "big") + trailing
    hs = SocksHandshake("socks5h", "localhost", 443)
    hs.start()
    hs.feed(b"\x05\x00")
    size = len(reply) - len(trailing)
    bounds = sorted({0, len(reply), *(c for c in cuts if c <= len(reply))})
    for start, end in itertools.pairwise(bounds):
        assert not hs.done
        assert hs.feed(reply[start:end]) == b""
        if _done(hs):
            assert start < size <= end
            assert hs.trailing == reply[size:end]
            break
    assert _done(hs)
    assert hs.bound == (text, port)


@given(code=st.integers(1, 255), cut=st.integers(1, 10))
def test_any_socks5_failure_code_is_reported_at_any_cut(code: int, cut: int) -> None:
    """Every nonzero REP is a SocksError carrying it, wherever the reply is cut."""
    reply = bytes((5, code, 0, 1, 127, 0, 0, 1, 0, 80))
    hs = SocksHandshake("socks5", "127.0.0.1", 80)
    hs.start()
    hs.feed(b"\x05\x00")
    with pytest.raises(SocksError) as caught:
        _ = hs.feed(reply[:cut]) + hs.feed(reply[cut:])
    assert caught.value.reply_code == code
    assert f"0x{code:02X}" in str(caught.value)


def test_a_bound_name_with_control_characters_is_escaped() -> None:
    """socks.bound (fuzz/README.md): BND.ADDR holding CR, LF or NUL came back raw."""
    handshake = SocksHandshake("socks5h", "example.test", 80)
    handshake.start()
    handshake.feed(b"\x05\x00")
    handshake.feed(b"\x05\x00\x00\x03\x07a\x00b\r\n \x7f\x00\x50")
    assert handshake.done
    assert handshake.bound == ("a\\x00b\\x0d\\x0a\\x20\\x7f", 80)
