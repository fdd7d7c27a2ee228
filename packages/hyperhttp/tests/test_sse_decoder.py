"""The event-stream decoder, sans-IO (``_sse.SSEDecoder``): WHATWG HTML §9.2.6, no I/O.

Every sample is also fed split at every byte and one byte at a time: the
events must not depend on where the network cut the stream.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp import ServerSentEvent, SSEDecoder, SSEError


def _events(stream: bytes, *, max_event_size: int = 1 << 20) -> list[ServerSentEvent]:
    decoder = SSEDecoder(max_event_size)
    return decoder.feed(stream)


def _every_split(stream: bytes) -> None:
    whole = _events(stream)
    for cut in range(len(stream) + 1):
        decoder = SSEDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == whole, cut
    decoder = SSEDecoder()
    assert [e for i in range(len(stream)) for e in decoder.feed(stream[i : i + 1])] == whole


SAMPLES = {
    # The spec's examples.
    "stock": (b"data: YHOO\ndata: +2\ndata: 10\n\n", [ServerSentEvent("YHOO\n+2\n10")]),
    "comment and ids": (
        (
            b": test stream\n\ndata: first event\nid: 1\n\n"
            b"data:second event\nid\n\ndata:  third event\n\n"
        ),
        [
            ServerSentEvent("first event", id="1"),
            ServerSentEvent("second event", id=""),
            ServerSentEvent(" third event", id=""),
        ],
    ),
    "empty data": (
        b"data\n\ndata\ndata\n\ndata:",
        [ServerSentEvent(""), ServerSentEvent("\n")],  # the last, unended, is dropped
    ),
    "same two": (
        b"data:test\n\ndata: test\n\n",
        [ServerSentEvent("test"), ServerSentEvent("test")],
    ),
    "types and retry": (
        b"event: add\ndata: 73857293\nretry: 2500\n\nevent: remove\ndata: 2153\n\n",
        [ServerSentEvent("73857293", "add", retry=2500), ServerSentEvent("2153", "remove")],
    ),
    "line ends": (
        b"data: a\r\ndata: b\rdata: c\n\r\nid: 7\r\rdata: d\r\n\r\n",
        [ServerSentEvent("a\nb\nc"), ServerSentEvent("d", id="7")],
    ),
    "bom": (b"\xef\xbb\xbfdata: x\n\n", [ServerSentEvent("x")]),
    "utf-8 and bad bytes": (
        "data: caf\u00e9 \u2603\n\n".encode() + b"data: \xff\n\n",
        [ServerSentEvent("caf\u00e9 \u2603"), ServerSentEvent("\ufffd")],
    ),
    "ignored fields": (
        b"retry: 12a\nretry: -1\nfoo: bar\nid: a\x00b\ndata: x\n\n",
        [ServerSentEvent("x")],
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_at_every_split(name: str) -> None:
    stream, expected = SAMPLES[name]
    assert _events(stream) == expected
    _every_split(stream)


def test_an_id_without_data_sets_the_last_event_id_and_dispatches_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 41\n\n") == []
    assert decoder.last_event_id == "41"
    (event,) = decoder.feed(b"data: x\n\n")
    assert event.id == "41"


def test_retry_persists_on_the_decoder_and_only_its_block_carries_it() -> None:
    decoder = SSEDecoder()
    first, second = decoder.feed(b"retry: 5\ndata: a\n\ndata: b\n\n")
    assert (first.retry, second.retry, decoder.retry) == (5, None, 5)


def test_a_bom_later_in_the_stream_is_part_of_the_field_name() -> None:
    # Only the stream's first character may be a BOM; later, "\ufeffdata" is an unknown field.
    assert _events(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == [ServerSentEvent("a")]


def test_json_data() -> None:
    (event,) = _events(b'data: {"a": [1,\ndata: 2]}\n\n')
    assert event.json() == {"a": [1, 2]}


def test_a_line_over_the_limit_is_refused() -> None:
    decoder = SSEDecoder(max_event_size=64)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(SSEError, match="longer than 64"):
        decoder.feed(b"x" * 50)


def test_an_event_over_the_limit_is_refused() -> None:
    decoder = SSEDecoder(max_event_size=64)
    with pytest.raises(SSEError, match="over 64"):
        decoder.feed(b"data: " + b"x" * 30 + b"\ndata: " + b"y" * 30 + b"\n")


def test_a_long_line_in_small_pieces_is_held_piece_by_piece() -> None:
    """One line in 1 KiB pieces: each piece is appended to one buffer, never re-scanned.

    Joining what was held on every piece (and scanning it again for a line
    end) would cost time quadratic in the line: up to 8 MiB, from a peer.
    """
    decoder = SSEDecoder()
    piece = b"x" * 1024
    assert decoder.feed(b"data: ") == []
    for _ in range(2000):
        assert decoder.feed(piece) == []
    assert len(decoder._pending) == 6 + 2000 * 1024
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == 2000 * 1024
    assert not decoder._pending


text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"))


@given(st.lists(st.tuples(st.sampled_from(["data", "event", "id", ":"]), text), max_size=12))
def test_random_blocks_split_anywhere(fields: list[tuple[str, str]]) -> None:
    stream = b"".join(f"{name}: {value}\n".encode() for name, value in fields) + b"\n"
    _every_split(stream)


def test_a_huge_retry_is_bounded_not_an_error() -> None:
    # 5 000 digits: int() would raise ValueError (Python's 4 300-digit limit).
    decoder = SSEDecoder()
    (event,) = decoder.feed(b"retry: " + b"9" * 5000 + b"\ndata: x\n\n")
    assert event.retry == decoder.retry == 300_000
    decoder.feed(b"retry: 99999999\n\n")
    assert decoder.retry == 300_000


# ---------------------------------------------------------------- fuzz findings (fuzz/README.md)


def _feed_all(decoder: SSEDecoder, pieces: list[bytes]) -> None:
    for piece in pieces:
        decoder.feed(piece)


def test_a_line_over_the_limit_is_refused_however_it_is_cut() -> None:
    """sse.line: a line that ended in the read that brought it was never measured."""
    for cuts in ([105], [50, 55], [50, 50, 5], [4, 101]):
        decoder = SSEDecoder(max_event_size=64)
        stream = b"id: " + b"x" * 100 + b"\n"
        pieces = []
        start = 0
        for cut in cuts:
            pieces.append(stream[start : start + cut])
            start += cut
        with pytest.raises(SSEError, match="longer than 64"):
            _feed_all(decoder, pieces)
        assert decoder.last_event_id == ""


def test_an_empty_read_between_cr_and_lf_changes_nothing() -> None:
    """sse.empty_read: feed(b"") cleared the pending CR, so its LF made a second line end."""
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"") + decoder.feed(b"\ndata: b\n\n")
    assert events == [ServerSentEvent("a\nb")]


def test_a_retry_with_leading_zeros_is_its_value() -> None:
    """sse.retry: 17 characters were capped before the leading zeros were dropped."""
    decoder = SSEDecoder()
    decoder.feed(b"retry: 00000000000001000\n\n")
    assert decoder.retry == 1000


def test_a_long_line_in_one_byte_reads_holds_memory_linear_in_the_line() -> None:
    """sse.linear: each held piece cost ~97 bytes (a list entry, a tuple entry, a Py_buffer)."""
    import tracemalloc

    decoder = SSEDecoder()
    decoder.feed(b"data: ")
    line = b"x" * 200_000
    tracemalloc.start()
    try:
        for i in range(len(line)):
            decoder.feed(line[i : i + 1])
        (event,) = decoder.feed(b"\n\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(event.data) == len(line)
    assert peak < 8 * len(line), f"{peak} bytes at the peak for a {len(line)}-byte line"


def test_the_last_event_id_is_committed_when_its_event_is_dispatched() -> None:
    """WHATWG §9.2.6: ``id`` sets the last event ID *buffer*; dispatch commits it.

    An event cut off by the end of the stream is discarded, and so is its id:
    reconnecting with it would skip that event.
    """
    decoder = SSEDecoder()
    decoder.last_event_id = "4"
    assert decoder.feed(b"id: 5\ndata: x\n") == []
    assert decoder.last_event_id == "4"  # event 5 is not complete: not seen
    (event,) = decoder.feed(b"\n")
    assert event.id == "5"
    assert decoder.last_event_id == "5"
