"""DNSCache, sans-IO: TTLs and clamps, LRU, negative entries, serve-stale."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp_dns import Address, Answer, CacheStatus, DNSCache, ResolveError

KEY = ("example.test", socket.AF_UNSPEC)
V4 = Address(socket.AF_INET, "192.0.2.1", 0)
V6 = Address(socket.AF_INET6, "2001:db8::1", 0)


def answer(ttl: float | None = None) -> Answer:
    return Answer((V6, V4), ttl)


def test_fresh_until_the_default_ttl_then_miss() -> None:
    """Without a backend TTL the default applies; past it the entry is gone."""
    cache = DNSCache(default_ttl=30.0, min_ttl=1.0, max_ttl=600.0)
    cache.put(KEY, answer(), now=100.0)
    status, entry = cache.get(KEY, 129.9)
    assert status is CacheStatus.FRESH
    assert entry is not None
    assert entry.addresses == (V6, V4)
    assert cache.get(KEY, 130.0) == (CacheStatus.MISS, None)
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("backend_ttl", "expected"),
    [(None, 30.0), (0.0, 5.0), (2.0, 5.0), (60.0, 60.0), (86400.0, 300.0)],
)
def test_backend_ttl_is_clamped(backend_ttl: float | None, expected: float) -> None:
    """The backend's TTL is used when given, always within [min_ttl, max_ttl]."""
    cache = DNSCache(default_ttl=30.0, min_ttl=5.0, max_ttl=300.0)
    assert cache.ttl_for(answer(backend_ttl)) == expected
    cache.put(KEY, answer(backend_ttl), now=0.0)
    assert cache.get(KEY, expected - 0.001)[0] is CacheStatus.FRESH
    assert cache.get(KEY, expected)[0] is CacheStatus.MISS


def test_default_ttl_is_clamped_too() -> None:
    """A default TTL outside the clamps is clamped like a backend's."""
    assert DNSCache(default_ttl=1000.0, max_ttl=10.0).ttl_for(answer()) == 10.0


def test_lru_bound_drops_the_least_recently_used() -> None:
    """Past max_entries the entry used longest ago goes; a get counts as a use."""
    cache = DNSCache(max_entries=2)
    a, b, c = ("a", 0), ("b", 0), ("c", 0)
    cache.put(a, answer(), 0.0)
    cache.put(b, answer(), 0.0)
    assert cache.get(a, 1.0)[0] is CacheStatus.FRESH  # a is now the most recent
    cache.put(c, answer(), 1.0)
    assert cache.get(b, 1.0)[0] is CacheStatus.MISS
    assert cache.get(a, 1.0)[0] is CacheStatus.FRESH
    assert cache.get(c, 1.0)[0] is CacheStatus.FRESH
    assert len(cache) == 2


def test_negative_entry_for_negative_ttl() -> None:
    """A failure is answered from the cache for negative_ttl, then looked up again."""
    cache = DNSCache(negative_ttl=2.0)
    error = ResolveError("example.test", "Name or service not known", socket.EAI_NONAME)
    cache.fail(KEY, error, now=10.0)
    status, entry = cache.get(KEY, 11.9)
    assert status is CacheStatus.NEGATIVE
    assert entry is not None
    assert entry.error is error
    assert cache.get(KEY, 12.0) == (CacheStatus.MISS, None)


def test_success_replaces_a_negative_entry() -> None:
    """A later successful lookup overwrites the failure."""
    cache = DNSCache(negative_ttl=2.0)
    cache.fail(KEY, ResolveError("example.test", "down"), 0.0)
    cache.put(KEY, answer(), 3.0)
    assert cache.get(KEY, 3.0)[0] is CacheStatus.FRESH


def test_stale_served_within_max_stale_only() -> None:
    """Serve-stale: past expiry the entry is STALE for max_stale seconds, then gone."""
    cache = DNSCache(default_ttl=10.0, min_ttl=1.0, max_stale=30.0)
    cache.put(KEY, answer(), 0.0)
    assert cache.get(KEY, 9.9)[0] is CacheStatus.FRESH
    status, entry = cache.get(KEY, 10.0)
    assert status is CacheStatus.STALE
    assert entry is not None
    assert entry.refresh_after == 10.0  # refresh at once
    assert cache.get(KEY, 39.9)[0] is CacheStatus.STALE
    assert cache.get(KEY, 40.0)[0] is CacheStatus.MISS


def test_no_stale_without_serve_stale() -> None:
    """With max_stale None an expired entry is a miss at once."""
    cache = DNSCache(default_ttl=10.0, max_stale=None)
    cache.put(KEY, answer(), 0.0)
    assert cache.get(KEY, 10.0)[0] is CacheStatus.MISS


