"""``hyperhttp bench --engine client``: the same load through ``hyperhttp.Client``.

One task per slot (connections x streams), each awaiting
``client.request()`` in turn: every layer of the client runs (request
building and checks, the pool, redirects off, body decoding), so this is
what an application on hyperhttp can reach, where the lean engine
(``_engine``) is what the protocol layer can. In the open model a task
takes the next intended start time and sleeps until it (wrk2's way); a
task that is late sends at once and the delay counts in its latency.

The client opens connections as requests need them: before the clock
starts, one request per slot warms the pool (not counted). Bytes received
are body bytes only (the client does not expose head sizes).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import TYPE_CHECKING

from hyperhttp._client import Client
from hyperhttp._config import Limits, Timeout
from hyperhttp._exceptions import (
    ConnectError,
    HTTPError,
    InsecureRequestWarning,
    RemoteProtocolError,
    TimeoutException,
)

from ._engine import ConnectFailed
from ._outcome import Outcome
from ._schedule import Scheduler, Stats

if TYPE_CHECKING:
    from ._engine import Progress
    from ._plan import Plan

__all__ = ["ClientEngine"]

_now = time.perf_counter_ns


def _kind(exc: HTTPError) -> str:
    if isinstance(exc, TimeoutException):
        return "timeout"
    if isinstance(exc, ConnectError):
        return "connect"
    if isinstance(exc, RemoteProtocolError):
        return "protocol"
    return type(exc).__name__


class ClientEngine:
    """One worker driving ``hyperhttp.Client`` (see the module docstring)."""

    def __init__(self, plan: Plan, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.loop = loop
        self.stats = Stats()
        self.sched = Scheduler(loop, self.stats, requests=plan.requests, rate=plan.rate)
        plan.http11_request()  # the same checks as the lean engine, before anything is sent
        self.headers = list(plan.headers)
        with warnings.catch_warnings():  # -k was asked for: no warning about it
            warnings.simplefilter("ignore", InsecureRequestWarning)
            self.client = Client(
                limits=Limits(max_connections=plan.connections),
                http2=plan.http2,
                http1=not plan.http2,
                verify=plan.verify,
                timeout=Timeout(plan.timeout),
                follow_redirects=False,
                trust_env=False,
            )
        self.tasks: list[asyncio.Task[None]] = []
        self.ticker: asyncio.TimerHandle | None = None

    async def _send(self) -> tuple[int, int]:
        plan = self.plan
        response = await self.client.request(
            plan.method, plan.url, headers=self.headers or None, content=plan.body
        )
        return response.status_code, len(response.content)

    async def connect(self) -> None:
        """Warm the pool with one request per slot (not counted).

        Raises:
            ConnectFailed: every warm-up request failed.

        """
        results = await asyncio.gather(
            *(self._send() for _ in range(self.plan.concurrency)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if len(failures) == len(results):
            await self.client.aclose()
            error = failures[0]
            raise ConnectFailed(f"cannot reach {self.plan.url}: {type(error).__name__}: {error}")

    async def _worker(self) -> None:
        sched, stats = self.sched, self.stats
        record = stats.latency.record
        while True:
            now = _now()
            intended = sched.claim(now)
            if intended < 0:
                return
            if intended > now:
                await asyncio.sleep((intended - now) / 1e9)
            if sched.interval:
                stats.lag.record(_now() - intended)
            try:
                status, size = await self._send()
            except HTTPError as exc:
                stats.error(_kind(exc))
            else:
                record(_now() - intended)
                stats.statuses[status] += 1
                stats.received += size
            sched.ended()

    async def measure(self, start: int | None = None, progress: Progress | None = None) -> Outcome:
        """Run the load from ``start`` (``perf_counter_ns``; None: now) to the end."""
        plan, sched, loop = self.plan, self.sched, self.loop
        now = _now()
        if start is not None and start > now:
            await asyncio.sleep((start - now) / 1e9)
        start = _now() if start is None else start
        cpu = time.process_time()
        sched.begin(start + int(plan.phase * 1e9))
        deadline = None
        if plan.duration is not None:
            deadline = loop.call_later(plan.duration - (_now() - start) / 1e9, sched.stop)
        self.tasks = [loop.create_task(self._worker()) for _ in range(plan.concurrency)]
        self.ticker = loop.call_later(1.0, self._tick, progress)
        try:
            await sched.finished
        finally:
            end = _now()
            cpu = time.process_time() - cpu
            sched.stop()
            if deadline is not None:
                deadline.cancel()
            if self.ticker is not None:
                self.ticker.cancel()
            await self.aclose()
        return Outcome.from_stats(
            self.stats,
            elapsed=(end - start) / 1e9,
            cpu=cpu,
            in_flight_at_end=max(sched.inflight, 0),
            due_unsent=sched.due_unsent(end),
        )

    def _tick(self, progress: Progress | None) -> None:
        if not self.sched.running:
            return
        if progress is not None:
            stats = self.stats
            progress(
                stats.latency.count,
                sum(stats.errors.values()),
                self.sched.inflight,
                self.sched.due_unsent(_now()),
            )
        self.ticker = self.loop.call_later(1.0, self._tick, progress)

    async def aclose(self) -> None:
        """Cancel the workers and close the client."""
        self.sched.stop()
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()
