"""The parser's errors: who broke HTTP, us or the peer.

Rule: ``LocalProtocolError`` means the caller asked for something illegal and
nothing was produced; ``RemoteProtocolError`` means the bytes the peer sent
are not HTTP/1.1 as RFC 9112 defines it, and the connection must not be used
again. Neither can be confused with the other, and the common base cannot be
raised directly.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of the parser's errors; raise a subclass, never this class."""

    def __init__(self, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """The caller asked for an invalid request; no bytes were produced for it."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not valid HTTP/1.1; the connection is unusable."""
