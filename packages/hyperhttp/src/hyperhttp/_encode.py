"""The one request encoder: a request's HTTP/1.1 head or HTTP/2 field list, checked.

Strategy
--------
Every request passes here just before the wire, whatever built or changed
it (``build_request``, ``send(Request(...))``, auth flows, hooks): method,
target and fields are checked, never trusted (RFC 9110 §5.5, §9.1; RFC 9112
§3). Both protocols are built from the same checked fields
(:meth:`RequestEncoder.checked_fields`), and the body's framing is decided
here once for each: ``Content-Length`` for bytes and for a stream of known
length, chunked otherwise on HTTP/1.1 (RFC 9112 §6), the length or nothing
on HTTP/2 (RFC 9113 §8.1.1), ``Content-Length: 0`` for a body-less method
that may carry one (RFC 9110 §8.6).

What is remembered, all bounded: per origin, the HTTP/1.1 header block and
the HTTP/2 field list of the client's default fields; per (origin, method,
target), the whole HTTP/2 list of a request with no fields or body of its
own, for targets up to 256 characters. Each of these memos holds at most
1 024 entries, and the three together about 1 MiB (``memo_bytes``): past
either bound they are all dropped and rebuilt as requests come. Per
request, its checked head (``Request._wire``), keyed to the objects it was
built from, so a request changed afterwards is checked again. The client's
default fields are checked once per version of ``client.headers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hyperhttp_parser as hp
from hyperhttp_parser import TARGET_BYTES, TOKEN_BYTES

from .__about__ import __version__
from ._decoders import accept_encoding
from ._exceptions import LocalProtocolError
from ._http2.fields import CONNECTION_FIELDS
from ._http11 import asks_close
from ._models import CheckedHead

if TYPE_CHECKING:
    from ._headers import Headers
    from ._models import Request
    from ._urls import URL

__all__ = [
    "BODYLESS",
    "USER_AGENT",
    "RequestEncoder",
    "check_line",
    "check_method",
    "framing",
    "method_bytes",
    "stream_length",
    "wire_fields",
]

USER_AGENT = f"hyperhttp/{__version__}".encode("ascii")
#: Methods whose requests carry no body unless given one (no Content-Length: 0).
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "DELETE", "CONNECT"})
# Connection-specific fields have no place in HTTP/2 (RFC 9113 §8.2.2).
_H2_DROPPED = CONNECTION_FIELDS | {b"te"}  # (te: trailers is kept: see _te_trailers)
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
_MEMO_TARGET = 256  # longest request-target whose HTTP/2 header list is memoized
# The encoder's memos (per-origin blocks, HTTP/2 field lists) together: past
# either bound all of them are dropped and rebuilt as requests come.
_MEMO_ENTRIES = 1024  # per memo
_MEMO_BYTES = 1 << 20  # their fields' bytes, with a rough 64 per field of overhead


class RequestEncoder:
    """Turns requests into what goes on the wire, for one client (see the module docstring).

    ``default_fields``: the client's fields every request carries unless it
    sets its own (``use_defaults``); ``source``: the field list of the
    ``Headers`` they came from, compared by identity to notice a change;
    ``close_all``: those fields ask for ``Connection: close``.
    """

    def __init__(self) -> None:
        self.default_fields: list[tuple[bytes, bytes]] = []
        self.source: Any = None
        self.close_all = False
        self._blocks: dict[tuple[str, str, int], bytes] = {}
        self._h2_blocks: dict[tuple[str, str, int], list[tuple[bytes, bytes]]] = {}
        # Whole header lists of requests with no headers or body of their own.
        self._h2_lists: dict[tuple[Any, str, bytes], list[tuple[bytes, bytes]]] = {}
        self.memo_bytes = 0  # what the three memos hold (see _remember)

    def use_defaults(self, headers: Headers) -> None:
        """Build and validate the default fields from ``headers``; drop the per-origin memos.

        ``build_request`` and each attempt compare the field list of
        ``self.headers`` by identity (a :class:`Headers` binds a new list on
        every change): an edit to ``client.headers`` is what the next request
        sends, and the memos built from the old fields are dropped.
        """
        source = headers._list
        own = headers.raw
        defaults: list[tuple[bytes, bytes]] = [
            (b"User-Agent", USER_AGENT),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", accept_encoding()),
        ]
        for field, _ in own:
            lower = field.lower()
            defaults = [(n, v) for n, v in defaults if n.lower() != lower]
        fields = defaults + own
        try:  # the client's own fields are validated once per version, here
            hp.serialize_request_head(b"GET", b"/", [(b"Host", b"h"), *fields])
        except hp.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        self.default_fields = fields
        self.source = source
        # Connection: close among the client's own fields: no connection is reused.
        self.close_all = asks_close(headers._list)
        self._drop_memos()

    def _drop_memos(self) -> None:
        self._blocks.clear()
        self._h2_blocks.clear()
        self._h2_lists.clear()
        self.memo_bytes = 0

    def _remember(self, memo: dict[Any, Any], key: Any, value: Any, size: int) -> None:
        """Memoize ``value`` (about ``size`` bytes) within _MEMO_ENTRIES and _MEMO_BYTES."""
        if len(memo) >= _MEMO_ENTRIES or self.memo_bytes + size > _MEMO_BYTES:
            self._drop_memos()
        memo[key] = value
        self.memo_bytes += size

    def _block(self, url: URL) -> bytes:
        origin = url.origin
        block = self._blocks.get(origin)
        if block is None:
            fields = [(b"Host", url.host_header), *self.default_fields]
            head = hp.serialize_request_head(b"GET", b"/", fields)
            block = head[head.index(b"\r\n") + 2 : -2]
            self._remember(self._blocks, origin, block, len(block) + 64 * len(fields))
        return block

    def http11_head(self, request: Request) -> bytes:
        """Return the HTTP/1.1 head of ``request`` as it is now, validated (no body).

        Every HTTP/1.1 request passes here just before the wire (HTTP/2 ones
        through :meth:`h2_fields`), whatever built or changed it: method,
        target and fields are checked, never trusted (RFC 9112 §3, RFC 9110
        §5.5). A request without fields of its own takes the origin's block,
        checked once at ``__init__``; one with fields takes the memo of
        :meth:`checked_fields`. Framing comes from the body sent, each time.
        """
        headers = request._headers
        url = request.url
        method = request.method
        if headers is None or not headers._list:  # the hot path: inlined checks, no calls
            target = url.target
            if method not in _KNOWN_METHODS or not target or target.translate(None, TARGET_BYTES):
                check_line(method, target)  # raises, unless an unusual method is a token
            body = request.content
            if body is not None:
                length = b"Content-Length: %d\r\n" % len(body)
            elif request.stream is None and method in BODYLESS:
                length = b""
            else:
                length = framing(request)
            return b"%s %s HTTP/1.1\r\n%s%s\r\n" % (
                method.encode("ascii"),
                target,
                self._block(url),
                length,
            )
        checked = self.checked_fields(request)
        if request.content is None and request.stream is None and method in BODYLESS:
            return checked.head
        return checked.line_and_fields + framing(request) + b"\r\n"

    def checked_fields(self, request: Request) -> CheckedHead:
        """Return the validated head of a request with fields of its own.

        Memoized on the request, keyed to the method, the URL, the field list
        and the client's defaults it was built from (each change binds new
        objects): a request changed after ``build_request`` is checked again.
        """
        own = request.headers._list
        url = request.url
        method = request.method
        defaults = self.default_fields
        wire = request._wire
        if (
            wire is not None
            and wire.own is own
            and wire.url is url
            and wire.method is method
            and wire.defaults is defaults
        ):
            return wire
        target = url.target
        fields = self.fields(request)
        try:
            head = hp.serialize_request_head(method_bytes(method), target, fields)
        except hp.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc), request=request) from None
        wire = request._wire = CheckedHead(
            own, url, method, defaults, head[:-2], head, target, fields
        )
        return wire

    def proxy_head(self, request: Request, proxy_auth: bytes | None) -> bytes:
        """Return the head for a forward proxy: absolute-form, Proxy-Authorization when set."""
        url = request.url
        fields = [(n, v) for n, v in self.fields(request) if n.lower() != b"proxy-authorization"]
        if proxy_auth is not None:
            fields.append((b"Proxy-Authorization", proxy_auth))
        # Absolute-form (RFC 9112 §3.2.2), never with userinfo or fragment.
        target = b"%s://%s%s" % (url.scheme.encode("ascii"), url.host_header, url.target)
        try:
            head = hp.serialize_request_head(method_bytes(request.method), target, fields)
        except hp.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc), request=request) from None
        return head[:-2] + framing(request) + b"\r\n"

    def fields(self, request: Request) -> list[tuple[bytes, bytes]]:
        """Host, the client's default fields the request does not set, then its own."""
        own = request.headers.raw
        lower = {name.lower() for name, _ in own}
        if lower & {b"content-length", b"transfer-encoding", b"host"}:
            raise LocalProtocolError(
                "Host, Content-Length and Transfer-Encoding are set by the client", request=request
            )
        fields = [(b"Host", request.url.host_header)]
        fields += [(n, v) for n, v in self.default_fields if n.lower() not in lower]
        return fields + own

    def h2_fields(self, request: Request) -> list[tuple[bytes, bytes]]:
        """Return the HTTP/2 header list of a request, validated as for HTTP/1.1.

        Method, target and the request's own fields pass the same checks as
        the HTTP/1.1 head (:meth:`checked_fields`, memoized): Host,
        Content-Length and Transfer-Encoding set by the caller are refused;
        connection-specific fields are dropped (RFC 9113 §8.2.2), ``te``
        kept only as ``trailers``.
        """
        url = request.url
        headers = request._headers
        own = headers is not None and bool(headers._list)
        plain = not own and request.content is None and request.stream is None
        # Only short targets are memoized: a crawler's long URLs, each sent
        # once, would otherwise be kept (twice) until the entry cap.
        plain = plain and len(url.target) <= _MEMO_TARGET
        if plain:
            key = (url.origin, request.method, url.target)
            cached = self._h2_lists.get(key)
            if cached is not None:  # method and target were checked as it was made
                return cached
        if own:
            # Built from what was checked (the memo's target and fields), never
            # read again from the request: nothing unchecked reaches the wire.
            checked = self.checked_fields(request)
            target = checked.target
        else:
            target = url.target
            check_line(request.method, target)
        fields = [
            (b":method", request.method.encode("ascii")),
            (b":scheme", b"https" if url.scheme == "https" else b"http"),
            (b":authority", url.host_header),
            (b":path", target),
        ]
        if own:  # Host first, then the defaults not overridden, then the request's own
            for name, value in checked.fields[1:]:
                lower = name.lower()
                if lower not in _H2_DROPPED or _te_trailers(lower, value):
                    fields.append((lower, value))
        block = self._h2_blocks.get(url.origin)
        if block is None:
            block = self._h2_block(url.origin)
        if not own:
            fields += block
        body = request.content
        if body is not None:
            fields.append((b"content-length", b"%d" % len(body)))
        elif request.stream is None:
            if request.method not in BODYLESS:
                fields.append((b"content-length", b"0"))
        else:
            length = stream_length(request)
            if length is not None:
                fields.append((b"content-length", b"%d" % length))
        if plain:
            self._remember(self._h2_lists, key, fields, _size(fields))
        return fields

    def _h2_block(self, origin: tuple[str, str, int]) -> list[tuple[bytes, bytes]]:
        """Build and memoize the origin's HTTP/2 list of the client's default fields.

        Names lowercased, connection-specific fields dropped (RFC 9113 §8.2.2).
        """
        block = [
            (name.lower(), value)
            for name, value in self.default_fields
            if name.lower() not in _H2_DROPPED
        ]
        self._remember(self._h2_blocks, origin, block, _size(block))
        return block


