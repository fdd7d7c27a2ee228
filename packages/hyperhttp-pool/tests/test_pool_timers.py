"""The pool's timers: queued acquires with a timeout share one timer (issue 16).

Counted on asyncio's own loop, which lists its timers (uvloop does not): a
synchronous test that runs its own loop, so it is not run once per loop
implementation like the async ones in test_pool.py.
"""

from __future__ import annotations

import asyncio

from hyperhttp_pool import Pool


class _Connection:
    capacity = 1

    def is_usable(self) -> bool:
        return True

    def close(self) -> None:
        pass


async def _connect(key: str) -> _Connection:
    await asyncio.sleep(0)
    return _Connection()


def _live(loop: asyncio.AbstractEventLoop) -> int:
    scheduled = loop._scheduled  # type: ignore[attr-defined]
    return sum(not handle.cancelled() for handle in scheduled)


def test_waiters_share_one_timer() -> None:
    """100 acquires queued with a timeout arm one timer, and none is left once served.

    10 000 requests queued behind a 100-connection pool each armed its own
    timer (``asyncio.timeout``): a heap push, a reschedule and a cancel per
    request, all for nothing when the queue moves in time.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pool: Pool[str, _Connection] = Pool(_connect, max_connections=1, keepalive_expiry=None)
        async with pool:
            holder = await pool.acquire("a")
            waiting = [asyncio.ensure_future(pool.acquire("a", timeout=30)) for _ in range(100)]
            for _ in range(5):
                await asyncio.sleep(0)
            assert pool.stats().waiters == 100
            assert _live(loop) <= 1
            holder.release()
            for task in waiting:
                (await task).release()
            assert _live(loop) == 0  # nobody waits: no timer left behind

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
