"""multipart/form-data encoding (hyperhttp._multipart): encode, then parse back.

Two parsers read what the encoder wrote: a strict one here (exact bytes,
the WHATWG escaping of names, no tolerance for a missing CRLF) and the
standard library's ``email`` parser, an independent reading of RFC 2046.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import io
import os
import re
import secrets
import threading
import time
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hyperhttp._multipart as mp
from hyperhttp import StreamConsumed
from hyperhttp._multipart import CHUNK_SIZE, MultipartBody, MultipartFile, encode_multipart

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

# ---------------------------------------------------------------- helpers


async def _achunks(body: MultipartBody) -> list[bytes]:
    return [chunk async for chunk in body]


def _chunks(body: MultipartBody) -> list[bytes]:
    return asyncio.run(_achunks(body))


def _bytes(body: MultipartBody) -> bytes:
    return b"".join(_chunks(body))


class Part:
    """One parsed part: its raw header fields and content."""

    def __init__(self, headers: dict[str, bytes], content: bytes) -> None:
        self.headers = headers
        self.content = content

    def disposition(self, param: str) -> bytes | None:
        value = self.headers["content-disposition"]
        assert value.startswith(b"form-data; name=")
        found = re.search(rb'; %s="([^"]*)"' % param.encode(), value)
        return None if found is None else found.group(1)

    @property
    def name(self) -> bytes:
        name = self.disposition("name")
        assert name is not None
        return name

    @property
    def filename(self) -> bytes | None:
        return self.disposition("filename")

    @property
    def content_type(self) -> bytes | None:
        return self.headers.get("content-type")


def parse(body: bytes, content_type: str) -> list[Part]:
    """Parse ``body`` strictly (RFC 2046 §5.1.1 as the encoder must write it)."""
    found = re.fullmatch(r"multipart/form-data; boundary=([0-9a-f]{32})", content_type)
    assert found is not None, content_type
    delimiter = b"--" + found.group(1).encode()
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n") or body == delimiter + b"--\r\n"
    if body == delimiter + b"--\r\n":
        return []
    assert body.startswith(delimiter + b"\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, sep, content = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        headers: dict[str, bytes] = {}
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b": ")
            assert colon, line
            headers[name.decode("ascii").lower()] = value
        parts.append(Part(headers, content))
    return parts


def email_parse(body: bytes, content_type: str) -> list[EmailMessage]:
    """Parse ``body`` with the standard library's email package."""
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert isinstance(message, EmailMessage)
    assert message.is_multipart()
    assert not message.defects, message.defects
    parts = list(message.iter_parts())
    assert all(isinstance(part, EmailMessage) for part in parts)
    return parts  # type: ignore[return-value]


def escaped(text: str) -> bytes:
    """Return what browsers send for a name: '"', CR, LF percent-encoded, the rest UTF-8."""
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A").encode()


def encode_parse(data: Any, files: Any) -> tuple[MultipartBody, bytes, list[Part]]:
    body = encode_multipart(data, files)
    raw = _bytes(body)
    return body, raw, parse(raw, body.content_type)


@pytest.fixture
def open_under(tmp_path: Path) -> Callable[[], list[str]]:
    """Return a function listing this process's open files under tmp_path."""

    def listing() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(tmp_path)):
                found.append(target)
        return found

    return listing


@pytest.fixture
def pipe() -> Iterator[tuple[io.BufferedReader, int]]:
    """Yield a pipe: its read end as a binary file object, its write end's descriptor."""
    r, w = os.pipe()
    reader = os.fdopen(r, "rb")
    yield reader, w
    reader.close()
    with contextlib.suppress(OSError):  # closed already by the test
        os.close(w)


def _feed(w: int, data: bytes) -> threading.Thread:
    def run() -> None:
        with os.fdopen(w, "wb") as out:
            out.write(data)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


# ---------------------------------------------------------------- layout


