"""Decoding, sans-IO: a bounded Content-Encoding chain, text codecs only, brotli's floor.

Also the fuzz findings: zstd frames one after another, br and zstd bombs in bounded steps.
"""

from __future__ import annotations

import gzip
import importlib
import os
import re
import subprocess
import sys
import tomllib
import tracemalloc
import types
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hyperhttp import DecodingError, Response
from hyperhttp import _decoders as decoders
from hyperhttp._decoders import make_decoder
from hyperhttp._models import BodySource

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

PACKAGE = Path(__file__).resolve().parents[1]
MAX_CODINGS = 5  # urllib3's limit (CVE-2025-66418)


def _decode(codings: list[bytes], body: bytes) -> bytes:
    decoder = make_decoder(codings)
    assert decoder is not None
    return b"".join([*decoder.decode(body), *decoder.flush()])


def _nested_gzip(data: bytes, layers: int) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=1)
    return data


# ---------------------------------------------------------------- defect 8: the chain's length


def test_a_chain_up_to_the_cap_is_decoded() -> None:
    """MAX_CODINGS stacked codings (urllib3's 5) still decode, last applied first."""
    assert getattr(decoders, "MAX_CODINGS", None) == MAX_CODINGS
    body = _nested_gzip(b"payload", MAX_CODINGS)
    assert _decode([b", ".join([b"gzip"] * MAX_CODINGS)], body) == b"payload"
    # also when the codings come in several fields
    assert _decode([b"gzip"] * MAX_CODINGS, body) == b"payload"


@pytest.mark.parametrize(
    "fields",
    [
        [b", ".join([b"gzip"] * (MAX_CODINGS + 1))],
        [b"gzip"] * (MAX_CODINGS + 1),
        [b"gzip, " * 13_000],  # one 65 KB field: 13 000 decoders before the cap
        [b"identity, " * 13_000 + b"gzip"],  # identity counts too: the field is the attack
        [b"gzip, deflate, br, zstd, gzip, unknown-coding"],
    ],
)
def test_a_longer_chain_is_a_decoding_error(fields: list[bytes]) -> None:
    """More codings than MAX_CODINGS: DecodingError before any decoder is built."""
    with pytest.raises(DecodingError, match="codings"):
        make_decoder(fields)


def test_a_thousand_nested_gzip_layers_are_a_decoding_error() -> None:
    """~1 000 layers used to end in RecursionError; now DecodingError, up front."""
    layers = 1000
    with pytest.raises(DecodingError):
        _decode([b"gzip"] * layers, _nested_gzip(b"x", 3))


# ---------------------------------------------------------------- defect 11: charsets


def _text_response(charset: str, body: bytes) -> Response:
    headers = [(b"content-type", f"text/plain; charset={charset}".encode())]
    return Response(200, headers=headers, content=body)


@pytest.mark.parametrize(
    "charset", ["zlib", "zlib_codec", "base64", "hex", "bz2", "uu", "quopri", "rot13"]
)
def test_a_codec_that_is_not_a_text_encoding_is_no_charset(charset: str) -> None:
    """bytes-to-bytes (and str-to-str) codecs fall back to the default charset, utf-8."""
    response = _text_response(charset, "h\u00e9llo".encode())
    assert response.encoding == "utf-8"
    assert response.text == "h\u00e9llo"


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [("latin-1", "iso8859-1"), ('"ISO-8859-1"', "iso8859-1"), ("utf-16", "utf-16")],
)
def test_text_encodings_are_still_charsets(charset: str, encoding: str) -> None:
    """A real text encoding is used as before."""
    assert _text_response(charset, b"").encoding == encoding


