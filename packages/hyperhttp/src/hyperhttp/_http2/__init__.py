"""HTTP/2 for the client (RFC 9113), one behaviour per module.

- ``connection``: :class:`HTTP2Connection`, one TCP or TLS connection carrying
  many streams (the asyncio protocol: reads, writes, flow control, bounds);
- ``stream``: :class:`H2Stream`, one request/response on it, and
  :class:`StreamRefused`;
- ``frames``: frame layout and byte helpers, sans-IO;
- ``fields``: checks on received field blocks;
- ``hpack_codec``: our HPACK encoder and decoder (RFC 7541);
- ``compat``: every use of h2 below its public API, and who owns what.
"""

from __future__ import annotations

from .connection import CONNECTION_WINDOW, STREAM_WINDOW, HTTP2Connection
from .stream import H2Stream, StreamRefused

__all__ = ["CONNECTION_WINDOW", "STREAM_WINDOW", "H2Stream", "HTTP2Connection", "StreamRefused"]
