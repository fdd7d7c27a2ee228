"""files= uploads through the Client against a real aiohttp server (multipart/form-data).

The server parses every request with ``await request.multipart()`` and
answers with what it saw: each part's name, filename, Content-Type, size
and sha256, in order, and the request's framing fields. It hashes parts as
they stream in and keeps nothing, so a 1 GiB upload measures the client.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
import pytest_asyncio
from aiohttp import BodyPartReader, web
from hyperhttp._multipart import FileTypes, MultipartFile, encode_multipart

from tests.servers.routes import serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from tests.servers.fixtures import H2Server

pytestmark = pytest.mark.asyncio

GIB = 1 << 30
MIB = 1 << 20


@dataclass
class Seen:
    """A part as the server saw it."""

    name: str | None
    filename: str | None
    content_type: str | None
    size: int
    sha256: str


def seen(name: str, filename: str | None, content_type: str | None, content: bytes) -> Seen:
    return Seen(name, filename, content_type, len(content), hashlib.sha256(content).hexdigest())


async def upload(request: web.Request) -> web.Response:
    reader = await request.multipart()
    parts = []
    async for part in reader:
        assert isinstance(part, BodyPartReader)  # not a nested multipart
        digest, size = hashlib.sha256(), 0
        while chunk := await part.read_chunk(MIB):
            digest.update(chunk)
            size += len(chunk)
        parts.append(
            {
                "name": part.name,
                "filename": part.filename,
                "content_type": part.headers.get("Content-Type"),
                "size": size,
                "sha256": digest.hexdigest(),
            }
        )
    await request.content.read()  # the epilogue, if any
    return web.json_response(
        {
            "parts": parts,
            "content_type": request.headers.get("Content-Type"),
            "content_length": request.headers.get("Content-Length"),
            "transfer_encoding": request.headers.get("Transfer-Encoding"),
            "received": request.content.total_bytes,
        }
    )


async def redirect(request: web.Request) -> web.Response:
    await request.read()
    raise web.HTTPTemporaryRedirect("/upload")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[str]:
    """Serve the upload app on 127.0.0.1; yield its base URL."""
    app = web.Application(client_max_size=0)  # no cap: the 1 GiB upload streams through
    app.router.add_post("/upload", upload)
    app.router.add_post("/redirect", redirect)
    async with serve_app(app, access_log=None, shutdown_timeout=0.1) as url:
        yield url


def parts_of(response: hyperhttp.Response) -> list[Seen]:
    assert response.status_code == 200, response.text
    return [Seen(**part) for part in response.json()["parts"]]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.csv"
    path.write_bytes(os.urandom(300_000))
    return path


# ------------------------------------------------------------------ contents


async def test_every_input_kind_arrives_intact(server: str, sample: Path) -> None:
    """Fields then files, in order, each with its name, filename, type and exact bytes."""
    blob = os.urandom(70_000)
    data = sample.read_bytes()
    with sample.open("rb") as opened:
        opened.seek(1000)
        files: list[tuple[str, Any]] = [
            ("bytes", blob),
            ("path", str(sample)),
            ("pathlike", sample),
            ("opened", opened),
            ("buffer", io.BytesIO(b"in memory")),
            ("tuple", ("chart.png", b"\x89PNG", "image/x-custom")),
            ("doc", MultipartFile(b"{}", filename="d.json", headers={"X-Note": "n"})),
            ("doc", ("again.bin", blob[:10])),
        ]
        async with hyperhttp.Client() as client:
            response = await client.post(
                f"{server}/upload", data={"title": "h\u00e9llo", "n": [1, 2.5]}, files=files
            )
    assert parts_of(response) == [
        seen("title", None, None, "h\u00e9llo".encode()),
        seen("n", None, None, b"1"),
        seen("n", None, None, b"2.5"),
        seen("bytes", "bytes", "application/octet-stream", blob),
        seen("path", "sample.csv", "text/csv", data),
        seen("pathlike", "sample.csv", "text/csv", data),
        seen("opened", "sample.csv", "text/csv", data[1000:]),
        seen("buffer", "buffer", "application/octet-stream", b"in memory"),
        seen("tuple", "chart.png", "image/x-custom", b"\x89PNG"),
        seen("doc", "d.json", "application/json", b"{}"),
        seen("doc", "again.bin", "application/octet-stream", blob[:10]),
    ]


async def test_names_are_escaped_and_utf8(server: str) -> None:
    """Quotes, CR and LF arrive percent-encoded; non-ASCII arrives as UTF-8."""
    async with hyperhttp.Client() as client:
        response = await client.post(
            f"{server}/upload",
            data={'say "hi"\r\n': "1", "pr\u00e9nom": "Zo\u00eb"},
            files={"f\u00fc": ('r\u00e9sum\u00e9 "final"\n.pdf', b"%PDF-1.7")},
        )
    assert [(p.name, p.filename, p.content_type) for p in parts_of(response)] == [
        ("say %22hi%22%0D%0A", None, None),
        ("pr\u00e9nom", None, None),
        ("f\u00fc", "r\u00e9sum\u00e9 %22final%22%0A.pdf", "application/pdf"),
    ]


async def test_data_fields_with_no_files(server: str) -> None:
    """files={} with data= sends the fields as multipart/form-data, not urlencoded."""
    async with hyperhttp.Client() as client:
        response = await client.post(f"{server}/upload", data={"a": "1"}, files={})
    assert response.json()["content_type"].startswith("multipart/form-data; boundary=")
    assert parts_of(response) == [seen("a", None, None, b"1")]


# ------------------------------------------------------------------ framing


async def test_known_size_is_sent_with_content_length(server: str, sample: Path) -> None:
    """Bytes, paths and seekable files: Content-Length is the body's exact length."""
    files: dict[str, FileTypes] = {"a": sample, "b": b"x" * 100_000}
    expected = encode_multipart({"f": "v"}, files).length
    async with hyperhttp.Client() as client:
        response = await client.post(f"{server}/upload", data={"f": "v"}, files=files)
    info = response.json()
    assert info["transfer_encoding"] is None
    assert info["content_length"] == str(expected)
    assert info["received"] == expected
    assert info["content_type"].startswith("multipart/form-data; boundary=")


