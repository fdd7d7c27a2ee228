"""Property tests: the parser and the serializer against generated HTTP/1.1.

Responses are generated together with the events they must parse to (a small
model of RFC 9112 framing), so each property has an oracle: the model for a
whole feed, the whole feed for any split of it, ``feed()`` for the h11-style
``receive_data()`` / ``next_event()``. Requests go the other way: serialised,
then read back by a small, strict, test-only request parser.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hyperhttp_parser as hp
from hyperhttp_parser import (
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    ParserState,
    ResponseHead,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Field = tuple[bytes, bytes]

SETTINGS = settings(max_examples=150, deadline=None, database=None)
CHEAP = settings(max_examples=200, deadline=None, database=None)

TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
VCHAR = "".join(map(chr, range(0x21, 0x7F)))
TOKEN_BYTES = TCHAR.encode()
HEX = b"0123456789abcdefABCDEF"
# Field names the generator sets itself, because they decide framing.
FRAMING_NAMES = frozenset({b"content-length", b"transfer-encoding", b"connection"})
COMMON_NAMES = ("Content-Type", "Server", "Date", "Set-Cookie", "Vary", "Cache-Control", "ETag")


# ---------------------------------------------------------------- building blocks
#
# Strategies are built once: a strategy built inside a draw is validated on
# every draw, which made generation the slowest part of these tests. Helpers
# that take ``draw`` build the pieces of one response.


@functools.cache
def below(limit: int) -> st.SearchStrategy[int]:
    """Return integers from 0 to ``limit`` inclusive (one strategy per limit)."""
    return st.integers(0, limit)


@functools.cache
def random_case(text: str) -> st.SearchStrategy[bytes]:
    """Return ``text`` as bytes, each letter upper- or lower-cased at random."""
    return st.integers(0, 2 ** len(text) - 1).map(
        lambda mask: "".join(
            char.upper() if mask >> at & 1 else char.lower() for at, char in enumerate(text)
        ).encode()
    )


def tokens(max_size: int = 10) -> st.SearchStrategy[bytes]:
    """Return RFC 9110 §5.6.2 tokens."""
    return st.text(TCHAR, min_size=1, max_size=max_size).map(str.encode)


FIELD_NAMES: st.SearchStrategy[bytes] = st.one_of(
    tokens(), st.sampled_from(COMMON_NAMES).flatmap(random_case)
).filter(lambda name: name.lower() not in FRAMING_NAMES)

#: Visible ASCII words joined by single spaces: no leading or trailing whitespace.
FIELD_VALUES: st.SearchStrategy[bytes] = st.text(
    st.sampled_from([*VCHAR, *" " * 16]), max_size=24
).map(lambda text: " ".join(text.split()).encode())

#: Optional whitespace before and after a field value on the wire (RFC 9112 §5.1).
OWS: st.SearchStrategy[tuple[bytes, bytes]] = st.sampled_from(
    [(b"", b""), (b"", b""), (b" ", b""), (b" ", b""), (b"\t", b" "), (b" \t ", b"\t")]
)

#: Bad whitespace inside a chunk extension (RFC 9112 §7.1.1).
BWS: st.SearchStrategy[bytes] = st.sampled_from([b"", b"", b" ", b"\t "])

REASONS: st.SearchStrategy[bytes] = st.text(VCHAR + " ", max_size=16).map(str.encode)

#: RFC 9110 §5.6.4 quoted-string, with quoted-pairs for DQUOTE and backslash.
QUOTED_STRINGS: st.SearchStrategy[bytes] = st.text("\t " + VCHAR, max_size=8).map(
    lambda text: b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
)

#: ``*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )``.
CHUNK_EXTENSIONS: st.SearchStrategy[bytes] = st.lists(
    st.tuples(BWS, BWS, tokens(6), st.none() | st.tuples(BWS, BWS, tokens(6) | QUOTED_STRINGS)).map(
        lambda ext: (
            ext[0]
            + b";"
            + ext[1]
            + ext[2]
            + (b"" if ext[3] is None else ext[3][0] + b"=" + ext[3][1] + ext[3][2])
        )
    ),
    max_size=2,
).map(b"".join)

INTERIM_STATUSES = st.integers(100, 199).filter(lambda code: code != 101)  # 101 is final
FINAL_STATUSES = st.integers(200, 599) | st.sampled_from([200, 204, 304])
METHODS = st.sampled_from([b"GET", b"GET", b"GET", b"POST", b"HEAD", b"PROPFIND"])
VERSIONS = st.sampled_from([b"1.1", b"1.1", b"1.0"])
BODIES = st.binary(max_size=200)
CHUNK_CUTS = st.lists(st.integers(1, 199), max_size=4)
CODINGS = st.sampled_from([b"chunked", b"Chunked", b"gzip, chunked"])

# Connection: reuse needs HTTP/1.1 without "close", or HTTP/1.0 with "keep-alive".
_KEEP_ALIVE = [b"keep-alive", b"Keep-Alive", b"KEEP-ALIVE", b"foo, keep-alive"]
CONNECTION = {  # (reusable, HTTP/1.0) -> values ("" for no field)
    (True, True): st.sampled_from(_KEEP_ALIVE),
    (True, False): st.sampled_from([b"", *_KEEP_ALIVE]),
    (False, True): st.sampled_from([b"", *_KEEP_ALIVE, b"close", b"Close", b"keep-alive, close"]),
}
CONNECTION[False, False] = CONNECTION[False, True]
# How a body is delimited; chunked needs HTTP/1.1, until-close ends the connection.
FRAMINGS = {  # (reusable, HTTP/1.0) -> framings
    (True, True): st.just("length"),
    (True, False): st.sampled_from(["length", "chunked"]),
    (False, True): st.sampled_from(["length", "close"]),
    (False, False): st.sampled_from(["length", "chunked", "close"]),
}


def field_section(draw: st.DrawFn, extra: Sequence[Field] = ()) -> tuple[bytes, list[Field]]:
    """Draw a header or trailer section: every line ends in CRLF, no empty line after.

    ``extra`` fields (framing) go at random places among random ones. Returns
    the wire form and the ``(lower-cased name, value)`` list it parses to.
    """
    named = [(draw(FIELD_NAMES), draw(FIELD_VALUES)) for _ in range(draw(below(4)))]
    for field in extra:
        named.insert(draw(below(len(named))), field)
    wire = b""
    for name, value in named:
        before, after = draw(OWS)
        wire += name + b":" + before + value + after + b"\r\n"
    return wire, [(name.lower(), value) for name, value in named]


def chunk_size(draw: st.DrawFn, size: int) -> bytes:
    """Draw ``size`` in hex, random case, with up to three leading zeros."""
    return b"0" * draw(below(3)) + draw(random_case(f"{size:x}"))


def chunked_body(draw: st.DrawFn, body: bytes) -> tuple[bytes, list[Field]]:
    """Draw ``body`` in random chunks, then the last chunk and a trailer section."""
    bounds = sorted({0, len(body), *(cut for cut in draw(CHUNK_CUTS) if cut < len(body))})
    wire = b""
    for start, end in itertools.pairwise(bounds):
        size = chunk_size(draw, end - start)
        wire += size + draw(CHUNK_EXTENSIONS) + b"\r\n" + body[start:end] + b"\r\n"
    trailer_wire, trailers = field_section(draw)
    last = chunk_size(draw, 0) + draw(CHUNK_EXTENSIONS)
    return wire + last + b"\r\n" + trailer_wire + b"\r\n", trailers


# ---------------------------------------------------------------- responses


@dataclass(frozen=True)
class Exchange:
    """Responses to one to three requests on one connection, with their expected events."""

    methods: tuple[bytes, ...]
    wire: bytes
    expected: list[Event]
    eof: bool


def response(draw: st.DrawFn, *, reusable: bool) -> Exchange:
    """Draw one response, interim ones first; ``reusable`` keeps the connection open."""
    method = draw(METHODS)
    version = draw(VERSIONS)
    wire = b""
    expected: list[Event] = []
    for _ in range(draw(below(2))):
        status = draw(INTERIM_STATUSES)
        reason = draw(REASONS)
        fields_wire, fields = field_section(draw)
        wire += b"HTTP/%s %d %s\r\n%s\r\n" % (version, status, reason, fields_wire)
        expected.append(InformationalResponse(status, reason, version, fields))

    status = draw(FINAL_STATUSES)
    reason = draw(REASONS)
    connection = draw(CONNECTION[reusable, version == b"1.0"])
    keep_alive = b"close" not in connection.lower() and (
        version == b"1.1" or b"keep-alive" in connection.lower()
    )
    if method == b"HEAD" or status in (204, 304):
        framing = "none"
    else:
        framing = draw(FRAMINGS[reusable, version == b"1.0"])
    body = b"" if framing == "none" else draw(BODIES)
    extra: list[Field] = [(b"Connection", connection)] if connection else []
    trailers: list[Field] = []
    body_wire = body
    if framing == "length":
        extra.append((draw(random_case("Content-Length")), b"%d" % len(body)))
    elif framing == "chunked":
        extra.append((draw(random_case("Transfer-Encoding")), draw(CODINGS)))
        body_wire, trailers = chunked_body(draw, body)
    elif framing == "close":
        keep_alive = False
    elif draw(below(2)) == 1:  # no body whatever the head says (RFC 9112 §6.3 rule 1)
        extra.append((b"Content-Length", b"%d" % draw(below(99999))))
    elif version == b"1.1" and draw(below(1)):
        extra.append((b"Transfer-Encoding", b"chunked"))
    fields_wire, fields = field_section(draw, extra)

    if reason or draw(below(1)):
        wire += b"HTTP/%s %d %s\r\n" % (version, status, reason)
    else:
        wire += b"HTTP/%s %d\r\n" % (version, status)  # no SP before an empty reason
    wire += fields_wire + b"\r\n" + body_wire
    expected.append(ResponseHead(status, reason, version, fields))
    if body:
        expected.append(Data(body))
    expected.append(EndOfMessage(tuple(trailers), keep_alive))
    return Exchange((method,), wire, expected, framing == "close")


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    """Draw one to three responses back to back on one keep-alive connection."""
    count = 1 + draw(below(2))
    parts = [response(draw, reusable=index < count - 1) for index in range(count)]
    return Exchange(
        tuple(method for part in parts for method in part.methods),
        b"".join(part.wire for part in parts),
        [event for part in parts for event in part.expected],
        parts[-1].eof,
    )


EXCHANGES = exchanges()


#: Cut points for splitting a byte string (taken modulo its length + 1).
CUTS: st.SearchStrategy[list[int]] = st.lists(st.integers(0, 2**16), max_size=10)


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split ``data`` at ``cuts`` (modulo ``len(data) + 1``); pieces may be empty."""
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def normalise(events: Iterable[Event]) -> list[Event]:
    """Merge adjacent Data events: how the body is cut into pieces is not meaningful."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def run_feed(
    methods: Sequence[bytes], pieces: Iterable[bytes | bytearray | memoryview], eof: bool
) -> list[Event]:
    """Feed ``pieces`` with ``feed()``, starting each response after the previous one."""
    parser = hp.ResponseParser()
    pending = deque(methods)
    parser.start(pending.popleft())
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
        while parser.state is ParserState.DONE and pending:
            parser.start(pending.popleft())
            events += parser.feed(b"")
    if eof:
        events += parser.feed_eof()
    assert not pending
    assert parser.state in (ParserState.DONE, ParserState.CLOSED)
    assert parser.trailing_data == b""
    return events


def run_next_event(methods: Sequence[bytes], pieces: Iterable[bytes], eof: bool) -> list[Event]:
    """Feed ``pieces`` h11's way: ``receive_data()``, then ``next_event()`` until it waits."""
    parser = hp.ResponseParser()
    pending = deque(methods)
    parser.start(pending.popleft())
    events: list[Event] = []

    def pump() -> None:
        while True:
            event = parser.next_event()
            if not isinstance(event, hp.Sentinel):
                events.append(event)
            elif event is hp.PAUSED and pending:
                parser.start(pending.popleft())
            else:
                return

    for piece in pieces:
        if piece:  # b"" would mean EOF
            parser.receive_data(piece)
            pump()
    if eof:
        parser.receive_data(b"")
        pump()
    assert not pending
    assert parser.next_event() is hp.PAUSED
    return events


