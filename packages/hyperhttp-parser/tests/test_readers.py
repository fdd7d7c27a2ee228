"""The response parser, table-driven: bytes in, events out (RFC 9112)."""

from __future__ import annotations

import pytest

import hyperhttp_parser as hp
from hyperhttp_parser import (
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    ParserState,
    RemoteProtocolError,
    ResponseHead,
)

KEEP = EndOfMessage((), True)
CLOSE = EndOfMessage((), False)


def parse(data: bytes, method: bytes = b"GET", *, eof: bool = False) -> list[Event]:
    """Feed ``data`` whole (then EOF if asked) and return every event."""
    parser = hp.ResponseParser()
    parser.start(method)
    events = parser.feed(data)
    if eof:
        events += parser.feed_eof()
    return events


def joined(events: list[Event]) -> list[Event]:
    """Merge adjacent Data events: how a body is cut into pieces is not meaningful."""
    out: list[Event] = []
    for event in events:
        if type(event) is Data and out and type(out[-1]) is Data:
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def feed_all(parser: hp.ResponseParser, pieces: list[bytes]) -> list[Event]:
    """Feed each piece in turn; return every event."""
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
    return events


def head(status: int, headers: list[tuple[bytes, bytes]], reason: bytes = b"OK") -> ResponseHead:
    return ResponseHead(status, reason, b"1.1", headers)


# ---------------------------------------------------------------- valid input

VALID: list[tuple[str, bytes, bytes, list[Event]]] = [
    (
        "content-length body",
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        [head(200, [(b"content-length", b"5")]), Data(b"hello"), KEEP],
    ),
    (
        "names lower-cased, values keep case, OWS stripped",
        b"GET",
        b"HTTP/1.1 200 OK\r\nX-Thing:  \tMiXeD case \t\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"x-thing", b"MiXeD case"), (b"content-length", b"0")]), KEEP],
    ),
    (
        "empty value",
        b"GET",
        b"HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"x-empty", b""), (b"content-length", b"0")]), KEEP],
    ),
    (
        "repeated fields stay separate and ordered",
        b"GET",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
        [
            head(
                200,
                [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"content-length", b"0")],
            ),
            KEEP,
        ],
    ),
    (
        "obs-text (bytes >= 0x80) allowed in values",
        b"GET",
        b"HTTP/1.1 200 OK\r\nX-L: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"x-l", b"caf\xc3\xa9"), (b"content-length", b"0")]), KEEP],
    ),
    (
        "status line without reason",
        b"GET",
        b"HTTP/1.1 204\r\n\r\n",
        [head(204, [], reason=b""), KEEP],
    ),
    (
        "status line with empty reason",
        b"GET",
        b"HTTP/1.1 204 \r\n\r\n",
        [head(204, [], reason=b""), KEEP],
    ),
    (
        "reason with spaces",
        b"GET",
        b"HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n",
        [head(404, [(b"content-length", b"0")], reason=b"Not Found Here"), KEEP],
    ),
    (
        "chunked body with extensions and trailers",
        b"GET",
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5;ext=1;q="a b"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n'
        ),
        [
            head(200, [(b"transfer-encoding", b"chunked")]),
            Data(b"hello"),
            Data(b" world"),
            EndOfMessage(((b"x-sum", b"42"),), True),
        ],
    ),
    (
        "chunk size in upper and lower hex",
        b"GET",
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\na\r\n"
            b"abcdefghij\r\n0\r\n\r\n"
        ),
        [
            head(200, [(b"transfer-encoding", b"chunked")]),
            Data(b"0123456789"),
            Data(b"abcdefghij"),
            KEEP,
        ],
    ),
    (
        "transfer codings are case-insensitive",
        b"GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n0\r\n\r\n",
        [head(200, [(b"transfer-encoding", b"gzip, CHUNKED")]), KEEP],
    ),
    (
        "identical Content-Length repeats collapse",
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        [head(200, [(b"content-length", b"3"), (b"content-length", b"3")]), Data(b"abc"), KEEP],
    ),
    (
        "Content-Length list of identical values collapses",
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
        [head(200, [(b"content-length", b"3, 3")]), Data(b"abc"), KEEP],
    ),
    (
        "HEAD: no body whatever Content-Length says",
        b"HEAD",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        [head(200, [(b"content-length", b"1000")]), KEEP],
    ),
    (
        "HEAD: no body even when chunked is announced",
        b"HEAD",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        [head(200, [(b"transfer-encoding", b"chunked")]), KEEP],
    ),
    (
        "204: Content-Length ignored",
        b"GET",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        [head(204, [(b"content-length", b"10")], reason=b"No Content"), KEEP],
    ),
    (
        "304: Content-Length ignored",
        b"GET",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        [head(304, [(b"content-length", b"10")], reason=b"Not Modified"), KEEP],
    ),
    (
        "100 Continue then the final response",
        b"POST",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        [
            InformationalResponse(100, b"Continue", b"1.1", []),
            head(200, [(b"content-length", b"2")]),
            Data(b"ok"),
            KEEP,
        ],
    ),
    (
        "103 Early Hints with headers, then the final response",
        b"GET",
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        ),
        [
            InformationalResponse(
                103, b"Early Hints", b"1.1", [(b"link", b"</s.css>; rel=preload")]
            ),
            head(200, [(b"content-length", b"0")]),
            KEEP,
        ],
    ),
    (
        "Connection: close is honoured",
        b"GET",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        [head(200, [(b"connection", b"close"), (b"content-length", b"1")]), Data(b"x"), CLOSE],
    ),
    (
        "Connection close among other options, any case",
        b"GET",
        b"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"connection", b"Upgrade, CLOSE"), (b"content-length", b"0")]), CLOSE],
    ),
    (
        "HTTP/1.0 with keep-alive is reusable",
        b"GET",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        [
            ResponseHead(
                200, b"OK", b"1.0", [(b"connection", b"keep-alive"), (b"content-length", b"0")]
            ),
            KEEP,
        ],
    ),
    (
        "HTTP/1.0 without keep-alive is not",
        b"GET",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        [ResponseHead(200, b"OK", b"1.0", [(b"content-length", b"0")]), CLOSE],
    ),
    (
        "HTTP/1.x minor versions above 1 read as 1.1",
        b"GET",
        b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"content-length", b"0")]), KEEP],
    ),
    (
        "Content-Length: 0 ends the message at once",
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        [head(200, [(b"content-length", b"0")]), KEEP],
    ),
    (
        "101 Switching Protocols ends HTTP/1.1 on the connection",
        b"GET",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        [
            head(
                101,
                [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")],
                reason=b"Switching Protocols",
            ),
            CLOSE,
        ],
    ),
    (
        "2xx to CONNECT makes a tunnel, body framing ignored",
        b"CONNECT",
        b"HTTP/1.1 200 Connection Established\r\nContent-Length: 5\r\n\r\n",
        [head(200, [(b"content-length", b"5")], reason=b"Connection Established"), CLOSE],
    ),
    (
        "non-2xx to CONNECT is an ordinary response",
        b"CONNECT",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno",
        [
            head(407, [(b"content-length", b"2")], reason=b"Proxy Authentication Required"),
            Data(b"no"),
            KEEP,
        ],
    ),
]


