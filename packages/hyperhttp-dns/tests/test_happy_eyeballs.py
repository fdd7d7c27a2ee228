"""Happy Eyeballs (RFC 8305): ordering, stagger, fail-fast, winner, losers closed, errors.

Timing is checked on a virtual-time loop with a scripted ``open_socket`` that
succeeds, fails or hangs per address (``virtual`` fixture); then on real
sockets on 127.0.0.1 and ::1: a listener, a port with none (refused), and a
listener whose accept queue is full (connects to it hang).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar, cast

import pytest

from hyperhttp_dns import Address, ConnectError, connect, interleave

T = TypeVar("T")
Runner = Callable[[Callable[[], Coroutine[Any, Any, T]]], T]


def v4(n: int, port: int = 80) -> Address:
    return Address(socket.AF_INET, f"192.0.2.{n}", port)


def v6(n: int, port: int = 80) -> Address:
    return Address(socket.AF_INET6, f"2001:db8::{n}", port)


# ------------------------------------------------------------------ ordering


@pytest.mark.parametrize(
    ("given", "count", "expected"),
    [
        ([v4(1), v4(2), v6(1), v6(2)], 1, [v6(1), v4(1), v6(2), v4(2)]),
        ([v6(1), v6(2), v6(3), v4(1)], 1, [v6(1), v4(1), v6(2), v6(3)]),
        ([v6(1), v6(2), v6(3), v4(1), v4(2)], 2, [v6(1), v6(2), v4(1), v6(3), v4(2)]),
        ([v4(1), v4(2)], 1, [v4(1), v4(2)]),
        ([v6(2), v6(1)], 1, [v6(2), v6(1)]),
        ([v4(3), v4(1), v6(9)], 1, [v6(9), v4(3), v4(1)]),
    ],
)
def test_interleave(given: list[Address], count: int, expected: list[Address]) -> None:
    """IPv6 first, first_family_count of them, then the families alternate (RFC 8305 §4)."""
    assert interleave(given, count) == expected


def test_interleave_rejects_a_zero_count() -> None:
    """first_family_count must be at least 1."""
    with pytest.raises(ValueError, match="first_family_count"):
        interleave([v4(1)], 0)


# ------------------------------------------------------------------ scripted, virtual time


class Script:
    """open_socket stand-in: per host, ("ok" | "fail" | "hang", seconds until it happens)."""

    def __init__(self, plan: dict[str, tuple[str, float]]) -> None:
        self.plan = plan
        self.started: list[tuple[float, str]] = []
        self.cancelled: list[str] = []
        self.sockets: dict[str, socket.socket] = {}
        self._peers: list[socket.socket] = []

    async def __call__(self, address: Address) -> socket.socket:
        loop = asyncio.get_running_loop()
        self.started.append((round(loop.time() - 1000.0, 6), address.host))
        kind, after = self.plan[address.host]
        try:
            if kind == "hang":
                await asyncio.Event().wait()
            await asyncio.sleep(after)
        except asyncio.CancelledError:
            self.cancelled.append(address.host)
            raise
        if kind == "fail":
            raise ConnectionRefusedError(111, f"{address.host} refused")
        ours, peer = socket.socketpair()
        self.sockets[address.host] = ours
        self._peers.append(peer)
        return ours

    def close(self) -> None:
        for sock in [*self.sockets.values(), *self._peers]:
            sock.close()


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


@pytest.fixture
def script_factory() -> Iterator[Callable[[dict[str, tuple[str, float]]], Script]]:
    made: list[Script] = []

    def make(plan: dict[str, tuple[str, float]]) -> Script:
        made.append(Script(plan))
        return made[-1]

    yield make
    for script in made:
        script.close()


async def _connect_with(script: Script, addresses: list[Address], **kwargs: Any) -> Recorder:
    transport, protocol = await connect(addresses, Recorder, open_socket=script, **kwargs)
    transport.close()
    await asyncio.sleep(0)
    return protocol


def test_attempts_are_staggered_by_attempt_delay_in_interleaved_order(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """Hanging addresses: attempts start 250 ms apart, IPv6 first; cancelling stops all.

    The caller's cancellation (here a timeout) cancels every attempt.
    """
    addresses = [v4(1), v4(2), v6(1), v6(2)]
    script = script_factory({a.host: ("hang", 0.0) for a in addresses})

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.9):
                await connect(addresses, Recorder, open_socket=script)

    virtual(main)
    assert script.started == [
        (0.0, "2001:db8::1"),
        (0.25, "192.0.2.1"),
        (0.5, "2001:db8::2"),
        (0.75, "192.0.2.2"),
    ]
    assert sorted(script.cancelled) == sorted(a.host for a in addresses)


def test_custom_attempt_delay(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """attempt_delay sets the stagger."""
    script = script_factory({"192.0.2.1": ("hang", 0.0), "192.0.2.2": ("ok", 0.01)})

    async def main() -> None:
        await _connect_with(script, [v4(1), v4(2)], attempt_delay=0.1)

    virtual(main)
    assert script.started == [(0.0, "192.0.2.1"), (0.1, "192.0.2.2")]


def test_a_failure_starts_the_next_attempt_at_once(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """When an attempt fails the next starts immediately, not at the next 250 ms mark."""
    script = script_factory(
        {"2001:db8::1": ("fail", 0.05), "192.0.2.1": ("fail", 0.02), "2001:db8::2": ("ok", 0.01)}
    )

    async def main() -> None:
        await _connect_with(script, [v6(1), v4(1), v6(2)])

    virtual(main)
    assert script.started == [(0.0, "2001:db8::1"), (0.05, "192.0.2.1"), (0.07, "2001:db8::2")]


def test_the_first_connection_to_complete_wins(
    virtual: Runner[Recorder], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """A later attempt that completes first wins; the slower earlier one is cancelled."""
    script = script_factory({"2001:db8::1": ("ok", 0.4), "192.0.2.1": ("ok", 0.1)})

    async def main() -> Recorder:
        return await _connect_with(script, [v6(1), v4(1)])

    protocol = virtual(main)
    assert protocol.transport is not None
    assert script.cancelled == ["2001:db8::1"]
    assert "2001:db8::1" not in script.sockets
    assert script.sockets["192.0.2.1"].fileno() == -1  # closed with the transport


def test_simultaneous_successes_keep_the_earlier_and_close_the_other(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """Two connects completing in the same instant: the earlier-started one wins.

    The other's socket is closed (no leak).
    """
    script = script_factory({"2001:db8::1": ("ok", 0.3), "192.0.2.1": ("ok", 0.05)})
    seen: list[socket.socket] = []

    async def main() -> None:
        transport, _ = await connect([v6(1), v4(1)], Recorder, open_socket=script)
        seen.append(transport.get_extra_info("socket"))
        assert script.sockets["192.0.2.1"].fileno() == -1  # the loser, closed already
        assert script.sockets["2001:db8::1"].fileno() != -1
        transport.close()
        await asyncio.sleep(0)

    virtual(main)
    assert script.cancelled == []


def test_every_attempt_failing_raises_one_error_listing_each(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """ConnectError (an OSError) lists each address, in the order tried, with its error."""
    script = script_factory(
        {"2001:db8::1": ("fail", 0.3), "192.0.2.1": ("fail", 0.01), "192.0.2.2": ("fail", 0.2)}
    )
    raised: list[ConnectError] = []

    async def main() -> None:
        with pytest.raises(ConnectError) as info:
            await connect([v4(1), v4(2), v6(1)], Recorder, open_socket=script)
        raised.append(info.value)

    virtual(main)
    (error,) = raised
    assert isinstance(error, OSError)
    tried = [str(a) for a, _ in error.attempts]
    assert tried == ["[2001:db8::1]:80", "192.0.2.1:80", "192.0.2.2:80"]
    assert all(isinstance(e, ConnectionRefusedError) for _, e in error.attempts)
    assert error.errno == 111
    assert "192.0.2.2:80" in str(error)


def test_order_can_be_kept_and_first_family_count_set(
    virtual: Runner[None], script_factory: Callable[[dict[str, tuple[str, float]]], Script]
) -> None:
    """interleave_families=False keeps the given order; first_family_count=2 leads with two v6."""
    plan = {a.host: ("fail", 0.0) for a in [v4(1), v6(1), v6(2)]}
    kept = script_factory(plan)
    counted = script_factory(plan)

    async def main() -> None:
        with pytest.raises(ConnectError):
            await connect(
                [v4(1), v6(1), v6(2)], Recorder, open_socket=kept, interleave_families=False
            )
        with pytest.raises(ConnectError):
            await connect(
                [v4(1), v6(1), v6(2)], Recorder, open_socket=counted, first_family_count=2
            )

    virtual(main)
    assert [h for _, h in kept.started] == ["192.0.2.1", "2001:db8::1", "2001:db8::2"]
    assert [h for _, h in counted.started] == ["2001:db8::1", "2001:db8::2", "192.0.2.1"]


@pytest.mark.asyncio
async def test_bad_arguments_fail_early() -> None:
    """No addresses, a negative or non-numeric delay, ssl without a server name."""
    with pytest.raises(ValueError, match="must not be empty"):
        await connect([], Recorder)
    with pytest.raises(ValueError, match="attempt_delay"):
        await connect([v4(1)], Recorder, attempt_delay=-1)
    with pytest.raises(TypeError, match="attempt_delay"):
        await connect([v4(1)], Recorder, attempt_delay="0.25")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="server_hostname"):
        await connect([v4(1)], Recorder, ssl=ssl.create_default_context())


# ------------------------------------------------------------------ real loopback sockets


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _has_ipv6_loopback()


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.received.done():
            self.received.set_result(data)


@contextlib.asynccontextmanager
async def echo_server(host: str) -> Any:
    server = await asyncio.get_running_loop().create_server(Echo, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _free_port(host: str, family: int) -> int:
    """Return a port nobody listens on (bound then released: connects to it are refused)."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """Provide a 127.0.0.1 listener whose accept queue is full: new connects get no answer."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield port
    finally:
        filler.close()
        listener.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _roundtrip(transport: asyncio.Transport, protocol: Client) -> bytes:
    transport.write(b"ping")
    async with asyncio.timeout(5):
        data: bytes = await protocol.received
    transport.close()
    return data


