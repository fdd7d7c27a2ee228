"""PoolState under random sequences (hypothesis stateful testing).

A model drives :class:`PoolState` the way the asyncio shell does (emptying
its outboxes after every call) with a fake connection type, through random
acquires, connects and connect failures, releases (clean or broken),
cancellations at every stage, connection deaths, HTTP/2-style capacity
changes, retirement, discards, time steps with expiry, and close. After every
step the invariants of the issue are checked: caps never exceeded, FIFO per
key, stats consistent with the model, no lease on a closed or dead
connection, no capacity stranded while someone waits, and after close
everything zero with every connection closed exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hyperhttp_pool import ConnectionRecord, PoolState, PoolStats, Waiter, WaiterState

KEYS = ("a", "b", "c")


class Conn:
    """A fake connection: settable capacity and health; counts its closes."""

    def __init__(self, key: str, capacity: int) -> None:
        self.key = key
        self._capacity = capacity
        self.usable = True
        self.closes = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def is_usable(self) -> bool:
        return self.usable and not self.closes

    def close(self) -> None:
        self.closes += 1


@dataclass
class Lease:
    """A lease the model holds: which record, and the connection at grant time."""

    waiter: Waiter[str, Conn]
    record: ConnectionRecord[str, Conn]
    connection: Conn


@dataclass
class Model:
    waiting: dict[str, list[Waiter[str, Conn]]] = field(
        default_factory=lambda: {k: [] for k in KEYS}
    )
    opening: list[Waiter[str, Conn]] = field(default_factory=list)
    leases: list[Lease] = field(default_factory=list)
    opened: list[Conn] = field(default_factory=list)
    failed: list[Waiter[str, Conn]] = field(default_factory=list)


class PoolMachine(RuleBasedStateMachine):
    """Random operations on a PoolState, with the invariants checked after each."""

    def __init__(self) -> None:
        super().__init__()
        self.state: PoolState[str, Conn] | None = None
        self.model = Model()
        self.now = 0.0
        self.closed = False
        self.records: list[ConnectionRecord[str, Conn]] = []

    @initialize(
        max_connections=st.integers(1, 4),
        per_key=st.one_of(st.none(), st.integers(1, 3)),  # None: only the global cap
        idle=st.one_of(st.none(), st.integers(0, 3)),  # None: no idle cap
        keepalive=st.sampled_from([None, 5.0, 20.0]),
        lifetime=st.sampled_from([None, 15.0]),
        requests=st.sampled_from([None, 1, 2, 3]),
    )
    def setup(
        self,
        max_connections: int,
        per_key: int | None,
        idle: int | None,
        keepalive: float | None,
        lifetime: float | None,
        requests: int | None,
    ) -> None:
        self.state = PoolState(
            max_connections=max_connections,
            max_connections_per_key=per_key,
            max_idle_connections=idle,
            keepalive_expiry=keepalive,
            max_lifetime=lifetime,
            max_requests=requests,
        )

    # ------------------------------------------------------------ plumbing

    @property
    def pool(self) -> PoolState[str, Conn]:
        assert self.state is not None
        return self.state

    def _flush(self) -> None:
        """Carry out the outboxes as the shell does, and check what they say."""
        pool = self.pool
        woken, pool.to_wake = pool.to_wake, []
        closing, pool.to_close = pool.to_close, []
        for connection in closing:
            connection.close()
            assert connection.closes == 1, "a connection was closed twice"
        seen: set[int] = set()
        for waiter in woken:
            if id(waiter) in seen:  # woken twice in one call: its latest state counts
                continue
            seen.add(id(waiter))
            key = waiter.keyed.key
            if waiter.state is WaiterState.WAITING:
                continue  # re-queued in front (see connect_succeeds)
            queue = self.model.waiting[key]
            assert waiter in queue, "woke a waiter that was not waiting"
            if waiter.state in (WaiterState.GRANTED, WaiterState.OPENING):
                # FIFO per key: the oldest still-waiting waiter goes first.
                assert queue[0] is waiter, "a waiter jumped its key's queue"
            queue.remove(waiter)
            self._took(waiter)

    def _took(self, waiter: Waiter[str, Conn]) -> None:
        """Book a waiter that left WAITING (or never entered it)."""
        if waiter.state is WaiterState.GRANTED:
            record = waiter.record
            assert record is not None
            connection = record.connection
            assert connection is not None
            assert connection.closes == 0, "a lease on a closed connection"
            assert connection.key == waiter.keyed.key, "a lease on another key's connection"
            self.model.leases.append(Lease(waiter, record, connection))
            held = sum(1 for lease in self.model.leases if lease.record is record)
            assert held <= max(record.capacity, 1), "more leases than the connection carries"
        elif waiter.state is WaiterState.OPENING:
            self.model.opening.append(waiter)
        elif waiter.state is WaiterState.FAILED:
            self.model.failed.append(waiter)

    # ------------------------------------------------------------ rules

    @precondition(lambda self: self.state is not None and not self.closed)
    @rule(key=st.sampled_from(KEYS))
    def acquire(self, key: str) -> None:
        waiter = self.pool.acquire(key, self.now)
        if waiter.state is WaiterState.WAITING:
            self.model.waiting[key].append(waiter)
        else:
            assert not self.model.waiting[key], "an arrival jumped the queue"
            self._took(waiter)
        self._flush()

    @precondition(lambda self: bool(self.model.opening))
    @rule(data=st.data(), capacity=st.sampled_from([1, 1, 1, 2, 3, 0]))
    def connect_succeeds(self, data: st.DataObject, capacity: int) -> None:
        waiter = data.draw(st.sampled_from(self.model.opening))
        self.model.opening.remove(waiter)
        connection = Conn(waiter.keyed.key, capacity)
        self.model.opened.append(connection)
        assert waiter.record is not None
        self.records.append(waiter.record)
        self.pool.connected(waiter, connection, self.now)
        if waiter in self.pool.to_wake:
            # No room on it yet (capacity 0): the opener was queued first in
            # line, and may have been served again at once.
            self.model.waiting[waiter.keyed.key].insert(0, waiter)
        else:
            self._took(waiter)
        self._flush()

    @precondition(lambda self: bool(self.model.opening))
    @rule(data=st.data())
    def connect_fails(self, data: st.DataObject) -> None:
        waiter = data.draw(st.sampled_from(self.model.opening))
        self.model.opening.remove(waiter)
        self.pool.connect_failed(waiter, self.now)
        assert waiter.state is WaiterState.FAILED
        self._flush()

    @precondition(lambda self: bool(self.model.leases))
    @rule(data=st.data(), reusable=st.booleans())
    def release(self, data: st.DataObject, reusable: bool) -> None:
        lease = data.draw(st.sampled_from(self.model.leases))
        self.model.leases.remove(lease)
        self.pool.release(lease.record, self.now, reusable=reusable)
        self._flush()

    @precondition(lambda self: any(self.model.waiting.values()))
    @rule(data=st.data())
    def cancel_waiting(self, data: st.DataObject) -> None:
        waiters = [w for queue in self.model.waiting.values() for w in queue]
        waiter = data.draw(st.sampled_from(waiters))
        self.model.waiting[waiter.keyed.key].remove(waiter)
        self.pool.cancel(waiter, self.now)
        assert waiter.state is WaiterState.CANCELLED
        self._flush()

    @precondition(lambda self: bool(self.model.leases))
    @rule(data=st.data())
    def cancel_granted(self, data: st.DataObject) -> None:
        """Cancel a waiter woken with a lease before it picks the lease up."""
        lease = data.draw(st.sampled_from(self.model.leases))
        self.model.leases.remove(lease)
        self.pool.cancel(lease.waiter, self.now)
        self._flush()

    @precondition(lambda self: bool(self.model.opening))
    @rule(data=st.data())
    def cancel_opening(self, data: st.DataObject) -> None:
        waiter = data.draw(st.sampled_from(self.model.opening))
        self.model.opening.remove(waiter)
        self.pool.cancel(waiter, self.now)
        assert waiter.state is WaiterState.CANCELLED
        self._flush()

    @precondition(lambda self: any(c.closes == 0 for c in self.model.opened))
    @rule(data=st.data())
    def connection_dies(self, data: st.DataObject) -> None:
        alive = [c for c in self.model.opened if c.closes == 0 and c.usable]
        if alive:
            data.draw(st.sampled_from(alive)).usable = False

    @precondition(lambda self: bool(self._open_records()))
    @rule(data=st.data(), capacity=st.integers(0, 4))
    def capacity_changes(self, data: st.DataObject, capacity: int) -> None:
        """Change the capacity of any open connection: leased, idle, or retiring."""
        record = data.draw(st.sampled_from(self._open_records()))
        assert record.connection is not None
        record.connection._capacity = capacity
        self.pool.capacity_changed(record, self.now)
        self._flush()

    def _open_records(self) -> list[ConnectionRecord[str, Conn]]:
        return [r for r in self.records if r.connection and not r.connection.closes]

    @precondition(lambda self: bool(self._open_records()))
    @rule(data=st.data())
    def retire(self, data: st.DataObject) -> None:
        """GOAWAY on any open connection: leased, idle, or with no room yet."""
        record = data.draw(st.sampled_from(self._open_records()))
        self.pool.retire(record, self.now)
        self._flush()

    @precondition(lambda self: bool(self._open_records()))
    @rule(data=st.data())
    def discard(self, data: st.DataObject) -> None:
        """Break any open connection: leases on it release later as no-ops."""
        record = data.draw(st.sampled_from(self._open_records()))
        self.pool.discard(record, self.now)
        self._flush()

    @precondition(lambda self: self.state is not None)
    @rule(step=st.sampled_from([0.5, 3.0, 10.0, 30.0]))
    def time_passes(self, step: float) -> None:
        self.now += step
        self.pool.expire(self.now)
        self._flush()
        when = self.pool.next_expiry()
        assert when is None or when > self.now or self.pool.keepalive_expiry is None

    @precondition(lambda self: self.state is not None and not self.closed)
    @rule()
    def close(self) -> None:
        self.closed = True
        self.pool.close()
        self._flush()
        assert not any(self.model.waiting.values()), "a waiter survived close()"

    # ------------------------------------------------------------ invariants

    @invariant()
    def caps_and_stats(self) -> None:
        if self.state is None:
            return
        pool = self.pool
        total = pool.stats()
        per_key = [pool.stats(key) for key in KEYS]
        assert total.in_use + total.connecting <= pool.max_connections
        cap = pool.max_connections_per_key or pool.max_connections
        for stats in per_key:
            assert stats.in_use + stats.connecting <= cap
        if pool.max_idle_connections is not None:
            assert total.idle <= pool.max_idle_connections
        summed = PoolStats(
            idle=sum(s.idle for s in per_key),
            in_use=sum(s.in_use for s in per_key),
            connecting=sum(s.connecting for s in per_key),
            leases=sum(s.leases for s in per_key),
            waiters=sum(s.waiters for s in per_key),
        )
        assert summed == total
        assert total.waiters == sum(len(q) for q in self.model.waiting.values())
        assert total.leases <= len(self.model.leases)  # (discarded ones still held count 0)
        assert total.connecting == len(self.model.opening) or self.closed
        for key in KEYS:
            assert pool.stats(key).waiters == len(self.model.waiting[key])
        if self.closed:
            assert total.connections - total.connecting == 0 or total.in_use > 0

    @invariant()
    def no_stranded_capacity(self) -> None:
        """Nobody waits while the pool could serve them at once."""
        if self.state is None or self.closed:
            return
        pool = self.pool
        total = pool.stats()
        cap = pool.max_connections_per_key or pool.max_connections
        for key in KEYS:
            if not self.model.waiting[key]:
                continue
            mine = pool.stats(key)
            # A slot for this key: an idle connection could be leased, or a
            # new one opened (rule 3).
            slot = (
                total.in_use + total.connecting < pool.max_connections
                and mine.in_use + mine.connecting < cap
            )
            for record in self.records:
                connection = record.connection
                if record.key != key or connection is None or connection.closes:
                    continue
                held = sum(1 for lease in self.model.leases if lease.record is record)
                assert not (
                    record.state == 1  # READY: takes new leases
                    and (record.active > 0 or slot)  # busy: room on it needs no slot
                    and connection.is_usable()
                    and held < connection.capacity
                    and record.active < connection.capacity
                    and (pool.max_requests is None or record.served < pool.max_requests)
                    and (pool.max_lifetime is None or self.now - record.created < pool.max_lifetime)
                    and (
                        record.active > 0
                        or pool.keepalive_expiry is None
                        or self.now - record.idle_since < pool.keepalive_expiry
                    )
                ), f"{key} waits while {record!r} has room"
            # Waiting with nothing of its own opening, while the caps leave a
            # slot, would be stranded capacity.
            if mine.connecting == 0:
                assert not slot, f"{key} waits while the caps leave it a slot"

    def teardown(self) -> None:
        """Finish everything and close: nothing may leak."""
        if self.state is None:
            return
        pool = self.pool
        for waiter in list(self.model.opening):
            pool.connect_failed(waiter, self.now)
        self.model.opening.clear()
        self._flush()
        while self.model.leases:
            lease = self.model.leases.pop()
            pool.release(lease.record, self.now)
            self._flush()
            for waiter in list(self.model.opening):
                self.model.opening.remove(waiter)
                pool.connect_failed(waiter, self.now)
                self._flush()
        for queue in self.model.waiting.values():
            for waiter in list(queue):
                queue.remove(waiter)
                pool.cancel(waiter, self.now)
        self._flush()
        pool.close()
        self._flush()
        assert pool.stats() == PoolStats()
        for connection in self.model.opened:
            assert connection.closes == 1, "a connection was never closed (leaked)"


PoolMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPoolStateMachine = PoolMachine.TestCase


def state_of(waiter: Waiter[str, Conn]) -> WaiterState:
    """Read ``state`` afresh (mypy would keep an earlier assert's narrowing)."""
    return waiter.state


def test_a_connection_with_no_room_yet_keeps_its_slot_and_its_books() -> None:
    """An HTTP/2 connection allowing 0 streams yet keeps its slot until room comes.

    (Under an earlier rule the key evicted that connection and was forgotten,
    losing its counts; under another it went idle, freeing its slot, and its
    opener opened another, and another: found by review.)
    """
    pool: PoolState[str, Conn] = PoolState(
        max_connections=1, max_connections_per_key=2, keepalive_expiry=None
    )
    waiter = pool.acquire("b", 0.0)
    assert waiter.state is WaiterState.OPENING
    connection = Conn("b", 0)
    pool.connected(waiter, connection, 0.0)  # an HTTP/2 peer allowing 0 streams yet
    assert state_of(waiter) is WaiterState.WAITING  # first in line, no slot to open another
    assert pool.stats("b") == PoolStats(in_use=1, waiters=1)
    assert pool.stats() == PoolStats(in_use=1, waiters=1)
    record = next(iter(pool._records))
    connection._capacity = 3  # its SETTINGS arrive
    pool.capacity_changed(record, 1.0)
    assert state_of(waiter) is WaiterState.GRANTED
    assert waiter.record is record
    assert pool.stats() == PoolStats(in_use=1, leases=1)


def test_connections_with_no_room_never_make_one_acquire_open_without_end() -> None:
    pool: PoolState[str, Conn] = PoolState(max_connections=2, keepalive_expiry=None)
    waiter = pool.acquire("h2", 0.0)
    opened = 0
    while waiter.state is WaiterState.OPENING and opened < 50:
        pool.connected(waiter, Conn("h2", 0), 0.0)
        opened += 1
    assert opened == 2  # the cap, and no more
    assert pool.stats() == PoolStats(in_use=2, waiters=1)


def test_a_connection_with_no_room_is_kept_whatever_the_idle_cap_and_expires() -> None:
    pool: PoolState[str, Conn] = PoolState(
        max_connections=1, max_idle_connections=0, keepalive_expiry=5.0
    )
    waiter = pool.acquire("h2", 0.0)
    connection = Conn("h2", 0)
    pool.connected(waiter, connection, 0.0)
    assert connection not in pool.to_close  # its opener waits for its SETTINGS
    assert pool.next_expiry() == 5.0
    other = pool.acquire("other", 1.0)
    assert other.state is WaiterState.WAITING  # the slot is held
    pool.expire(5.0)  # never got room: closed, and its slot goes to the next in line
    assert pool.to_close == [connection]
    assert WaiterState.OPENING in (waiter.state, other.state)


def _opened(pool: PoolState[str, Conn], key: str) -> ConnectionRecord[str, Conn]:
    waiter = pool.acquire(key, 0.0)
    assert waiter.state is WaiterState.OPENING
    pool.connected(waiter, Conn(key, 1), 0.0)
    assert waiter.record is not None
    return waiter.record


def test_a_key_first_in_line_cannot_keep_the_slots_for_ever() -> None:
    """B waits while C, one waiter always queued, is served: B gets a slot soon.

    Found by review: the key first in line kept every slot it freed, since
    the only key compared with was itself.
    """
    pool: PoolState[str, Conn] = PoolState(max_connections=2, keepalive_expiry=None)
    _opened(pool, "a")  # holds one slot all along
    record = _opened(pool, "c")
    queued = [pool.acquire("c", 0.0), pool.acquire("c", 0.0)]  # C is first in line
    b = pool.acquire("b", 0.0)
    for _ in range(10):
        queued.append(pool.acquire("c", 0.0))  # C always has a waiter newer than B's
        pool.release(record, 0.0)
        if b.state is not WaiterState.WAITING:
            break
        served = queued.pop(0)
        assert served.state is WaiterState.GRANTED
        assert served.record is not None
        record = served.record
    assert b.state is WaiterState.OPENING
    assert b.seq < queued[0].seq


def test_a_slot_goes_to_the_older_waiter_of_the_next_key_in_line() -> None:
    pool: PoolState[str, Conn] = PoolState(max_connections=2, keepalive_expiry=None)
    a = _opened(pool, "a")
    c = _opened(pool, "c")
    c_first = pool.acquire("c", 0.0)
    b_first = pool.acquire("b", 0.0)
    a_first = pool.acquire("a", 0.0)
    pool.acquire("c", 0.0)
    pool.release(c, 0.0)  # C's oldest waiter is older than everyone: C keeps it
    assert c_first.state is WaiterState.GRANTED
    pool.release(a, 0.0)  # B's waiter is older than A's: the slot is B's
    assert b_first.state is WaiterState.OPENING
    assert a_first.state is WaiterState.WAITING


def test_an_idle_connection_given_room_waits_only_for_a_slot_not_for_a_connect() -> None:
    """A waiter whose key has an idle connection with room is served when a slot frees.

    Found by review: the waiter was "covered" by a connect under way, so the
    key was not in line for slots, and a freed slot went unused until that
    connect ended.
    """
    pool: PoolState[str, Conn] = PoolState(max_connections=2, keepalive_expiry=None)
    first = pool.acquire("a", 0.0)
    multiplexed = Conn("a", 2)
    pool.connected(first, multiplexed, 0.0)  # "a" learns: 2 leases a connection
    assert first.record is not None
    record = first.record
    multiplexed._capacity = 0  # its SETTINGS: no new stream for now
    pool.capacity_changed(record, 0.0)
    pool.release(record, 0.0)  # idle, with no room
    other = pool.acquire("b", 0.0)
    pool.connected(other, Conn("b", 1), 0.0)  # b holds one slot
    opener = pool.acquire("a", 0.0)
    assert opener.state is WaiterState.OPENING  # the other slot: a connect under way
    second = pool.acquire("a", 0.0)
    assert second.state is WaiterState.WAITING  # "covered" by that connect
    multiplexed._capacity = 2  # room again on the idle one; no slot free yet
    pool.capacity_changed(record, 0.0)
    assert second.state is WaiterState.WAITING
    assert other.record is not None
    pool.release(other.record, 0.0)  # a slot frees
    assert state_of(second) is WaiterState.GRANTED
    assert second.record is record


def test_a_connection_with_no_room_retired_gives_its_slot_to_the_next_in_line() -> None:
    pool: PoolState[str, Conn] = PoolState(max_connections=1, keepalive_expiry=None)
    waiter = pool.acquire("h2", 0.0)
    pool.connected(waiter, Conn("h2", 0), 0.0)  # no room yet: keeps the slot
    other = pool.acquire("other", 0.0)
    assert other.state is WaiterState.WAITING
    pool.retire(next(iter(pool._records)), 0.0)  # its GOAWAY: closed, the slot frees
    assert WaiterState.OPENING in (waiter.state, other.state)
    assert pool.stats().connecting == 1
