"""Resolver: literals, single-flight, negative caching, serve-stale, invalidate, getaddrinfo.

DNS answers come from a scripted backend (no real peer can be told what to
answer) and time from an injected clock; getaddrinfo is exercised only on
names the machine answers itself (localhost), never a network query.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from hyperhttp_dns import Address, Answer, GetaddrinfoBackend, ResolveError, Resolver

pytestmark = pytest.mark.asyncio

V4 = Address(socket.AF_INET, "192.0.2.7", 0)
V6 = Address(socket.AF_INET6, "2001:db8::7", 0)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedBackend:
    """Answers from a table; records calls; can be made to block or fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.answers: dict[str, Answer | ResolveError] = {}
        self.gate: asyncio.Event | None = None

    async def lookup(self, host: str, family: int) -> Answer:
        self.calls.append((host, family))
        if self.gate is not None:
            await self.gate.wait()
        result = self.answers.get(host)
        if result is None:
            raise ResolveError(host, "Name or service not known", socket.EAI_NONAME)
        if isinstance(result, ResolveError):
            raise result
        return result


@pytest.fixture
def backend() -> ScriptedBackend:
    backend = ScriptedBackend()
    backend.answers["api.test"] = Answer((V6, V4))
    return backend


# ------------------------------------------------------------------ literals


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", [Address(socket.AF_INET, "127.0.0.1", 8080)]),
        ("::1", [Address(socket.AF_INET6, "::1", 8080)]),
        ("[::1]", [Address(socket.AF_INET6, "::1", 8080)]),
        ("[2001:DB8::1]", [Address(socket.AF_INET6, "2001:db8::1", 8080)]),
        # RFC 5952 §5: an IPv4-mapped address is written in mixed notation, on
        # every Python (str(IPv6Address) only does so from 3.13 on).
        ("::ffff:127.0.0.1", [Address(socket.AF_INET6, "::ffff:127.0.0.1", 8080)]),
        ("::ffff:7f00:1", [Address(socket.AF_INET6, "::ffff:127.0.0.1", 8080)]),
        ("[::FFFF:10.0.0.1]", [Address(socket.AF_INET6, "::ffff:10.0.0.1", 8080)]),
    ],
)
async def test_ip_literals_need_no_lookup(
    backend: ScriptedBackend, host: str, expected: list[Address]
) -> None:
    """IPv4 and IPv6 literals, bracketed or not, are answered without the backend."""
    async with Resolver(backend) as resolver:
        assert await resolver.resolve(host, 8080) == expected
    assert backend.calls == []


async def test_scoped_ipv6_literal_keeps_its_zone(backend: ScriptedBackend) -> None:
    """A link-local literal with a numeric zone carries it as scope_id."""
    async with Resolver(backend) as resolver:
        (address,) = await resolver.resolve("fe80::1%1", 80)
    assert address.sockaddr == ("fe80::1", 80, 0, 1)


async def test_localhost_is_the_loopback(backend: ScriptedBackend) -> None:
    """Localhost resolves to ::1 and 127.0.0.1 (RFC 6761) without a lookup, per family."""
    async with Resolver(backend) as resolver:
        both = await resolver.resolve("LocalHost", 80)
        assert Address(socket.AF_INET, "127.0.0.1", 80) in both
        v4 = await resolver.resolve("localhost", 80, socket.AF_INET)
        assert v4 == [Address(socket.AF_INET, "127.0.0.1", 80)]
        v6 = await resolver.resolve("localhost.", 80, socket.AF_INET6)
        assert all(a.family == socket.AF_INET6 for a in v6)
    assert backend.calls == []


async def test_literal_of_the_wrong_family_is_an_error(backend: ScriptedBackend) -> None:
    """Asking AF_INET6 for an IPv4 literal raises ResolveError, an OSError."""
    async with Resolver(backend) as resolver:
        with pytest.raises(OSError, match="not of the requested family"):
            await resolver.resolve("127.0.0.1", 80, socket.AF_INET6)
        with pytest.raises(ResolveError, match="between brackets"):
            await resolver.resolve("[not-an-ip]", 80)


async def test_bad_arguments(backend: ScriptedBackend) -> None:
    """An unknown family is a ValueError, an empty host a ResolveError."""
    async with Resolver(backend) as resolver:
        with pytest.raises(ValueError, match="family"):
            await resolver.resolve("api.test", 80, socket.AF_UNIX)
        with pytest.raises(ResolveError, match="empty"):
            await resolver.resolve("", 80)


