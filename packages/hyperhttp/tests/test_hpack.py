"""Our HPACK codec against the hpack library (RFC 7541), both directions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import hpack
import pytest
from hpack.exceptions import HPACKDecodingError, HPACKError, OversizedHeaderListError
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp._http2.hpack_codec import Decoder, Encoder, decode_integer, encode_integer

if TYPE_CHECKING:
    from collections.abc import Callable

_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)
_VALUE = st.binary(max_size=60).filter(lambda v: b"\r" not in v and b"\n" not in v)
_STATIC_NAMES = st.sampled_from(
    [b":path", b":authority", b"user-agent", b"accept", b"content-type", b"cookie", b"date"]
)
_NAME = st.one_of(_TOKEN.map(str.encode), _STATIC_NAMES)
_FIELDS = st.lists(st.tuples(_NAME, _VALUE), max_size=12)


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=1, max_value=8))
def test_integers_round_trip(value: int, prefix: int) -> None:
    encoded = bytes(encode_integer(value, prefix))
    assert decode_integer(encoded, 0, prefix) == (value, len(encoded))


@settings(max_examples=200)
@given(st.lists(_FIELDS, min_size=1, max_size=5), st.booleans())
def test_decoder_reads_what_hpack_writes(
    blocks: list[list[tuple[bytes, bytes]]], huff: bool
) -> None:
    """Hpack's encoder (dynamic table, Huffman or not) -> our decoder, block after block."""
    theirs = hpack.Encoder()
    ours = Decoder()
    for block in blocks:
        data = theirs.encode(block, huffman=huff)
        assert ours.decode(data) == block


@settings(max_examples=200)
@given(st.lists(_FIELDS, min_size=1, max_size=5))
def test_hpack_reads_what_our_encoder_writes(blocks: list[list[tuple[bytes, bytes]]]) -> None:
    """Our encoder -> hpack's decoder (and ours), block after block."""
    ours = Encoder()
    theirs = hpack.Decoder()
    mine = Decoder()
    for block in blocks:
        data = ours.encode(block)
        assert [tuple(h) for h in theirs.decode(data, raw=True)] == block
        assert mine.decode(data) == block


def test_encoder_announces_table_size_zero_and_never_indexes_secrets() -> None:
    encoder = Encoder()
    first = encoder.encode([(b":method", b"GET")])
    assert first == b"\x20\x82"  # size update 0, then static index 2
    assert encoder.encode([(b":method", b"GET")]) == b"\x82"
    encoder.header_table_size = 1024  # the peer changed SETTINGS_HEADER_TABLE_SIZE
    assert encoder.encode([(b":method", b"GET")]) == b"\x20\x82"
    secret = encoder.encode([(b"authorization", b"Bearer x")])
    assert secret[0] & 0xF0 == 0x10  # never indexed
    decoded = list(hpack.Decoder().decode(secret, raw=True))
    assert isinstance(decoded[0], hpack.NeverIndexedHeaderTuple)


@pytest.mark.parametrize(
    "data",
    [
        b"\x80",  # index 0
        b"\xff\x80",  # index past every table
        b"\x00\x05ab",  # name string runs past the end
        b"\x40\x01a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # integer too large
        b"\x82\x20",  # size update after a field
        b"\x3f\xe2\x1f",  # size update to 4097, above the limit (4096)
        b"\x00\x81\xff",  # Huffman string with an invalid code (EOS)
    ],
)
def test_malformed_blocks_raise_hpack_errors(data: bytes) -> None:
    with pytest.raises(HPACKError):
        Decoder().decode(data)


def test_header_list_size_is_bounded() -> None:
    decoder = Decoder()
    decoder.max_header_list_size = 100
    data = hpack.Encoder().encode([(b"x-a", b"a" * 50), (b"x-b", b"b" * 50)])
    with pytest.raises(OversizedHeaderListError):
        decoder.decode(data)


def test_dynamic_table_eviction_matches_hpack() -> None:
    """A small table: entries evicted oldest first, indices shift as hpack's do."""
    theirs = hpack.Encoder()
    theirs.header_table_size = 100
    ours = Decoder()
    ours.max_allowed_table_size = 4096
    for i in range(30):
        block = [(b"x-field-%d" % (i % 7), b"v" * (i % 11)), (b"x-fixed", b"same")]
        assert ours.decode(theirs.encode(block)) == block
    assert ours._dynamic_size <= 100


def test_invalid_huffman_is_a_decoding_error() -> None:
    with pytest.raises(HPACKDecodingError):
        Decoder().decode(b"\x00\x81\xff\x00")


