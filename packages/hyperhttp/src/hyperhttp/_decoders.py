"""Content-Encoding decoders that never produce more than a chunk at a time.

Each decoder turns compressed chunks into decoded chunks of at most
``CHUNK`` bytes (zlib's ``max_length``, brotli's ``output_buffer_limit``;
zstd input is fed in small slices), so a decompression bomb is met one
bounded chunk at a time and ``max_decompressed_size`` can stop it early.
Stacked codings are undone in reverse order (RFC 9110 §8.4).

gzip covers multi-member streams and ``x-gzip``; deflate accepts the
zlib-wrapped form RFC 9110 specifies and, as browsers do, raw deflate.
Corrupt or truncated input raises ``DecodingError``.

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


class _BrotliDecoder(Decoder):
    def __init__(self) -> None:
        assert _brotli is not None
        self.obj = _brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self.obj
        try:
            out = obj.process(data, output_buffer_limit=CHUNK)
            if out:
                yield out
            while not obj.can_accept_more_data():
                out = obj.process(b"", output_buffer_limit=CHUNK)
                if not out:
                    break
                yield out
        except _brotli.error as exc:
            raise DecodingError(f"corrupt br body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        if not self.obj.is_finished():
            raise DecodingError("truncated br body")
        return iter(())


class _ZstdDecoder(Decoder):
    SLICE = 1024  # input per step: bounds what one call can expand to

    def __init__(self) -> None:
        assert _zstd is not None
        self.dctx = _zstd.ZstdDecompressor()
        self.obj: Any = self.dctx.decompressobj()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            view = memoryview(data)
            for at in range(0, len(view), self.SLICE):
                piece = view[at : at + self.SLICE]
                if self.obj.eof:  # a following frame
                    unused = self.obj.unused_data
                    self.obj = self.dctx.decompressobj()
                    if unused:
                        piece = memoryview(unused + bytes(piece))
                out = self.obj.decompress(bytes(piece))
                for start in range(0, len(out), CHUNK):
                    yield out[start : start + CHUNK]
        except _zstd.ZstdError as exc:
            raise DecodingError(f"corrupt zstd body: {exc}") from exc

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
