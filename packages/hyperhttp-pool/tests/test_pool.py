"""The asyncio pool: reuse, caps, fairness, and every race around cancellation.

The pool never does I/O itself: connections come from an injected ``connect``,
so a fake connection (settable capacity and usability) is the real peer here
(the fakes live in _pool_fakes.py, shared with the other test modules).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from _pool_fakes import Connector, FakeConnection, FakePool, settle

from hyperhttp_pool import Pool, PoolClosed, PoolStats, PoolTimeout

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.asyncio


def make_pool(connector: Connector, **limits: float | None) -> FakePool:
    return Pool(connector, **limits)  # type: ignore[arg-type]


def is_closed(connection: FakeConnection) -> bool:
    """Read ``closed`` afresh (mypy would keep an earlier assert's narrowing)."""
    return connection.closed


# ---------------------------------------------------------------- reuse


async def test_idle_connection_is_reused() -> None:
    """Acquire, release, acquire: one connection serves both."""
    connector = Connector()
    async with make_pool(connector) as pool:
        first = await pool.acquire("a")
        first.release()
        second = await pool.acquire("a")
        assert second.connection is first.connection
        second.release()
    assert connector.started == 1


async def test_most_recently_used_first() -> None:
    """Of two idle connections, the one released last is reused first."""
    connector = Connector()
    async with make_pool(connector) as pool:
        one, two = await pool.acquire("a"), await pool.acquire("a")
        two.release()
        one.release()
        again = await pool.acquire("a")
        assert again.connection is one.connection
        again.release()


async def test_keys_do_not_share_connections() -> None:
    """A connection for one key never serves another."""
    connector = Connector()
    async with make_pool(connector) as pool:
        a = await pool.acquire("a")
        a.release()
        b = await pool.acquire("b")
        assert b.connection is not a.connection
        assert b.connection.key == "b"
        b.release()


async def test_lease_context_manager_releases_and_discards_on_error() -> None:
    """pool.lease() returns the connection on exit, discards it on an exception."""
    connector = Connector()
    async with make_pool(connector) as pool:
        async with pool.lease("a") as connection:
            pass
        assert not connection.closed
        assert pool.stats("a") == PoolStats(idle=1)
        with pytest.raises(RuntimeError):
            async with pool.lease("a") as broken:
                raise RuntimeError("the request failed mid-way")
        assert broken.closed
        assert pool.stats() == PoolStats()


async def test_lease_context_manager_discards_on_cancellation_and_is_single_use() -> None:
    """A request cancelled inside pool.lease() discards the connection; a lease() is one-shot."""
    connector = Connector()
    async with make_pool(connector) as pool:
        entered = asyncio.Event()
        held: list[FakeConnection] = []

        async def request() -> None:
            async with pool.lease("a") as connection:
                held.append(connection)
                entered.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(request())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert held[0].closed
        assert pool.stats() == PoolStats()
        leasing = pool.lease("a")
        async with leasing:
            with pytest.raises(RuntimeError, match="already in use"):
                await leasing.__aenter__()
        assert pool.stats("a") == PoolStats(idle=1)


async def test_unusable_idle_connection_is_replaced() -> None:
    """An idle connection the server closed is not reused; a new one is opened."""
    connector = Connector()
    async with make_pool(connector) as pool:
        lease = await pool.acquire("a")
        lease.release()
        lease.connection.usable = False
        fresh = await pool.acquire("a")
        assert fresh.connection is not lease.connection
        assert lease.connection.closed
        fresh.release()


async def test_release_is_idempotent() -> None:
    """Releasing a lease twice gives the capacity back once."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        lease = await pool.acquire("a")
        lease.release()
        lease.release()
        assert pool.stats() == PoolStats(idle=1)


# ---------------------------------------------------------------- caps and fairness


def busy(stats: PoolStats) -> int:
    """Count the connections the caps count: carrying a lease or being opened."""
    return stats.in_use + stats.connecting


async def test_caps_are_never_exceeded() -> None:
    """Under a burst of 200 requests over 4 keys, every cap holds at every moment."""
    connector = Connector()
    async with make_pool(
        connector, max_connections=5, max_connections_per_key=2, max_idle_connections=3
    ) as pool:
        per_key_peak: dict[str, int] = {}

        async def request(i: int) -> None:
            key = f"k{i % 4}"
            async with pool.lease(key):
                per_key_peak[key] = max(per_key_peak.get(key, 0), busy(pool.stats(key)))
                assert busy(pool.stats()) <= 5
                assert pool.stats().idle <= 3
                await asyncio.sleep(0)

        await asyncio.gather(*(request(i) for i in range(200)))
    assert connector.most_open <= 5 + 3
    assert max(per_key_peak.values()) <= 2


async def test_waiters_are_served_in_arrival_order() -> None:
    """Queued acquires for one key get leases strictly oldest first."""
    connector = Connector()
    async with make_pool(connector, max_connections_per_key=1) as pool:
        holder = await pool.acquire("a")
        order: list[int] = []

        async def waiter(i: int) -> None:
            lease = await pool.acquire("a")
            order.append(i)
            await asyncio.sleep(0)
            lease.release()

        tasks = [asyncio.create_task(waiter(i)) for i in range(20)]
        await settle()
        holder.release()
        await asyncio.gather(*tasks)
    assert order == list(range(20))


async def test_released_lease_goes_to_the_oldest_waiter_not_a_newcomer() -> None:
    """A release hands the connection to the waiter; an acquire arriving after waits."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        first = asyncio.create_task(pool.acquire("a"))
        await settle()
        holder.release()  # handed to `first` now, before it even runs
        newcomer = asyncio.create_task(pool.acquire("a"))
        await settle()
        assert first.done()
        assert not newcomer.done()
        lease = first.result()
        assert lease.connection is holder.connection
        lease.release()
        (await newcomer).release()


async def test_idle_connections_hold_no_slot() -> None:
    """Another key's idle connection stays open for it while a new key takes the slot.

    (A crawler visiting 1 000 origins with the old rule, where idle
    connections counted against ``max_connections``, closed one to open
    another at every visit.)
    """
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        a = await pool.acquire("a")
        a.release()
        b = await pool.acquire("b")
        assert not a.connection.closed
        assert b.connection.key == "b"
        assert pool.stats() == PoolStats(idle=1, in_use=1, leases=1)
        waiting = asyncio.ensure_future(pool.acquire("a"))
        await settle()
        assert not waiting.done()  # the idle "a" needs a slot to be leased
        b.release()
        again = await asyncio.wait_for(waiting, 5)
        assert again.connection is a.connection  # reused, not reopened
        again.release()
        assert len(connector.opened) == 2


async def test_idle_connections_past_the_idle_cap_close_least_recently_used_first() -> None:
    connector = Connector()
    async with make_pool(connector, max_connections=10, max_idle_connections=2) as pool:
        leases = [await pool.acquire(key) for key in "abc"]
        for lease in leases:
            lease.release()  # a, then b, then c go idle: a is the oldest
        assert [c.closed for c in connector.opened] == [True, False, False]
        assert pool.stats() == PoolStats(idle=2)
        (await pool.acquire("b")).release()  # b is now the most recently used
        (await pool.acquire("d")).release()
        assert [c.key for c in connector.open_now()] == ["b", "d"]


async def test_no_idle_connection_is_kept_with_an_idle_cap_of_zero() -> None:
    connector = Connector()
    async with make_pool(connector, max_idle_connections=0) as pool:
        lease = await pool.acquire("a")
        lease.release()
        assert lease.connection.closed
        assert pool.stats() == PoolStats()


async def test_keys_blocked_on_the_global_cap_are_served_in_arrival_order() -> None:
    """Under the global cap, a busy key cannot starve another: slots follow arrival order."""
    connector = Connector()
    async with make_pool(connector, max_connections=1, max_connections_per_key=1) as pool:
        holder = await pool.acquire("x")
        served: list[str] = []

        async def request(key: str) -> None:
            async with pool.lease(key):
                served.append(key)
                await asyncio.sleep(0)

        tasks = []
        for key in ["a", "b", "a", "b", "a", "b"]:
            tasks.append(asyncio.create_task(request(key)))
            await settle()
        holder.release()
        await asyncio.gather(*tasks)
    assert served == ["a", "b", "a", "b", "a", "b"]


async def test_a_key_keeps_its_connection_for_its_own_older_waiters() -> None:
    """Without an older waiter elsewhere, a released connection stays with its key."""
    connector = Connector()
    async with make_pool(connector, max_connections=1, max_connections_per_key=1) as pool:
        holder = await pool.acquire("x")
        served: list[str] = []

        async def request(key: str) -> None:
            async with pool.lease(key):
                served.append(key)
                await asyncio.sleep(0)

        tasks = []
        for key in ["a", "a", "a", "b"]:
            tasks.append(asyncio.create_task(request(key)))
            await settle()
        holder.release()
        await asyncio.gather(*tasks)
    assert served == ["a", "a", "a", "b"]
    assert connector.started == 3  # x, then one for a, then one for b


async def test_pool_timeout_carries_a_snapshot() -> None:
    """Waiting past the timeout raises PoolTimeout (also TimeoutError) with the counts."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        with pytest.raises(PoolTimeout) as caught:
            await pool.acquire("a", timeout=0.01)
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.stats == PoolStats(in_use=1, leases=1, waiters=1)
        assert pool.stats() == PoolStats(in_use=1, leases=1)
        holder.release()


# ---------------------------------------------------------------- cancellation


async def test_cancelled_waiters_leave_nothing_behind() -> None:
    """Cancelling queued acquires frees their places; capacity stays whole."""
    connector = Connector()
    async with make_pool(connector, max_connections=2) as pool:
        leases = [await pool.acquire("a"), await pool.acquire("a")]
        waiting = [asyncio.create_task(pool.acquire("a")) for _ in range(50)]
        await settle()
        assert pool.stats().waiters == 50
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert pool.stats().waiters == 0
        for lease in leases:
            lease.release()
        again = [await pool.acquire("a"), await pool.acquire("a")]
        assert {lease.connection for lease in again} == {lease.connection for lease in leases}
        for lease in again:
            lease.release()


async def test_cancelled_after_the_hand_off_passes_the_lease_on() -> None:
    """A waiter cancelled after it was handed a lease, before it ran, passes it on."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        doomed = asyncio.create_task(pool.acquire("a"))
        heir = asyncio.create_task(pool.acquire("a"))
        await settle()
        holder.release()  # the hand-off to `doomed` happens here...
        doomed.cancel()  # ...and it is cancelled before it runs
        lease = await heir
        assert lease.connection is holder.connection
        with pytest.raises(asyncio.CancelledError):
            await doomed
        lease.release()
        assert pool.stats() == PoolStats(idle=1)


async def test_timeout_during_the_hand_off_passes_the_lease_on() -> None:
    """A waiter whose timeout fires as the lease arrives gives it to the next."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        doomed = asyncio.create_task(pool.acquire("a", timeout=0.02))
        heir = asyncio.create_task(pool.acquire("a"))
        await settle()
        await asyncio.sleep(0.02)  # the timeout is due...
        holder.release()  # ...as the lease is handed over
        results = await asyncio.gather(doomed, return_exceptions=True)
        if isinstance(results[0], PoolTimeout):  # the timeout came first: `heir` has it
            (await heir).release()
        else:  # the lease came first: `doomed` holds it, and passes it on when done
            lease = results[0]
            assert not isinstance(lease, BaseException)
            assert not heir.done()
            lease.release()
            (await heir).release()
        assert pool.stats() == PoolStats(idle=1)


@pytest.mark.parametrize("cancel_after", range(8))
async def test_cancellation_at_every_await_point(cancel_after: int) -> None:
    """Cancel one acquire after 0..7 loop turns: whatever stage it is in, nothing leaks."""
    connector = Connector()
    async with make_pool(connector, max_connections=2, max_connections_per_key=2) as pool:
        holder = await pool.acquire("a")
        victim = asyncio.create_task(pool.acquire("a"))
        others = [asyncio.create_task(pool.acquire("a")) for _ in range(3)]
        for turn in range(8):
            if turn == cancel_after:
                victim.cancel()
            if turn == 3:
                holder.release()
            await asyncio.sleep(0)
        victim.cancel()
        outcome = await asyncio.gather(victim, return_exceptions=True)
        if not isinstance(outcome[0], BaseException):
            outcome[0].release()
        for task in others:
            (await task).release()
        stats = pool.stats()
        assert stats.leases == 0
        assert stats.waiters == 0
        assert stats.connecting == 0
        assert stats.connections <= 2
        both = [await pool.acquire("a", timeout=1), await pool.acquire("a", timeout=1)]
        for lease in both:
            lease.release()


# ---------------------------------------------------------------- connecting


async def test_connect_failure_goes_to_its_opener_and_the_next_proceeds() -> None:
    """A failed connect raises in the acquire it ran for; the next waiter opens anew."""
    connector = Connector()
    connector.failures = [ConnectionRefusedError("refused")]
    async with make_pool(connector, max_connections=1) as pool:
        first = asyncio.create_task(pool.acquire("a"))
        second = asyncio.create_task(pool.acquire("a"))
        with pytest.raises(ConnectionRefusedError):
            await first
        lease = await second
        assert connector.started == 2
        lease.release()
        assert pool.stats() == PoolStats(idle=1)


async def test_cancel_during_connect_frees_the_slot() -> None:
    """An acquire cancelled while connecting gives its slot to the next waiter."""
    connector = Connector()
    connector.gate = asyncio.Event()
    async with make_pool(connector, max_connections=1) as pool:
        opener = asyncio.create_task(pool.acquire("a"))
        await settle()
        assert pool.stats().connecting == 1
        queued = asyncio.create_task(pool.acquire("a"))
        await settle()
        opener.cancel()
        await asyncio.gather(opener, return_exceptions=True)
        connector.gate.set()
        lease = await queued
        lease.release()
        assert pool.stats() == PoolStats(idle=1)


async def test_close_while_connecting() -> None:
    """aclose() during a connect: the new connection is closed and the opener fails."""
    connector = Connector()
    connector.gate = asyncio.Event()
    pool = make_pool(connector)
    opener = asyncio.create_task(pool.acquire("a"))
    await settle()
    await pool.aclose()
    connector.gate.set()
    with pytest.raises(PoolClosed):
        await opener
    assert all(c.closed for c in connector.opened)


# ---------------------------------------------------------------- HTTP/2-style capacity


async def test_multiplexed_connection_carries_its_capacity() -> None:
    """A connection of capacity 3 carries 3 leases before another is opened."""
    connector = Connector()
    connector.capacity = 3
    async with make_pool(connector, max_connections_per_key=2) as pool:
        leases = [await pool.acquire("a") for _ in range(4)]
        assert len({lease.connection for lease in leases[:3]}) == 1
        assert leases[3].connection is not leases[0].connection
        assert pool.stats("a") == PoolStats(in_use=2, leases=4)
        for lease in leases:
            lease.release()


async def test_burst_waits_for_a_multiplexed_connection_being_opened() -> None:
    """Once a key's connections carry many streams, a burst shares the one being opened."""
    connector = Connector()
    connector.capacity = 10
    async with make_pool(connector, max_connections_per_key=5) as pool:
        first = await pool.acquire("a")  # teaches the pool: capacity 10
        first.release()
        first.connection.usable = False  # force a new connection for the burst
        burst = [asyncio.create_task(pool.acquire("a")) for _ in range(8)]
        leases = await asyncio.gather(*burst)
        assert len({lease.connection for lease in leases}) == 1
        assert connector.started == 2
        for lease in leases:
            lease.release()


async def test_a_peer_allowing_no_stream_gets_one_connection_not_a_storm() -> None:
    """Connections that open with capacity 0 keep their slots: one acquire opens the cap.

    Found by review: with idle connections holding no slot, such a
    connection went idle and its acquire opened another at once: thousands
    in 50 ms at max_connections=1.
    """
    connector = Connector()
    connector.capacity = 0
    async with make_pool(connector, max_connections=2, max_idle_connections=5) as pool:
        with pytest.raises(PoolTimeout):  # (bounded: the storm never timed out)
            await asyncio.wait_for(pool.acquire("h2", timeout=0.05), 2)
        assert connector.started == 2
        assert pool.stats() == PoolStats(in_use=2)
        connection = connector.opened[0]
        connection.capacity = 1  # its SETTINGS arrive
        pool.capacity_changed(connection)
        lease = await asyncio.wait_for(pool.acquire("h2"), 5)
        assert lease.connection is connection
        lease.release()


async def test_capacity_increase_serves_waiters() -> None:
    """When a connection's capacity grows (SETTINGS), queued waiters get it."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        waiters = [asyncio.create_task(pool.acquire("a")) for _ in range(2)]
        await settle()
        holder.connection.capacity = 3
        pool.capacity_changed(holder.connection)
        leases = await asyncio.gather(*waiters)
        assert all(lease.connection is holder.connection for lease in leases)
        for lease in [holder, *leases]:
            lease.release()


async def test_capacity_decrease_stops_new_leases() -> None:
    """When capacity drops below the leases held, no new lease is given until it fits."""
    connector = Connector()
    connector.capacity = 3
    async with make_pool(connector, max_connections=1) as pool:
        leases = [await pool.acquire("a") for _ in range(2)]
        leases[0].connection.capacity = 1
        pool.capacity_changed(leases[0].connection)
        waiter = asyncio.create_task(pool.acquire("a"))
        await settle()
        assert not waiter.done()
        leases[0].release()
        await settle()
        assert not waiter.done()  # 1 lease held, capacity 1: still full
        leases[1].release()
        (await waiter).release()


async def test_expected_capacity_makes_a_cold_burst_wait_for_one_connection() -> None:
    """A key expected to multiplex: a burst waits for its first connection, not 10 opens."""
    connector = Connector()
    connector.capacity = 100
    connector.gate = asyncio.Event()
    pool = Pool(connector, expected_capacity=lambda key: 100)
    async with pool:
        burst = [asyncio.ensure_future(pool.acquire("a")) for _ in range(20)]
        await settle()
        assert connector.started == 1
        connector.gate.set()
        leases = await asyncio.gather(*burst)
        assert {lease.connection.number for lease in leases} == {0}
        for lease in leases:
            lease.release()


async def test_expected_capacity_wrong_guess_opens_the_rest() -> None:
    """Expected to multiplex, the first connection carries one: the others open then."""
    connector = Connector()
    connector.capacity = 1
    connector.gate = asyncio.Event()
    pool = Pool(connector, expected_capacity=lambda key: 100, max_connections_per_key=5)
    async with pool:
        burst = [asyncio.ensure_future(pool.acquire("a")) for _ in range(5)]
        await settle()
        assert connector.started == 1
        connector.gate.set()
        leases = await asyncio.wait_for(asyncio.gather(*burst), 5)
        assert len({lease.connection.number for lease in leases}) == 5
        for lease in leases:
            lease.release()


async def test_expected_capacity_first_connect_failing_lets_the_others_open() -> None:
    """The awaited first connection fails: its waiter gets the error, the rest go on."""
    connector = Connector()
    connector.capacity = 100
    connector.failures = [OSError("refused")]
    pool = Pool(connector, expected_capacity=lambda key: 100)
    async with pool:
        burst = [asyncio.ensure_future(pool.acquire("a")) for _ in range(3)]
        results = await asyncio.wait_for(asyncio.gather(*burst, return_exceptions=True), 5)
        errors = [r for r in results if isinstance(r, BaseException)]
        leases = [r for r in results if not isinstance(r, BaseException)]
        assert len(errors) == 1
        assert len(leases) == 2
        for lease in leases:
            lease.release()


async def test_retire_finishes_leases_then_closes() -> None:
    """retire() (GOAWAY): no new leases on the connection, closed when its last ends."""
    connector = Connector()
    connector.capacity = 5
    async with make_pool(connector) as pool:
        lease = await pool.acquire("a")
        pool.retire(lease.connection)
        other = await pool.acquire("a")
        assert other.connection is not lease.connection
        assert not is_closed(lease.connection)
        lease.release()
        assert is_closed(lease.connection)
        other.release()


async def test_unusable_multiplexed_connection_keeps_its_other_leases() -> None:
    """A lease released on a connection that takes no new stream spares the others.

    (GOAWAY seen, not yet retired.) The connection is retired and closes after
    its last lease.
    """
    connector = Connector()
    connector.capacity = 5
    async with make_pool(connector) as pool:
        leases = [await pool.acquire("a") for _ in range(3)]
        connection = leases[0].connection
        assert all(lease.connection is connection for lease in leases)
        connection.usable = False
        leases[0].release()
        assert not is_closed(connection)
        other = await pool.acquire("a")
        assert other.connection is not connection
        leases[1].release()
        assert not is_closed(connection)
        leases[2].release()
        assert is_closed(connection)
        other.release()


async def test_discard_closes_now_and_frees_the_slot() -> None:
    """discard() closes a broken connection under its leases; their release is a no-op."""
    connector = Connector()
    connector.capacity = 5
    async with make_pool(connector, max_connections=1) as pool:
        leases = [await pool.acquire("a") for _ in range(2)]
        pool.discard(leases[0].connection)
        assert leases[0].connection.closed
        fresh = await pool.acquire("a")
        assert fresh.connection is not leases[0].connection
        for lease in [*leases, fresh]:
            lease.release()
        assert pool.stats() == PoolStats(idle=1)


# ---------------------------------------------------------------- recycling


async def test_recycled_after_max_requests() -> None:
    """A connection that served max_requests leases takes no more and then closes."""
    connector = Connector()
    async with make_pool(connector, max_requests=2) as pool:
        for _ in range(2):
            (await pool.acquire("a")).release()
        first = connector.opened[0]
        assert first.closed
        lease = await pool.acquire("a")
        assert lease.connection is not first
        lease.release()


async def test_recycled_after_max_lifetime() -> None:
    """A connection older than max_lifetime is not reused (injected clock)."""
    now = [0.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    connector = Connector()
    async with Pool(connector, max_lifetime=10.0, clock=clock) as pool:
        old = await pool.acquire("a")
        old.release()
        now[0] = 11.0
        fresh = await pool.acquire("a")
        assert fresh.connection is not old.connection
        assert old.connection.closed
        fresh.release()


async def test_old_connection_in_use_finishes_before_closing() -> None:
    """A connection past its lifetime while busy finishes its leases, then closes."""
    now = [0.0]
    connector = Connector()
    connector.capacity = 2
    async with Pool(connector, max_lifetime=10.0, clock=lambda: now[0]) as pool:
        busy = await pool.acquire("a")
        now[0] = 11.0
        other = await pool.acquire("a")
        assert other.connection is not busy.connection
        assert not is_closed(busy.connection)
        busy.release()
        assert is_closed(busy.connection)
        other.release()


async def test_idle_connections_expire() -> None:
    """An idle connection is closed keepalive_expiry seconds after its last use."""
    connector = Connector()
    async with make_pool(connector, keepalive_expiry=0.02) as pool:
        (await pool.acquire("a")).release()
        assert pool.stats().idle == 1
        for _ in range(50):  # bounded: at most 0.5 s
            await asyncio.sleep(0.01)
            if connector.opened[0].closed:
                break
        assert connector.opened[0].closed
        assert pool.stats() == PoolStats()


async def test_expired_idle_connection_not_reused_before_the_timer() -> None:
    """Reuse checks expiry itself, whatever the timer has done (injected clock)."""
    now = [0.0]
    connector = Connector()
    async with Pool(connector, keepalive_expiry=5.0, clock=lambda: now[0]) as pool:
        (await pool.acquire("a")).release()
        now[0] = 6.0
        lease = await pool.acquire("a")
        assert lease.connection is not connector.opened[0]
        lease.release()


# ---------------------------------------------------------------- close and stats


async def test_close_fails_waiters_and_closes_connections() -> None:
    """aclose() closes every connection, fails every waiter; later use raises."""
    connector = Connector()
    pool = make_pool(connector, max_connections=1)
    holder = await pool.acquire("a")
    waiting = [asyncio.create_task(pool.acquire("a")) for _ in range(3)]
    await settle()
    await pool.aclose()
    for task in waiting:
        with pytest.raises(PoolClosed):
            await task
    assert holder.connection.closed
    holder.release()
    with pytest.raises(PoolClosed):
        await pool.acquire("a")
    assert pool.stats() == PoolStats()


async def test_stats_per_key_and_total() -> None:
    """stats() counts idle, in use, connecting, leases and waiters, per key and in all."""
    connector = Connector()
    connector.gate = asyncio.Event()
    async with make_pool(connector, max_connections=3) as pool:
        connector.gate.set()
        a1 = await pool.acquire("a")
        a2 = await pool.acquire("a")
        a2.release()
        connector.gate.clear()
        opening = asyncio.create_task(pool.acquire("b"))
        await settle()
        assert pool.stats("a") == PoolStats(idle=1, in_use=1, leases=1)
        assert pool.stats("b") == PoolStats(connecting=1)
        assert pool.stats() == PoolStats(idle=1, in_use=1, connecting=1, leases=1)
        assert pool.stats("nobody") == PoolStats()
        connector.gate.set()
        (await opening).release()
        a1.release()


@pytest.mark.parametrize(
    ("limit", "value", "error"),
    [
        ("max_connections", 0, ValueError),
        ("max_connections", 1.5, TypeError),
        ("max_connections_per_key", -1, ValueError),
        ("keepalive_expiry", 0, ValueError),
        ("max_lifetime", "10", TypeError),
        ("max_requests", True, TypeError),
    ],
)
async def test_limits_are_validated(limit: str, value: object, error: type[Exception]) -> None:
    """Bad limits fail when the pool is built, naming the setting."""
    with pytest.raises(error, match=limit):
        Pool(Connector(), **{limit: value})  # type: ignore[arg-type]


async def test_no_per_key_cap_by_default() -> None:
    """``max_connections_per_key=None`` (the default): one key may use the whole global cap.

    A per-key cap of 10 throttled one slow origin to 10 x (1 / service time)
    requests a second whatever the machine (issue 16); aiohttp has none.
    """
    connector = Connector()
    connector.gate = asyncio.Event()
    async with make_pool(connector, max_connections=30) as pool:
        tasks = [asyncio.ensure_future(pool.acquire("a")) for _ in range(40)]
        try:
            await settle()
            opened = connector.started
        finally:
            connector.gate.set()
            for done in asyncio.as_completed(tasks, timeout=5):
                (await done).release()
        assert opened == 30  # the global cap, not 10 per key
    with pytest.raises(ValueError, match="max_connections_per_key"):
        Pool(Connector(), max_connections_per_key=0)
    explicit: FakePool = Pool(Connector(), max_connections_per_key=None)
    assert explicit.stats().connections == 0
    await explicit.aclose()


# ---------------------------------------------------------------- wait deadlines


async def test_a_shorter_wait_behind_a_longer_one_expires_on_time() -> None:
    """Deadlines out of arrival order: the later arrival with the earlier deadline times out."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        patient = asyncio.ensure_future(pool.acquire("a", timeout=30))
        await settle()
        with pytest.raises(PoolTimeout) as caught:
            await asyncio.wait_for(pool.acquire("a", timeout=0.02), 10)
        assert caught.value.stats.waiters == 2
        assert not patient.done()
        holder.release()
        (await patient).release()
        assert pool.stats() == PoolStats(idle=1)


async def test_timed_out_waiters_leave_their_places_in_order() -> None:
    """Many waiters with one timeout all time out; the pool serves the next arrival at once."""
    connector = Connector()
    async with make_pool(connector, max_connections=1) as pool:
        holder = await pool.acquire("a")
        waiting = [asyncio.ensure_future(pool.acquire("a", timeout=0.02)) for _ in range(20)]
        outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 10)
        assert all(isinstance(outcome, PoolTimeout) for outcome in outcomes)
        assert pool.stats() == PoolStats(in_use=1, leases=1)
        holder.release()
        lease = await pool.acquire("a", timeout=0.02)
        assert lease.connection is holder.connection
        lease.release()


