"""hyperhttp-parser's response reader: heads, framing, chunked bodies and trailers.

Input: a control byte choosing the requests' methods (up to four pipelined
responses on one connection), one choosing how the bytes are cut into
reads, then the server's bytes. The same bytes are parsed three ways: fed
at once, fed in pieces (``feed``), and in pieces through h11's shape
(``receive_data`` / ``next_event``); each ends with EOF. The only accepted
error is ``RemoteProtocolError``.

Checks: the three ways agree on the events (bodies joined) and on whether
the bytes are an error (``http11.split``, ``http11.next_event``); a status
is in range and 1xx heads are interim (``http11.status``); field names are
lower-case tokens and values hold no control byte nor surrounding
whitespace (``http11.field``); HEAD/1xx/204/304 responses have no body
(``http11.no_body``); a Content-Length body is exactly that long
(``http11.length``); trailers only end a chunked body (``http11.trailers``);
no more body bytes come out than went in (``http11.amplify``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hyperhttp_parser import (
    NEED_DATA,
    PAUSED,
    Data,
    EndOfMessage,
    InformationalResponse,
    ParserState,
    RemoteProtocolError,
    ResponseHead,
    ResponseParser,
)

from fuzz._checks import fail
from fuzz._input import FuzzInput, split

if TYPE_CHECKING:
    from hyperhttp_parser import Event

MAX_LEN = 64 * 1024
MEMORY_BUDGET = 4 * 1024 * 1024

_METHODS = (b"GET", b"HEAD", b"POST", b"CONNECT")
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|\A[ \t]|[ \t]\Z")

Outcome = tuple[list[tuple[object, ...]], bool]  # normalised events, ended in an error


def _methods(control: int) -> list[bytes]:
    count = 1 + (control & 3)
    return [_METHODS[control >> (2 + 2 * i) & 3] for i in range(count)][:count]


def _normalise(events: list[Event]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for event in events:
        if isinstance(event, Data):
            if out and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + event.data)  # type: ignore[operator]
            elif event.data:
                out.append(("data", event.data))
        elif isinstance(event, EndOfMessage):
            out.append(("end", event.trailers, event.keep_alive))
        else:
            kind = "info" if isinstance(event, InformationalResponse) else "head"
            out.append((kind, event.status_code, event.reason, event.http_version, event.headers))
    return out


def _by_feed(pieces: list[bytes], methods: list[bytes]) -> tuple[list[Event], bool]:
    parser = ResponseParser()
    events: list[Event] = []
    left = list(methods)
    parser.start(left.pop(0))
    try:
        for piece in [*pieces, None]:
            events += parser.feed(piece) if piece is not None else parser.feed_eof()
            while parser.state is ParserState.DONE and parser.keep_alive and left:
                parser.start(left.pop(0))
                events += parser.feed(b"")
            if parser.state is ParserState.SWITCHED:
                break
    except RemoteProtocolError:
        return events, True
    return events, False


def _by_next_event(pieces: list[bytes], methods: list[bytes]) -> tuple[list[Event], bool]:
    parser = ResponseParser()
    events: list[Event] = []
    left = list(methods)
    parser.start(left.pop(0))
    try:
        for piece in [*pieces, b""]:
            parser.receive_data(piece)
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    break
                if event is PAUSED:
                    if parser.state is ParserState.DONE and parser.keep_alive and left:
                        parser.start(left.pop(0))
                        continue
                    break
                events.append(event)  # type: ignore[arg-type]
            if parser.state is ParserState.SWITCHED or parser.state is ParserState.CLOSED:
                break
    except RemoteProtocolError:
        return events, True
    return events, False


def _check_fields(fields: object, what: str) -> None:
    for name, value in fields:  # type: ignore[attr-defined]
        if _NAME.fullmatch(name) is None:
            fail("http11.field", f"{what} field name {name!r}")
        if value and _BAD_VALUE.search(value) is not None:
            fail("http11.field", f"{what} field value {value!r}")


def _check_events(events: list[Event], methods: list[bytes], size: int) -> None:
    left = list(methods)
    method = b""
    head: ResponseHead | None = None
    body = 0
    total = 0
    for event in events:
        if isinstance(event, InformationalResponse):
            if not 100 <= event.status_code <= 199 or event.status_code == 101:
                fail("http11.status", f"interim response with status {event.status_code}")
            _check_fields(event.headers, "interim")
        elif isinstance(event, ResponseHead):
            method = left.pop(0) if left else b"?"
            if not (200 <= event.status_code <= 999 or event.status_code == 101):
                fail("http11.status", f"final response with status {event.status_code}")
            _check_fields(event.headers, "head")
            head, body = event, 0
        elif isinstance(event, Data):
            body += len(event.data)
            total += len(event.data)
            if head is None:
                fail("http11.no_body", "body bytes before any response head")
        else:
            if head is None:
                fail("http11.no_body", "end of message before any response head")
                continue
            _check_end(head, method, body, event)
            head = None
    if total > size:
        fail("http11.amplify", f"{total} body bytes out of {size} input bytes")


def _check_end(head: ResponseHead, method: bytes, body: int, end: EndOfMessage) -> None:
    status = head.status_code
    if status == 101 or (method == b"CONNECT" and 200 <= status <= 299):
        return  # the connection left HTTP/1.1: no body is framed
    names = {name for name, _ in head.headers}
    if (method == b"HEAD" or status in (204, 304)) and body:
        fail("http11.no_body", f"{body} body bytes for {method!r} / {status}")
    chunked = b"transfer-encoding" in names
    if end.trailers:
        if not chunked:
            fail("http11.trailers", "trailers on a body that was not chunked")
        _check_fields(end.trailers, "trailer")
    if method != b"HEAD" and status not in (204, 304) and not chunked:
        lengths = {v for n, v in head.headers if n == b"content-length"}
        if len(lengths) == 1:
            declared = lengths.pop().split(b",")[0].strip()
            if declared.isdigit() and int(declared) != body:
                fail("http11.length", f"{body} body bytes for a Content-Length of {declared!r}")


def one_input(data: bytes) -> None:
    """Parse ``data`` as responses, three ways, and compare."""
    source = FuzzInput(data)
    methods = _methods(source.byte())
    seed = source.byte()
    payload = source.rest()
    pieces = split(payload, seed)
    whole_events, whole_error = _by_feed([payload], methods)
    split_events, split_error = _by_feed(pieces, methods)
    next_events, next_error = _by_next_event(pieces, methods)
    _check_events(whole_events, methods, len(payload))
    _check_events(split_events, methods, len(payload))
    if whole_error != split_error:
        fail("http11.split", f"error at once: {whole_error}, in pieces: {split_error}")
    elif not whole_error and _normalise(whole_events) != _normalise(split_events):
        fail("http11.split", f"{_normalise(whole_events)!r} != {_normalise(split_events)!r}")
    if next_error != split_error:
        fail("http11.next_event", f"error by feed: {split_error}, by next_event: {next_error}")
    elif not next_error and _normalise(next_events) != _normalise(split_events):
        fail("http11.next_event", f"{_normalise(next_events)!r} != {_normalise(split_events)!r}")
