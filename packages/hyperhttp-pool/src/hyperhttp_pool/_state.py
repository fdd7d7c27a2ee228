"""Pool bookkeeping: which waiter gets which connection, what to open, what to close.

Theory of operation
-------------------
:class:`PoolState` never awaits and never reads a clock: every method takes
``now`` and decides at once. What the decision asks of the outside world is
left in two outboxes, which the asyncio shell (``_pool.py``) empties after
each call:

- ``to_wake``: queued waiters whose state changed (GRANTED a lease, told to
  be OPENING a connection, or FAILED because the pool closed);
- ``to_close``: connections to close.

A waiter moves WAITING -> GRANTED | OPENING | FAILED | CANCELLED. An OPENING
waiter connects in its own task and reports back with :meth:`connected` or
:meth:`connect_failed`; its record holds the slot meanwhile.

Rules
-----
1. Caps count *busy* connections, those carrying a lease or being opened:
   never more than ``max_connections`` in total nor
   ``max_connections_per_key`` per key (aiohttp's ``limit`` counts the same
   way). Idle connections hold no slot; there are at most
   ``max_idle_connections`` of them, the least recently used closed past
   that. So a crawler visiting a thousand origins keeps its connections to
   them between visits instead of closing one to open another.
2. FIFO per key: a key's waiters are served strictly oldest first, and an
   arrival never jumps a queue: it takes free capacity only when nobody of
   its key waits. A released lease goes straight to the oldest waiter.
3. Leasing an idle connection makes it busy, so it needs a free slot like
   opening one does; an HTTP/2 connection already busy takes more leases up
   to its capacity without one. A connection opened with no room yet (an
   HTTP/2 peer allowing 0 streams) keeps its slot, as if still connecting,
   until its capacity rises or ``keepalive_expiry`` passes: otherwise its
   opener would open another at once, and another, without end. Keys
   blocked by the global cap are served in turn as slots free up: a key
   that takes a slot goes to the back of that line, and a slot freed while
   the next key in line holds an older waiter than the freeing key goes to
   it (the freed connection stays idle for later): no key starves behind a
   busy one.
4. Connections are reused most-recently-used first (busy HTTP/2 ones before
   idle ones). A connection past its lifetime or request count takes no new
   lease and closes when its last lease ends, and so does one found
   unusable while it still has leases out (an HTTP/2 GOAWAY); an idle one
   past ``keepalive_expiry`` is closed.
5. Nothing is scanned per operation: every structure is a dict, an
   OrderedDict or a deque touched at its ends (waiters are deleted lazily),
   so each operation costs O(1) amortised whatever the number of
   connections, keys and waiters.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

from ._errors import PoolStats

__all__ = ["ConnectionRecord", "PoolConnection", "PoolState", "Waiter", "WaiterState"]


class PoolConnection(Protocol):
    """What the pool needs of a connection."""

    @property
    def capacity(self) -> int:
        """Return how many leases it can carry at once.

        1 for HTTP/1.1, the peer's SETTINGS_MAX_CONCURRENT_STREAMS for HTTP/2;
        it may change at run time.
        """
        ...

    def is_usable(self) -> bool:
        """Return False once the connection is closed or broken; checked before reuse."""
        ...

    def close(self) -> None:
        """Close the connection (without waiting)."""
        ...


K = TypeVar("K", bound=Hashable)
C = TypeVar("C", bound=PoolConnection)


class WaiterState(enum.Enum):
    """Where an acquire stands."""

    WAITING = "WAITING"  #: queued
    GRANTED = "GRANTED"  #: holds a lease on ``record``
    OPENING = "OPENING"  #: must open ``record``'s connection, then report back
    FAILED = "FAILED"  #: the pool closed under it
    CANCELLED = "CANCELLED"  #: gave up (cancelled or timed out)


_WAITING = WaiterState.WAITING
_GRANTED = WaiterState.GRANTED
_OPENING = WaiterState.OPENING
_FAILED = WaiterState.FAILED
_CANCELLED = WaiterState.CANCELLED

# Connection record states
_CONNECTING = 0
_READY = 1
_RETIRING = 2  # no new leases; closes when the last one ends
_CLOSED = 3


class ConnectionRecord(Generic[K, C]):
    """One connection's bookkeeping."""

    __slots__ = (
        "active",
        "capacity",
        "connection",
        "created",
        "idle_since",
        "key",
        "keyed",
        "served",
        "state",
    )

    def __init__(self, keyed: _Keyed[K, C], now: float) -> None:
        self.key = keyed.key
        self.keyed = keyed
        self.connection: C | None = None
        self.capacity = 0
        self.active = 0  # leases held
        self.served = 0  # leases ever given
        self.created = now
        self.idle_since = now
        self.state = _CONNECTING

    def __repr__(self) -> str:
        return (
            f"<ConnectionRecord key={self.key!r} state={self.state} "
            f"active={self.active}/{self.capacity} served={self.served}>"
        )