# ------------------------------------------------------------------ cache


async def test_names_are_cached_for_their_ttl(backend: ScriptedBackend) -> None:
    """A second resolve within the TTL makes no lookup; after it, one more."""
    clock = Clock()
    async with Resolver(backend, default_ttl=30.0, clock=clock) as resolver:
        first = await resolver.resolve("api.test", 443)
        assert first == [V6._replace(port=443), V4._replace(port=443)]
        clock.now += 29.0
        assert await resolver.resolve("API.test", 443) == first
        assert len(backend.calls) == 1
        clock.now += 1.0
        await resolver.resolve("api.test", 443)
        assert len(backend.calls) == 2


async def test_backend_ttl_is_used_and_clamped(backend: ScriptedBackend) -> None:
    """A TTL the backend reports is honoured within min_ttl and max_ttl."""
    clock = Clock()
    backend.answers["short.test"] = Answer((V4,), ttl=0.0)
    backend.answers["long.test"] = Answer((V4,), ttl=99_999.0)
    async with Resolver(backend, min_ttl=5.0, max_ttl=60.0, clock=clock) as resolver:
        await resolver.resolve("short.test")
        await resolver.resolve("long.test")
        clock.now += 4.9
        await resolver.resolve("short.test")
        assert len(backend.calls) == 2
        clock.now += 0.1
        await resolver.resolve("short.test")
        assert len(backend.calls) == 3
        clock.now += 54.9
        await resolver.resolve("long.test")
        assert len(backend.calls) == 3
        clock.now += 0.1
        await resolver.resolve("long.test")
        assert len(backend.calls) == 4


async def test_family_is_part_of_the_key(backend: ScriptedBackend) -> None:
    """AF_INET and AF_UNSPEC answers are looked up and cached separately."""
    async with Resolver(backend) as resolver:
        await resolver.resolve("api.test", 80)
        await resolver.resolve("api.test", 80, socket.AF_INET)
        await resolver.resolve("api.test", 80, socket.AF_INET)
    assert backend.calls == [("api.test", socket.AF_UNSPEC), ("api.test", socket.AF_INET)]


async def test_failure_names_the_host_and_is_cached_briefly(backend: ScriptedBackend) -> None:
    """A failure raises ResolveError (an OSError naming the host), cached for negative_ttl.

    Within negative_ttl it is repeated from the cache; then the name is looked up again.
    """
    clock = Clock()
    async with Resolver(backend, negative_ttl=2.0, clock=clock) as resolver:
        with pytest.raises(OSError, match=r"'gone\.test'") as first:
            await resolver.resolve("gone.test", 80)
        assert isinstance(first.value, ResolveError)
        assert first.value.host == "gone.test"
        assert first.value.errno == socket.EAI_NONAME
        clock.now += 1.9
        with pytest.raises(ResolveError) as second:
            await resolver.resolve("gone.test", 80)
        assert second.value is not first.value
        assert len(backend.calls) == 1
        clock.now += 0.1
        backend.answers["gone.test"] = Answer((V4,))
        assert await resolver.resolve("gone.test", 80) == [V4._replace(port=80)]
        assert len(backend.calls) == 2


async def test_empty_answer_is_a_failure(backend: ScriptedBackend) -> None:
    """A backend answering no address is a ResolveError, not an empty list."""
    backend.answers["empty.test"] = Answer(())
    async with Resolver(backend) as resolver:
        with pytest.raises(ResolveError, match="no address"):
            await resolver.resolve("empty.test")


async def test_plain_oserror_from_a_backend_becomes_resolve_error() -> None:
    """A backend raising a bare OSError still gives callers a ResolveError naming the host."""

    class Broken:
        async def lookup(self, host: str, family: int) -> Answer:
            raise ConnectionRefusedError("resolver down")

    async with Resolver(Broken()) as resolver:
        with pytest.raises(ResolveError, match=r"'x\.test'.*resolver down"):
            await resolver.resolve("x.test")


