"""Content-Encoding decoders that never produce more than a chunk at a time.

Each decoder turns compressed chunks into decoded chunks of at most
``CHUNK`` bytes, and no single step of a decompressor makes more than a few
``CHUNK`` before the consumer sees it, so a decompression bomb is met one
bounded piece at a time and ``max_decompressed_size`` stops it as it goes:

- gzip and deflate: zlib's ``max_length`` (``CHUNK``) per call;
- br: brotli's ``output_buffer_limit`` (``CHUNK``). The binding stops
  growing its output only once it has reached the limit (pieces of up to
  ~1.5 ``CHUNK`` come out, then cut to ``CHUNK``), and output may still be
  pending when ``can_accept_more_data()`` is True: a piece as large as the
  limit means "call again with no input";
- zstd: zstandard's ``decompressobj`` has no output limit, but zstd decodes
  block by block and a block regenerates at most 128 KiB (RFC 8878
  §3.1.1.2.4, Block_Maximum_Size). :class:`_ZstdBlocks` reads the frame and
  block headers as the bytes arrive (contents are skipped by length) and the
  decoder feeds the decompressor pieces that end at block ends and
  regenerate at most 128 KiB (two ``CHUNK``) each.

Stacked codings are undone in reverse order (RFC 9110 §8.4).

gzip covers multi-member streams and ``x-gzip``; deflate accepts the
zlib-wrapped form RFC 9110 specifies and, as browsers do, raw deflate. A zstd
body is a sequence of frames (RFC 8878 §3.1), skippable frames included: each
is decoded, as the zstd CLI and urllib3 do. Corrupt or truncated input raises
``DecodingError``.

The chain is bounded: more than :data:`MAX_CODINGS` codings in a response's
Content-Encoding fields is a ``DecodingError`` before any decoder is built
(urllib3's limit, its CVE-2025-66418: one 65 KB field would otherwise build
13 000 decoders, and deep nesting recursed without bound).

br needs brotli 1.2 or later: ``Decompressor.process(output_buffer_limit=)``
and ``can_accept_more_data()``, which bound each decoded piece, came in 1.2
(1.1's ``process`` takes the input only). An older brotli counts as not
installed: br is neither offered nor decoded.
"""

from __future__ import annotations

import importlib
import zlib
from typing import TYPE_CHECKING, Any

from ._exceptions import DecodingError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CHUNK", "MAX_CODINGS", "SUPPORTED", "Decoder", "accept_encoding", "make_decoder"]

CHUNK = 64 * 1024  # largest decoded piece produced at once
MAX_CODINGS = 5  # codings in one response's Content-Encoding, identity included


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - depends on the optional extra
        return None


def _bounded_brotli() -> Any:
    module = _optional("brotli")
    if module is None or not hasattr(module.Decompressor, "can_accept_more_data"):
        return None  # absent, or older than 1.2 (no bounded output): no br
    return module


_brotli = _bounded_brotli()
_zstd = _optional("zstandard")


