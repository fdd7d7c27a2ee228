"""One HTTP/2 request/response: its body buffer, flow-control credit and refusal.

Strategy
--------
A stream's body arrives as chunks the connection takes from its read
buffer; a body read whole acknowledges its data as it arrives, a streamed
one as the consumer takes it (backpressure per stream). ``StreamRefused``
marks what the server did not process, which the client may replay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperhttp._conn import BodyBuffer
from hyperhttp._exceptions import RemoteProtocolError

from .flow import ReceiveWindow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hyperhttp._config import Timeout
    from hyperhttp._models import Request

    from .connection import HTTP2Connection

__all__ = ["H2Stream", "StreamRefused"]


class StreamRefused(RemoteProtocolError):
    """The server did not process the stream (GOAWAY above it, REFUSED_STREAM): replayable.

    ``progress``: the connection got somewhere meanwhile (GOAWAY admitted
    streams, or a response came after this stream was opened), so a replay
    on another connection is worth it however often it happens; refusals
    without progress are replayed a few times only (RFC 9113 §8.7).
    """

    def __init__(self, message: str, *, progress: bool = False) -> None:
        super().__init__(message)
        self.progress = progress


def _own(
    error: RemoteProtocolError, kind: type[RemoteProtocolError] | None = None
) -> RemoteProtocolError:
    """Return a new exception of ``kind`` (default: ``error``'s) with its message and cause."""
    own = (kind or type(error))(str(error))
    own.__cause__ = error.__cause__
    return own


class _Head:
    """The response head of a stream, shaped like the HTTP/1.1 parser's."""

    __slots__ = ("headers", "reason", "status_code")

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.headers = headers
        self.reason = None  # HTTP/2 has no reason phrase


class H2Stream(BodyBuffer):
    """One request/response on an HTTP/2 connection."""

    __slots__ = (
        "conn",
        "expected",
        "head_only",
        "heads_before",
        "lent",
        "received_frames",
        "sent_end",
        "stream_id",
        "unacked",
        "window",
    )

    def __init__(
        self, conn: HTTP2Connection, stream_id: int, read_timeout: float | None, limit: int | None
    ) -> None:
        super().__init__(conn.loop, read_timeout, limit)
        self.conn = conn
        self.stream_id = stream_id
        self.received_frames = 0
        self.unacked = 0  # flow-controlled bytes received and not yet handed back
        self.sent_end = False  # our side of the stream is closed (request fully sent)
        self.window = ReceiveWindow(conn.stream_window)  # the stream's level (see flow)
        self.expected: int | None = None  # the declared Content-Length
        self.head_only = False  # a HEAD request: no body whatever the length says
        self.heads_before = conn.heads  # responses the connection had when this one opened
        self.lent: list[bytearray] | None = None  # read buffers its chunks are views of

    async def send_rest(self, request: Request, timeouts: Timeout) -> None:
        """Send what of the request's body did not go with its fields (see ``body_left``)."""
        await self.conn.send_rest(self, request, timeouts)

    def fail(self, error: BaseException) -> None:
        super().fail(error)
        self.conn._wake_uploads()  # an upload waiting for window stops waiting

    async def read_all(self) -> bytes:
        """Return the rest of the body; data is acknowledged as it arrives."""
        self.whole = True
        if self.unacked:
            self.conn.acknowledge(self, self.unacked)
        body = await self._wait_done()
        lent = self.lent
        if lent is not None:  # joined: its views are gone, the buffers may be read into again
            self.lent = None
            for buffer in lent:
                self.conn.give_back(buffer)
        return body

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, handing window back as it is taken; once."""
        self.check_unread()
        chunks = self.chunks
        conn = self.conn
        while True:
            while chunks:
                data = chunks.popleft()
                self.buffered -= len(data)
                if self.unacked:
                    conn.acknowledge(self, min(self.unacked, len(data)) if chunks else self.unacked)
                yield data if type(data) is bytes else bytes(data)
            if self.done:
                return
            if self.error is not None:
                raise self.error
            await self._wait()