@settings(max_examples=200)
@given(st.lists(st.sampled_from(range(4)), min_size=1, max_size=30), st.integers(60, 400))
def test_block_cache_keeps_the_table_in_step(picks: list[int], table: int) -> None:
    """Blocks seen before (served from the cache) leave the table as decoding them would."""
    shapes = [
        [(b"server", b"nginx"), (b"date", b"Mon, 23 Nov 2026 10:00:00 GMT")],
        [(b"content-type", b"text/plain"), (b"x-long", b"v" * 40)],
        [(b"x-other", b"1"), (b"server", b"nginx")],
        [(b":status", b"200")],
    ]
    theirs = hpack.Encoder()
    theirs.header_table_size = table
    reference = hpack.Decoder()
    reference.max_allowed_table_size = 4096
    ours = Decoder()
    for pick in picks:
        block = theirs.encode(shapes[pick])
        assert ours.decode(block) == [tuple(h) for h in reference.decode(block, raw=True)]
        assert list(ours._dynamic) == list(reference.header_table.dynamic_entries)


_MARK = (b":oversized", b"")


@settings(max_examples=150)
@given(
    st.lists(
        st.lists(st.tuples(_NAME, st.binary(max_size=200)), max_size=8), min_size=1, max_size=6
    ),
    st.integers(40, 1500),
    st.booleans(),
)
def test_over_the_limit_the_table_still_follows(
    blocks: list[list[tuple[bytes, bytes]]], limit: int, huff: bool
) -> None:
    """A list over the limit decodes to the marker, and the table stays as hpack's.

    The block is read to its end (strings that fit neither the list nor the
    table are skipped, not decoded), so the next block decodes right.
    """
    theirs = hpack.Encoder()
    reference = hpack.Decoder(max_header_list_size=1 << 30)
    ours = Decoder(oversized=_MARK)
    ours.max_header_list_size = limit
    for block in blocks:
        data = theirs.encode(block, huffman=huff)
        expected = [tuple(h) for h in reference.decode(data, raw=True)]
        size = sum(32 + len(n) + len(v) for n, v in expected)
        assert ours.decode(data) == (expected if size <= limit else [_MARK])
        assert list(ours._dynamic) == list(reference.header_table.dynamic_entries)


def test_a_huffman_string_that_cannot_fit_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Huffman string of n octets decodes to n * 8 / 30 or more: past the room, unread."""
    from hyperhttp._http2 import hpack_codec as _hpack

    decoded: list[int] = []
    real: Callable[[bytes], bytes] = vars(_hpack)["decode_huffman"]  # the name the codec calls

    def spy(raw: bytes) -> bytes:
        decoded.append(len(raw))
        return real(raw)

    monkeypatch.setattr(_hpack, "decode_huffman", spy)
    data = hpack.Encoder().encode([(b"x-big", b"a" * 400_000)], huffman=True)
    ours = Decoder(oversized=_MARK)
    ours.max_header_list_size = 65536
    assert ours.decode(data) == [_MARK]
    # 250 000 octets: 66 666 or more decoded, past 64 KiB: never decoded.
    assert max(decoded) < 100
    small = hpack.Encoder().encode([(b"x-small", b"a" * 100)], huffman=True)
    assert ours.decode(small) == [(b"x-small", b"a" * 100)]
    assert decoded


def test_the_memos_keep_small_strings_only() -> None:
    """Large Huffman strings and large blocks are decoded, never kept (bounded in bytes)."""
    ours = Decoder()
    encoder = hpack.Encoder()
    for i in range(50):
        value = b"%d" % i + b"v" * 5000
        fields = [(b"set-cookie", value)]
        assert ours.decode(encoder.encode(fields, huffman=True)) == fields
    assert sum(len(k) + len(v) for k, v in ours._huffman.items()) < 64 * 1024
    assert sum(len(block) for block in ours._blocks) < 64 * 1024


def test_the_encoder_memo_keeps_small_fields_only() -> None:
    """A new large value per request (a rotating cookie) is encoded, never kept."""
    encoder = Encoder()
    theirs = hpack.Decoder()
    for i in range(300):
        fields = [(b":method", b"GET"), (b"cookie", b"s=%d" % i + b"c" * 4000)]
        assert [tuple(h) for h in theirs.decode(encoder.encode(fields), raw=True)] == fields
    kept = sum(len(n) + len(v) + len(e) for (n, v), e in encoder._memo.items())
    assert kept < 64 * 1024
    assert (b":method", b"GET") in encoder._memo  # small fields still are
