"""The asyncio shell around :class:`PoolState`: it only awaits.

Every decision is made synchronously by the state; this module creates the
futures waiters sleep on, runs the caller's ``connect`` in the acquiring task,
wakes the waiters the state hands a lease (or a slot to open), closes the
connections it gives up, and keeps one timer for idle expiry. No task is
spawned and no socket is polled.

Wait deadlines: queued acquires with a timeout share one timer. Their
deadlines go into a deque in arrival order; as waiters are served oldest
first (the state's FIFO), served entries leave from the front, and one
timer is armed for the front's deadline. A deadline earlier than the last
one queued (a shorter timeout behind a longer one) gets a timer of its own
instead. 10 000 requests queued behind the pool cost no timer each.

Connect options: ``acquire(key, connect_timeout=...)`` hands the value to
the ``connect`` of the acquire that opens a connection, if that function
declares a ``connect_timeout`` parameter (checked once, when the pool is
built); a ``connect(key)`` without one is called as before. An acquire
given none calls ``connect(key)`` too, so the parameter's own default holds
(None is passed only where the parameter has no default). The pool never
interprets the value: bounding the connect is the connect function's business.

Cancellation safety: whatever point an acquire is cancelled or times out at
(queued, woken with a lease it has not picked up yet, connecting), the state
is told to undo exactly that, so capacity is never stranded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from ._errors import PoolClosed, PoolStats, PoolTimeout
from ._state import ConnectionRecord, PoolConnection, PoolState, Waiter, WaiterState

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Lease", "Leasing", "Pool", "TimedConnect"]

K = TypeVar("K", bound=Hashable)
C = TypeVar("C", bound=PoolConnection)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
C_co = TypeVar("C_co", bound=PoolConnection, covariant=True)


class TimedConnect(Protocol[K_contra, C_co]):
    """A ``connect`` that takes the acquiring call's ``connect_timeout``."""

    def __call__(self, key: K_contra, /, *, connect_timeout: float | None) -> Awaitable[C_co]:
        """Open a connection for ``key`` within ``connect_timeout`` seconds (None: no bound)."""
        ...


#: ``acquire(connect_timeout=)`` not given (None is a value: no bound).
_NOT_GIVEN: Any = object()
_NEVER, _WHEN_GIVEN, _ALWAYS = 0, 1, 2  # when connect gets connect_timeout=


def _timeout_passing(connect: Callable[..., Any]) -> int:
    """When ``connect`` gets ``connect_timeout=``: never, when an acquire gives one, or always.

    Always only where the parameter is declared without a default (None is
    passed when the acquire gives none); a default, or ``**kwargs``, gets it
    only when given.
    """
    try:
        parameters = inspect.signature(connect).parameters.values()
    except (TypeError, ValueError):  # no signature to read: call it with the key only
        return _NEVER
    for p in parameters:
        if p.name == "connect_timeout" and p.kind is not p.POSITIONAL_ONLY:
            return _ALWAYS if p.default is p.empty else _WHEN_GIVEN
    return _WHEN_GIVEN if any(p.kind is p.VAR_KEYWORD for p in parameters) else _NEVER


_GRANTED = WaiterState.GRANTED
_OPENING = WaiterState.OPENING
_WAITING = WaiterState.WAITING


class Lease(Generic[K, C]):
    """The right to use ``connection`` for one request (or one HTTP/2 stream).

    Release it exactly once: :meth:`release` is idempotent.
    """

    __slots__ = ("_pool", "_record", "_released", "connection")

    def __init__(self, pool: Pool[K, C], record: ConnectionRecord[K, C], connection: C) -> None:
        self.connection = connection
        self._pool = pool
        self._record = record
        self._released = False

    @property
    def key(self) -> K:
        """The key the connection serves."""
        return self._record.key

    def release(self, *, reusable: bool = True) -> None:
        """Give the lease back; ``reusable=False`` discards the connection (it broke)."""
        if not self._released:
            self._released = True
            self._pool._release(self._record, reusable)

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Lease key={self._record.key!r} {state}>"


class Leasing(Generic[K, C]):
    """What :meth:`Pool.lease` returns: an async context manager over one lease."""

    __slots__ = ("_connect_timeout", "_key", "_lease", "_pool", "_timeout")

    def __init__(
        self,
        pool: Pool[K, C],
        key: K,
        timeout: float | None,
        connect_timeout: float | None = _NOT_GIVEN,
    ) -> None:
        self._pool = pool
        self._key = key
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._lease: Lease[K, C] | None = None

    async def __aenter__(self) -> C:
        if self._lease is not None:
            raise RuntimeError("this pool.lease() is already in use")
        lease = self._lease = await self._pool.acquire(
            self._key, timeout=self._timeout, connect_timeout=self._connect_timeout
        )
        return lease.connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lease = self._lease
        if lease is not None:
            lease.release(reusable=exc_type is None)


