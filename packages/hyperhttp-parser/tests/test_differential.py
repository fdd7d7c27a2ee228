r"""Differential tests: our response parser against h11 on the same bytes.

Valid responses are generated (one to three on one connection, interim 1xx
responses, Content-Length, chunked with extensions and trailers, bodiless
HEAD / 204 / 304, close-delimited bodies ended by EOF) and run through h11 as
a client and through :class:`ResponseParser`; status codes, reasons, versions,
header lists, bodies, trailers and the keep-alive decision must be identical.

Keep-alive is compared as: ours, ``EndOfMessage.keep_alive``; h11's,
``conn.our_state is h11.DONE and conn.their_state is h11.DONE`` after its
``EndOfMessage``, which is exactly when h11 lets ``start_next_cycle()`` reuse
the connection (it moves to MUST_CLOSE on ``Connection: close`` and on an
HTTP/1.0 response). One subtlety: h11 ends an HTTP/1.1 close-delimited body
with both states still DONE and only reports the close as the *next* event,
so when EOF was fed the h11 side first takes its ``ConnectionClosed``. The
generator sends ``Transfer-Encoding: chunked`` in lower case and never a
repeated Content-Length, because h11 rewrites those header values (see below).

Differences, each verified by running h11 0.16 and pinned by a small test:

- Bare LF line endings: h11 accepts them, we reject them. RFC 9112 §2.2
  permits but does not require accepting a lone LF; two parsers that disagree
  on where a line ends are a desync / response-splitting risk.
- Whitespace after a chunk size without an extension (``2 \r\n``, ``2\t\r\n``):
  h11 accepts it, we reject it (RFC 9112 §7.1: ``chunk-size [ chunk-ext ] CRLF``).
- A chunk extension is anything after ``;`` for h11 (``2;;;``); we hold it to the
  §7.1.1 grammar. Conversely h11 rejects BWS *before* the ``;`` (``2 ;a=b``),
  which that grammar allows and we accept.
- ``Transfer-Encoding`` in an HTTP/1.0 response: h11 de-chunks the body, we reject
  the message (RFC 9112 §6.1: such framing is faulty).
- ``Transfer-Encoding: gzip, chunked``: h11 rejects every coding but ``chunked``;
  we accept it as chunked framing (the gzip coding is left to the caller).
- HTTP/1.0 response with ``Connection: keep-alive``: h11 never reuses an HTTP/1.0
  connection, we do (RFC 9112 §9.3 and Appendix C.2.2).
- obs-fold (a field line starting with SP / HTAB): h11 unfolds it, we reject it.
  Note RFC 9112 §5.2 says a *user agent* MUST replace obs-fold with SP, so this
  strictness is a deliberate deviation, pinned here so any change is noticed.
- ``Content-Length: 2, 2``: both read a 2-byte body, but h11 rewrites the header
  value to ``2`` while we report the field as received.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h11
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
    RemoteProtocolError,
    ResponseHead,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Field = tuple[bytes, bytes]
Head = tuple[int, bytes, bytes, tuple[Field, ...]]

SETTINGS = settings(max_examples=200, deadline=None, database=None)

TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
VCHAR = "".join(map(chr, range(0x21, 0x7F)))
FRAMING_NAMES = frozenset({b"content-length", b"transfer-encoding", b"connection"})


# ---------------------------------------------------------------- generation


@functools.cache
def below(limit: int) -> st.SearchStrategy[int]:
    """Return integers from 0 to ``limit`` inclusive (cached: building strategies is slow)."""
    return st.integers(0, limit)


@functools.cache
def random_case(text: str) -> st.SearchStrategy[bytes]:
    """Return ``text`` as bytes, each letter upper- or lower-cased at random."""
    return st.integers(0, 2 ** len(text) - 1).map(
        lambda mask: "".join(
            char.upper() if mask >> at & 1 else char.lower() for at, char in enumerate(text)
        ).encode()
    )


TOKENS = st.text(TCHAR, min_size=1, max_size=8).map(str.encode)
FIELD_NAMES = TOKENS.filter(lambda name: name.lower() not in FRAMING_NAMES)
FIELD_VALUES = st.text(st.sampled_from([*VCHAR, *" " * 16]), max_size=20).map(
    lambda text: " ".join(text.split()).encode()
)
OWS = st.sampled_from([(b"", b""), (b" ", b""), (b"\t", b" "), (b"  ", b"\t")])
REASONS = st.text(VCHAR + " ", max_size=12).map(str.encode)
# h11 takes anything after ";" but rejects whitespace before it.
CHUNK_EXTENSIONS = st.lists(
    st.tuples(st.sampled_from([b"", b" "]), TOKENS, st.none() | TOKENS).map(
        lambda ext: b";" + ext[0] + ext[1] + (b"" if ext[2] is None else b"=" + ext[2])
    ),
    max_size=2,
).map(b"".join)
INTERIM_STATUSES = st.integers(100, 199).filter(lambda code: code != 101)
FINAL_STATUSES = st.integers(200, 599) | st.sampled_from([204, 304])
METHODS = st.sampled_from([b"GET", b"GET", b"POST", b"HEAD"])
BODIES = st.binary(max_size=150)
CHUNK_CUTS = st.lists(st.integers(1, 149), max_size=3)
# (reusable, HTTP/1.0) -> Connection values (b"" for none). HTTP/1.0 with
# keep-alive is a known difference, tested on its own below.
CONNECTION = {
    (True, False): st.sampled_from([b"", b"", b"keep-alive"]),
    (False, False): st.sampled_from([b"", b"keep-alive", b"close", b"Close"]),
    (False, True): st.sampled_from([b"", b"close"]),
}
FRAMINGS = {
    (True, False): st.sampled_from(["length", "chunked"]),
    (False, False): st.sampled_from(["length", "chunked", "close"]),
    (False, True): st.sampled_from(["length", "close"]),
}


def field_section(draw: st.DrawFn, extra: Sequence[Field] = ()) -> bytes:
    """Draw random field lines with ``extra`` ones among them, each ending in CRLF."""
    fields = [(draw(FIELD_NAMES), draw(FIELD_VALUES)) for _ in range(draw(below(3)))]
    for field in extra:
        fields.insert(draw(below(len(fields))), field)
    wire = b""
    for name, value in fields:
        before, after = draw(OWS)
        wire += name + b":" + before + value + after + b"\r\n"
    return wire


def response(draw: st.DrawFn, method: bytes, *, reusable: bool) -> tuple[bytes, bool]:
    """Draw one valid response to ``method`` (interim ones first): (bytes, needs EOF)."""
    http10 = not reusable and draw(below(2)) == 0
    version = b"1.0" if http10 else b"1.1"
    wire = b""
    for _ in range(draw(below(1))):
        status = draw(INTERIM_STATUSES)
        wire += b"HTTP/%s %d %s\r\n%s\r\n" % (version, status, draw(REASONS), field_section(draw))
    status = draw(FINAL_STATUSES)
    connection = draw(CONNECTION[reusable, http10])
    extra = [(b"Connection", connection)] if connection else []
    framing = (
        "none" if method == b"HEAD" or status in (204, 304) else draw(FRAMINGS[reusable, http10])
    )
    body = b"" if framing == "none" else draw(BODIES)
    if framing == "length" or (framing == "none" and draw(below(1))):
        length = len(body) if framing == "length" else draw(below(999))
        extra.append((draw(random_case("Content-Length")), b"%d" % length))
    elif framing == "chunked" or (framing == "none" and not http10 and draw(below(1))):
        extra.append((draw(random_case("Transfer-Encoding")), b"chunked"))
    if framing == "chunked":
        bounds = sorted({0, len(body), *(cut for cut in draw(CHUNK_CUTS) if cut < len(body))})
        body = b"".join(
            b"%x%s\r\n%s\r\n" % (end - start, draw(CHUNK_EXTENSIONS), body[start:end])
            for start, end in itertools.pairwise(bounds)
        )
        body += b"0%s\r\n%s\r\n" % (draw(CHUNK_EXTENSIONS), field_section(draw))
    head = b"HTTP/%s %d %s\r\n%s\r\n" % (version, status, draw(REASONS), field_section(draw, extra))
    return wire + head + body, framing == "close"


@dataclass(frozen=True)
class Exchange:
    """Requests' methods, the responses' bytes, and whether the server closes after them."""

    methods: tuple[bytes, ...]
    wire: bytes
    eof: bool


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    """Draw one to three valid responses back to back on one connection."""
    methods = tuple(draw(METHODS) for _ in range(1 + draw(below(2))))
    parts = [
        response(draw, method, reusable=index < len(methods) - 1)
        for index, method in enumerate(methods)
    ]
    return Exchange(methods, b"".join(wire for wire, _ in parts), parts[-1][1])


EXCHANGES = exchanges()
CUTS = st.lists(st.integers(0, 2**16), max_size=6)


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split ``data`` at ``cuts`` (modulo ``len(data) + 1``); pieces may be empty."""
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


