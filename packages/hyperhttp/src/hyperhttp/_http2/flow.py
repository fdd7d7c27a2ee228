"""HTTP/2 receive flow control, sans-IO: what a peer may still send, and what to hand back.

Strategy
--------
One :class:`ReceiveWindow` per level (the connection, each stream; RFC 9113
§5.2, §6.9). DATA the connection takes from the wire is *taken* from both
levels; a window that goes negative is the peer overrunning it (a
FLOW_CONTROL_ERROR). Bytes are *given back* as the reader consumes them
(a body read whole: as it arrives; a streamed one: as the consumer takes
it, which is the backpressure), and a WINDOW_UPDATE is due once half the
window is owed: one update per half window, not one per frame. Nothing here
writes a frame or knows a socket: the connection sends the increments it
is handed.
"""

from __future__ import annotations

__all__ = ["ReceiveWindow"]


class ReceiveWindow:
    """One level's receive window: ``available`` to the peer, ``owed`` back to it."""

    __slots__ = ("available", "owed", "threshold")

    def __init__(self, size: int) -> None:
        self.available = size  # bytes the peer may still send
        self.owed = 0  # consumed, not handed back yet
        self.threshold = size // 2

    def take(self, flow: int) -> bool:
        """Account ``flow`` bytes received; False if the peer overran the window."""
        self.available -= flow
        return self.available >= 0

    def give_back(self, size: int) -> int:
        """Record ``size`` bytes consumed; return the WINDOW_UPDATE increment now due (or 0)."""
        owed = self.owed + size
        if owed < self.threshold:
            self.owed = owed
            return 0
        self.owed = 0
        self.available += owed
        return owed
