"""What ``hyperhttp bench`` sends, decided once: the target, the request bytes, the load.

A :class:`Plan` is plain data (it crosses to the ``--procs`` workers by
pickle). The request is built and checked here, before any connection:
its HTTP/1.1 bytes come from hyperhttp-parser's ``serialize_request`` (the
client's own serializer and its RFC 9110/9112 checks), its HTTP/2 header
block from the client's HPACK encoder; a bad header or method is a
:class:`UsageError` naming it, not a failure under load.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import hyperhttp_parser as hp

from hyperhttp.__about__ import __version__
from hyperhttp._exceptions import InvalidURL
from hyperhttp._http2.fields import CONNECTION_FIELDS
from hyperhttp._http2.hpack_codec import Encoder
from hyperhttp._tls import ssl_context
from hyperhttp._urls import URL, parse_url

if TYPE_CHECKING:
    import ssl

__all__ = ["USER_AGENT", "Plan", "UsageError", "split_header"]

USER_AGENT = f"hyperhttp-bench/{__version__}"


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit status 2, no traceback."""


def split_header(text: str) -> tuple[str, str]:
    """Split ``'Name: value'`` (``-H``); the value's surrounding whitespace is dropped.

    Raises:
        UsageError: no colon, or an empty name.

    """
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise UsageError(f"header {text!r} is not 'Name: value'")
    if name != name.strip():
        raise UsageError(f"header name {name!r} has whitespace around it (RFC 9112 §5.1)")
    return name, value.strip()


@dataclass(frozen=True)
class Plan:
    """One load test: what to send, over what, and how much (one worker's share or all)."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    http2: bool = False
    connections: int = 64
    streams: int = 1  # concurrent streams per HTTP/2 connection
    requests: int | None = None  # -n: stop after this many (None: run for duration)
    duration: float | None = None  # -d, seconds
    rate: float | None = None  # --rate: arrivals per second (the open model)
    timeout: float = 10.0  # a request unanswered this long is an error
    verify: bool | str = True  # True: certifi's bundle; a path: that CA file
    engine: str = "lean"  # "lean" (the protocol engine) or "client" (hyperhttp.Client)
    loop: str = "auto"  # "auto" (uvloop when installed), "uvloop" or "asyncio"
    phase: float = 0.0  # seconds: this worker's first arrival after the common start

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise UsageError("--connections must be at least 1")
        if self.streams < 1:
            raise UsageError("--streams must be at least 1")
        if self.requests is not None and self.requests < 1:
            raise UsageError("--requests must be at least 1")
        # (not `<= 0`: NaN passes that; infinity is no rate or duration either)
        if self.duration is not None and not 0 < self.duration < math.inf:
            raise UsageError("--duration must be a positive number")
        if self.rate is not None and not 0 < self.rate < math.inf:
            raise UsageError("--rate must be a positive number")
        if not 0 < self.timeout < math.inf:
            raise UsageError("--timeout must be a positive number")
        if self.streams > 1 and not self.http2:
            raise UsageError("--streams is for HTTP/2: add --http2")
        if self.engine not in ("lean", "client"):
            raise UsageError(f"--engine is 'lean' or 'client', not {self.engine!r}")

    # ------------------------------------------------------------ derived

    @property
    def target(self) -> URL:
        """The parsed URL.

        Raises:
            UsageError: the URL is not an absolute http(s) URL.

        """
        try:
            return parse_url(self.url)
        except InvalidURL as exc:
            raise UsageError(str(exc)) from None

    @property
    def concurrency(self) -> int:
        """Requests in flight at most: connections x streams."""
        return self.connections * self.streams

    def fields(self) -> list[tuple[bytes, bytes]]:
        """Return the fields after Host: ours (User-Agent, Accept) unless given, then theirs."""
        given = {name.lower() for name, _ in self.headers}
        fields: list[tuple[bytes, bytes]] = []
        if "user-agent" not in given:
            fields.append((b"User-Agent", USER_AGENT.encode()))
        if "accept" not in given:
            fields.append((b"Accept", b"*/*"))
        for name, value in self.headers:
            if name.lower() in ("host", "content-length", "transfer-encoding"):
                raise UsageError(f"{name} is set by hyperhttp bench, not by -H")
            try:
                fields.append((name.encode("ascii"), value.encode("latin-1")))
            except UnicodeEncodeError:
                raise UsageError(f"header {name!r}: not encodable as Latin-1") from None
        return fields

    def http11_request(self) -> bytes:
        """Return the whole request as sent on HTTP/1.1, checked by hyperhttp-parser.

        Raises:
            UsageError: the method, target or a field is invalid (RFC 9110/9112).

        """
        url = self.target
        try:
            return hp.serialize_request(
                self.method.encode("ascii", "replace"),
                url.target,
                [(b"Host", url.host_header), *self.fields()],
                self.body,
            )
        except hp.LocalProtocolError as exc:
            raise UsageError(str(exc)) from None

    def http2_blocks(self) -> tuple[bytes, bytes]:
        """Return the request's HPACK header blocks: the connection's first, and every later one.

        The client's encoder never indexes into the dynamic table, so a block
        does not depend on what came before: built once, sent on every
        stream (the first also announces a table size of 0).

        Raises:
            UsageError: as for :meth:`http11_request`, or a connection-specific field.

        """
        self.http11_request()  # the same checks, on the same fields
        url = self.target
        fields = [
            (b":method", self.method.encode("ascii")),
            (b":scheme", url.scheme.encode("ascii")),
            (b":authority", url.host_header),
            (b":path", url.target),
        ]
        for name, value in self.fields():
            lower = name.lower()
            if lower in CONNECTION_FIELDS or (lower == b"te" and value != b"trailers"):
                raise UsageError(f"{name.decode()} is connection-specific: not sent on HTTP/2")
            fields.append((lower, value))
        if self.body is not None:
            fields.append((b"content-length", b"%d" % len(self.body)))
        encoder = Encoder()
        return encoder.encode(fields), encoder.encode(fields)

    def tls(self) -> ssl.SSLContext | None:
        """Return the TLS context for an https URL (ALPN h2 or http/1.1), None for http.

        Raises:
            UsageError: the CA file given to ``--cacert`` does not exist.

        """
        if self.target.scheme != "https":
            return None
        try:
            return ssl_context(self.verify, ("h2",) if self.http2 else ("http/1.1",))
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None

    def share(self, index: int, workers: int) -> Plan:
        """Return worker ``index``'s part of the load: connections, requests, rate split evenly.

        Arrivals interleave: worker ``index`` of ``workers`` starts
        ``index / rate`` seconds after the common start and keeps every
        ``workers``-th slot of the overall schedule.

        Raises:
            UsageError: fewer connections than workers.

        """
        if workers == 1:
            return self
        if self.connections < workers:
            raise UsageError(f"--procs {workers} needs at least {workers} connections (-c)")

        def part(total: int) -> int:
            return total // workers + (1 if index < total % workers else 0)

        requests = None if self.requests is None else part(self.requests)
        if requests == 0:
            raise UsageError(f"-n {self.requests} is fewer requests than --procs {workers}")
        return dataclasses.replace(
            self,
            connections=part(self.connections),
            requests=requests,
            rate=None if self.rate is None else self.rate / workers,
            phase=0.0 if self.rate is None else index / self.rate,
        )
