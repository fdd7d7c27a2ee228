"""coalesce_data_frames: what h2 sees is the same stream, in fewer frames."""

from __future__ import annotations

from hyperframe.frame import DataFrame, Frame, PingFrame, WindowUpdateFrame
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp._http2 import coalesce_data_frames


def _frame(kind: int, stream: int, payload: bytes, end: bool, padded: bool) -> bytes:
    frame: Frame
    if kind == 0:
        frame = DataFrame(stream, payload)
        if end:
            frame.flags.add("END_STREAM")
        if padded:
            frame.flags.add("PADDED")
            frame.pad_length = 3
    elif kind == 1:
        frame = PingFrame(0, opaque_data=b"12345678")
    else:
        frame = WindowUpdateFrame(stream, window_increment=10)
    return frame.serialize()


def _parse(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, stream, flags, payload) of each frame."""
    frames = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        kind, flags = data[pos + 3], data[pos + 4]
        stream = int.from_bytes(data[pos + 5 : pos + 9], "big")
        frames.append((kind, stream, flags, data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
    assert pos == len(data)
    return frames


def _meaning(data: bytes) -> list[tuple[object, ...]]:
    """Return what a receiver gets: control frames in order, DATA as (stream, bytes, end)."""
    meaning: list[tuple[object, ...]] = []
    for kind, stream, flags, payload in _parse(data):
        if kind == 0 and not flags & 0x8:
            last = meaning[-1] if meaning else None
            if last is not None and last[0] == "data" and last[1] == stream and not last[3]:
                meaning.pop()  # the run goes on (a frame after END_STREAM starts anew)
                joined = bytes(last[2]) + payload  # type: ignore[call-overload]
                meaning.append(("data", stream, joined, bool(flags & 1)))
            else:
                meaning.append(("data", stream, payload, bool(flags & 1)))
        else:
            meaning.append((kind, stream, flags, payload))
    return meaning


_FRAMES = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 2]),
        st.sampled_from([1, 3]),
        st.binary(max_size=40),
        st.booleans(),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=300)
@given(_FRAMES, st.lists(st.integers(min_value=1, max_value=60), max_size=10))
def test_coalescing_keeps_the_meaning_whatever_the_reads(
    frames: list[tuple[int, int, bytes, bool, bool]], cuts: list[int]
) -> None:
    wire = b"".join(_frame(*f) for f in frames)
    out = []
    pending = b""
    pos = 0
    for cut in [*cuts, len(wire)]:
        chunk, pos = wire[pos : pos + cut], pos + cut
        complete, pending = coalesce_data_frames(pending + chunk)
        out.append(complete)
        if pos >= len(wire):
            break
    complete, pending = coalesce_data_frames(pending + wire[pos:])
    out.append(complete)
    assert pending == b""
    assert _meaning(b"".join(out)) == _meaning(wire)


def test_a_run_becomes_one_frame() -> None:
    wire = b"".join(_frame(0, 1, b"x" * 100, i == 9, False) for i in range(10))
    complete, pending = coalesce_data_frames(wire)
    assert pending == b""
    assert _parse(complete) == [(0, 1, 1, b"x" * 1000)]


def test_partial_frames_wait() -> None:
    wire = _frame(0, 1, b"abc", True, False)
    assert coalesce_data_frames(wire[:5]) == (b"", wire[:5])
    assert coalesce_data_frames(wire) == (wire, b"")


@given(st.binary(max_size=40))
def test_cheap_frame_repr_says_what_hyperframe_said(payload: bytes) -> None:
    """The O(1) repr gives hyperframe's string: the hex of the payload, cut at 20 digits."""
    import binascii

    import hyperframe.frame

    from hyperhttp._http2 import _cheap_frame_repr

    _cheap_frame_repr()
    full = binascii.hexlify(payload).decode("ascii")
    shown = full[:20] + "..." if len(full) > 20 else full
    expected = f"<hex:{shown}>" if payload else "None"
    assert hyperframe.frame._raw_data_repr(payload) == expected
    assert hyperframe.frame._raw_data_repr(memoryview(payload)) == expected  # type: ignore[arg-type]
    frame = DataFrame(1, payload)
    assert repr(frame).endswith(expected if payload else "None")
