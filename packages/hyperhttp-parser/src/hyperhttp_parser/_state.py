"""Parser states, and the framing rules of RFC 9112 §6.3 as one decision.

Theory of operation
-------------------
A :class:`ResponseParser` answers one request at a time::

    IDLE --start()--> HEAD --head parsed--> BODY --body complete--> DONE
                       ^  |                                           |
                       |  +-- 1xx interim: stays in HEAD              |
                       +---------------- start() (keep-alive only) ---+
    HEAD --101, or 2xx to CONNECT--> SWITCHED   (no more HTTP/1.1 here)
    any --peer broke HTTP--> ERROR              (terminal)
    any --feed_eof()--> CLOSED                  (terminal)

Rule 1: the body length is decided once, from the head, by
:func:`decide_framing`, taking the RFC's rules in order; the first that
applies wins, and anything ambiguous is an error rather than a guess.

Rule 2: keep-alive is decided by the same function and can only go from
"reusable" to "not reusable" afterwards (a close-delimited body, an error).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final

from ._errors import RemoteProtocolError

if TYPE_CHECKING:
    from ._events import Headers

__all__ = ["Framing", "ParserState", "Sentinel", "decide_framing"]


class ParserState(enum.Enum):
    """Where a :class:`ResponseParser` is in the exchange."""

    IDLE = "IDLE"  #: no response expected; call ``start()``
    HEAD = "HEAD"  #: reading the status line and header section
    BODY = "BODY"  #: reading the body
    DONE = "DONE"  #: the response is complete; ``start()`` for the next one
    SWITCHED = "SWITCHED"  #: 101 or 2xx to CONNECT: the bytes are no longer HTTP/1.1
    CLOSED = "CLOSED"  #: the peer closed the connection
    ERROR = "ERROR"  #: the peer broke HTTP; the connection must be dropped


class Sentinel(enum.Enum):
    """What ``next_event()`` returns when it has no event."""

    NEED_DATA = "NEED_DATA"  #: feed more bytes (or EOF)
    PAUSED = "PAUSED"  #: the message is over; ``start()`` before more events


class Framing(enum.IntEnum):
    """How the body of a response is delimited."""

    NONE = 0  #: no body at all
    LENGTH = 1  #: Content-Length bytes
    CHUNKED = 2  #: chunked transfer coding
    UNTIL_CLOSE = 3  #: everything until the server closes
    SWITCH = 4  #: the connection leaves HTTP/1.1


# RFC 9112 §7 and the IANA HTTP Transfer Coding registry. Any other coding is
# one we could not undo, so the framing of the message is unknowable.
_KNOWN_TRANSFER_CODINGS: Final = frozenset(
    {b"chunked", b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"}
)

_NONE: Final = Framing.NONE
_LENGTH: Final = Framing.LENGTH
_CHUNKED: Final = Framing.CHUNKED
_UNTIL_CLOSE: Final = Framing.UNTIL_CLOSE
_SWITCH: Final = Framing.SWITCH

_PLAIN_KEEP_ALIVE: Final = frozenset({b"keep-alive", b"Keep-Alive"})

# RFC 9110 §8.6: Content-Length = 1*DIGIT. Beyond 2**63 - 1 no peer means it,
# and no platform can seek it.
_MAX_CONTENT_LENGTH: Final = 2**63 - 1


def _field_values(headers: Headers, fields: dict[bytes, bytes], name: bytes) -> list[bytes]:
    """Every value of one field, in order (``fields`` is ``dict(headers)``)."""
    if name not in fields:
        return []
    if len(fields) == len(headers):  # no name repeats: no scan needed
        return [fields[name]]
    return [value for field, value in headers if field == name]


def _list_elements(values: list[bytes]) -> list[bytes]:
    """Split ``#rule`` lists (RFC 9110 §5.6.1), lower-cased, empty elements dropped."""
    elements = []
    for value in values:
        for element in value.split(b","):
            element = element.strip(b" \t").lower()
            if element:
                elements.append(element)
    return elements