@SETTINGS
@given(EXCHANGES)
def test_whole_feed_matches_the_model(exchange: Exchange) -> None:
    """Fed whole, generated responses parse to exactly the events they were built from."""
    events = run_feed(exchange.methods, [exchange.wire], exchange.eof)
    assert normalise(events) == exchange.expected


@SETTINGS
@given(EXCHANGES, CUTS)
def test_any_split_gives_the_same_events(exchange: Exchange, cuts: list[int]) -> None:
    """Any split of the bytes into feed() calls gives the events of one whole feed."""
    whole = run_feed(exchange.methods, [exchange.wire], exchange.eof)
    pieces = run_feed(exchange.methods, split(exchange.wire, cuts), exchange.eof)
    assert normalise(pieces) == normalise(whole)


BYTES_LIKE = st.lists(st.sampled_from([bytes, bytearray, memoryview]), min_size=1, max_size=4)


@SETTINGS
@given(EXCHANGES, CUTS, BYTES_LIKE)
def test_bytes_like_pieces_parse_like_bytes(
    exchange: Exchange, cuts: list[int], kinds: list[type[bytes | bytearray | memoryview]]
) -> None:
    """Pieces given as bytearray or memoryview give the events of bytes, as bytes."""
    pieces = split(exchange.wire, cuts)
    mixed = [kinds[at % len(kinds)](piece) for at, piece in enumerate(pieces)]
    events = run_feed(exchange.methods, mixed, exchange.eof)
    assert normalise(events) == exchange.expected
    assert all(type(event.data) is bytes for event in events if isinstance(event, Data))


