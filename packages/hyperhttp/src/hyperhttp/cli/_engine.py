"""One worker of ``hyperhttp bench``: its connections, their replacement, the clock, the tick.

Strategy
--------
The lean engine is the client's own protocol layer without the client
around it: connections are asyncio Protocols (``_h1.H1Connection`` on
hyperhttp-parser, ``_h2.H2Connection`` on the client's HPACK codec, frame
layout and field checks) that send prebuilt request bytes and record each
response's latency as its last byte arrives, with no task, future or
``Response`` per request. The :class:`~._schedule.Scheduler` says when a
free slot may send.

A run has two phases, so the ``--procs`` workers can start together:
:meth:`Engine.connect` (resolve the host once, open every connection, and
for HTTP/2 wait for the server's SETTINGS), then :meth:`Engine.measure`
(from a common start time to the end). Connection setup is not measured.

Rules
-----
1. The engine keeps ``connections`` connections open: a closed one (the
   server's keep-alive limit, GOAWAY, an error) is replaced at once. A
   replacement that fails is retried with backoff (10 ms doubling to 1 s)
   and, in a run of ``-n`` requests, uses up one request as a ``connect``
   error, so a dead server cannot hold the run for ever; with no
   connection at all for ``--timeout`` seconds the run stops (``gave_up``).
2. Once a second (four times per ``--timeout`` when that is shorter):
   requests older than ``--timeout`` fail (``timeout``); once a second the
   progress callback gets the figures so far.
3. At the end (``-n`` done, or the deadline), requests still in flight are
   counted (``in_flight_at_end``), not recorded: a timed run measures what
   completed within it, as wrk and h2load do.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from hyperhttp_dns import start_tls

from ._h1 import H1Connection
from ._h2 import H2Connection, H2Error
from ._outcome import Outcome
from ._schedule import EVERY, Scheduler, Stats

if TYPE_CHECKING:
    from ._plan import Plan

__all__ = ["ConnectFailed", "Connection", "Engine", "Progress"]

_now = time.perf_counter_ns
_BACKOFF_FIRST = 0.01
_BACKOFF_MAX = 1.0
_CLOSE_TURNS = 100  # loop turns the end of a run waits for its aborted transports' connection_lost
TICK = 1.0  # seconds between progress reports (and timeout sweeps, unless --timeout is short)

#: ``progress(responses, errors, in_flight, due_unsent)`` once a second.
Progress = Callable[[int, int, int, int], None]


class ConnectFailed(Exception):
    """Not one connection could be opened: the run cannot start."""


class Connection(Protocol):
    """What the engine needs of a connection, HTTP/1.1 or HTTP/2."""

    alive: bool
    parked: bool

    def fill(self, now: int) -> None:
        """Send as many requests as the scheduler allows and the connection can carry."""

    def expire(self, now: int, limit: int) -> None:
        """Fail requests in flight for ``limit`` ns or more."""

    def close(self, *, abort: bool = False) -> None:
        """Close the connection."""

    def settle(self) -> None:
        """Add the connection's own counters to the engine's figures."""


def connect_error_kind(exc: BaseException) -> str:
    """Name a failed connection attempt for the report."""
    if isinstance(exc, TimeoutError):
        return "connect timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, H2Error):
        return "h2 setup"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return "connect"


class Engine:
    """One worker's lean engine (see the module docstring)."""

    def __init__(self, plan: Plan, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.loop = loop
        self.stats = Stats()
        self.sched = Scheduler(loop, self.stats, requests=plan.requests, rate=plan.rate)
        url = plan.target
        self.host = url.host
        self.port = url.effective_port
        self.ssl = plan.tls()
        self.request = plan.http11_request()
        self.method = plan.method.encode("ascii")
        self.blocks = plan.http2_blocks() if plan.http2 else (b"", b"")
        self.conns: set[Connection] = set()
        # Every connection from its connection_made to its connection_lost, kept
        # or not: the end of the run aborts and waits for all of them before
        # the loop closes (see _close). A connection joins in connection_made,
        # not once _open keeps it, so one cut short in between (a timeout
        # while HTTP/2 settles, the end of the run) is closed all the same.
        self.open: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.address: tuple[str, int] | None = None
        self.timeout = int(plan.timeout * 1e9)
        self.last_alive = _now()
        self.last_error = ""
        self.gave_up: str | None = None
        self.backoff = _BACKOFF_FIRST
        self.ticker: asyncio.TimerHandle | None = None
        self.period = TICK
        self.reported = 0

    # ------------------------------------------------------------ phase 1: connect

    async def connect(self) -> None:
        """Resolve the host and open every connection (not measured).

        The addresses are tried in the resolver's order; the first that
        accepts a connection is the one every connection of the run uses.

        Raises:
            ConnectFailed: the name did not resolve, or no connection opened.

        """
        try:
            infos = await self.loop.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise ConnectFailed(f"cannot resolve {self.host!r}: {exc}") from None
        addresses = list(dict.fromkeys((str(i[4][0]), int(i[4][1])) for i in infos))
        for address in addresses:  # the first that accepts a connection is used for all
            self.address = address
            if await self._open():
                break
        else:
            raise ConnectFailed(f"cannot connect to {self.plan.url}: {self.last_error}")
        opened = await asyncio.gather(*(self._open() for _ in range(self.plan.connections - 1)))
        # The failed ones are replaced as in a run (rule 1), from the start.
        for _ in range(opened.count(False)):
            self._spawn(self._replace())

    async def _open(self) -> bool:
        """Open one connection; count it, or its failure.

        Over TLS the TCP connection is opened first and upgraded with
        hyperhttp-dns's ``start_tls``, so the raw transport is ours from the
        start: a connect cancelled or timed out at any point is aborted (with
        ``create_connection(ssl=...)`` the loop closes one cancelled after its
        handshake gracefully, and it outlived the run); and the connection is
        made before any byte of the server's reaches it (TLS 1.2: HTTP/2
        SETTINGS in the Finished's segment).
        """
        plan, loop = self.plan, self.loop
        assert self.address is not None  # resolved by connect()
        host, port = self.address
        conn: H1Connection | H2Connection = (H2Connection if plan.http2 else H1Connection)(self)
        raw: asyncio.Transport | None = None
        try:
            async with asyncio.timeout(plan.timeout):
                if self.ssl is None:
                    raw, _ = await loop.create_connection(lambda: conn, host, port)
                else:
                    raw, _ = await loop.create_connection(asyncio.Protocol, host, port)
                    await start_tls(raw, lambda: conn, self.ssl, server_hostname=self.host)
                if isinstance(conn, H2Connection):
                    await conn.settled()
        except BaseException as exc:
            if conn.transport is not None:  # connected, then timed out or cancelled: not kept
                conn.transport.abort()
            if raw is not None:
                raw.abort()
            if not isinstance(exc, OSError | TimeoutError | ssl.SSLError | H2Error):
                raise
            self.stats.connect_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._connect_failed(connect_error_kind(exc))
            return False
        if not conn.alive:  # closed while settling (the server's GOAWAY straight away)
            goaway = isinstance(conn, H2Connection) and conn.goaway
            self.last_error = "the server closed the connection as it opened" + (
                " (GOAWAY)" if goaway else ""
            )
            return False
        self.stats.connects += 1
        self.conns.add(conn)
        self.last_alive = _now()
        self.backoff = _BACKOFF_FIRST
        if self.sched.running:
            conn.fill(_now())
        return True

    def _connect_failed(self, kind: str) -> None:
        """Count a failed connection attempt during the run; in a -n run it uses up a request."""
        sched = self.sched
        if not sched.running:
            return
        self.stats.error(kind)
        if sched.left != EVERY and sched.left > 0:
            sched.left -= 1
            sched.inflight += 1
            sched.ended()

    def lost(self, conn: Connection) -> None:
        """Forget a closed connection and replace it while the run goes on (rule 1)."""
        self.open.discard(conn)
        if conn not in self.conns:  # closed before it was kept: _open's caller retries
            return
        self.conns.discard(conn)
        if self.sched.running:
            self._spawn(self._replace())

    async def _replace(self) -> None:
        while self.sched.running:
            if await self._open():
                return
            delay = self.backoff
            self.backoff = min(self.backoff * 2, _BACKOFF_MAX)
            await asyncio.sleep(delay)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = self.loop.create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------ phase 2: measure

    async def measure(self, start: int | None = None, progress: Progress | None = None) -> Outcome:
        """Run the load from ``start`` (``perf_counter_ns``; None: now) to the end; close all.

        Returns:
            The worker's outcome (its histograms and counters).

        """
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
        self.period = min(TICK, plan.timeout / 4)  # a timeout is seen within 25 % of it
        self.reported = start
        self.ticker = loop.call_later(self.period, self._tick, progress)
        for conn in list(self.conns):
            conn.fill(_now())
        try:
            await sched.finished
        finally:
            end = _now()
            cpu = time.process_time() - cpu
            sched.stop()
            if self.ticker is not None:
                self.ticker.cancel()
            if deadline is not None:
                deadline.cancel()
            await self._close()
        return Outcome.from_stats(
            self.stats,
            elapsed=(end - start) / 1e9,
            cpu=cpu,
            in_flight_at_end=max(sched.inflight, 0),
            due_unsent=sched.due_unsent(end),
            gave_up=self.gave_up,
        )

    def _tick(self, progress: Progress | None) -> None:
        """Once a second: time out old requests, give up without connections, report (rule 2)."""
        sched = self.sched
        if not sched.running:
            return
        now = _now()
        for conn in list(self.conns):
            conn.expire(now, self.timeout)
        if self.conns:
            self.last_alive = now
        elif now - self.last_alive >= self.timeout:
            self.gave_up = (
                f"no connection for {self.plan.timeout:g} s (last error: {self.last_error})"
            )
            sched.stop()
            return
        if progress is not None and now - self.reported >= TICK * 1e9 * 0.99:
            self.reported = now
            stats = self.stats
            progress(
                stats.latency.count,
                sum(stats.errors.values()),
                sched.inflight,
                sched.due_unsent(now),
            )
        self.ticker = self.loop.call_later(self.period, self._tick, progress)

    async def _close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.open):  # (every kept connection is open too)
            conn.settle()
            conn.close(abort=True)
        # Every transport must be gone before the loop closes: uvloop cannot
        # close a loop with a live handle (EBUSY). Aborted, each one is closed
        # at once and its connection_lost is due within a few loop turns (a
        # graceful TLS close would wait for the peer's close_notify instead).
        # One uvloop path never calls it (a connect cancelled while the TCP
        # connect's result was pending closes the socket itself), so the
        # wait is in turns, not seconds.
        for _ in range(_CLOSE_TURNS):
            if not self.open:
                break
            await asyncio.sleep(0)
        self.conns.clear()
        self.open.clear()

    async def aclose(self) -> None:
        """Close everything without measuring (a worker told to stop before the start)."""
        self.sched.stop()
        await self._close()
