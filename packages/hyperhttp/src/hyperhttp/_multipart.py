"""multipart/form-data request bodies (RFC 7578 on RFC 2046 §5.1), streamed from disk.

Strategy: :func:`encode_multipart` does everything that can fail or be known
up front — type checks, part headers, file sizes, the boundary — and returns
a :class:`MultipartBody` holding a list of *segments*: ``bytes`` (boundary
lines, part headers, ``data=`` values, ``bytes`` files) and file sources
(paths, file objects). Iterating the body walks the segments and packs them
into chunks; files are read in pieces, never whole.

Layout (RFC 2046 §5.1.1; the CRLF before a delimiter belongs to it)::

    --B CRLF  part headers CRLF  CRLF  content  CRLF
    --B CRLF  ...                      content  CRLF
    --B-- CRLF

Invariants:

1. Every chunk yielded is at most :data:`CHUNK_SIZE` bytes, and small
   segments are packed together (a form of many small fields is a few chunks,
   not one per line).
2. ``length`` is exact: the sum of the static bytes and every file's size
   measured at encode time, or ``None`` when a part is a stream of unknown
   size (the client then frames the body chunked). A sized file that no longer
   has that size when the body is sent raises :class:`ValueError` rather than
   sending a body that disagrees with its Content-Length.
3. Each iteration starts from the beginning: paths are re-opened, seekable
   files sought back to where they were when encoded. A body with a
   non-seekable stream is not ``replayable``; iterating it twice raises
   :class:`~hyperhttp.StreamConsumed`.
4. Files this module opens (paths) are closed when the iteration ends, fails,
   is cancelled or is ``aclose()``-d; file objects passed in stay open and
   belong to the caller.

The boundary is 32 hex characters from :mod:`secrets` (128 random bits). It is
checked against every in-memory part (and regenerated on a hit). Files are
not scanned (that would read them twice): their bytes exist before the
boundary is drawn, so each position matches it with probability 2**-128.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from ._exceptions import StreamConsumed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

__all__ = [
    "CHUNK_SIZE",
    "FileContent",
    "FileTypes",
    "MultipartBody",
    "MultipartFile",
    "encode_multipart",
]

#: The largest chunk the body yields, and the size of each blocking file read.
CHUNK_SIZE = 64 * 1024

# How file reads happen (measured: a 100 MiB file in the page cache, read in
# 64 KiB pieces by a coroutine, on a 2-CPU Linux VM):
#
#   plain blocking reads         asyncio 5,000 MiB/s (20 ms CPU)   uvloop 8,400 MiB/s (12 ms)
#   run_in_executor per 64 KiB   asyncio   915 MiB/s (96 ms CPU)   uvloop 1,230 MiB/s (74 ms)
#   run_in_executor per 1 MiB    asyncio 5,060 MiB/s (20 ms CPU)   uvloop 5,300 MiB/s (18 ms)
#
# A thread hop per 64 KiB costs 5-7x the throughput and 4-6x the CPU, and
# would make the disk slower than a loopback socket. A 64 KiB read from the
# page cache takes ~12 µs, less than the socket write that follows, so files
# of known size (paths, seekable file objects) are read with plain blocking
# reads. Storage that is not the page cache (a cold disk, a network file
# system) could stall the loop for milliseconds per read, so one read slower
# than SLOW_READ moves the rest of that file to the default executor, in
# THREAD_READ_SIZE pieces (by the table above: blocking-read speed on asyncio,
# 0.6x on uvloop, either far above what a socket takes).
# Non-seekable streams (pipes, sockets) always go through the executor: their
# read blocks until a producer writes, and that producer may need this loop.
SLOW_READ = 0.002
THREAD_READ_SIZE = 16 * CHUNK_SIZE

#: What a file part's content can be: ``bytes`` is the content itself; a
#: ``str`` or path-like is a *path* (never text: encode text yourself); a file
#: object must be open in binary mode.
FileContent: TypeAlias = bytes | str | os.PathLike[str] | BinaryIO

# RFC 7578 §4.2 leaves escaping of the quoted name and filename to practice;
# browsers follow the WHATWG HTML spec ("multipart/form-data encoding
# algorithm"): '"' -> %22, CR -> %0D, LF -> %0A, nothing else. Non-ASCII goes
# as UTF-8 (RFC 7578 §5.1), and never as RFC 5987 filename* (§4.2: MUST NOT).
_ESCAPE = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})

# RFC 9110 §5.6.2 token, for extra part header names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

# mimetypes reports compression as an "encoding" (x.tar.gz -> application/x-tar,
# gzip); the bytes sent are the compressed file, so its type is the encoder's.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_DEFAULT_TYPE = "application/octet-stream"  # RFC 7578 §4.4, for file data of unknown type


# ---------------------------------------------------------------- sources


class _Path:
    """A file named by a path: re-opened for every iteration."""

    __slots__ = ("path", "size")

    def __init__(self, path: str, size: int | None) -> None:
        self.path = path
        self.size = size  # None: not a regular file (a FIFO, a device): read as a stream


class _FileObject:
    """A caller's binary file object; ``start`` is None when it cannot seek."""

    __slots__ = ("file", "size", "start")

    def __init__(self, file: BinaryIO, start: int | None, size: int | None) -> None:
        self.file = file
        self.start = start
        self.size = size