def _content_length(values: list[bytes]) -> int:
    # RFC 9110 §8.6: a list of identical values ("5, 5", or repeated fields)
    # may be taken as that one value; differing values are an unrecoverable
    # framing error (RFC 9112 §6.3 rule 5).
    distinct = {element.strip(b" \t") for value in values for element in value.split(b",")}
    if b"" in distinct:
        shown = b", ".join(values).decode("latin-1")
        raise RemoteProtocolError(f"empty element in Content-Length: {shown!r}")
    if len(distinct) != 1:
        shown = b", ".join(values).decode("latin-1")
        raise RemoteProtocolError(f"conflicting Content-Length values: {shown!r}")
    (text,) = distinct
    # bytes.isdigit() is ASCII-only; int() alone would accept "+5", " 5", "5_0".
    if not text.isdigit():
        raise RemoteProtocolError(
            f"Content-Length is not a decimal number: {text.decode('latin-1')!r}"
        )
    if len(text) > 19 or int(text) > _MAX_CONTENT_LENGTH:
        raise RemoteProtocolError(f"Content-Length overflows: {text.decode('latin-1')!r}")
    return int(text)


def decide_framing(
    head_only: bool,
    connect: bool,
    status: int,
    http10: bool,
    headers: Headers,
    fields: dict[bytes, bytes],
) -> tuple[Framing, int, bool]:
    """Return ``(framing, content_length, keep_alive)`` for a final response.

    Args:
        head_only: the request was HEAD.
        connect: the request was CONNECT.
        status: the status code, 200 or more, or 101.
        http10: the response said HTTP/1.0.
        headers: the parsed header list.
        fields: ``dict(headers)``: O(1) lookups, and a length that tells
            whether any name repeats.

    Raises:
        RemoteProtocolError: the framing is ambiguous or invalid.

    """
    # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
    # "keep-alive" (RFC 9112 §C.2.2).
    unique = len(fields) == len(headers)
    connection = fields.get(b"connection")
    if connection is None:
        keep_alive = not http10
    elif unique and connection in _PLAIN_KEEP_ALIVE:  # the common case, no list parsing
        keep_alive = True
    else:
        options = _list_elements(_field_values(headers, fields, b"connection"))
        keep_alive = b"close" not in options and (not http10 or b"keep-alive" in options)

    # §6.3 rule 1: HEAD responses, 1xx, 204 and 304 end at the header
    # section whatever they say about length.
    if head_only or status == 204 or status == 304:
        return _NONE, 0, keep_alive
    # §6.3 rule 2 (and RFC 9110 §15.2.2 for 101): the connection becomes a
    # tunnel or another protocol right after the header section.
    if status == 101 or (connect and 200 <= status < 300):
        return _SWITCH, 0, False

    if b"transfer-encoding" in fields:
        transfer_encoding = _field_values(headers, fields, b"transfer-encoding")
        # RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
        # framing: it was likely forwarded by something that did not undo it.
        if http10:
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response (RFC 9112 §6.1)")
        # §6.3 rule 3: both present "ought to be handled as an error" — it is
        # the classic request-smuggling / response-splitting shape.
        if b"content-length" in fields:
            raise RemoteProtocolError(
                "both Content-Length and Transfer-Encoding (RFC 9112 §6.3: smuggling risk)"
            )
        codings = [
            coding.split(b";", 1)[0].rstrip(b" \t") for coding in _list_elements(transfer_encoding)
        ]
        unknown = [coding for coding in codings if coding not in _KNOWN_TRANSFER_CODINGS]
        if unknown or not codings:
            shown = b", ".join(transfer_encoding).decode("latin-1")
            raise RemoteProtocolError(f"unknown transfer coding in Transfer-Encoding: {shown!r}")
        # §6.1: chunked is applied at most once, and only as the final coding.
        if b"chunked" in codings[:-1]:
            shown = b", ".join(transfer_encoding).decode("latin-1")
            raise RemoteProtocolError(
                f"chunked is not the only final coding in Transfer-Encoding: {shown!r}"
            )
        if codings[-1] == b"chunked":
            return _CHUNKED, 0, keep_alive
        # §6.3 rule 4: a response whose final coding is not chunked is
        # delimited by the server closing the connection.
        return _UNTIL_CLOSE, 0, False

    content_length = fields.get(b"content-length")
    if content_length is not None:
        # Fast path: one field, plain digits (bytes.isdigit is ASCII-only).
        if unique and content_length.isdigit() and len(content_length) < 19:
            length = int(content_length)
        else:  # §6.3 rules 5 and 6
            length = _content_length(_field_values(headers, fields, b"content-length"))
        return (_LENGTH if length else _NONE), length, keep_alive

    # §6.3 rule 8: otherwise the body runs until the connection closes.
    return _UNTIL_CLOSE, 0, False
