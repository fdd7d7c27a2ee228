"""A SOCKS client handshake (SOCKS4, SOCKS4a, SOCKS5; CONNECT only), sans-IO.

Strategy
--------
:class:`SocksHandshake` is h11's shape cut down to one exchange: ``start()``
returns the first bytes to send, ``feed(data)`` takes whatever arrived and
returns the bytes to send next (often ``b""``), until ``done``. It never reads
a socket, awaits or looks at a clock; the connect path sends, reads and times.

The handshake is a state machine kept as data: ``_READERS`` maps each state
that waits for the proxy to two functions, one that tells from the bytes seen
so far how long the awaited message is (checking every byte as soon as it
arrives), and one that handles the complete message and moves to the next
state. A state missing from the table (not started, done, failed) takes no
input.

Messages (RFC 1928 for SOCKS5, RFC 1929 for its username/password method, the
SOCKS4 and SOCKS4A protocol documents of Ying-Da Lee)::

    socks5:  -> 05 NMETHODS METHODS              <- 05 METHOD           (RFC 1928 §3)
             -> 01 ULEN UNAME PLEN PASSWD        <- 01 STATUS           (RFC 1929 §2)
             -> 05 01 00 ATYP DST.ADDR DST.PORT  (RFC 1928 §4, §5)
             <- 05 REP 00 ATYP BND.ADDR BND.PORT (RFC 1928 §6)
    socks4:  -> 04 01 DSTPORT DSTIP USERID 00    <- 00 CD DSTPORT DSTIP (8 bytes)
    socks4a: -> 04 01 DSTPORT 0.0.0.1 USERID 00 HOSTNAME 00

Rules
-----
1. Memory is bounded: bytes are taken from ``feed`` only up to the end of
   the message awaited, so the buffer never holds more than the longest
   reply (:data:`MAX_REPLY_SIZE`, a SOCKS5 reply naming a 255-byte host).
   Bytes past the final reply are the tunnel's and are handed back in
   ``trailing``; bytes past an earlier message (the method selection, the
   RFC 1929 status) arrived before the proxy could have read our next message
   and fail the handshake.
2. Every byte is checked as it arrives: version bytes, the reserved byte,
   address types, reply codes. A refusal is reported as soon as its code is
   read (RFC 1928 §6 and RFC 1929 §2: the server closes the connection after
   a failure reply, and the rest of the reply says nothing more), so a proxy
   that sends a short failure reply and closes is still understood.
3. Every refusal and every malformed reply raises :class:`SocksError`, with
   the SOCKS version, the reply code (RFC 1928 §6 ``REP``, ``0xFF`` for "no
   acceptable methods", the SOCKS4 ``CD``) and ``auth_failed`` for a rejected
   user name or password. Its message names the code. After a failure every
   ``feed`` raises it again; ``feed(b"")`` means the proxy closed the
   connection and fails the handshake. Calling ``feed`` before ``start()`` or
   after ``done`` is the caller's mistake: RuntimeError.
4. Methods offered (RFC 1928 §3): username/password (``0x02``) alone when
   credentials are given, "no authentication" (``0x00``) alone otherwise; a
   proxy choosing a method that was not offered fails the handshake.
5. Values are checked when the handshake is built (ValueError, TypeError):
   kind, port 1-65535, the host (an IP literal is always sent as an address;
   a name only with ``socks5h`` and ``socks4a``, IDNA-encoded with the
   ``idna`` codec as URLs are, 1-255 bytes, no controls or spaces), and the
   credentials: SOCKS5 takes a user name and a password together, each 1-255
   bytes of UTF-8 (RFC 1929 §2); SOCKS4 takes a user name only (its USERID:
   no NUL, at most 255 bytes here) and refuses a password rather than drop
   it silently. An IPv6 address with ``socks4``/``socks4a`` (which carry IPv4
   only) raises SocksError: it arises from resolving, not from a typo.
6. The password is kept only until the RFC 1929 request is built, and never
   appears in a message or a repr.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Final, Literal

from ._exceptions import SocksError

__all__ = ["MAX_REPLY_SIZE", "SocksHandshake", "SocksKind"]

SocksKind = Literal["socks4", "socks4a", "socks5", "socks5h"]

#: The longest message a proxy sends in one step: a SOCKS5 reply whose
#: BND.ADDR is a 255-byte name (RFC 1928 §6: VER REP RSV ATYP, length, name, port).
MAX_REPLY_SIZE: Final = 4 + 1 + 255 + 2
#: SOCKS4 reply: VN CD DSTPORT(2) DSTIP(4).
_SOCKS4_REPLY_SIZE: Final = 8
#: SOCKS5 method selection (RFC 1928 §3) and RFC 1929 status reply: two bytes each.
_TWO_BYTE_REPLY: Final = 2
#: Host names, user names and passwords: a one-byte length in SOCKS5, so at most
#: 255 bytes (RFC 1928 §5, RFC 1929 §2); SOCKS4's NUL-ended fields get the same bound.
_MAX_FIELD: Final = 255

_KINDS: Final[dict[str, int]] = {"socks4": 4, "socks4a": 4, "socks5": 5, "socks5h": 5}
_RESOLVING: Final = frozenset({"socks4a", "socks5h"})  # the proxy resolves names

_VER5: Final = 0x05
_AUTH_VERSION: Final = 0x01  # RFC 1929 §2: the subnegotiation's own version
_CMD_CONNECT: Final = 0x01
_RSV: Final = 0x00
_ATYP_IPV4: Final = 0x01
_ATYP_NAME: Final = 0x03
_ATYP_IPV6: Final = 0x04
_ADDRESS_SIZE: Final = {_ATYP_IPV4: 4, _ATYP_IPV6: 16}
_METHOD_NONE: Final = 0x00
_METHOD_PASSWORD: Final = 0x02
_NO_ACCEPTABLE_METHODS: Final = 0xFF
_SOCKS4_VN: Final = 0x04
_SOCKS4_REPLY_VN: Final = 0x00  # "the version of the reply code and should be 0"
_SOCKS4_GRANTED: Final = 90  # 0x5A
# SOCKS4A: DSTIP 0.0.0.x with x nonzero says "the name follows the USERID".
_SOCKS4A_MARKER: Final = b"\x00\x00\x00\x01"

# RFC 1928 §3: METHOD values.
_METHOD_NAMES: Final = {
    0x00: "no authentication required",
    0x01: "GSSAPI",
    0x02: "username/password",
    0xFF: "no acceptable methods",
}
# RFC 1928 §6: REP values; 0x09-0xFF are unassigned.
_REPLY_NAMES: Final = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}
# SOCKS4 protocol: CD values of a reply.
_SOCKS4_REPLY_NAMES: Final = {
    90: "request granted",
    91: "request rejected or failed",
    92: "request rejected because the SOCKS server cannot connect to identd on the client",
    93: "request rejected because the client program and identd report different user-ids",
}


def _method_name(method: int) -> str:
    if method in _METHOD_NAMES:
        return _METHOD_NAMES[method]
    if method < 0x80:
        return "a method assigned by IANA"
    return "a private method"


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return ``host`` as an address when it is an IP literal (IPv6 bracketed or not)."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if text is not host:
            raise ValueError(f"not an IPv6 address in brackets: {host!r}") from None
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValueError(f"a SOCKS request cannot carry the IPv6 zone of {host!r}")
    return address


def _encode_name(host: str) -> bytes:
    """Return a host name as sent to the proxy: ASCII, or IDNA as URLs encode it."""
    try:
        raw = host.encode("ascii") if host.isascii() else host.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"cannot IDNA-encode the host name {host!r}: {exc}") from None
    # RFC 1928 §5: a one-octet length, so 1-255 octets; SOCKS4A ends the name
    # with NUL, so no NUL, and no control or space in either.
    if not 1 <= len(raw) <= _MAX_FIELD:
        raise ValueError(f"a SOCKS host name must be 1 to 255 bytes, not {len(raw)}")
    if any(byte <= 0x20 or byte == 0x7F for byte in raw):
        raise ValueError(f"control characters or spaces in the host name {host!r}")
    return raw


def _printable(name: bytes) -> str:
    """Return a name from a reply as text: visible ASCII as is, any other byte as ``xNN``."""
    if all(0x20 < b < 0x7F for b in name):
        return name.decode("ascii")
    return "".join(chr(b) if 0x20 < b < 0x7F else f"\\x{b:02x}" for b in name)


def _encode_field(value: object, what: str, *, least: int) -> bytes:
    """Return a user name or password as UTF-8, ``least`` to 255 bytes; never show it."""
    if not isinstance(value, str):
        raise TypeError(f"the SOCKS {what} must be str, not {type(value).__name__}")
    raw = value.encode("utf-8")
    if not least <= len(raw) <= _MAX_FIELD:
        raise ValueError(f"the SOCKS {what} must be {least} to 255 bytes of UTF-8, not {len(raw)}")
    return raw


class _State(enum.Enum):
    IDLE = "not started"
    METHOD = "waiting for the method selection"
    AUTH = "waiting for the username/password status"
    REPLY5 = "waiting for the SOCKS5 reply"
    REPLY4 = "waiting for the SOCKS4 reply"
    DONE = "done"
    FAILED = "failed"


class SocksHandshake:
    """One client handshake with a SOCKS proxy, sans-IO: CONNECT to ``host:port``.

    Args:
        kind: ``"socks5"`` or ``"socks4"`` send an IP address the caller has
            resolved; ``"socks5h"`` and ``"socks4a"`` also take a host name,
            which the proxy resolves. An IP literal is sent as an address
            with every kind (IPv6 bracketed or not).
        host: the destination: an IP literal, or (socks5h, socks4a) a name.
            Non-ASCII names are IDNA-encoded (the ``idna`` codec, as URLs are).
        port: the destination port, 1-65535.
        username: SOCKS5: the RFC 1929 user name (with ``password``);
            SOCKS4: the USERID field. None for none.
        password: SOCKS5: the RFC 1929 password. SOCKS4 has no password
            field: one given is refused (ValueError), not silently dropped.

    Raises:
        ValueError: an unknown kind, a bad port, a name where an address is
            needed, a name or credential too long, empty (SOCKS5) or holding
            a NUL (SOCKS4), a user name without a password or the reverse.
        TypeError: host, username or password not str, port not int.
        SocksError: an IPv6 address with socks4 or socks4a (IPv4 only).

    Attributes:
        kind: the kind given.
        version: 4 or 5.
        done: True once the tunnel is established.
        trailing: bytes received after the final reply: the first bytes of
            the tunnelled stream (empty until ``done``).
        bound: BND.ADDR and BND.PORT of the final reply (SOCKS4: its DSTIP
            and DSTPORT), None until ``done``. A name in BND.ADDR is decoded
            as ASCII, any byte outside 0x21-0x7E (controls, space, DEL,
            non-ASCII) written as a backslash, ``x`` and two hex digits.

    """

    __slots__ = (
        "_address",
        "_buffer",
        "_error",
        "_name",
        "_password",
        "_state",
        "_username",
        "bound",
        "host",
        "kind",
        "port",
        "trailing",
        "version",
    )

    kind: SocksKind
    version: int
    host: str
    port: int
    trailing: bytes
    bound: tuple[str, int] | None

    def __init__(
        self,
        kind: SocksKind,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be socks4, socks4a, socks5 or socks5h, not {kind!r}")
        if not isinstance(host, str):
            raise TypeError(f"host must be str, not {type(host).__name__}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be int, not {type(port).__name__}")
        if not 1 <= port <= 0xFFFF:
            raise ValueError(f"port must be 1 to 65535, not {port}")
        self.kind = kind
        self.version = _KINDS[kind]
        self.host = host
        self.port = port
        self._address = _ip_literal(host)
        self._name: bytes | None = None
        if self._address is None:
            if kind not in _RESOLVING:
                alternative = "socks5h" if self.version == 5 else "socks4a"
                raise ValueError(
                    f"{kind} sends an IP address: resolve {host!r} first, or use "
                    f"{alternative} to have the proxy resolve it"
                )
            self._name = _encode_name(host)
        elif self.version == 4 and self._address.version == 6:
            raise SocksError(f"SOCKS4 carries IPv4 addresses only, not {self._address}", version=4)
        self._username, self._password = self._credentials(username, password)
        self._state = _State.IDLE
        self._buffer = bytearray()
        self._error: SocksError | None = None
        self.trailing = b""
        self.bound = None

    def _credentials(
        self, username: str | None, password: str | None
    ) -> tuple[bytes | None, bytes | None]:
        if self.version == 4:
            if password is not None:
                raise ValueError("SOCKS4 has no password field; give a user name only")
            if username is None:
                return None, None
            raw = _encode_field(username, "user name", least=0)
            if b"\x00" in raw:  # SOCKS4: USERID is ended by NUL
                raise ValueError("a SOCKS4 user name cannot hold NUL")
            return raw, None
        if username is None and password is None:
            return None, None
        if username is None or password is None:
            raise ValueError("SOCKS5 takes a user name and a password together (RFC 1929)")
        # RFC 1929 §2: UNAME and PASSWD are 1 to 255 octets each.
        return (
            _encode_field(username, "user name", least=1),
            _encode_field(password, "password", least=1),
        )

    # ------------------------------------------------------------ public

    @property
    def done(self) -> bool:
        """Whether the tunnel is established."""
        return self._state is _State.DONE

    def start(self) -> bytes:
        """Return the first bytes to send to the proxy.

        Raises:
            RuntimeError: called twice.

        """
        if self._state is not _State.IDLE:
            raise RuntimeError("the SOCKS handshake was started already")
        if self.version == 4:
            self._state = _State.REPLY4
            return self._socks4_request()
        # RFC 1928 §3: VER NMETHODS METHODS; one method offered, see rule 4.
        self._state = _State.METHOD
        method = _METHOD_PASSWORD if self._username is not None else _METHOD_NONE
        return bytes((_VER5, 1, method))

    def feed(self, data: bytes) -> bytes:
        """Take bytes the proxy sent; return the bytes to send next (may be ``b""``).

        Args:
            data: what arrived; ``b""`` means the proxy closed the connection.

        Returns:
            The next message to send, or ``b""`` when nothing is to be sent
            (more input is needed, or the handshake is ``done``).

        Raises:
            SocksError: the proxy refused, closed, or sent a malformed or
                unsupported reply; also on every call after such a failure.
            RuntimeError: called before ``start()`` or after ``done``.

        """
        if self._state is _State.FAILED:
            assert self._error is not None
            error = self._error
            raise SocksError(
                f"the SOCKS handshake failed already: {error}",
                version=error.version,
                reply_code=error.reply_code,
                auth_failed=error.auth_failed,
            )
        reader = _READERS.get(self._state)
        if reader is None:
            when = "call start() first" if self._state is _State.IDLE else "it is done"
            raise RuntimeError(f"the SOCKS handshake takes no input: {when}")
        if not data:
            raise self._fail(
                f"the proxy closed the connection ({self._state.value}, "
                f"{len(self._buffer)} bytes of it received)"
            )
        size_of, complete = reader
        while True:
            missing = size_of(self, self._buffer) - len(self._buffer)
            if missing > 0:
                if not data:
                    return b""
                self._buffer += data[:missing]
                data = data[missing:]
                continue
            message = bytes(self._buffer)
            self._buffer.clear()
            waited = self._state
            reply = complete(self, message)
            if self._state is _State.DONE:
                self.trailing = data
            elif data:
                # Rule 1: the proxy cannot have read the message we are about to send.
                raise self._fail(
                    f"the proxy sent {len(data)} bytes too many ({waited.value}, "
                    "before it could have read our next message)"
                )
            return reply

    def __repr__(self) -> str:
        credentials = ", with credentials" if self._username is not None else ""
        return f"<SocksHandshake {self.kind} to {self._target()}{credentials}: {self._state.value}>"

    # ------------------------------------------------------------ requests

    def _target(self) -> str:
        if isinstance(self._address, ipaddress.IPv6Address):
            return f"[{self._address}]:{self.port}"
        return f"{self._address or self.host}:{self.port}"

    def _socks4_request(self) -> bytes:
        # SOCKS4: VN=4 CD=1 DSTPORT DSTIP USERID NUL; SOCKS4A: DSTIP 0.0.0.1
        # and the name, NUL-ended, after the USERID's NUL.
        userid = self._username or b""
        if self._name is None:
            assert self._address is not None
            return (
                bytes((_SOCKS4_VN, _CMD_CONNECT))
                + self.port.to_bytes(2, "big")
                + self._address.packed
                + userid
                + b"\x00"
            )
        return (
            bytes((_SOCKS4_VN, _CMD_CONNECT))
            + self.port.to_bytes(2, "big")
            + _SOCKS4A_MARKER
            + userid
            + b"\x00"
            + self._name
            + b"\x00"
        )

    def _auth_request(self) -> bytes:
        # RFC 1929 §2: VER=1 ULEN UNAME PLEN PASSWD. The password is dropped now.
        assert self._username is not None
        assert self._password is not None
        password, self._password = self._password, None
        return (
            bytes((_AUTH_VERSION, len(self._username)))
            + self._username
            + bytes((len(password),))
            + password
        )

    def _connect_request(self) -> bytes:
        # RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT; §5: the address forms.
        head = bytes((_VER5, _CMD_CONNECT, _RSV))
        port = self.port.to_bytes(2, "big")
        if self._name is not None:
            return head + bytes((_ATYP_NAME, len(self._name))) + self._name + port
        assert self._address is not None
        atyp = _ATYP_IPV4 if self._address.version == 4 else _ATYP_IPV6
        return head + bytes((atyp,)) + self._address.packed + port

    # ------------------------------------------------------------ replies

    def _fail(
        self, message: str, *, reply_code: int | None = None, auth_failed: bool = False
    ) -> SocksError:
        """Enter FAILED and return the error to raise (the password is never in it)."""
        self._state = _State.FAILED
        self._buffer.clear()
        self._password = None
        self._error = SocksError(
            message, version=self.version, reply_code=reply_code, auth_failed=auth_failed
        )
        return self._error

    def _check_version(self, buffer: bytearray, expected: int, what: str) -> None:
        if buffer and buffer[0] != expected:
            raise self._fail(
                f"not a {what}: version byte 0x{buffer[0]:02X}, expected 0x{expected:02X}"
            )

    def _method_size(self, buffer: bytearray) -> int:
        # RFC 1928 §3: the server's selection is VER METHOD.
        self._check_version(buffer, _VER5, "SOCKS5 method selection")
        return _TWO_BYTE_REPLY

    def _on_method(self, message: bytes) -> bytes:
        method = message[1]
        offered = _METHOD_PASSWORD if self._username is not None else _METHOD_NONE
        if method == _NO_ACCEPTABLE_METHODS:
            # RFC 1928 §3: X'FF', "the client MUST close the connection".
            raise self._fail(
                "the SOCKS5 proxy accepted no offered authentication method "
                f"(offered: {_METHOD_NAMES[offered]}; reply 0xFF, no acceptable methods)",
                reply_code=_NO_ACCEPTABLE_METHODS,
            )
        if method != offered:
            # RFC 1928 §3: "The server selects from one of the methods given".
            raise self._fail(
                f"the SOCKS5 proxy chose method 0x{method:02X} ({_method_name(method)}), "
                f"which was not offered (offered: {_METHOD_NAMES[offered]})"
            )
        if method == _METHOD_PASSWORD:
            self._state = _State.AUTH
            return self._auth_request()
        self._state = _State.REPLY5
        return self._connect_request()

    def _auth_size(self, buffer: bytearray) -> int:
        # RFC 1929 §2: the server's response is VER STATUS, VER X'01'.
        self._check_version(buffer, _AUTH_VERSION, "username/password status reply")
        return _TWO_BYTE_REPLY

    def _on_auth(self, message: bytes) -> bytes:
        status = message[1]
        if status != 0x00:
            # RFC 1929 §2: "A STATUS field of X'00' indicates success."
            assert self._username is not None
            user = self._username.decode("utf-8")
            raise self._fail(
                f"the SOCKS5 proxy rejected the user name {user!r} or its password "
                f"(username/password status 0x{status:02X})",
                auth_failed=True,
            )
        self._state = _State.REPLY5
        return self._connect_request()

    def _reply5_size(self, buffer: bytearray) -> int:
        # RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT, each byte checked on arrival.
        self._check_version(buffer, _VER5, "SOCKS5 reply")
        if len(buffer) >= 2 and buffer[1] != 0x00:
            code = buffer[1]
            name = _REPLY_NAMES.get(code, "unassigned reply code")
            raise self._fail(
                f"the SOCKS5 proxy could not connect to {self._target()}: "
                f"{name} (reply 0x{code:02X})",
                reply_code=code,
            )
        if len(buffer) >= 3 and buffer[2] != _RSV:
            raise self._fail(f"SOCKS5 reply with reserved byte 0x{buffer[2]:02X}, not 0x00")
        if len(buffer) < 4:
            return 4
        atyp = buffer[3]
        if atyp in _ADDRESS_SIZE:
            return 4 + _ADDRESS_SIZE[atyp] + 2
        if atyp != _ATYP_NAME:
            raise self._fail(f"SOCKS5 reply with unknown address type 0x{atyp:02X}")
        if len(buffer) < 5:
            return 5
        if buffer[4] == 0:  # RFC 1928 §5: the name's length, then the name
            raise self._fail("SOCKS5 reply with an empty bound host name")
        return 5 + buffer[4] + 2

    def _on_reply5(self, message: bytes) -> bytes:
        atyp = message[3]
        raw = message[4:-2]
        host: str
        if atyp == _ATYP_NAME:
            host = _printable(raw[1:])
        elif atyp == _ATYP_IPV4:
            host = str(ipaddress.IPv4Address(raw))
        else:
            host = str(ipaddress.IPv6Address(raw))
        self.bound = (host, int.from_bytes(message[-2:], "big"))
        self._state = _State.DONE
        return b""

    def _reply4_size(self, buffer: bytearray) -> int:
        # SOCKS4: VN CD DSTPORT DSTIP, VN 0; CD 90 granted, 91-93 refusals.
        self._check_version(buffer, _SOCKS4_REPLY_VN, "SOCKS4 reply")
        if len(buffer) >= 2 and buffer[1] != _SOCKS4_GRANTED:
            code = buffer[1]
            name = _SOCKS4_REPLY_NAMES.get(code, "unknown reply code")
            raise self._fail(
                f"the SOCKS4 proxy could not connect to {self._target()}: {name} (reply {code})",
                reply_code=code,
            )
        return _SOCKS4_REPLY_SIZE

    def _on_reply4(self, message: bytes) -> bytes:
        # SOCKS4: DSTPORT and DSTIP of a CONNECT reply "should be ignored";
        # reported as they came.
        self.bound = (str(ipaddress.IPv4Address(message[4:8])), int.from_bytes(message[2:4], "big"))
        self._state = _State.DONE
        return b""


# The states that wait for the proxy: (size of the awaited message as far as
# the bytes so far tell, raising on a wrong one; handler of the whole message).
_READERS: Final = {
    _State.METHOD: (SocksHandshake._method_size, SocksHandshake._on_method),
    _State.AUTH: (SocksHandshake._auth_size, SocksHandshake._on_auth),
    _State.REPLY5: (SocksHandshake._reply5_size, SocksHandshake._on_reply5),
    _State.REPLY4: (SocksHandshake._reply4_size, SocksHandshake._on_reply4),
}
