"""Live latency percentiles per key: a small decaying log-scale histogram, sans-IO.

Strategy
--------
Hedging waits for "the origin's usual slow response" before sending a copy
(The Tail at Scale, Dean & Barroso, CACM 2013: hedge after the 95th
percentile). That percentile has to follow the origin as it changes, cost
next to nothing per call and stay small whatever the traffic. So each key
keeps a histogram of :data:`BUCKETS` counters over log-spaced bounds:

1. Bucket ``i`` holds latencies up to ``MIN_LATENCY * RATIO ** i``: four
   buckets per doubling (``RATIO`` = 2 ** 0.25, about 19 % apart) from
   100 µs to about 100 s; anything faster counts in the first bucket, anything
   slower in the last. A percentile is reported as its bucket's upper bound,
   so it is at most 19 % above the true value (hedging a little late, never
   early).
2. Forgetting: when a key's count reaches ``memory`` the counters are
   halved, so the estimate follows roughly the last ``memory`` samples with
   the older ones fading out geometrically (no timestamps, no clock).
3. ``observe`` is one ``log`` and two additions; the percentile is computed
   lazily (one walk over the counters) and kept until ``refresh`` more
   samples arrive.
4. Keys are bounded (``max_keys``, least recently used dropped): a crawler
   of a million hosts keeps at most that many histograms of
   :data:`BUCKETS` floats.

Below ``min_samples`` samples a key has no estimate (None): a percentile
from three calls is noise.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from ._retry import _number

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["BUCKETS", "LatencyTracker"]

#: Seconds: the upper bound of the first bucket.
MIN_LATENCY: Final = 1e-4
#: The ratio between neighbouring bucket bounds (four buckets per doubling).
RATIO: Final = 2**0.25
#: Buckets per key: 100 µs * RATIO ** 79 is about 92 s.
BUCKETS: Final = 80
_LOG_RATIO: Final = math.log(RATIO)
_BOUNDS: Final = tuple(MIN_LATENCY * RATIO**i for i in range(BUCKETS))


class _Histogram:
    __slots__ = ("count", "counts", "fresh", "since")

    def __init__(self) -> None:
        self.counts = [0.0] * BUCKETS
        self.count = 0.0  # the (decayed) total of counts
        self.since = 0  # samples since ``fresh`` was computed
        self.fresh: float | None = None  # the cached percentile


class LatencyTracker:
    """A live latency percentile per key (module docstring).

    Args:
        percentile: the quantile reported, in (0, 1): 0.95 for P95.
        min_samples: samples a key needs before it has an estimate.
        memory: about how many recent samples the estimate follows.
        refresh: samples between recomputations of a key's percentile.
        max_keys: keys kept; the least recently used is dropped first.

    """

    __slots__ = ("_keys", "max_keys", "memory", "min_samples", "percentile", "refresh")

    def __init__(
        self,
        percentile: float = 0.95,
        *,
        min_samples: int = 20,
        memory: int = 1000,
        refresh: int = 16,
        max_keys: int = 1000,
    ) -> None:
        _number("percentile", percentile, minimum=0.0, strict=True)
        if percentile >= 1:
            raise ValueError(f"percentile must be below 1, got {percentile}")
        for name, value in (
            ("min_samples", min_samples),
            ("memory", memory),
            ("refresh", refresh),
            ("max_keys", max_keys),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if memory < 2 * min_samples:
            raise ValueError("memory must be at least twice min_samples")
        self.percentile = float(percentile)
        self.min_samples = min_samples
        self.memory = memory
        self.refresh = refresh
        self.max_keys = max_keys
        self._keys: OrderedDict[Hashable, _Histogram] = OrderedDict()

    def __repr__(self) -> str:
        return f"LatencyTracker(percentile={self.percentile}, keys={len(self._keys)})"

    def observe(self, key: Hashable, seconds: float) -> None:
        """Count one latency of ``key`` (negative and NaN values count as 0)."""
        keys = self._keys
        histogram = keys.get(key)
        if histogram is None:
            if len(keys) >= self.max_keys:
                keys.popitem(last=False)
            histogram = keys[key] = _Histogram()
        else:
            keys.move_to_end(key)
        if seconds >= _BOUNDS[-1]:  # (inf too)
            index = BUCKETS - 1
        elif seconds > MIN_LATENCY:  # (False for NaN too)
            index = math.ceil(math.log(seconds / MIN_LATENCY) / _LOG_RATIO)
        else:
            index = 0
        counts = histogram.counts
        counts[index] += 1.0
        histogram.count += 1.0
        histogram.since += 1
        if histogram.count >= self.memory:  # rule 2: the old samples fade
            for i in range(BUCKETS):
                counts[i] *= 0.5
            histogram.count *= 0.5

    def estimate(self, key: Hashable) -> float | None:
        """Return ``key``'s latency percentile in seconds, or None before ``min_samples``."""
        histogram = self._keys.get(key)
        if histogram is None or histogram.count < self.min_samples:
            return None
        if histogram.fresh is None or histogram.since >= self.refresh:
            histogram.fresh = self._percentile(histogram)
            histogram.since = 0
        return histogram.fresh

    def samples(self, key: Hashable) -> float:
        """Return ``key``'s (decayed) sample count."""
        histogram = self._keys.get(key)
        return 0.0 if histogram is None else histogram.count

    def __len__(self) -> int:
        return len(self._keys)

    def _percentile(self, histogram: _Histogram) -> float:
        """Return the upper bound of the bucket holding the percentile (rule 1)."""
        target = self.percentile * histogram.count
        seen = 0.0
        for index, count in enumerate(histogram.counts):
            seen += count
            if seen >= target:
                return _BOUNDS[index]
        return _BOUNDS[-1]  # pragma: no cover - float rounding only
