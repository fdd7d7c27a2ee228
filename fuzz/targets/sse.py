"""The event-stream decoder (WHATWG HTML §9.2.6), checked against a plain reading of the spec.

Input: a control byte choosing ``max_event_size`` (64 bytes to the 8 MiB
default) and whether the decoder resumes a stream (a last event ID already
set, as ``EventSource`` does on reconnecting), one choosing how the stream
is cut into reads, then the stream. It is decoded three ways: fed at once,
fed in pieces, and in the same pieces with an empty read after each. The
decoder has no flush: at the end of the stream an unfinished event is
dropped (the spec: "any pending data must be discarded"). The only
accepted error is ``SSEError``.

The reference, written here from the spec, splits the whole stream into
lines (CRLF, CR, LF), decodes each as UTF-8 with replacement, drops one
leading BOM and interprets the fields. Its bounds are the decoder's
documented ones: a line (its bytes, without the line end) or the data lines
of one event (their bytes, as received, summed) over ``max_event_size``
is an error; a ``retry`` of digits is capped at ``MAX_RETRY_MS``.

Checks: nothing but SSEError escapes (``sse.error``); a line over
``max_event_size`` is refused however it is cut, and no event type or id
is longer (``sse.line``); fed at once, the decoder agrees with the
reference on the events, the last event ID and whether the stream is
refused (``sse.reference``), and on the retry values (``sse.retry``); fed
in pieces it agrees with itself fed at once, its events before a refusal
being the reference's first (``sse.split``); an empty read changes nothing
(``sse.empty_read``); every event's ``data``, ``event`` and ``id`` are
``str``, ``data`` within ``max_event_size`` characters, ``id`` without NUL,
``retry`` None or 0-``MAX_RETRY_MS``, and so are the decoder's
``last_event_id`` and ``retry`` after the stream (``sse.event``); the
decoder, fed in pieces, allocates at its peak at most ``_PER_BYTE`` bytes
a stream byte beyond a fixed allowance: a long line held in many small
reads costs what the line does (``sse.linear``); and the per-input memory
budget.
"""

from __future__ import annotations

import re
import tracemalloc
from typing import NamedTuple

from hyperhttp._sse import DEFAULT_MAX_EVENT, MAX_RETRY_MS, ServerSentEvent, SSEDecoder, SSEError

from fuzz._checks import Finding, fail
from fuzz._input import FuzzInput, split

MAX_LEN = 64 * 1024
MEMORY_BUDGET = 8 * 1024 * 1024

_MAX_SIZES = (64, 1024, 65536, DEFAULT_MAX_EVENT)
_RESUMED_ID = "resume-7"
# What decoding may allocate at its peak, per byte of the stream, beyond a
# fixed allowance: the line held, joined, decoded (at most 4 bytes a
# character) and sliced, and the events one read completes (about 12 bytes
# an input byte for a stream of empty events). Holding a line in pieces
# must cost what the line does, not a list entry per piece.
_PER_BYTE = 32
_ALLOWANCE = 16 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")  # WHATWG: end-of-line = CRLF / LF / CR

Event = tuple[str, str, str, int | None]  # event, data, id, retry


class Outcome(NamedTuple):
    """The events a way of feeding gave, the decoder's state after, and whether it refused."""

    events: list[Event]
    last_event_id: str
    retry: int | None
    refused: bool


def _as_tuple(event: ServerSentEvent) -> Event:
    return (event.event, event.data, event.id, event.retry)


def _retry_value(value: str) -> int:
    """Return a ``retry`` value of ASCII digits as milliseconds, at most MAX_RETRY_MS."""
    digits = value.lstrip("0") or "0"  # int() refuses over 4 300 digits, zeros included
    return MAX_RETRY_MS if len(digits) > len(str(MAX_RETRY_MS)) else min(int(digits), MAX_RETRY_MS)


def _reference(stream: bytes, max_size: int, last_id: str) -> tuple[Outcome, bool]:
    """Interpret ``stream`` as the spec does; return the outcome and whether a line was too long."""
    *lines, tail = _LINE_END.split(stream)
    events: list[Event] = []
    data: list[str] | None = None  # the spec's data buffer, as its lines
    data_size = 0
    event_type = ""
    retry: int | None = None
    block_retry: int | None = None
    id_buffer = last_id  # the spec's last event ID buffer; dispatch commits it
    for number, raw in enumerate(lines):
        if len(raw) > max_size:
            return Outcome(events, last_id, retry, refused=True), True
        line = raw.decode("utf-8", "replace")
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]  # UTF-8 decode drops one leading BOM
        if not line:  # dispatch the event (step 1: commit the last event ID)
            last_id = id_buffer
            if data is not None:
                events.append((event_type or "message", "\n".join(data), last_id, block_retry))
            data, data_size, event_type, block_retry = None, 0, "", None
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data_size += len(raw)
            if data_size > max_size:
                return Outcome(events, last_id, retry, refused=True), False
            data = [*(data or []), value]
        elif field == "event":
            event_type = value
        elif field == "id":
            if "\0" not in value:
                id_buffer = value
        elif field == "retry" and value and all("0" <= char <= "9" for char in value):
            retry = block_retry = _retry_value(value)
    if len(tail) > max_size:
        return Outcome(events, last_id, retry, refused=True), True
    return Outcome(events, last_id, retry, refused=False), False