def test_exact_bytes() -> None:
    """The wire form is RFC 2046 §5.1.1: delimiter lines, headers, CRLF before each delimiter."""
    body = encode_multipart({"a": "1"}, {"f": ("x.txt", b"hi")})
    b = body.boundary.encode()
    assert _bytes(body) == (
        b"--%s\r\n"
        b'Content-Disposition: form-data; name="a"\r\n'
        b"\r\n"
        b"1\r\n"
        b"--%s\r\n"
        b'Content-Disposition: form-data; name="f"; filename="x.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"hi\r\n"
        b"--%s--\r\n" % (b, b, b)
    )
    assert body.length == len(_bytes(body))
    assert body.content_type == f"multipart/form-data; boundary={body.boundary}"


def test_no_parts() -> None:
    """An empty form is the close delimiter alone."""
    body = encode_multipart(None, {})
    assert _bytes(body) == b"--%s--\r\n" % body.boundary.encode()
    assert body.length == 38  # "--" + 32 + "--" + CRLF
    assert repr(body) == "<MultipartBody 0 parts, 38 bytes>"


def test_data_first_then_files_in_order() -> None:
    """data= fields come first in mapping order, then files= in the order given."""
    _, _, parts = encode_parse({"z": "1", "a": "2"}, [("f2", b"x"), ("f1", b"y"), ("f2", b"z")])
    assert [p.name for p in parts] == [b"z", b"a", b"f2", b"f1", b"f2"]
    assert [p.content for p in parts] == [b"1", b"2", b"x", b"y", b"z"]


def test_data_list_and_tuple_repeat_the_field() -> None:
    """A list or tuple value sends the field once per item."""
    _, _, parts = encode_parse({"a": ["1", "2"], "b": ("3",), "c": []}, {})
    assert [(p.name, p.content) for p in parts] == [(b"a", b"1"), (b"a", b"2"), (b"b", b"3")]


def test_data_value_kinds() -> None:
    """Form values: str as UTF-8, bytes as is, int and float as str(value); no Content-Type."""
    _, _, parts = encode_parse(
        {"s": "h\u00e9", "b": b"\x00\xff", "i": 42, "f": 1.5, "n": -0.0, "big": 10**20}, {}
    )
    assert [p.content for p in parts] == [
        "h\u00e9".encode(),
        b"\x00\xff",
        b"42",
        b"1.5",
        b"-0.0",
        b"100000000000000000000",
    ]
    assert all(p.content_type is None and p.filename is None for p in parts)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"flag": True},
            r"data\['flag'\]: a form value must be str, bytes, int or float, not bool",
        ),
        ({"x": None}, r"data\['x'\]: .* not NoneType"),
        ({"x": {"a": 1}}, r"data\['x'\]: .* not dict"),
        ({"x": ["ok", False]}, r"data\['x'\]\[1\]: .* not bool"),
        ({1: "x"}, "data: field names must be str, not int"),
        ([("a", "b")], "data must be a mapping"),
    ],
)
def test_bad_data(data: Any, match: str) -> None:
    """Form values that are not str/bytes/int/float (bool and None included) raise TypeError."""
    with pytest.raises(TypeError, match=match):
        encode_multipart(data, {})


# ---------------------------------------------------------------- input kinds


def test_bytes_file() -> None:
    """A bytes file (or bytearray, memoryview) is the content; the field name is the filename."""
    _, _, parts = encode_parse(
        None, {"up": b"\x00data", "ba": bytearray(b"ba"), "mv": memoryview(b"mv")}
    )
    assert [(p.name, p.filename, p.content) for p in parts] == [
        (b"up", b"up", b"\x00data"),
        (b"ba", b"ba", b"ba"),
        (b"mv", b"mv", b"mv"),
    ]
    assert {p.content_type for p in parts} == {b"application/octet-stream"}


def test_path_str_and_pathlike(tmp_path: Path) -> None:
    """A str or os.PathLike is a path: its basename is the filename, its type guessed."""
    path = tmp_path / "report.json"
    path.write_bytes(b'{"a": 1}')
    body, _, parts = encode_parse(None, {"s": str(path), "p": path})
    for part in parts:
        assert part.filename == b"report.json"
        assert part.content_type == b"application/json"
        assert part.content == b'{"a": 1}'
    assert body.length is not None
    assert body.replayable


