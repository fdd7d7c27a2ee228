"""HTTP/2 frame layout, sans-IO (``_http2.frames``): no event loop, no peer.

A read is walked frame by frame with ``frame_head`` (RFC 9113 §4.1); the
ranges meant for h2 are joined by ``assemble``, END_STREAM set on the HEADERS
frames whose body was taken; ``final_head`` says whether a HEADERS frame
opens with an indexed final ``:status``.
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hyperhttp._http2.frames import (
    DATA,
    END_STREAM,
    HEADERS,
    PADDED,
    PRIORITY,
    assemble,
    final_head,
    frame_head,
    window_update,
)


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


frames = st.lists(
    st.tuples(
        st.sampled_from([DATA, HEADERS, 0x3, 0x6, 0x8]),
        st.integers(min_value=0, max_value=0xFF),
        st.integers(min_value=0, max_value=2**31 - 1),
        st.binary(max_size=40),
    ),
    max_size=20,
)


@given(frames)
def test_frame_head_walks_a_read_frame_by_frame(items: list[tuple[int, int, int, bytes]]) -> None:
    data = bytearray(b"".join(_frame(*item) for item in items))
    pos = 0
    seen = []
    while pos + 9 <= len(data):
        head, flags, stream = frame_head(data, pos)
        length = head >> 8
        seen.append((head & 0xFF, flags, stream, bytes(data[pos + 9 : pos + 9 + length])))
        pos += 9 + length
    assert seen == items
    assert pos == len(data)


@given(frames, st.data())
def test_assemble_joins_ranges_and_moves_end_stream(
    items: list[tuple[int, int, int, bytes]], draw: st.DataObject
) -> None:
    starts = []
    data = bytearray()
    for item in items:
        starts.append(len(data))
        data += _frame(*item)
    kept = [i for i in range(len(items)) if draw.draw(st.booleans())]
    moved = [starts[i] for i in kept if items[i][0] == HEADERS and draw.draw(st.booleans())]
    parts: list[tuple[int, int] | bytes] = [
        (starts[i], starts[i] + 9 + len(items[i][3])) for i in kept
    ]
    if not parts:
        return
    joined = assemble(data, parts, moved)
    expected = b"".join(
        _frame(kind, flags | (END_STREAM if starts[i] in moved else 0), stream, payload)
        for i, (kind, flags, stream, payload) in enumerate(items)
        if i in kept
    )
    assert bytes(joined) == expected
    assert bytes(data) == b"".join(_frame(*item) for item in items)  # the read is untouched


def test_final_head_reads_the_status_past_padding_and_priority() -> None:
    plain = bytearray(_frame(HEADERS, 0x4, 1, b"\x88\x00"))
    assert final_head(plain, 0)
    informational = bytearray(_frame(HEADERS, 0x4, 1, b"\x08\x03103"))  # :status 103, literal
    assert not final_head(informational, 0)
    padded = bytearray(
        _frame(HEADERS, 0x4 | PADDED | PRIORITY, 1, b"\x02" + b"\x00" * 5 + b"\x8d\x00\x00")
    )
    assert final_head(padded, 0)
    empty = bytearray(_frame(HEADERS, 0x4 | PADDED, 1, b"\x00"))
    assert not final_head(empty, 0)


def test_window_update_is_a_wire_frame() -> None:
    frame = window_update(3, 65_536)
    head, flags, stream = frame_head(frame, 0)
    assert (head >> 8, head & 0xFF, flags, stream) == (4, 0x8, 0, 3)
    assert int.from_bytes(frame[9:], "big") == 65_536