VALID_PARAMS = pytest.mark.parametrize(
    ("method", "data", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID]
)


@VALID_PARAMS
def test_valid_response(method: bytes, data: bytes, expected: list[Event]) -> None:
    """Each valid response parses to exactly these events, in one call."""
    assert parse(data, method) == expected


@VALID_PARAMS
def test_valid_response_byte_by_byte(method: bytes, data: bytes, expected: list[Event]) -> None:
    """Fed one byte at a time, the same events come out (Data pieces joined)."""
    parser = hp.ResponseParser()
    parser.start(method)
    events: list[Event] = []
    for i in range(len(data)):
        events += parser.feed(data[i : i + 1])
    assert joined(events) == joined(expected)


# ---------------------------------------------------------------- close-delimited bodies


def test_body_without_length_runs_until_close() -> None:
    """No Content-Length and no Transfer-Encoding: the body ends at EOF (§6.3 rule 8)."""
    events = parse(b"HTTP/1.1 200 OK\r\n\r\nall of this", eof=True)
    assert events == [head(200, []), Data(b"all of this"), CLOSE]


def test_non_chunked_final_coding_runs_until_close() -> None:
    """Transfer-Encoding whose final coding is not chunked is read until close (§6.3 rule 4)."""
    events = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b", eof=True)
    assert events == [head(200, [(b"transfer-encoding", b"gzip")]), Data(b"\x1f\x8b"), CLOSE]