def test_open_file_from_its_position(tmp_path: Path) -> None:
    """An open binary file is read from its current position; its name's basename is sent."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.seek(4)
        body, raw, parts = encode_parse(None, {"f": f})
        assert f.tell() == 4 + 6  # read to the end, not rewound afterwards
        assert not f.closed  # the caller's file stays open
    assert parts[0].content == b"456789"
    assert parts[0].filename == b"data.bin"
    assert body.length == len(raw)


def test_bytesio_and_unnamed_file() -> None:
    """A file object without a str name (BytesIO, an fdopen-ed descriptor) uses the field name."""
    _, _, parts = encode_parse(None, {"buf": io.BytesIO(b"abc")})
    assert parts[0].filename == b"buf"
    assert parts[0].content == b"abc"


def test_tuples() -> None:
    """(filename, content[, content_type[, headers]]) tuples, like requests and httpx."""
    _, _, parts = encode_parse(
        None,
        {
            "two": ("a.png", b"1"),
            "three": ("a.png", b"2", "image/x-custom"),
            "four": ("b.bin", b"3", None, {"X-Extra": "yes"}),
        },
    )
    assert [(p.filename, p.content_type) for p in parts] == [
        (b"a.png", b"image/png"),
        (b"a.png", b"image/x-custom"),
        (b"b.bin", b"application/octet-stream"),
    ]
    assert parts[2].headers["x-extra"] == b"yes"


def test_tuple_without_filename_is_a_plain_field() -> None:
    """A None filename sends no filename parameter, and no Content-Type unless given."""
    _, _, parts = encode_parse(None, {"a": (None, b"v"), "b": (None, b"w", "text/csv")})
    assert parts[0].headers == {"content-disposition": b'form-data; name="a"'}
    assert parts[1].filename is None
    assert parts[1].content_type == b"text/csv"


def test_tuple_str_content_is_a_path(tmp_path: Path) -> None:
    """A str inside a tuple is a path too (not text, unlike httpx): the file's bytes are sent."""
    path = tmp_path / "real.txt"
    path.write_bytes(b"from disk")
    _, _, parts = encode_parse(None, {"f": ("shown.csv", str(path))})
    assert parts[0].content == b"from disk"
    assert parts[0].filename == b"shown.csv"
    assert parts[0].content_type == b"text/csv"


def test_multipart_file_full_control(tmp_path: Path) -> None:
    """MultipartFile sets filename, content type and extra headers."""
    path = tmp_path / "x.dat"
    path.write_bytes(b"payload")
    upload = MultipartFile(
        path, filename="renamed.txt", content_type="text/x-mine", headers={"X-A": "1"}
    )
    assert repr(upload).startswith("<MultipartFile PosixPath filename='renamed.txt'")
    _, _, parts = encode_parse(None, {"doc": upload})
    assert parts[0].headers == {
        "content-disposition": b'form-data; name="doc"; filename="renamed.txt"',
        "content-type": b"text/x-mine",
        "x-a": b"1",
    }
    assert parts[0].content == b"payload"


def test_multipart_file_defaults() -> None:
    """MultipartFile with only content: the field name as filename, a guessed-or-default type."""
    _, _, parts = encode_parse(None, {"avatar.png": MultipartFile(b"\x89PNG")})
    assert parts[0].filename == b"avatar.png"
    assert parts[0].content_type == b"image/png"


def test_content_type_from_headers() -> None:
    """A Content-Type among the headers is the part's type (sent once)."""
    upload = MultipartFile(b"x", filename="a.txt", headers={"content-type": "text/x-a"})
    _, raw, parts = encode_parse(None, {"f": upload})
    assert parts[0].content_type == b"text/x-a"
    assert raw.lower().count(b"content-type") == 1


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a.txt", b"text/plain"),
        ("A.PNG", b"image/png"),
        ("page.html", b"text/html"),
        ("archive.tar.gz", b"application/gzip"),
        ("x.gz", b"application/gzip"),
        ("x.bz2", b"application/x-bzip2"),
        ("x.unknownext", b"application/octet-stream"),
        ("noext", b"application/octet-stream"),
        ("", b"application/octet-stream"),
    ],
)
def test_guessed_content_types(filename: str, expected: bytes) -> None:
    """The type is guessed from the filename (compressed files: the compression's type)."""
    _, _, parts = encode_parse(None, {"f": (filename, b"x")})
    assert parts[0].content_type == expected