@settings(max_examples=40, deadline=None, database=None)
@given(EXCHANGES)
def test_byte_at_a_time_gives_the_same_events(exchange: Exchange) -> None:
    """Feeding one byte per call gives the events of one whole feed."""
    whole = run_feed(exchange.methods, [exchange.wire], exchange.eof)
    wire = exchange.wire
    single = run_feed(exchange.methods, [wire[i : i + 1] for i in range(len(wire))], exchange.eof)
    assert normalise(single) == normalise(whole)


@SETTINGS
@given(EXCHANGES, CUTS)
def test_next_event_matches_feed(exchange: Exchange, cuts: list[int]) -> None:
    """receive_data() + next_event() yields the events feed() returns."""
    fed = run_feed(exchange.methods, [exchange.wire], exchange.eof)
    pulled = run_next_event(exchange.methods, split(exchange.wire, cuts), exchange.eof)
    assert normalise(pulled) == normalise(fed)


@SETTINGS
@given(EXCHANGES, CUTS)
def test_keep_alive_property_matches_the_last_end_of_message(
    exchange: Exchange, cuts: list[int]
) -> None:
    """parser.keep_alive says what the last EndOfMessage said, or False after EOF."""
    parser = hp.ResponseParser()
    pending = deque(exchange.methods)
    parser.start(pending.popleft())
    ends: list[EndOfMessage] = []

    def note(events: list[Event]) -> None:
        ends.extend(event for event in events if isinstance(event, EndOfMessage))

    for piece in split(exchange.wire, cuts):
        note(parser.feed(piece))
        while parser.state is ParserState.DONE and pending:
            assert parser.keep_alive is ends[-1].keep_alive is True
            parser.start(pending.popleft())
            note(parser.feed(b""))
    if exchange.eof:
        parser.feed_eof()
        assert parser.keep_alive is False
    else:
        assert parser.keep_alive is ends[-1].keep_alive