class Decoder:
    """Base: ``decode(chunk)`` yields decoded pieces; ``flush()`` at the end."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        raise NotImplementedError

    def flush(self) -> Iterator[bytes]:
        return iter(())


class IdentityDecoder(Decoder):
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


class _ZlibDecoder(Decoder):
    """zlib-based: gzip (multi-member), deflate (wrapped or raw)."""

    def __init__(self, name: str, wbits: int) -> None:
        self.name = name
        self.wbits = wbits
        self.obj: Any = zlib.decompressobj(wbits)
        self.first = True

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._decode(data)
        except zlib.error as exc:
            raise DecodingError(f"corrupt {self.name} body: {exc}") from exc

    def _decode(self, data: bytes) -> Iterator[bytes]:
        while data:
            obj = self.obj
            if obj.eof:  # more after a complete stream
                if not data.strip(b"\x00"):
                    return  # zero padding some servers add: ignore it
                if self.name != "gzip":
                    raise DecodingError(f"data after the end of the {self.name} stream")
                obj = self.obj = zlib.decompressobj(self.wbits)  # the next gzip member
            try:
                out = obj.decompress(data, CHUNK)
            except zlib.error:
                if self.name == "deflate" and self.first:  # raw deflate, no zlib wrapper
                    self.first = False
                    self.wbits = -zlib.MAX_WBITS
                    self.obj = zlib.decompressobj(self.wbits)
                    continue
                raise
            self.first = False
            if out:
                yield out
            data = obj.unconsumed_tail or (obj.unused_data if obj.eof else b"")

    def flush(self) -> Iterator[bytes]:
        if not self.obj.eof:
            raise DecodingError(f"truncated {self.name} body")
        return iter(())


def _pieces(out: bytes) -> Iterator[bytes]:
    """Yield ``out`` in pieces of at most ``CHUNK`` bytes."""
    if len(out) <= CHUNK:
        if out:
            yield out
        return
    for start in range(0, len(out), CHUNK):
        yield out[start : start + CHUNK]


class _BrotliDecoder(Decoder):
    def __init__(self) -> None:
        assert _brotli is not None
        self.obj = _brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self.obj
        try:
            out = obj.process(data, output_buffer_limit=CHUNK)
            while True:
                if len(out) > CHUNK:
                    yield from _pieces(out)
                elif out:
                    yield out
                if len(out) < CHUNK:  # stopped for input (or at the end): all taken
                    return
                # As large as the limit: stopped for room, more output is held
                # (even when can_accept_more_data(), which only tells whether
                # input was left over). Ask again, with no input.
                out = obj.process(b"", output_buffer_limit=CHUNK)
        except _brotli.error as exc:
            raise DecodingError(f"corrupt br body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        if not self.obj.is_finished():
            raise DecodingError("truncated br body")
        return iter(())


_ZSTD_MAGIC = 0xFD2FB528  # RFC 8878 §3.1.1
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # RFC 9659 §3
_SKIPPABLE_MAGIC = 0x184D2A50  # RFC 8878 §3.1.2: 0x184D2A50 to 0x184D2A5F
_DID_SIZES = (0, 1, 2, 4)  # Dictionary_ID_Flag -> DID_Field_Size (§3.1.1.1.1.6)
_FCS_SIZES = (0, 2, 4, 8)  # Frame_Content_Size_Flag -> FCS_Field_Size (§3.1.1.1.1.1)
_BLOCK_MAX = 128 * 1024  # §3.1.1.2.4: Block_Maximum_Size is min(Window_Size, 128 KiB)


class _ZstdBlocks:
    """Where to cut a zstd stream so that each piece regenerates at most 128 KiB.

    A block regenerates at most Block_Maximum_Size, min(Window_Size, 128 KiB)
    (RFC 8878 §3.1.1.2.4; zstd refuses a block that would regenerate more), a
    Raw or RLE block exactly its Block_Size. Only headers are read, as the
    bytes arrive: the magic number, the frame header (§3.1.1.1: its length
    and Window_Size), each block header (§3.1.1.2) and a skippable frame's
    size (§3.1.2); block contents, checksums and skippable frames are passed
    over by length. A header cut by a read is kept (at most 18 bytes) until it
    is whole. Consecutive small blocks share a piece (a 4-byte RLE or
    compressed block would otherwise cost one decompressor call each), up to
    :data:`_BLOCK_MAX` regenerated bytes. Validating is zstd's job; this only
    refuses a frame that starts with an unknown magic number.
    """

    MAGIC, FRAME, BLOCK, CHECKSUM, SKIPPABLE = range(5)  # the header read next

    __slots__ = ("block_max", "checksum", "ended", "head", "skip", "stage", "want")

    def __init__(self) -> None:
        self.stage = self.MAGIC
        self.head = b""  # the header read so far
        self.want = 4  # its length, once known
        self.skip = 0  # bytes to pass over before the next header
        self.ended = -1  # what the block those bytes end regenerates at most; -1: no block
        self.checksum = False  # Content_Checksum_Flag of the current frame
        self.block_max = _BLOCK_MAX  # Block_Maximum_Size of the current frame

    def cuts(self, data: bytes) -> list[int]:
        """Return the offsets to cut ``data`` at.

        Each piece up to a cut, and what follows the last cut, completes
        blocks that regenerate at most 128 KiB together.
        """
        cuts: list[int] = []
        at, size = 0, len(data)
        piece = 0  # what the blocks completed since the last cut regenerate at most
        previous = 0  # where the last of them ended
        while True:
            if self.skip:  # inside a block's content, a checksum or a skippable frame
                take = min(self.skip, size - at)
                at += take
                self.skip -= take
                if self.skip:
                    return cuts
            if self.ended >= 0:  # a block ends at `at`
                if piece + self.ended > _BLOCK_MAX and previous:
                    cuts.append(previous)
                    piece = 0
                piece += self.ended
                previous = at
                self.ended = -1
            if at == size:
                return cuts
            if self.stage == self.BLOCK and not self.head and at + 3 <= size:
                self._block(int.from_bytes(data[at : at + 3], "little"))  # the usual case
                at += 3
                continue
            missing = self.want - len(self.head)
            self.head += data[at : at + missing]
            at = min(at + missing, size)
            if len(self.head) < self.want:
                return cuts
            self._header()

    def _block(self, value: int) -> None:
        """Read a Block_Header (§3.1.1.2): Last_Block, Block_Type, Block_Size."""
        kind = (value >> 1) & 3
        if kind == 3:
            raise DecodingError("corrupt zstd body: reserved block type")
        size = value >> 3
        self.skip = 1 if kind == 1 else size  # RLE: one byte, repeated Block_Size times
        self.ended = self.block_max if kind == 2 else size
        if value & 1:  # the last block: then the checksum, or the next frame
            self._next(self.CHECKSUM if self.checksum else self.MAGIC, 4)
        else:
            self._next(self.BLOCK, 3)

    def _header(self) -> None:
        head, stage = self.head, self.stage
        if stage == self.BLOCK:
            self._block(int.from_bytes(head, "little"))
        elif stage == self.MAGIC:
            magic = int.from_bytes(head, "little")
            if magic == _ZSTD_MAGIC:
                self.stage, self.want = self.FRAME, 5  # the magic and the descriptor
            elif magic & 0xFFFFFFF0 == _SKIPPABLE_MAGIC:
                self.stage, self.want = self.SKIPPABLE, 8  # the magic and Frame_Size
            else:
                raise DecodingError("corrupt zstd body: not a zstd frame (RFC 8878 §3.1)")
        elif stage == self.FRAME:
            descriptor = head[4]
            single = descriptor & 0x20  # Single_Segment_Flag: no Window_Descriptor
            fcs = _FCS_SIZES[descriptor >> 6] or (1 if single else 0)
            want = 5 + (0 if single else 1) + _DID_SIZES[descriptor & 3] + fcs
            if len(head) < want:
                self.want = want
                return
            if single:  # Window_Size is Frame_Content_Size (§3.1.1.1.1.2)
                window = int.from_bytes(head[want - fcs :], "little") + (256 if fcs == 2 else 0)
            else:  # §3.1.1.1.2: Exponent and Mantissa
                exponent, mantissa = head[5] >> 3, head[5] & 7
                window = (1 << (10 + exponent)) + (1 << (7 + exponent)) * mantissa
            self.block_max = min(window, _BLOCK_MAX)
            self.checksum = bool(descriptor & 4)
            self._next(self.BLOCK, 3)
        elif stage == self.SKIPPABLE:
            self.skip = int.from_bytes(head[4:8], "little")
            self._next(self.MAGIC, 4)
        else:  # CHECKSUM: 4 bytes, then the next frame
            self._next(self.MAGIC, 4)

    def _next(self, stage: int, want: int) -> None:
        self.stage, self.want, self.head = stage, want, b""


class _ZstdDecoder(Decoder):
    """Frame after frame (RFC 8878 §3.1), fed to zstd in pieces that regenerate <= 128 KiB."""

    def __init__(self) -> None:
        assert _zstd is not None
        # RFC 9659 §3: HTTP's zstd windows are at most 8 MB; a larger one would
        # make zstd allocate it (up to 2 GiB) where no Python limit sees it.
        self.dctx = _zstd.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self.obj: Any = self._frame()
        self.blocks = _ZstdBlocks()

    def _frame(self) -> Any:
        # One frame per object, so that eof says whether that frame is whole;
        # explicit, as zstandard means to make reading across frames the default.
        return self.dctx.decompressobj(read_across_frames=False)

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            view = memoryview(data)
            at = 0
            for cut in self.blocks.cuts(data):
                yield from self._feed(view[at:cut])
                at = cut
            if at < len(data):
                yield from self._feed(view[at:])
        except _zstd.ZstdError as exc:
            raise DecodingError(f"corrupt zstd body: {exc}") from exc

    def _feed(self, data: memoryview | bytes) -> Iterator[bytes]:
        while data:
            if self.obj.eof:  # the frame before ended: a new one starts
                self.obj = self._frame()
            out = self.obj.decompress(data)
            if len(out) > CHUNK:
                yield from _pieces(out)
            elif out:
                yield out
            data = self.obj.unused_data if self.obj.eof else b""

    def flush(self) -> Iterator[bytes]:
        if not self.obj.eof:
            raise DecodingError("truncated zstd body")
        return iter(())


class MultiDecoder(Decoder):
    """Stacked codings, undone last-applied first."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self.decoders = decoders  # in the order to apply

    def decode(self, data: bytes) -> Iterator[bytes]:
        yield from self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.decoders):
            yield data
            return
        for piece in self.decoders[index].decode(data):
            yield from self._through(index + 1, piece)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self.decoders):
            for piece in decoder.flush():
                yield from self._through(index + 1, piece)


def _one(coding: str) -> Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder("gzip", 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _ZlibDecoder("deflate", zlib.MAX_WBITS)
    if coding == "br" and _brotli is not None:
        return _BrotliDecoder()
    if coding == "zstd" and _zstd is not None:
        return _ZstdDecoder()
    if coding == "identity":
        return IdentityDecoder()
    return None


def make_decoder(content_encoding: list[bytes]) -> Decoder | None:
    """Return the decoder for a response's Content-Encoding values, None for identity.

    An unknown coding leaves the body as is (the caller sees the raw bytes and
    the header), as httpx and aiohttp do.

    Raises:
        DecodingError: more than :data:`MAX_CODINGS` codings.

    """
    codings = [
        c.strip().lower().decode("latin-1")
        for value in content_encoding
        for c in value.split(b",")
        if c.strip()
    ]
    if len(codings) > MAX_CODINGS:
        raise DecodingError(f"more than {MAX_CODINGS} content codings in Content-Encoding: refused")
    if not codings:
        return None
    decoders = []
    for coding in reversed(codings):
        decoder = _one(coding)
        if decoder is None:
            return None
        if not isinstance(decoder, IdentityDecoder):
            decoders.append(decoder)
    if not decoders:
        return None
    return decoders[0] if len(decoders) == 1 else MultiDecoder(decoders)


SUPPORTED = ("gzip", "deflate") + (("br",) if _brotli else ()) + (("zstd",) if _zstd else ())


def accept_encoding() -> bytes:
    """Return the Accept-Encoding value listing the decoders installed."""
    return ", ".join(SUPPORTED).encode("ascii")