def test_charset_zlib_does_not_inflate_under_python_O() -> None:
    """Under ``python -O`` the zlib codec's assert is gone: .text must never reach it."""
    script = (
        "import zlib\n"
        "from hyperhttp import Response\n"
        "bomb = zlib.compress(bytes(200 * 1024 * 1024), 9)\n"
        "kind = [(b'content-type', b'text/plain; charset=zlib')]\n"
        "r = Response(200, headers=kind, content=bomb)\n"
        "assert r.encoding == 'utf-8', r.encoding\n"
        "print(len(r.text))\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 1024 * 1024  # the compressed size, not 200 MiB


# ---------------------------------------------------------------- defect 12: brotli's floor


def _brotli_floors(text: str) -> list[tuple[int, ...]]:
    found = re.findall(r"""["']brotli\s*>=\s*([0-9][0-9.]*)""", text, flags=re.IGNORECASE)
    return [tuple(int(part) for part in version.split(".")) for version in found]


def test_every_brotli_requirement_needs_the_bounded_decoder_api() -> None:
    """Brotli 1.2 added process(output_buffer_limit=) and can_accept_more_data(); 1.1 lacks them."""
    files = [PACKAGE / "pyproject.toml", PACKAGE.parents[1] / "pyproject.toml"]
    checked = 0
    for path in files:
        text = path.read_text()
        tomllib.loads(text)  # still valid TOML
        floors = _brotli_floors(text)
        assert floors, f"no brotli requirement found in {path}"
        for floor in floors:
            assert floor >= (1, 2), f"{path}: brotli>={'.'.join(map(str, floor))}"
            checked += 1
    assert checked >= 2


def test_the_installed_brotli_has_that_api() -> None:
    """The test environment's brotli decodes with a bounded output buffer."""
    brotli = pytest.importorskip("brotli")  # installed in every test env (a hatch dependency)
    assert "br" in decoders.SUPPORTED
    data = b"brotli " * 10_000
    assert _decode([b"br"], brotli.compress(data)) == data


def test_an_older_brotli_is_treated_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Brotli 1.1's Decompressor (process(data) only): br is not offered, not half-used."""

    class OldDecompressor:  # the 1.1 API: process(data), is_finished()
        def process(self, data: bytes) -> bytes:
            return data

        def is_finished(self) -> bool:
            return True

    old = types.ModuleType("brotli")
    old.Decompressor = OldDecompressor  # type: ignore[attr-defined]
    old.error = Exception  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", old)
    try:
        reloaded = importlib.reload(decoders)
        assert "br" not in reloaded.SUPPORTED
        assert b"br" not in reloaded.accept_encoding()
        assert reloaded.make_decoder([b"br"]) is None  # an unknown coding: body left as is
    finally:
        monkeypatch.undo()
        importlib.reload(decoders)


# ---------------------------------------------------------------- defect 13: no content


class _Empty(BodySource):
    """A body of no bytes (what a HEAD, 204 or 304 response has)."""

    async def read_all(self) -> bytes:
        return b""

    async def _nothing(self) -> AsyncIterator[bytes]:
        chunks: tuple[bytes, ...] = ()
        for chunk in chunks:
            yield chunk

    def iter_raw(self) -> AsyncIterator[bytes]:
        return self._nothing()

    def close(self) -> None:
        pass


@pytest.mark.asyncio
@pytest.mark.parametrize("coding", [b"gzip", b"deflate", b"br", b"zstd", b"gzip, br"])
@pytest.mark.parametrize("status", [200, 204, 304])
async def test_an_empty_body_with_a_content_encoding_is_empty(coding: bytes, status: int) -> None:
    """No content means nothing to decode: b"" under any coding, read or streamed."""
    headers = [(b"content-encoding", coding)]
    read = Response(status, headers=headers, source=_Empty())
    assert await read.aread() == b""
    streamed = Response(status, headers=headers, source=_Empty())
    assert [piece async for piece in streamed.aiter_bytes()] == []


# ---------------------------------------------------------------- fuzz findings: zstd and br


def _decode_pieces(coding: bytes, reads: list[bytes]) -> list[bytes]:
    """Decode ``reads`` as a response's body arrives: every piece, then flush()."""
    decoder = make_decoder([coding])
    assert decoder is not None
    out = [piece for data in reads for piece in decoder.decode(data)]
    out += list(decoder.flush())
    assert all(len(piece) <= decoders.CHUNK for piece in out), max(map(len, out))
    return out


def _decode_all(coding: bytes, body: bytes) -> bytes:
    return b"".join(_decode_pieces(coding, [body]))


def _zstd() -> types.ModuleType:
    module = importlib.import_module("zstandard")  # in every test env: never skipped
    assert "zstd" in decoders.SUPPORTED
    return module


def _brotli() -> types.ModuleType:
    module = importlib.import_module("brotli")  # in every test env: never skipped
    assert "br" in decoders.SUPPORTED
    return module


def test_zstd_two_frames_in_one_read_are_both_decoded() -> None:
    """RFC 8878 §3.1: a zstd stream is frames one after another; every one is decoded."""
    frame = _zstd().ZstdCompressor().compress(b"a")
    assert _decode_all(b"zstd", frame + frame) == b"aa"  # was b"a", and flush() passed


def test_zstd_frames_decode_whatever_the_reads() -> None:
    """Frames (with and without checksums, skippable ones between) cut into reads anywhere."""
    zstd = _zstd()
    parts = [b"first " * 50, bytes(300_000), os.urandom(70_000), b"", b"last"]
    frames = [
        zstd.ZstdCompressor(write_checksum=bool(n % 2), write_content_size=n != 2).compress(p)
        for n, p in enumerate(parts)
    ]
    skippable = b"\x5a\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"hello"  # RFC 8878 §3.1.2
    body = frames[0] + skippable + b"".join(frames[1:])
    expected = b"".join(parts)
    for size in (1, 2, 3, 7, 1000, 65536, len(body)):
        reads = [body[at : at + size] for at in range(0, len(body), size)]
        assert b"".join(_decode_pieces(b"zstd", reads)) == expected, size


@pytest.mark.parametrize("cut", [1, 4, 6, 20, -5, -1])
def test_a_truncated_zstd_frame_is_a_decoding_error(cut: int) -> None:
    """A body ending inside a frame (also the second of two) is truncated."""
    frame = _zstd().ZstdCompressor(write_checksum=True).compress(b"zstd " * 1000)
    for body in (frame[:cut], frame + frame[:cut]):
        with pytest.raises(DecodingError, match="truncated zstd"):
            _decode_pieces(b"zstd", [body])


@pytest.mark.parametrize("tail", [b"\x00", b"\x00" * 8, b"not zstd", b"\x28\xb5\x2f\xfd\xff"])
def test_bytes_after_a_zstd_frame_that_are_no_frame_are_a_decoding_error(tail: bytes) -> None:
    frame = _zstd().ZstdCompressor().compress(b"data")
    with pytest.raises(DecodingError, match="zstd"):
        _decode_pieces(b"zstd", [frame + tail])


def test_brotli_high_ratio_body_decodes_whole_in_chunk_pieces() -> None:
    """1 MiB of zeros in 14 bytes of br: whole, in pieces of at most CHUNK."""
    raw = b"\x00" * (1 << 20)
    body = _brotli().compress(raw)
    assert _decode_all(b"br", body) == raw  # was one 98 272-byte piece, then "truncated br body"


def test_brotli_decodes_whatever_the_reads() -> None:
    brotli = _brotli()
    raw = b"".join(os.urandom(100) + bytes(20_000) for _ in range(40))
    body = brotli.compress(raw)
    for size in (1, 5, 1000, len(body)):
        reads = [body[at : at + size] for at in range(0, len(body), size)]
        assert b"".join(_decode_pieces(b"br", reads)) == raw, size
    with pytest.raises(DecodingError, match="truncated br"):
        _decode_pieces(b"br", [body[:-3]])


def _peak_while(step: Callable[[], object]) -> int:
    """Return the peak of traced allocations while ``step`` runs, above where it started."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        if not was_tracing:
            tracemalloc.stop()


@pytest.mark.parametrize("coding", [b"zstd", b"br", b"gzip"])
def test_one_step_of_a_decompression_bomb_is_bounded(coding: bytes) -> None:
    """1 KiB of a 64 MiB body of zeros: the first piece costs a few CHUNKs, not 32 MiB."""
    raw = bytes(64 << 20)
    if coding == b"zstd":
        body = _zstd().ZstdCompressor(level=19).compress(raw)  # ~2 KiB
    elif coding == b"br":
        body = _brotli().compress(raw)
    else:
        body = gzip.compress(raw, compresslevel=9)
    decoder = make_decoder([coding])
    assert decoder is not None

    def first_piece() -> None:
        for piece in decoder.decode(body[:1024]):
            assert len(piece) <= decoders.CHUNK
            break  # the consumer stops at the first piece (a size limit would)

    peak = _peak_while(first_piece)
    # zstd was ~32 MiB: one decompress() of a 1 KiB slice, checked against the limit afterwards
    assert peak < 16 * decoders.CHUNK, f"{peak} bytes for 1 KiB of {coding.decode()}"


@pytest.mark.parametrize("coding", [b"zstd", b"br", b"gzip"])
def test_a_whole_decompression_bomb_comes_in_bounded_steps(coding: bytes) -> None:
    """Decoding all of it, no step (from one piece to the next) holds more than a few CHUNKs."""
    raw = bytes(16 << 20)
    if coding == b"zstd":
        body = _zstd().ZstdCompressor(level=19).compress(raw)
    elif coding == b"br":
        body = _brotli().compress(raw)
    else:
        body = gzip.compress(raw, compresslevel=9)
    decoder = make_decoder([coding])
    assert decoder is not None
    total = 0

    def decode_all() -> None:
        nonlocal total
        for piece in decoder.decode(body):
            assert len(piece) <= decoders.CHUNK
            total += len(piece)
        for piece in decoder.flush():
            total += len(piece)

    peak = _peak_while(decode_all)
    assert total == len(raw)
    assert peak < 16 * decoders.CHUNK, f"{peak} bytes decoding {coding.decode()}"


def test_zstd_frame_asking_for_a_window_over_8_mib_is_refused() -> None:
    # RFC 9659 §3: HTTP's zstd windows are at most 8 MB; a hostile frame
    # claiming 128 MiB would make zstd allocate that much, out of Python's sight.
    zstandard = _zstd()
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=27, write_content_size=False
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    writer = compressor.compressobj()
    body = writer.compress(b"x" * 1000) + writer.flush()
    with pytest.raises(DecodingError):
        _decode_all(b"zstd", body)


def test_zstd_frame_with_an_8_mib_window_is_decoded() -> None:
    zstandard = _zstd()
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=23, write_content_size=False
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    writer = compressor.compressobj()
    body = writer.compress(b"x" * 1000) + writer.flush()
    assert _decode_all(b"zstd", body) == b"x" * 1000
