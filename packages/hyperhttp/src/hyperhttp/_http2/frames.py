"""HTTP/2 frame layout, sans-IO: the constants and byte helpers the reader uses.

Strategy
--------
The connection reads frames straight from its read buffer (see
``connection.HTTP2Connection._receive``): a frame header is 9 octets,
``length << 8 | type``, flags, stream id (RFC 9113 §4.1), unpacked with one
``struct`` call. Frames that h2 must judge are cut out of the buffer and
joined here (:func:`assemble`), in wire order, with END_STREAM moved onto a
HEADERS frame whose body we took. Nothing here touches a socket or h2.
"""

from __future__ import annotations

import struct

__all__ = [
    "BLOCK_FRAMES",
    "CONTINUATION",
    "DATA",
    "DEFAULT_WINDOW",
    "EMPTY_END",
    "END_HEADERS",
    "END_STREAM",
    "HEADERS",
    "MAX_FRAME_SIZE",
    "PADDED",
    "PRIORITY",
    "PUSH_PROMISE",
    "READ_BUFFER",
    "ReadPass",
    "assemble",
    "final_head",
    "frame_head",
    "window_update",
]

# The largest frame we read (SETTINGS_MAX_FRAME_SIZE): one read buffer. DATA
# is taken as it comes whatever its size; any other frame is held whole
# until complete, so this bounds what one frame can make us hold.
MAX_FRAME_SIZE = 256 * 1024
READ_BUFFER = 256 * 1024  # what one read may fill (asyncio's TLS layer reads as much)
DATA = 0x0
HEADERS = 0x1
PUSH_PROMISE = 0x5
CONTINUATION = 0x9
END_STREAM = 0x1
END_HEADERS = 0x4
BLOCK_FRAMES = frozenset((HEADERS, PUSH_PROMISE, CONTINUATION))  # a header block's
PADDED = 0x8
PRIORITY = 0x20
frame_head = struct.Struct(">IBI").unpack_from  # length << 8 | type, flags, stream id
_pack = struct.pack
DEFAULT_WINDOW = 65535


class ReadPass:
    """One read's plan: which of its bytes go to h2, and what its frames changed.

    ``parts``: ranges of ``data`` (and END_STREAM markers) for h2, in wire
    order, up to ``h2_from``; ``opened``: streams whose HEADERS frame is in
    this read and not fed to h2 yet (where it is; -2: a block ended by
    CONTINUATION, its HEADERS in an earlier read); ``moved``: HEADERS frames
    that get END_STREAM (their body was taken here whole); ``calm``: the
    control-frame allowance left; ``blocks``: a header block of this read is
    h2's, so later ones are too (HPACK order); ``lent``: a stream keeps views
    of ``data``; ``fed``: h2 read frames of this read already; ``flooded``
    and ``stop``: the read ends here.
    """

    __slots__ = (
        "blocks",
        "calm",
        "data",
        "fed",
        "flooded",
        "h2_from",
        "lent",
        "moved",
        "opened",
        "parts",
        "stop",
        "view",
    )

    def __init__(
        self, data: bytearray, view: memoryview, start: int, calm: int, blocks: bool
    ) -> None:
        self.data = data
        self.view = view
        self.h2_from = start  # bytes from here on are h2's, up to the next DATA we take
        self.calm = calm
        self.blocks = blocks
        self.parts: list[tuple[int, int] | bytes] = []
        self.opened: dict[int, int] = {}
        self.moved: list[int] = []
        self.lent = False
        self.fed = False
        self.flooded = False
        self.stop = False


def assemble(
    data: bytes | bytearray, parts: list[tuple[int, int] | bytes], moved: list[int]
) -> bytes | bytearray:
    """Join the frames for h2 (ranges of ``data``, markers); set END_STREAM on ``moved``."""
    if not moved:
        pieces = [data[p[0] : p[1]] if isinstance(p, tuple) else p for p in parts]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)
    out = bytearray()
    for part in parts:
        if isinstance(part, bytes):
            out += part
            continue
        start, stop = part
        base = len(out) - start
        out += data[start:stop]
        for at in moved:  # HEADERS frames in this range: their flags octet
            if start <= at < stop:
                out[base + at + 4] |= END_STREAM
    return out


def final_head(data: bytes | bytearray, at: int) -> bool:
    """Whether the HEADERS frame at ``at`` opens with an indexed final ``:status``.

    Static table entries 8 to 14 are :status 200, 204, 206, 304, 400, 404
    and 500 (RFC 7541 Appendix A): one octet, 0x88 to 0x8E, that servers
    send for nearly every response. Anything else may be a 1xx head.
    """
    flags = data[at + 4]
    start = at + 9 + (1 if flags & PADDED else 0) + (5 if flags & PRIORITY else 0)
    return start < at + 9 + int.from_bytes(data[at : at + 3], "big") and (
        0x88 <= data[start] <= 0x8E
    )


def window_update(stream: int, increment: int) -> bytes:
    """Return a WINDOW_UPDATE frame for ``stream`` (0: the connection), RFC 9113 §6.9."""
    return _pack(">IBII", (4 << 8) | 0x8, 0, stream, increment)


EMPTY_END = b"\x00\x00\x00\x00\x01%s"  # DATA, no payload, END_STREAM; then the stream id
