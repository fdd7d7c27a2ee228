r"""Bytes in, events out: the HTTP/1.1 response parser.

Strategy
--------
This is the hot path of the whole client, so the parser is *bulk*: one call
hands back every event the bytes it holds complete. A small response that
arrived in one read is parsed with a fixed number of C-level operations and
no per-byte or per-line Python loop:

1. ``find(b"\\r\\n\\r\\n")`` locates the end of the head, ``find(b"\\r\\n")`` the
   end of the status line, one ``fullmatch`` parses the status line;
2. one multi-line ``findall`` both validates and splits the field lines: it is
   anchored to line starts and only matches whole valid lines, so comparing
   the number of matches with the number of lines proves every line valid;
3. the lower-cased section is searched for the framing fields' names before
   any list is scanned for them;
4. the body is sliced straight out of the buffer.

Only when a check fails does Python-level code (``_diagnose``) walk the lines
to explain which rule was broken.

Invariants
----------
- ``self._buf`` holds bytes received and not yet consumed; after a message
  ends, the bytes behind it stay there for the next ``start()``.
- Errors are terminal: the state becomes ERROR and every later call raises.
- The parser never decides more than it was told: it answers exactly one
  request per ``start(method)``.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from ._abnf import CHUNK_LINE, STATUS_LINE, TOKEN_BYTES
from ._diagnose import explain_chunk_line, explain_field_lines, explain_status_line
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    END_CLOSE,
    END_KEEP_ALIVE,
    Data,
    EndOfMessage,
    Event,
    Headers,
    InformationalResponse,
    ResponseHead,
)
from ._state import Framing, ParserState, Sentinel, decide_framing

__all__ = [
    "DEFAULT_MAX_CHUNK_LINE_SIZE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEAD_SIZE",
    "ResponseParser",
]

# Limits, with what others allow. Response heads are larger than request
# heads (cookies, CSPs, tracing headers), so we sit above the request-side
# limits of servers: h11 allows 16 KiB for any incomplete event, Node.js
# 16 KiB (--max-http-header-size), aiohttp 8190 bytes per line.
DEFAULT_MAX_HEAD_SIZE: Final = 64 * 1024
#: Fields per header section.
DEFAULT_MAX_HEADERS: Final = 128
#: A chunk-size line, extensions included; no legitimate one comes near.
DEFAULT_MAX_CHUNK_LINE_SIZE: Final = 4 * 1024

_IDLE: Final = ParserState.IDLE
_HEAD: Final = ParserState.HEAD
_BODY: Final = ParserState.BODY
_DONE: Final = ParserState.DONE
_SWITCHED: Final = ParserState.SWITCHED
_CLOSED: Final = ParserState.CLOSED
_ERROR: Final = ParserState.ERROR

# Field lines repeat almost verbatim from response to response (Server,
# Content-Type, Vary, Cache-Control; Date within a second): the redundancy
# HPACK exploits in HTTP/2. Parsed lines are kept here, so a repeated line
# costs one C-level dict lookup instead of a split, a lower() and a strip().
# A line's parse depends on nothing but the line, so sharing is safe; the
# cache is bounded in entries and in line length, and simply emptied when full.
_LINE_CACHE: dict[bytes, tuple[bytes, bytes]] = {}
_LINE_CACHE_GET: Final = _LINE_CACHE.get
_LINE_CACHE_MAX_ENTRIES: Final = 2048
_LINE_CACHE_MAX_LINE: Final = 256
# Validated field names -> lower-cased, for lines whose value is new (names
# repeat even where values do not: X-Request-Id, Date, Set-Cookie). It stops
# growing when full rather than being emptied: names are few.
_NAME_CACHE: dict[bytes, bytes] = {}
_NAME_CACHE_GET: Final = _NAME_CACHE.get
_CTL_BYTES: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"


# status line -> (status, reason, version, is HTTP/1.0, needs the general
# framing rules: 1xx, 204, 304 or HTTP/1.0)
_STATUS_CACHE: dict[bytes, tuple[int, bytes, bytes, bool, bool]] = {}
_STATUS_CACHE_GET: Final = _STATUS_CACHE.get


# Methods whose response framing needs no special case (not HEAD, not CONNECT).
_PLAIN_METHODS: Final = frozenset(
    {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"TRACE", b"QUERY"}
)
_PLAIN_KEEP_ALIVE: Final = frozenset({b"keep-alive", b"Keep-Alive"})

_FRAMING_NONE: Final = int(Framing.NONE)
_FRAMING_LENGTH: Final = int(Framing.LENGTH)
_FRAMING_CHUNKED: Final = int(Framing.CHUNKED)
_FRAMING_UNTIL_CLOSE: Final = int(Framing.UNTIL_CLOSE)

# Body sub-states (plain ints: compared on every feed).
_LENGTH: Final = 1
_CHUNK_SIZE: Final = 2
_CHUNK_DATA: Final = 3
_CHUNK_CRLF: Final = 4
_TRAILERS: Final = 5
_UNTIL_CLOSE: Final = 6


def _check_limit(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _check_partial_line(buf: bytes, pos: int, limit: int, what: str) -> None:
    """Fail early on an incomplete line that can never become valid."""
    if len(buf) - pos > limit:
        raise RemoteProtocolError(f"{what} larger than {limit} bytes")
    # Each CRLF holds one LF; any other LF is a bare one (RFC 9112 §2.2).
    if buf.count(b"\n", pos) != buf.count(b"\r\n", pos):
        raise RemoteProtocolError("bare LF line ending (RFC 9112 §2.2: only CRLF is accepted)")


def _parse_status_line(line: bytes) -> tuple[int, bytes, bytes, bool, bool]:
    """Parse a status line: see ``_STATUS_CACHE``."""
    match = STATUS_LINE.fullmatch(line)
    if match is None:
        raise RemoteProtocolError(explain_status_line(line))
    major, minor, code, reason = match.groups()
    if major != b"1":
        version = f"{major.decode()}.{minor.decode()}"
        raise RemoteProtocolError(f"unsupported HTTP version {version} in the status line")
    status = int(code)
    if status < 100:
        raise RemoteProtocolError(f"status code {status} out of range (RFC 9110 §15)")
    http10 = minor == b"0"
    special = http10 or status < 200 or status == 204 or status == 304
    parsed = (status, reason or b"", b"1.0" if http10 else b"1.1", http10, special)
    if len(line) <= _LINE_CACHE_MAX_LINE:
        if len(_STATUS_CACHE) >= _LINE_CACHE_MAX_ENTRIES:
            _STATUS_CACHE.clear()
        _STATUS_CACHE[line] = parsed
    return parsed


def _parse_field_line(line: bytes) -> tuple[bytes, bytes]:
    """Parse and validate one field line (CRLF already removed), and remember it."""
    name, colon, value = line.partition(b":")
    lowered = _NAME_CACHE_GET(name)
    if lowered is None or not colon:
        # A token name also rules out whitespace before the colon (RFC 9112
        # §5.1) and obs-fold, a line starting with SP or HTAB (§5.2).
        if not colon or not name or name.translate(None, TOKEN_BYTES):
            raise RemoteProtocolError(explain_field_lines(line))
        lowered = name.lower()
        if len(name) <= _LINE_CACHE_MAX_LINE and len(_NAME_CACHE) < _LINE_CACHE_MAX_ENTRIES:
            _NAME_CACHE[name] = lowered
    # No CR, LF, NUL or other CTL but HTAB in the value (RFC 9110 §5.5):
    # deleting the few forbidden bytes is cheaper than keeping the allowed.
    if len(value.translate(None, _CTL_BYTES)) != len(value):
        raise RemoteProtocolError(explain_field_lines(line))
    field = (lowered, value.strip())  # strip(): only OWS can be left to strip
    if len(line) <= _LINE_CACHE_MAX_LINE:
        if len(_LINE_CACHE) >= _LINE_CACHE_MAX_ENTRIES:
            _LINE_CACHE.clear()
        _LINE_CACHE[line] = field
    return field


def _parse_new_lines(cached: list[tuple[bytes, bytes] | None], lines: list[bytes]) -> Headers:
    """Fill the cache misses (``None``) in ``cached`` by parsing their lines.

    Typically one or two lines of a head are new (a request id, a date), so
    the misses are found with C-level ``list.count`` / ``list.index`` rather
    than a loop over every line.
    """
    find = cached.index
    at = -1
    for _ in range(cached.count(None)):  # no ValueError to end on: raising costs ~1 µs
        at = find(None, at + 1)
        cached[at] = _parse_field_line(lines[at])
    return cached  # type: ignore[return-value]


def _parse_fields(block: bytes, max_headers: int) -> Headers:
    """Parse field lines joined by CRLF (no final CRLF).

    Lines seen before are one C-level dict lookup each (``map``); only new
    lines are parsed and validated in Python. A cached line was validated
    when it was cached, and a line with a bare CR or LF is never valid, so
    an all-hit section needs no further check.
    """
    lines = block.split(b"\r\n")
    if len(lines) > max_headers:
        raise RemoteProtocolError(f"more than {max_headers} fields in a section")
    cached = list(map(_LINE_CACHE_GET, lines))
    if None in cached:
        return _parse_new_lines(cached, lines)
    return cached  # type: ignore[return-value]


class ResponseParser:
    """A strict, sans-IO HTTP/1.1 response parser (RFC 9112).

    Tell it which request the next response answers with :meth:`start`,
    then hand it bytes with :meth:`feed` (every event at once, the fast way)
    or :meth:`receive_data` and :meth:`next_event` (one at a time, h11's way).

    Bare LF line endings are rejected: RFC 9112 §2.2 *permits* a recipient to
    accept them, but two parsers in a chain that disagree on where a line
    ends is how responses get split and connections desynchronised, and
    every conforming server sends CRLF.

    Args:
        max_head_size: largest status line + header section, in bytes (also
            the bound on a trailer section).
        max_headers: most field lines in a header or trailer section.
        max_chunk_line_size: longest chunk-size line, extensions included.

    """

    __slots__ = (
        "_body",
        "_buf",
        "_eof",
        "_error",
        "_keep_alive",
        "_max_chunk_line_size",
        "_max_head_size",
        "_max_headers",
        "_method",
        "_pending",
        "_pieces",
        "_pieces_size",
        "_plain",
        "_remaining",
        "_state",
        "_tail",
    )

    def __init__(
        self,
        *,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_chunk_line_size: int = DEFAULT_MAX_CHUNK_LINE_SIZE,
    ) -> None:
        self._max_head_size = _check_limit("max_head_size", max_head_size)
        self._max_headers = _check_limit("max_headers", max_headers)
        self._max_chunk_line_size = _check_limit("max_chunk_line_size", max_chunk_line_size)
        self._buf = b""
        self._state = _IDLE
        self._body = 0
        self._remaining = 0
        self._method = b""
        self._plain = True
        self._keep_alive = True
        self._eof = False
        self._error: RemoteProtocolError | None = None
        self._pending: deque[Event] = deque()
        self._pieces: list[bytes] = []
        self._pieces_size = 0
        self._tail = b""

    def __repr__(self) -> str:
        return f"<ResponseParser state={self._state.name} buffered={len(self._buf)}>"

    # ------------------------------------------------------------ public state

    @property
    def state(self) -> ParserState:
        """Where the parser is in the exchange."""
        return self._state

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this response."""
        return self._keep_alive and self._state is not _ERROR and self._state is not _CLOSED

    @property
    def trailing_data(self) -> bytes:
        """Bytes received beyond the current message (not yet parsed)."""
        if self._state is _HEAD or self._state is _BODY:
            return b""
        return self._buf

    # ------------------------------------------------------------ driving

    def start(self, method: bytes) -> None:
        """Expect the response to a request with this method.

        Raises:
            LocalProtocolError: a response is still in progress, the previous
                one ended the connection's reuse, or ``method`` is not a token.

        """
        state = self._state
        if state is not _IDLE and state is not _DONE:
            raise LocalProtocolError(f"cannot start a new response in state {state.name}")
        if not self._keep_alive:
            raise LocalProtocolError("the previous response does not allow reusing the connection")
        if method in _PLAIN_METHODS:
            self._plain = True
        else:
            if not isinstance(method, bytes) or not method or method.translate(None, TOKEN_BYTES):
                raise LocalProtocolError(f"method {method!r} is not a token (RFC 9110 §9.1)")
            self._plain = method != b"HEAD" and method != b"CONNECT"
        self._method = method
        self._state = _HEAD

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Add bytes from the peer; return every event they complete.

        Raises:
            RemoteProtocolError: the peer broke HTTP/1.1 (the parser is then
                in state ERROR for good).
            LocalProtocolError: called after EOF or an error.

        """
        if type(data) is not bytes:
            data = bytes(data)
        if self._pieces:
            # A head or trailer section is still incomplete: collect, and
            # look only at the new bytes (see _collect).
            try:
                joined = self._collect(data)
            except RemoteProtocolError:
                self._state = _ERROR
                self._keep_alive = False
                raise
            if joined is None:
                return []
            data = joined
        buf = self._buf + data if self._buf else data
        state = self._state
        if state is not _HEAD and state is not _BODY:
            if state is _ERROR or state is _CLOSED:
                raise LocalProtocolError(f"cannot feed a parser in state {state.name}")
            self._buf = buf
            return []
        events: list[Event] = []
        try:
            pos = self._parse(buf, events) if state is _BODY else self._parse_heads(buf, events)
        except RemoteProtocolError:
            self._state = _ERROR
            self._keep_alive = False
            raise
        rest = buf[pos:] if pos else buf
        if rest and (
            self._state is _HEAD
            # (with 2 bytes or more, a trailer section can only end in CRLF CRLF)
            or (self._state is _BODY and self._body == _TRAILERS and len(rest) >= 2)
        ):
            # An incomplete section: from now on collect pieces rather than
            # concatenating and rescanning everything on every feed, which a
            # server trickling 64 KiB one byte at a time would make quadratic.
            self._pieces = [rest]
            self._pieces_size = len(rest)
            self._tail = rest[-3:]
            self._buf = b""
        else:
            self._buf = rest
        return events

    def _collect(self, data: bytes) -> bytes | None:
        """Add a piece of an incomplete section; return it all once complete.

        Only a window of the last 3 bytes seen plus ``data`` is searched for
        the blank line and checked for bare LF, so the work per feed is
        proportional to the new bytes, never to what is already buffered.
        """
        window = self._tail + data
        self._pieces.append(data)
        self._pieces_size += len(data)
        if b"\r\n\r\n" in window:
            # Complete: the normal path parses (and validates) it all, and
            # whatever follows the blank line is not ours to check here.
            joined = b"".join(self._pieces)
            self._pieces = []
            return joined
        # Still inside the section. A LF is bare unless the byte before it is
        # CR; the window's first byte has its predecessor outside the window
        # and was checked with the previous piece.
        if window.count(b"\n", 1) != window.count(b"\r\n"):
            raise RemoteProtocolError("bare LF line ending (RFC 9112 §2.2: only CRLF is accepted)")
        if self._pieces_size > self._max_head_size:
            what = "response head" if self._state is _HEAD else "trailer section"
            raise RemoteProtocolError(f"{what} larger than {self._max_head_size} bytes")
        self._tail = window[-3:]
        return None

    def feed_eof(self) -> list[Event]:
        """Tell the parser the peer closed the connection; return the last events.

        A close-delimited body ends here. Anywhere else inside a response the
        close is premature and raises.

        Raises:
            RemoteProtocolError: the connection closed in the middle of a response.

        """
        state = self._state
        if state is _ERROR:
            raise LocalProtocolError("cannot feed a parser in state ERROR")
        self._state = _CLOSED
        self._keep_alive = False
        if state is _HEAD:
            if self._buf or self._pieces:
                raise RemoteProtocolError("connection closed in the middle of the response head")
            raise RemoteProtocolError("connection closed before the response arrived")
        if state is _BODY:
            if self._body == _UNTIL_CLOSE:
                return [END_CLOSE]
            if self._body == _LENGTH:
                raise RemoteProtocolError(
                    f"connection closed with {self._remaining} bytes of the body missing"
                )
            raise RemoteProtocolError("connection closed before the chunked body ended")
        return []

    # ------------------------------------------------------------ h11's shape

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Hand bytes to the parser for :meth:`next_event`; ``b""`` means the peer closed.

        The bytes are parsed at once and their events queued; a protocol
        error is raised by :meth:`next_event` once the events before it are
        taken, as in h11.
        """
        if not data:
            self._eof = True
            return
        if self._state is _ERROR or self._state is _CLOSED or self._eof:
            raise LocalProtocolError("cannot receive data after EOF or an error")
        try:
            self._pending.extend(self.feed(data))
        except RemoteProtocolError as exc:
            self._error = exc

    def next_event(self) -> Event | Sentinel:
        """Return the next event, or NEED_DATA / PAUSED when there is none yet.

        Raises:
            RemoteProtocolError: as for :meth:`feed` and :meth:`feed_eof`.

        """
        pending = self._pending
        if pending:
            return pending.popleft()
        if self._error is not None:
            raise self._error
        state = self._state
        if state is _HEAD or state is _BODY:
            # bytes buffered before start(), then EOF if it came
            pending.extend(self.feed(b""))
            if not pending and self._eof:
                pending.extend(self.feed_eof())
            if pending:
                return pending.popleft()
            state = self._state
        if state is _HEAD or state is _BODY:
            return Sentinel.NEED_DATA
        return Sentinel.PAUSED

    # ------------------------------------------------------------ the machine

    def _parse_heads(self, buf: bytes, events: list[Event], pos: int = 0) -> int:
        """Parse a head, and the whole body when it is already here: the hot path.

        Anything else (a body arriving in pieces, chunked, until close) goes
        on in :meth:`_parse`.
        """
        end_of_buf = len(buf)
        while pos < end_of_buf:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                _check_partial_line(buf, pos, self._max_head_size, "response head")
                return pos
            if end + 4 - pos > self._max_head_size:
                raise RemoteProtocolError(f"response head larger than {self._max_head_size} bytes")
            # One split of the whole head: the status line, then the fields.
            lines = buf[pos:end].split(b"\r\n")
            status_line = lines.pop(0)
            status, reason, version, http10, special = _STATUS_CACHE_GET(
                status_line
            ) or _parse_status_line(status_line)
            headers: Headers
            if lines:
                if len(lines) > self._max_headers:
                    raise RemoteProtocolError(f"more than {self._max_headers} fields in a section")
                cached = list(map(_LINE_CACHE_GET, lines))
                if None in cached:  # noqa: SIM108 (a ternary needs a cast() call on the hot path)
                    headers = _parse_new_lines(cached, lines)
                else:
                    headers = cached  # type: ignore[assignment]  # no None left
            else:
                headers = []
            pos = end + 4
            if special and status < 200 and status != 101:
                # RFC 9110 §15.2: an interim response; the final one follows.
                events.append(InformationalResponse(status, reason, version, headers))
                continue
            events.append(ResponseHead(status, reason, version, headers))
            fields = dict(headers)
            length_field = fields.get(b"content-length")
            if (
                # The common response, decided without decide_framing(): a
                # final status with a body, to GET-like methods, one plain
                # Content-Length, no Transfer-Encoding, keep-alive by default.
                not special
                and length_field is not None
                and self._plain
                and len(fields) == len(headers)
                and b"transfer-encoding" not in fields
                and fields.get(b"connection", b"keep-alive") in _PLAIN_KEEP_ALIVE
                and length_field.isdigit()
                and len(length_field) < 19
            ):
                length = int(length_field)
                framing = _FRAMING_LENGTH if length else _FRAMING_NONE
                keep_alive = True
            else:
                framing, length, keep_alive = decide_framing(
                    self._method == b"HEAD",
                    self._method == b"CONNECT",
                    status,
                    http10,
                    headers,
                    fields,
                )
            self._keep_alive = keep_alive
            if framing == _FRAMING_LENGTH:
                if end_of_buf - pos < length:
                    self._state = _BODY
                    self._body = _LENGTH
                    self._remaining = length
                    return self._parse(buf, events, pos)
                events.append(Data(buf[pos : pos + length]))
                pos += length
                events.append(END_KEEP_ALIVE if keep_alive else END_CLOSE)
                self._state = _DONE
                return pos
            if framing == _FRAMING_NONE:
                events.append(END_KEEP_ALIVE if keep_alive else END_CLOSE)
                self._state = _DONE
                return pos
            if framing == _FRAMING_CHUNKED:
                self._state = _BODY
                self._body = _CHUNK_SIZE
                return self._parse(buf, events, pos)
            if framing == _FRAMING_UNTIL_CLOSE:
                self._state = _BODY
                self._body = _UNTIL_CLOSE
                return self._parse(buf, events, pos)
            events.append(END_CLOSE)  # a tunnel or another protocol from here on
            self._state = _SWITCHED
            return pos
        return pos

    def _parse(self, buf: bytes, events: list[Event], pos: int = 0) -> int:
        """Consume body bytes from ``pos``; return the position reached."""
        end_of_buf = len(buf)
        while pos < end_of_buf:
            if self._state is not _BODY:
                break
            if self._body == _LENGTH or self._body == _CHUNK_DATA:
                remaining = self._remaining
                if end_of_buf - pos < remaining:
                    events.append(Data(buf[pos:] if pos else buf))
                    self._remaining = remaining - (end_of_buf - pos)
                    pos = end_of_buf
                    break
                events.append(Data(buf[pos : pos + remaining]))
                pos += remaining
                self._remaining = 0
                if self._body == _LENGTH:
                    self._end_message(events, ())
                else:
                    self._body = _CHUNK_CRLF
            elif self._body == _CHUNK_SIZE:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    _check_partial_line(buf, pos, self._max_chunk_line_size, "chunk-size line")
                    break
                if eol - pos > self._max_chunk_line_size:
                    raise RemoteProtocolError(
                        f"chunk-size line larger than {self._max_chunk_line_size} bytes"
                    )
                match = CHUNK_LINE.fullmatch(buf, pos, eol)
                if match is None:
                    raise RemoteProtocolError(explain_chunk_line(buf[pos:eol]))
                size = int(match.group(1), 16)
                pos = eol + 2
                if size:
                    self._remaining = size
                    self._body = _CHUNK_DATA
                else:
                    self._body = _TRAILERS
            elif self._body == _CHUNK_CRLF:
                # RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
                if buf[pos] != 0x0D or (end_of_buf - pos >= 2 and buf[pos + 1] != 0x0A):
                    raise RemoteProtocolError(
                        f"chunk data not followed by CRLF (got {buf[pos : pos + 2]!r})"
                    )
                if end_of_buf - pos < 2:
                    break
                pos += 2
                self._body = _CHUNK_SIZE
            elif self._body == _TRAILERS:
                # RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), CRLF
                if buf.startswith(b"\r\n", pos):
                    self._end_message(events, ())
                    pos += 2
                    continue
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    _check_partial_line(buf, pos, self._max_head_size, "trailer section")
                    break
                if end + 4 - pos > self._max_head_size:
                    raise RemoteProtocolError(
                        f"trailer section larger than {self._max_head_size} bytes"
                    )
                trailers = _parse_fields(buf[pos:end], self._max_headers)
                pos = end + 4
                self._end_message(events, tuple(trailers))
            else:  # _UNTIL_CLOSE: everything is body
                events.append(Data(buf[pos:] if pos else buf))
                pos = end_of_buf
        return pos

    def _end_message(self, events: list[Event], trailers: tuple[tuple[bytes, bytes], ...]) -> None:
        if trailers:
            events.append(EndOfMessage(trailers, self._keep_alive))
        else:
            events.append(END_KEEP_ALIVE if self._keep_alive else END_CLOSE)
        self._state = _DONE
        self._body = 0
