"""A hostile HTTP/2 server: raw frames, written by a script, over loopback.

Strategy
--------
The h2 library refuses to *send* most of what a hostile peer does (floods of
control frames, frames on the wrong streams, oversized or malformed header
blocks, windows overflowing), so this peer speaks HTTP/2 at the frame level
(RFC 9113 §4.1): :func:`frame` builds any frame, :func:`block` an HPACK
header block (``hpack``'s encoder, for the well-formed parts), and a
per-connection script decides what goes on the wire.

- Each accepted connection gets a :class:`HostilePeer`. It reads the client
  preface and SETTINGS, sends the server's own SETTINGS (or raw bytes in
  their place) and a SETTINGS ACK, then runs the script for its connection
  number: ``scripts[index]``, and :meth:`HostilePeer.serve` (a well-behaved
  server) for connections past the list, so the test can check that the
  same client still works against a well-behaved peer afterwards.
- A reader task parses what the client sends: requests (HEADERS with
  END_STREAM, CONTINUATION followed) are queued for the script, and the
  frames the tests look at are counted (PING and SETTINGS ACKs, RST_STREAM,
  GOAWAY). Reading can be paused (:meth:`HostilePeer.stop_reading`) to
  play a peer that never reads what the client answers.
- Writes wait for the transport (``drain``), so the server itself never
  buffers more than asyncio's high-water mark: memory measured in the test
  is the client's. Floods are written in batches and stop early when the
  client closes the connection; every loop is bounded in count and time.
- Optionally TLS (a trustme certificate, ALPN ``h2``) instead of h2c prior
  knowledge.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import hpack

if TYPE_CHECKING:
    import ssl

__all__ = [
    "ACK",
    "CONTINUATION",
    "DATA",
    "END_HEADERS",
    "END_STREAM",
    "GOAWAY",
    "HEADERS",
    "PADDED",
    "PING",
    "PREFACE",
    "PRIORITY",
    "PUSH_PROMISE",
    "RST_STREAM",
    "SETTINGS",
    "WINDOW_UPDATE",
    "HostilePeer",
    "HostileServer",
    "Request",
    "Script",
    "block",
    "frame",
    "frame_head",
    "response_frames",
    "settings",
]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
WRITE_BATCH = 64 * 1024  # bytes per write of a flood, then wait for the transport

_HEAD = struct.Struct(">IBI")


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """Build one frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 §4.1)."""
    return _HEAD.pack((len(payload) << 8) | kind, flags, stream_id) + payload


def frame_head(kind: int, flags: int, stream_id: int, length: int) -> bytes:
    """Return the 9-byte header of a frame whose payload is written separately."""
    return _HEAD.pack((length << 8) | kind, flags, stream_id)


def settings(values: dict[int, int]) -> bytes:
    """Build a SETTINGS frame (RFC 9113 §6.5) with ``values`` in the given order."""
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in values.items()))


def block(fields: list[tuple[bytes, bytes]]) -> bytes:
    """Encode ``fields`` as an HPACK header block (a fresh encoder: no dynamic table)."""
    return hpack.Encoder().encode(fields)


def response_frames(stream_id: int, status: int = 200, body: bytes = b"ok") -> bytes:
    """Build a complete, well-formed response: HEADERS, then one DATA with END_STREAM."""
    fields = [(b":status", b"%d" % status), (b"content-length", b"%d" % len(body))]
    head = frame(HEADERS, END_HEADERS | (0 if body else END_STREAM), stream_id, block(fields))
    return head + (frame(DATA, END_STREAM, stream_id, body) if body else b"")


Script = Callable[["HostilePeer"], Awaitable[None]]


@dataclass
class Request:
    """A request as the peer read it: its stream and decoded fields."""

    stream_id: int
    headers: dict[bytes, bytes]

    @property
    def path(self) -> str:
        return self.headers.get(b":path", b"").decode()


class HostilePeer:
    """The server side of one connection (see the module docstring)."""

    def __init__(
        self,
        server: HostileServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        self.requests: asyncio.Queue[Request] = asyncio.Queue()
        self.seen: Counter[str] = Counter()  # frames from the client, by kind
        self.client_settings: dict[int, int] = {}
        self.resets: list[tuple[int, int]] = []  # (stream, code) of RST_STREAM
        self.goaway: tuple[int, int] | None = None  # (last stream, code) of the client's GOAWAY
        self.eof = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._decoder = hpack.Decoder()
        self._block: list[bytes] = []  # a request header block being continued
        self._block_stream = 0
        self._block_end = False
        #: Answer every DATA frame of the client with WINDOW_UPDATEs for its
        #: stream and the connection (a legitimate, if chatty, server).
        self.window_per_data = False

    # ------------------------------------------------------------ writing

    @property
    def closed(self) -> bool:
        return self.writer.is_closing() or self.eof.is_set()

    async def send(self, data: bytes) -> bool:
        """Write ``data`` and wait for the transport; False once the client is gone."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def flood(self, unit: bytes, count: int, *, seconds: float = 10.0) -> int:
        """Write ``unit`` ``count`` times in batches; return how many went out.

        Stops early when the client closes the connection, or after ``seconds``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        per_batch = max(1, WRITE_BATCH // max(1, len(unit)))
        batch = unit * per_batch
        sent = 0
        while sent < count and loop.time() < deadline:
            n = min(per_batch, count - sent)
            if not await self.send(batch if n == per_batch else unit * n):
                break
            sent += n
        return sent

    async def stream_payload(self, head: bytes, size: int, filler: bytes = b"\x00") -> int:
        """Write ``head`` and then ``size`` bytes of ``filler`` in batches; return bytes sent."""
        if not await self.send(head):
            return 0
        chunk = filler * (WRITE_BATCH // len(filler))
        sent = 0
        while sent < size:
            piece = chunk[: size - sent]
            if not await self.send(piece):
                break
            sent += len(piece)
        return sent

    async def respond(self, stream_id: int, status: int = 200, body: bytes = b"ok") -> bool:
        """Send a well-formed response."""
        return await self.send(response_frames(stream_id, status, body))

    async def serve(self) -> None:
        """Behave: answer every request with 200 and its path, until the client leaves."""
        while True:
            request = await self.next_request(timeout=None)
            if request is None:
                return
            await self.respond(request.stream_id, body=b"well-behaved " + request.path.encode())

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()

    # ------------------------------------------------------------ reading

    async def next_request(self, timeout: float | None = 10.0) -> Request | None:
        """Return the next complete request, or None once the client closed the connection."""
        get = asyncio.ensure_future(self.requests.get())
        eof = asyncio.ensure_future(self.eof.wait())
        try:
            await asyncio.wait({get, eof}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            eof.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return None

    async def next_streams(self, count: int) -> list[int]:
        """Wait for the next ``count`` requests; return their stream ids (each must come)."""
        streams = []
        for _ in range(count):
            request = await self.next_request()
            assert request is not None, "no request came"
            streams.append(request.stream_id)
        return streams

    def stop_reading(self) -> None:
        """Stop reading from the client (what it sends piles up in the socket)."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 5.0) -> bool:
        """Wait (bounded) until ``condition()`` holds; return whether it does."""
        for _ in range(int(seconds / 0.01)):
            if condition():
                return True
            await asyncio.sleep(0.01)
        return condition()

    def was_reset(self, stream_id: int) -> bool:
        """Tell whether the client sent RST_STREAM for ``stream_id``."""
        return any(stream == stream_id for stream, _ in self.resets)

    async def _read_frame(self) -> tuple[int, int, int, bytes]:
        head = await self.reader.readexactly(9)
        word, flags, stream_id = _HEAD.unpack(head)
        payload = await self.reader.readexactly(word >> 8)
        return word & 0xFF, flags, stream_id & 0x7FFFFFFF, payload

    async def handshake(self) -> None:
        """Read the client preface and SETTINGS; send ours (RFC 9113 §3.4)."""
        preface = await self.reader.readexactly(len(PREFACE))
        if preface != PREFACE:
            raise ConnectionError(f"not an HTTP/2 preface: {preface!r}")
        kind, _, _, payload = await self._read_frame()
        if kind != SETTINGS:
            raise ConnectionError(f"the client's first frame is of type {kind}")
        for at in range(0, len(payload) - 5, 6):
            key, value = struct.unpack_from(">HI", payload, at)
            self.client_settings[key] = value
        preface_out = self.server.preface if self.index == 0 else None
        if preface_out is None:
            preface_out = settings(self.server.settings)
        await self.send(preface_out + frame(SETTINGS, ACK, 0))

    async def read_loop(self) -> None:
        """Parse the client's frames until it leaves (pausable)."""
        try:
            while True:
                await self._reading.wait()
                kind, flags, stream_id, payload = await self._read_frame()
                self._on_frame(kind, flags, stream_id, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.eof.set()

    def _on_frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == PING:
            self.seen["ping ack" if flags & ACK else "ping"] += 1
        elif kind == SETTINGS:
            self.seen["settings ack" if flags & ACK else "settings"] += 1
        elif kind == RST_STREAM:
            self.seen["rst_stream"] += 1
            self.resets.append((stream_id, int.from_bytes(payload[:4], "big")))
        elif kind == GOAWAY:
            self.seen["goaway"] += 1
            self.goaway = (
                int.from_bytes(payload[:4], "big") & 0x7FFFFFFF,
                int.from_bytes(payload[4:8], "big"),
            )
        elif kind == WINDOW_UPDATE:
            self.seen["window_update"] += 1
        elif kind == DATA:
            self.seen["data"] += 1
            if self.window_per_data and payload and not self.writer.is_closing():
                increment = struct.pack(">I", len(payload))
                self.writer.write(
                    frame(WINDOW_UPDATE, 0, stream_id, increment)
                    + frame(WINDOW_UPDATE, 0, 0, increment)
                )
            if flags & END_STREAM:
                self._request_ended(stream_id)
        elif kind == HEADERS:
            self.seen["headers"] += 1
            self._block = [self._header_payload(flags, payload)]
            self._block_stream = stream_id
            self._block_end = bool(flags & END_STREAM)
            if flags & END_HEADERS:
                self._headers_done()
        elif kind == CONTINUATION and self._block:
            self._block.append(payload)
            if flags & END_HEADERS:
                self._headers_done()

    @staticmethod
    def _header_payload(flags: int, payload: bytes) -> bytes:
        if flags & PADDED:
            payload = payload[1 : len(payload) - payload[0]]
        if flags & 0x20:  # PRIORITY
            payload = payload[5:]
        return payload

    def _headers_done(self) -> None:
        fields = self._decoder.decode(b"".join(self._block), raw=True)
        self._block = []
        stream_id = self._block_stream
        self.server.pending[(self.index, stream_id)] = {bytes(k): bytes(v) for k, v in fields}
        if self._block_end:
            self._request_ended(stream_id)

    def _request_ended(self, stream_id: int) -> None:
        headers = self.server.pending.pop((self.index, stream_id), None)
        if headers is not None:
            request = Request(stream_id, headers)
            self.server.requests.append(request)
            self.requests.put_nowait(request)


@dataclass
class HostileServer:
    """The listening side: scripts per connection, settings, what it saw."""

    scripts: list[Script]
    settings: dict[int, int] = field(default_factory=dict)
    #: Raw bytes sent in place of the server's SETTINGS frame on the first
    #: connection (None: ``settings``); later connections send ``settings``.
    preface: bytes | None = None
    ssl_context: ssl.SSLContext | None = None
    #: SO_RCVBUF of the server's sockets: small, the kernel holds little of
    #: what the client sends while the peer does not read.
    receive_buffer: int | None = None
    url: str = ""
    peers: list[HostilePeer] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    pending: dict[tuple[int, int], dict[bytes, bytes]] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    #: The test's own state, for its scripts (the client under test, say).
    context: dict[str, object] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> HostileServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.receive_buffer is not None:  # inherited by accepted sockets
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        sock.bind(("127.0.0.1", 0))
        # A small stream limit: a paused peer holds at most 32 KiB unread.
        self._server = await asyncio.start_server(
            self._handle, sock=sock, ssl=self.ssl_context, limit=16 * 1024
        )
        port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = HostilePeer(self, len(self.peers), reader, writer)
        self.peers.append(peer)
        reading: asyncio.Task[None] | None = None
        try:
            await peer.handshake()
            reading = asyncio.ensure_future(peer.read_loop())
            script = self.scripts[peer.index] if peer.index < len(self.scripts) else None
            await (script(peer) if script is not None else peer.serve())
            # The script is done: keep the connection until the client leaves.
            await peer.eof.wait()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken script must fail its test, not hide
            self.errors.append(exc)
        finally:
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
            peer.abort()
            self._tasks.discard(task)

    async def stop(self) -> None:
        """Close the listener and every connection; wait for the per-connection tasks."""
        if self._server is not None:
            self._server.close()
        for peer in self.peers:
            peer.abort()  # each connection's task ends on its own (EOF)
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)
