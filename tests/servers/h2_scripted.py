"""A scripted HTTP/2 server (h2 library, cleartext, in the test's loop).

For what real servers rarely do on demand: GOAWAY mid-flight, REFUSED_STREAM,
tiny windows, one stream at a time, malformed headers, an abrupt close. The
test gives a handler called with each complete request; the handler answers
through the connection's helpers (or misbehaves on purpose).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings


@dataclass
class ScriptedRequest:
    """One request as the server saw it."""

    conn: ServerConnection
    stream_id: int
    headers: dict[bytes, bytes]
    body: bytes


Handler = Callable[[ScriptedRequest], Awaitable[None] | None]


class ServerConnection(asyncio.Protocol):
    """The server side of one connection."""

    def __init__(self, server: ScriptedH2Server) -> None:
        self.server = server
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values=server.settings)
        self.transport: asyncio.Transport | None = None
        self.bodies: dict[int, list[bytes]] = {}
        self.heads: dict[int, dict[bytes, bytes]] = {}
        self.index = len(server.connections)
        self.open_streams = 0
        self.peak_streams = 0
        self.resets: list[tuple[int, int]] = []  # (stream, error code) the client sent
        self.ping_acks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.append(self)
        self.h2.initiate_connection()
        self.flush()

    def flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.heads[event.stream_id] = dict(event.headers or [])
                self.bodies[event.stream_id] = []
                self.open_streams += 1
                self.peak_streams = max(self.peak_streams, self.open_streams)
                if self.server.on_head is not None:  # before the body: may answer early
                    stream_id = event.stream_id or 0
                    head = self.heads[stream_id]
                    self.server.on_head(ScriptedRequest(self, stream_id, head, b""))
            elif isinstance(event, h2.events.DataReceived):
                self.bodies[event.stream_id].append(event.data or b"")
                if self.server.acknowledge:
                    self.h2.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id or 0
                    )
            elif isinstance(event, h2.events.StreamReset):
                self.open_streams -= 1
                self.resets.append((event.stream_id or 0, int(event.error_code or 0)))
            elif isinstance(event, h2.events.PingAckReceived):
                self.ping_acks.append(event.ping_data or b"")
            if isinstance(event, h2.events.StreamEnded):  # the request is complete
                stream_id = event.stream_id or 0
                request = ScriptedRequest(
                    self, stream_id, self.heads[stream_id], b"".join(self.bodies[stream_id])
                )
                self.server.requests.append(request)
                result = self.server.handler(request)
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self.server.tasks.add(task)
                    task.add_done_callback(self.server.tasks.discard)
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # ------------------------------------------------------------ helpers for handlers

    def respond(self, stream_id: int, status: int = 200, body: bytes = b"ok") -> None:
        headers = [(b":status", str(status).encode()), (b"content-length", b"%d" % len(body))]
        self.h2.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.h2.send_data(stream_id, body, end_stream=True)
        self.open_streams -= 1
        self.flush()

    def goaway(self, last_stream_id: int) -> None:
        self.h2.close_connection(last_stream_id=last_stream_id)
        # h2 refuses to send after its own GOAWAY; the streams it covers may go on.
        self.h2.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
        self.flush()

    def refuse(self, stream_id: int) -> None:
        self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
        self.open_streams -= 1
        self.flush()

    # Raw frames, for what h2 would refuse to send. Header blocks come from
    # the connection's own encoder, so its HPACK state stays in step.

    def write(self, data: bytes) -> None:
        """Write bytes as they are (after anything h2 has pending)."""
        self.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    @staticmethod
    def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
        """One frame: 9-byte header (RFC 9113 §4.1) and payload."""
        head = len(payload).to_bytes(3, "big") + bytes((kind, flags))
        return head + stream_id.to_bytes(4, "big") + payload

    def headers_frame(
        self,
        stream_id: int,
        fields: list[tuple[bytes, bytes]],
        *,
        end_stream: bool = False,
        end_headers: bool = True,
    ) -> bytes:
        """Make a HEADERS frame of ``fields``, HPACK-encoded by this connection's encoder."""
        block = self.h2.encoder.encode(fields)
        flags = (0x1 if end_stream else 0) | (0x4 if end_headers else 0)
        return self.frame(0x1, flags, stream_id, block)

    def data_frame(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> bytes:
        """Make a DATA frame (the server's flow-control accounting is not updated)."""
        return self.frame(0x0, 0x1 if end_stream else 0, stream_id, data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


@dataclass
class ScriptedH2Server:
    """The listening side: its URL, what it saw, and how it answers."""

    handler: Handler
    settings: dict[h2.settings.SettingCodes, int] = field(default_factory=dict)
    acknowledge: bool = True
    on_head: Callable[[ScriptedRequest], None] | None = None  # called as a request's head arrives
    url: str = ""
    requests: list[ScriptedRequest] = field(default_factory=list)
    connections: list[ServerConnection] = field(default_factory=list)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    server: asyncio.Server | None = None

    async def start(self) -> ScriptedH2Server:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: ServerConnection(self), "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for connection in self.connections:
            connection.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await asyncio.sleep(0)
