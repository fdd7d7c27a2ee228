"""Decoding a response as users meet it (issue 15, defects 11, 13 and 14).

- A Content-Encoding on a response that has no content (HEAD, 204, 304: nginx
  sends ``Content-Encoding: gzip`` on them) means nothing to decode: the body
  is empty, never a DecodingError; on HTTP/1.1 and HTTP/2, against a scripted
  peer and against nginx.
- A charset that names a codec but not a text encoding (``zlib``, ``base64``)
  is no charset: the text falls back to the default, for ``.text``,
  ``aiter_text()`` and ``aiter_lines()``.
- ``max_decompressed_size`` bounds what a decoder produces, never an identity
  body: 70 MiB streamed with no Content-Encoding is fine under the 64 MiB default.
- What the fuzzing found, end to end: a zstd body of several frames decodes
  whole, a highly compressed br body too, and a zstd, br or gzip bomb stops at
  ``max_decompressed_size`` with memory a few times the limit.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import tracemalloc
import zlib
from typing import TYPE_CHECKING

import hyperhttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.servers.fixtures import response
from tests.servers.nginx import require_nginx
from tests.servers.nginx_proc import http_preamble, launch, stop_nginx
from tests.servers.routes import serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
    from pathlib import Path

    from tests.servers.fixtures import RawServer, Script, TLSSetup

    StartRaw = Callable[[Script], Awaitable[RawServer]]

pytestmark = pytest.mark.asyncio

TEXT = "h\u00e9llo, w\u00f6rld\nsecond line\n" * 200


# ---------------------------------------------------------------- defect 13: no content


def _no_content(request: bytes, number: int) -> bytes:
    """Answer with Content-Encoding: gzip and no content, as nginx does."""
    line = request.split(b"\r\n", 1)[0]
    if line.startswith(b"HEAD "):  # a HEAD: the fields of a gzipped 200, no body
        return (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1234\r\n"
            b"Content-Type: text/plain\r\n\r\n"
        )
    status = b"204 No Content" if b" /204 " in line else b"304 Not Modified"
    return b"HTTP/1.1 " + status + b'\r\nContent-Encoding: gzip\r\nETag: "x"\r\n\r\n'


@pytest.mark.parametrize(("method", "path"), [("HEAD", "/"), ("GET", "/204"), ("GET", "/304")])
async def test_no_content_with_a_content_encoding_http11(
    method: str, path: str, raw_server: StartRaw
) -> None:
    """HEAD, 204 and 304 carrying Content-Encoding: gzip read as b"" (whole and streamed)."""
    server = await raw_server(_no_content)
    async with hyperhttp.Client() as client:
        for _ in range(2):  # and the connection is reused after each
            r = await client.request(method, f"{server.url}{path}")
            assert r.content == b""
            assert r.text == ""
            assert r.headers["content-encoding"] == "gzip"
            async with client.stream(method, f"{server.url}{path}") as streamed:
                assert [piece async for piece in streamed.aiter_bytes()] == []
    assert server.connections == 1


# nginx: gzip on for /text/ (so HEAD gets Content-Encoding: gzip), a 204 and 304s
# carrying the field (add_header ... always), over TLS with HTTP/2 and HTTP/1.1.
def _nginx_config(root: Path, port: int, cert: Path, key: Path) -> str:
    return (
        http_preamble(root, worker_connections=64)
        + f"""    default_type text/plain;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root}/www;
        location /text/ {{ gzip on; gzip_types text/plain; gzip_min_length 0; }}
        location = /204 {{ add_header Content-Encoding gzip always; return 204; }}
        location /cached/ {{ add_header Content-Encoding gzip always; }}
    }}
}}
"""
    )


@pytest.fixture(scope="module")
def gzip_nginx(tls: TLSSetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Nginx with the configuration above; its https base URL."""
    require_nginx()
    root = tmp_path_factory.mktemp("gzip-nginx")
    cert_path, key_path = tls.cert_files(root)
    (root / "temp").mkdir()
    for folder in ("text", "cached"):
        (root / "www" / folder).mkdir(parents=True)
        (root / "www" / folder / "a.txt").write_text(TEXT)
    process, (port,) = launch(
        root, lambda ports: _nginx_config(root, ports[0], cert_path, key_path)
    )
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        stop_nginx(process)


