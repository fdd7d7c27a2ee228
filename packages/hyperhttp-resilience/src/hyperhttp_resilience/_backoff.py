"""Backoff and Retry-After: pure functions.

- Decorrelated jitter (Brooker, "Exponential Backoff and Jitter", AWS
  Architecture Blog, 2015): ``sleep = min(cap, uniform(base, previous * 3))``,
  starting from ``previous = base``. Every value lies in ``[base, cap]``.
- Retry-After (RFC 9110 §10.2.3): ``delay-seconds`` (``1*DIGIT``) or an
  HTTP-date (§5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms,
  which recipients must accept). Anything else is ignored, never an error.
"""

from __future__ import annotations

import calendar
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["decorrelated_jitter", "parse_retry_after"]


def decorrelated_jitter(
    previous: float, base: float, cap: float, uniform: Callable[[float, float], float]
) -> float:
    """Return ``min(cap, uniform(base, previous * 3))``, always within [base, cap]."""
    high = max(base, previous * 3.0)
    return min(cap, max(base, uniform(base, high)))


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_LONG_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_TIME = r"(\d\d):(\d\d):(\d\d)"
# IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
_IMF = re.compile(rf"{_DAY}, (\d\d) ([a-z]{{3}}) (\d{{4}}) {_TIME} gmt", re.IGNORECASE)
# RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
_RFC850 = re.compile(rf"{_LONG_DAY}, (\d\d)-([a-z]{{3}})-(\d\d) {_TIME} gmt", re.IGNORECASE)
# asctime: Sun Nov  6 08:49:37 1994
_ASCTIME = re.compile(rf"{_DAY} ([a-z]{{3}}) ([ \d]\d) {_TIME} (\d{{4}})", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
# Beyond this a delta is absurd; it would only overflow float arithmetic later.
_MAX_DELTA = 10.0**9


def _http_date(text: str) -> float | None:
    """Parse an HTTP-date to a POSIX timestamp, or None."""
    if match := _IMF.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC850.fullmatch(text):
        day, month, short_year, hour, minute, second = match.groups()
        # RFC 9110 §5.6.7: a two-digit year more than 50 years in the future
        # is the most recent past year with those digits; we take 19xx/20xx
        # around 1970 like every HTTP stack does.
        year = str(1900 + int(short_year) if int(short_year) >= 70 else 2000 + int(short_year))
    elif match := _ASCTIME.fullmatch(text):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    try:
        fields = (int(year), number, int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    if not (1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] <= 60):
        return None
    return float(calendar.timegm((*fields, 0, 0, 0)))


def parse_retry_after(value: str | bytes | None, now: float) -> float | None:
    """Return the seconds a Retry-After value asks to wait, or None if it is invalid.

    Args:
        value: the header value (str or bytes).
        now: the current POSIX time (``time.time()``), for the HTTP-date form.

    A date in the past means 0. Never raises.

    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = value.strip(" \t")
    if _DIGITS.fullmatch(text):
        return min(float(int(text)), _MAX_DELTA) if len(text) < 12 else _MAX_DELTA
    when = _http_date(text)
    if when is None:
        return None
    return min(max(0.0, when - now), _MAX_DELTA)