class Waiter(Generic[K, C]):
    """One acquire: queued, granted, opening, failed or cancelled.

    ``token`` is the shell's (it keeps its future there).
    """

    __slots__ = ("keyed", "record", "seq", "state", "token")

    def __init__(self, keyed: _Keyed[K, C]) -> None:
        self.keyed = keyed
        self.seq = 0  # arrival order among queued waiters, across keys
        self.state = _WAITING
        self.record: ConnectionRecord[K, C] | None = None
        self.token: Any = None

    def __repr__(self) -> str:
        return f"<Waiter key={self.keyed.key!r} state={self.state.name}>"


class _Keyed(Generic[K, C]):
    """Everything the pool holds for one key."""

    __slots__ = (
        "connecting",
        "connections",
        "idle",
        "in_use",
        "key",
        "last_capacity",
        "leases",
        "live",
        "rest",
        "spare",
        "waiters",
    )

    def __init__(self, key: K) -> None:
        self.key = key
        # Busy ready connections with room for another lease (HTTP/2), MRU last.
        self.spare: dict[ConnectionRecord[K, C], None] = {}
        # Idle ready connections that can carry a lease, MRU last.
        self.rest: dict[ConnectionRecord[K, C], None] = {}
        # FIFO; cancelled and served waiters are skipped when reached.
        self.waiters: deque[Waiter[K, C]] = deque()
        self.live = 0  # waiters still WAITING
        self.connections = 0  # connecting + idle + in use
        self.connecting = 0
        self.idle = 0
        self.in_use = 0
        self.leases = 0
        # What the last connection of this key could carry: while connections
        # that will likely carry this many are being opened, new waiters wait
        # for them instead of opening more (HTTP/2).
        self.last_capacity = 1


def _check_limit(
    name: str, value: float | None, *, integer: bool, allow_none: bool, allow_zero: bool = False
) -> None:
    if value is None:
        if not allow_none:
            raise TypeError(f"{name} must not be None")
        return
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        kind = "an int" if integer else "a number of seconds"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0, got {value}")


