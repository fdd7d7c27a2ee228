"""The exception tree. Component errors are translated here, once, at the boundary.

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