def _size(fields: list[tuple[bytes, bytes]]) -> int:
    """Return what a memoized field list holds, roughly (64 bytes of overhead per field)."""
    return sum(len(name) + len(value) + 64 for name, value in fields)


def _te_trailers(lower: bytes, value: bytes) -> bool:
    """Return whether a dropped field is ``te: trailers``, kept on HTTP/2 (RFC 9113 §8.2.2)."""
    return lower == b"te" and value.strip().lower() == b"trailers"


def method_bytes(method: str) -> bytes:
    """Return the method as bytes for the parser's checks (a non-ASCII one fails as "?")."""
    return method.encode("ascii", "replace")


def check_line(method: str, target: bytes) -> None:
    """Refuse a method that is not a token (RFC 9110 §9.1) or a bad request-target (RFC 9112 §3.2).

    The usual methods pass on one set lookup; a target must be non-empty
    printable ASCII (no SP, CR, LF, NUL: nothing that could end the line).
    """
    check_method(method)
    if not target or target.translate(None, TARGET_BYTES):
        raise LocalProtocolError(
            f"request target {target!r} is empty or holds whitespace, control or non-ASCII"
            " bytes (RFC 9112 §3.2)"
        )


def check_method(method: str) -> None:
    """Refuse a method that is not a token (RFC 9110 §9.1); the usual ones pass on a lookup."""
    if method not in _KNOWN_METHODS and (
        not isinstance(method, str)
        or not method
        or method.encode("ascii", "replace").translate(None, TOKEN_BYTES)
    ):
        raise LocalProtocolError(f"method {method!r} is not a token (RFC 9110 §9.1)")