class PoolState(Generic[K, C]):
    """The sans-IO pool: decisions only; see the module docstring.

    Args:
        max_connections: cap on busy connections (carrying a lease or being
            opened); idle ones are not counted.
        max_connections_per_key: the same cap per key; None (the default):
            only the global cap, as in aiohttp. A per-key cap below the
            global one throttles a slow origin to cap / service time
            requests a second however idle the machine; it is for
            politeness (crawlers).
        max_idle_connections: how many idle connections are kept, across
            keys; past it the least recently used is closed. None: no cap
            (``keepalive_expiry`` alone bounds them); 0: none kept.
        keepalive_expiry: seconds an idle connection is kept (None: forever).
        max_lifetime: seconds after which a connection takes no new lease.
        max_requests: leases after which a connection takes no new lease.
        expected_capacity: how many leases a key's *first* connection is
            expected to carry (e.g. 100 where HTTP/2 is likely): while it is
            being opened, that many waiters wait for it instead of each
            opening its own. Once a connection of the key is open, its real
            capacity is what counts. None: 1 for every key.

    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_key: int | None = None,
        max_idle_connections: int | None = 1000,
        keepalive_expiry: float | None = 60.0,
        max_lifetime: float | None = None,
        max_requests: int | None = None,
        expected_capacity: Callable[[K], int] | None = None,
    ) -> None:
        _check_limit("max_connections", max_connections, integer=True, allow_none=False)
        _check_limit(
            "max_connections_per_key", max_connections_per_key, integer=True, allow_none=True
        )
        _check_limit(
            "max_idle_connections",
            max_idle_connections,
            integer=True,
            allow_none=True,
            allow_zero=True,
        )
        _check_limit("keepalive_expiry", keepalive_expiry, integer=False, allow_none=True)
        _check_limit("max_lifetime", max_lifetime, integer=False, allow_none=True)
        _check_limit("max_requests", max_requests, integer=True, allow_none=True)
        self.max_connections = max_connections
        self.max_connections_per_key = max_connections_per_key
        self.max_idle_connections = max_idle_connections
        # The cap the rules compare with: no per-key cap is the global one.
        self._per_key = (
            max_connections if max_connections_per_key is None else max_connections_per_key
        )
        self.keepalive_expiry = keepalive_expiry
        self.max_lifetime = max_lifetime
        self.max_requests = max_requests
        self.expected_capacity = expected_capacity

        self.to_wake: list[Waiter[K, C]] = []
        self.to_close: list[C] = []
        self.closed = False

        self._keys: dict[K, _Keyed[K, C]] = {}
        # Idle connections of every key, oldest idle first: the idle cap and
        # expiry take from the front.
        self._idle: OrderedDict[ConnectionRecord[K, C], None] = OrderedDict()
        # Connections opened with no room yet (capacity 0), oldest first: busy
        # (they keep their slot) until their capacity rises; expiry applies.
        self._stalled: OrderedDict[ConnectionRecord[K, C], None] = OrderedDict()
        # Keys whose waiters wait only for the global cap, in turn (rule 3).
        self._blocked: OrderedDict[_Keyed[K, C], None] = OrderedDict()
        # Every connection the pool holds (for close()).
        self._records: dict[ConnectionRecord[K, C], None] = {}
        self._connections = 0
        self._connecting = 0
        self._in_use = 0
        self._busy = 0  # connecting + in use: what max_connections caps
        self._leases = 0
        self._waiters = 0
        self._seq = 0

    # ------------------------------------------------------------ operations

    def acquire(self, key: K, now: float) -> Waiter[K, C]:
        """Ask for a lease on a connection for ``key``.

        The returned waiter is GRANTED (``record`` holds the lease), OPENING
        (open ``record``'s connection, then call :meth:`connected` or
        :meth:`connect_failed`) or WAITING (it will appear in ``to_wake``).
        """
        if self.closed:
            raise RuntimeError("the pool is closed")
        keyed = self._keys.get(key)
        if keyed is None:
            keyed = self._keys[key] = _Keyed(key)
            if self.expected_capacity is not None:
                keyed.last_capacity = max(1, self.expected_capacity(key))
        waiter: Waiter[K, C] = Waiter(keyed)
        if not keyed.live:  # nobody of this key waits: free capacity is ours
            record = self._take_spare(keyed, now)
            if record is not None:
                self._grant(waiter, record, now)
            elif self._may_open(keyed, 1):
                self._open(waiter, keyed, now)
        if waiter.state is _WAITING:
            self._seq += 1
            waiter.seq = self._seq
            keyed.waiters.append(waiter)
            keyed.live += 1
            self._waiters += 1
            if (
                keyed.in_use + keyed.connecting < self._per_key
                and self._busy >= self.max_connections
                and (keyed.rest or not self._covered(keyed, 0))
            ):
                self._blocked[keyed] = None
        if self._blocked:
            self._settle(now)
        return waiter

    def acquire_idle(self, key: K, now: float) -> ConnectionRecord[K, C] | None:
        """Lease a spare connection of a key nobody waits for, or return None.

        The common case of :meth:`acquire` without its :class:`Waiter`: the
        record returned holds the lease. On None, call :meth:`acquire`.
        """
        if self.closed:
            return None
        keyed = self._keys.get(key)
        if keyed is None or keyed.live or not (keyed.spare or keyed.rest):
            return None
        record = self._take_spare(keyed, now)
        if record is not None:
            self._lease(record)
        # (On None the key may be left empty: the caller's acquire() goes on
        # with it, and keeps what it learnt of the key's capacity.)
        return record

    def connected(self, waiter: Waiter[K, C], connection: C, now: float) -> None:
        """Record that the OPENING ``waiter`` opened ``connection``; it now holds a lease.

        If the pool closed meanwhile, the connection is closed and the waiter
        FAILED.
        """
        record = waiter.record
        if waiter.state is not _OPENING or record is None:
            raise RuntimeError(f"{waiter!r} is not opening a connection")
        keyed = record.keyed
        if self.closed or record.state == _CLOSED:
            self.to_close.append(connection)
            waiter.state = _FAILED
            return
        record.connection = connection
        record.state = _READY
        record.created = record.idle_since = now
        capacity = connection.capacity
        record.capacity = capacity
        if capacity > 0:
            keyed.last_capacity = capacity
        keyed.connecting -= 1
        self._connecting -= 1
        if capacity > 0:
            self._busy -= 1  # (taken again by the lease)
            keyed.idle += 1
            self._idle[record] = None
            self._grant(waiter, record, now)
        else:
            # No room yet (an HTTP/2 peer allowing 0 streams): the connection
            # keeps its slot until its capacity rises (rule 3); its opener
            # waits first in line.
            keyed.in_use += 1
            self._in_use += 1
            self._stalled[record] = None
            waiter.state = _WAITING
            waiter.record = None
            keyed.waiters.appendleft(waiter)
            keyed.live += 1
            self._waiters += 1
            self.to_wake.append(waiter)  # the shell waits on it from now on
        self._drain(keyed, now)
        if self._blocked:
            self._settle(now)

    def connect_failed(self, waiter: Waiter[K, C], now: float) -> None:
        """Record that the OPENING ``waiter`` could not connect; free the slot for the next."""
        record = waiter.record
        if waiter.state is not _OPENING or record is None:
            raise RuntimeError(f"{waiter!r} is not opening a connection")
        waiter.state = _FAILED
        if record.state != _CLOSED:  # (the pool may have closed meanwhile)
            keyed = record.keyed
            record.state = _CLOSED
            del self._records[record]
            keyed.connecting -= 1
            keyed.connections -= 1
            self._connecting -= 1
            self._connections -= 1
            self._busy -= 1
            if keyed.live:  # the freed slot is this key's turn in the line, not a jump
                self._blocked[keyed] = None
            if self._blocked:
                self._settle(now)
            self._forget_if_unused(keyed)

    def release(self, record: ConnectionRecord[K, C], now: float, *, reusable: bool = True) -> None:
        """End a lease on ``record``; ``reusable=False`` discards the connection."""
        if record.active <= 0:
            raise RuntimeError(f"{record!r} has no lease to release")
        keyed = record.keyed
        record.active -= 1
        keyed.leases -= 1
        self._leases -= 1
        if record.state == _CLOSED:  # discarded while this lease was out
            self._forget_if_unused(keyed)
            return
        connection = record.connection
        usable = connection is not None and connection.is_usable()
        if not usable and record.active and reusable and record.state == _READY:
            # A multiplexed connection that takes no new stream (GOAWAY) while
            # other leases are still out: retire it, do not cut them off.
            record.state = _RETIRING
            keyed.spare.pop(record, None)
        if (
            not reusable
            or connection is None
            or (not usable and not record.active)
            or (not record.active and record.state == _RETIRING)
        ):
            # A slot frees: it goes to the keys in line for one, in turn
            # (_close puts this key at the end of that line if it waits).
            self._close(record)
        elif record.active:  # a multiplexed connection still busy: room for one more
            if record.state == _READY and record.active < record.capacity:
                keyed.spare.pop(record, None)
                keyed.spare[record] = None  # most recently used last
            if keyed.live:
                self._drain(keyed, now)
        else:  # idle now, and its slot is free
            keyed.spare.pop(record, None)
            self._make_idle(record, now)
            if record.state == _READY and record.capacity > 0:
                keyed.rest[record] = None  # most recently used last
            if keyed.live:
                if self._blocked and self._owed_elsewhere(keyed):
                    # An older waiter of another key is in line for a slot:
                    # this one is its; this key waits its turn (rule 3).
                    self._blocked[keyed] = None
                else:
                    self._drain(keyed, now)  # the lease goes straight to the oldest waiter
        if self._blocked:
            self._settle(now)
        self._trim_idle()
        self._forget_if_unused(keyed)

    def cancel(self, waiter: Waiter[K, C], now: float) -> None:
        """Undo whatever a waiter that gave up was given, at any stage."""
        state = waiter.state
        if state is _WAITING:
            waiter.state = _CANCELLED
            keyed = waiter.keyed
            keyed.live -= 1
            self._waiters -= 1
            if not keyed.live:
                self._blocked.pop(keyed, None)
            elif len(keyed.waiters) > 2 * keyed.live + 32:  # drop cancelled entries
                keyed.waiters = deque(w for w in keyed.waiters if w.state is _WAITING)
            self._forget_if_unused(keyed)
        elif state is _GRANTED:
            waiter.state = _CANCELLED
            assert waiter.record is not None
            self.release(waiter.record, now)
        elif state is _OPENING:
            self.connect_failed(waiter, now)
            waiter.state = _CANCELLED

    def capacity_changed(self, record: ConnectionRecord[K, C], now: float) -> None:
        """Re-read the connection's capacity (HTTP/2 SETTINGS); serve waiters it fits."""
        if record.state == _CLOSED or record.connection is None:
            return
        capacity = record.connection.capacity
        record.capacity = capacity
        keyed = record.keyed
        if capacity > 0:
            keyed.last_capacity = capacity
            if record in self._stalled:  # room at last: it gives up its slot, idle
                del self._stalled[record]
                self._make_idle(record, now)
                if keyed.live and keyed not in self._blocked:
                    self._blocked[keyed] = None  # the slot it held, in turn
        if record.state == _READY and record not in self._stalled:
            room = keyed.spare if record.active else keyed.rest
            if record.active < capacity:
                room[record] = None
            else:
                room.pop(record, None)
        self._drain(keyed, now)
        if self._blocked:
            self._settle(now)
        self._trim_idle()

    def retire(self, record: ConnectionRecord[K, C], now: float) -> None:
        """Take no new lease on ``record``; close it when its last lease ends (GOAWAY)."""
        if record.state != _READY:
            return
        if record.active:
            record.state = _RETIRING
            record.keyed.spare.pop(record, None)
        else:
            self._close(record)  # (one with no room yet frees its slot)
            if self._blocked:
                self._settle(now)
            self._forget_if_unused(record.keyed)

    def discard(self, record: ConnectionRecord[K, C], now: float) -> None:
        """Close ``record``'s connection now (it broke); its leases release as no-ops."""
        if record.state == _CONNECTING or record.state == _CLOSED:
            return
        self._close(record)
        if self._blocked:
            self._settle(now)
        self._forget_if_unused(record.keyed)

    def expire(self, now: float) -> None:
        """Close idle connections past their keepalive expiry."""
        expiry = self.keepalive_expiry
        if expiry is None:
            return
        for waiting in (self._idle, self._stalled):
            while waiting:
                record = next(iter(waiting))
                if now - record.idle_since < expiry:
                    break
                keyed = record.keyed
                self._close(record)  # a stalled one frees its slot: in turn
                self._forget_if_unused(keyed)
        if self._blocked:
            self._settle(now)

    def next_expiry(self) -> float | None:
        """When the oldest idle connection expires, or None."""
        if self.keepalive_expiry is None or not (self._idle or self._stalled):
            return None
        since = min(next(iter(early)).idle_since for early in (self._idle, self._stalled) if early)
        return since + self.keepalive_expiry

    def close(self) -> None:
        """Close every connection and fail every waiter; the pool takes no more.

        Connections being opened are closed when their opener reports back;
        leases still out release as no-ops.
        """
        self.closed = True
        for keyed in self._keys.values():
            for waiter in keyed.waiters:
                if waiter.state is _WAITING:
                    waiter.state = _FAILED
                    self.to_wake.append(waiter)
            keyed.waiters.clear()
            keyed.live = 0
        self._waiters = 0
        self._blocked.clear()
        for record in list(self._records):
            if record.state == _CONNECTING:
                record.state = _CLOSED
                record.keyed.connecting -= 1
                record.keyed.connections -= 1
                self._connecting -= 1
                self._connections -= 1
                self._busy -= 1
                del self._records[record]
            else:
                self._close(record)
        for keyed in list(self._keys.values()):
            self._forget_if_unused(keyed)

    @property
    def waiting(self) -> int:
        """How many acquires are queued (``stats().waiters`` without building the stats)."""
        return self._waiters

    def stats(self, key: K | None = None) -> PoolStats:
        """Return the counts for ``key``, or for the whole pool."""
        if key is None:
            return PoolStats(
                idle=self._connections - self._in_use - self._connecting,
                in_use=self._in_use,
                connecting=self._connecting,
                leases=self._leases,
                waiters=self._waiters,
            )
        keyed = self._keys.get(key)
        if keyed is None:
            return PoolStats()
        return PoolStats(
            idle=keyed.idle,
            in_use=keyed.in_use,
            connecting=keyed.connecting,
            leases=keyed.leases,
            waiters=keyed.live,
        )

    # ------------------------------------------------------------ internals

    def _owed_elsewhere(self, keyed: _Keyed[K, C]) -> bool:
        """Tell whether a key blocked on the global cap waited longer than this one.

        Then the slot just freed goes there: otherwise a busy key would keep
        its connections for ever while another key starves behind the
        global cap.
        """
        if not keyed.live:
            return False
        line = iter(self._blocked)
        other: _Keyed[K, C] | None = next(line)
        if other is keyed:  # first in line itself: the next key decides
            other = next(line, None)
        if other is None or not other.live:
            return False
        return self._oldest(other).seq < self._oldest(keyed).seq

    def _oldest(self, keyed: _Keyed[K, C]) -> Waiter[K, C]:
        """Return the key's oldest WAITING waiter (dropping dead ones at the front)."""
        waiters = keyed.waiters
        while waiters[0].state is not _WAITING:
            waiters.popleft()
        return waiters[0]

    def _covered(self, keyed: _Keyed[K, C], extra: int) -> bool:
        """Tell whether connections being opened carry this key's waiters (+extra)."""
        return keyed.connecting * (keyed.last_capacity - 1) >= keyed.live + extra > 0

    def _may_open(self, keyed: _Keyed[K, C], extra: int) -> bool:
        """Tell whether a connection can be opened for this key now."""
        return (
            self._busy < self.max_connections
            and keyed.in_use + keyed.connecting < self._per_key
            and not self._covered(keyed, extra)
        )

    def _make_idle(self, record: ConnectionRecord[K, C], now: float) -> None:
        """Count a busy connection that carries no lease as idle from ``now``; its slot frees."""
        keyed = record.keyed
        keyed.in_use -= 1
        self._in_use -= 1
        self._busy -= 1
        keyed.idle += 1
        record.idle_since = now
        self._idle[record] = None

    def _trim_idle(self) -> None:
        """Close the least recently used idle connections past ``max_idle_connections``."""
        cap = self.max_idle_connections
        if cap is None:
            return
        idle = self._idle
        while len(idle) > cap:
            record = next(iter(idle))
            keyed = record.keyed
            self._close(record)
            self._forget_if_unused(keyed)

    def _take_spare(self, keyed: _Keyed[K, C], now: float) -> ConnectionRecord[K, C] | None:
        """Pop the most recently used connection with room that is still good.

        A busy (HTTP/2) connection with room first: another lease on it
        takes no slot. An idle one only while the caps leave a slot, since
        leasing it makes it busy (rule 3).
        """
        spare = keyed.spare
        while spare:
            record, _ = spare.popitem()
            connection = record.connection
            if (
                connection is not None
                and connection.is_usable()
                and (self.max_lifetime is None or now - record.created < self.max_lifetime)
            ):
                return record
            record.state = _RETIRING  # too old but busy: finish its leases, then close
        rest = keyed.rest
        if not rest or self._busy >= self.max_connections:
            return None
        if keyed.in_use + keyed.connecting >= self._per_key:
            return None
        while rest:
            record, _ = rest.popitem()
            connection = record.connection
            if (
                connection is not None
                and connection.is_usable()
                and (self.max_lifetime is None or now - record.created < self.max_lifetime)
                and (
                    self.keepalive_expiry is None or now - record.idle_since < self.keepalive_expiry
                )
            ):
                return record
            self._close(record)
        return None

    def _grant(self, waiter: Waiter[K, C], record: ConnectionRecord[K, C], now: float) -> None:
        """Give ``waiter`` a lease on ``record`` (which has room)."""
        self._lease(record)
        waiter.state = _GRANTED
        waiter.record = record

    def _lease(self, record: ConnectionRecord[K, C]) -> None:
        """Count a new lease on ``record`` (which has room)."""
        keyed = record.keyed
        if not record.active:
            del self._idle[record]
            keyed.rest.pop(record, None)
            keyed.idle -= 1
            keyed.in_use += 1
            self._in_use += 1
            self._busy += 1
        record.active += 1
        record.served += 1
        keyed.leases += 1
        self._leases += 1
        if self.max_requests is not None and record.served >= self.max_requests:
            record.state = _RETIRING
            keyed.spare.pop(record, None)
        elif record.active < record.capacity:
            keyed.spare[record] = None
        else:
            keyed.spare.pop(record, None)

    def _open(self, waiter: Waiter[K, C], keyed: _Keyed[K, C], now: float) -> None:
        """Reserve a slot and make ``waiter`` the one to open it."""
        record: ConnectionRecord[K, C] = ConnectionRecord(keyed, now)
        self._records[record] = None
        keyed.connections += 1
        keyed.connecting += 1
        self._connections += 1
        self._connecting += 1
        self._busy += 1
        waiter.state = _OPENING
        waiter.record = record

    def _close(self, record: ConnectionRecord[K, C]) -> None:
        """Remove a ready or retiring connection from the pool and close it."""
        if record.state == _CLOSED or record.state == _CONNECTING:
            return
        keyed = record.keyed
        keyed.spare.pop(record, None)
        keyed.rest.pop(record, None)
        self._stalled.pop(record, None)
        # Counted idle exactly while in the idle list (a record whose last
        # lease is being released is still counted in use here).
        busy = record not in self._idle
        if busy:
            keyed.in_use -= 1
            self._in_use -= 1
            self._busy -= 1
        else:
            del self._idle[record]
            keyed.idle -= 1
        keyed.connections -= 1
        self._connections -= 1
        record.state = _CLOSED
        del self._records[record]
        if record.connection is not None:
            self.to_close.append(record.connection)
        if busy and keyed.live and keyed not in self._blocked:
            # This key's waiters compete for the freed slot in turn (rule 3).
            self._blocked[keyed] = None

    def _drain(self, keyed: _Keyed[K, C], now: float) -> None:
        """Serve ``keyed``'s waiters, oldest first, as far as capacity allows."""
        waiters = keyed.waiters
        took_slot = False
        while keyed.live:
            waiter = waiters[0]
            if waiter.state is not _WAITING:
                waiters.popleft()
                continue
            record = self._take_spare(keyed, now)
            if record is not None:
                took_slot = took_slot or not record.active
                waiters.popleft()
                keyed.live -= 1
                self._waiters -= 1
                self._grant(waiter, record, now)
                self.to_wake.append(waiter)
                continue
            if keyed.in_use + keyed.connecting >= self._per_key:
                break
            if self._busy >= self.max_connections and (
                # An idle connection ready for this waiter waits only for a
                # slot, not for connects under way.
                keyed.rest or not self._covered(keyed, 0)
            ):
                self._blocked[keyed] = None
                if took_slot:  # its turn is used: to the back of the line (rule 3)
                    self._blocked.move_to_end(keyed)
                return
            if self._covered(keyed, 0):
                break
            waiters.popleft()
            keyed.live -= 1
            self._waiters -= 1
            self._open(waiter, keyed, now)
            self.to_wake.append(waiter)
            took_slot = True
        self._blocked.pop(keyed, None)

    def _settle(self, now: float) -> None:
        """Give freed global slots to keys blocked on the cap, in turn."""
        blocked = self._blocked
        # _drain() either serves the key, finds it not blocked by the global
        # cap after all (its own cap, pending connects), or puts it back at
        # the end because there is no room: then the loop condition fails.
        while blocked and self._busy < self.max_connections:
            keyed, _ = blocked.popitem(last=False)
            if keyed.live:
                self._drain(keyed, now)

    def _forget_if_unused(self, keyed: _Keyed[K, C]) -> None:
        """Drop a key with nothing left, so 10 000 keys churning stay bounded."""
        if not (keyed.connections or keyed.live or keyed.leases):
            if self._keys.get(keyed.key) is keyed:
                del self._keys[keyed.key]
            self._blocked.pop(keyed, None)
