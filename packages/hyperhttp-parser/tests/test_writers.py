"""Request serialisation: validation before any byte, framing owned by the writer."""

from __future__ import annotations

import pytest

import hyperhttp_parser as hp
from hyperhttp_parser import BodyWriter, LocalProtocolError

HOST = [(b"Host", b"example.com")]


def test_request_without_body() -> None:
    """body=None: request line, headers in order, no framing field."""
    wire = hp.serialize_request(b"GET", b"/a?b=1", [*HOST, (b"Accept", b"*/*")])
    assert wire == b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"


def test_request_with_body() -> None:
    """A bytes body gets Content-Length and follows the head."""
    wire = hp.serialize_request(b"POST", b"/", HOST, b"hello")
    assert wire == b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"


def test_request_with_empty_body() -> None:
    """An empty bytes body still says Content-Length: 0 (a POST with no content)."""
    wire = hp.serialize_request(b"POST", b"/", HOST, b"")
    assert wire == b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"


def test_chunked_head() -> None:
    """chunked=True adds Transfer-Encoding: chunked."""
    wire = hp.serialize_request_head(b"PUT", b"/u", HOST, chunked=True)
    assert wire == b"PUT /u HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_empty_header_value() -> None:
    """An empty value is valid (field-value = *field-content)."""
    assert b"X-Empty: \r\n" in hp.serialize_request(b"GET", b"/", [*HOST, (b"X-Empty", b"")])


def test_header_value_with_htab_and_obs_text() -> None:
    """HTAB and bytes >= 0x80 are allowed inside values."""
    wire = hp.serialize_request(b"GET", b"/", [*HOST, (b"X-A", b"a\tb\xc3\xa9")])
    assert b"X-A: a\tb\xc3\xa9\r\n" in wire


def test_authority_and_asterisk_targets() -> None:
    """CONNECT's authority-form and OPTIONS' asterisk-form are valid targets."""
    assert hp.serialize_request(b"CONNECT", b"example.com:443", HOST).startswith(
        b"CONNECT example.com:443 HTTP/1.1\r\n"
    )
    assert hp.serialize_request(b"OPTIONS", b"*", HOST).startswith(b"OPTIONS * HTTP/1.1\r\n")


