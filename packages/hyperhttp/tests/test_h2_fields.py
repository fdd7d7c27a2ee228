"""check_fields: what an HTTP/2 response head or trailer section may hold (RFC 9113 §8)."""

from __future__ import annotations

import pytest

from hyperhttp._exceptions import RemoteProtocolError
from hyperhttp._http2.fields import CONTENT_LENGTH, check_fields

OK = [(b":status", b"200"), (b"content-type", b"text/plain"), (b"te", b"trailers")]


def test_a_good_head_splits_off_its_status() -> None:
    assert check_fields(OK, head=True) == (200, OK[1:], None)


def test_good_trailers() -> None:
    assert check_fields([(b"x-checksum", b"abc")], head=False) == (
        -1,
        [(b"x-checksum", b"abc")],
        None,
    )


def test_content_length_comes_back_under_its_name() -> None:
    """Our decoder hands content-length over as CONTENT_LENGTH; it returns as a field."""
    status, fields, length = check_fields(
        [(b":status", b"200"), (CONTENT_LENGTH, b"12"), (CONTENT_LENGTH, b"12")], head=True
    )
    assert (status, length) == (200, 12)
    assert fields == [(b"content-length", b"12"), (b"content-length", b"12")]


@pytest.mark.parametrize(
    ("headers", "head"),
    [
        ([(b"content-type", b"x")], True),  # no :status
        ([(b":status", b"200"), (b":status", b"200")], True),  # twice
        ([(b"server", b"x"), (b":status", b"200")], True),  # pseudo after a field
        ([(b":status", b"200"), (b":path", b"/")], True),  # a request pseudo-header
        ([(b":status", b"20")], True),  # not three digits
        ([(b":status", b"2x0")], True),
        ([(b":status", b"000")], True),  # three digits, but not 100-599 (RFC 9110 §15)
        ([(b":status", b"099")], True),
        ([(b":status", b"600")], True),
        ([(b":status", b"\xd9\xa1\xd9")], True),  # not ASCII digits
        ([(b":status", b"200")], False),  # pseudo-header in trailers
        ([(b":status", b"200"), (b"Content-Type", b"x")], True),  # uppercase
        ([(b":status", b"200"), (b"bad name", b"x")], True),
        ([(b":status", b"200"), (b"", b"x")], True),  # empty name
        ([(b":status", b"200"), (b"x", b"a\r\nb: c")], True),  # CR LF
        ([(b":status", b"200"), (b"x", b"a\x00b")], True),  # NUL
        ([(b":status", b"200"), (b"x", b" padded")], True),
        ([(b":status", b"200"), (b"x", b"padded\t")], True),
        ([(b":status", b"200"), (b"connection", b"close")], True),
        ([(b":status", b"200"), (b"transfer-encoding", b"chunked")], True),
        ([(b":status", b"200"), (b"keep-alive", b"timeout=5")], True),
        ([(b":status", b"200"), (b"upgrade", b"h2c")], True),
        ([(b":status", b"200"), (b"te", b"gzip")], True),
        ([(b":status", b"200"), (CONTENT_LENGTH, b"1"), (CONTENT_LENGTH, b"2")], True),
        ([(b":status", b"200"), (CONTENT_LENGTH, b"-1")], True),
        ([(b":status", b"200"), (CONTENT_LENGTH, b"1, 1")], True),
        ([(b":status", b"200"), (b"\x00", b"x")], True),  # a wire field named CONTENT_LENGTH
        ([(b":status", b"200"), (CONTENT_LENGTH, b"9" * 5000)], True),  # int() would refuse
        ([(b":status", b"200"), (CONTENT_LENGTH, b"1" * 20)], True),
    ],
)
def test_malformed_blocks_are_rejected(headers: list[tuple[bytes, bytes]], head: bool) -> None:
    with pytest.raises(RemoteProtocolError):
        check_fields(headers, head=head)


@pytest.mark.parametrize("status", [b"100", b"103", b"200", b"404", b"599"])
def test_statuses_100_to_599(status: bytes) -> None:
    assert check_fields([(b":status", status)], head=True)[0] == int(status)


def test_a_19_digit_content_length_is_fine() -> None:
    length = b"9" * 19
    assert check_fields([(b":status", b"200"), (CONTENT_LENGTH, length)], head=True)[2] == int(
        length
    )
