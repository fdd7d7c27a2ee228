"""hyperhttp: a fast, strict async HTTP client for Python, HTTP/1.1 and HTTP/2 on asyncio."""

from __future__ import annotations

from hyperhttp_resilience import (
    AdaptiveLimiter,
    CircuitBreaker,
    Hedging,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
)

from .__about__ import __version__
from ._asgi import ASGITransport
from ._auth import Auth, AuthenticationError, BasicAuth, BearerAuth, DigestAuth
from ._client import Client
from ._config import Limits, Timeout
from ._cookies import CookieConflict, Cookies
from ._exceptions import (
    CircuitOpenError,
    ConnectError,
    ConnectTimeout,
    DecodingError,
    HTTPError,
    HTTPStatusError,
    InsecureRequestWarning,
    InvalidURL,
    LocalProtocolError,
    PoolTimeout,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    SocksError,
    StreamClosed,
    StreamConsumed,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    WriteTimeout,
)
from ._headers import Headers
from ._mock import MockResponse, MockTransport, MockTransportError
from ._models import Request, Response, ResponseNotRead
from ._multipart import MultipartFile
from ._sse import EventSource, ServerSentEvent, SSEDecoder, SSEError
from ._urls import URL
from ._uvloop import install_uvloop
from ._wsgi import WSGITransport

__all__ = [
    "URL",
    "ASGITransport",
    "AdaptiveLimiter",
    "Auth",
    "AuthenticationError",
    "BasicAuth",
    "BearerAuth",
    "CircuitBreaker",
    "CircuitOpenError",
    "Client",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "Cookies",
    "DecodingError",
    "DigestAuth",
    "EventSource",
    "HTTPError",
    "HTTPStatusError",
    "Headers",
    "Hedging",
    "InsecureRequestWarning",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "MockResponse",
    "MockTransport",
    "MockTransportError",
    "MultipartFile",
    "PoolTimeout",
    "ProxyError",
    "RateLimiter",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "Response",
    "ResponseNotRead",
    "ResponseTooLarge",
    "RetryBudget",
    "RetryPolicy",
    "SSEDecoder",
    "SSEError",
    "ServerSentEvent",
    "SocksError",
    "StreamClosed",
    "StreamConsumed",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "WSGITransport",
    "WriteTimeout",
    "__version__",
    "install_uvloop",
]

# Reprs and tracebacks say hyperhttp.Client, not hyperhttp._client.Client.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj
