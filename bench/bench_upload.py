"""Upload benchmark: a 100 MiB multipart/form-data file upload, hyperhttp against aiohttp and httpx.

A 100 MiB file of random bytes is written to a temporary directory (so every
client reads it from the page cache) and uploaded as one multipart file part
to a loopback server, ``--uploads`` times over ONE keep-alive connection:

- hyperhttp: ``client.post(url, files={"file": (name, f, type)})``;
- aiohttp: ``session.post(url, data=FormData)`` with the open file added;
- httpx: ``client.post(url, files={"file": (name, f, type)})``.

Each client gets the file as an open binary file object (the form all three
accept), a fresh one per upload (aiohttp closes the file it sent).

The server runs in its own process: a raw asyncio Protocol (uvloop when
installed) that frames each request (Content-Length or chunked), counts its
body bytes and throws them away, then answers with the count. It does no
multipart parsing, so the client is the bottleneck.

Every client runs in a fresh process (``--run``), after a small warm-up upload
on the same connection; rounds are interleaved (every client once per
round), each cell is the median over rounds, and ratios are to aiohttp from
the same run. Reported: throughput (MiB/s over the measured uploads), the
client's CPU seconds per upload (user + sys, all its threads), and the peak
RSS of the client process (``ru_maxrss``).

Run: ``hatch run bench:python bench/bench_upload.py`` (``--quick`` for one
round of one upload, ``--uvloop`` to run the clients on uvloop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve()
CLIENTS = ("hyperhttp", "aiohttp", "httpx")
METRICS = ("mib_s", "cpu_s", "rss_mib")
MIB = 1 << 20
FILE_SIZE = 100 * MIB
CONTENT_TYPE = "application/octet-stream"

# ---------------------------------------------------------------- the server


class _Sink(asyncio.Protocol):
    """Frame HTTP/1.1 requests, count their body bytes, answer 200 with the count.

    Body bytes are counted, never copied: only the head and chunk-size lines
    are buffered.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.state = "head"
        self.remaining = 0
        self.count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def _line(self, view: memoryview) -> tuple[bytes | None, memoryview]:
        """Return the next CRLF-terminated line (None: not complete yet) and what follows."""
        self.buffer += view
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None, memoryview(b"")
        line = bytes(self.buffer[:end])
        rest = memoryview(bytes(self.buffer[end + 2 :]))
        self.buffer.clear()
        return line, rest

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.state == "head":
                self.buffer += view
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                view = memoryview(bytes(self.buffer[end + 4 :]))
                self.buffer.clear()
                self.count = 0
                fields = dict(
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
                )
                if b"chunked" in fields.get(b"transfer-encoding", b""):
                    self.state = "size"
                else:
                    self.remaining = int(fields.get(b"content-length", b"0"))
                    self.state = "body"
                    if not self.remaining:
                        self._respond()
            elif self.state in ("body", "chunk", "chunk-end"):
                take = min(self.remaining, len(view))
                if self.state != "chunk-end":
                    self.count += take
                self.remaining -= take
                view = view[take:]
                if not self.remaining:
                    if self.state == "body":
                        self._respond()
                    elif self.state == "chunk":
                        self.state, self.remaining = "chunk-end", 2  # the CRLF after the data
                    else:
                        self.state = "size"
            else:  # "size" or "trailer": a line
                line, view = self._line(view)
                if line is None:
                    return
                if self.state == "size":
                    self.remaining = int(line.split(b";", 1)[0], 16)
                    self.state = "chunk" if self.remaining else "trailer"
                elif not line:  # the empty line ending the trailer section
                    self._respond()

    def _respond(self) -> None:
        body = b"%d" % self.count
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        self.state = "head"


async def _serve() -> None:
    server = await asyncio.get_running_loop().create_server(_Sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------- one client run

Upload = Callable[[bytes | str], Awaitable[int]]  # a bytes body or a path; returns the count


async def _hyperhttp(url: str) -> tuple[Upload, Callable[[], Awaitable[None]]]:
    import hyperhttp

    limits = hyperhttp.Limits(max_connections=1, max_connections_per_host=1)
    client = hyperhttp.Client(limits=limits, timeout=300)

    async def upload(source: bytes | str) -> int:
        if isinstance(source, bytes):
            response = await client.post(url, files={"file": ("warm.bin", source)})
        else:
            with open(source, "rb") as f:
                response = await client.post(url, files={"file": ("up.bin", f, CONTENT_TYPE)})
        return int(response.content)

    return upload, client.aclose


async def _aiohttp(url: str) -> tuple[Upload, Callable[[], Awaitable[None]]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=1)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(300))

    async def upload(source: bytes | str) -> int:
        form = aiohttp.FormData()
        if isinstance(source, bytes):
            form.add_field("file", source, filename="warm.bin", content_type=CONTENT_TYPE)
            async with session.post(url, data=form) as response:
                return int(await response.read())
        with open(source, "rb") as f:
            form.add_field("file", f, filename="up.bin", content_type=CONTENT_TYPE)
            async with session.post(url, data=form) as response:
                return int(await response.read())

    return upload, session.close