class Pool(Generic[K, C]):
    """A fair, O(1), cancellation-safe async connection pool.

    Args:
        connect: opens a connection for a key; called in the acquiring task.
            One that declares a ``connect_timeout`` parameter
            (:class:`TimedConnect`) also gets that of the acquire.
        max_connections: cap on busy connections (carrying a lease or being
            opened); idle ones hold no slot.
        max_connections_per_key: the same cap per key; None (the default):
            only the global cap.
        max_idle_connections: idle connections kept across keys, the least
            recently used closed past it; None: no cap; 0: none kept.
        keepalive_expiry: seconds an idle connection is kept (None: forever).
        max_lifetime: seconds after which a connection takes no new lease.
        max_requests: leases after which a connection takes no new lease.
        expected_capacity: leases a key's first connection is expected to
            carry (see :class:`PoolState`); None: 1.
        clock: monotonic seconds; the event loop's clock by default.

    """

    def __init__(
        self,
        connect: Callable[[K], Awaitable[C]] | TimedConnect[K, C],
        *,
        max_connections: int = 100,
        max_connections_per_key: int | None = None,
        max_idle_connections: int | None = 1000,
        keepalive_expiry: float | None = 60.0,
        max_lifetime: float | None = None,
        max_requests: int | None = None,
        expected_capacity: Callable[[K], int] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._connect = connect
        self._timeout_passing = _timeout_passing(connect)
        self._state: PoolState[K, C] = PoolState(
            max_connections=max_connections,
            max_connections_per_key=max_connections_per_key,
            max_idle_connections=max_idle_connections,
            keepalive_expiry=keepalive_expiry,
            max_lifetime=max_lifetime,
            max_requests=max_requests,
            expected_capacity=expected_capacity,
        )
        self._clock = clock
        self._by_connection: dict[C, ConnectionRecord[K, C]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Queued waiters with a deadline, in arrival order (deadlines not
        # decreasing), and the one timer armed for the front's deadline.
        self._deadlines: deque[tuple[float, Waiter[K, C]]] = deque()
        self._deadline_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        stats = self._state.stats()
        return (
            f"<Pool connections={stats.connections} in_use={stats.in_use} "
            f"waiters={stats.waiters}{' closed' if self._state.closed else ''}>"
        )

    async def __aenter__(self) -> Pool[K, C]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ acquiring

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    async def acquire(
        self, key: K, *, timeout: float | None = None, connect_timeout: float | None = _NOT_GIVEN
    ) -> Lease[K, C]:
        """Lease a connection for ``key``, opening one if the caps allow.

        ``timeout`` bounds the time spent waiting in the queue (not the
        connect itself). ``connect_timeout`` goes to ``connect`` if this
        acquire opens a connection and ``connect`` declares the parameter
        (see :class:`TimedConnect`); the pool does not enforce it.

        Raises:
            PoolTimeout: no capacity within ``timeout`` (carries the stats).
            PoolClosed: the pool is or got closed.
            Exception: whatever ``connect`` raised, for the acquire it ran in.

        """
        state = self._state
        if state.closed:
            raise PoolClosed("the pool is closed")
        now = self._now()
        record = state.acquire_idle(key, now)  # the common case: a spare connection
        if record is not None:
            if state.to_wake or state.to_close:
                self._flush()
            assert record.connection is not None
            return Lease(self, record, record.connection)
        waiter = state.acquire(key, now)
        self._flush()
        deadline: float | None = None
        while True:
            status = waiter.state
            if status is _GRANTED:
                record = waiter.record
                assert record is not None
                assert record.connection is not None
                return Lease(self, record, record.connection)
            if status is _OPENING:
                try:
                    passing = self._timeout_passing
                    if passing == _ALWAYS or (
                        passing == _WHEN_GIVEN and connect_timeout is not _NOT_GIVEN
                    ):
                        if connect_timeout is _NOT_GIVEN:
                            connect_timeout = None
                        connect = cast("TimedConnect[K, C]", self._connect)
                        connection = await connect(key, connect_timeout=connect_timeout)
                    else:
                        untimed = cast("Callable[[K], Awaitable[C]]", self._connect)
                        connection = await untimed(key)
                except BaseException:
                    state.connect_failed(waiter, self._now())
                    self._flush()
                    raise
                record = waiter.record
                assert record is not None
                state.connected(waiter, connection, self._now())
                if record.connection is connection:
                    self._by_connection[connection] = record
                self._flush()
                continue
            if status is not _WAITING:  # FAILED: the pool closed under us
                raise PoolClosed("the pool was closed while waiting for a connection")
            loop = asyncio.get_running_loop()
            future = waiter.token = loop.create_future()
            own_timer: asyncio.TimerHandle | None = None
            if timeout is not None:
                if deadline is None:
                    deadline = loop.time() + timeout
                own_timer = self._add_deadline(loop, deadline, waiter)
            try:
                expired = await future
            except BaseException:  # cancelled: give back whatever we were given
                state.cancel(waiter, self._now())
                self._flush()
                raise
            finally:
                if own_timer is not None:
                    own_timer.cancel()
                if timeout is not None:
                    self._drop_served_deadlines()
            if expired is not None:  # the deadline passed first: _expire cancelled us
                raise PoolTimeout(f"no connection for {key!r} within {timeout} s", expired)

    def lease(
        self, key: K, *, timeout: float | None = None, connect_timeout: float | None = _NOT_GIVEN
    ) -> Leasing[K, C]:
        """``async with pool.lease(key) as connection``: released on exit.

        An exception inside the block (cancellation included) discards the
        connection.
        """
        return Leasing(self, key, timeout, connect_timeout)

    # ------------------------------------------------------------ connection news

    def _release(self, record: ConnectionRecord[K, C], reusable: bool) -> None:
        self._state.release(record, self._now(), reusable=reusable)
        self._flush()

    def capacity_changed(self, connection: C) -> None:
        """Tell the pool ``connection.capacity`` changed (HTTP/2 SETTINGS)."""
        record = self._by_connection.get(connection)
        if record is not None:
            self._state.capacity_changed(record, self._now())
            self._flush()

    def retire(self, connection: C) -> None:
        """Give ``connection`` no new lease; close it when its leases end (GOAWAY)."""
        record = self._by_connection.get(connection)
        if record is not None:
            self._state.retire(record, self._now())
            self._flush()

    def discard(self, connection: C) -> None:
        """Close ``connection`` now and free its slot (it broke under its leases)."""
        record = self._by_connection.get(connection)
        if record is not None:
            self._state.discard(record, self._now())
            self._flush()

    def stats(self, key: K | None = None) -> PoolStats:
        """Idle / in use / connecting connections, leases and waiters, for a key or all."""
        return self._state.stats(key)

    async def aclose(self) -> None:
        """Close every connection and fail every waiter; later use raises PoolClosed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deadlines.clear()
        self._state.close()
        self._flush()

    # ------------------------------------------------------------ carrying out

    def _flush(self) -> None:
        """Carry out what the state decided: wake waiters, close connections."""
        state = self._state
        if state.to_wake:
            woken, state.to_wake = state.to_wake, []
            for waiter in woken:
                future = waiter.token
                if future is not None and not future.done():
                    future.set_result(None)
        if state.to_close:
            closing, state.to_close = state.to_close, []
            by_connection = self._by_connection
            for connection in closing:
                by_connection.pop(connection, None)
                with contextlib.suppress(Exception):
                    connection.close()
        if self._timer is None and not state.closed:
            when = state.next_expiry()
            if when is not None:
                self._schedule(when)

    # ------------------------------------------------------------ wait deadlines

    def _add_deadline(
        self, loop: asyncio.AbstractEventLoop, deadline: float, waiter: Waiter[K, C]
    ) -> asyncio.TimerHandle | None:
        """Queue ``waiter``'s deadline; return a timer of its own if it is out of order."""
        deadlines = self._deadlines
        if deadlines and deadline < deadlines[-1][0]:
            # A shorter timeout behind a longer one: the shared timer would
            # reach it late.
            return loop.call_at(deadline, self._expire, waiter)
        deadlines.append((deadline, waiter))
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(deadlines[0][0], self._on_deadline)
        return None

    def _drop_served_deadlines(self) -> None:
        """Forget the deadlines of waiters no longer queued at the front; disarm if none is left.

        Waiters are served oldest first, so the served ones are at the
        front: amortised O(1) per acquire. One cancelled in the middle stays
        until the front reaches it (or the deque is compacted).
        """
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].state is not _WAITING:
            deadlines.popleft()
        if not deadlines:
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
                self._deadline_timer = None
        elif len(deadlines) > 2 * self._state.waiting + 32:
            self._deadlines = deque(item for item in deadlines if item[1].state is _WAITING)

    def _on_deadline(self) -> None:
        """Expire every waiter whose deadline passed (the front's came), then re-arm."""
        self._deadline_timer = None
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        deadlines = self._deadlines
        while deadlines:
            deadline, waiter = deadlines[0]
            if waiter.state is _WAITING:
                if deadline > now:
                    break
                self._expire(waiter)
            deadlines.popleft()
        if deadlines:
            self._deadline_timer = loop.call_at(deadlines[0][0], self._on_deadline)

    def _expire(self, waiter: Waiter[K, C]) -> None:
        """Time a queued waiter out: it leaves the queue and wakes with the stats it saw."""
        if waiter.state is not _WAITING:
            return  # served (or gone) just in time
        future = waiter.token
        snapshot = self._state.stats()  # as this waiter saw it, itself included
        self._state.cancel(waiter, self._now())
        self._flush()
        if future is not None and not future.done():
            future.set_result(snapshot)

    def _schedule(self, when: float) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        # The state's clock may be injected; the timer runs on the loop's.
        delay = max(0.0, when - self._now())
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._state.expire(self._now())
        self._flush()