# ---------------------------------------------------------------- robustness

#: Bytes that matter to the grammar, for mutating valid responses.
GRAMMAR_BYTE = st.sampled_from(b'\r\n\t :;=,"\\0159aAfFgG/.HTP\x00\x01\x0b\x7f\x80\xff-')
ACTIONS = st.sampled_from(["insert", "delete", "replace"])


@st.composite
def mutated(draw: st.DrawFn) -> Exchange:
    """Draw a valid exchange with a few bytes inserted, deleted or replaced."""
    exchange = draw(EXCHANGES)
    wire = bytearray(exchange.wire)
    for _ in range(1 + draw(below(3))):
        at = draw(below(len(wire)))
        byte = draw(GRAMMAR_BYTE)
        action = draw(ACTIONS)
        if action == "insert":
            wire.insert(at, byte)
        elif at < len(wire):
            if action == "delete":
                del wire[at]
            else:
                wire[at] = byte
    return Exchange(exchange.methods, bytes(wire), [], draw(below(1)) == 1)


def feed_or_reject(
    methods: Sequence[bytes], pieces: Iterable[bytes], eof: bool, *, pull: bool = False
) -> None:
    """Drive a parser as a client would; only RemoteProtocolError may escape it.

    ``pull`` uses ``receive_data()`` / ``next_event()`` instead of ``feed()``.
    """
    parser = hp.ResponseParser()
    pending = deque(methods)
    parser.start(pending.popleft())

    def can_start() -> bool:
        return parser.state is ParserState.DONE and parser.keep_alive and bool(pending)

    def next_response() -> None:
        while can_start():
            parser.start(pending.popleft())
            if not pull:
                parser.feed(b"")

    def pump() -> None:
        while not isinstance(parser.next_event(), hp.Sentinel) or can_start():
            next_response()

    try:
        for piece in pieces:
            if not pull:
                parser.feed(piece)
                next_response()
            elif piece:
                parser.receive_data(piece)
                pump()
        if eof and pull:
            parser.receive_data(b"")
            pump()
        elif eof:
            parser.feed_eof()
    except hp.RemoteProtocolError:
        assert not parser.keep_alive
        assert parser.state in (ParserState.ERROR, ParserState.CLOSED)