@pytest.mark.asyncio
async def test_connects_to_ipv4_loopback() -> None:
    """A real connection to 127.0.0.1 carries data."""
    async with echo_server("127.0.0.1") as port:
        transport, protocol = await connect([Address(socket.AF_INET, "127.0.0.1", port)], Client)
        assert await _roundtrip(transport, protocol) == b"ping"


@pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
@pytest.mark.asyncio
async def test_connects_to_ipv6_loopback() -> None:
    """A real connection to ::1 carries data."""
    async with echo_server("::1") as port:
        transport, protocol = await connect([Address(socket.AF_INET6, "::1", port)], Client)
        assert transport.get_extra_info("peername")[0] == "::1"
        assert await _roundtrip(transport, protocol) == b"ping"


@pytest.mark.asyncio
async def test_refused_address_advances_without_waiting_the_delay() -> None:
    """A refused first address moves on at once (with a 30 s delay, waiting would time out)."""
    refused = Address(socket.AF_INET, "127.0.0.1", _free_port("127.0.0.1", socket.AF_INET))
    async with echo_server("127.0.0.1") as port:
        good = Address(socket.AF_INET, "127.0.0.1", port)
        async with asyncio.timeout(10):
            transport, protocol = await connect([refused, good], Client, attempt_delay=30.0)
        assert await _roundtrip(transport, protocol) == b"ping"


