"""The resolver's cache: sans-IO, every method takes ``now``.

Strategy
--------
Entries are keyed by ``(host, family)`` and live in one OrderedDict, least
recently used first, bounded by ``max_entries`` (the oldest is dropped on
insert). Each entry is one of:

- positive: addresses, fresh until ``expires``; with serve-stale on, still
  usable until ``stale_until`` (RFC 8767) while the resolver refreshes it;
- negative: a failure, repeated to callers until ``expires`` (a short TTL),
  so a dead name is not looked up again on every request.

Rules
-----
1. TTL: the backend's when it reports one, else ``default_ttl``; always
   clamped to ``[min_ttl, max_ttl]``.
2. Serve-stale (RFC 8767 §4): an expired positive entry within ``max_stale``
   seconds of its expiry is served as STALE (one refresh at a time; the
   resolver runs it). A refresh that fails keeps the stale entry (RFC 8767
   §4: stale data beats a failure) and holds off the next refresh for
   ``negative_ttl`` seconds.
3. Nothing is scanned: get, put, fail and invalidate are O(1).
"""

from __future__ import annotations

import enum
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Address", "Answer", "CacheEntry", "CacheStatus", "DNSCache"]

_AF_INET6 = socket.AF_INET6

# Families a cached name may be keyed under (invalidate() drops all three).
_FAMILIES = (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6)


