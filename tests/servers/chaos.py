"""A chaos proxy: an asyncio TCP relay that breaks connections on purpose, replayably.

Strategy
--------
The proxy sits between a client and a real server and relays bytes both
ways. Each accepted connection gets a *plan* drawn from its own
``random.Random(f"{seed}:{index}")`` (``index`` counts accepted connections
from 0): zero or more :class:`Fault` s, each striking when the byte count in
one direction (``up``: client to server, ``down``: server to client) reaches
its offset. Offsets are counted over the whole connection, so a fault lands
mid-head, mid-body, mid-upload or between requests of a kept-alive
connection, and for TLS mid-record (the proxy cuts bytes, it does not parse
them). Faults:

- ``latency``: from the offset on, every relayed piece waits ``seconds``;
- ``bandwidth``: from the offset on, at most ``rate`` bytes a second;
- ``stall``: stop relaying for ``seconds`` (longer than the client's
  timeouts), then ``then``: ``resume``, ``reset`` or ``close``;
- ``reset``: both sockets closed with ``SO_LINGER`` 0 (a TCP RST each way);
- ``half_close``: a FIN towards the receiver of that direction, which
  relays nothing more (the other direction carries on);
- ``truncate``: both sides closed cleanly (FIN), the rest dropped.

The same seed gives the same plan to the n-th connection. Which request
rides the n-th connection depends on scheduling, so a replay under
concurrency is faithful per connection, not per request.

:meth:`ChaosProxy.calm` turns chaos off: pending faults are skipped, stalls
in progress end, and shaping stops, so the client's pool can be shown to
recover. :meth:`ChaosProxy.aclose` cancels every relay and closes every
socket it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ChaosProxy", "Fault", "Profile", "RequestFraming", "plan_connection"]

Direction = Literal["up", "down"]
Kind = Literal["latency", "bandwidth", "stall", "reset", "half_close", "truncate"]
After = Literal["resume", "reset", "close"]

_READ = 65536


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` strikes when ``at`` bytes went ``direction`` on the connection."""

    kind: Kind
    direction: Direction
    at: int
    seconds: float = 0.0  # latency per piece, or the stall's length
    rate: int = 0  # bandwidth, bytes per second
    then: After = "resume"  # what follows a stall

    def __str__(self) -> str:
        extra = ""
        if self.kind == "latency":
            extra = f" {self.seconds * 1000:.0f}ms"
        elif self.kind == "bandwidth":
            extra = f" {self.rate // 1024}KiB/s"
        elif self.kind == "stall":
            extra = f" {self.seconds:.2f}s then {self.then}"
        return f"{self.kind}@{self.direction}:{self.at}{extra}"


@dataclass(frozen=True)
class Profile:
    """How likely each fault is, per connection, and their sizes.

    ``stall_seconds`` should lie past the client's timeouts: a stall then
    ends the request with a timeout, not a slow success.
    """

    clean: float = 0.35  # share of connections with no fault at all
    weights: tuple[tuple[Kind, float], ...] = (
        ("latency", 2.0),
        ("bandwidth", 1.5),
        ("stall", 1.5),
        ("reset", 2.0),
        ("half_close", 1.5),
        ("truncate", 1.5),
    )
    max_faults: int = 2
    latency: tuple[float, float] = (0.001, 0.03)
    rate: tuple[int, int] = (256 * 1024, 8 * 1024 * 1024)
    stall_seconds: tuple[float, float] = (1.2, 2.0)
    # Where faults strike: (upper bound of the offset, weight). Small offsets
    # cut request and response heads (and TLS handshakes); larger ones cut
    # bodies and later requests on the same connection.
    offsets: tuple[tuple[int, float], ...] = (
        (400, 3.0),
        (4096, 2.0),
        (64 * 1024, 2.0),
        (1536 * 1024, 2.0),
        (6 * 1024 * 1024, 1.0),
    )


def plan_connection(seed: int | str, index: int, profile: Profile) -> tuple[Fault, ...]:
    """Return the faults of connection ``index`` under ``seed`` (the same every time)."""
    rng = random.Random(f"{seed}:{index}")
    if rng.random() < profile.clean:
        return ()
    kinds = [kind for kind, _ in profile.weights]
    weights = [weight for _, weight in profile.weights]
    bounds = [bound for bound, _ in profile.offsets]
    bound_weights = [weight for _, weight in profile.offsets]
    faults = []
    for _ in range(rng.randint(1, profile.max_faults)):
        kind = rng.choices(kinds, weights)[0]
        direction: Direction = "up" if rng.random() < 0.5 else "down"
        at = rng.randrange(rng.choices(bounds, bound_weights)[0])
        if kind in ("latency", "bandwidth") and rng.random() < 0.5:
            at = 0  # shaping often covers the whole connection
        faults.append(
            Fault(
                kind,
                direction,
                at,
                seconds=(
                    rng.uniform(*profile.latency)
                    if kind == "latency"
                    else rng.uniform(*profile.stall_seconds)
                    if kind == "stall"
                    else 0.0
                ),
                rate=rng.randint(*profile.rate) if kind == "bandwidth" else 0,
                then=rng.choice(("resume", "reset", "close")) if kind == "stall" else "resume",
            )
        )
    return tuple(sorted(faults, key=lambda f: f.at))