BINARY_INPUT: st.SearchStrategy[bytes] = st.binary(max_size=300) | st.binary(max_size=300).map(
    lambda rest: b"HTTP/1.1 200 OK\r\n" + rest
)


@CHEAP
@given(BINARY_INPUT, CUTS, st.booleans(), st.booleans())
def test_arbitrary_bytes_raise_only_remote_protocol_error(
    data: bytes, cuts: list[int], eof: bool, pull: bool
) -> None:
    """Arbitrary bytes after start(b"GET") give events or RemoteProtocolError, nothing else."""
    feed_or_reject([b"GET"], split(data, cuts), eof, pull=pull)


@SETTINGS
@given(mutated(), CUTS, st.booleans())
def test_mutated_responses_raise_only_remote_protocol_error(
    exchange: Exchange, cuts: list[int], pull: bool
) -> None:
    """Valid responses with a few bytes changed parse or raise RemoteProtocolError."""
    feed_or_reject(exchange.methods, split(exchange.wire, cuts), exchange.eof, pull=pull)


# ---------------------------------------------------------------- requests

TARGETS: st.SearchStrategy[bytes] = st.text(VCHAR, min_size=1, max_size=30).map(str.encode)

#: field-value = field-vchar *( 1*( SP / HTAB ) field-vchar ), obs-text included.
_VALUE_CHARS = [bytes([c]) for c in [*range(0x21, 0x7F), *range(0x80, 0x100)]]
REQUEST_VALUES: st.SearchStrategy[bytes] = st.lists(
    st.tuples(
        st.sampled_from([b" ", b"\t", b"  ", b" \t"]),
        st.lists(st.sampled_from(_VALUE_CHARS), min_size=1, max_size=6).map(b"".join),
    ),
    max_size=4,
).map(
    lambda words: b"".join(sep + word for sep, word in words)[len(words[0][0]) :] if words else b""
)

_REQUEST_RESERVED = frozenset({b"host", b"content-length", b"transfer-encoding"})
REQUEST_FIELDS: st.SearchStrategy[list[Field]] = st.lists(
    st.tuples(
        FIELD_NAMES.filter(lambda name: name.lower() not in _REQUEST_RESERVED), REQUEST_VALUES
    ),
    max_size=5,
)
TRAILER_FIELDS: st.SearchStrategy[list[Field]] = st.lists(
    st.tuples(
        FIELD_NAMES.filter(lambda name: name.lower() not in {b"host", b"trailer"}), REQUEST_VALUES
    ),
    max_size=3,
)


@st.composite
def request_headers(draw: st.DrawFn) -> list[Field]:
    """Draw valid request header pairs with exactly one Host, anywhere among them."""
    headers = draw(REQUEST_FIELDS)
    host = (draw(random_case("Host")), draw(tokens(20)))
    headers.insert(draw(below(len(headers))), host)
    return headers


def parse_field(line: bytes) -> Field:
    """Parse a field line strictly: ``name ":" SP value``, no CR, LF or other CTL."""
    name, colon, rest = line.partition(b":")
    assert colon, line
    assert name, line
    assert not name.translate(None, TOKEN_BYTES), line
    assert rest[:1] == b" ", line  # the serializer writes exactly one SP
    value = rest[1:]
    assert not any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in value), line
    return name, value