# ---------------------------------------------------------------- names


def test_quotes_cr_lf_are_percent_encoded() -> None:
    """RFC 7578 §4.2 / WHATWG: '"' -> %22, CR -> %0D, LF -> %0A in name and filename."""
    _, raw, parts = encode_parse(
        {'a"b\r\nc': "v"}, {'f"\n': ('evil"\r\nContent-Type: text/html\r\n\r\n.txt', b"x")}
    )
    assert parts[0].name == b"a%22b%0D%0Ac"
    assert parts[1].name == b"f%22%0A"
    assert parts[1].filename == b"evil%22%0D%0AContent-Type: text/html%0D%0A%0D%0A.txt"
    assert parts[1].content_type == b"text/plain"
    assert b"text/html\r\n" not in raw


def test_other_characters_are_sent_as_is() -> None:
    """Backslash, percent, semicolon and '=' are not escaped (browsers don't)."""
    _, _, parts = encode_parse(None, {"f": ("a\\b%22;c=d.txt", b"x")})
    assert parts[0].filename == b"a\\b%22;c=d.txt"


def test_non_ascii_as_utf8_without_filename_star() -> None:
    """Non-ASCII names and filenames go as raw UTF-8 (RFC 7578 §5.1); never filename*."""
    _, raw, parts = encode_parse(
        {"pr\u00e9nom": "x"}, {"d\u00f6c": ("r\u00e9sum\u00e9 \U0001f600.pdf", b"%PDF")}
    )
    assert parts[0].name == "pr\u00e9nom".encode()
    assert parts[1].name == "d\u00f6c".encode()
    assert parts[1].filename == "r\u00e9sum\u00e9 \U0001f600.pdf".encode()
    assert parts[1].content_type == b"application/pdf"
    assert b"filename*" not in raw


def test_email_parser_reads_names_and_filenames(tmp_path: Path) -> None:
    """The stdlib email parser sees the same names, filenames, types and contents."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line 1\r\nline 2\n")
    body = encode_multipart(
        {"a": "1", "caf\u00e9": "cr\u00e8me"},
        [("f", path), ("f", ("x y.png", b"\x89PNG\r\n\x1a\n")), ("g", b"")],
    )
    parts = email_parse(_bytes(body), body.content_type)
    seen = [
        (
            p.get_param("name", header="content-disposition"),
            p.get_filename(),
            p.get_content_type(),
            p.get_payload(decode=True),
        )
        for p in parts
    ]
    assert seen == [
        ("a", None, "text/plain", b"1"),
        ("caf\u00e9", None, "text/plain", "cr\u00e8me".encode()),
        ("f", "notes.txt", "text/plain", b"line 1\r\nline 2\n"),
        ("f", "x y.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("g", "g", "application/octet-stream", b""),
    ]


# ---------------------------------------------------------------- length, chunks, replay


def test_length_is_exact_for_every_sized_kind(tmp_path: Path) -> None:
    """The length equals the bytes produced for fields, bytes, paths and seekable files."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(200_000))
    with path.open("rb") as f:
        f.seek(1000)
        body = encode_multipart(
            {"a": ["x" * 70_000, "y"]},
            [("p", path), ("o", f), ("b", b"z" * 131_072), ("m", MultipartFile(str(path)))],
        )
        raw = _bytes(body)
    assert body.length == len(raw)
    assert body.length > 2 * 200_000 + 199_000