# ---------------------------------------------------------------- the two parsers


@dataclass(frozen=True)
class Outcome:
    """What a client learns from one response, in one shape for both parsers."""

    interim: tuple[Head, ...]
    final: Head
    body: bytes
    trailers: tuple[Field, ...]
    keep_alive: bool


def h11_head(event: h11.InformationalResponse | h11.Response) -> Head:
    """Status, reason, version and headers of an h11 response event, as bytes."""
    headers = tuple((bytes(name), bytes(value)) for name, value in event.headers)
    return event.status_code, bytes(event.reason), bytes(event.http_version), headers


def via_h11(methods: Sequence[bytes], pieces: Iterable[bytes], eof: bool) -> list[Outcome]:
    """Run the responses through an h11 client connection, one request at a time."""
    conn = h11.Connection(h11.CLIENT)
    incoming = deque(piece for piece in pieces if piece)  # b"" would mean EOF to h11
    closed = False
    outcomes = []
    for index, method in enumerate(methods):
        if index:
            conn.start_next_cycle()
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        interim: list[Head] = []
        final: Head | None = None
        body = b""
        trailers: tuple[Field, ...] = ()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if incoming:
                    conn.receive_data(incoming.popleft())
                else:
                    assert eof, "h11 wants more than was sent"
                    assert not closed
                    conn.receive_data(b"")
                    closed = True
            elif isinstance(event, h11.InformationalResponse):
                interim.append(h11_head(event))
            elif isinstance(event, h11.Response):
                final = h11_head(event)
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                trailers = tuple((bytes(name), bytes(value)) for name, value in event.headers)
                break
            else:  # pragma: no cover - a failure, shown with the event
                raise AssertionError(f"unexpected h11 event {event!r}")
        assert final is not None
        if closed:  # h11 ends a close-delimited body in DONE; the close comes next
            assert isinstance(conn.next_event(), h11.ConnectionClosed)
        keep_alive = conn.our_state is h11.DONE and conn.their_state is h11.DONE
        outcomes.append(Outcome(tuple(interim), final, body, trailers, keep_alive))
    return outcomes


