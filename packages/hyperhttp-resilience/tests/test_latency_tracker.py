"""LatencyTracker: a live percentile per key from a decaying log-scale histogram."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperhttp_resilience import LatencyTracker
from hyperhttp_resilience._latency import BUCKETS, MIN_LATENCY, RATIO


def test_no_estimate_before_min_samples() -> None:
    tracker = LatencyTracker(min_samples=20)
    for _ in range(19):
        tracker.observe("a", 0.010)
    assert tracker.estimate("a") is None
    tracker.observe("a", 0.010)
    assert tracker.estimate("a") is not None
    assert tracker.estimate("other") is None


def test_the_p95_of_a_mix_is_the_slow_group_only_when_it_is_over_5_percent() -> None:
    fast_only = LatencyTracker(0.95, refresh=1)
    for i in range(1000):
        fast_only.observe("a", 0.5 if i % 100 < 4 else 0.002)  # 4 % slow
    p95 = fast_only.estimate("a")
    assert p95 is not None
    assert 0.002 <= p95 <= 0.002 * RATIO
    slow = LatencyTracker(0.95, refresh=1)
    for i in range(1000):
        slow.observe("a", 0.5 if i % 100 < 6 else 0.002)  # 6 % slow
    p95 = slow.estimate("a")
    assert p95 is not None
    assert 0.5 <= p95 <= 0.5 * RATIO


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1e-5, max_value=200.0), min_size=20, max_size=300))
def test_the_estimate_is_the_true_percentile_or_at_most_one_bucket_above(
    samples: list[float],
) -> None:
    tracker = LatencyTracker(0.9, memory=10_000, refresh=1)
    for sample in samples:
        tracker.observe("k", sample)
    estimate = tracker.estimate("k")
    assert estimate is not None
    ordered = sorted(samples)
    true = ordered[math.ceil(0.9 * len(ordered)) - 1]
    low = max(MIN_LATENCY, min(true, MIN_LATENCY * RATIO ** (BUCKETS - 1)))
    assert low * (1 - 1e-9) <= estimate <= max(low * RATIO, MIN_LATENCY) * (1 + 1e-9)


def test_old_samples_fade_so_the_estimate_follows_a_change() -> None:
    tracker = LatencyTracker(0.5, memory=200, refresh=1)
    for _ in range(1000):
        tracker.observe("a", 0.100)
    for _ in range(1000):
        tracker.observe("a", 0.001)
    estimate = tracker.estimate("a")
    assert estimate is not None
    assert estimate < 0.002
    assert tracker.samples("a") < 200


def test_the_percentile_is_kept_until_refresh_samples_arrive() -> None:
    tracker = LatencyTracker(0.5, min_samples=1, memory=1000, refresh=10)
    for _ in range(10):
        tracker.observe("a", 0.001)
    first = tracker.estimate("a")
    for _ in range(9):
        tracker.observe("a", 1.0)
        tracker.observe("a", 1.0)
    assert tracker.estimate("a") != first  # 18 new samples: recomputed
    tracker2 = LatencyTracker(0.5, min_samples=1, memory=1000, refresh=10)
    for _ in range(10):
        tracker2.observe("a", 0.001)
    cached = tracker2.estimate("a")
    for _ in range(5):
        tracker2.observe("a", 1.0)
    assert tracker2.estimate("a") == cached  # 5 < refresh: the cached value


def test_odd_values_count_in_the_end_buckets() -> None:
    tracker = LatencyTracker(0.5, min_samples=1, refresh=1)
    for value in (-1.0, float("nan"), 0.0):
        tracker.observe("a", value)
    assert tracker.estimate("a") == pytest.approx(MIN_LATENCY)
    tracker.observe("b", 1e9)
    tracker.observe("b", float("inf"))
    assert tracker.estimate("b") == pytest.approx(MIN_LATENCY * RATIO ** (BUCKETS - 1))


def test_keys_are_bounded_least_recently_used_first() -> None:
    tracker = LatencyTracker(max_keys=3, min_samples=1, memory=2, refresh=1)
    for key in ("a", "b", "c"):
        tracker.observe(key, 0.01)
    tracker.observe("a", 0.01)  # a is fresh again
    tracker.observe("d", 0.01)
    assert len(tracker) == 3
    assert tracker.samples("b") == 0.0
    assert tracker.samples("a") > 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"percentile": 1.0}, ValueError),
        ({"percentile": 0.0}, ValueError),
        ({"percentile": "0.9"}, TypeError),
        ({"min_samples": 0}, ValueError),
        ({"max_keys": True}, ValueError),
        ({"memory": 10, "min_samples": 20}, ValueError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        LatencyTracker(**kwargs)  # type: ignore[arg-type]