@pytest.mark.asyncio
async def test_hanging_address_is_overtaken_and_its_socket_closed(hanging_port: int) -> None:
    """An address that never answers is overtaken after attempt_delay; its socket is closed."""
    hanging = Address(socket.AF_INET, "127.0.0.1", hanging_port)
    async with echo_server("127.0.0.1") as port:
        before = _open_fds()
        async with asyncio.timeout(10):
            transport, protocol = await connect(
                [hanging, Address(socket.AF_INET, "127.0.0.1", port)], Client, attempt_delay=0.05
            )
        assert transport.get_extra_info("peername")[1] == port
        assert await _roundtrip(transport, protocol) == b"ping"
        await asyncio.sleep(0)
        assert _open_fds() <= before + 1  # at most the server's side of our connection


@pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
@pytest.mark.asyncio
async def test_both_families_refused_lists_both() -> None:
    """Refused on ::1 and on 127.0.0.1: one ConnectError with both, errno ECONNREFUSED."""
    addresses = [
        Address(socket.AF_INET, "127.0.0.1", _free_port("127.0.0.1", socket.AF_INET)),
        Address(socket.AF_INET6, "::1", _free_port("::1", socket.AF_INET6)),
    ]
    with pytest.raises(ConnectError) as info:
        await connect(addresses, Client)
    assert [a.family for a, _ in info.value.attempts] == [socket.AF_INET6, socket.AF_INET]
    assert info.value.errno == 111