def test_chunks_are_bounded_and_packed(tmp_path: Path) -> None:
    """Chunks are at most CHUNK_SIZE and packed full: their count is ceil(length / CHUNK_SIZE)."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(3 * CHUNK_SIZE + 17))
    body = encode_multipart(
        {f"k{i}": "v" * i for i in range(500)}, [("f", path), ("b", b"q" * (CHUNK_SIZE + 3))]
    )
    chunks = _chunks(body)
    assert body.length is not None
    assert all(0 < len(c) <= CHUNK_SIZE for c in chunks)
    assert len(chunks) == -(-body.length // CHUNK_SIZE)
    assert all(type(c) is bytes for c in chunks)


def test_small_form_is_one_chunk() -> None:
    """A form of many small fields is one chunk, not one per line."""
    body = encode_multipart({f"k{i}": str(i) for i in range(100)}, {"f": b"abc"})
    assert len(_chunks(body)) == 1


def test_reiteration_gives_identical_bytes(tmp_path: Path) -> None:
    """A replayable body (bytes, paths, seekable files) yields the same bytes every time."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(CHUNK_SIZE * 2 + 5))
    with path.open("rb") as f:
        f.seek(10)
        body = encode_multipart({"a": "1"}, [("p", path), ("o", f), ("b", b"bytes")])
        assert body.replayable
        first, second = _bytes(body), _bytes(body)
    assert first == second
    assert len(first) == body.length


def test_as_bytes_for_in_memory_forms(tmp_path: Path) -> None:
    """as_bytes() is the whole body when every part is in memory, else None."""
    body = encode_multipart({"a": "1"}, {"f": b"x"})
    assert body.as_bytes() == _bytes(body)
    path = tmp_path / "f"
    path.write_bytes(b"x")
    assert encode_multipart({"a": "1"}, {"f": path}).as_bytes() is None


def test_non_seekable_stream(pipe: tuple[io.BufferedReader, int]) -> None:
    """A pipe: length None, not replayable, read to EOF; a second iteration raises."""
    reader, w = pipe
    data = os.urandom(300_000)
    body = encode_multipart({"a": "1"}, {"s": reader})
    assert body.length is None
    assert not body.replayable
    assert repr(body) == "<MultipartBody 2 parts, unknown size>"
    thread = _feed(w, data)
    chunks = _chunks(body)
    thread.join()
    parts = parse(b"".join(chunks), body.content_type)
    assert parts[1].content == data
    assert parts[1].filename == b"s"  # fdopen: the name is a descriptor number
    assert all(len(c) <= CHUNK_SIZE for c in chunks)
    with pytest.raises(StreamConsumed, match="non-seekable stream"):
        _chunks(body)


@pytest.mark.asyncio
async def test_stream_bytes_go_out_as_they_come(pipe: tuple[io.BufferedReader, int]) -> None:
    """A live stream's bytes are yielded as soon as read, not held back to fill a chunk."""
    reader, w = pipe
    body = encode_multipart(None, {"s": reader})
    iterator = aiter(body)
    os.write(w, b"first")
    chunk = await asyncio.wait_for(anext(iterator), 5)
    assert chunk.endswith(b"\r\n\r\nfirst")
    os.close(w)
    rest = [c async for c in iterator]
    assert b"".join(rest) == b"\r\n--%s--\r\n" % body.boundary.encode()


def test_fifo_path_is_a_stream(tmp_path: Path) -> None:
    """A path to a FIFO is read as a stream: length None, not replayable."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    body = encode_multipart(None, {"f": path})
    assert body.length is None
    assert not body.replayable

    def write() -> None:
        with path.open("wb") as out:
            out.write(b"through the fifo")

    thread = threading.Thread(target=write)
    thread.start()
    parts = parse(_bytes(body), body.content_type)
    thread.join()
    assert parts[0].content == b"through the fifo"


# ---------------------------------------------------------------- boundary


def test_boundary_is_random_hex() -> None:
    """32 hex characters from secrets, different for every body."""
    boundaries = {encode_multipart({"a": "1"}, {}).boundary for _ in range(200)}
    assert len(boundaries) == 200
    assert all(re.fullmatch(r"[0-9a-f]{32}", b) for b in boundaries)


def test_boundary_found_in_content_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A boundary present in an in-memory part (data or bytes file) is drawn again."""
    drawn = iter(["a" * 32, "b" * 32, "c" * 32])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(drawn))
    body = encode_multipart({"x": "aaaa" + "a" * 32}, {"f": b"--" + b"b" * 32})
    assert body.boundary == "c" * 32
    parts = parse(_bytes(body), body.content_type)
    assert [p.content for p in parts] == [b"a" * 36, b"--" + b"b" * 32]


