"""The async resolver: literals and localhost at once, names through a cache.

Strategy
--------
``resolve()`` answers IP literals (v4, v6, bracketed or not, with a zone)
and ``localhost`` without a lookup. Anything else goes through
:class:`DNSCache`: a fresh entry is served as is; a stale one (serve-stale)
is served while one background refresh runs; a miss starts one lookup per
``(host, family)`` that every concurrent caller shares (single-flight: the
lookup runs in its own task, callers await it shielded, so one caller's
cancellation never fails the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from typing import TYPE_CHECKING, Protocol

from ._cache import Address, Answer, CacheEntry, CacheStatus, DNSCache
from ._errors import ResolveError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Backend", "GetaddrinfoBackend", "Resolver"]

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_AF_UNSPEC = socket.AF_UNSPEC
_FRESH = CacheStatus.FRESH
_STALE = CacheStatus.STALE
_NEGATIVE = CacheStatus.NEGATIVE
_FAMILIES = frozenset((_AF_UNSPEC, _AF_INET, _AF_INET6))


class Backend(Protocol):
    """Where the resolver gets answers: getaddrinfo by default, or a DNS library."""

    async def lookup(self, host: str, family: int) -> Answer:
        """Return the addresses of ``host`` (of ``family``, or both for AF_UNSPEC).

        Raises:
            ResolveError: the name does not resolve.

        """
        ...


class GetaddrinfoBackend:
    """The event loop's getaddrinfo (a thread pool); it reports no TTL."""

    async def lookup(self, host: str, family: int) -> Answer:
        """Look ``host`` up with ``loop.getaddrinfo``."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host,
                None,
                family=family,
                type=socket.SOCK_STREAM,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_ADDRCONFIG,
            )
        except socket.gaierror as exc:
            raise ResolveError(host, exc.strerror or str(exc), exc.errno) from exc
        except (OSError, UnicodeError) as exc:  # e.g. a label too long for IDNA
            raise ResolveError(host, str(exc), getattr(exc, "errno", None)) from exc
        seen: set[tuple[object, ...]] = set()
        addresses: list[Address] = []
        for info_family, _, _, _, sockaddr in infos:
            if info_family not in (_AF_INET, _AF_INET6) or sockaddr in seen:
                continue
            seen.add(sockaddr)
            if info_family == _AF_INET6:
                addresses.append(Address(_AF_INET6, str(sockaddr[0]), 0, *sockaddr[2:]))
            else:
                addresses.append(Address(_AF_INET, str(sockaddr[0]), 0))
        if not addresses:
            raise ResolveError(host, "no IPv4 or IPv6 address")
        return Answer(tuple(addresses))


def _loopback(family: int, port: int) -> list[Address]:
    """RFC 6761 §6.3: localhost is the loopback, without asking anyone."""
    addresses = []
    if family != _AF_INET and socket.has_ipv6:
        addresses.append(Address(_AF_INET6, "::1", port))
    if family != _AF_INET6:
        addresses.append(Address(_AF_INET, "127.0.0.1", port))
    return addresses


def _maybe_literal(host: str, port: int, family: int) -> list[Address] | None:
    """Return the address of an IP literal or localhost; None for a name to look up."""
    bracketed = host[:1] == "[" and host[-1:] == "]"
    text = host[1:-1] if bracketed else host
    # Names end in a letter (TLDs are not numeric): skip the parse for them.
    if not (bracketed or text[-1:].isdigit() or ":" in text):
        if text.lower() in ("localhost", "localhost."):
            return _loopback(family, port)
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if bracketed:
            raise ResolveError(host, "not an IP address between brackets") from None
        return None
    wanted = _AF_INET6 if ip.version == 6 else _AF_INET
    if family not in (_AF_UNSPEC, wanted):
        raise ResolveError(host, "the IP address is not of the requested family")
    if isinstance(ip, ipaddress.IPv6Address):
        scope = 0
        if ip.scope_id:
            try:
                zone = ip.scope_id
                scope = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
            except OSError as exc:
                raise ResolveError(host, f"unknown zone {ip.scope_id!r}") from exc
        mapped = ip.ipv4_mapped
        # RFC 5952 §5: mixed notation for IPv4-mapped addresses, whatever the
        # Python (str() of one changed in 3.13); getaddrinfo answers the same.
        text = f"::ffff:{mapped}" if mapped is not None else str(ip).split("%", 1)[0]
        return [Address(_AF_INET6, text, port, 0, scope)]
    return [Address(_AF_INET, str(ip), port)]


def _consume(task: asyncio.Task[CacheEntry]) -> None:
    """Mark a lookup's failure as seen even if every caller gave up waiting."""
    if not task.cancelled():
        task.exception()


