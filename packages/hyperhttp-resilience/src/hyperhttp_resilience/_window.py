"""A rolling count over a time window, in O(1) per event.

The window is cut into ``buckets`` slots of ``window / buckets`` seconds in
a ring; an event lands in the slot of its time, and slots older than the
window are zeroed as time moves on (at most ``buckets`` of them per call, so
every call is O(1) whatever the time jump). Counts are therefore exact to
one slot's width.
"""

from __future__ import annotations

__all__ = ["RollingCounter"]


class RollingCounter:
    """Counts of several event kinds over the last ``window`` seconds."""

    __slots__ = ("_counts", "_kinds", "_slot", "_totals", "_width", "buckets", "window")

    def __init__(self, window: float, kinds: int, buckets: int = 10) -> None:
        self.window = window
        self.buckets = buckets
        self._kinds = kinds
        self._width = window / buckets
        self._counts = [[0] * kinds for _ in range(buckets)]
        self._totals = [0] * kinds
        self._slot: int | None = None  # absolute slot number of the newest bucket

    def _advance(self, now: float) -> list[int]:
        slot = int(now // self._width)
        last = self._slot
        if last is None or slot - last >= self.buckets:
            for counts in self._counts:
                counts[:] = [0] * self._kinds
            self._totals = [0] * self._kinds
        elif slot > last:
            for gone in range(last + 1, slot + 1):
                counts = self._counts[gone % self.buckets]
                for kind in range(self._kinds):
                    self._totals[kind] -= counts[kind]
                    counts[kind] = 0
        elif slot < last:  # a clock that went back: count it in the newest slot
            slot = last
        self._slot = slot
        return self._counts[slot % self.buckets]

    def add(self, kind: int, now: float, amount: int = 1) -> None:
        """Count ``amount`` events of ``kind`` at ``now``."""
        self._advance(now)[kind] += amount
        self._totals[kind] += amount

    def total(self, kind: int, now: float) -> int:
        """Events of ``kind`` within the window ending at ``now``."""
        self._advance(now)
        return self._totals[kind]

    def clear(self) -> None:
        """Forget every event."""
        self._slot = None
        for counts in self._counts:
            counts[:] = [0] * self._kinds
        self._totals = [0] * self._kinds