# ---------------------------------------------------------------- files opened and closed


def test_paths_are_closed_after_iteration(
    tmp_path: Path, open_under: Callable[[], list[str]]
) -> None:
    """Files the body opens are closed when the iteration ends."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(CHUNK_SIZE * 3))
    body = encode_multipart(None, [("a", path), ("b", path)])
    _bytes(body)
    assert open_under() == []


@pytest.mark.asyncio
async def test_paths_are_closed_by_aclose(
    tmp_path: Path, open_under: Callable[[], list[str]]
) -> None:
    """Stopping early and aclose()-ing the iterator closes the file at once."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(CHUNK_SIZE * 4))
    iterator = aiter(encode_multipart(None, {"a": path}))
    await anext(iterator)
    assert open_under() == [str(path)]
    await iterator.aclose()  # type: ignore[attr-defined]
    assert open_under() == []


def test_file_changed_size_before_sending(tmp_path: Path) -> None:
    """A path or file object whose size changed since encoding raises before any byte is sent."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"12345")
    body = encode_multipart(None, {"doc": path})
    path.write_bytes(b"123456")
    with pytest.raises(
        ValueError, match=r"files\['doc'\]: the file changed size .*5 bytes then, 6"
    ):
        aiter(body)
    buffer = io.BytesIO(b"abc")
    body = encode_multipart(None, {"buf": buffer})
    buffer.truncate(1)
    with pytest.raises(ValueError, match=r"files\['buf'\]: the file changed size"):
        aiter(body)


@pytest.mark.asyncio
async def test_file_shrinking_while_sent(
    tmp_path: Path, open_under: Callable[[], list[str]]
) -> None:
    """A file truncated mid-send raises (the promised length cannot be met) and is closed."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(CHUNK_SIZE * 4))
    iterator = aiter(encode_multipart(None, {"doc": path}))
    await anext(iterator)
    os.truncate(path, CHUNK_SIZE * 2)
    with pytest.raises(ValueError, match=r"files\['doc'\]: the file changed size"):
        async for _ in iterator:
            pass
    assert open_under() == []