def _decode(pieces: list[bytes], max_size: int, last_id: str | None) -> Outcome:
    """Feed ``pieces`` to a new decoder; check what comes out."""
    decoder = SSEDecoder(max_size)
    if last_id is not None:
        decoder.last_event_id = last_id
    events: list[Event] = []
    refused = False
    try:
        for piece in pieces:
            for event in decoder.feed(piece):
                _check_event(event, max_size)
                events.append(_as_tuple(event))
    except SSEError:
        refused = True
    except Finding:
        raise
    except Exception as exc:
        fail("sse.error", f"{type(exc).__name__}: {exc}")
        raise
    state = ServerSentEvent(id=decoder.last_event_id, retry=decoder.retry)
    _check_event(state, max_size)
    return Outcome(events, decoder.last_event_id, decoder.retry, refused)


def _check_linear(pieces: list[bytes], max_size: int) -> None:
    """Feed ``pieces`` to a decoder, dropping the events; its peak must be linear in the bytes.

    Runs first in an input, so that resetting tracemalloc's peak loses
    nothing of the per-input budget measured around it (:mod:`fuzz._memory`).
    """
    if not tracemalloc.is_tracing():
        return
    decoder = SSEDecoder(max_size)
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        for piece in pieces:
            decoder.feed(piece)
    except SSEError:
        pass
    peak = tracemalloc.get_traced_memory()[1] - start
    size = sum(len(piece) for piece in pieces)
    if peak > _PER_BYTE * size + _ALLOWANCE:
        fail(
            "sse.linear",
            f"{size} bytes in {len(pieces)} reads took {peak} bytes at the peak"
            f" (allowed: {_PER_BYTE} a byte + {_ALLOWANCE})",
        )


def _check_event(event: ServerSentEvent, max_size: int) -> None:
    if not all(type(text) is str for text in (event.data, event.event, event.id)):
        fail("sse.event", f"{event!r}: not str")
    if len(event.data) > max_size or "\0" in event.id:
        fail("sse.event", f"{event!r}: data over {max_size} characters, or an id with NUL")
    if len(event.event) > max_size or len(event.id) > max_size:
        # Each came from one line: a line over the bound went through.
        fail("sse.line", f"{event!r}: an event type or id over {max_size} characters")
    retry = event.retry
    if retry is not None and not (type(retry) is int and 0 <= retry <= MAX_RETRY_MS):
        fail("sse.event", f"retry {retry!r} in {event!r}")


def _without_retry(outcome: Outcome) -> Outcome:
    events: list[Event] = [(event, data, id_, None) for event, data, id_, _ in outcome.events]
    return outcome._replace(events=events, retry=None)


def _agree(got: Outcome, want: Outcome) -> bool:
    """Return whether ``got`` is ``want`` (refused: whether its events are ``want``'s first)."""
    if got.refused and want.refused:
        return got.events == want.events[: len(got.events)]
    return got == want


def one_input(data: bytes) -> None:
    """Decode the stream of ``data`` three ways and against the reference."""
    source = FuzzInput(data)
    control = source.byte()
    seed = source.byte()
    stream = source.rest()
    max_size = _MAX_SIZES[control & 3]
    last_id = _RESUMED_ID if control & 4 else None
    pieces = split(stream, seed)
    _check_linear(pieces, max_size)
    expected, line_too_long = _reference(stream, max_size, last_id or "")
    with_empty = [part for piece in pieces for part in (piece, b"")]
    ways = (
        ("fed at once", [stream]),
        ("in pieces", pieces),
        ("in pieces, each followed by an empty read", with_empty),
    )
    outcomes = [_decode(cut, max_size, last_id) for _, cut in ways]
    if line_too_long:
        for (way, _), outcome in zip(ways, outcomes, strict=True):
            if not _agree(outcome, expected):
                fail("sse.line", f"{way}: a line over {max_size} bytes let {outcome!r} through")
        return  # the other checks would only say it again
    whole, in_pieces, with_empty_reads = outcomes
    if not _agree(_without_retry(whole), _without_retry(expected)):
        fail("sse.reference", f"fed at once: {whole!r}; the spec: {expected!r}")
    elif not _agree(whole, expected):
        fail("sse.retry", f"fed at once: {whole!r}; the spec: {expected!r}")
    if in_pieces.refused != whole.refused or not _agree(
        in_pieces, whole if not whole.refused else expected
    ):
        fail("sse.split", f"in pieces: {in_pieces!r}; at once: {whole!r}")
    if with_empty_reads != in_pieces:
        fail("sse.empty_read", f"with empty reads: {with_empty_reads!r}; without: {in_pieces!r}")
