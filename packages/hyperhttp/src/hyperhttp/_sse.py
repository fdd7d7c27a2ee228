"""Server-Sent Events: the event-stream format, sans-IO, and the reconnecting client shell.

Strategy
--------
:class:`SSEDecoder` is the WHATWG HTML "interpreting an event stream"
algorithm (§9.2.6) over bytes, with no I/O: lines end at CR, LF or CRLF
(a CR at the end of one chunk and an LF at the start of the next are one
line end), a leading BOM is dropped, ``:`` starts a comment, and a blank
line dispatches the event being built. ``id`` (without NUL) sets the last
event ID when its block ends, even if no event is dispatched, ``retry`` (ASCII digits only)
the reconnection delay, at most five minutes; unknown fields are ignored. Text is UTF-8, bad
bytes replaced. What a server can make us hold is bounded: a line, and the
data of one event, at most ``max_event_size`` bytes (``SSEError`` past it).

:meth:`Response.aiter_sse` decodes one response; :class:`EventSource`
(``client.sse(url)``) is the reconnecting stream of the spec's
``EventSource``: it asks with ``Accept: text/event-stream``, and when the
stream ends or the connection fails it waits the server's ``retry`` delay
and asks again with ``Last-Event-ID``. A 204 ends it; any other status but
200, or a response that is not ``text/event-stream``, fails it
(``SSEError``), as the spec fails the connection.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from ._exceptions import DecodingError, LocalProtocolError, TransportError
from ._headers import Headers
from ._jsonlib import loads

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ._client import Client
    from ._models import Response
    from ._urls import URL

__all__ = ["DEFAULT_MAX_EVENT", "EventSource", "SSEDecoder", "SSEError", "ServerSentEvent"]

#: The largest line, and the largest data of one event, a decoder holds.
DEFAULT_MAX_EVENT = 8 * 1024 * 1024
#: The reconnection delay until the server sends ``retry`` (seconds).
DEFAULT_RETRY = 3.0
#: The longest reconnection delay a server's ``retry`` can set (milliseconds).
MAX_RETRY_MS = 300_000
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SSEError(DecodingError):
    """The response is not an event stream, or one of its events is too large."""


class ServerSentEvent:
    """One event: its type (``event``, "message" by default), ``data``, ``id`` and ``retry``.

    ``id`` is the stream's last event ID when the event was dispatched (as
    the spec's ``lastEventId``); ``retry`` the delay in milliseconds this
    event's block set, else None.
    """

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self, data: str = "", event: str = "message", id: str = "", retry: int | None = None
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def json(self, **kwargs: Any) -> Any:
        """Return ``data`` parsed as JSON (orjson when installed; stdlib keywords select json)."""
        return loads(self.data.encode(), **kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data,
            other.event,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ServerSentEvent(event={self.event!r}, data={self.data!r},"
            f" id={self.id!r}, retry={self.retry!r})"
        )


class SSEDecoder:
    """Bytes in, events out (see the module docstring); ``last_event_id`` and ``retry`` persist.

    ``last_event_id`` is the ID of the last event *dispatched* (WHATWG: an
    ``id`` line fills the last event ID buffer, a blank line commits it):
    an event cut off by the end of the stream is discarded with its ID, so
    a reconnection asks for it again. Set it to resume a stream.
    """

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT) -> None:
        self.max_event_size = max_event_size
        self._last_event_id = ""
        self._id_buffer = ""  # the spec's last event ID buffer
        self.retry: int | None = None  # milliseconds, the latest ``retry`` field
        # The line not ended yet: one buffer appended to, never re-scanned
        # (each read is scanned once, for its own line ends).
        self._pending = bytearray()
        self._skip_lf = False  # the last chunk ended in CR: an LF first in the next is its end
        self._started = False  # past the first line (the BOM is only there)
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0
        self._block_retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The ID of the last event dispatched (or the one set to resume from)."""
        return self._last_event_id

    @last_event_id.setter
    def last_event_id(self, value: str) -> None:
        self._last_event_id = self._id_buffer = value

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Take the next bytes of the stream; return the events they complete.

        Raises:
            SSEError: a line or an event's data over ``max_event_size`` bytes.

        """
        if not chunk:
            return []  # an empty read is no data: a pending CR stays pending
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        pending = self._pending
        limit = self.max_event_size
        events: list[ServerSentEvent] = []
        start = 0
        for end in _LINE_END.finditer(chunk):
            if pending:
                pending += chunk[start : end.start()]
                line = bytes(pending)
                pending.clear()
            else:
                line = chunk[start : end.start()]
            if len(line) > limit:  # every line measured, however it was cut
                raise SSEError(f"an event-stream line longer than {limit} bytes")
            self._line(line, events)
            start = end.end()
        if start == len(chunk) and chunk.endswith(b"\r"):
            self._skip_lf = True  # a CR last: if an LF comes first next, it is this CR's
        if start < len(chunk):
            pending += chunk[start:]
            if len(pending) > limit:
                raise SSEError(f"an event-stream line longer than {limit} bytes")
        return events

    def _line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        line = raw.decode("utf-8", "replace")
        if not self._started:
            self._started = True
            if line.startswith("\ufeff"):
                line = line[1:]
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return  # a comment (keep-alives are sent as these)
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data_size += len(raw)
            if self._data_size > self.max_event_size:
                raise SSEError(f"an event's data is over {self.max_event_size} bytes")
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            # Bounded before int(): a long digit string costs quadratic time
            # (and over 4 300 digits Python refuses it with ValueError).
            digits = value.lstrip("0") or "0"
            delay = min(int(digits), MAX_RETRY_MS) if len(digits) <= 12 else MAX_RETRY_MS
            self.retry = self._block_retry = delay

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        self._last_event_id = self._id_buffer  # WHATWG: dispatching commits the ID first
        data, event, retry = self._data, self._event, self._block_retry
        self._data, self._event, self._data_size, self._block_retry = [], "", 0, None
        if data:
            text = "\n".join(data)
            events.append(ServerSentEvent(text, event or "message", self._last_event_id, retry))


def check_event_stream(response: Response, *, status: bool = True) -> None:
    """Refuse a response that is not an event stream (WHATWG: fail the connection).

    Raises:
        SSEError: its Content-Type is not text/event-stream, or (``status``)
            its status not 200.

    """
    if status and response.status_code != 200:
        raise SSEError(
            f"the event stream answered {response.status_code}, not 200",
            request=response.request,
        )
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "text/event-stream":
        raise SSEError(
            f"the response is {kind or 'untyped'}, not text/event-stream",
            request=response.request,
        )


class EventSource:
    """``client.sse(url)``: the events of a URL, reconnecting as the spec's EventSource does.

    An async iterator, and an async context manager that closes the response
    being read. ``last_event_id`` and ``retry`` (seconds) are what the next
    reconnection will use; ``reconnects`` counts them. ``max_reconnects``
    (None: no limit) bounds reconnections in a row that brought no event:
    past it the iteration ends, raising the last connection error if the
    last attempt failed (a server that is down is not waited for forever).
    ``retry``: the delay before reconnecting (seconds) until the server
    sends its own; ``method`` and the other keywords go to ``client.stream``.
    """

    def __init__(
        self,
        client: Client,
        url: str | URL,
        *,
        method: str = "GET",
        max_reconnects: int | None = 10,
        max_event_size: int = DEFAULT_MAX_EVENT,
        retry: float = DEFAULT_RETRY,
        **options: Any,
    ) -> None:
        self.client = client
        self.method = method
        self.url = url
        self.max_reconnects = max_reconnects
        self.max_event_size = max_event_size
        self.last_event_id = ""
        self.retry = retry  # seconds before reconnecting, until the server says
        self.reconnects = 0
        self._options = options
        self._events = self._run()

    def __aiter__(self) -> EventSource:
        return self

    async def __anext__(self) -> ServerSentEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop: close the response being read."""
        await self._events.aclose()

    async def __aenter__(self) -> EventSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _headers(self) -> Headers:
        headers = Headers(self._options.get("headers"))
        headers["Accept"] = "text/event-stream"
        headers["Cache-Control"] = "no-store"
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    async def _run(self) -> AsyncGenerator[ServerSentEvent, None]:
        options = {k: v for k, v in self._options.items() if k != "headers"}
        idle = 0  # reconnections in a row that brought no event
        while True:
            decoder = SSEDecoder(self.max_event_size)
            decoder.last_event_id = self.last_event_id
            failed: TransportError | None = None
            try:
                async with self.client.stream(
                    self.method, self.url, headers=self._headers(), **options
                ) as response:
                    if response.status_code == 204:
                        return  # the server says: do not reconnect
                    check_event_stream(response)
                    async for chunk in response.aiter_bytes():
                        for event in decoder.feed(chunk):
                            idle = 0
                            self._keep(decoder)
                            yield event
            except LocalProtocolError:
                raise  # our request cannot be sent: asking again will not help
            except TransportError as exc:  # the connection failed: reconnect, as at its end
                failed = exc
            self._keep(decoder)
            idle += 1
            if self.max_reconnects is not None and idle > self.max_reconnects:
                if failed is not None:
                    raise failed
                return
            self.reconnects += 1
            await asyncio.sleep(self.retry)

    def _keep(self, decoder: SSEDecoder) -> None:
        self.last_event_id = decoder.last_event_id
        if decoder.retry is not None:
            self.retry = decoder.retry / 1000