@pytest.mark.asyncio
async def test_all_refused_ipv4() -> None:
    """Refused everywhere: ConnectError, an OSError with ECONNREFUSED."""
    port = _free_port("127.0.0.1", socket.AF_INET)
    with pytest.raises(OSError, match="all 1 connection attempts failed") as info:
        await connect([Address(socket.AF_INET, "127.0.0.1", port)], Client)
    assert info.value.errno == 111


@pytest.mark.asyncio
async def test_tls_is_handshaken_only_on_the_winner() -> None:
    """Two addresses accept at once (delay 0): only the winner receives a TLS ClientHello.

    The loser is closed having received nothing.
    """
    received: dict[int, bytes] = {}
    closed = asyncio.Event()

    class Record(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.port = transport.get_extra_info("sockname")[1]
            received.setdefault(self.port, b"")

        def data_received(self, data: bytes) -> None:
            received[self.port] += data
            self.transport.close()  # refuse the handshake: the test needs only the hello

        def connection_lost(self, exc: Exception | None) -> None:
            if len(received) == 2 and all(port in received for port in received):
                closed.set()

    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Record, "127.0.0.1", 0) for _ in range(2)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    try:
        context = ssl.create_default_context()
        with pytest.raises((OSError, ssl.SSLError)):
            async with asyncio.timeout(10):
                await connect(
                    [Address(socket.AF_INET, "127.0.0.1", p) for p in ports],
                    Client,
                    ssl=context,
                    server_hostname="service.test",
                    attempt_delay=0.0,
                )
        async with asyncio.timeout(5):
            while not any(received.values()):
                await asyncio.sleep(0.01)
        # The loser is usually accepted too (and must have received nothing);
        # on a loaded machine its connect may be cancelled before the server
        # ever accepts it, which is just as correct.
        for _ in range(50):
            if len(received) == 2:
                break
            await asyncio.sleep(0.01)
        hellos = [data for data in received.values() if data]
        assert len(hellos) == 1
        assert hellos[0][:1] == b"\x16"  # a TLS handshake record
        assert set(received) <= set(ports)
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


@pytest.mark.asyncio
async def test_cancelled_while_the_rivals_wind_down_the_winner_is_closed() -> None:
    """The caller cancelled while ``race`` waits for the winner's rivals: no socket is left open.

    Before: the winner, already taken from the running attempts, was neither
    returned nor closed.
    """
    loop = asyncio.get_running_loop()
    async with echo_server("127.0.0.1") as port:
        won: list[socket.socket] = []
        caller: list[asyncio.Task[Any]] = []

        async def script(address: Address) -> socket.socket:
            if address.host != "127.0.0.1":
                await asyncio.sleep(3600)  # the rival: never answers (cancelled)
            await asyncio.sleep(0.05)  # wins once the rival has started
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            won.append(sock)

            # Three turns on: race is then waiting for the cancelled rival to end.
            def third_turn() -> None:
                loop.call_soon(caller[0].cancel)

            loop.call_soon(loop.call_soon, third_turn)
            return sock

        addresses = [Address(socket.AF_INET, "127.0.0.1", port), v4(2)]
        caller.append(
            asyncio.create_task(connect(addresses, Client, attempt_delay=0.01, open_socket=script))
        )
        try:
            with pytest.raises(asyncio.CancelledError):
                await caller[0]
            assert won, "the winner never connected"
            assert won[0].fileno() == -1, "the winner's socket was left open"
        finally:
            for sock in won:  # (a failure must not leave the server waiting on it)
                sock.close()