@pytest.mark.parametrize("http2", [True, False])
async def test_no_content_with_a_content_encoding_nginx(
    http2: bool, tls: TLSSetup, gzip_nginx: str
) -> None:
    """Nginx's own HEAD (gzip on), 204 and 304 with Content-Encoding: gzip, h2 and h1."""
    version = "HTTP/2" if http2 else "HTTP/1.1"
    async with hyperhttp.Client(verify=tls.ca_path, http2=http2) as client:
        full = await client.get(f"{gzip_nginx}/text/a.txt")
        assert full.headers["content-encoding"] == "gzip"  # nginx really gzips it
        assert full.text == TEXT
        assert full.http_version == version

        head = await client.head(f"{gzip_nginx}/text/a.txt")
        assert head.headers["content-encoding"] == "gzip"
        assert head.content == b""
        async with client.stream("HEAD", f"{gzip_nginx}/text/a.txt") as streamed:
            assert [piece async for piece in streamed.aiter_bytes()] == []

        empty = await client.get(f"{gzip_nginx}/204")
        assert (empty.status_code, empty.headers["content-encoding"]) == (204, "gzip")
        assert empty.content == b""

        # (the 200 here claims gzip but is plain text: only its head is read)
        cached = await client.head(f"{gzip_nginx}/cached/a.txt")
        assert (cached.status_code, cached.headers["content-encoding"]) == (200, "gzip")
        since = {"If-Modified-Since": cached.headers["last-modified"]}
        not_modified = await client.get(f"{gzip_nginx}/cached/a.txt", headers=since)
        assert not_modified.status_code == 304
        assert not_modified.headers["content-encoding"] == "gzip"
        assert not_modified.content == b""
        async with client.stream("GET", f"{gzip_nginx}/cached/a.txt", headers=since) as r:
            assert [piece async for piece in r.aiter_bytes()] == []
        assert not_modified.http_version == version


# ---------------------------------------------------------------- defect 11: charsets


@pytest_asyncio.fixture
async def charset_server() -> AsyncIterator[str]:
    async def text(request: web.Request) -> web.Response:
        charset = request.match_info["charset"]
        body = TEXT.encode("utf-8")
        if charset == "zlib-bomb":  # what zlib would inflate, were it used
            charset, body = "zlib", zlib.compress(bytes(8 * 1024 * 1024), 9)
        return web.Response(body=body, headers={"Content-Type": f"text/plain; charset={charset}"})

    async with serve_routes([web.get("/text/{charset}", text)]) as (url, _seen):
        yield url


@pytest.mark.parametrize("charset", ["zlib", "base64", "hex", "bz2", "rot13"])
async def test_a_bytes_codec_is_no_charset(charset: str, charset_server: str) -> None:
    """charset=zlib (a bytes-to-bytes codec): utf-8 instead, for .text and the text iterators."""
    url = f"{charset_server}/text/{charset}"
    async with hyperhttp.Client() as client:
        r = await client.get(url)
        assert r.encoding == "utf-8"
        assert r.text == TEXT
        async with client.stream("GET", url) as streamed:
            assert "".join([t async for t in streamed.aiter_text()]) == TEXT
        async with client.stream("GET", url) as streamed:
            lines = [line async for line in streamed.aiter_lines()]
        assert lines == TEXT.splitlines()


async def test_a_zlib_charset_never_inflates(charset_server: str) -> None:
    """The zlib codec is never run on a body: the text is as long as the bytes sent."""
    size = 0
    async with (
        hyperhttp.Client() as client,
        client.stream("GET", f"{charset_server}/text/zlib-bomb") as streamed,
    ):
        async for text in streamed.aiter_text():
            size += len(text)
    assert size < 1024 * 1024  # the deflated bytes as replacement text, not 8 MiB of zeros


# ---------------------------------------------------------------- defect 14: identity bodies


async def _drain(client: hyperhttp.Client, url: str) -> int:
    size = 0
    async with client.stream("GET", url) as r:
        async for piece in r.aiter_bytes():
            size += len(piece)
    return size


BIG = 70 * 1024 * 1024  # over the 64 MiB max_decompressed_size default