def test_close_delimited_body_is_never_reusable() -> None:
    """A body delimited by close makes the connection not reusable, even with keep-alive."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nx")
    assert parser.feed_eof() == [CLOSE]
    assert not parser.keep_alive
    assert parser.state is ParserState.CLOSED


# ---------------------------------------------------------------- rejections

REJECT: list[tuple[str, bytes, str]] = [
    (
        "Content-Length with Transfer-Encoding",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "both Content-Length and Transfer-Encoding",
    ),
    (
        "Transfer-Encoding before Content-Length",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "both Content-Length and Transfer-Encoding",
    ),
    (
        "differing Content-Length fields",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "conflicting Content-Length",
    ),
    (
        "differing Content-Length list",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
        "conflicting Content-Length",
    ),
    (
        "empty Content-Length element",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\n",
        "empty element in Content-Length",
    ),
    (
        "Content-Length with a sign",
        b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n",
        "not a decimal number",
    ),
    (
        "Content-Length in hex",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x3\r\n\r\n",
        "not a decimal number",
    ),
    (
        "negative Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "not a decimal number",
    ),
    (
        "Content-Length with an underscore",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n",
        "not a decimal number",
    ),
    (
        "non-ASCII digits in Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xd9\xa3\r\n\r\n",
        "not a decimal number",
    ),
    (
        "empty Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "empty element in Content-Length",
    ),
    (
        "Content-Length overflow",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "overflows",
    ),
    (
        "unknown transfer coding",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: bogus\r\n\r\n",
        "unknown transfer coding",
    ),
    (
        "unknown coding before chunked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: bogus, chunked\r\n\r\n",
        "unknown transfer coding",
    ),
    (
        "chunked not final",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "chunked is not the only final coding",
    ),
    (
        "chunked twice",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "chunked is not the only final coding",
    ),
    (
        "empty Transfer-Encoding",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
        "unknown transfer coding",
    ),
    (
        "Transfer-Encoding in HTTP/1.0",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.0",
    ),
    (
        "chunk size not hex",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "invalid chunk-size line",
    ),
    (
        "chunk size with 0x prefix",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n",
        "invalid chunk-size line",
    ),
    (
        "chunk size with a sign",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n",
        "invalid chunk-size line",
    ),
    (
        "empty chunk size",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n",
        "invalid chunk-size line",
    ),
    (
        "chunk size with trailing whitespace and no extension",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n",
        "invalid chunk-size line",
    ),
    (
        "chunk size over 16 hex digits",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n",
        "invalid chunk-size line",
    ),
    (
        "malformed chunk extension",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n",
        "invalid chunk-size line",
    ),
    (
        "chunk data not followed by CRLF",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        "not followed by CRLF",
    ),
    (
        "chunk data followed by CR and garbage",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n",
        "not followed by CRLF",
    ),
    (
        "chunk-size line too long",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=" + b"b" * 5000 + b"\r\n",
        "chunk-size line larger than",
    ),
    (
        "chunk-size line too long before its CRLF arrived",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=" + b"b" * 5000,
        "chunk-size line larger than",
    ),
    (
        "bare LF in a chunk-size line",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n",
        "bare LF",
    ),
    (
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
        "obsolete line folding",
    ),
    (
        "obs-fold with a tab",
        b"HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\nContent-Length: 0\r\n\r\n",
        "obsolete line folding",
    ),
    (
        "space between name and colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
        "whitespace between field name and colon",
    ),
    (
        "tab between name and colon",
        b"HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n",
        "whitespace between field name and colon",
    ),
    (
        "NUL in a value",
        b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
        "NUL",
    ),
    (
        "bare CR in a value",
        b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n",
        "bare CR",
    ),
    (
        "bare LF inside a value",
        b"HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 0\r\n\r\n",
        "bare LF",
    ),
    (
        "other control byte in a value",
        b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n",
        "control character",
    ),
    (
        "DEL in a value",
        b"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n",
        "control character",
    ),
    (
        "line without a colon",
        b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n",
        "without a colon",
    ),
    (
        "empty field name",
        b"HTTP/1.1 200 OK\r\n: value\r\nContent-Length: 0\r\n\r\n",
        "empty field name",
    ),
    (
        "invalid byte in a field name",
        b"HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 0\r\n\r\n",
        "invalid character",
    ),
    (
        "bare LF line endings throughout",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "bare LF",
    ),
    (
        "bare LF ending one header line",
        b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n",
        "bare LF",
    ),
    (
        "bare LF ending the status line",
        b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "bare LF",
    ),
    (
        "HTTP/2.0 status line",
        b"HTTP/2.0 200 OK\r\n\r\n",
        "unsupported HTTP version",
    ),
    (
        "HTTP/0.9 status line",
        b"HTTP/0.9 200 OK\r\n\r\n",
        "unsupported HTTP version",
    ),
    (
        "lower-case protocol name",
        b"http/1.1 200 OK\r\n\r\n",
        "no HTTP-version",
    ),
    (
        "two-digit status",
        b"HTTP/1.1 20 OK\r\n\r\n",
        "malformed status line",
    ),
    (
        "four-digit status",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        "malformed status line",
    ),
    (
        "status below 100",
        b"HTTP/1.1 099 Odd\r\n\r\n",
        "out of range",
    ),
    (
        "two spaces after the version",
        b"HTTP/1.1  200 OK\r\n\r\n",
        "malformed status line",
    ),
    (
        "control byte in the reason",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        "malformed status line",
    ),
    (
        "stray CRLF before the status line",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        "empty status line",
    ),
    (
        "garbage instead of a response",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        "no HTTP-version",
    ),
]


@pytest.mark.parametrize(("data", "reason"), [c[1:] for c in REJECT], ids=[c[0] for c in REJECT])
def test_rejected(data: bytes, reason: str) -> None:
    """Each malformed or ambiguous response raises RemoteProtocolError saying why."""
    with pytest.raises(RemoteProtocolError, match=reason):
        parse(data)


@pytest.mark.parametrize(("data", "reason"), [c[1:] for c in REJECT], ids=[c[0] for c in REJECT])
def test_rejected_byte_by_byte(data: bytes, reason: str) -> None:
    """The same rejection happens however the bytes are split."""
    parser = hp.ResponseParser()
    parser.start(b"GET")

    def feed_bytewise() -> None:
        for i in range(len(data)):
            parser.feed(data[i : i + 1])

    with pytest.raises(RemoteProtocolError, match=reason):
        feed_bytewise()
    assert parser.state is ParserState.ERROR


def test_bare_lf_is_rejected_before_the_head_completes() -> None:
    """A bare LF fails at once, not after waiting for a CRLF CRLF that never comes."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError, match="bare LF"):
        parser.feed(b"HTTP/1.1 200 OK\nContent-Length: 0\n")