class Resolver:
    """Cached async resolver: bounded TTLs, negative caching, single-flight, serve-stale.

    Args:
        backend: where answers come from (default: :class:`GetaddrinfoBackend`).
        default_ttl: seconds an answer is kept when the backend gives no TTL.
        min_ttl: lower clamp on every TTL.
        max_ttl: upper clamp on every TTL.
        negative_ttl: seconds a failed lookup is answered from the cache.
        max_entries: names kept (least recently used dropped first).
        serve_stale: serve expired answers while refreshing them (RFC 8767).
        max_stale: how long past expiry an answer may be served stale.
        clock: monotonic seconds (default ``time.monotonic``).

    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        default_ttl: float = 30.0,
        min_ttl: float = 1.0,
        max_ttl: float = 600.0,
        negative_ttl: float = 2.0,
        max_entries: int = 10_000,
        serve_stale: bool = False,
        max_stale: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(serve_stale, bool):
            raise TypeError(f"serve_stale must be a bool, not {serve_stale!r}")
        self.backend: Backend = GetaddrinfoBackend() if backend is None else backend
        self.cache = DNSCache(
            default_ttl=default_ttl,
            min_ttl=min_ttl,
            max_ttl=max_ttl,
            negative_ttl=negative_ttl,
            max_entries=max_entries,
            max_stale=max_stale if serve_stale else None,
        )
        self._clock = time.monotonic if clock is None else clock
        self._inflight: dict[tuple[str, int], asyncio.Task[CacheEntry]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<Resolver {len(self.cache)} names cached, {len(self._inflight)} in flight>"

    async def __aenter__(self) -> Resolver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def resolve(self, host: str, port: int = 0, family: int = _AF_UNSPEC) -> list[Address]:
        """Return the addresses of ``host`` with ``port`` filled in.

        Raises:
            ResolveError: the name does not resolve (also an ``OSError``).
            ValueError: ``family`` is not AF_UNSPEC, AF_INET or AF_INET6.
            RuntimeError: the resolver is closed.

        """
        if family not in _FAMILIES:
            raise ValueError(f"family must be AF_UNSPEC, AF_INET or AF_INET6, not {family!r}")
        if not host:
            raise ResolveError(host, "empty host name")
        literal = _maybe_literal(host, port, family)
        if literal is not None:
            return literal
        if self._closed:
            raise RuntimeError("the resolver is closed")
        key = (host.lower(), family)
        now = self._clock()
        status, entry = self.cache.get(key, now)
        if entry is not None:
            if status is _FRESH:
                return list(entry.for_port(port))
            if status is _STALE:
                if now >= entry.refresh_after and key not in self._inflight:
                    self._start_lookup(key, host)
                return list(entry.for_port(port))
            if status is _NEGATIVE:
                raise _again(entry.error, host)
        task = self._inflight.get(key)
        if task is None:
            task = self._start_lookup(key, host)
        entry = await asyncio.shield(task)
        return list(entry.for_port(port))

    def cached(self, host: str, family: int = _AF_UNSPEC) -> bool:
        """Whether resolving ``host`` now would be answered without a lookup.

        True for IP literals and for fresh or stale (served while refreshed)
        cache entries; tracing uses it to tell cache hits from misses.
        """
        if _maybe_literal(host, 0, family) is not None:
            return True
        entry = self.cache.peek((host.lower(), family), self._clock())
        return entry is not None

    def invalidate(self, host: str) -> None:
        """Forget ``host``'s cached answers: the next resolve looks it up again."""
        self.cache.invalidate(host)
        host = host.lower()
        for key in [key for key in self._inflight if key[0] == host]:
            # A lookup already running may carry the stale answer: let it
            # finish for those awaiting it, but not store it for later callers.
            self._inflight.pop(key)

    async def aclose(self) -> None:
        """Cancel lookups in flight and clear the cache; later resolves of names raise."""
        self._closed = True
        tasks = list(self._inflight.values())
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self.cache.clear()

    def _start_lookup(self, key: tuple[str, int], host: str) -> asyncio.Task[CacheEntry]:
        task = asyncio.get_running_loop().create_task(self._lookup(key, host))
        task.add_done_callback(_consume)
        self._inflight[key] = task
        return task

    async def _lookup(self, key: tuple[str, int], host: str) -> CacheEntry:
        task = asyncio.current_task()
        try:
            try:
                answer = await self.backend.lookup(host, key[1])
                if not answer.addresses:
                    raise ResolveError(host, "the backend returned no address")
            except ResolveError as exc:
                error = exc
            except OSError as exc:  # a backend that raises plain OSError
                error = ResolveError(host, str(exc), exc.errno)
                error.__cause__ = exc
            else:
                if self._inflight.get(key) is not task:  # invalidated or closed meanwhile
                    return CacheEntry(answer.addresses, None, 0.0, 0.0)
                return self.cache.put(key, answer, self._clock())
            if self._inflight.get(key) is task:
                entry = self.cache.fail(key, error, self._clock())
                if entry.error is None:
                    return entry  # a stale answer beats a failure (RFC 8767 §4)
            raise error
        finally:
            if self._inflight.get(key) is task:
                del self._inflight[key]


def _again(error: Exception | None, host: str) -> ResolveError:
    """Return a fresh exception for a cached failure (one instance is never raised twice)."""
    if isinstance(error, ResolveError):
        return ResolveError(error.host, error.message, error.errno)
    return ResolveError(host, str(error))
