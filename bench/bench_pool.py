"""Pool benchmark: acquire+release cost must not grow with waiters or keys.

Two tables, each a grid of concurrent waiters (10 … 10 000) by keys
(1 / 100 / 10 000), every cell in a steady state where exactly that many
acquires are queued:

- ``PoolState`` (the sans-IO bookkeeping, called directly): one operation is
  "release the lease held longest, which hands it to the oldest waiter of its
  key, and queue a new acquire for that key";
- ``Pool`` (the asyncio pool, real tasks): one operation is "a task is woken
  with a lease, releases it (handing it to the next waiter of its key) and
  queues again".

In every cell 10 leases rotate (so the event loop runs batches of the same
size): with one key that key has 10 connections; with 100 or 10 000 keys each
key has one connection (10 000 keys: 10 000 connections and key entries in
the pool) and the waiters queue on 10 of them. The flatness figure is the
slowest cell over the fastest: the issue's bar is 1.3 times.

A third table puts one uncontended acquire+release on an idle connection next
to ``asyncio.Lock`` acquire+release, for scale.

Run: ``hatch run bench:pool`` (``--quick`` for a fast smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections import deque

import hyperhttp_pool as hp

WAITERS = (10, 100, 1_000, 10_000)
KEYS = (1, 100, 10_000)
HOLDERS = 10  # leases out at once in every cell, so the event loop's batches match


class FakeConnection:
    """A connection that is always usable and carries one lease."""

    __slots__ = ("closed",)

    capacity = 1

    def __init__(self) -> None:
        self.closed = False

    def is_usable(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True


# ------------------------------------------------------------------ sans-IO


def _layout(waiters: int, keys: int) -> tuple[int, int]:
    """Return (connections per key, keys whose leases rotate) for a cell."""
    per_key = max(1, HOLDERS // keys)
    return per_key, min(keys, HOLDERS)


def _state_cell(waiters: int, keys: int, ops: int) -> float:
    """Seconds per release+hand-off+acquire on PoolState in the (waiters, keys) steady state."""
    per_key, active = _layout(waiters, keys)
    state: hp.PoolState[int, FakeConnection] = hp.PoolState(
        max_connections=keys * per_key, max_connections_per_key=per_key, keepalive_expiry=None
    )
    rotating: deque[tuple[int, hp.ConnectionRecord[int, FakeConnection]]] = deque()
    # Every key gets its connections, all leased; only the active keys'
    # leases rotate, the others stay held (the pool still holds every key).
    for key in range(keys):
        for _ in range(per_key):
            waiter = state.acquire(key, 0.0)
            state.connected(waiter, FakeConnection(), 0.0)
            assert waiter.record is not None
            if key < active:
                rotating.append((key, waiter.record))
    for i in range(waiters):
        state.acquire(i % active, 0.0)
    assert state.stats().waiters == waiters
    assert len(rotating) == HOLDERS
    to_wake = state.to_wake
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(ops):
            key, record = rotating.popleft()
            state.release(record, 0.0)
            woken = to_wake.pop()  # the oldest waiter of that key, now holding the lease
            rotating.append((key, woken.record))  # type: ignore[arg-type]
            state.acquire(key, 0.0)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    assert not to_wake
    assert state.stats().waiters == waiters, state.stats()
    assert state.stats().connections == keys * per_key
    return elapsed / ops


# ------------------------------------------------------------------ asyncio


async def _pool_cell(waiters: int, keys: int, ops: int) -> float:
    """Seconds per wake+release+hand-off+acquire on Pool with real tasks."""

    async def connect(key: int) -> FakeConnection:
        return FakeConnection()

    per_key, active = _layout(waiters, keys)
    pool: hp.Pool[int, FakeConnection] = hp.Pool(
        connect,
        max_connections=keys * per_key,
        max_connections_per_key=per_key,
        keepalive_expiry=None,
    )
    # Every key's connections, opened up front and left idle.
    for key in range(keys):
        for lease in [await pool.acquire(key) for _ in range(per_key)]:
            lease.release()
    loop = asyncio.get_running_loop()
    warmup = max(ops // 10, 2 * (waiters + HOLDERS))
    count = 0
    marks: list[float] = []
    finished = loop.create_future()

    async def worker(key: int) -> None:
        nonlocal count
        try:
            while True:
                lease = await pool.acquire(key)
                lease.release()
                count += 1
                if count == warmup or count == warmup + ops:
                    marks.append(time.perf_counter())
                    if len(marks) == 2:
                        finished.set_result(None)
        except hp.PoolClosed:
            return

    # Hold the active keys' connections while the tasks queue up, then let
    # go: from then on HOLDERS tasks hold a lease and exactly `waiters` are
    # queued (a task that releases finds its lease handed on, so it queues).
    held = [await pool.acquire(key) for key in range(active) for _ in range(per_key)]
    tasks = [asyncio.create_task(worker(i % active)) for i in range(waiters + HOLDERS)]
    await asyncio.sleep(0)
    for lease in held:
        lease.release()
    gc.collect()
    gc.disable()
    try:
        await finished
    finally:
        gc.enable()
    stats = pool.stats()
    await pool.aclose()
    await asyncio.gather(*tasks)
    if stats.waiters != waiters:
        raise SystemExit(f"expected {waiters} waiters in the steady state, saw {stats}")
    return (marks[1] - marks[0]) / ops


# ------------------------------------------------------------------ uncontended


async def _uncontended(ops: int) -> dict[str, float]:
    async def connect(key: str) -> FakeConnection:
        return FakeConnection()

    pool: hp.Pool[str, FakeConnection] = hp.Pool(connect, keepalive_expiry=None)
    (await pool.acquire("k")).release()
    lock = asyncio.Lock()
    results: dict[str, list[float]] = {"Pool.acquire + release": [], "pool.lease()": []}
    results["asyncio.Lock acquire + release"] = []
    for _ in range(5):
        gc.collect()
        start = time.perf_counter()
        for _ in range(ops):
            lease = await pool.acquire("k")
            lease.release()
        results["Pool.acquire + release"].append((time.perf_counter() - start) / ops)
        start = time.perf_counter()
        for _ in range(ops):
            async with pool.lease("k"):
                pass
        results["pool.lease()"].append((time.perf_counter() - start) / ops)
        start = time.perf_counter()
        for _ in range(ops):
            await lock.acquire()
            lock.release()
        results["asyncio.Lock acquire + release"].append((time.perf_counter() - start) / ops)
    await pool.aclose()
    return {name: statistics.median(times) for name, times in results.items()}


# ------------------------------------------------------------------ table


Grid = dict[tuple[int, int], float]


def _measure_grid(rounds: int, ops: int, *, asynchronous: bool) -> Grid:
    samples: dict[tuple[int, int], list[float]] = {(w, k): [] for w in WAITERS for k in KEYS}
    for _ in range(rounds):  # rounds interleave the cells, so drift hits all alike
        for cell in samples:
            if asynchronous:
                samples[cell].append(asyncio.run(_pool_cell(*cell, ops)))
            else:
                samples[cell].append(_state_cell(*cell, ops))
    return {cell: statistics.median(times) for cell, times in samples.items()}


def render_grid(title: str, grid: Grid) -> str:
    lines = [
        f"{title}: µs per operation",
        "",
        "| waiters | " + " | ".join(f"{k:,} key{'s' if k > 1 else ''}" for k in KEYS) + " |",
        "|---:|" + "---:|" * len(KEYS),
    ]
    for w in WAITERS:
        cells = " | ".join(f"{grid[w, k] * 1e6:.2f}" for k in KEYS)
        lines.append(f"| {w:,} | {cells} |")
    flat = max(grid.values()) / min(grid.values())
    verdict = "ok" if flat <= 1.3 else "OVER"
    lines += ["", f"slowest / fastest cell: {flat:.2f}× (bar ≤ 1.3×: {verdict})"]
    return "\n".join(lines)


def render_uncontended(result: dict[str, float]) -> str:
    lock = result["asyncio.Lock acquire + release"]
    lines = [
        "Uncontended, one idle connection: µs per operation",
        "",
        "| operation | µs | vs asyncio.Lock |",
        "|---|---:|---:|",
    ]
    for name, seconds in result.items():
        lines.append(f"| {name} | {seconds * 1e6:.2f} | {seconds / lock:.1f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=20_000, help="operations per cell and round")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 000 operations")
    parser.add_argument("--uvloop", action="store_true", help="run the asyncio tables on uvloop")
    args = parser.parse_args(argv)
    rounds, ops = (1, 2_000) if args.quick else (args.rounds, args.ops)
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop_name = "uvloop" if args.uvloop else "asyncio"
    version = sys.version.split()[0]
    print(f"Python {version}, {loop_name}, {rounds} rounds of {ops:,} ops, medians\n")
    print(render_grid("PoolState (sans-IO)", _measure_grid(rounds, ops, asynchronous=False)))
    print()
    print(render_grid(f"Pool ({loop_name} tasks)", _measure_grid(rounds, ops, asynchronous=True)))
    print()
    print(render_uncontended(asyncio.run(_uncontended(ops * 5))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
