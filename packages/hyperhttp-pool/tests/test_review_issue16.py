"""Adversarial review of issue 16's pool changes: the shared wait timer and the idle fast path.

Mixed timeouts (none, short, long, equal, shorter behind longer), waiters
cancelled while the shared timer is armed, a deadline falling as a lease is
released, the pool closed under timed waiters, spares that went bad before
the fast path leases them, and eviction across keys without a per-key cap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _pool_fakes import Connector, FakePool, settle

from hyperhttp_pool import Pool, PoolClosed, PoolStats, PoolTimeout

pytestmark = pytest.mark.asyncio


def _outcome(task: asyncio.Future[Any]) -> str:
    if not task.done():
        return "waiting"
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return "lease" if error is None else type(error).__name__


async def test_waiters_with_every_kind_of_timeout() -> None:
    opener = Connector()
    async with Pool(opener, max_connections=1) as pool:
        holder = await pool.acquire("a")
        timeouts = [None, 5.0, 0.05, 0.05, 0.01, 0.15, 5.0, 0.05]
        tasks = [asyncio.ensure_future(pool.acquire("a", timeout=t)) for t in timeouts]
        await settle()
        await asyncio.wait(
            [t for t, s in zip(tasks, timeouts, strict=True) if s is not None and s < 1], timeout=5
        )
        assert [_outcome(t) for t in tasks] == [
            "waiting",
            "waiting",
            "PoolTimeout",
            "PoolTimeout",
            "PoolTimeout",
            "PoolTimeout",
            "waiting",
            "PoolTimeout",
        ]
        assert pool.stats().waiters == 3
        for index in (0, 1, 6):  # served in arrival order
            holder.release()
            holder = await asyncio.wait_for(tasks[index], 5)
        holder.release()
        assert pool.stats() == PoolStats(idle=1)
        assert not pool._deadlines
        assert pool._deadline_timer is None


async def test_waiters_cancelled_while_the_shared_timer_is_armed() -> None:
    opener = Connector()
    async with Pool(opener, max_connections=1) as pool:
        holder = await pool.acquire("a")
        first = asyncio.ensure_future(pool.acquire("a", timeout=0.1))
        second = asyncio.ensure_future(pool.acquire("a", timeout=0.2))
        third = asyncio.ensure_future(pool.acquire("a"))
        await settle()
        first.cancel()  # the front of the shared timer's queue
        await settle()
        with pytest.raises(PoolTimeout):
            await asyncio.wait_for(second, 5)
        assert not third.done()
        third.cancel()
        await settle()
        assert pool.stats().waiters == 0
        with pytest.raises(PoolTimeout):  # the timer still serves a newcomer
            await asyncio.wait_for(pool.acquire("a", timeout=0.05), 5)
        holder.release()
        (await asyncio.wait_for(pool.acquire("a", timeout=0.05), 5)).release()
        assert pool.stats() == PoolStats(idle=1)
        assert len(opener.opened) == 1


@pytest.mark.parametrize("offset", [-0.002, 0.0, 0.002])
async def test_a_deadline_falling_as_the_lease_is_released(offset: float) -> None:
    """Either the waiter gets the lease or it times out: capacity is never stranded."""
    opener = Connector()
    loop = asyncio.get_running_loop()
    async with Pool(opener, max_connections=1) as pool:
        for _ in range(5):
            holder = await pool.acquire("a")
            waiter = asyncio.ensure_future(pool.acquire("a", timeout=0.03))
            await settle()
            deadline = pool._deadlines[-1][0]
            loop.call_at(deadline + offset, holder.release)
            try:
                lease = await asyncio.wait_for(waiter, 5)
            except PoolTimeout:
                await asyncio.sleep(0.01)
                assert pool.stats().idle == 1
            else:
                assert pool.stats().in_use == 1
                lease.release()
            assert pool.stats().waiters == 0
            again = await asyncio.wait_for(pool.acquire("a", timeout=0.5), 5)
            assert again.connection is opener.opened[0]
            again.release()
        assert len(opener.opened) == 1


async def test_closing_under_timed_waiters() -> None:
    opener = Connector()
    pool: FakePool = Pool(opener, max_connections=1)
    holder = await pool.acquire("a")
    tasks = [asyncio.ensure_future(pool.acquire("a", timeout=t)) for t in (5.0, 0.05, None, 5.0)]
    await settle()
    await pool.aclose()
    for task in tasks:
        with pytest.raises(PoolClosed):
            await asyncio.wait_for(task, 5)
    await asyncio.sleep(0.1)  # the out-of-order waiter's own timer: gone with it
    assert pool._deadline_timer is None
    assert not pool._deadlines
    holder.release()
    assert all(c.closed for c in opener.opened)


async def test_the_idle_fast_path_never_hands_out_a_bad_spare() -> None:
    opener = Connector()
    async with Pool(opener, max_connections=2, keepalive_expiry=0.05) as pool:
        lease = await pool.acquire("a")
        first = lease.connection
        lease.release()
        first.usable = False  # the server closed it while idle
        lease = await pool.acquire("a")
        assert lease.connection is not first
        assert first.closed
        second = lease.connection
        lease.release()
        await asyncio.sleep(0.1)  # past keepalive expiry (the idle timer may not have run)
        lease = await pool.acquire("a")
        assert lease.connection is not second
        assert second.closed
        lease.release()
        assert pool.stats().connections == 1


async def test_no_per_key_cap_keeps_idle_connections_of_other_keys() -> None:
    opener = Connector()
    async with Pool(opener, max_connections=2, max_connections_per_key=None) as pool:
        a1, a2 = await pool.acquire("a"), await pool.acquire("a")
        a1.release()
        a2.release()
        b1 = await asyncio.wait_for(pool.acquire("b", timeout=1), 5)  # idle "a"s hold no slot
        b2 = await asyncio.wait_for(pool.acquire("b", timeout=1), 5)
        assert not any(c.closed for c in opener.opened)
        waiting = asyncio.ensure_future(pool.acquire("a", timeout=5))
        await settle()
        assert not waiting.done()  # both slots busy with "b"
        b1.release()  # a slot frees: "a" takes one of its idle connections back
        a3 = await asyncio.wait_for(waiting, 5)
        assert a3.connection in (a1.connection, a2.connection)
        a3.release()
        b2.release()
        assert pool.stats().connections == 4
        assert len(opener.opened) == 4
