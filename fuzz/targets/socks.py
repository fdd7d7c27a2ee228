"""The SOCKS client handshake (SOCKS4, SOCKS4a, SOCKS5 with RFC 1929, socks5h), sans-IO.

Input: a control byte choosing the kind, destination host and port, one
choosing the credentials (none, or a user name and password for SOCKS5, a
USERID for SOCKS4), one choosing how the proxy's bytes are cut into reads,
then what the proxy sends. ``SocksHandshake`` is started and fed the reads
until it is done or fails; reads left after ``done`` are the tunnel's
(``trailing``); if the reads run out first, ``feed(b"")`` (the proxy closed)
ends it. The only accepted error is ``SocksError``.

The proxy's bytes go in four ways: one byte a read (the reference: no read
can hold more than one message), each message whole (cut where the
reference sent something), the input's reads further cut there, and the
input's reads as they are. Rule 1 of ``_socks`` makes the last way differ
on purpose: bytes past a message the client must answer (method selection,
RFC 1929 status) arrived before the proxy could have read the answer and
fail the handshake, so a read crossing such a point must fail with no reply
code, having sent what the reference sent until then.

Checks: nothing but SocksError escapes, and its fields are sound (version,
a one-byte reply code or None, ``auth_failed`` only for a SOCKS5 password)
(``socks.error``); the buffer never holds more than ``MAX_REPLY_SIZE``
(``socks.buffer``); every way has the reference's outcome (bytes sent, done,
trailing, bound, or the error's version, code and ``auth_failed``), but for
rule 1 (``socks.split``); a granted handshake's ``bound`` is a host (an IP
address, or a name of printable ASCII without spaces, the rest escaped)
and a port 0-65535 (``socks.bound``); the password is in no error message,
no repr, and no longer held once the handshake is done or failed
(``socks.password``); the proxy closing before the end fails the handshake,
and a failed handshake fails every later ``feed`` with the same error
(``socks.failed``).
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import NamedTuple

from hyperhttp import SocksError
from hyperhttp._socks import MAX_REPLY_SIZE, SocksHandshake, SocksKind

from fuzz._checks import Finding, fail
from fuzz._input import FuzzInput, split

MAX_LEN = 2048
MEMORY_BUDGET = 1024 * 1024

# (kind, host, port): every kind, addresses of both families, names the
# proxy resolves (IDNA, a bracketed IPv6 literal, the longest: 255 bytes).
_TARGETS: tuple[tuple[SocksKind, str, int], ...] = (
    ("socks5", "10.1.2.3", 443),
    ("socks5", "2001:db8::7", 80),
    ("socks5h", "example.com", 443),
    ("socks5h", "b\u00fccher.example", 8080),
    ("socks5h", "[::1]", 1),
    ("socks5h", ".".join(["a" * 63] * 3 + ["b" * 63]), 65535),
    ("socks4", "192.0.2.7", 80),
    ("socks4a", "example.org", 443),
    ("socks4a", "10.0.0.2", 22),
)
# Passwords no message could hold by chance (no user name holds one).
_PASSWORDS = ("Circle Of Life", "p\u00e4ssw\u00f6rd-\u2603-x", "Q" * 255)
_CREDENTIALS_5: tuple[tuple[str | None, str | None], ...] = (
    (None, None),
    ("alice", _PASSWORDS[0]),
    ("\u00e9lodie", _PASSWORDS[1]),
    ("u" * 255, _PASSWORDS[2]),
)
_CREDENTIALS_4: tuple[tuple[str | None, str | None], ...] = (
    (None, None),
    ("alice", None),
    ("", None),
    ("u" * 255, None),
)


class Outcome(NamedTuple):
    """What one way of feeding ended with."""

    sent: bytes
    done: bool
    trailing: bytes
    bound: tuple[str, int] | None
    error: tuple[int, int | None, bool] | None  # version, reply_code, auth_failed


def _error_fields(error: SocksError) -> tuple[int, int | None, bool]:
    return (error.version, error.reply_code, error.auth_failed)


def _check_error(hs: SocksHandshake, error: SocksError, password: str | None) -> None:
    code = error.reply_code
    if error.version != hs.version or not (code is None or 0 <= code <= 0xFF):
        fail("socks.error", f"{error!r}: version {error.version}, reply code {code!r}")
    if error.auth_failed and (hs.version != 5 or password is None or code is not None):
        fail("socks.error", f"auth_failed on {error!r} from {hs!r}")
    if password is not None and any(password in text for text in (str(error), repr(error))):
        fail("socks.password", f"the password is in the error {error!r}")
    for data in (b"x", b""):
        try:
            hs.feed(data)
        except SocksError as again:
            if _error_fields(again) != _error_fields(error):
                fail("socks.failed", f"{again!r} after {error!r}")
            if password is not None and password in str(again):
                fail("socks.password", f"the password is in the error {again!r}")
        else:
            fail("socks.failed", f"feed({data!r}) after {error!r} raised nothing")


def _check_bound(bound: object) -> None:
    if not (
        isinstance(bound, tuple)
        and len(bound) == 2
        and isinstance(bound[0], str)
        and bound[0]
        and type(bound[1]) is int
        and 0 <= bound[1] <= 0xFFFF
    ):
        fail("socks.bound", f"a granted handshake's bound is {bound!r}")
        return
    host = bound[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all("!" <= char <= "~" for char in host):
            fail("socks.bound", f"a bound name with a control, space or non-ASCII: {host!r}")


def _step(hs: SocksHandshake, piece: bytes) -> bytes:
    """Feed one read; check the buffer and that a done handshake sends nothing more."""
    out = hs.feed(piece)
    if len(hs._buffer) > MAX_REPLY_SIZE:
        fail("socks.buffer", f"{len(hs._buffer)} bytes held by {hs!r}")
    if out and hs.done:
        fail("socks.error", f"feed returned {out!r} with the handshake done")
    return out


def _run(
    target: tuple[SocksKind, str, int],
    credentials: tuple[str | None, str | None],
    pieces: list[bytes],
) -> tuple[Outcome, list[tuple[int, bytes]]]:
    """Feed ``pieces`` (none empty) to a new handshake, checking each step.

    Returns how it ended, and each answer the handshake sent with the input
    offset of the read that made it.
    """
    kind, host, port = target
    username, password = credentials
    hs = SocksHandshake(kind, host, port, username, password)
    sent = [(0, hs.start())]
    at = 0
    error: SocksError | None = None
    trailing: list[bytes] = []
    try:
        for piece in pieces:
            if hs.done:
                trailing.append(piece)
                continue
            out = _step(hs, piece)
            at += len(piece)
            if out:
                sent.append((at, out))
        if not hs.done:
            hs.feed(b"")
    except SocksError as exc:
        error = exc
        _check_error(hs, exc, password)
    except Finding:
        raise
    except Exception as exc:
        fail("socks.error", f"{type(exc).__name__}: {exc} from {hs!r}")
        raise
    if error is None and not hs.done:
        fail("socks.failed", f"the proxy closed and {hs!r} did not fail")
    if password is not None and password in repr(hs):
        fail("socks.password", f"the password is in {hs!r}")
    if (hs.done or error is not None) and hs._password is not None:
        fail("socks.password", f"{hs!r} still holds the password")
    if hs.done:
        _check_bound(hs.bound)
        trailing.insert(0, hs.trailing)
    elif hs.bound is not None or hs.trailing:
        fail("socks.error", f"{hs!r} not done, with bound {hs.bound!r} and trailing")
    outcome = Outcome(
        sent=b"".join(out for _, out in sent),
        done=hs.done,
        trailing=b"".join(trailing),
        bound=hs.bound,
        error=None if error is None else _error_fields(error),
    )
    return outcome, sent


def _cut(pieces: list[bytes], at: list[int]) -> list[bytes]:
    """Cut ``pieces`` further at the input offsets ``at``."""
    out: list[bytes] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        cuts = [0, *(offset - start for offset in at if start < offset < end), len(piece)]
        out += [piece[a:b] for a, b in itertools.pairwise(cuts)]
        start = end
    return out


def _compare(
    way: str,
    got: Outcome,
    reference: Outcome,
    answers: list[tuple[int, bytes]],
    pieces: list[bytes],
) -> None:
    """``got`` must be the reference's outcome, or (rule 1) fail where a read crosses a message."""
    ends = set(itertools.accumulate(len(piece) for piece in pieces))
    total = sum(len(piece) for piece in pieces)
    for index, (at, _) in enumerate(answers[1:], 1):
        if at not in ends and at < total:
            # The read holding offset ``at`` also holds bytes the proxy sent
            # before it could have read our answer: a failure with no code,
            # having sent what the reference sent before that answer.
            before = b"".join(out for _, out in answers[:index])
            version = 4 if answers[0][1][0] == 4 else 5
            expected = Outcome(before, False, b"", None, (version, None, False))
            if got != expected:
                fail(
                    "socks.split",
                    f"{way}: a read across offset {at} gave {got!r}, not {expected!r}",
                )
            return
    if got != reference:
        fail("socks.split", f"{way}: {got!r}, one byte a read: {reference!r}")


def one_input(data: bytes) -> None:
    """Run the proxy's bytes of ``data`` through a handshake, four ways, and compare."""
    source = FuzzInput(data)
    target = source.choice(_TARGETS)
    choices = _CREDENTIALS_4 if target[0].startswith("socks4") else _CREDENTIALS_5
    credentials = source.choice(choices)
    seed = source.byte()
    payload = source.rest()
    reference, answers = _run(
        target, credentials, [payload[i : i + 1] for i in range(len(payload))]
    )
    at = [offset for offset, _ in answers[1:]]
    pieces = split(payload, seed) if payload else []
    for way, cut in (
        ("each message whole", _cut([payload] if payload else [], at)),
        ("in pieces, cut where answered", _cut(pieces, at)),
        ("in pieces", pieces),
        ("all at once", [payload] if payload else []),
    ):
        _compare(way, _run(target, credentials, cut)[0], reference, answers, cut)