# ---------------------------------------------------------------- limits


def test_head_larger_than_the_limit() -> None:
    """A head over max_head_size is rejected, even before it is complete."""
    parser = hp.ResponseParser(max_head_size=1024)
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError, match="response head larger than 1024"):
        parser.feed(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2000)


def test_complete_head_larger_than_the_limit() -> None:
    """A complete head over the limit is rejected too."""
    parser = hp.ResponseParser(max_head_size=1024)
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError, match="response head larger than 1024"):
        parser.feed(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")


def test_default_head_limit_is_64_kib() -> None:
    """64 KiB of head is accepted and a byte more is not."""
    filler = b"HTTP/1.1 200 OK\r\nX-Big: \r\nContent-Length: 0\r\n\r\n"
    value = b"a" * (64 * 1024 - len(filler))
    ok = b"HTTP/1.1 200 OK\r\nX-Big: " + value + b"\r\nContent-Length: 0\r\n\r\n"
    assert len(ok) == hp.DEFAULT_MAX_HEAD_SIZE
    assert parse(ok)[-1] == KEEP
    with pytest.raises(RemoteProtocolError, match="larger than"):
        parse(ok.replace(b"X-Big: ", b"X-Big: a"))


def test_too_many_headers() -> None:
    """More fields than max_headers are rejected."""
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(129))
    with pytest.raises(RemoteProtocolError, match="more than 128 fields"):
        parse(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n")
    at_limit = fields[: fields.index(b"X-128")]
    assert parse(b"HTTP/1.1 204 OK\r\n" + at_limit + b"\r\n")[-1] == KEEP


def test_trailer_section_limits() -> None:
    """Trailers obey the same size and count limits as headers."""
    parser = hp.ResponseParser(max_headers=2)
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError, match="more than 2 fields"):
        parser.feed(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"
        )


