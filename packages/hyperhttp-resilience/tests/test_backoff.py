"""Decorrelated jitter and Retry-After parsing."""

from __future__ import annotations

import calendar
import datetime
import email.utils
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp_resilience import decorrelated_jitter, parse_retry_after

NOW = float(calendar.timegm((1994, 11, 6, 8, 49, 0, 0, 0, 0)))  # 37 s before the RFC's date


@given(
    base=st.floats(0.0, 10.0),
    extra=st.floats(0.0, 100.0),
    previous=st.floats(0.0, 1000.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_jitter_always_within_base_and_cap(
    base: float, extra: float, previous: float, seed: int
) -> None:
    """Every backoff lies in [base, cap], whatever the previous delay and random draw."""
    cap = base + extra
    delay = decorrelated_jitter(previous, base, cap, random.Random(seed).uniform)
    assert base <= delay <= cap


def test_jitter_formula() -> None:
    """Sleep = min(cap, uniform(base, previous * 3)): the draw spans [base, 3 * previous]."""
    assert decorrelated_jitter(2.0, 0.1, 100.0, lambda low, high: high) == 6.0
    assert decorrelated_jitter(2.0, 0.1, 100.0, lambda low, high: low) == 0.1
    assert decorrelated_jitter(50.0, 0.1, 100.0, lambda low, high: high) == 100.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (b"0", 0.0),
        (" 7 ", 7.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 37.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 37.0),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", 37.0),  # asctime
        ("Sun, 06 Nov 1994 08:48:00 GMT", 0.0),  # in the past: no wait
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Sun, 06 Nov 1994 08:49:37 UTC", None),
        ("Sun, 32 Nov 1994 08:49:37 GMT", None),
        ("Sun, 06 Foo 1994 08:49:37 GMT", None),
        (b"\xff\xfe", None),
        ("99999999999999999999", 1e9),
    ],
)
def test_retry_after_forms(value: str | bytes | None, expected: float | None) -> None:
    """delay-seconds and the three HTTP-date forms parse; anything else is None (RFC 9110)."""
    assert parse_retry_after(value, NOW) == expected


@given(st.one_of(st.text(max_size=60), st.binary(max_size=60)))
def test_retry_after_never_raises(value: str | bytes) -> None:
    """Arbitrary input gives None or a non-negative finite number, never an exception."""
    result = parse_retry_after(value, NOW)
    assert result is None or 0.0 <= result <= 1e9


DATES = st.datetimes(datetime.datetime(1995, 1, 1), datetime.datetime(2090, 1, 1))


@given(DATES)
def test_imf_fixdate_round_trip(moment: datetime.datetime) -> None:
    """Any IMF-fixdate (as email.utils formats it) is parsed to its instant."""
    moment = moment.replace(microsecond=0, tzinfo=datetime.UTC)
    text = email.utils.format_datetime(moment, usegmt=True)
    assert parse_retry_after(text, moment.timestamp() - 100.0) == 100.0