# ---------------------------------------------------------------- connect options


async def test_connect_timeout_reaches_a_connect_that_declares_it() -> None:
    """acquire(connect_timeout=) goes to the connect of the acquire that opens, per call."""
    seen: list[tuple[str, float | None]] = []

    async def connect(key: str, *, connect_timeout: float | None) -> FakeConnection:
        seen.append((key, connect_timeout))
        await asyncio.sleep(0)
        return FakeConnection(key, len(seen))

    pool: FakePool = Pool(connect, max_connections=10)
    try:
        first, second = await asyncio.gather(
            pool.acquire("a", connect_timeout=0.5), pool.acquire("b", connect_timeout=7.0)
        )
        third = await pool.acquire("c")
        async with pool.lease("d", connect_timeout=2.5) as fourth:
            assert fourth.key == "d"
        assert seen == [("a", 0.5), ("b", 7.0), ("c", None), ("d", 2.5)]
        first.release()
        reused = await pool.acquire("a", connect_timeout=99.0)  # idle: no connect at all
        assert reused.connection is first.connection
        assert len(seen) == 4
        for lease in (second, third, reused):
            lease.release()
    finally:
        await pool.aclose()


async def test_connect_without_the_parameter_is_called_with_the_key_only() -> None:
    """A plain connect(key) keeps working whatever acquire is given."""
    connector = Connector()
    pool = make_pool(connector)
    try:
        lease = await pool.acquire("a", connect_timeout=1.0)
        assert connector.started == 1
        lease.release()
    finally:
        await pool.aclose()