def test_failed_refresh_keeps_the_stale_entry_and_backs_off() -> None:
    """RFC 8767: a refresh that fails keeps serving stale; the next refresh waits."""
    cache = DNSCache(default_ttl=10.0, negative_ttl=2.0, max_stale=30.0)
    cache.put(KEY, answer(), 0.0)
    entry = cache.fail(KEY, ResolveError("example.test", "timeout"), 15.0)
    assert entry.error is None
    assert entry.refresh_after == 17.0
    status, again = cache.get(KEY, 16.0)
    assert status is CacheStatus.STALE
    assert again is entry


def test_failure_past_max_stale_becomes_negative() -> None:
    """A failure after the stale window is cached as a failure."""
    cache = DNSCache(default_ttl=10.0, negative_ttl=2.0, max_stale=5.0)
    cache.put(KEY, answer(), 0.0)
    entry = cache.fail(KEY, ResolveError("example.test", "timeout"), 20.0)
    assert entry.error is not None
    assert cache.get(KEY, 21.0)[0] is CacheStatus.NEGATIVE


def test_invalidate_drops_every_family_of_the_host() -> None:
    """invalidate(host) forgets AF_UNSPEC, AF_INET and AF_INET6 entries, case-insensitively."""
    cache = DNSCache()
    for family in (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6):
        cache.put(("example.test", family), answer(), 0.0)
    cache.put(("other.test", socket.AF_UNSPEC), answer(), 0.0)
    cache.invalidate("Example.TEST")
    assert len(cache) == 1
    assert cache.get(("other.test", socket.AF_UNSPEC), 0.0)[0] is CacheStatus.FRESH


def test_for_port_fills_the_port_and_reuses_the_tuple() -> None:
    """Addresses come back with the caller's port, built once per port."""
    cache = DNSCache()
    entry = cache.put(KEY, answer(), 0.0)
    first = entry.for_port(443)
    assert [a.port for a in first] == [443, 443]
    assert entry.for_port(443) is first
    assert entry.for_port(80)[1].sockaddr == ("192.0.2.1", 80)
    assert entry.for_port(80)[0].sockaddr == ("2001:db8::1", 80, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"default_ttl": -1}, ValueError),
        ({"min_ttl": "1"}, TypeError),
        ({"max_entries": 0}, ValueError),
        ({"max_entries": 1.5}, TypeError),
        ({"min_ttl": 10.0, "max_ttl": 5.0}, ValueError),
        ({"negative_ttl": True}, TypeError),
        ({"max_stale": -5.0}, ValueError),
    ],
)
def test_bad_settings_are_rejected_at_construction(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Limits are validated when the cache is built."""
    with pytest.raises(error):
        DNSCache(**kwargs)  # type: ignore[arg-type]


@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["put", "fail", "get", "invalidate"]),
            st.integers(0, 5),
            st.floats(0.0, 5.0),
            st.one_of(st.none(), st.floats(0.0, 1000.0)),
        ),
        max_size=60,
    ),
    max_entries=st.integers(1, 4),
    stale=st.one_of(st.none(), st.floats(0.0, 20.0)),
)
def test_cache_invariants(
    ops: list[tuple[str, int, float, float | None]], max_entries: int, stale: float | None
) -> None:
    """Any sequence: size within bound; a served entry is within its TTL (+ stale window)."""
    cache = DNSCache(
        default_ttl=7.0,
        min_ttl=2.0,
        max_ttl=50.0,
        max_entries=max_entries,
        negative_ttl=1.0,
        max_stale=stale,
    )
    now = 0.0
    stored_at: dict[tuple[str, int], tuple[float, float, bool]] = {}
    for op, name, step, ttl in ops:
        now += step
        key = (f"h{name}", socket.AF_UNSPEC)
        if op == "put":
            cache.put(key, answer(ttl), now)
            stored_at[key] = (now, cache.ttl_for(answer(ttl)), True)
        elif op == "fail":
            entry = cache.fail(key, ResolveError(key[0], "x"), now)
            if entry.error is not None:
                stored_at[key] = (now, 1.0, False)
        elif op == "invalidate":
            cache.invalidate(key[0])
            stored_at.pop(key, None)
        else:
            status, found = cache.get(key, now)
            if found is not None:
                at, lifetime, positive = stored_at[key]
                assert 2.0 <= lifetime <= 50.0 or not positive
                expires = at + lifetime  # (computed as the cache does: floats round)
                assert now < expires + ((stale or 0.0) if positive else 0.0)
                assert (status is CacheStatus.NEGATIVE) == (not positive)
                assert status is not CacheStatus.STALE or now >= expires
        assert len(cache) <= max_entries
