"""The HTTP/2 receive window, sans-IO (``_http2.flow``): no event loop, no peer.

RFC 9113 §6.9: what the peer may send is the window less what it sent plus
what we handed back; we hand back once half the window is owed.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hyperhttp._http2.flow import ReceiveWindow


def test_an_update_is_due_at_half_the_window() -> None:
    window = ReceiveWindow(100)
    assert window.take(60)
    assert window.give_back(49) == 0
    assert window.give_back(1) == 50
    assert window.available == 90
    assert window.owed == 0


def test_overrunning_the_window_is_reported() -> None:
    window = ReceiveWindow(10)
    assert window.take(10)
    assert not window.take(1)


steps = st.lists(
    st.tuples(st.sampled_from(["take", "give"]), st.integers(min_value=0, max_value=70_000)),
    max_size=60,
)


@given(size=st.integers(min_value=65_535, max_value=2**31 - 1), script=steps)
def test_the_window_accounts_for_every_byte(size: int, script: list[tuple[str, int]]) -> None:
    window = ReceiveWindow(size)
    received = consumed = returned = 0
    for action, amount in script:
        if action == "take":
            received += amount
            assert window.take(amount) == (received <= size + returned)
        else:
            amount = min(amount, received - consumed)  # only what arrived can be consumed
            consumed += amount
            increment = window.give_back(amount)
            assert increment == 0 or increment >= size // 2
            returned += increment
        assert window.available == size - received + returned
        assert window.owed == consumed - returned
        assert 0 <= window.owed < size // 2