def test_slow_reads_move_to_the_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read slower than SLOW_READ sends the rest of the file through the executor, unchanged."""
    monkeypatch.setattr(mp, "SLOW_READ", -1.0)  # every read counts as slow
    path = tmp_path / "f.bin"
    data = os.urandom(mp.THREAD_READ_SIZE * 2 + CHUNK_SIZE + 3)
    path.write_bytes(data)
    threads: set[str] = set()
    real = mp._OwnedFile.read_in_thread

    def spy(self: mp._OwnedFile, size: int) -> bytes:
        threads.add(threading.current_thread().name)
        return real(self, size)

    monkeypatch.setattr(mp._OwnedFile, "read_in_thread", spy)
    with path.open("rb") as f:
        body = encode_multipart(None, [("p", path), ("o", f)])
        chunks = _chunks(body)
    parts = parse(b"".join(chunks), body.content_type)
    assert [p.content for p in parts] == [data, data]
    assert threads
    assert threading.main_thread().name not in threads
    assert all(len(c) <= CHUNK_SIZE for c in chunks)
    assert body.length == sum(map(len, chunks))


@pytest.mark.asyncio
async def test_cancelled_thread_read_closes_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_under: Callable[[], list[str]]
) -> None:
    """Cancelled during an executor read, the file is closed once that read returns."""
    monkeypatch.setattr(mp, "SLOW_READ", -1.0)
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(mp.THREAD_READ_SIZE * 3))
    entered, release = threading.Event(), threading.Event()
    real = mp._OwnedFile.read_in_thread

    def blocked(self: mp._OwnedFile, size: int) -> bytes:
        entered.set()
        release.wait(5)
        return real(self, size)

    monkeypatch.setattr(mp._OwnedFile, "read_in_thread", blocked)
    iterator = aiter(encode_multipart(None, {"p": path}))
    await anext(iterator)  # the first read is a blocking one: it finds reads "slow"
    task = asyncio.ensure_future(anext(iterator))
    deadline = time.monotonic() + 5
    while not entered.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    assert entered.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert open_under() == [str(path)]  # the thread still reads it
    release.set()
    deadline = time.monotonic() + 5
    while open_under() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert open_under() == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("files", "error", "match"),
    [
        ({"n": 12}, TypeError, r"files\['n'\]: expected bytes, a path .* not int"),
        ({"n": None}, TypeError, r"files\['n'\]: expected .* not NoneType"),
        ({"l": [b"a", b"b"]}, TypeError, r"files\['l'\]: a list is not a file; .*pairs"),
        ({"t": ("a",)}, TypeError, r"files\['t'\]: a tuple must be .* not 1 items"),
        ({"t": ("a", b"x", None, {}, 5)}, TypeError, r"not 5 items"),
        ({"t": (b"a", b"x")}, TypeError, r"files\['t'\]: the filename must be str or None"),
        ({"t": ("a", 3.5)}, TypeError, r"files\['t'\]: expected .* not float"),
        ({"t": ("a", b"x", 5)}, TypeError, r"files\['t'\]: content_type must be str"),
        ({"t": ("a", b"x", "text/\r\nplain")}, ValueError, r"invalid content type"),
        ({"t": ("a", b"x", "")}, ValueError, r"invalid content type"),
        ({"t": ("a", b"x", None, {"Bad Name": "v"})}, ValueError, r"invalid header name"),
        ({"t": ("a", b"x", None, {"X": "a\r\nb"})}, ValueError, r"'X' holds CR, LF or NUL"),
        ({"t": ("a", b"x", None, [("X", "v")])}, TypeError, r"headers must be a mapping"),
        ({"t": ("a", b"x", None, {"X": 1})}, TypeError, r"names and values must be str"),
        (
            {"t": ("a", b"x", None, {"Content-Disposition": "form-data"})},
            ValueError,
            r"Content-Disposition is built from the field name",
        ),
        (
            {"t": ("a", b"x", "text/a", {"Content-Type": "text/b"})},
            ValueError,
            r"two content types",
        ),
        ({"doc": io.StringIO("text")}, TypeError, r"files\['doc'\]: open the file in binary mode"),
        ({1: b"x"}, TypeError, r"files: field names must be str, not int"),
        ([("a", b"x", "extra")], TypeError, r"each item must be a \(field, file\) pair"),
        ("abc", TypeError, r"files must be a mapping or a list of \(field, file\) pairs"),
        (42, TypeError, r"files must be a mapping or a list"),
    ],
)
def test_bad_files(files: Any, error: type[Exception], match: str) -> None:
    """Wrong input raises TypeError/ValueError naming the field, before anything is read."""
    with pytest.raises(error, match=match):
        encode_multipart(None, files)


def test_text_mode_file(tmp_path: Path) -> None:
    """A file opened in text mode is refused, naming the field."""
    path = tmp_path / "t.txt"
    path.write_text("hello")
    with (
        path.open() as f,
        pytest.raises(TypeError, match=r"files\['doc'\]: open the file in binary"),
    ):
        encode_multipart(None, {"doc": f})  # type: ignore[dict-item]


def test_reader_returning_str_is_refused_when_read() -> None:
    """A file-like object whose read() returns str is refused when the body is sent."""

    class Reader:
        def read(self, size: int = -1) -> str:
            return "text"

    body = encode_multipart(None, {"doc": Reader()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"files\['doc'\]: read\(\) returned str: .*binary mode"):
        _chunks(body)


def test_duck_typed_reader() -> None:
    """Any object with a binary read() is a stream (a non-str mode is no reason to refuse it)."""

    class Reader:
        mode = 1  # as gzip.GzipFile's on Python 3.11

        def __init__(self) -> None:
            self.pieces = [b"ab", b"cd"]

        def read(self, size: int = -1) -> bytes:
            return self.pieces.pop(0) if self.pieces else b""

    body = encode_multipart(None, {"r": Reader()})  # type: ignore[dict-item]
    assert body.length is None
    assert parse(_bytes(body), body.content_type)[0].content == b"abcd"


def test_missing_path_names_the_field(tmp_path: Path) -> None:
    """A path that does not exist raises FileNotFoundError naming the field, at encode time."""
    with pytest.raises(FileNotFoundError, match=r"files\['doc'\]: .*a str is a path") as info:
        encode_multipart(None, {"doc": str(tmp_path / "nope.txt")})
    assert info.value.filename == str(tmp_path / "nope.txt")


def test_directory_path(tmp_path: Path) -> None:
    """A directory is not a file."""
    with pytest.raises(IsADirectoryError, match=r"files\['d'\]: .* is a directory"):
        encode_multipart(None, {"d": tmp_path})


def test_closed_file() -> None:
    """A closed file object raises ValueError naming the field."""
    buffer = io.BytesIO(b"x")
    buffer.close()
    with pytest.raises(ValueError, match=r"files\['c'\]: I/O operation on closed file"):
        encode_multipart(None, {"c": buffer})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"content": 5}, TypeError, "MultipartFile: expected bytes"),
        ({"content": io.StringIO()}, TypeError, "MultipartFile: open the file in binary mode"),
        ({"content": b"", "filename": b"x"}, TypeError, "filename must be str"),
        ({"content": b"", "content_type": "a\nb"}, ValueError, "invalid content type"),
        ({"content": b"", "headers": {"X": "\x00"}}, ValueError, "holds CR, LF or NUL"),
    ],
)
def test_bad_multipart_file(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    """MultipartFile validates in its constructor."""
    with pytest.raises(error, match=match):
        MultipartFile(**kwargs)


# ---------------------------------------------------------------- properties

# Names: any text but surrogates (not UTF-8-encodable). Contents: any bytes.
names = st.text(min_size=0, max_size=20)
values = st.one_of(st.text(max_size=200), st.binary(max_size=200))
file_values = st.tuples(st.one_of(st.none(), names), st.binary(max_size=3000))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(names, st.one_of(values, st.lists(values, max_size=3)), max_size=5),
    files=st.lists(st.tuples(names, file_values), max_size=5),
)
def test_round_trip_strict(
    data: dict[str, str | bytes | list[str | bytes]],
    files: list[tuple[str, tuple[str | None, bytes]]],
) -> None:
    """Any names, values and file bytes come back exactly through the strict parser."""
    body, raw, parts = encode_parse(data, files)
    assert body.length == len(raw)
    expected: list[tuple[bytes, bytes | None, bytes]] = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            content = item.encode() if isinstance(item, str) else item
            expected.append((escaped(name), None, content))
    for name, (filename, content) in files:
        expected.append((escaped(name), None if filename is None else escaped(filename), content))
    assert [(p.name, p.filename, p.content) for p in parts] == expected


# The email package reads quoted-strings the RFC 5322 way (a backslash quotes
# the next character; multipart/form-data sends it raw, as browsers do) and
# get_filename() strips surrounding whitespace: apart from those two, any
# name, filename and content must come back.
email_names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\\"),
    min_size=1,
    max_size=20,
)
email_filenames = email_names.filter(lambda s: s.strip() == s)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(email_names, st.binary(max_size=300)), max_size=4),
    files=st.lists(
        st.tuples(email_names, st.tuples(email_filenames, st.binary(max_size=3000))),
        min_size=1,  # the email package needs a part to call the message multipart
        max_size=4,
    ),
)
def test_round_trip_email(
    data: list[tuple[str, bytes]], files: list[tuple[str, tuple[str, bytes]]]
) -> None:
    """The stdlib email parser reads back every name, filename and content byte."""
    form: dict[str, list[bytes]] = {}
    for name, value in data:
        form.setdefault(name, []).append(value)
    body = encode_multipart(form, files)
    parts = email_parse(_bytes(body), body.content_type)
    got = [
        (
            p.get_param("name", header="content-disposition"),
            p.get_filename(),
            p.get_payload(decode=True),
        )
        for p in parts
    ]
    want: list[tuple[str, str | None, bytes]] = [
        (escaped(n).decode(), None, v) for n, vs in form.items() for v in vs
    ]
    want += [(escaped(n).decode(), escaped(f).decode(), c) for n, (f, c) in files]
    assert got == want