INVALID: list[tuple[str, bytes, bytes, list[tuple[bytes, bytes]], str]] = [
    ("empty method", b"", b"/", HOST, "method b'' is not a token"),
    ("space in method", b"G ET", b"/", HOST, "is not a token"),
    ("CRLF in method", b"GET\r\n", b"/", HOST, "is not a token"),
    ("empty target", b"GET", b"", HOST, "request target"),
    ("space in target", b"GET", b"/a b", HOST, "request target"),
    ("CRLF in target", b"GET", b"/a\r\nX: y", HOST, "request target"),
    ("tab in target", b"GET", b"/a\tb", HOST, "request target"),
    ("NUL in target", b"GET", b"/a\x00", HOST, "request target"),
    ("non-ASCII in target", b"GET", b"/caf\xc3\xa9", HOST, "request target"),
    ("no headers", b"GET", b"/", [], "no Host header"),
    ("no Host", b"GET", b"/", [(b"Accept", b"*/*")], "exactly one Host header, has 0"),
    ("two Hosts", b"GET", b"/", [*HOST, (b"host", b"other")], "exactly one Host header, has 2"),
    ("empty name", b"GET", b"/", [*HOST, (b"", b"v")], "empty field name"),
    ("space in name", b"GET", b"/", [*HOST, (b"X A", b"v")], "invalid character"),
    ("colon in name", b"GET", b"/", [*HOST, (b"X:A", b"v")], "invalid character"),
    ("trailing space in name", b"GET", b"/", [*HOST, (b"X-A ", b"v")], "whitespace between"),
    ("CRLF in name", b"GET", b"/", [*HOST, (b"X\r\nY", b"v")], "invalid character"),
    ("CR in value", b"GET", b"/", [*HOST, (b"X-A", b"a\rb")], "CR"),
    ("LF in value", b"GET", b"/", [*HOST, (b"X-A", b"a\nb")], "LF"),
    ("header injection", b"GET", b"/", [*HOST, (b"X-A", b"a\r\nEvil: 1")], "CR"),
    ("NUL in value", b"GET", b"/", [*HOST, (b"X-A", b"a\x00b")], "NUL"),
    ("other CTL in value", b"GET", b"/", [*HOST, (b"X-A", b"a\x1bb")], "control character"),
    ("DEL in value", b"GET", b"/", [*HOST, (b"X-A", b"a\x7fb")], "control character"),
    ("leading space in value", b"GET", b"/", [*HOST, (b"X-A", b" a")], "leading or trailing"),
    ("trailing tab in value", b"GET", b"/", [*HOST, (b"X-A", b"a\t")], "leading or trailing"),
    ("value of one space", b"GET", b"/", [*HOST, (b"X-A", b" ")], "leading or trailing"),
    (
        "Content-Length as a header",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"5")],
        "set by content_length= or chunked=",
    ),
    (
        "Transfer-Encoding as a header",
        b"POST",
        b"/",
        [*HOST, (b"transfer-encoding", b"chunked")],
        "set by content_length= or chunked=",
    ),
]


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [c[1:] for c in INVALID],
    ids=[c[0] for c in INVALID],
)
def test_invalid_request_is_refused(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    """Each invalid part raises LocalProtocolError naming it, before any byte is made."""
    with pytest.raises(LocalProtocolError, match=message):
        hp.serialize_request(method, target, headers, b"body")


def test_error_names_the_offending_field() -> None:
    """The message names which field was invalid, not just that one was."""
    with pytest.raises(LocalProtocolError, match="X-Bad"):
        hp.serialize_request(b"GET", b"/", [*HOST, (b"X-Ok", b"1"), (b"X-Bad", b"a\x00")])


def test_content_length_and_chunked_are_exclusive() -> None:
    """Asking for both framings is an error."""
    with pytest.raises(LocalProtocolError, match="mutually exclusive"):
        hp.serialize_request_head(b"POST", b"/", HOST, content_length=3, chunked=True)


def test_negative_content_length() -> None:
    """A negative content_length is refused."""
    with pytest.raises(LocalProtocolError, match=">= 0"):
        hp.serialize_request_head(b"POST", b"/", HOST, content_length=-1)


def test_non_int_content_length() -> None:
    """content_length must be an int (not a bool, not a str)."""
    with pytest.raises(TypeError):
        hp.serialize_request_head(b"POST", b"/", HOST, content_length="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hp.serialize_request_head(b"POST", b"/", HOST, content_length=True)


# ---------------------------------------------------------------- BodyWriter


def test_chunked_body_writer() -> None:
    """Each piece becomes one chunk; end() writes the last chunk."""
    writer = BodyWriter()
    assert writer.chunked
    assert writer.write(b"hello") == b"5\r\nhello\r\n"
    assert writer.write(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert writer.end() == b"0\r\n\r\n"


def test_chunked_empty_piece_writes_nothing() -> None:
    """An empty piece must not be written as a chunk: it would end the body."""
    assert BodyWriter().write(b"") == b""


def test_chunked_trailers() -> None:
    """Trailers follow the last chunk."""
    writer = BodyWriter()
    assert writer.end([(b"X-Checksum", b"abc")]) == b"0\r\nX-Checksum: abc\r\n\r\n"


@pytest.mark.parametrize("name", [b"Content-Length", b"transfer-encoding", b"Host", b"Trailer"])
def test_forbidden_trailers(name: bytes) -> None:
    """Framing and routing fields are refused in a trailer section (RFC 9110 §6.5.1)."""
    with pytest.raises(LocalProtocolError, match="not allowed in a trailer"):
        BodyWriter().end([(name, b"1")])


def test_invalid_trailer_value() -> None:
    """Trailer values are validated like header values."""
    with pytest.raises(LocalProtocolError, match="trailer: CR"):
        BodyWriter().end([(b"X-A", b"a\r\nb")])


def test_content_length_writer_passes_pieces_through() -> None:
    """With a Content-Length, pieces pass unchanged and end() adds nothing."""
    writer = BodyWriter(content_length=10)
    assert not writer.chunked
    assert writer.write(b"hello") == b"hello"
    assert writer.write(b"world") == b"world"
    assert writer.end() == b""


def test_content_length_writer_refuses_too_much() -> None:
    """Writing past the declared length raises, and the writer is then closed."""
    writer = BodyWriter(content_length=3)
    with pytest.raises(LocalProtocolError, match="2 bytes too many"):
        writer.write(b"hello")
    with pytest.raises(LocalProtocolError, match="already ended"):
        writer.write(b"a")


def test_content_length_writer_refuses_too_little() -> None:
    """Ending before the declared length raises: nothing is half-sent silently."""
    writer = BodyWriter(content_length=5)
    writer.write(b"he")
    with pytest.raises(LocalProtocolError, match="3 bytes short"):
        writer.end()


def test_content_length_writer_refuses_trailers() -> None:
    """Trailers need chunked framing."""
    with pytest.raises(LocalProtocolError, match="trailers need a chunked body"):
        BodyWriter(content_length=0).end([(b"X-A", b"1")])


def test_writer_refuses_use_after_end() -> None:
    """After end(), the writer refuses more."""
    writer = BodyWriter()
    writer.end()
    with pytest.raises(LocalProtocolError, match="already ended"):
        writer.write(b"x")
    with pytest.raises(LocalProtocolError, match="already ended"):
        writer.end()


def test_writer_validates_content_length() -> None:
    """BodyWriter's content_length must be a non-negative int."""
    with pytest.raises(ValueError, match=">= 0"):
        BodyWriter(content_length=-1)
    with pytest.raises(TypeError):
        BodyWriter(content_length=1.0)  # type: ignore[arg-type]