@pytest_asyncio.fixture
async def big_server() -> AsyncIterator[str]:
    piece = bytes(1024 * 1024)

    async def big(request: web.Request) -> web.StreamResponse:
        out = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        out.content_length = BIG
        await out.prepare(request)
        for _ in range(BIG // len(piece)):
            await out.write(piece)
        await out.write_eof()
        return out

    async with serve_routes([web.get("/file.iso", big)]) as (url, _seen):
        yield url


async def test_an_identity_body_is_not_bound_by_max_decompressed_size(big_server: str) -> None:
    """70 MiB with no Content-Encoding streams whole under the 64 MiB default."""
    async with hyperhttp.Client() as client:
        assert client.max_decompressed_size is not None
        assert client.max_decompressed_size < BIG
        assert await _drain(client, f"{big_server}/file.iso") == BIG
        with contextlib.suppress(MemoryError):  # read whole too: 70 MiB is fine here
            assert len((await client.get(f"{big_server}/file.iso")).content) == BIG


async def test_max_response_size_still_bounds_identity_bodies(big_server: str) -> None:
    """The raw size is max_response_size's job, and it still does it."""
    async with hyperhttp.Client(max_response_size=BIG // 2) as client:
        with pytest.raises(hyperhttp.ResponseTooLarge):
            await _drain(client, f"{big_server}/file.iso")


async def test_max_decompressed_size_still_bounds_decoded_bodies(raw_server: StartRaw) -> None:
    """A gzip body decoding past the limit: ResponseTooLarge, streamed or read."""
    bomb = gzip.compress(bytes(4 * 1024 * 1024))
    server = await raw_server(lambda r, n: response(body=bomb, headers=["Content-Encoding: gzip"]))
    async with hyperhttp.Client(max_decompressed_size=1024 * 1024) as client:
        with pytest.raises(hyperhttp.ResponseTooLarge):
            await client.get(server.url)
        with pytest.raises(hyperhttp.ResponseTooLarge):
            await _drain(client, server.url)


# ---------------------------------------------------------------- defect 8, end to end


async def test_a_long_content_encoding_chain_is_a_decoding_error(raw_server: StartRaw) -> None:
    """Six codings (or 12 001 in one 60 KB field): DecodingError, read or streamed; no leak."""

    def answer(request: bytes, number: int) -> bytes:
        if b" /ok " in request.split(b"\r\n", 1)[0]:
            return response(body=gzip.compress(b"fine"), headers=["Content-Encoding: gzip"])
        codings = "gzip, " * 5 + "gzip" if b" /six " in request else "gzip," * 12_000 + "gzip"
        return response(body=b"x" * 100, headers=[f"Content-Encoding: {codings}"])

    server = await raw_server(answer)
    async with hyperhttp.Client() as client:
        for path in ("/six", "/many"):
            with pytest.raises(hyperhttp.DecodingError, match="codings"):
                await client.get(f"{server.url}{path}")
            with pytest.raises(hyperhttp.DecodingError, match="codings"):
                await _drain(client, f"{server.url}{path}")
        assert (await client.get(f"{server.url}/ok")).content == b"fine"


# ---------------------------------------------------------------- fuzz findings: zstd and br


@functools.cache
def _compressed(coding: str, raw: bytes) -> bytes:
    if coding == "zstd":
        import zstandard  # a test dependency, like brotli

        return zstandard.ZstdCompressor(level=19).compress(raw)
    if coding == "br":
        import brotli  # type: ignore[import-not-found,unused-ignore]

        out: bytes = brotli.compress(raw)
        return out
    return gzip.compress(raw, compresslevel=9)


async def test_a_zstd_body_of_several_frames_is_decoded_whole(raw_server: StartRaw) -> None:
    """RFC 8878 §3.1: frames one after another (a streaming server flushes one per write)."""
    import zstandard

    parts = [b"first frame. " * 100, b"", bytes(200_000), b"last"]
    body = b"".join(zstandard.ZstdCompressor().compress(part) for part in parts)
    server = await raw_server(lambda r, n: response(body=body, headers=["Content-Encoding: zstd"]))
    async with hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == b"".join(parts)  # was parts[0] only
        pieces: list[bytes] = []
        async with client.stream("GET", server.url) as streamed:
            pieces.extend([piece async for piece in streamed.aiter_bytes()])
        assert b"".join(pieces) == b"".join(parts)


async def test_a_highly_compressed_br_body_is_decoded_whole(raw_server: StartRaw) -> None:
    """8 MiB of zeros in a few dozen bytes of br: whole, in pieces of at most CHUNK."""
    raw = bytes(8 * 1024 * 1024)
    body = _compressed("br", raw)
    server = await raw_server(lambda r, n: response(body=body, headers=["Content-Encoding: br"]))
    async with hyperhttp.Client() as client:
        assert (await client.get(server.url)).content == raw  # was "truncated br body"
        size = 0
        async with client.stream("GET", server.url) as streamed:
            async for piece in streamed.aiter_bytes():
                assert len(piece) <= 64 * 1024
                size += len(piece)
        assert size == len(raw)


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
async def test_max_decompressed_size_stops_a_bomb_as_it_goes(
    raw_server: StartRaw, coding: str
) -> None:
    """64 MiB of zeros in a few KiB: ResponseTooLarge at the 1 MiB limit, memory stays small.

    zstd used to make ~32 MiB out of one 1 KiB slice before the limit was consulted.
    """
    bomb = _compressed(coding, bytes(64 * 1024 * 1024))
    server = await raw_server(
        lambda r, n: response(body=bomb, headers=[f"Content-Encoding: {coding}"])
    )
    limit = 1024 * 1024
    async with hyperhttp.Client(max_decompressed_size=limit) as client:
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            with pytest.raises(hyperhttp.ResponseTooLarge):
                await client.get(server.url)
            with pytest.raises(hyperhttp.ResponseTooLarge):
                await _drain(client, server.url)
            peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            if not was_tracing:
                tracemalloc.stop()
    assert peak < 8 * limit, f"{peak} bytes at the peak for a {limit}-byte limit ({coding})"
