"""Events out, bytes in the other direction: request serialisation.

Strategy
--------
Validate everything before producing a single byte, so an invalid request is
never half-sent. Validation is set arithmetic done in C: all field names are
joined and every token byte deleted with ``bytes.translate``; anything left
is an invalid byte somewhere. The same for values and the target. Only on
failure does ``_diagnose`` find which field it was, for the message.

Framing is never taken from the caller's headers: the caller says
``content_length=`` or ``chunked=True`` and the writer adds the field, so the
head and the body cannot disagree (a Content-Length header that lies about
the body is how half-sent requests and desynchronised connections happen).
:class:`BodyWriter` then enforces that the body matches what the head said.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._abnf import FIELD_VALUE_BYTES, TARGET_BYTES, TOKEN_BYTES
from ._diagnose import explain_name, explain_value
from ._errors import LocalProtocolError

__all__ = ["BodyWriter", "serialize_request", "serialize_request_head"]

HeaderPairs = Sequence[tuple[bytes, bytes]]

# RFC 9110 §6.5.1: fields a sender must not put in a trailer section —
# framing, routing and the like — beyond what we allow for any trailer.
_VALUE_BYTES_OR_LF = FIELD_VALUE_BYTES + b"\n"

_FORBIDDEN_TRAILERS = frozenset({b"content-length", b"transfer-encoding", b"host", b"trailer"})


def _check_fields(headers: HeaderPairs, what: str) -> list[bytes]:
    """Validate field lines; return the lower-cased names."""
    names, values = zip(*headers, strict=True)
    if b"" in names or b"".join(names).translate(None, TOKEN_BYTES):
        for name in names:
            reason = explain_name(name)
            if reason:
                raise LocalProtocolError(f"{what}: {reason}")
    # One pass over every value at once, LF-separated: only value bytes, no
    # LF inside a value, and no SP / HTAB next to a separator (RFC 9110
    # §5.5: a value neither starts nor ends with whitespace; the recipient
    # would strip it and the value would silently change).
    joined = b"\n" + b"\n".join(values) + b"\n"
    if (
        joined.translate(None, _VALUE_BYTES_OR_LF)
        or joined.count(b"\n") != len(values) + 1
        or b"\n " in joined
        or b" \n" in joined
        or b"\n\t" in joined
        or b"\t\n" in joined
    ):
        for name, value in headers:
            reason = explain_value(name, value)
            if reason:
                raise LocalProtocolError(f"{what}: {reason}")
    # Names are tokens now, so LF cannot occur inside one: a safe separator.
    return b"\n".join(names).lower().split(b"\n")


def serialize_request_head(
    method: bytes,
    target: bytes,
    headers: HeaderPairs,
    *,
    content_length: int | None = None,
    chunked: bool = False,
) -> bytes:
    """Serialise a request line and header section.

    Args:
        method: the method token, e.g. ``b"GET"``.
        target: the request-target, e.g. ``b"/path?q=1"``.
        headers: ``(name, value)`` pairs, written in order; exactly one must
            be ``Host`` (RFC 9112 §3.2). Content-Length and Transfer-Encoding
            are not allowed here: say ``content_length=`` or ``chunked=``.
        content_length: the body's length in bytes; adds Content-Length.
        chunked: the body is sent with chunked transfer coding.

    Returns:
        The head, ending with the empty line.

    Raises:
        LocalProtocolError: any part is invalid; the message names it.

    """
    if not method or method.translate(None, TOKEN_BYTES):
        raise LocalProtocolError(f"method {method!r} is not a token (RFC 9110 §9.1)")
    if not target or target.translate(None, TARGET_BYTES):
        raise LocalProtocolError(
            f"request target {target!r} is empty or contains whitespace, control or "
            "non-ASCII bytes (RFC 9112 §3.2)"
        )
    if not headers:
        raise LocalProtocolError("request has no Host header (RFC 9112 §3.2)")
    names = _check_fields(headers, "request header")
    hosts = names.count(b"host")
    if hosts != 1:
        raise LocalProtocolError(
            f"request must have exactly one Host header, has {hosts} (RFC 9112 §3.2)"
        )
    if b"content-length" in names or b"transfer-encoding" in names:
        raise LocalProtocolError(
            "Content-Length / Transfer-Encoding are set by content_length= or chunked=, "
            "not as headers"
        )
    if chunked:
        if content_length is not None:
            raise LocalProtocolError("content_length and chunked are mutually exclusive")
        framing = b"\r\nTransfer-Encoding: chunked"
    elif content_length is not None:
        if isinstance(content_length, bool) or not isinstance(content_length, int):
            raise TypeError(f"content_length must be an int, not {type(content_length).__name__}")
        if content_length < 0:
            raise LocalProtocolError(f"content_length must be >= 0, got {content_length}")
        framing = b"\r\nContent-Length: %d" % content_length
    else:
        framing = b""
    lines = b"\r\n".join(map(b": ".join, headers))
    return b"%s %s HTTP/1.1\r\n%s%s\r\n\r\n" % (method, target, lines, framing)


def serialize_request(
    method: bytes, target: bytes, headers: HeaderPairs, body: bytes | None = None
) -> bytes:
    """Serialise a whole request whose body is known up front.

    ``body=None`` sends no framing field (a GET); any ``bytes``, even empty,
    sends ``Content-Length``.

    Raises:
        LocalProtocolError: as for :func:`serialize_request_head`.

    """
    if body is None:
        return serialize_request_head(method, target, headers)
    head = serialize_request_head(method, target, headers, content_length=len(body))
    return head + body if body else head


class BodyWriter:
    """Frames a request body sent in pieces, and holds it to its head.

    With ``content_length=n`` the pieces pass through unchanged, but more
    than ``n`` bytes, or fewer by :meth:`end`, raise. With
    ``content_length=None`` each piece becomes one chunk (RFC 9112 §7.1).

    After any error the writer refuses further use: the request is broken
    and its connection must not be reused.
    """

    __slots__ = ("_chunked", "_done", "_remaining")

    def __init__(self, content_length: int | None = None) -> None:
        if content_length is not None:
            if isinstance(content_length, bool) or not isinstance(content_length, int):
                raise TypeError(
                    f"content_length must be an int, not {type(content_length).__name__}"
                )
            if content_length < 0:
                raise ValueError(f"content_length must be >= 0, got {content_length}")
        self._chunked = content_length is None
        self._remaining = content_length or 0
        self._done = False

    @property
    def chunked(self) -> bool:
        """Whether the body is chunked."""
        return self._chunked

    def write(self, data: bytes) -> bytes:
        """Return the bytes to send for this piece of the body.

        Raises:
            LocalProtocolError: the body would exceed its Content-Length, or
                the writer has ended.

        """
        if self._done:
            raise LocalProtocolError("the body has already ended")
        size = len(data)
        if self._chunked:
            # An empty chunk would read as the last chunk: send nothing.
            return b"%x\r\n%s\r\n" % (size, data) if size else b""
        if size > self._remaining:
            self._done = True
            raise LocalProtocolError(
                f"body longer than its Content-Length: {size - self._remaining} bytes too many"
            )
        self._remaining -= size
        return bytes(data)

    def end(self, trailers: HeaderPairs = ()) -> bytes:
        """Return the bytes that end the body (the last chunk and trailers).

        Raises:
            LocalProtocolError: fewer bytes were written than Content-Length
                said, trailers were given without chunked coding, or a
                trailer is invalid or not allowed in a trailer section.

        """
        if self._done:
            raise LocalProtocolError("the body has already ended")
        self._done = True
        if not self._chunked:
            if self._remaining:
                raise LocalProtocolError(
                    f"body ended {self._remaining} bytes short of its Content-Length"
                )
            if trailers:
                raise LocalProtocolError("trailers need a chunked body")
            return b""
        if not trailers:
            return b"0\r\n\r\n"
        names = _check_fields(trailers, "trailer")
        forbidden = _FORBIDDEN_TRAILERS.intersection(names)
        if forbidden:
            shown = b", ".join(sorted(forbidden)).decode()
            raise LocalProtocolError(f"not allowed in a trailer section: {shown} (RFC 9110 §6.5.1)")
        return b"0\r\n%s\r\n\r\n" % b"\r\n".join(map(b": ".join, trailers))