async def test_single_flight_1000_concurrent_resolves_one_lookup(
    backend: ScriptedBackend,
) -> None:
    """1 000 concurrent resolves of a cold name cause exactly one backend call."""
    backend.gate = asyncio.Event()
    async with Resolver(backend) as resolver:
        tasks = [asyncio.create_task(resolver.resolve("api.test", 80)) for _ in range(1000)]
        await asyncio.sleep(0)
        backend.gate.set()
        results = await asyncio.gather(*tasks)
    assert len(backend.calls) == 1
    assert all(r == [V6._replace(port=80), V4._replace(port=80)] for r in results)


async def test_single_flight_failure_reaches_every_caller(backend: ScriptedBackend) -> None:
    """When the shared lookup fails, every waiting caller gets a ResolveError."""
    backend.gate = asyncio.Event()
    async with Resolver(backend) as resolver:
        tasks = [asyncio.create_task(resolver.resolve("nope.test", 80)) for _ in range(50)]
        await asyncio.sleep(0)
        backend.gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert len(backend.calls) == 1
    assert all(isinstance(r, ResolveError) for r in results)


async def test_cancelled_caller_does_not_cancel_the_shared_lookup(
    backend: ScriptedBackend,
) -> None:
    """Cancelling the caller that started a lookup leaves the others their answer."""
    backend.gate = asyncio.Event()
    async with Resolver(backend) as resolver:
        first = asyncio.create_task(resolver.resolve("api.test", 80))
        await asyncio.sleep(0)
        second = asyncio.create_task(resolver.resolve("api.test", 80))
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        backend.gate.set()
        assert len(await second) == 2
    assert len(backend.calls) == 1


async def test_serve_stale_answers_at_once_and_refreshes_once(backend: ScriptedBackend) -> None:
    """RFC 8767: an expired entry is served while one background refresh runs."""
    clock = Clock()
    async with Resolver(
        backend, default_ttl=10.0, serve_stale=True, max_stale=30.0, clock=clock
    ) as resolver:
        await resolver.resolve("api.test", 80)
        backend.answers["api.test"] = Answer((V4,))
        backend.gate = asyncio.Event()
        clock.now += 15.0
        stale = [await resolver.resolve("api.test", 80) for _ in range(20)]
        assert all(r == [V6._replace(port=80), V4._replace(port=80)] for r in stale)
        await asyncio.sleep(0)  # the refresh task starts
        stale = [await resolver.resolve("api.test", 80) for _ in range(20)]
        assert all(len(r) == 2 for r in stale)
        assert len(backend.calls) == 2  # the first lookup + one refresh
        backend.gate.set()
        for _ in range(5):  # let the refresh task finish (bounded)
            await asyncio.sleep(0)
        assert await resolver.resolve("api.test", 80) == [V4._replace(port=80)]
        assert len(backend.calls) == 2


async def test_serve_stale_survives_a_failed_refresh_until_max_stale(
    backend: ScriptedBackend,
) -> None:
    """A refresh that fails keeps the stale answer until max_stale, then the error shows."""
    clock = Clock()
    async with Resolver(
        backend, default_ttl=10.0, negative_ttl=2.0, serve_stale=True, max_stale=30.0, clock=clock
    ) as resolver:
        await resolver.resolve("api.test", 80)
        backend.answers["api.test"] = ResolveError("api.test", "SERVFAIL")
        clock.now += 11.0
        assert len(await resolver.resolve("api.test", 80)) == 2
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(backend.calls) == 2
        clock.now += 1.0  # within the refresh back-off: no new lookup
        assert len(await resolver.resolve("api.test", 80)) == 2
        await asyncio.sleep(0)
        assert len(backend.calls) == 2
        clock.now += 30.0  # past max_stale: a foreground lookup, which fails
        with pytest.raises(ResolveError, match="SERVFAIL"):
            await resolver.resolve("api.test", 80)


async def test_stale_not_served_without_serve_stale(backend: ScriptedBackend) -> None:
    """By default an expired entry means a fresh lookup that the caller waits for."""
    clock = Clock()
    async with Resolver(backend, default_ttl=10.0, clock=clock) as resolver:
        await resolver.resolve("api.test", 80)
        backend.answers["api.test"] = Answer((V4,))
        clock.now += 10.0
        assert await resolver.resolve("api.test", 80) == [V4._replace(port=80)]


