"""Request and Response."""

from __future__ import annotations

import codecs
import datetime
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _jsonlib
from ._decoders import CHUNK, Decoder, make_decoder
from ._exceptions import HTTPError, HTTPStatusError, ResponseTooLarge
from ._headers import Headers
from ._sse import DEFAULT_MAX_EVENT, ServerSentEvent, SSEDecoder, check_event_stream
from ._urls import URL, parse_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable

    from ._cookies import Cookies

__all__ = ["CheckedHead", "Request", "Response", "ResponseNotRead"]


class ResponseNotRead(HTTPError):
    """``content`` / ``text`` / ``json()`` of a streamed response before ``aread()``."""


class CheckedHead(NamedTuple):
    """A request's head as the client validated it, and what it was built from.

    Valid while the request's field list, URL, method and the client's default
    fields are the very objects it was built from (every change binds new
    ones): the client then sends ``head`` (HTTP/1.1) or ``target`` and
    ``fields`` (HTTP/2), never reading the request again.
    """

    own: list[tuple[bytes, bytes, bytes]]  # the request's Headers._list
    url: URL
    method: str
    defaults: list[tuple[bytes, bytes]]  # the client's default fields
    line_and_fields: bytes  # request line and fields, without the final CRLF
    head: bytes  # the whole head, for a request without a body
    target: bytes
    fields: list[tuple[bytes, bytes]]  # Host, defaults not overridden, the request's own


class Request:
    """What is sent: method, URL, headers and a body (bytes or an async iterable).

    Every request has fields of its own: ``headers`` is created on first use
    when none were given (two requests never share a mutable object), and a
    request without fields costs no :class:`Headers` at all. ``_wire`` is the
    client's memo of the validated head, keyed to the method, URL and field
    list it was built from; any change to those makes the client build and
    validate the head again before sending.
    """

    __slots__ = (
        "_headers",
        "_wire",
        "content",
        "cookies",
        "extensions",
        "method",
        "stream",
        "stream_length",
        "stream_replayable",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: URL | str,
        headers: Headers | Any = None,
        content: bytes | str | None = None,
        stream: AsyncIterable[bytes] | None = None,
    ) -> None:
        # As httpx.Request: a str URL is parsed, a mapping or pairs of fields
        # become Headers, str content is UTF-8. The client's own calls pass
        # the final types: three type checks are all they pay.
        if type(url) is not URL:
            url = parse_url(url)  # TypeError unless str; InvalidURL
        if headers is not None and type(headers) is not Headers:
            headers = Headers(headers)
        if content is not None and type(content) is not bytes:
            content = _content_bytes(content)
        self.method = method
        self.url = url
        self._headers = headers
        self.content = content
        self.stream = stream
        self.extensions: dict[str, Any] = {}  # the user's: the client keeps nothing there
        # A stream's declared length (None: sent chunked) and whether it can be read again.
        self.stream_length: int | None = None
        self.stream_replayable = False
        self.cookies: Cookies | None = None  # this request's own cookies= (with the jar's)
        self._wire: CheckedHead | None = None

    @property
    def headers(self) -> Headers:
        """The request's own fields (created empty on first use)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers()
        return headers

    @headers.setter
    def headers(self, headers: Headers) -> None:
        self._headers = headers if isinstance(headers, Headers) else Headers(headers)

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again: bytes, none, or a stream that can be re-read."""
        return self.stream is None or self.stream_replayable

    def copy(self) -> Request:
        """Return a copy with its own fields (safe to change) and no cached head."""
        own = self._headers
        copy = Request(
            self.method, self.url, None if own is None else Headers(own), self.content, self.stream
        )
        copy.extensions.update(self.extensions)
        copy.stream_length = self.stream_length
        copy.stream_replayable = self.stream_replayable
        copy.cookies = self.cookies
        return copy

    def __repr__(self) -> str:
        return f"<Request [{self.method} {self.url}]>"  # str(URL) never shows a password


def _content_bytes(content: object) -> bytes:
    """Return a request body given as str (UTF-8) or a bytes-like object as bytes."""
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    kind = type(content).__name__
    raise TypeError(f"content must be bytes or str (a stream goes in stream=), not {kind}")


class BodySource:
    """What a response reads its body from (a connection's exchange)."""

    async def read_all(self) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def iter_raw(self) -> AsyncIterator[bytes]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        """Finish: give the connection back (if the body was read whole) or drop it."""
        raise NotImplementedError


_REASONS: dict[int, str] = {}