def test_invalid_trailer_is_rejected() -> None:
    """A malformed trailer line is rejected like a malformed header line."""
    with pytest.raises(RemoteProtocolError, match="whitespace between field name"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad : 1\r\n\r\n")


@pytest.mark.parametrize("limit", ["max_head_size", "max_headers", "max_chunk_line_size"])
def test_limits_are_validated(limit: str) -> None:
    """Limits must be positive ints: ValueError / TypeError at construction."""
    with pytest.raises(ValueError, match=limit):
        hp.ResponseParser(**{limit: 0})
    with pytest.raises(TypeError, match=limit):
        hp.ResponseParser(**{limit: 1.5})  # type: ignore[arg-type]


# ---------------------------------------------------------------- keep-alive and state


def test_keep_alive_responses_in_sequence() -> None:
    """Bytes after one message stay buffered and parse after the next start()."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"
    two = one + b"a" + one + b"b"
    assert parser.feed(two) == [head(200, [(b"content-length", b"1")]), Data(b"a"), KEEP]
    assert parser.state is ParserState.DONE
    assert parser.trailing_data == b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"
    parser.start(b"GET")
    assert parser.feed(b"") == [head(200, [(b"content-length", b"1")]), Data(b"b"), KEEP]
    assert parser.trailing_data == b""


def test_trailing_data_after_the_message_is_visible() -> None:
    """Unrequested bytes after a response are reported, never parsed as this one."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokSMUGGLED")
    assert parser.trailing_data == b"SMUGGLED"
    parser.feed(b" more")
    assert parser.trailing_data == b"SMUGGLED more"


def test_start_refused_after_connection_close() -> None:
    """A response that ended the connection's reuse refuses another start()."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert not parser.keep_alive
    with pytest.raises(hp.LocalProtocolError, match="reusing"):
        parser.start(b"GET")


def test_start_refused_mid_response() -> None:
    """start() while a response is in progress is a LocalProtocolError."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    with pytest.raises(hp.LocalProtocolError, match="state BODY"):
        parser.start(b"GET")


@pytest.mark.parametrize("method", [b"", b"G T", b"GET\r\n", "GET"])
def test_start_rejects_a_non_token_method(method: bytes) -> None:
    """The method must be a non-empty token given as bytes."""
    with pytest.raises(hp.LocalProtocolError, match="not a token"):
        hp.ResponseParser().start(method)


def test_errors_are_terminal() -> None:
    """After a protocol error, every further feed raises and keep_alive is False."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    assert parser.state is ParserState.ERROR
    assert not parser.keep_alive
    with pytest.raises(hp.LocalProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(hp.LocalProtocolError):
        parser.feed_eof()


def test_switched_protocol_keeps_the_following_bytes() -> None:
    """After 101, the bytes that follow belong to the new protocol, untouched."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n\x81\x05hello")
    assert parser.state is ParserState.SWITCHED
    assert parser.trailing_data == b"\x81\x05hello"
    assert parser.feed(b"more") == []
    assert parser.trailing_data == b"\x81\x05hellomore"


def test_bytearray_and_memoryview_input() -> None:
    """Any bytes-like input works; events always carry bytes."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    events = parser.feed(bytearray(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"))
    events += parser.feed(memoryview(b"hi"))
    assert events == [head(200, [(b"content-length", b"2")]), Data(b"hi"), KEEP]
    assert type(events[1]) is Data
    assert type(events[1].data) is bytes


# ---------------------------------------------------------------- EOF


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "before the response arrived"),
        (b"HTTP/1.1 200 OK\r\nContent-", "in the middle of the response head"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "3 bytes of the body missing"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "chunked body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "chunked body"),
    ],
)
def test_premature_close(data: bytes, reason: str) -> None:
    """A close inside a response raises RemoteProtocolError saying where."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(data)
    with pytest.raises(RemoteProtocolError, match=reason):
        parser.feed_eof()
    assert parser.state is ParserState.CLOSED


def test_close_between_responses_is_clean() -> None:
    """EOF after a complete response is not an error and yields no event."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.feed_eof() == []
    assert parser.state is ParserState.CLOSED


# ---------------------------------------------------------------- h11's shape


def test_next_event_api() -> None:
    """receive_data + next_event return one event at a time, then NEED_DATA / PAUSED."""
    parser = hp.ResponseParser()
    assert parser.next_event() is hp.PAUSED
    parser.start(b"GET")
    assert parser.next_event() is hp.NEED_DATA
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nh")
    assert parser.next_event() == head(200, [(b"content-length", b"2")])
    assert parser.next_event() == Data(b"h")
    assert parser.next_event() is hp.NEED_DATA
    parser.receive_data(b"i")
    assert parser.next_event() == Data(b"i")
    assert parser.next_event() == KEEP
    assert parser.next_event() is hp.PAUSED


def test_next_event_eof_ends_a_close_delimited_body() -> None:
    """receive_data(b"") is EOF for next_event(), as in h11."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.receive_data(b"HTTP/1.0 200 OK\r\n\r\nbody")
    parser.receive_data(b"")
    events = [parser.next_event() for _ in range(4)]
    assert events == [
        ResponseHead(200, b"OK", b"1.0", []),
        Data(b"body"),
        CLOSE,
        hp.PAUSED,
    ]


