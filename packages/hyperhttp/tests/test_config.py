"""Timeout and Limits: what each default resolves to, and what each refuses."""

from __future__ import annotations

import resource

import pytest

import hyperhttp
from hyperhttp._config import idle_connections_cap


def test_the_idle_cap_follows_the_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve "auto": max(1 000, max_connections), at most half the soft RLIMIT_NOFILE."""
    limits = hyperhttp.Limits()
    assert limits.max_idle_connections == "auto"
    cases = [(1024, 512), (65536, 1000), (100, 50), (12, 10), (resource.RLIM_INFINITY, 1000)]
    for soft, expected in cases:
        monkeypatch.setattr(resource, "getrlimit", lambda _which, soft=soft: (soft, soft))
        assert idle_connections_cap(limits) == expected
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (20000, 20000))
    assert idle_connections_cap(hyperhttp.Limits(max_connections=300)) == 1000
    assert idle_connections_cap(hyperhttp.Limits(max_connections=10000)) == 10000
    assert idle_connections_cap(hyperhttp.Limits(max_connections=30000)) == 10000
    assert idle_connections_cap(hyperhttp.Limits(max_idle_connections=5)) == 5
    assert idle_connections_cap(hyperhttp.Limits(max_idle_connections=None)) is None
    assert hyperhttp.Limits(max_idle_connections=0).max_idle_connections == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("many", TypeError)],
)
def test_bad_idle_caps_are_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_idle_connections"):
        hyperhttp.Limits(max_idle_connections=value)  # type: ignore[arg-type]