def our_head(event: InformationalResponse | ResponseHead) -> Head:
    """Status, reason, version and headers of one of our head events."""
    return event.status_code, event.reason, event.http_version, tuple(event.headers)


def via_ours(methods: Sequence[bytes], pieces: Iterable[bytes], eof: bool) -> list[Outcome]:
    """Run the responses through ResponseParser.feed(), one start() per request."""
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
    outcomes = []
    interim: list[Head] = []
    final: Head | None = None
    body = b""
    for event in events:
        if isinstance(event, InformationalResponse):
            interim.append(our_head(event))
        elif isinstance(event, ResponseHead):
            final = our_head(event)
        elif isinstance(event, Data):
            body += event.data
        else:
            assert final is not None
            outcomes.append(Outcome(tuple(interim), final, body, event.trailers, event.keep_alive))
            interim, final, body = [], None, b""
    return outcomes


def h11_events(wire: bytes, method: bytes = b"GET") -> list[h11.Event]:
    """Every h11 event for one response, up to its EndOfMessage; h11's errors propagate."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(wire)
    events: list[h11.Event] = []
    while not events or not isinstance(events[-1], h11.EndOfMessage):
        event = conn.next_event()
        assert isinstance(event, h11.Event), event
        events.append(event)
    return events


def h11_body(events: Iterable[h11.Event]) -> bytes:
    """Return the body bytes among h11 events."""
    return b"".join(bytes(event.data) for event in events if isinstance(event, h11.Data))


def our_events(wire: bytes, method: bytes = b"GET") -> list[Event]:
    """Every event of ours for one response fed whole."""
    parser = hp.ResponseParser()
    parser.start(method)
    return parser.feed(wire)


# ---------------------------------------------------------------- agreement


@SETTINGS
@given(EXCHANGES, CUTS)
def test_valid_exchanges_agree_with_h11(exchange: Exchange, cuts: list[int]) -> None:
    """On valid responses, split anyhow, both parsers report the same exchange."""
    pieces = split(exchange.wire, cuts)
    assert via_ours(exchange.methods, pieces, exchange.eof) == via_h11(
        exchange.methods, pieces, exchange.eof
    )


@SETTINGS
@given(below(999), st.sampled_from([b"Content-Length: %d", b"Transfer-Encoding: chunked"]), REASONS)
def test_head_response_agrees_with_h11(length: int, framing: bytes, reason: bytes) -> None:
    """A HEAD response ends at its head whatever it says; the next response follows."""
    framing_line = framing % length if b"%d" in framing else framing
    head = b"HTTP/1.1 200 %s\r\n%s\r\n\r\n" % (reason, framing_line)
    wire = head + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ours = via_ours([b"HEAD", b"GET"], [wire], eof=False)
    assert ours == via_h11([b"HEAD", b"GET"], [wire], eof=False)
    assert ours[0].body == b""
    assert ours[1].body == b"ok"


@SETTINGS
@given(BODIES, st.sampled_from([b"", b"Connection: close\r\n"]), CUTS)
def test_http10_close_delimited_body_agrees_with_h11(
    body: bytes, connection: bytes, cuts: list[int]
) -> None:
    """An HTTP/1.0 body without framing runs to EOF, for both parsers, and ends reuse."""
    pieces = split(b"HTTP/1.0 200 OK\r\n%sServer: t\r\n\r\n" % connection + body, cuts)
    ours = via_ours([b"GET"], pieces, eof=True)
    assert ours == via_h11([b"GET"], pieces, eof=True)
    assert ours[0].body == body
    assert not ours[0].keep_alive


# ---------------------------------------------------------------- intended differences


def test_bare_lf_is_accepted_by_h11_and_rejected_by_us() -> None:
    """Bare-LF line endings: h11 parses them, we raise (RFC 9112 §2.2; desync risk)."""
    wire = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"
    assert h11_body(h11_events(wire)) == b"hi"
    with pytest.raises(RemoteProtocolError, match="bare LF"):
        our_events(wire)


@pytest.mark.parametrize("space", [b" ", b"\t"], ids=["SP", "HTAB"])
def test_whitespace_after_chunk_size_is_accepted_by_h11_and_rejected_by_us(space: bytes) -> None:
    r"""``2 \r\n`` with no extension: h11 reads the chunk, we raise (RFC 9112 §7.1)."""
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2%s\r\nhi\r\n0\r\n\r\n" % space
    assert h11_body(h11_events(wire)) == b"hi"
    with pytest.raises(RemoteProtocolError, match="chunk-size line"):
        our_events(wire)


@pytest.mark.parametrize("line", [b"2;;;", b"2; not a token!"])
def test_chunk_extension_grammar_is_ignored_by_h11_and_enforced_by_us(line: bytes) -> None:
    """Anything after ``;`` is an extension to h11; we hold it to RFC 9112 §7.1.1."""
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nhi\r\n0\r\n\r\n" % line
    assert h11_body(h11_events(wire)) == b"hi"
    with pytest.raises(RemoteProtocolError, match="chunk-size line"):
        our_events(wire)


def test_whitespace_before_chunk_extension_is_rejected_by_h11_and_accepted_by_us() -> None:
    """``2 ;a=b``: BWS before ``;`` is valid (RFC 9112 §7.1.1); h11 raises, we read it."""
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a=b\r\nhi\r\n0\r\n\r\n"
    with pytest.raises(h11.RemoteProtocolError, match="chunk header"):
        h11_events(wire)
    assert our_events(wire)[1:] == [Data(b"hi"), EndOfMessage((), True)]


def test_http10_transfer_encoding_is_dechunked_by_h11_and_rejected_by_us() -> None:
    """HTTP/1.0 with Transfer-Encoding: h11 de-chunks, we raise (RFC 9112 §6.1)."""
    wire = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    assert h11_body(h11_events(wire)) == b"hi"
    with pytest.raises(RemoteProtocolError, match=r"HTTP/1\.0"):
        our_events(wire)


def test_gzip_then_chunked_is_rejected_by_h11_and_read_as_chunked_by_us() -> None:
    """``Transfer-Encoding: gzip, chunked``: h11 raises; we de-chunk and leave gzip alone."""
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    with pytest.raises(h11.RemoteProtocolError, match="Transfer-Encoding"):
        h11_events(wire)
    assert our_events(wire)[1:] == [Data(b"hi"), EndOfMessage((), True)]


def test_http10_keep_alive_is_not_reused_by_h11_and_reused_by_us() -> None:
    """HTTP/1.0 with ``Connection: keep-alive``: h11 must close, we may reuse (RFC 9112 §9.3)."""
    wire = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    ours = via_ours([b"GET"], [wire], eof=False)
    theirs = via_h11([b"GET"], [wire], eof=False)
    assert ours[0].body == theirs[0].body == b"hi"
    assert ours[0].keep_alive
    assert not theirs[0].keep_alive


def test_obs_fold_is_unfolded_by_h11_and_rejected_by_us() -> None:
    """A continuation line: h11 unfolds it into the value, we raise (see the module docstring)."""
    wire = b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"
    response = h11_events(wire)[0]
    assert isinstance(response, h11.Response)
    assert (b"x-a", b"a b") in list(response.headers)
    with pytest.raises(RemoteProtocolError, match="obsolete line folding"):
        our_events(wire)


def test_content_length_list_is_rewritten_by_h11_and_kept_by_us() -> None:
    """``Content-Length: 2, 2``: same body, but h11 reports the value as ``2``."""
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi"
    theirs = h11_events(wire)
    ours = our_events(wire)
    assert h11_body(theirs) == b"hi"
    assert ours[1:] == [Data(b"hi"), EndOfMessage((), True)]
    assert isinstance(theirs[0], h11.Response)
    assert list(theirs[0].headers) == [(b"content-length", b"2")]
    assert ours[0] == ResponseHead(200, b"OK", b"1.1", [(b"content-length", b"2, 2")])