def stream_length(request: Request) -> int | None:
    """Return the declared length of a streamed body (``request.stream_length``), checked."""
    length = request.stream_length
    if length is not None and (type(length) is not int or length < 0):
        raise LocalProtocolError(f"a streamed body's length must be an int >= 0, not {length!r}")
    return length


def framing(request: Request) -> bytes:
    """Return the framing field of the body sent now (RFC 9112 §6.2, §6.3)."""
    if request.stream is not None:
        length = stream_length(request)
        if length is None:
            return b"Transfer-Encoding: chunked\r\n"
        return b"Content-Length: %d\r\n" % length  # a stream of known size (files on disk)
    body = request.content
    if body is not None:
        return b"Content-Length: %d\r\n" % len(body)
    if request.method not in BODYLESS:
        return b"Content-Length: 0\r\n"  # RFC 9110 §8.6: a POST without a body
    return b""


def wire_fields(encoder: RequestEncoder, request: Request) -> list[tuple[bytes, bytes]]:
    """Return the fields the wire would carry for ``request``, checked, nothing sent.

    Host, the client's default fields the request does not set, its own, and
    the framing field of its body: for a transport with no wire (a mock, an
    app in this process) that must see what a server would.

    Raises:
        LocalProtocolError: a method, target or field the wire would refuse.

    """
    encoder.http11_head(request)  # the request line and fields, checked
    fields = encoder.fields(request)
    line = framing(request)
    if line:
        name, _, value = line[:-2].partition(b": ")
        fields.append((name, value))
    return fields