_Source: TypeAlias = bytes | _Path | _FileObject


class _OwnedFile:
    """A file this module opened, closed only once no executor thread still reads it.

    A read handed to a thread cannot be interrupted: when the iteration is
    cancelled meanwhile, the thread closes the file after its read returns.
    """

    __slots__ = ("busy", "close_after", "file", "lock")

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.lock = threading.Lock()
        self.busy = False
        self.close_after = False

    def read_in_thread(self, size: int) -> bytes:
        try:
            return self.file.read(size)
        finally:
            with self.lock:
                self.busy = False
                if self.close_after:
                    self.file.close()

    def close(self) -> None:
        with self.lock:
            if self.busy:
                self.close_after = True
            else:
                self.file.close()


# ---------------------------------------------------------------- MultipartFile


class MultipartFile:
    """One file part, with full control over its filename, type and headers.

    Args:
        content: ``bytes`` (the content), a ``str`` or path-like (a *path*,
            opened when the body is sent; never text), or a file object open in
            binary mode (read from its current position).
        filename: the filename parameter; by default the path's basename, the
            file object's ``.name`` basename when it is a ``str``, else the
            field name (as requests does: servers see a file, never a plain
            field, and a stable name).
        content_type: the part's Content-Type; by default guessed from the
            filename with :mod:`mimetypes`, else ``application/octet-stream``.
        headers: more part headers (Content-Disposition is always built here;
            a Content-Type in ``headers`` is used when ``content_type`` is not
            given).

    Raises:
        TypeError: ``content`` is of no accepted kind, or a text-mode file.
        ValueError: a header name or value, or the content type, is invalid.

    .. versionadded:: 0.1

    """

    __slots__ = ("content", "content_type", "filename", "headers")

    def __init__(
        self,
        content: FileContent,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        _check_content(content, "MultipartFile")
        if filename is not None and not isinstance(filename, str):
            raise TypeError(f"MultipartFile: filename must be str, not {type(filename).__name__}")
        self.content = content
        self.filename = filename
        self.content_type, self.headers = _check_headers(content_type, headers, "MultipartFile")

    def __repr__(self) -> str:
        kind = type(self.content).__name__
        return f"<MultipartFile {kind} filename={self.filename!r} type={self.content_type!r}>"


#: One value of ``files=``: a content (filename derived), a MultipartFile, or
#: a tuple ``(filename, content[, content_type[, headers]])``. A ``None``
#: filename in a tuple sends the part without a filename parameter (and
#: without a Content-Type unless one is given): a plain field to the server.
FileTypes: TypeAlias = (
    FileContent
    | MultipartFile
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)


def _check_content(content: object, where: str) -> None:
    if isinstance(content, bytes | bytearray | memoryview | str | os.PathLike):
        return
    mode = getattr(content, "mode", None)  # not always a str: gzip.GzipFile's is an int
    if isinstance(content, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise TypeError(f"{where}: open the file in binary mode ('rb'), not text mode")
    if not callable(getattr(content, "read", None)):
        raise TypeError(
            f"{where}: expected bytes, a path (str or os.PathLike), a binary file object, "
            f"a (filename, content[, content_type[, headers]]) tuple or a MultipartFile, "
            f"not {type(content).__name__}"
        )


def _check_headers(
    content_type: object, headers: object, where: str
) -> tuple[str | None, dict[str, str]]:
    """Validate a part's content type and extra headers; return them normalised."""
    checked: dict[str, str] = {}
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise TypeError(f"{where}: headers must be a mapping, not {type(headers).__name__}")
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"{where}: header names and values must be str")
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"{where}: invalid header name {name!r}")
            if _BAD_VALUE.search(value):
                raise ValueError(f"{where}: header {name!r} holds CR, LF or NUL")
            lower = name.lower()
            if lower == "content-disposition":
                raise ValueError(f"{where}: Content-Disposition is built from the field name")
            if lower == "content-type":
                if content_type is not None and content_type != value:
                    raise ValueError(f"{where}: two content types ({content_type!r}, {value!r})")
                content_type = value
                continue
            checked[name] = value
    if content_type is not None:
        if not isinstance(content_type, str):
            kind = type(content_type).__name__
            raise TypeError(f"{where}: content_type must be str, not {kind}")
        if not content_type or _BAD_VALUE.search(content_type):
            raise ValueError(f"{where}: invalid content type {content_type!r}")
    return content_type, checked