@pytest.fixture
def pipe() -> Iterator[tuple[io.BufferedReader, int]]:
    """Yield a pipe: its read end as a binary file, and its write end's descriptor."""
    r, w = os.pipe()
    reader = os.fdopen(r, "rb")
    yield reader, w
    reader.close()


def feed(w: int, data: bytes) -> threading.Thread:
    """Write ``data`` to the pipe from a thread (a producer the loop does not run), then EOF."""

    def run() -> None:
        with os.fdopen(w, "wb") as out:
            for at in range(0, len(data), 10_000):
                out.write(data[at : at + 10_000])

    thread = threading.Thread(target=run, name="pipe-feeder")
    thread.start()
    return thread


async def test_non_seekable_source_is_sent_chunked(
    server: str, pipe: tuple[io.BufferedReader, int]
) -> None:
    """A pipe has no size up front: Transfer-Encoding chunked, no Content-Length, every byte."""
    reader, w = pipe
    data = os.urandom(3 * MIB + 7)
    thread = feed(w, data)
    try:
        async with hyperhttp.Client() as client:
            response = await client.post(
                f"{server}/upload", data={"a": "1"}, files={"stream": ("live.txt", reader)}
            )
    finally:
        thread.join(10)
    info = response.json()
    assert info["transfer_encoding"] == "chunked"
    assert info["content_length"] is None
    assert parts_of(response) == [
        seen("a", None, None, b"1"),
        seen("stream", "live.txt", "text/plain", data),
    ]


# ------------------------------------------------------------------ HTTP/2


