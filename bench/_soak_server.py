"""The soak's servers, in their own process: ``python bench/_soak_server.py CERT KEY``.

Strategy
--------
Two listeners on loopback, one process (on uvloop when installed), so the
soak measures the client alone: an HTTP/1.1 server (a raw asyncio Protocol:
Content-Length and chunked request bodies, keep-alive) and an HTTP/2 server
over TLS (ALPN h2 only; the h2 library, flow control honoured). It prints
``H1PORT H2PORT`` on stdout and runs until its stdin closes.

The client decides every fault (a seeded RNG on its side, so a run replays)
and names it in the path, which the server carries out: ``/FAULT/SIZE/ID``.

- ``ok``: SIZE bytes, ``body(ID, SIZE)``;
- ``503``: a 503 with a short body (the connection stays usable);
- ``reset``: the head and half the body, then HTTP/1.1 resets the TCP
  connection (SO_LINGER 0: an RST) and HTTP/2 resets the stream
  (RST_STREAM INTERNAL_ERROR, RFC 9113 §6.4);
- ``truncate``: the head declares SIZE, half arrives, then HTTP/1.1 closes
  (FIN: RFC 9112 §6.3 makes that an incomplete message) and HTTP/2 ends the
  stream (a Content-Length mismatch, malformed by RFC 9113 §8.1.1);
- ``slow``: the response comes ``--slow`` seconds late, after the client's
  read timeout for that request.

Every response echoes ``x-id`` (the request's header) and ``x-path-id`` (the
ID in its path); a request with a body gets ``x-got`` (its length) and
``x-crc`` (its CRC-32), so the client can tell a response was for its own
request. Connections turn over as real servers make them: HTTP/1.1 closes
after ``--h1-requests`` responses (``Connection: close``, like nginx's
``keepalive_requests``), HTTP/2 sends a graceful GOAWAY after
``--h2-streams`` streams (RFC 9113 §6.8: first with 2^31-1, then the last
stream it processed, once the streams in flight are answered).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
import struct
import sys
import zlib
from typing import ClassVar

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

_CRLF = b"\r\n"


def body(request_id: int, size: int) -> bytes:
    """Return the body the server sends for request ``request_id`` (the client checks it)."""
    unit = b"%d;" % request_id
    return (unit * (size // len(unit) + 1))[:size]


def _parse_path(path: bytes) -> tuple[bytes, int, int]:
    """Return (fault, size, id) from ``/FAULT/SIZE/ID``; ``(b"", 0, 0)`` if malformed."""
    parts = path.split(b"/")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
        return b"", 0, 0
    return parts[1], int(parts[2]), int(parts[3])


class Options:
    """Server knobs (set from the command line)."""

    slow: ClassVar[float] = 2.0
    h1_requests: ClassVar[int] = 1000
    h2_streams: ClassVar[int] = 10_000


# ---------------------------------------------------------------- HTTP/1.1


class H1(asyncio.Protocol):
    """One HTTP/1.1 connection: requests in order, one at a time (no pipelining needed)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.head: tuple[bytes, bytes, dict[bytes, bytes]] | None = None
        self.remaining = -1  # Content-Length bytes still to read; -2: chunked
        self.chunk = -1  # bytes left of the current chunk (+2 for its CRLF); -1: size line
        self.trailers = False
        self.got = 0
        self.crc = 0
        self.served = 0
        self.waiting: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._process()

    def _process(self) -> None:
        buffer = self.buffer
        while self.transport is not None and self.waiting is None:
            if self.head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > 65536:
                        self.transport.abort()
                    return
                lines = bytes(buffer[:end]).split(_CRLF)
                del buffer[: end + 4]
                method, target, _ = lines[0].split(b" ", 2)
                fields = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    fields[name.strip().lower()] = value.strip()
                self.head = (method, target, fields)
                self.got = self.crc = 0
                if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
                    self.remaining, self.chunk, self.trailers = -2, -1, False
                else:
                    self.remaining = int(fields.get(b"content-length", b"0"))
            elif self.remaining >= 0:
                take = min(self.remaining, len(buffer))
                if take:
                    self._consume(bytes(buffer[:take]))
                    del buffer[:take]
                    self.remaining -= take
                if self.remaining:
                    return
                self._respond()
            elif not self._chunked(buffer):
                return

    def _chunked(self, buffer: bytearray) -> bool:
        """Read chunked body bytes; True once progress is possible, False to wait."""
        if self.trailers:  # after the last chunk: trailer lines up to an empty one
            end = buffer.find(_CRLF)
            if end < 0:
                return False
            del buffer[: end + 2]
            if end == 0:
                self.trailers = False
                self._respond()
            return True
        if self.chunk < 0:
            end = buffer.find(_CRLF)
            if end < 0:
                return False
            size = int(bytes(buffer[:end]).split(b";", 1)[0], 16)
            del buffer[: end + 2]
            if size == 0:
                self.trailers = True
            else:
                self.chunk = size + 2
            return True
        take = min(self.chunk, len(buffer))
        if not take:
            return False
        data = bytes(buffer[:take])
        del buffer[:take]
        self.chunk -= take
        if self.chunk < 2:  # part of the chunk's closing CRLF was read
            data = data[: len(data) - (2 - self.chunk)]
        if data:
            self._consume(data)
        if self.chunk == 0:
            self.chunk = -1
        return True

    def _consume(self, data: bytes) -> None:
        self.got += len(data)
        self.crc = zlib.crc32(data, self.crc)

    def _respond(self) -> None:
        assert self.head is not None
        assert self.transport is not None
        method, target, fields = self.head
        self.head = None
        self.remaining = -1
        fault, size, path_id = _parse_path(target)
        self.served += 1
        last = self.served >= Options.h1_requests or fields.get(b"connection") == b"close"
        echo = [
            b"x-id: " + fields.get(b"x-id", b"-"),
            b"x-path-id: %d" % path_id,
            b"x-got: %d" % self.got,
            b"x-crc: %d" % self.crc,
        ]
        if last:
            echo.append(b"connection: close")
        if fault == b"slow":
            self.waiting = asyncio.get_running_loop().call_later(
                Options.slow, self._late, method, size, path_id, echo, last
            )
            return
        if fault == b"503":
            self._send(b"503 Service Unavailable", b"unavailable", echo, method, last)
        elif fault in (b"ok", b"reset", b"truncate"):
            content = body(path_id, size)
            if fault == b"ok":
                self._send(b"200 OK", content, echo, method, last)
            else:
                self._write_head(b"200 OK", len(content), echo)
                self.transport.write(content[: size // 2])
                if fault == b"reset":
                    sock = self.transport.get_extra_info("socket")
                    if sock is not None:  # close with an RST, not a FIN
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    self.transport.abort()
                else:
                    self.transport.close()
        else:
            self._send(b"404 Not Found", b"unknown path", echo, method, last)

    def _late(self, method: bytes, size: int, path_id: int, echo: list[bytes], last: bool) -> None:
        self.waiting = None
        if self.transport is not None and not self.transport.is_closing():
            self._send(b"200 OK", body(path_id, size), echo, method, last)
            self._process()

    def _write_head(self, status: bytes, length: int, echo: list[bytes]) -> None:
        assert self.transport is not None
        head = [b"HTTP/1.1 " + status, b"content-length: %d" % length, *echo, b"", b""]
        self.transport.write(_CRLF.join(head))

    def _send(
        self, status: bytes, content: bytes, echo: list[bytes], method: bytes, last: bool
    ) -> None:
        assert self.transport is not None
        self._write_head(status, len(content), echo)
        if method != b"HEAD":
            self.transport.write(content)
        if last:
            self.transport.close()


# ---------------------------------------------------------------- HTTP/2

# A GOAWAY frame (RFC 9113 §6.8) announcing shutdown: last stream 2^31-1, NO_ERROR.
_GOAWAY_NOTICE = (
    struct.pack(">I", 8)[1:] + b"\x07\x00" + b"\x00" * 4 + struct.pack(">II", 2**31 - 1, 0)
)


class H2(asyncio.Protocol):
    """One HTTP/2 connection (server side)."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.heads: dict[int, dict[bytes, bytes]] = {}
        self.bodies: dict[int, tuple[int, int]] = {}  # stream -> (length, crc)
        self.pending: dict[int, tuple[memoryview, bool]] = {}  # data waiting for window
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.open = 0  # streams received and not yet answered or reset
        self.started = 0
        self.last_id = 0
        self.phase = 0  # 0 serving; 1 GOAWAY notice sent; 2 final GOAWAY sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 128,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
            },
        )
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(1 << 24)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def _flush(self) -> None:
        if self.transport is not None:
            data = self.conn.data_to_send()
            if data:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued its GOAWAY; say why, for the soak's log.
            print(f"soak server: HTTP/2 connection error: {exc!r}", file=sys.stderr, flush=True)
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                stream_id = event.stream_id or 0
                if self.phase == 2 and stream_id > self.last_id:
                    continue  # after the final GOAWAY: not processed (§6.8)
                self.heads[stream_id] = dict(event.headers or [])
                self.bodies[stream_id] = (0, 0)
                self.open += 1
                self.started += 1
                self.last_id = max(self.last_id, stream_id)
            elif isinstance(event, h2.events.DataReceived):
                stream_id = event.stream_id or 0
                chunk = event.data or b""
                if stream_id in self.bodies:
                    got, crc = self.bodies[stream_id]
                    self.bodies[stream_id] = (got + len(chunk), zlib.crc32(chunk, crc))
                self.conn.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._respond(event.stream_id or 0)
            elif isinstance(event, h2.events.StreamReset):
                self._forget(event.stream_id or 0)
            elif isinstance(event, h2.events.WindowUpdated):
                self._resume(event.stream_id or 0)
            elif isinstance(event, h2.events.ConnectionTerminated) and self.transport:
                self.transport.close()
        self._flush()

    def _forget(self, stream_id: int) -> None:
        if self.heads.pop(stream_id, None) is not None or stream_id in self.timers:
            self.open -= 1
        self.bodies.pop(stream_id, None)
        self.pending.pop(stream_id, None)
        timer = self.timers.pop(stream_id, None)
        if timer is not None:
            timer.cancel()
        self._maybe_close()

    def _respond(self, stream_id: int) -> None:
        fields = self.heads.pop(stream_id, None)
        if fields is None:
            return
        got, crc = self.bodies.pop(stream_id, (0, 0))
        fault, size, path_id = _parse_path(fields.get(b":path", b""))
        method = fields.get(b":method", b"GET")
        echo = [
            (b"x-id", fields.get(b"x-id", b"-")),
            (b"x-path-id", b"%d" % path_id),
            (b"x-got", b"%d" % got),
            (b"x-crc", b"%d" % crc),
        ]
        if fault == b"slow":
            self.heads[stream_id] = fields  # still open: a reset forgets it
            self.timers[stream_id] = asyncio.get_running_loop().call_later(
                Options.slow, self._late, stream_id, method, size, path_id, echo
            )
            return
        self.open -= 1
        try:
            if fault == b"503":
                self._send(stream_id, b"503", b"unavailable", echo, method)
            elif fault in (b"ok", b"reset", b"truncate"):
                content = body(path_id, size)
                if fault == b"ok":
                    self._send(stream_id, b"200", content, echo, method)
                else:
                    head = [(b":status", b"200"), (b"content-length", b"%d" % size), *echo]
                    self.conn.send_headers(stream_id, head)
                    half = content[: size // 2]
                    if fault == b"reset":
                        self._send_data(stream_id, half, end=False)
                        self.pending.pop(stream_id, None)
                        self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                    else:
                        self._send_data(stream_id, half, end=True)
            else:
                self._send(stream_id, b"404", b"unknown path", echo, method)
        except h2.exceptions.StreamClosedError:
            self.pending.pop(stream_id, None)
        self._maybe_close()

    def _late(
        self,
        stream_id: int,
        method: bytes,
        size: int,
        path_id: int,
        echo: list[tuple[bytes, bytes]],
    ) -> None:
        self.timers.pop(stream_id, None)
        if self.heads.pop(stream_id, None) is None or self.transport is None:
            return
        self.open -= 1
        try:
            self._send(stream_id, b"200", body(path_id, size), echo, method)
        except h2.exceptions.StreamClosedError:
            self.pending.pop(stream_id, None)
        self._flush()
        self._maybe_close()

    def _send(
        self,
        stream_id: int,
        status: bytes,
        content: bytes,
        echo: list[tuple[bytes, bytes]],
        method: bytes,
    ) -> None:
        head = [(b":status", status), (b"content-length", b"%d" % len(content)), *echo]
        if method == b"HEAD" or not content:
            self.conn.send_headers(stream_id, head, end_stream=True)
        else:
            self.conn.send_headers(stream_id, head)
            self._send_data(stream_id, content, end=True)

    def _send_data(self, stream_id: int, data: bytes, *, end: bool) -> None:
        """Send as much as the windows allow; keep the rest for WINDOW_UPDATE."""
        view = memoryview(data)
        conn = self.conn
        while view:
            room = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if room <= 0:
                self.pending[stream_id] = (view, end)
                return
            piece, view = view[:room], view[room:]
            conn.send_data(stream_id, piece.tobytes(), end_stream=end and not view)
        if end and not data:
            conn.end_stream(stream_id)

    def _resume(self, stream_id: int) -> None:
        streams = list(self.pending) if stream_id == 0 else [stream_id]
        for sid in streams:
            entry = self.pending.pop(sid, None)
            if entry is None:
                continue
            try:
                self._send_data(sid, entry[0].tobytes(), end=entry[1])
            except h2.exceptions.StreamClosedError:
                self.pending.pop(sid, None)
        self._maybe_close()

    def _maybe_close(self) -> None:
        """Turn the connection over after ``h2_streams`` streams (graceful GOAWAY)."""
        if self.transport is None:
            return
        if self.phase == 0 and self.started >= Options.h2_streams:
            self.phase = 1
            self._flush()
            self.transport.write(_GOAWAY_NOTICE)
            # One round trip later, the streams the client sent meanwhile are in.
            asyncio.get_running_loop().call_later(0.2, self._drain)
        elif self.phase == 2 and not self.open and not self.pending:
            self._flush()
            self.transport.close()

    def _drain(self) -> None:
        if self.transport is None:
            return
        self.conn.close_connection(last_stream_id=self.last_id)
        # h2 sends nothing after its own GOAWAY; the streams it covers go on.
        self.conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
        self.phase = 2
        self._flush()
        self._maybe_close()


# ---------------------------------------------------------------- main


async def serve(cert: str, key: str) -> None:
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    h1 = await loop.create_server(H1, "127.0.0.1", 0, backlog=1024)
    h2_server = await loop.create_server(H2, "127.0.0.1", 0, ssl=context, backlog=1024)
    ports = (h1.sockets[0].getsockname()[1], h2_server.sockets[0].getsockname()[1])
    print(*ports, flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # EOF: the soak is done with us
    h1.close()
    h2_server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("--slow", type=float, default=Options.slow)
    parser.add_argument("--h1-requests", type=int, default=Options.h1_requests)
    parser.add_argument("--h2-streams", type=int, default=Options.h2_streams)
    args = parser.parse_args()
    Options.slow, Options.h1_requests = args.slow, args.h1_requests
    Options.h2_streams = args.h2_streams
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.cert, args.key))
    else:
        uvloop.run(serve(args.cert, args.key))


if __name__ == "__main__":
    main()
