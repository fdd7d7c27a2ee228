"""The Content-Encoding decoders: gzip, deflate, br, zstd and their chains.

Input: a control byte choosing the Content-Encoding (a fixed chain, or the
field value read from the input up to the first newline), one choosing how
the body is cut into reads, then the body. The body is decoded as the
client does, piece by piece, stopping once the decoded size passes
``LIMIT`` (``max_decompressed_size``), then flushed. The only accepted
error is ``DecodingError``.

Checks: nothing else escapes (``decode.error``); no decoded piece is larger
than ``CHUNK`` (``decode.chunk``); a single coding that decodes without
error agrees with the reference decompressor on the same bytes
(``decode.agree``); and the per-input memory budget, which is what a
decompression bomb has to break.
"""

from __future__ import annotations

import gzip
import zlib

from hyperhttp._decoders import CHUNK, SUPPORTED, make_decoder
from hyperhttp._exceptions import DecodingError

from fuzz._checks import Finding, fail
from fuzz._input import FuzzInput, split

MAX_LEN = 64 * 1024
MEMORY_BUDGET = 16 * 1024 * 1024
LIMIT = 1024 * 1024  # the decoded size the client is told to stop at

_CHAINS = (
    b"gzip",
    b"deflate",
    b"br",
    b"zstd",
    b"gzip, gzip",
    b"deflate, gzip",
    b"br, gzip",
    b"gzip, zstd",
    b"x-gzip",
    b"identity, gzip",
)


def _reference(coding: bytes, body: bytes) -> bytes | None:
    """Return what a one-shot decompressor makes of ``body``; None if it refuses."""
    try:
        if coding in (b"gzip", b"x-gzip"):
            return gzip.decompress(body)
        if coding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        if coding == b"br" and "br" in SUPPORTED:
            import brotli  # type: ignore[import-not-found,unused-ignore]

            out: bytes = brotli.decompress(body)
            return out
        if coding == b"zstd" and "zstd" in SUPPORTED:
            import zstandard

            frames = []
            while body:  # frame after frame, as the decoder reads them
                frame = zstandard.ZstdDecompressor().decompressobj()
                frames.append(frame.decompress(body))
                if not frame.eof:
                    return None
                body = frame.unused_data
            return b"".join(frames)
    except Exception:
        return None
    return None


def one_input(data: bytes) -> None:
    """Decode the body of ``data`` under its Content-Encoding, as a response would."""
    source = FuzzInput(data)
    control = source.byte()
    seed = source.byte()
    if control & 128:
        coding, _, body = source.rest().partition(b"\n")
    else:
        coding, body = _CHAINS[control % len(_CHAINS)], source.rest()
    pieces = split(body, seed)
    decoded: list[bytes] = []
    size = 0
    try:
        decoder = make_decoder([coding])
        if decoder is None:
            return
        complete = True
        for piece in pieces:
            for out in decoder.decode(piece):
                if len(out) > CHUNK:
                    fail("decode.chunk", f"a decoded piece of {len(out)} bytes")
                size += len(out)
                decoded.append(out)
                if size > LIMIT:
                    complete = False
                    break
            if not complete:
                break
        if complete:
            decoded.extend(decoder.flush())
    except DecodingError:
        return
    except Finding:
        raise
    except Exception as exc:
        fail("decode.error", f"{type(exc).__name__}: {exc} decoding {coding!r}")
        raise
    if complete and coding in _CHAINS[:4]:
        expected = _reference(coding, body)
        if expected is not None and b"".join(decoded) != expected:
            fail(
                "decode.agree",
                f"{coding!r}: {len(b''.join(decoded))} bytes decoded, the reference"
                f" decompressor makes {len(expected)}",
            )
