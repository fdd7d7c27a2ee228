"""Reading a fuzz input: a few control bytes up front, then the payload.

The targets read their choices (which method, where to cut the stream) from
the first bytes and the bytes for the decoder from the rest, so a seed is a
readable realistic input behind one or two control bytes, and libFuzzer's
mutations of either part stay meaningful. Past the end every read gives
zeros / empty bytes: any input is valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FuzzInput", "split"]

T = TypeVar("T")


class FuzzInput:
    """A cursor over one fuzz input."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        """Return the next byte, 0 past the end."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        """Return the next two bytes, big-endian."""
        return self.byte() << 8 | self.byte()

    def choice(self, options: Sequence[T]) -> T:
        """Return one of ``options``, chosen by the next byte."""
        return options[self.byte() % len(options)]

    def take(self, size: int) -> bytes:
        """Return the next ``size`` bytes (fewer at the end)."""
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        """Return everything not read yet."""
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def split(payload: bytes, seed: int) -> list[bytes]:
    """Cut ``payload`` into pieces as reads from a socket might (``seed`` 0: one piece).

    The cut points come from a small linear congruential sequence, so the
    same input always reproduces the same reads.
    """
    if seed == 0 or len(payload) < 2:
        return [payload]
    pieces = []
    state = seed
    at = 0
    while at < len(payload):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        size = 1 + (state >> 8) % (1 + (seed % 64) * 3)
        pieces.append(payload[at : at + size])
        at += size
    return pieces