class RequestFraming:
    """Check that the bytes a client sends are whole HTTP/1.1 requests, one after another.

    Fed the client-to-server bytes of a cleartext connection *before* any
    fault cuts them, it follows each request's framing (RFC 9112 §6:
    Content-Length or chunked). A client that starts a new request on a
    connection whose previous request body was left unfinished is caught
    here as the next request line turning up where body framing was
    expected: the desync a server would suffer.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.state = "head"
        self.remaining = 0
        self.requests = 0
        self.error: str | None = None

    def feed(self, data: bytes) -> str | None:
        """Take the next bytes; return the framing error, once one is found."""
        if self.error is not None:
            return self.error
        self.buffer += data
        while self.error is None and self._step():
            pass
        return self.error

    def _fail(self, message: str) -> bool:
        self.error = f"after {self.requests} whole requests: {message}"
        return False

    def _step(self) -> bool:
        """Consume one framing element; return whether to go on."""
        buffer = self.buffer
        if self.state == "head":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return len(buffer) > 65536 and self._fail("a request head over 64 KiB")
            lines = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            if not re.fullmatch(rb"[A-Z]+ \S+ HTTP/1\.1", lines[0]):
                return self._fail(f"not a request line: {lines[0][:80]!r}")
            self.state, self.remaining = "head", 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"transfer-encoding" and b"chunked" in value.lower():
                    self.state = "size"
                elif name == b"content-length":
                    self.state, self.remaining = "body", int(value)
            if self.state == "body" and not self.remaining:
                self.state = "head"
            if self.state == "head":
                self.requests += 1
            return True
        if self.state in ("body", "data"):
            take = min(self.remaining, len(buffer))
            if not take:
                return False
            del buffer[:take]
            self.remaining -= take
            if self.remaining:
                return False
            if self.state == "body":
                self.requests += 1
                self.state = "head"
            else:
                self.state = "crlf"
            return True
        if len(buffer) < 2 and self.state == "crlf":
            return False
        if self.state == "crlf":
            if buffer[:2] != b"\r\n":
                return self._fail(f"no CRLF after chunk data: {bytes(buffer[:40])!r}")
            del buffer[:2]
            self.state = "size"
            return True
        end = buffer.find(b"\r\n")
        if end < 0:
            return len(buffer) > 1024 and self._fail("a chunk line over 1 KiB")
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        if self.state == "trailer":
            if not line:
                self.requests += 1
                self.state = "head"
            return True
        size = line.split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size):
            return self._fail(f"a chunk size was due, got {line[:80]!r}")
        self.remaining = int(size, 16)
        self.state = "data" if self.remaining else "trailer"
        return True


class _Reset(Exception):
    """A fault ended the whole connection."""


class _Closed(Exception):
    """The receiving side is closed already (a truncation): stop relaying quietly."""


@dataclass(eq=False)
class _Link:
    """One relayed connection: its two sockets' writers, its plan and its shaping."""

    index: int
    faults: dict[Direction, list[Fault]]
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    framing: RequestFraming | None = None
    latency: dict[Direction, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    rate: dict[Direction, int] = field(default_factory=lambda: {"up": 0, "down": 0})

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]