def test_next_event_eof_inside_a_body_raises() -> None:
    """EOF inside a Content-Length body raises from next_event()."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab")
    parser.receive_data(b"")
    assert type(parser.next_event()) is ResponseHead
    assert parser.next_event() == Data(b"ab")
    with pytest.raises(RemoteProtocolError, match="body missing"):
        parser.next_event()


def test_protocol_error_cannot_be_raised_directly() -> None:
    """ProtocolError is an abstract base: only its two subclasses can be raised."""
    with pytest.raises(TypeError):
        hp.ProtocolError("x")
    assert issubclass(hp.LocalProtocolError, hp.ProtocolError)
    assert issubclass(RemoteProtocolError, hp.ProtocolError)


def test_line_cache_stays_bounded() -> None:
    """Thousands of distinct field lines never grow the shared cache past its bound."""
    from hyperhttp_parser import _readers

    parser = hp.ResponseParser()
    for i in range(5000):
        parser.start(b"GET")
        parser.feed(b"HTTP/1.1 200 OK\r\nX-Id: %d\r\nContent-Length: 0\r\n\r\n" % i)
    assert len(_readers._LINE_CACHE) <= _readers._LINE_CACHE_MAX_ENTRIES


def test_long_lines_are_not_cached() -> None:
    """A line longer than the cache's line bound is parsed but not remembered."""
    from hyperhttp_parser import _readers

    line = b"X-Long: " + b"v" * 400
    parse(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")
    assert line not in _readers._LINE_CACHE


# ---------------------------------------------------------------- trickled heads


def test_large_head_trickled_one_byte_at_a_time() -> None:
    """A 60 KiB head fed byte by byte parses (pieces are collected, not rescanned)."""
    big = b"v" * (60 * 1024)
    data = b"HTTP/1.1 200 OK\r\nX-Big: " + big + b"\r\nContent-Length: 2\r\n\r\nok"
    parser = hp.ResponseParser()
    parser.start(b"GET")
    events: list[Event] = []
    for i in range(len(data)):
        events += parser.feed(data[i : i + 1])
    expected = [head(200, [(b"x-big", big), (b"content-length", b"2")]), Data(b"ok"), KEEP]
    assert joined(events) == expected


def test_trickled_head_over_the_limit() -> None:
    """A head trickled past max_head_size fails once the limit is crossed."""
    parser = hp.ResponseParser(max_head_size=100)
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nX-A: ")
    with pytest.raises(RemoteProtocolError, match="response head larger than 100"):
        feed_all(parser, [b"a"] * 200)
    assert parser.state is ParserState.ERROR


@pytest.mark.parametrize(
    "pieces",
    [
        [b"HTTP/1.1 200 OK\r\nX-A: 1", b"\nX-B: 2\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nX-A: 1", b"2", b"\n", b"X-B: 2\r\n\r\n"],
    ],
)
def test_bare_lf_across_pieces(pieces: list[bytes]) -> None:
    """A bare LF is caught even when it arrives in a later piece than its line."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    with pytest.raises(RemoteProtocolError, match="bare LF"):
        feed_all(parser, pieces)


def test_crlf_split_across_pieces_is_fine() -> None:
    """CR at the end of one piece and LF at the start of the next is a CRLF."""
    parser = hp.ResponseParser()
    parser.start(b"GET")
    events: list[Event] = []
    for piece in [b"HTTP/1.1 200 OK\r", b"\nX-A: 1\r", b"\n", b"\r", b"\n"]:
        events += parser.feed(piece)
    assert events == [head(200, [(b"x-a", b"1")])]


def test_trickled_trailers() -> None:
    """A trailer section trickled byte by byte parses like one fed whole."""
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"1\r\na\r\n0\r\nX-One: 1\r\nX-Two: 2\r\n\r\n"
    )
    parser = hp.ResponseParser()
    parser.start(b"GET")
    events: list[Event] = []
    for i in range(len(data)):
        events += parser.feed(data[i : i + 1])
    assert events[-1] == EndOfMessage(((b"x-one", b"1"), (b"x-two", b"2")), True)