async def _httpx(url: str) -> tuple[Upload, Callable[[], Awaitable[None]]]:
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    client = httpx.AsyncClient(limits=limits, timeout=300)

    async def upload(source: bytes | str) -> int:
        if isinstance(source, bytes):
            response = await client.post(url, files={"file": ("warm.bin", source)})
        else:
            with open(source, "rb") as f:
                response = await client.post(url, files={"file": ("up.bin", f, CONTENT_TYPE)})
        return int(response.content)

    return upload, client.aclose


RUNNERS = {"hyperhttp": _hyperhttp, "aiohttp": _aiohttp, "httpx": _httpx}


async def _run(client: str, url: str, path: str, uploads: int) -> dict[str, float]:
    upload, close = await RUNNERS[client](url)
    await upload(b"warm-up")  # imports, the connection
    size = os.path.getsize(path)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for _ in range(uploads):
        received = await upload(path)
        if not size < received < size + 4096:  # the file and its multipart framing
            raise SystemExit(f"{client}: the server received {received} bytes for {size}")
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    await close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "mib_s": uploads * size / MIB / elapsed,
        "cpu_s": cpu / uploads,
        "rss_mib": after.ru_maxrss / 1024,  # KiB on Linux
    }


# ---------------------------------------------------------------- the table

Results = dict[str, dict[str, float]]  # client -> metric -> median


def _start_server() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE), "--serve"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, int(line)


def _run_one(client: str, url: str, path: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, str(HERE), "--run", client, "--url", url, "--file", path]
    command += ["--uploads", str(args.uploads)]
    if args.uvloop:
        command.append("--uvloop")
    out = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{client} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def collect(url: str, path: str, args: argparse.Namespace, clients: tuple[str, ...]) -> Results:
    """Run every client ``args.rounds`` times, interleaved; return the medians."""
    samples: dict[str, list[dict[str, float]]] = {client: [] for client in clients}
    for _ in range(args.rounds):
        for client in clients:
            samples[client].append(_run_one(client, url, path, args))
    return {
        client: {m: statistics.median(s[m] for s in runs) for m in METRICS}
        for client, runs in samples.items()
    }


# (column title, metric): each as a ratio to aiohttp's.
RATIOS = (
    ("MiB/s vs aiohttp", "mib_s"),
    ("CPU vs aiohttp", "cpu_s"),
    ("RSS vs aiohttp", "rss_mib"),
)


def render(title: str, results: Results) -> str:
    """Return ``results`` as a markdown table, with ratios to aiohttp from the same run."""
    lines = [
        f"### {title}",
        "",
        "| client | MiB/s | CPU s/upload | peak RSS MiB | "
        + " | ".join(label for label, _ in RATIOS)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(RATIOS),
    ]
    base = results.get("aiohttp")
    for client, m in results.items():
        cells = [f"{m[metric] / base[metric]:.2f}×" if base else "-" for _, metric in RATIOS]
        lines.append(
            f"| {client} | {m['mib_s']:,.0f} | {m['cpu_s']:.3f} | {m['rss_mib']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _write_file(path: Path, size: int) -> None:
    with path.open("wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
        f.write(os.urandom(size % MIB))


def _loop_run(coroutine: Awaitable[object], uvloop: bool) -> object:
    async def main() -> object:
        return await coroutine

    if uvloop:
        import uvloop as _uvloop

        return _uvloop.run(main())
    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=3, help="measured uploads per run")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 upload")
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    # Internal: the server process, and one client run.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        try:
            import uvloop
        except ImportError:
            asyncio.run(_serve())
        else:
            uvloop.run(_serve())
        return 0
    if args.run:
        result = _loop_run(_run(args.run, args.url, args.file, args.uploads), args.uvloop)
        print(json.dumps(result), flush=True)
        return 0

    if args.quick:
        args.rounds, args.uploads = 1, 1
    clients = tuple(c for c in args.clients.split(",") if c)
    loop = "uvloop" if args.uvloop else "asyncio"
    print(
        f"Python {sys.version.split()[0]}, clients on {loop}, a {FILE_SIZE // MIB} MiB file "
        f"uploaded {args.uploads}x per run over one connection, {args.rounds} rounds, medians\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        path = Path(tmp) / "upload.bin"
        _write_file(path, FILE_SIZE)
        process, port = _start_server()
        try:
            results = collect(f"http://127.0.0.1:{port}/upload", str(path), args, clients)
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(render("Upload: 100 MiB file, multipart/form-data, byte-counting server", results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