def parse_request(wire: bytes) -> tuple[bytes, bytes, list[Field], bytes]:
    """Parse a request head strictly: ``(method, target, fields, rest)``."""
    head, separator, rest = wire.partition(b"\r\n\r\n")
    assert separator, wire
    request_line, *field_lines = head.split(b"\r\n")
    method, target, version = request_line.split(b" ")  # exactly three parts
    assert version == b"HTTP/1.1"
    assert method
    assert not method.translate(None, TOKEN_BYTES)
    assert target
    assert all(0x21 <= byte <= 0x7E for byte in target)
    assert all(b"\r" not in line and b"\n" not in line for line in field_lines)
    return method, target, [parse_field(line) for line in field_lines], rest


def dechunk(data: bytes) -> tuple[list[bytes], list[Field], bytes]:
    """Undo chunked coding strictly: ``(chunks, trailers, bytes after the body)``."""
    chunks: list[bytes] = []
    while True:
        line, separator, data = data.partition(b"\r\n")
        assert separator
        assert line
        assert not line.translate(None, HEX), line  # no extensions from our writer
        size = int(line, 16)
        if not size:
            break
        assert data[size : size + 2] == b"\r\n"
        chunks.append(data[:size])
        data = data[size + 2 :]
    trailers: list[Field] = []
    while True:
        line, separator, data = data.partition(b"\r\n")
        assert separator
        if not line:
            return chunks, trailers, data
        trailers.append(parse_field(line))


@SETTINGS
@given(tokens(), TARGETS, request_headers(), st.none() | st.binary(max_size=300))
def test_serialize_request_round_trips(
    method: bytes, target: bytes, headers: list[Field], body: bytes | None
) -> None:
    """serialize_request() output parses back to its method, target, fields and body."""
    wire = hp.serialize_request(method, target, headers, body)
    parsed_method, parsed_target, fields, rest = parse_request(wire)
    assert (parsed_method, parsed_target) == (method, target)
    if body is None:
        assert fields == headers
        assert rest == b""
    else:
        assert fields == [*headers, (b"Content-Length", b"%d" % len(body))]
        assert rest == body


@SETTINGS
@given(
    tokens(),
    TARGETS,
    request_headers(),
    st.lists(st.binary(max_size=100), max_size=5),
    TRAILER_FIELDS,
)
def test_chunked_request_round_trips(
    method: bytes, target: bytes, headers: list[Field], pieces: list[bytes], trailers: list[Field]
) -> None:
    """A chunked request de-chunks to its pieces (one chunk each) and its trailers."""
    head = hp.serialize_request_head(method, target, headers, chunked=True)
    writer = hp.BodyWriter()
    assert writer.chunked
    wire = head + b"".join(writer.write(piece) for piece in pieces) + writer.end(trailers)
    parsed_method, parsed_target, fields, rest = parse_request(wire)
    assert (parsed_method, parsed_target) == (method, target)
    assert fields == [*headers, (b"Transfer-Encoding", b"chunked")]
    chunks, parsed_trailers, after = dechunk(rest)
    assert chunks == [piece for piece in pieces if piece]
    assert parsed_trailers == trailers
    assert after == b""


@SETTINGS
@given(st.lists(st.binary(max_size=100), max_size=5))
def test_content_length_body_writer_passes_pieces_through(pieces: list[bytes]) -> None:
    """With content_length set, BodyWriter returns the pieces unchanged and ends with nothing."""
    writer = hp.BodyWriter(sum(map(len, pieces)))
    assert not writer.chunked
    assert [writer.write(piece) for piece in pieces] == pieces
    assert writer.end() == b""


#: Any text, with the control characters that matter made likely.
HEADER_TEXT: st.SearchStrategy[str] = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\r", "\n", "\x00", "\t", "\x7f", "\x0b", " "]),
    max_size=12,
)


@CHEAP
@given(HEADER_TEXT)
def test_header_value_is_rejected_exactly_when_invalid(text: str) -> None:
    """A value works unless it holds a CTL other than HTAB or is padded with SP / HTAB."""
    value = text.encode()  # UTF-8: bytes >= 0x80 are obs-text, never a CTL
    invalid = any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in value) or (
        value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t")
    )
    headers = [(b"Host", b"h"), (b"X-Test", value)]
    if invalid:
        result = None
        with pytest.raises(hp.LocalProtocolError) as caught:  # any other type propagates
            result = hp.serialize_request_head(b"GET", b"/", headers)
        assert caught.type is hp.LocalProtocolError
        assert result is None
    else:
        result = hp.serialize_request_head(b"GET", b"/", headers)
        assert b"\r\nX-Test: " + value + b"\r\n" in result
