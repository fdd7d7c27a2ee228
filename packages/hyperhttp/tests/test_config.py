"""Timeout and Limits: what each default resolves to, and what each refuses."""

from __future__ import annotations

import resource

import pytest

import hyperhttp
from hyperhttp._config import idle_connections_cap


def test_the_idle_cap_follows_the_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve "auto" to 1 000, or half the soft RLIMIT_NOFILE less max_connections (min 10)."""
    limits = hyperhttp.Limits()
    assert limits.max_idle_connections == "auto"
    for soft, expected in [(1024, 412), (65536, 1000), (100, 10), (resource.RLIM_INFINITY, 1000)]:
        monkeypatch.setattr(resource, "getrlimit", lambda _which, soft=soft: (soft, soft))
        assert idle_connections_cap(limits) == expected
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 1024))
    assert idle_connections_cap(hyperhttp.Limits(max_connections=300)) == 212
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