async def _expected_body(files: dict[str, FileTypes], boundary: str) -> tuple[int, str]:
    """Return the length and sha256 of the body hyperhttp sends with ``boundary``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "token_hex", lambda n: boundary)
        body = encode_multipart({"a": "1"}, files)
    digest, size = hashlib.sha256(), 0
    async for chunk in body:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


async def test_http2_sized_body(h2c_server: H2Server, sample: Path) -> None:
    """Over HTTP/2 (h2c): content-length and the exact bytes, in DATA frames."""
    files: dict[str, FileTypes] = {"f": sample, "b": b"x" * 100_000}
    async with hyperhttp.Client(http1=False) as client:
        response = await client.post(f"{h2c_server.url}/echo", data={"a": "1"}, files=files)
    info = response.json()
    assert info["http_version"] == "2"
    headers = dict(info["headers"])
    boundary = headers["content-type"].removeprefix("multipart/form-data; boundary=")
    length, sha256 = await _expected_body(files, boundary)
    assert headers["content-length"] == str(length)
    assert (info["length"], info["sha256"]) == (length, sha256)


async def test_http2_stream_body(h2c_server: H2Server, pipe: tuple[io.BufferedReader, int]) -> None:
    """Over HTTP/2, a pipe goes without content-length, up to END_STREAM, every byte."""
    reader, w = pipe
    data = os.urandom(MIB + 3)
    thread = feed(w, data)
    try:
        async with hyperhttp.Client(http1=False) as client:
            response = await client.post(
                f"{h2c_server.url}/echo", data={"a": "1"}, files={"s": reader}
            )
    finally:
        thread.join(10)
    info = response.json()
    headers = dict(info["headers"])
    assert "content-length" not in headers
    boundary = headers["content-type"].removeprefix("multipart/form-data; boundary=")
    length, sha256 = await _expected_body({"s": ("s", io.BytesIO(data))}, boundary)
    assert (info["length"], info["sha256"]) == (length, sha256)


# ------------------------------------------------------------------ redirects


async def test_307_resends_a_file_body(server: str, sample: Path) -> None:
    """A replayable body (a path) is sent again, whole, to a 307's target."""
    async with hyperhttp.Client() as client:
        response = await client.post(f"{server}/redirect", files={"f": sample})
    assert [r.status_code for r in response.history] == [307]
    assert parts_of(response) == [seen("f", "sample.csv", "text/csv", sample.read_bytes())]


async def test_307_with_a_stream_raises(server: str, pipe: tuple[io.BufferedReader, int]) -> None:
    """A pipe cannot be sent twice: a 307 raises StreamConsumed."""
    reader, w = pipe
    thread = feed(w, b"once")
    try:
        async with hyperhttp.Client() as client:
            with pytest.raises(hyperhttp.StreamConsumed):
                await client.post(f"{server}/redirect", files={"f": reader})
    finally:
        thread.join(10)


# ------------------------------------------------------------------ memory


@pytest.fixture(scope="module")
def sparse_gib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Return a 1 GiB sparse file (no disk used) with a few marked blocks, and its sha256."""
    path = tmp_path_factory.mktemp("sparse") / "big.bin"
    with path.open("wb") as f:
        f.truncate(GIB)
        for offset in (0, GIB // 2 + 12345, GIB - 4096):
            f.seek(offset)
            f.write(os.urandom(4096))
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 * MIB):
            digest.update(block)
    return path, digest.hexdigest()


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class RSSSampler:
    """Sample this process's resident set size every few milliseconds from a thread."""

    def __init__(self) -> None:
        self.peak = self.start = _rss()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rss-sampler")

    def _run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> RSSSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, _rss())


async def test_one_gib_upload_in_bounded_memory(server: str, sparse_gib: tuple[Path, str]) -> None:
    """1 GiB from disk streams through: client (and hashing server) RSS grows < 100 MiB."""
    path, sha256 = sparse_gib
    async with hyperhttp.Client(timeout=120) as client:
        await client.post(f"{server}/upload", files={"warm": b"up"})  # connection, imports
        with RSSSampler() as rss:
            response = await client.post(f"{server}/upload", files={"big": path})
    info = response.json()
    assert info["content_length"] == str(encode_multipart(None, {"big": path}).length)
    assert parts_of(response) == [Seen("big", "big.bin", "application/octet-stream", GIB, sha256)]
    growth = rss.peak - rss.start
    assert growth < 100 * MIB, f"RSS grew by {growth / MIB:.1f} MiB"
