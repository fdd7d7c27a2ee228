"""A forward HTTP proxy on loopback for the proxy tests (in the test's event loop).

What it does
------------
- ``CONNECT host:port`` opens a TCP connection to the target, answers
  ``200 Connection established`` and then copies bytes both ways. When one
  side stops sending, the other is told so (half-close) and the tunnel ends
  once both have; then the client connection is closed. Targets other than
  127.0.0.1, ::1 and localhost get 403: the tests never reach past loopback.
- Absolute-form requests for plain http (``GET http://127.0.0.1:PORT/path``)
  are forwarded over a fresh upstream connection in origin-form, without the
  hop-by-hop fields (Proxy-Authorization, Proxy-Connection, Connection and
  what it names, ...) and with ``Connection: close``. The response is parsed
  with ``hyperhttp_parser`` and streamed back re-framed: Content-Length when
  the origin sent one, otherwise chunked, so the client connection stays
  alive whatever the origin's framing (unless the client asked to close).
- ``auth=(user, password)``: any request without matching
  ``Proxy-Authorization: Basic ...`` gets 407 with
  ``Proxy-Authenticate: Basic realm="test"``; the connection stays usable.
- ``refuse_status=N``: every CONNECT (after the auth check) gets status N with
  a short body.

What it records: ``connections`` (client connections accepted), ``requests``
(every request head, CONNECT included), ``tunnels`` ((host, port) of each
tunnel opened, in order) and ``forwarded`` (method, absolute URL and the
header fields sent upstream for each forwarded request).

Every read is bounded: request heads by :data:`MAX_HEAD_SIZE`, request bodies
by :data:`MAX_BODY_SIZE`, socket reads by :data:`READ_SIZE`. ``aclose()`` (or
leaving ``async with``) aborts every connection it opened and waits for its
handlers, so nothing is left for the leak checks in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import http
import re
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlsplit

import hyperhttp_parser as hp

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

__all__ = ["ALLOWED_TARGETS", "ConnectProxy", "Forwarded", "RequestHead"]

#: The largest request head accepted (431 beyond), as the client's parser allows for responses.
MAX_HEAD_SIZE = 64 * 1024
#: The largest request body forwarded (413 beyond); tests send far less.
MAX_BODY_SIZE = 16 * 1024 * 1024
#: One read from a socket.
READ_SIZE = 64 * 1024
#: How long a connection closed after an error keeps reading what the client still sends.
LINGER_TIME = 1.0
#: How long aclose() lets handlers finish after their connections were aborted.
CLOSE_GRACE = 5.0
#: Where tunnels and forwarded requests may go: loopback only.
ALLOWED_TARGETS = frozenset({"127.0.0.1", "::1", "localhost"})

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2
_FIELD_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")  # RFC 9110 §5.5: no CTLs but HTAB
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_PORT = re.compile(r"[0-9]{1,5}")
# RFC 9110 §7.6.1: hop-by-hop fields, never forwarded; and the framing we redo.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class RequestHead(NamedTuple):
    """A request head as the proxy received it (names as sent, latin-1 text)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def get_all(self, name: str) -> list[str]:
        """Every value of the field ``name`` (case-insensitive), in order."""
        lower = name.lower()
        return [value for key, value in self.headers if key.lower() == lower]

    def tokens(self, name: str) -> set[str]:
        """Return the comma-separated tokens of every ``name`` field, lower-cased."""
        return {
            token.strip().lower()
            for value in self.get_all(name)
            for token in value.split(",")
            if token.strip()
        }

    @property
    def keep_alive(self) -> bool:
        """Whether the client's connection may carry another request (RFC 9112 §9.3)."""
        connection = self.tokens("connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


class Forwarded(NamedTuple):
    """One forwarded request: method, absolute URL, header fields sent upstream."""

    method: str
    url: str
    headers: list[tuple[str, str]]


class _Reject(Exception):
    """Answer the request with ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ConnectProxy:
    """A forward proxy on loopback; use as ``async with ConnectProxy() as proxy``.

    Args:
        auth: ``(user, password)`` that every request must present in
            ``Proxy-Authorization: Basic``; None accepts everything.
        refuse_status: answer every CONNECT with this status instead of
            opening a tunnel.
        host: the loopback address to listen on.

    """

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        refuse_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if host not in ALLOWED_TARGETS:
            raise ValueError(f"the test proxy listens on loopback only, not {host!r}")
        if refuse_status is not None and not 100 <= refuse_status <= 599:
            raise ValueError(f"refuse_status must be an HTTP status, not {refuse_status!r}")
        self.auth = auth
        self.refuse_status = refuse_status
        self.host = host
        self.port = 0
        self.connections = 0
        self.requests: list[RequestHead] = []
        self.tunnels: list[tuple[str, int]] = []
        self.forwarded: list[Forwarded] = []
        self._credentials = None if auth is None else f"{auth[0]}:{auth[1]}".encode()
        self._server: asyncio.Server | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the proxy URL without credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url_with_auth(self) -> str:
        """``http://user:pass@127.0.0.1:PORT`` (percent-encoded), or ``url`` without auth."""
        if self.auth is None:
            return self.url
        user, password = (quote(part, safe="") for part in self.auth)
        return self.url.replace("://", f"://{user}:{password}@", 1)

    async def start(self) -> ConnectProxy:
        """Listen on ``host``, port 0."""
        self._server = await asyncio.start_server(self._handle, self.host, 0, limit=MAX_HEAD_SIZE)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        """Stop listening, abort every connection, wait for the handlers."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        await asyncio.sleep(0)  # connections accepted just now start and see _closing
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=CLOSE_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ConnectProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ one client connection

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            if self._closing:
                return
            while await self._serve_one(reader, writer):
                pass
        except _Reject as exc:
            with contextlib.suppress(OSError):
                await _reply(writer, exc.status, f"{exc}\n".encode(), close=True)
                await _linger(reader, writer)
        except (OSError, asyncio.IncompleteReadError, hp.RemoteProtocolError):
            pass  # the peer went away or broke HTTP: drop the connection
        finally:
            await self._close(writer)
            self._tasks.discard(task)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        self._writers.discard(writer)

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(host, port, limit=READ_SIZE)
        self._writers.add(writer)
        return reader, writer

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection may carry another."""
        head = await _read_head(reader)
        if head is None:
            return False
        self.requests.append(head)
        if not self._authorized(head):
            await _read_body(reader, writer, head)
            await _reply(
                writer,
                407,
                b"proxy authentication required\n",
                [(b"Proxy-Authenticate", b'Basic realm="test"')],
                close=not head.keep_alive,
            )
            return head.keep_alive
        if head.method == "CONNECT":
            return await self._connect(reader, writer, head)
        return await self._forward(reader, writer, head)

    def _authorized(self, head: RequestHead) -> bool:
        if self._credentials is None:
            return True
        for value in head.get_all("proxy-authorization"):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "basic":
                continue
            try:
                if base64.b64decode(token.strip(), validate=True) == self._credentials:
                    return True
            except binascii.Error:
                continue
        return False

    # ------------------------------------------------------------ CONNECT

    async def _connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: RequestHead
    ) -> bool:
        host, port = _authority(head.target)
        if self.refuse_status is not None:
            await _reply(writer, self.refuse_status, b"refused by the test proxy\n")
            return head.keep_alive
        if host not in ALLOWED_TARGETS:
            await _reply(writer, 403, b"loopback targets only\n")
            return head.keep_alive
        try:
            upstream_reader, upstream = await self._open(host, port)
        except OSError as exc:
            await _reply(writer, 502, f"cannot reach {host}:{port}: {exc}\n".encode())
            return head.keep_alive
        try:
            self.tunnels.append((host, port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            async with asyncio.TaskGroup() as group:
                group.create_task(_pump(reader, upstream, writer))
                group.create_task(_pump(upstream_reader, writer, upstream))
        finally:
            await self._close(upstream)
        return False  # the connection was the tunnel's

    # ------------------------------------------------------------ absolute-form

    async def _forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: RequestHead
    ) -> bool:
        url = head.target
        if not url[:7].lower() == "http://":
            raise _Reject(400, "a proxy expects an absolute http:// URL (or CONNECT)")
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or ""), parts.port or 80
        except ValueError as exc:
            raise _Reject(400, f"bad URL: {exc}") from None
        if not host:
            raise _Reject(400, "no host in the URL")
        body = await _read_body(reader, writer, head)
        if host not in ALLOWED_TARGETS:
            await _reply(writer, 403, b"loopback targets only\n", close=not head.keep_alive)
            return head.keep_alive
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = _upstream_headers(head, parts.netloc.rpartition("@")[2], len(body))
        self.forwarded.append(Forwarded(head.method, url, headers))
        try:
            upstream_reader, upstream = await self._open(host, port)
        except OSError as exc:
            message = f"cannot reach {host}:{port}: {exc}\n".encode()
            await _reply(writer, 502, message, close=not head.keep_alive)
            return head.keep_alive
        try:
            lines = [f"{head.method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in headers)]
            upstream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await upstream.drain()
            return await _relay_response(upstream_reader, writer, head)
        finally:
            await self._close(upstream)


# ------------------------------------------------------------------ helpers


async def _read_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """Read and check one request head; None when the client closed between requests."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _Reject(400, "the connection closed inside a request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _Reject(431, f"request head over {MAX_HEAD_SIZE} bytes") from None
    lines = raw[:-4].split(b"\r\n")
    while lines and not lines[0]:  # RFC 9112 §2.2: empty lines before a request
        del lines[0]
    if not lines:
        raise _Reject(400, "empty request")
    if any(b"\n" in line or b"\r" in line for line in lines):
        raise _Reject(400, "bare CR or LF in the head")  # RFC 9112 §2.2
    request_line = lines[0].split(b" ")
    if (
        len(request_line) != 3
        or not _TOKEN.fullmatch(request_line[0])
        or not request_line[1]
        or request_line[2] not in (b"HTTP/1.1", b"HTTP/1.0")
    ):
        raise _Reject(400, f"bad request line {lines[0]!r}")  # RFC 9112 §3
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise _Reject(400, f"bad field line {line!r}")  # RFC 9112 §5
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    method, target, version = (part.decode("latin-1") for part in request_line)
    return RequestHead(method, target, version, headers)


async def _read_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: RequestHead
) -> bytes:
    """Read the request's body as its framing says (RFC 9112 §6.3), bounded."""
    codings = [token for value in head.get_all("transfer-encoding") for token in value.split(",")]
    lengths = {value.strip() for value in head.get_all("content-length")}
    if not codings and not lengths:
        return b""
    if codings and lengths:
        raise _Reject(400, "Content-Length with Transfer-Encoding")  # §6.3 rule 3: smuggling
    if codings and [c.strip().lower() for c in codings] != ["chunked"]:
        raise _Reject(400, f"unsupported Transfer-Encoding {codings!r}")
    length: int | None = None  # None: chunked
    if lengths:
        (text,) = lengths if len(lengths) == 1 else {""}  # differing values: §6.3 rule 5
        if not text.isascii() or not text.isdigit():
            raise _Reject(400, f"bad Content-Length {head.get_all('content-length')!r}")
        length = int(text)
        if length > MAX_BODY_SIZE:
            raise _Reject(413, f"body over {MAX_BODY_SIZE} bytes")
        if length == 0:
            return b""
    if "100-continue" in head.tokens("expect"):  # RFC 9110 §10.1.1
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    if length is not None:
        return await reader.readexactly(length)
    return await _read_chunked(reader)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """Undo the chunked coding of a request body (RFC 9112 §7.1), trailers discarded."""
    body = bytearray()
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise _Reject(400, "chunk-size line too long") from None
        size_text = line[:-2].split(b";", 1)[0].rstrip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise _Reject(400, f"bad chunk size {line!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > MAX_BODY_SIZE:
            raise _Reject(413, f"body over {MAX_BODY_SIZE} bytes")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise _Reject(400, "chunk data not followed by CRLF")
    size = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # the trailer section
        size += len(line)
        if size > MAX_HEAD_SIZE:
            raise _Reject(431, "trailer section too large")
    return bytes(body)


def _authority(target: str) -> tuple[str, int]:
    """Split CONNECT's authority-form target (RFC 9110 §9.3.6): host and a required port."""
    host, colon, port_text = target.rpartition(":")
    if not colon or not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise _Reject(400, f"CONNECT needs host:port, not {target!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host:
        raise _Reject(400, f"IPv6 addresses must be bracketed: {target!r}")
    if not host:
        raise _Reject(400, f"no host in {target!r}")
    return host.lower(), int(port_text)


def _upstream_headers(head: RequestHead, authority: str, length: int) -> list[tuple[str, str]]:
    """Return the client's fields minus hop-by-hop and framing ones, plus Host, length, close."""
    named = head.tokens("connection")  # RFC 9110 §7.6.1: fields the client's Connection names
    skip = {name.decode() for name in _HOP_BY_HOP} | named | {"content-length", "expect", "host"}
    headers = [(name, value) for name, value in head.headers if name.lower() not in skip]
    headers.insert(0, ("Host", authority))  # RFC 9112 §3.2.2: Host from the target URI
    if length or head.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(length)))
    headers.append(("Connection", "close"))
    return headers


async def _relay_response(
    upstream: asyncio.StreamReader, writer: asyncio.StreamWriter, head: RequestHead
) -> bool:
    """Stream the origin's response to the client, re-framed; return keep-alive."""
    parser = hp.ResponseParser()
    parser.start(head.method.encode("latin-1"))
    keep_alive = head.keep_alive
    chunked = False
    sent_head = False
    try:
        while True:
            data = await upstream.read(READ_SIZE)
            for event in parser.feed(data) if data else parser.feed_eof():
                if isinstance(event, hp.ResponseHead):
                    chunked, keep_alive = _write_head(writer, event, head, keep_alive)
                    sent_head = True
                elif isinstance(event, hp.Data):
                    if chunked:
                        writer.write(b"%x\r\n%b\r\n" % (len(event.data), event.data))
                    else:
                        writer.write(event.data)
                elif isinstance(event, hp.EndOfMessage):
                    if chunked:
                        writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    return keep_alive
                # InformationalResponse: ours to the client was sent already, if any.
            await writer.drain()
            if not data:
                raise hp.RemoteProtocolError("the origin closed before the response ended")
    except hp.RemoteProtocolError as exc:
        if sent_head:
            raise  # mid-body: only dropping the connection tells the client
        await _reply(writer, 502, f"bad response from the origin: {exc}\n".encode(), close=True)
        return False


def _write_head(
    writer: asyncio.StreamWriter, event: hp.ResponseHead, head: RequestHead, keep_alive: bool
) -> tuple[bool, bool]:
    """Write the response head for the client; return (chunked, keep_alive)."""
    named = {
        token.strip().lower()
        for name, value in event.headers
        if name == b"connection"
        for token in value.split(b",")
    }
    fields = [
        (name, value)
        for name, value in event.headers
        if name not in _HOP_BY_HOP and name not in named and name != b"content-length"
    ]
    lengths = [value for name, value in event.headers if name == b"content-length"]
    has_te = any(name == b"transfer-encoding" for name, _ in event.headers)
    status = event.status_code
    chunked = False
    if head.method == "HEAD" or status in (204, 304) or status < 200:
        fields += [(b"content-length", value) for value in lengths[:1]]  # no body either way
    elif lengths and not has_te:
        fields.append((b"content-length", lengths[0]))
    elif head.version == "HTTP/1.1":
        fields.append((b"transfer-encoding", b"chunked"))
        chunked = True
    else:  # an HTTP/1.0 client: the body runs to the close
        keep_alive = False
    if not keep_alive:
        fields.append((b"connection", b"close"))
    elif head.version == "HTTP/1.0":
        fields.append((b"connection", b"keep-alive"))
    writer.write(_head(status, event.reason, fields))
    return chunked, keep_alive


def _head(status: int, reason: bytes, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %b" % (status, reason), *(n + b": " + v for n, v in fields)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _reply(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    fields: Iterable[tuple[bytes, bytes]] = (),
    *,
    close: bool = False,
) -> None:
    """Send a complete response of the proxy's own, framed by Content-Length."""
    try:
        reason = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b"Status"
    all_fields = [
        *fields,
        (b"Content-Type", b"text/plain"),
        (b"Content-Length", b"%d" % len(body)),
    ]
    if close:
        all_fields.append((b"Connection", b"close"))
    writer.write(_head(status, reason, all_fields) + body)
    await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close gently after an error: unread request bytes must not reset the response away.

    Closing a socket with unread input sends RST, and the client may lose the
    response it has not read yet; so end our side, then read (bounded, briefly)
    until the client closes, as servers' "lingering close" does.
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(LINGER_TIME):
            discarded = 0
            while discarded < MAX_BODY_SIZE and (data := await reader.read(READ_SIZE)):
                discarded += len(data)


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, source_writer: asyncio.StreamWriter
) -> None:
    """Copy one direction of a tunnel; pass its end on as a half-close."""
    try:
        while data := await source.read(READ_SIZE):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, RuntimeError):  # a reset, or writing after the peer left: end both ways
        sink.transport.abort()
        source_writer.transport.abort()