# ---------------------------------------------------------------- encoding


def _quote(value: str, where: str) -> bytes:
    try:
        # surrogateescape: a filename from os.fsdecode() goes as the original bytes.
        return value.translate(_ESCAPE).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: {value!r} cannot be encoded as UTF-8") from None


def _guess_type(filename: str | None) -> str:
    if not filename:
        return _DEFAULT_TYPE
    kind, encoding = mimetypes.guess_type(filename, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, _DEFAULT_TYPE)
    return kind or _DEFAULT_TYPE


def _measure(content: object, where: str) -> _Source:
    """Turn a file content into a source, with its size when it can be known now."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, bytearray | memoryview):
        return bytes(content)
    if isinstance(content, str | os.PathLike):
        path = os.fsdecode(content)
        try:
            info = os.stat(path)
        except OSError as exc:
            raise type(exc)(exc.errno, f"{where}: {exc.strerror} (a str is a path)", path) from exc
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{where}: {path!r} is a directory")
        return _Path(path, info.st_size if stat.S_ISREG(info.st_mode) else None)
    file: Any = content
    try:
        seekable = bool(file.seekable()) if callable(getattr(file, "seekable", None)) else False
        if not seekable:
            return _FileObject(file, None, None)
        start = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(start)
    except ValueError as exc:  # "I/O operation on closed file"
        raise ValueError(f"{where}: {exc}") from exc
    return _FileObject(file, start, max(0, end - start))


def _default_filename(content: object, field: str) -> str:
    if isinstance(content, str | os.PathLike):
        return os.path.basename(os.fsdecode(content))
    if not isinstance(content, bytes | bytearray | memoryview):
        name = getattr(content, "name", None)
        if isinstance(name, str) and name:
            return os.path.basename(name)
    return field


class _Part:
    """One part ready to send: its header block and its content source."""

    __slots__ = ("field", "head", "source")

    def __init__(self, field: str, head: bytes, source: _Source) -> None:
        self.field = field
        self.head = head
        self.source = source


def _head(
    name: str,
    filename: str | None,
    content_type: str | None,
    headers: Mapping[str, str],
    where: str,
) -> bytes:
    # RFC 7578 §4.2: Content-Disposition: form-data; name="..."[; filename="..."]
    lines = [b'Content-Disposition: form-data; name="%s"' % _quote(name, where)]
    if filename is not None:
        lines[0] += b'; filename="%s"' % _quote(filename, where)
    if content_type is not None:  # RFC 7578 §4.4
        lines.append(b"Content-Type: " + content_type.encode("utf-8"))
    lines.extend(f"{k}: {v}".encode() for k, v in headers.items())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _data_parts(data: object) -> Iterator[_Part]:
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping (a form), not {type(data).__name__}")
    for name, value in data.items():
        if not isinstance(name, str):
            raise TypeError(f"data: field names must be str, not {type(name).__name__}")
        values = value if isinstance(value, list | tuple) else (value,)
        for index, item in enumerate(values):
            where = f"data[{name!r}]" + (f"[{index}]" if values is value else "")
            # bool is refused, not sent as "True" (requests) or "true" (httpx):
            # say which spelling the server expects.
            if isinstance(item, bool) or not isinstance(
                item, str | bytes | bytearray | memoryview | int | float
            ):
                raise TypeError(
                    f"{where}: a form value must be str, bytes, int or float, "
                    f"not {type(item).__name__}"
                )
            if isinstance(item, str):
                content = item.encode("utf-8")
            elif isinstance(item, int | float):
                content = str(item).encode("utf-8")
            else:
                content = bytes(item)
            yield _Part(name, _head(name, None, None, {}, where), content)


def _file_items(files: object) -> Iterator[tuple[object, object]]:
    if isinstance(files, Mapping):
        yield from files.items()
        return
    if isinstance(files, str | bytes) or not isinstance(files, Sequence):
        raise TypeError(
            f"files must be a mapping or a list of (field, file) pairs, not {type(files).__name__}"
        )
    for item in files:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"files: each item must be a (field, file) pair, not {item!r:.60}")
        yield item


def _file_part(field: object, value: object) -> _Part:
    if not isinstance(field, str):
        raise TypeError(f"files: field names must be str, not {type(field).__name__}")
    where = f"files[{field!r}]"
    content: object = value
    filename: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = {}
    explicit_name = False
    if isinstance(value, MultipartFile):
        content, filename = value.content, value.filename
        content_type, headers = value.content_type, value.headers
    elif isinstance(value, tuple):
        if not 2 <= len(value) <= 4:
            raise TypeError(
                f"{where}: a tuple must be (filename, content[, content_type[, headers]]), "
                f"not {len(value)} items"
            )
        given_name, content = value[0], value[1]
        if given_name is not None and not isinstance(given_name, str):
            raise TypeError(f"{where}: the filename must be str or None")
        filename = given_name
        explicit_name = True
        given_type = value[2] if len(value) > 2 else None
        given_headers = value[3] if len(value) > 3 else None
        _check_content(content, where)
        content_type, headers = _check_headers(given_type, given_headers, where)
    elif isinstance(value, list):
        raise TypeError(
            f"{where}: a list is not a file; to repeat a field, pass files= as a "
            f"list of (field, file) pairs"
        )
    else:
        _check_content(value, where)
    if filename is None and not explicit_name:
        filename = _default_filename(content, field)
    if content_type is None and filename is not None:
        content_type = _guess_type(filename)
    source = _measure(content, where)
    return _Part(field, _head(field, filename, content_type, headers, where), source)


def encode_multipart(
    data: Mapping[str, Any] | None,
    files: Mapping[str, FileTypes] | Sequence[tuple[str, FileTypes]],
) -> MultipartBody:
    """Encode form fields and files as a ``multipart/form-data`` body (RFC 7578).

    ``data=`` fields come first, in mapping order (a list or tuple value
    repeats the field), then ``files=`` in order. Files are not read here:
    paths are stat-ed and file objects measured, so that :attr:`MultipartBody.length`
    is known whenever it can be.

    Args:
        data: form fields; values ``str`` (sent as UTF-8), ``bytes``, ``int``
            or ``float`` (sent as ``str(value)``), or a list/tuple of those.
        files: a mapping ``{field: file}``, or a list of ``(field, file)``
            pairs to repeat a field; see :data:`FileTypes`.

    Returns:
        The body, to iterate (as many times as it is ``replayable``).

    Raises:
        TypeError: a value of the wrong kind (``bool`` and ``None`` form
            values included), a text-mode file; the message names the field.
        ValueError: an invalid part header, a closed file.
        OSError: a path that cannot be stat-ed (FileNotFoundError...), or a
            directory; the message names the field.

    """
    parts = list(_data_parts(data)) if data is not None else []
    parts.extend(_file_part(field, value) for field, value in _file_items(files))
    return MultipartBody(parts)


def _new_boundary(parts: list[_Part]) -> str:
    """Return a boundary found in no in-memory part (RFC 2046 §5.1.1, RFC 7578 §4.1)."""
    while True:
        boundary = secrets.token_hex(16)  # 32 hex characters
        token = boundary.encode("ascii")
        if not any(
            token in part.head or (isinstance(part.source, bytes) and token in part.source)
            for part in parts
        ):
            return boundary


# ---------------------------------------------------------------- the body


def _pack(pending: bytearray, data: bytes) -> Iterator[bytes]:
    """Yield full chunks of ``pending + data``; keep the rest in ``pending``.

    No copy when ``pending`` is empty and ``data`` holds whole chunks (a bytes
    slice covering the whole object is the object itself).
    """
    size, at = len(data), 0
    if pending:
        at = min(CHUNK_SIZE - len(pending), size)
        pending += memoryview(data)[:at]
        if len(pending) < CHUNK_SIZE:
            return
        chunk = bytes(pending)
        pending.clear()
        yield chunk
    while size - at >= CHUNK_SIZE:
        yield data[at : at + CHUNK_SIZE]
        at += CHUNK_SIZE
    if at < size:
        pending += memoryview(data)[at:]


def _as_bytes(piece: object, where: str) -> bytes:
    if isinstance(piece, bytes):
        return piece
    if isinstance(piece, bytearray | memoryview):
        return bytes(piece)
    kind = type(piece).__name__
    raise TypeError(f"{where}: read() returned {kind}: open the file in binary mode")


def _changed(where: str, size: int, now: int) -> ValueError:
    return ValueError(
        f"{where}: the file changed size since the body was encoded ({size} bytes then, "
        f"{now} now); its length was promised in Content-Length"
    )


class MultipartBody:
    """An encoded ``multipart/form-data`` body: iterate it for its bytes.

    Attributes:
        content_type: ``multipart/form-data; boundary=...``, for the request's
            Content-Type field.
        boundary: the boundary (32 random hex characters).
        length: the body's exact size in bytes when every part's size was known
            at encode time (send it with Content-Length), else ``None`` (send it
            chunked, or as HTTP/2 DATA frames up to END_STREAM).
        replayable: whether the body can be iterated again (no part is a
            non-seekable stream): a 307/308 redirect or a retry may resend it.

    Iterating yields chunks of at most :data:`CHUNK_SIZE` bytes, from the
    beginning every time. Stop early with ``aclose()`` on the iterator (or
    ``contextlib.aclosing``) to close the files it opened at once.

    .. versionadded:: 0.1

    """

    __slots__ = ("_iterated", "_parts", "boundary", "content_type", "length", "replayable")

    def __init__(self, parts: list[_Part]) -> None:
        self._parts = parts
        self._iterated = False
        self.boundary = _new_boundary(parts)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self.replayable = True
        length: int | None = len(self._closing())
        for part in parts:
            source = part.source
            size = len(source) if isinstance(source, bytes) else source.size
            if isinstance(source, _FileObject) and source.start is None:
                self.replayable = False
            elif isinstance(source, _Path) and source.size is None:
                self.replayable = False  # a FIFO or device: re-opening gives other bytes
            if length is not None:
                length = None if size is None else length + len(self._opening(part)) + size + 2
        self.length = length

    def __repr__(self) -> str:
        size = "unknown size" if self.length is None else f"{self.length} bytes"
        return f"<MultipartBody {len(self._parts)} parts, {size}>"

    def _opening(self, part: _Part) -> bytes:
        return b"--%s\r\n%s" % (self.boundary.encode("ascii"), part.head)

    def _closing(self) -> bytes:
        return b"--%s--\r\n" % self.boundary.encode("ascii")

    def as_bytes(self) -> bytes | None:
        """Return the whole body when every part is in memory, else ``None``.

        A form of fields and ``bytes`` files needs no streaming: the client can
        send it as one ``bytes`` body.
        """
        if not all(isinstance(part.source, bytes) for part in self._parts):
            return None
        pieces: list[bytes] = []
        for part in self._parts:
            assert isinstance(part.source, bytes)
            pieces += (self._opening(part), part.source, b"\r\n")
        pieces.append(self._closing())
        return b"".join(pieces)

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._iterated and not self.replayable:
            raise StreamConsumed(
                "this multipart body reads a non-seekable stream and was sent once already"
            )
        self._iterated = True
        self._check_sizes()
        return self._chunks()

    def _check_sizes(self) -> None:
        """Raise before anything is sent if a sized file no longer has its size."""
        for part in self._parts:
            source, where = part.source, f"files[{part.field!r}]"
            if isinstance(source, _Path) and source.size is not None:
                now = os.stat(source.path).st_size
                if now != source.size:
                    raise _changed(where, source.size, now)
            elif isinstance(source, _FileObject) and source.start is not None:
                assert source.size is not None
                file: Any = source.file
                now = max(0, file.seek(0, os.SEEK_END) - source.start)
                file.seek(source.start)
                if now != source.size:
                    raise _changed(where, source.size, now)

    async def _chunks(self) -> AsyncIterator[bytes]:
        pending = bytearray()
        for part in self._parts:
            for chunk in _pack(pending, self._opening(part)):
                yield chunk
            source, where = part.source, f"files[{part.field!r}]"
            if isinstance(source, bytes):
                for chunk in _pack(pending, source):
                    yield chunk
            elif isinstance(source, _Path):
                owned = _OwnedFile(open(source.path, "rb", buffering=0))  # noqa: SIM115
                try:
                    if source.size is None:
                        async for chunk in _stream(owned, pending, where):
                            yield chunk
                    else:
                        async for chunk in _sized(owned, source.size, pending, where):
                            yield chunk
                finally:
                    owned.close()
            elif source.start is None:
                async for chunk in _stream(source.file, pending, where):
                    yield chunk
            else:
                assert source.size is not None
                source.file.seek(source.start)
                async for chunk in _sized(source.file, source.size, pending, where):
                    yield chunk
            for chunk in _pack(pending, b"\r\n"):
                yield chunk
        for chunk in _pack(pending, self._closing()):
            yield chunk
        if pending:
            yield bytes(pending)


async def _sized(
    file: BinaryIO | _OwnedFile, size: int, pending: bytearray, where: str
) -> AsyncIterator[bytes]:
    """Yield a file of known size: blocking reads, the executor once one is slow."""
    owned = file if isinstance(file, _OwnedFile) else None
    raw: BinaryIO = file.file if isinstance(file, _OwnedFile) else file
    read: Callable[[int], bytes] = raw.read
    loop: asyncio.AbstractEventLoop | None = None
    remaining = size
    while remaining:
        if loop is None:
            want = min(CHUNK_SIZE - len(pending), remaining)
            started = time.perf_counter()
            piece = _as_bytes(read(want), where)
            if time.perf_counter() - started > SLOW_READ:
                loop = asyncio.get_running_loop()  # not the page cache: stop blocking the loop
        else:
            want = min(THREAD_READ_SIZE, remaining)
            if owned is not None:
                owned.busy = True
                piece = _as_bytes(
                    await loop.run_in_executor(None, owned.read_in_thread, want), where
                )
            else:
                piece = _as_bytes(await loop.run_in_executor(None, read, want), where)
        if not piece:
            raise _changed(where, size, size - remaining)
        if len(piece) > remaining:  # a file object that ignored the size asked for
            piece = piece[:remaining]
        remaining -= len(piece)
        for chunk in _pack(pending, piece):
            yield chunk


async def _stream(
    file: BinaryIO | _OwnedFile, pending: bytearray, where: str
) -> AsyncIterator[bytes]:
    """Yield a stream of unknown size, each piece as soon as it is read (in the executor)."""
    loop = asyncio.get_running_loop()
    owned = file if isinstance(file, _OwnedFile) else None
    raw: Any = file.file if isinstance(file, _OwnedFile) else file
    # read1: at most one system call, so a pipe's bytes go out as they come
    # (read(n) on a buffered pipe waits for n bytes or EOF).
    read: Callable[[int], bytes] = getattr(raw, "read1", None) or raw.read
    while True:
        want = CHUNK_SIZE - len(pending)  # the header waiting in pending fills the first chunk
        if owned is not None:
            owned.busy = True
            piece = _as_bytes(await loop.run_in_executor(None, owned.read_in_thread, want), where)
        else:
            piece = _as_bytes(await loop.run_in_executor(None, read, want), where)
        if not piece:
            return
        for chunk in _pack(pending, piece):
            yield chunk
        if pending:  # flush: a live stream's bytes are not held back for packing
            chunk = bytes(pending)
            pending.clear()
            yield chunk