class Address(NamedTuple):
    """One address to connect to."""

    family: int  #: socket.AF_INET or socket.AF_INET6
    host: str  #: the IP address, as text
    port: int
    flowinfo: int = 0  #: IPv6 only
    scope_id: int = 0  #: IPv6 only (link-local zone)

    @property
    def sockaddr(self) -> tuple[str, int] | tuple[str, int, int, int]:
        """The address as ``socket.connect`` takes it."""
        if self.family == _AF_INET6:
            return (self.host, self.port, self.flowinfo, self.scope_id)
        return (self.host, self.port)

    def __str__(self) -> str:
        if self.family == _AF_INET6:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a backend found: addresses (their port is ignored) and a TTL if it knows one."""

    addresses: tuple[Address, ...]
    ttl: float | None = None


class CacheStatus(enum.Enum):
    """What :meth:`DNSCache.get` found."""

    MISS = "MISS"  #: nothing usable: look the name up
    FRESH = "FRESH"  #: addresses within their TTL
    STALE = "STALE"  #: expired addresses still servable; refresh them in the background
    NEGATIVE = "NEGATIVE"  #: a recent failure: ``entry.error`` again


_MISS = CacheStatus.MISS
_FRESH = CacheStatus.FRESH
_STALE = CacheStatus.STALE
_NEGATIVE = CacheStatus.NEGATIVE


class CacheEntry:
    """One cached answer (or failure)."""

    __slots__ = ("_by_port", "addresses", "error", "expires", "refresh_after", "stale_until")

    def __init__(
        self,
        addresses: tuple[Address, ...],
        error: Exception | None,
        expires: float,
        stale_until: float,
    ) -> None:
        self.addresses = addresses
        self.error = error
        self.expires = expires
        self.stale_until = stale_until
        self.refresh_after = expires  # no background refresh before this
        self._by_port: dict[int, tuple[Address, ...]] = {}

    def for_port(self, port: int) -> tuple[Address, ...]:
        """Return the addresses with ``port`` filled in (built once per port)."""
        found = self._by_port.get(port)
        if found is None:
            if len(self._by_port) >= 8:  # a name used with many ports: keep it bounded
                self._by_port.clear()
            found = self._by_port[port] = tuple(a._replace(port=port) for a in self.addresses)
        return found

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<CacheEntry error={self.error!r} expires={self.expires}>"
        return f"<CacheEntry {len(self.addresses)} addresses expires={self.expires}>"


def _check(
    name: str, value: float | None, *, allow_none: bool = False, integer: bool = False
) -> None:
    if value is None and allow_none:
        return
    kind: tuple[type, ...] = (int,) if integer else (int, float)
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, not {value!r}")
    if value < 0 or (integer and value == 0):
        raise ValueError(f"{name} must be {'> 0' if integer else '>= 0'}, got {value}")


class DNSCache:
    """LRU cache of resolver answers with TTL clamps, negative entries and serve-stale.

    Args:
        default_ttl: seconds an answer lives when the backend reports no TTL.
        min_ttl: lower clamp on every TTL.
        max_ttl: upper clamp on every TTL.
        negative_ttl: seconds a failure is repeated without a new lookup.
        max_entries: entries kept, least recently used dropped first.
        max_stale: seconds past expiry an answer may still be served while
            refreshed (RFC 8767); None disables serve-stale.

    """

    def __init__(
        self,
        *,
        default_ttl: float = 30.0,
        min_ttl: float = 1.0,
        max_ttl: float = 600.0,
        negative_ttl: float = 2.0,
        max_entries: int = 10_000,
        max_stale: float | None = None,
    ) -> None:
        _check("default_ttl", default_ttl)
        _check("min_ttl", min_ttl)
        _check("max_ttl", max_ttl)
        _check("negative_ttl", negative_ttl)
        _check("max_entries", max_entries, integer=True)
        _check("max_stale", max_stale, allow_none=True)
        if min_ttl > max_ttl:
            raise ValueError(f"min_ttl ({min_ttl}) must not exceed max_ttl ({max_ttl})")
        self.default_ttl = default_ttl
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.max_stale = max_stale
        self._entries: OrderedDict[tuple[str, int], CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def ttl_for(self, answer: Answer) -> float:
        """Return the TTL an answer is cached for (rule 1)."""
        ttl = self.default_ttl if answer.ttl is None else answer.ttl
        return min(max(ttl, self.min_ttl), self.max_ttl)

    def peek(self, key: tuple[str, int], now: float) -> CacheEntry | None:
        """Return ``key``'s usable positive entry (fresh or stale); the LRU order is untouched."""
        entry = self._entries.get(key)
        if entry is None or entry.error is not None:
            return None
        return entry if now < entry.stale_until or now < entry.expires else None

    def get(self, key: tuple[str, int], now: float) -> tuple[CacheStatus, CacheEntry | None]:
        """Look ``key`` up; an entry past every use is dropped."""
        entry = self._entries.get(key)
        if entry is None:
            return _MISS, None
        if now < entry.expires:
            self._entries.move_to_end(key)
            return (_NEGATIVE if entry.error is not None else _FRESH), entry
        if entry.error is None and now < entry.stale_until:
            self._entries.move_to_end(key)
            return _STALE, entry
        del self._entries[key]
        return _MISS, None

    def put(self, key: tuple[str, int], answer: Answer, now: float) -> CacheEntry:
        """Store an answer; returns its entry."""
        expires = now + self.ttl_for(answer)
        stale = expires if self.max_stale is None else expires + self.max_stale
        entry = CacheEntry(answer.addresses, None, expires, stale)
        self._store(key, entry)
        return entry

    def fail(self, key: tuple[str, int], error: Exception, now: float) -> CacheEntry:
        """Record a failed lookup; returns the entry callers now get.

        A stale entry still servable is kept (and refreshed again no sooner
        than ``negative_ttl`` from now); otherwise a negative entry is stored.
        """
        entry = self._entries.get(key)
        if entry is not None and entry.error is None and now < entry.stale_until:
            entry.refresh_after = now + self.negative_ttl
            return entry
        entry = CacheEntry((), error, now + self.negative_ttl, now + self.negative_ttl)
        self._store(key, entry)
        return entry

    def invalidate(self, host: str) -> None:
        """Forget every entry for ``host`` (e.g. after connect failures)."""
        host = host.lower()
        for family in _FAMILIES:
            self._entries.pop((host, family), None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def _store(self, key: tuple[str, int], entry: CacheEntry) -> None:
        entries = self._entries
        entries[key] = entry
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)
