"""The exception tree. What components, the OS and TLS raise is mapped to it in ``_boundary``.

::

    HTTPError
    ├── TransportError
    │   ├── TimeoutException (also TimeoutError)
    │   │   ├── ConnectTimeout
    │   │   ├── ReadTimeout
    │   │   ├── WriteTimeout
    │   │   └── PoolTimeout
    │   ├── ConnectError
    │   ├── ProxyError
    │   ├── RemoteProtocolError
    │   └── LocalProtocolError
    ├── DecodingError
    ├── TooManyRedirects
    ├── StreamConsumed
    ├── HTTPStatusError
    ├── CircuitOpenError (also hyperhttp_resilience.CircuitOpenError)
    ├── ResponseTooLarge
    └── InvalidURL (also ValueError)

``LocalProtocolError`` means nothing was sent; ``RemoteProtocolError`` that
the peer broke HTTP (malformed or ambiguous framing, premature close).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import hyperhttp_resilience

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = [
    "CircuitOpenError",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "HTTPError",
    "HTTPStatusError",
    "InsecureRequestWarning",
    "InvalidURL",
    "LocalProtocolError",
    "PoolTimeout",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ResponseTooLarge",
    "SocksError",
    "StreamClosed",
    "StreamConsumed",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "WriteTimeout",
]


class HTTPError(Exception):
    """Base of every hyperhttp error.

    Attributes:
        request: the request this error arose from, when there was one.

    """

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class TransportError(HTTPError):
    """Base of network-level failures."""


class TimeoutException(TransportError, TimeoutError):
    """A phase ran out of time."""


class ConnectTimeout(TimeoutException):
    """No connection within the connect timeout."""


class ReadTimeout(TimeoutException):
    """No response data within the read timeout."""


class WriteTimeout(TimeoutException):
    """The request could not be sent within the write timeout."""


class PoolTimeout(TimeoutException):
    """No connection from the pool within the pool timeout."""


class ConnectError(TransportError):
    """No connection could be made (DNS, refused, unreachable, TLS handshake)."""


class ProxyError(TransportError):
    """The proxy refused or failed the tunnel.

    Attributes:
        status_code: the proxy's status, when it answered.

    """

    def __init__(
        self, message: str, *, status_code: int | None = None, request: Request | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code


class SocksError(ProxyError):
    """A SOCKS proxy refused the connection, or broke or garbled the handshake.

    Attributes:
        version: ``4`` or ``5``, the SOCKS version spoken.
        reply_code: the proxy's reply code (SOCKS5: ``0x01``-``0x08`` per
            RFC 1928 section 6, ``0xFF`` when no offered authentication
            method was acceptable; RFC 1929 status for a rejected password is
            reported as ``reply_code=None`` with ``auth_failed`` True;
            SOCKS4: ``91``-``93``), or None when the handshake broke before
            a reply.
        auth_failed: the proxy rejected the user name and password.

    """

    def __init__(
        self,
        message: str,
        *,
        version: int,
        reply_code: int | None = None,
        auth_failed: bool = False,
        request: Request | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.version = version
        self.reply_code = reply_code
        self.auth_failed = auth_failed


class RemoteProtocolError(TransportError):
    """The peer broke HTTP: malformed or ambiguous framing, premature close, h2 errors."""


class LocalProtocolError(TransportError):
    """The request itself is invalid; nothing was sent."""


class DecodingError(HTTPError):
    """A Content-Encoding body is corrupt or truncated."""


class TooManyRedirects(HTTPError):
    """More redirects than ``max_redirects``.

    Attributes:
        history: every response of the chain, oldest first (the last one
            included: the redirect that was not followed).

    """

    def __init__(
        self,
        message: str,
        *,
        request: Request | None = None,
        history: list[Response] | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.history: list[Response] = history if history is not None else []


class StreamConsumed(HTTPError):
    """A 307/308 redirect needs the request body again, but it was a stream already sent.

    Nothing of the redirected request was sent. Pass the body as bytes to let
    the client replay it, or ``follow_redirects=False`` to handle it yourself.
    """


class StreamClosed(StreamConsumed):
    """The response was closed (``Response.aclose``, from another task) while its body was read."""


class HTTPStatusError(HTTPError):
    """From :meth:`Response.raise_for_status`: a 4xx or 5xx response.

    Attributes:
        response: the response.

    """

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message, request=request)
        self.response = response


class CircuitOpenError(HTTPError, hyperhttp_resilience.CircuitOpenError):
    """The origin's circuit breaker is open; no request was sent."""

    def __init__(
        self, key: object, retry_at: float, retry_after: float, *, request: Request | None = None
    ) -> None:
        hyperhttp_resilience.CircuitOpenError.__init__(self, key, retry_at, retry_after)
        self.request = request


class ResponseTooLarge(HTTPError):
    """The response body exceeded ``max_response_size`` or ``max_decompressed_size``."""


class InvalidURL(HTTPError, ValueError):
    """The URL cannot be parsed or has an unsupported scheme."""


class InsecureRequestWarning(UserWarning):
    """A client was built with ``verify=False``: its TLS certificates are not checked."""


def drop_frame_locals(error: BaseException) -> None:
    """Clear the locals of the client's frames ``error`` left on its way up to the caller's.

    An exchange that failed keeps its error for later readers, and that
    error's traceback holds the frames that were waiting on the exchange
    (and the client's, which held it too): a reference cycle per failed
    request, freed only by the cyclic collector's passes (issue 16). Called
    where :meth:`Client.send` catches it: the frames of hyperhttp's packages
    right below it, down to the first frame of anyone else's, are the ones
    the error just left, all finished, so dropping their locals breaks the
    cycle and changes nothing a printed traceback shows. Not further: an
    error raised before (a shared one, say the exception of a future that
    several requests await in a hook) carries on with the frames of that
    earlier raise, which may still run or be suspended in another task,
    and clearing a suspended coroutine's frame finalizes the coroutine
    (Python 3.11, 3.12: the task dies). Only the error's own traceback: the
    errors it was raised from may hold frames of the caller's that still run.
    """
    tb = error.__traceback__
    below = tb.tb_next if tb is not None else None  # (tb itself is the frame of send(), running)
    while below is not None:
        frame = below.tb_frame
        if not frame.f_globals.get("__name__", "").startswith(_OWN_MODULES):
            return  # someone else's frame (a hook's, an auth flow's...): left alone
        with contextlib.suppress(RuntimeError):  # (one still running: left alone)
            frame.clear()
        below = below.tb_next


#: The packages whose frames drop_frame_locals clears.
_OWN_MODULES = ("hyperhttp.", "hyperhttp_")
