"""hyperframe's frame repr, made O(1) by hyperhttp: the same string as before."""

from __future__ import annotations

from hyperframe.frame import DataFrame
from hypothesis import given
from hypothesis import strategies as st


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