async def test_connect_with_keyword_arguments_gets_the_timeout_only_when_given() -> None:
    seen: list[dict[str, object]] = []

    async def connect(key: str, **options: object) -> FakeConnection:
        seen.append(options)
        return FakeConnection(key, 0)

    pool: FakePool = Pool(connect, max_connections=10)
    try:
        (await pool.acquire("a", connect_timeout=3.0)).release()
        (await pool.acquire("b")).release()
        assert seen == [{"connect_timeout": 3.0}, {}]
    finally:
        await pool.aclose()


async def test_a_connect_timeout_default_of_the_connects_own_holds_when_none_is_given() -> None:
    """A connect's own default holds (review: the first cut passed None, unbounding it)."""
    seen: list[float | None] = []

    async def connect(key: str, connect_timeout: float | None = 5.0) -> FakeConnection:
        seen.append(connect_timeout)
        return FakeConnection(key, len(seen))

    pool: FakePool = Pool(connect, max_connections=10)
    try:
        (await pool.acquire("a")).release()
        (await pool.acquire("b", connect_timeout=None)).release()  # None given: no bound
        async with pool.lease("c"):
            pass
        assert seen == [5.0, None, 5.0]
    finally:
        await pool.aclose()


async def test_a_required_connect_timeout_gets_none_when_none_is_given() -> None:
    seen: list[float | None] = []

    async def connect(key: str, *, connect_timeout: float | None) -> FakeConnection:
        seen.append(connect_timeout)
        return FakeConnection(key, 0)

    pool: FakePool = Pool(connect)
    try:
        (await pool.acquire("a")).release()
        assert seen == [None]
    finally:
        await pool.aclose()


async def test_leasing_keeps_its_three_argument_form() -> None:
    from hyperhttp_pool import Leasing

    pool = make_pool(Connector())
    leasing: Leasing[str, FakeConnection] = Leasing(pool, "a", 1.0)
    assert leasing is not None