def _reason(status: int) -> str:
    if not _REASONS:
        from http import HTTPStatus

        _REASONS.update({s.value: s.phrase for s in HTTPStatus})
    return _REASONS.get(status, "")


def _text_encoding(name: str) -> str:
    """Return the codec name for a charset when it is a text encoding, else "utf-8"."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return "utf-8"
    # CodecInfo._is_text_encoding: False for bytes-to-bytes and str-to-str codecs
    # (zlib, base64, rot13), the flag bytes.decode() itself checks.
    return info.name if getattr(info, "_is_text_encoding", True) else "utf-8"


class Response:
    """A response (docs/api.md). Verb helpers return it with ``content`` read.

    Body rules: HEAD, 204 and 304 responses and empty bodies are never decoded
    (whatever their Content-Encoding); ``max_decompressed_size`` bounds what a
    decoder produces, never an identity body (the raw size is the connection's
    ``max_response_size``); the charset is a text encoding or utf-8.
    """

    __slots__ = (
        "_closed",
        "_content",
        "_decoded_limit",
        "_ended",
        "_headers",
        "_json",
        "_on_close",
        "_raw_headers",
        "_source",
        "_started",
        "_text",
        "history",
        "http_version",
        "reason_phrase",
        "request",
        "status_code",
        "url",
    )

    def __init__(
        self,
        status_code: int,
        *,
        headers: Headers | list[tuple[bytes, bytes]] | None = None,
        content: bytes | None = None,
        request: Request | None = None,
        reason_phrase: str | None = None,
        http_version: str = "HTTP/1.1",
        source: BodySource | None = None,
        started: float | None = None,
        decoded_limit: int | None = None,
        on_close: Callable[[Response], None] | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason_phrase = _reason(status_code) if reason_phrase is None else reason_phrase
        self.http_version = http_version
        if isinstance(headers, Headers):
            self._headers: Headers | None = headers
            self._raw_headers: list[tuple[bytes, bytes]] | None = None
        else:
            self._headers = None
            self._raw_headers = headers or []
        self.request = request
        self.url = request.url if request is not None else None
        self.history: list[Response] = []
        self._source = source
        self._content = content
        self._text: str | None = None
        self._json: Any = None
        self._closed = source is None
        self._started = time.perf_counter() if started is None else started
        self._decoded_limit = decoded_limit
        self._on_close = on_close
        self._ended: float | None = None  # perf_counter() at close: elapsed is built when asked

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from the start of the attempt to the response's close (0 until closed)."""
        ended = self._ended
        if ended is None:
            return datetime.timedelta(0)
        return datetime.timedelta(seconds=ended - self._started)

    # ------------------------------------------------------------ head

    @property
    def headers(self) -> Headers:
        """The response fields (case-insensitive, multi-valued)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_raw(self._raw_headers or [])
        return headers

    def _raw_values(self, name: bytes) -> list[bytes]:
        if self._raw_headers is not None:
            return [v for n, v in self._raw_headers if n == name]
        return self.headers.get_raw(name)

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        """A 3xx with a Location."""
        return 300 <= self.status_code < 400 and bool(self._raw_values(b"location"))

    def raise_for_status(self) -> Response:
        """Raise :class:`HTTPStatusError` for 4xx and 5xx; return self otherwise."""
        if 400 <= self.status_code < 600:
            kind = "Client error" if self.status_code < 500 else "Server error"
            if self.request is None:  # a Response built by hand (as httpx says)
                raise RuntimeError(
                    "cannot call raise_for_status(): this response has no request"
                    " (pass request= when building a Response)"
                )
            message = f"{kind} '{self.status_code} {self.reason_phrase}' for url '{self.url}'"
            raise HTTPStatusError(message, request=self.request, response=self)
        return self

    # ------------------------------------------------------------ body

    @property
    def content(self) -> bytes:
        """The decoded body; a streamed response must be read first."""
        if self._content is None:
            raise ResponseNotRead("the response body has not been read: await response.aread()")
        return self._content

    @property
    def encoding(self) -> str:
        """The charset from Content-Type when it names a text encoding, else utf-8.

        Python's codec registry also holds codecs that are no charset: bytes to
        bytes (``zlib``, ``base64``, ``bz2``) and str to str (``rot13``). A
        server naming one gets the default instead, so ``.text`` and
        ``aiter_text()`` never run a decompressor (under ``python -O`` the
        zlib codec's own guard is gone) nor fail with LookupError.
        """
        for value in self._raw_values(b"content-type"):
            for param in value.split(b";")[1:]:
                key, _, charset = param.strip().partition(b"=")
                if key.strip().lower() == b"charset":
                    return _text_encoding(charset.strip().strip(b"\"'").decode("latin-1"))
        return "utf-8"

    @property
    def text(self) -> str:
        """The body as text: charset from Content-Type, else UTF-8 with replacement."""
        if self._text is None:
            self._text = self.content.decode(self.encoding, errors="replace")
        return self._text

    def json(self, **kwargs: Any) -> Any:
        """Parse the body as JSON (orjson when installed)."""
        return _jsonlib.loads(self.content, **kwargs)

    def _decoder(self) -> Decoder | None:
        """Return the Content-Encoding decoder; None for identity or a response without content.

        HEAD, 204 and 304 responses have no content (RFC 9110 §6.4.1) even
        when they carry the Content-Encoding a GET would have had (nginx sends
        it): nothing to decode.
        """
        values = self._raw_values(b"content-encoding")
        if not values or self.status_code in (204, 304) or self.status_code < 200:
            return None
        request = self.request
        if request is not None and request.method == "HEAD":
            return None
        return make_decoder(values)

    async def aread(self) -> bytes:
        """Read the whole body (a no-op returning ``content`` once read)."""
        if self._content is not None:
            return self._content
        source = self._source
        if source is None:
            self._content = b""
            return b""
        try:
            decoder = self._decoder()  # a refused chain fails before the body is read
            raw = await source.read_all()
            if decoder is None or not raw:  # no bytes: nothing to decode
                content = raw
            else:
                parts = []
                size = 0
                limit = self._decoded_limit
                for piece in decoder.decode(raw):
                    size += len(piece)
                    if limit is not None and size > limit:
                        raise ResponseTooLarge(f"decoded response body over {limit} bytes")
                    parts.append(piece)
                parts.extend(decoder.flush())
                content = b"".join(parts)
            self._content = content
        except HTTPError as exc:
            self._name_request(exc)
            raise
        finally:
            self._close()
        return content

    def _name_request(self, error: HTTPError) -> None:
        """Give an error raised while the body was read the request it belongs to."""
        if error.request is None:
            error.request = self.request

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the body as received (not decoded)."""
        if self._content is not None:
            raise RuntimeError("the body was read already: use content (decoded)")
        source = self._source
        if source is None:
            return
        try:
            async for chunk in source.iter_raw():
                yield chunk
        except HTTPError as exc:
            self._name_request(exc)
            raise
        finally:
            await self.aclose()

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the decoded body in pieces (``content`` in slices if it was read already)."""
        if self._content is not None:
            size = chunk_size or CHUNK
            for at in range(0, len(self._content), size):
                yield self._content[at : at + size]
            return
        try:
            decoder = self._decoder()
        except BaseException:
            await self.aclose()
            raise
        if decoder is None:  # identity: max_decompressed_size bounds decoders only
            async for raw in self.aiter_raw():
                yield raw
            return
        limit = self._decoded_limit
        size_out = 0
        seen = False
        async for raw in self.aiter_raw():
            seen = True
            for piece in decoder.decode(raw):
                size_out += len(piece)
                if limit is not None and size_out > limit:
                    raise ResponseTooLarge(f"decoded response body over {limit} bytes")
                yield piece
        if seen:  # no bytes at all: nothing to decode, nothing truncated
            for piece in decoder.flush():
                yield piece

    async def aiter_text(self) -> AsyncIterator[str]:
        """Yield the decoded body as text, incrementally decoded."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        async for chunk in self.aiter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Yield the text body line by line (without line endings)."""
        pending = ""
        async for text in self.aiter_text():
            pending += text
            lines = pending.splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            for line in lines:
                yield line.rstrip("\r\n")
        if pending:
            yield pending

    async def aiter_sse(
        self, *, max_event_size: int = DEFAULT_MAX_EVENT
    ) -> AsyncIterator[ServerSentEvent]:
        """Yield the body's Server-Sent Events (the WHATWG event-stream format; see ``_sse``).

        Raises:
            SSEError: the response is not ``text/event-stream``, or a line or
                an event's data is over ``max_event_size`` bytes.

        """
        check_event_stream(self, status=False)
        decoder = SSEDecoder(max_event_size)
        async for chunk in self.aiter_bytes():
            for event in decoder.feed(chunk):
                yield event

    async def aclose(self) -> None:
        """Finish with the response; an unread body closes its connection."""
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ended = time.perf_counter()
        if self._source is not None:
            self._source.close()
        if self._on_close is not None:
            self._on_close(self)

    @property
    def is_closed(self) -> bool:
        """Whether the body is finished with."""
        return self._closed

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
