"""hyperhttp-parser: a strict, sans-IO HTTP/1.1 response parser and request serializer."""

from __future__ import annotations

from .__about__ import __version__
from ._abnf import FIELD_VALUE_BYTES, TARGET_BYTES, TOKEN_BYTES
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import Data, EndOfMessage, Event, Headers, InformationalResponse, ResponseHead
from ._readers import (
    DEFAULT_MAX_CHUNK_LINE_SIZE,
    DEFAULT_MAX_HEAD_SIZE,
    DEFAULT_MAX_HEADERS,
    ResponseParser,
)
from ._state import Framing, ParserState, Sentinel, decide_framing
from ._writers import BodyWriter, serialize_request, serialize_request_head

NEED_DATA = Sentinel.NEED_DATA
PAUSED = Sentinel.PAUSED

__all__ = [
    "DEFAULT_MAX_CHUNK_LINE_SIZE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEAD_SIZE",
    "FIELD_VALUE_BYTES",
    "NEED_DATA",
    "PAUSED",
    "TARGET_BYTES",
    "TOKEN_BYTES",
    "BodyWriter",
    "Data",
    "EndOfMessage",
    "Event",
    "Framing",
    "Headers",
    "InformationalResponse",
    "LocalProtocolError",
    "ParserState",
    "ProtocolError",
    "RemoteProtocolError",
    "ResponseHead",
    "ResponseParser",
    "Sentinel",
    "__version__",
    "decide_framing",
    "serialize_request",
    "serialize_request_head",
]
