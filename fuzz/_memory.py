"""The per-input memory bound: tracemalloc's peak, measured around each input.

A decoder that allocates in proportion to what its input *claims* (a length
field, a compression ratio) rather than to what it holds shows up here as a
peak over the target's budget, long before it would exhaust the machine.
Allocations inside C libraries that bypass Python's allocator (zlib's and
brotli's state) are not traced; the runner's RLIMIT_AS and libFuzzer's
``-rss_limit_mb`` cover those.
"""

from __future__ import annotations

import tracemalloc
from typing import TYPE_CHECKING

from fuzz._checks import Finding, skipped

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MemoryBudgetExceeded", "bounded"]


class MemoryBudgetExceeded(Finding):
    """One input made the decoder allocate more than its budget."""


def bounded(one_input: Callable[[bytes], None], budget: int, name: str) -> Callable[[bytes], None]:
    """Wrap ``one_input`` so that a peak above ``budget`` bytes is a finding (``<name>.memory``)."""
    if skipped(f"{name}.memory"):
        return one_input
    if not tracemalloc.is_tracing():
        tracemalloc.start()

    def checked(data: bytes) -> None:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        one_input(data)
        peak = tracemalloc.get_traced_memory()[1] - start
        if peak > budget:
            raise MemoryBudgetExceeded(
                f"{name}.memory: an input of {len(data)} bytes allocated {peak} bytes at its peak"
                f" (budget {budget})"
            )

    return checked