async def test_invalidate_forces_a_new_lookup(backend: ScriptedBackend) -> None:
    """invalidate(host) after connect failures makes the next resolve look the name up."""
    async with Resolver(backend) as resolver:
        await resolver.resolve("api.test", 80)
        backend.answers["api.test"] = Answer((V4,))
        resolver.invalidate("API.TEST")
        assert await resolver.resolve("api.test", 80) == [V4._replace(port=80)]
    assert len(backend.calls) == 2


async def test_invalidate_during_a_lookup_does_not_cache_its_answer(
    backend: ScriptedBackend,
) -> None:
    """An answer already in flight when invalidated reaches its callers but is not cached."""
    backend.gate = asyncio.Event()
    async with Resolver(backend) as resolver:
        pending = asyncio.create_task(resolver.resolve("api.test", 80))
        await asyncio.sleep(0)
        resolver.invalidate("api.test")
        backend.gate.set()
        assert len(await pending) == 2
        await resolver.resolve("api.test", 80)
    assert len(backend.calls) == 2


async def test_lru_bound(backend: ScriptedBackend) -> None:
    """Only max_entries names stay cached."""
    for name in ("a.test", "b.test", "c.test"):
        backend.answers[name] = Answer((V4,))
    async with Resolver(backend, max_entries=2) as resolver:
        for name in ("a.test", "b.test", "c.test", "a.test"):
            await resolver.resolve(name)
        assert len(resolver.cache) == 2
    assert [host for host, _ in backend.calls] == ["a.test", "b.test", "c.test", "a.test"]


async def test_aclose_cancels_lookups_and_refuses_names(backend: ScriptedBackend) -> None:
    """aclose() cancels what is in flight; resolving a name afterwards raises."""
    backend.gate = asyncio.Event()
    resolver = Resolver(backend)
    pending = asyncio.create_task(resolver.resolve("api.test", 80))
    await asyncio.sleep(0)
    await resolver.aclose()
    with pytest.raises(asyncio.CancelledError):
        await pending
    with pytest.raises(RuntimeError, match="closed"):
        await resolver.resolve("api.test", 80)
    assert await resolver.resolve("127.0.0.1", 80)  # literals need no resolver state


async def test_bad_settings_are_rejected() -> None:
    """Resolver settings are validated at construction."""
    with pytest.raises(TypeError):
        Resolver(serve_stale=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_ttl"):
        Resolver(min_ttl=10.0, max_ttl=1.0)


# ------------------------------------------------------------------ getaddrinfo


async def test_getaddrinfo_backend_answers_localhost() -> None:
    """The default backend asks the loop's getaddrinfo (localhost comes from /etc/hosts)."""
    answer = await GetaddrinfoBackend().lookup("localhost", socket.AF_INET)
    assert Address(socket.AF_INET, "127.0.0.1", 0) in answer.addresses
    assert answer.ttl is None
    assert len(set(answer.addresses)) == len(answer.addresses)


async def test_getaddrinfo_failure_is_a_resolve_error() -> None:
    """A name getaddrinfo rejects (here locally: an empty label) raises ResolveError."""
    async with Resolver() as resolver:
        with pytest.raises(ResolveError, match=r"'bad\.\.name'"):
            await resolver.resolve("bad..name", 80)


async def test_cached_tells_hits_from_misses(backend: ScriptedBackend) -> None:
    """cached(): literals always; names while fresh (or servable stale); never failures."""
    clock = Clock()
    backend.answers["bad.test"] = ResolveError("bad.test", "Name or service not known")
    async with Resolver(backend, default_ttl=30.0, negative_ttl=5.0, clock=clock) as resolver:
        assert resolver.cached("127.0.0.1")
        assert resolver.cached("::1")
        assert resolver.cached("localhost")
        assert not resolver.cached("api.test")
        await resolver.resolve("api.test", 443)
        assert resolver.cached("api.test")
        assert resolver.cached("API.test")
        assert not resolver.cached("api.test", socket.AF_INET)  # the family is part of the key
        with pytest.raises(ResolveError):
            await resolver.resolve("bad.test")
        assert not resolver.cached("bad.test")  # a cached failure is not an answer
        calls = len(backend.calls)
        assert resolver.cached("api.test")
        assert len(backend.calls) == calls  # asking made no lookup
        clock.now += 30.0
        assert not resolver.cached("api.test")
        await resolver.resolve("api.test")
        resolver.invalidate("api.test")
        assert not resolver.cached("api.test")