def _linger_zero(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ChaosProxy:
    """Relay ``127.0.0.1:<port>`` to ``upstream``, breaking connections as planned.

    ``plan`` replaces the seeded plans (a test of one fault gives it to every
    connection). With ``check_http1`` (cleartext HTTP/1.1 only) each connection's
    client-to-server bytes go through :class:`RequestFraming`; what it
    finds is listed in ``framing_errors``.

    Attributes:
        port: where the proxy listens.
        struck: how many faults fired, by ``kind@direction``.
        plans: each connection's plan, by index (for the failure report).

    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        seed: int | str,
        profile: Profile | None = None,
        check_http1: bool = False,
        plan: Callable[[int], tuple[Fault, ...]] | None = None,
    ) -> None:
        self.upstream = upstream
        self._plan = plan or (lambda index: plan_connection(seed, index, self.profile))
        self.check_http1 = check_http1
        self.framing_errors: list[str] = []
        self.seed = seed
        self.profile = profile or Profile()
        self.enabled = True
        self.port = 0
        self.connections = 0
        self.struck: Counter[str] = Counter()
        self.plans: dict[int, tuple[Fault, ...]] = {}
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._calm: asyncio.Event | None = None

    async def start(self) -> ChaosProxy:
        self._calm = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def open_links(self) -> int:
        """Connections the proxy still relays."""
        return len(self._links)

    def calm(self) -> None:
        """Chaos off: skip pending faults, end stalls in progress, stop shaping."""
        self.enabled = False
        if self._calm is not None:
            self._calm.set()

    async def aclose(self) -> None:
        """Stop listening, cancel every relay, close every socket."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            for writer in link.writers():
                writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # ------------------------------------------------------------ relaying

    def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The relay runs in a task of ours (asyncio's own callback task would
        # log our cancellations at close as errors).
        task = asyncio.ensure_future(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        plan = self._plan(index) if self.enabled else ()
        self.plans[index] = plan
        link = _Link(index, {"up": [], "down": []}, writer)
        if self.check_http1:
            link.framing = RequestFraming()
        for fault in plan:
            link.faults[fault.direction].append(fault)
        self._links.add(link)
        try:
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self.upstream)
            except OSError:
                writer.transport.abort()
                return
            pumps = [
                asyncio.ensure_future(self._pump(link, "up", reader, link.upstream)),
                asyncio.ensure_future(self._pump(link, "down", up_reader, writer)),
            ]
            try:
                done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
                if any(not t.cancelled() and t.exception() is not None for t in done):
                    self._reset(link)  # a reset, or a peer that reset: end both sides
                await asyncio.gather(*pumps, return_exceptions=True)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for w in link.writers():
                w.close()
            self._links.discard(link)

    def _reset(self, link: _Link) -> None:
        for writer in link.writers():
            _linger_zero(writer)
            writer.transport.abort()

    async def _pump(
        self,
        link: _Link,
        direction: Direction,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
    ) -> None:
        """Relay one direction; apply its faults at their offsets."""
        pending = link.faults[direction]
        offset = 0
        data = b""
        while True:
            while pending and pending[0].at <= offset:
                fault = pending.pop(0)
                if self.enabled and not await self._strike(link, direction, fault, sink):
                    return
            if not data:
                data = await source.read(_READ)
                framing = link.framing
                if direction == "up" and framing is not None and framing.error is None:
                    error = framing.feed(data)
                    if error is not None:
                        plan = " ".join(map(str, self.plans[link.index])) or "no faults"
                        self.framing_errors.append(f"connection {link.index} ({plan}): {error}")
                if not data:
                    if sink.can_write_eof() and not sink.transport.is_closing():
                        with contextlib.suppress(OSError, RuntimeError):
                            sink.write_eof()
                    return
            piece = data
            if pending and pending[0].at < offset + len(data):
                piece = data[: pending[0].at - offset]
            data = data[len(piece) :]
            try:
                await self._send(link, direction, sink, piece)
            except _Closed:
                return
            offset += len(piece)

    async def _strike(
        self, link: _Link, direction: Direction, fault: Fault, sink: asyncio.StreamWriter
    ) -> bool:
        """Apply ``fault``; return whether this direction keeps relaying."""
        self.struck[f"{fault.kind}@{direction}"] += 1
        kind = fault.kind
        if kind == "latency":
            link.latency[direction] = fault.seconds
            return True
        if kind == "bandwidth":
            link.rate[direction] = fault.rate
            return True
        if kind == "stall":
            await self._sleep(fault.seconds)
            if not self.enabled or fault.then == "resume":
                return True
            kind = "reset" if fault.then == "reset" else "truncate"
        if kind == "reset":
            raise _Reset(str(fault))
        if kind == "half_close":
            if sink.can_write_eof() and not sink.transport.is_closing():
                with contextlib.suppress(OSError, RuntimeError):
                    sink.write_eof()
            return False
        # truncate: a clean close of both sides
        for writer in link.writers():
            writer.close()
        return False

    async def _send(
        self, link: _Link, direction: Direction, sink: asyncio.StreamWriter, piece: bytes
    ) -> None:
        if not piece:
            return
        if sink.transport.is_closing():
            raise _Closed
        rate = link.rate[direction] if self.enabled else 0
        latency = link.latency[direction] if self.enabled else 0.0
        if latency:
            await self._sleep(latency)
        if not rate:
            sink.write(piece)
            await sink.drain()
            return
        step = max(1024, rate // 20)  # 20 slices a second at most
        view = memoryview(piece)
        for start in range(0, len(piece), step):
            part = view[start : start + step]
            sink.write(bytes(part))
            await sink.drain()
            if self.enabled:
                await self._sleep(len(part) / rate)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early when the proxy calms down."""
        calm = self._calm
        assert calm is not None
        if calm.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await calm.wait()
