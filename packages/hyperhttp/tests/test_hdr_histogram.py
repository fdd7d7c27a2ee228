"""The load generator's HDR-style histogram (hyperhttp.cli._hdr), sans-IO.

Its promises: buckets that tile the integers in order, each at most 1/1024
of its lower bound wide; percentiles by nearest rank within 1/2048 of the
exact order statistic; merging equal to recording everything in one.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp.cli._hdr import HIGHEST, SUB_BITS, Histogram, bucket_bounds, bucket_index

values = st.integers(min_value=0, max_value=HIGHEST - 1)
latencies = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=5_000),  # exact region and its edge
        st.integers(min_value=0, max_value=10**10),  # up to 10 s in ns
        values,
    ),
    min_size=1,
    max_size=300,
)
percents = st.floats(min_value=0, max_value=100, allow_nan=False)


def _exact(sorted_values: list[int], percent: float) -> int:
    """Nearest rank: the smallest value with at least percent % of the values at or below it."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _histogram(items: list[int]) -> Histogram:
    histogram = Histogram()
    for value in items:
        histogram.record(value)
    return histogram


@given(values, values)
def test_bucket_index_is_monotonic(a: int, b: int) -> None:
    """A larger value never lands in an earlier bucket."""
    low, high = sorted((a, b))
    assert bucket_index(low) <= bucket_index(high)


@given(values)
def test_bucket_holds_its_values_and_nothing_else(value: int) -> None:
    """The bucket of v is [low, high) around v; its neighbours end and start at its edges."""
    index = bucket_index(value)
    low, high = bucket_bounds(index)
    assert low <= value < high
    assert bucket_index(low) == bucket_index(high - 1) == index
    assert bucket_index(high) == index + 1  # contiguous: no gap, no overlap
    if low:
        assert bucket_index(low - 1) == index - 1


@given(values)
def test_bucket_width_is_bounded_relative_to_its_start(value: int) -> None:
    """Every bucket is one value wide, or at most 1/1024 of its lower bound."""
    low, high = bucket_bounds(bucket_index(value))
    assert high - low == 1 or (high - low) * (1 << (SUB_BITS - 1)) <= low


def test_small_values_are_exact() -> None:
    """Below 2**SUB_BITS every value has its own bucket."""
    for value in range(1 << SUB_BITS):
        assert bucket_bounds(bucket_index(value)) == (value, value + 1)


@given(latencies, st.lists(percents, min_size=1, max_size=8))
def test_percentiles_are_within_the_stated_precision(items: list[int], wanted: list[float]) -> None:
    """Each percentile is within 1/2048 of the exact nearest-rank value (exact below 2048)."""
    histogram = _histogram(items)
    ordered = sorted(items)
    for percent, got in zip(wanted, histogram.percentiles(wanted), strict=True):
        exact = _exact(ordered, percent)
        assert abs(got - exact) <= exact / (1 << SUB_BITS), (percent, exact, got)


@given(latencies)
def test_tail_percentiles_and_extremes(items: list[int]) -> None:
    """P99.99 keeps the precision; P100 is the exact maximum and P0 the exact minimum."""
    histogram = _histogram(items)
    ordered = sorted(items)
    p9999, p100, p0 = histogram.percentiles([99.99, 100, 0])
    assert abs(p9999 - _exact(ordered, 99.99)) <= ordered[-1] / (1 << SUB_BITS)
    assert p100 == ordered[-1] == histogram.max
    assert p0 == ordered[0] == histogram.min


@given(latencies, latencies)
def test_merge_equals_recording_everything_in_one(first: list[int], second: list[int]) -> None:
    """Merged histograms have the same buckets, count, sum, min and max as one fed both lists."""
    merged = _histogram(first)
    merged.merge(_histogram(second))
    together = _histogram(first + second)
    assert merged.counts == together.counts
    assert (merged.count, merged.total, merged.min, merged.max) == (
        together.count,
        together.total,
        together.min,
        together.max,
    )
    assert merged.percentiles([50, 99, 99.9]) == together.percentiles([50, 99, 99.9])


def test_merging_an_empty_histogram_changes_nothing() -> None:
    """An empty worker's histogram leaves the others' min and max alone."""
    histogram = _histogram([5, 9])
    histogram.merge(Histogram())
    assert (histogram.count, histogram.min, histogram.max) == (2, 5, 9)
    empty = Histogram()
    empty.merge(histogram)
    assert (empty.count, empty.min, empty.max) == (2, 5, 9)


@given(latencies)
def test_wire_form_round_trips(items: list[int]) -> None:
    """to_dict -> from_dict gives back the same histogram (how --procs workers report)."""
    histogram = _histogram(items)
    back = Histogram.from_dict(histogram.to_dict())
    assert back.counts == histogram.counts
    assert (back.count, back.total, back.min, back.max, back.saturated) == (
        histogram.count,
        histogram.total,
        histogram.min,
        histogram.max,
        histogram.saturated,
    )


def test_wire_form_is_checked() -> None:
    """Another layout, a bucket out of range, or counts that do not add up are refused."""
    data = _histogram([1, 2, 3]).to_dict()
    with pytest.raises(ValueError, match="layout"):
        Histogram.from_dict({**data, "sub_bits": SUB_BITS + 1})
    with pytest.raises(ValueError, match="out of range"):
        Histogram.from_dict({**data, "buckets": {"-1": 1}})
    with pytest.raises(ValueError, match="add up"):
        Histogram.from_dict({**data, "count": 4})


def test_empty_histogram() -> None:
    """Nothing recorded: every percentile and the mean are 0."""
    histogram = Histogram()
    assert histogram.percentiles([50, 99.99, 100]) == [0, 0, 0]
    assert histogram.mean == 0.0
    assert histogram.count == 0


def test_values_past_the_highest_are_counted_as_saturated() -> None:
    """A value beyond HIGHEST is kept in the last bucket, counted, and its max stays exact."""
    histogram = _histogram([10, HIGHEST * 3])
    assert histogram.saturated == 1
    assert histogram.count == 2
    assert histogram.percentile(100) == HIGHEST * 3


def test_negative_values_count_as_zero() -> None:
    """A clock that stepped back gives 0, never an index error."""
    histogram = _histogram([-5])
    assert histogram.percentile(50) == 0
    assert histogram.min == 0


@pytest.mark.parametrize("percent", [-0.1, 100.5, math.inf])
def test_percentile_out_of_range(percent: float) -> None:
    """A percentile outside 0-100 is a ValueError naming it."""
    with pytest.raises(ValueError, match="between 0 and 100"):
        Histogram().percentile(percent)


def test_mean_is_exact() -> None:
    """The mean comes from the exact sum, not from bucket midpoints."""
    histogram = _histogram([1_000_001, 3_000_003])
    assert histogram.mean == 2_000_002
