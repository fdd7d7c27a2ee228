"""``hyperhttp [METHOD] URL``: one request from the terminal, curl/httpie-like (docs/cli.md).

The request goes through ``hyperhttp.Client`` with its defaults except what
the options change; ``--verbose`` prints what the client's ``trace=`` events
measured (DNS, connect, TLS, time to first byte, total). A body sent from a
file (``--data @FILE``) is streamed from it, never read whole; a download
(``-o FILE``) is streamed to it. Both show a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hyperhttp._client import Client
from hyperhttp._config import Timeout
from hyperhttp._exceptions import (
    HTTPError,
    InsecureRequestWarning,
    InvalidURL,
    LocalProtocolError,
    TimeoutException,
    TooManyRedirects,
)
from hyperhttp._multipart import MultipartFile

from ._main import ExitStatus
from ._plan import UsageError, split_header
from ._render import Output, progress_bar
from ._workers import loop_factory

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rich.progress import Progress

    from hyperhttp._models import Request, Response

__all__ = ["request_main"]

UPLOAD_CHUNK = 256 * 1024
#: What a method defaults to: GET, or POST with a body (httpie's rule).
BODY_OPTIONS = ("data", "json", "form")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hyperhttp",
        usage="hyperhttp [METHOD] URL [options]\n       hyperhttp bench URL [options]",
        description="Send one HTTP request and show the response"
        " (`hyperhttp bench --help` for the load generator).",
    )
    add = parser.add_argument
    add("words", nargs="+", metavar="[METHOD] URL", help="method (default GET, POST with a body)")
    add("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="repeatable")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("-d", "--data", metavar="TEXT|@FILE", help="body: text, or @FILE streamed")
    body.add_argument("--json", metavar="JSON|@FILE", help="JSON body (checked), Content-Type set")
    body.add_argument(
        "-f", "--form", action="append", metavar="NAME=VALUE|NAME@FILE", help="form field"
    )
    add("-o", "--output", metavar="FILE", help="save the body to FILE (with a progress bar)")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--http2", action="store_true", help="HTTP/2 only (h2c on http://)")
    version.add_argument("--http1", action="store_true", help="HTTP/1.1 only")
    add("--timeout", type=float, help="seconds for each phase (default: the client's)")
    follow = parser.add_mutually_exclusive_group()
    follow.add_argument("--follow", dest="follow", action="store_true", default=True)
    follow.add_argument("--no-follow", dest="follow", action="store_false", help="show redirects")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--verify", metavar="CA_FILE", help="verify with this CA bundle")
    tls.add_argument("-k", "--insecure", action="store_true", help="do not verify certificates")
    add("--proxy", metavar="URL", help="http://, https:// or socks5:// proxy")
    add("--check-status", action="store_true", help="exit 3/4/5 for a 3xx/4xx/5xx status")
    add("-v", "--verbose", action="store_true", help="the request and timings, on stderr")
    add("-q", "--quiet", action="store_true", help="print nothing (the exit status tells)")
    add("-b", "--body", action="store_true", help="print only the body, as received")
    add("--no-body", action="store_true", help="print only the status line and header fields")
    color = parser.add_mutually_exclusive_group()
    color.add_argument("--no-color", dest="color", action="store_false", default=None)
    color.add_argument("--color", dest="color", action="store_true", help="colour even in a pipe")
    return parser


def _method_and_url(words: list[str], has_body: bool) -> tuple[str, str]:
    if len(words) == 1:
        return ("POST" if has_body else "GET"), words[0]
    if len(words) == 2:
        method, url = words
        if "://" in method and "://" not in url:
            raise UsageError(f"the method comes before the URL: hyperhttp {url} {method}")
        return method.upper(), url
    raise UsageError(f"expected [METHOD] URL, got {len(words)} words: {' '.join(words)!r}")


class Timings:
    """The ``trace=`` callback of ``--verbose``: what each phase took (docs/tracing.md)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name in (
            "dns.end",
            "connect.tcp",
            "tls",
            "connect.end",
            "pool.acquired",
            "response.headers",
            "response.end",
            "redirect",
            "retry",
        ):
            self.events.append((name, info))

    def lines(self) -> list[str]:
        """One line per event worth showing, then the summary of the last exchange."""
        out: list[str] = []
        phases: dict[str, str] = {}
        for name, info in self.events:
            if name == "dns.end":
                cached = " (cached)" if info.get("cached") else ""
                phases["DNS"] = f"{_ms(info['elapsed'])}{cached}"
            elif name == "connect.tcp":
                phases["connect"] = _ms(info["elapsed"])
            elif name == "tls":
                phases["TLS"] = _ms(info["elapsed"])
                out.append(f"* TLS {info['version']}, ALPN {info['alpn'] or 'none'}")
            elif name == "connect.end":
                out.append(f"* connected to {_address(info['address'])} ({info['http_version']})")
            elif name == "pool.acquired" and info["served"]:
                out.append(f"* reusing a connection ({info['served']} requests before)")
            elif name == "response.headers":
                phases["TTFB"] = _ms(info["ttfb"])
            elif name == "response.end":
                phases["total"] = _ms(info["elapsed"])
                out.append("* timings: " + ", ".join(f"{k} {v}" for k, v in phases.items()))
                phases = {}
            elif name == "redirect":
                out.append(f"* redirect {info['status']}: {info['to']}")
            elif name == "retry":
                out.append(f"* retry {info['attempt']} in {info['delay']:.2f} s")
        return out


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def _file_chunks(
    path: Path, size: int, bar_for: Callable[[int | None], Progress | None]
) -> AsyncIterator[bytes]:
    """Read ``path`` piece by piece for the request body, advancing a progress bar."""
    bar = bar_for(size)  # (shown once the body is being sent)
    task = None if bar is None else bar.add_task(path.name, total=size)
    with path.open("rb") as file:
        while True:
            chunk = file.read(UPLOAD_CHUNK)
            if not chunk:
                return
            yield chunk
            if bar is not None and task is not None:
                bar.advance(task, len(chunk))


def _readable(path_text: str, what: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise UsageError(f"{what} @{path_text}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{what} @{path_text}: not readable")
    return path


class _Call:
    """One invocation: the parsed options and the streams."""

    def __init__(self, args: argparse.Namespace, out: Output, stdin: Any) -> None:
        self.args = args
        self.out = out
        self.stdin = stdin
        self.bar: Progress | None = None

    def client(self, timings: Timings | None) -> Client:
        args = self.args
        verify: bool | str = True
        if args.insecure:
            verify = False
        elif args.verify:
            verify = str(_readable(args.verify, "--verify").resolve())
        kwargs: dict[str, Any] = {
            "verify": verify,
            "follow_redirects": args.follow,
            "proxy": args.proxy,
            "trace": timings,
        }
        if args.http2:
            kwargs.update(http2=True, http1=False)
        elif args.http1:
            kwargs.update(http2=False)
        if args.timeout is not None:
            if not 0 < args.timeout < math.inf:  # (NaN fails this, not `<= 0`)
                raise UsageError("--timeout must be a positive number")
            kwargs["timeout"] = Timeout(args.timeout)
        with warnings.catch_warnings():  # -k was asked for: no warning about it
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return Client(**kwargs)

    def build(self, client: Client, method: str, url: str) -> Request:
        args = self.args
        headers = [split_header(h) for h in args.header]
        given = {name.lower() for name, _ in headers}
        kwargs: dict[str, Any] = {}
        length: int | None = None
        if args.json is not None:
            text = args.json
            if text.startswith("@"):
                try:
                    text = _readable(text[1:], "--json").read_text("utf-8")
                except UnicodeDecodeError as exc:
                    raise UsageError(f"--json {text}: not UTF-8 text ({exc.reason})") from None
            try:
                json.loads(text)
            except ValueError as exc:
                raise UsageError(f"--json is not valid JSON: {exc}") from None
            kwargs["content"] = text.encode("utf-8")
            if "content-type" not in given:
                headers.append(("Content-Type", "application/json"))
            if "accept" not in given:
                headers.append(("Accept", "application/json, */*;q=0.5"))
        elif args.data is not None:
            if args.data == "@-":
                kwargs["content"] = self.stdin.read()
            elif args.data.startswith("@"):  # streamed from the file, never read whole
                path = _readable(args.data[1:], "--data")
                length = path.stat().st_size
                kwargs["content"] = _file_chunks(path, length, self.bar_for)
            else:
                kwargs["content"] = args.data.encode("utf-8")
        elif args.form:
            fields: dict[str, list[str]] = {}
            files: dict[str, MultipartFile] = {}
            for item in args.form:
                at, eq = item.find("@"), item.find("=")
                if at > 0 and (eq < 0 or at < eq):
                    name, path_text = item[:at], item[at + 1 :]
                    files[name] = MultipartFile(_readable(path_text, "--form"))
                elif eq > 0:
                    fields.setdefault(item[:eq], []).append(item[eq + 1 :])
                else:
                    raise UsageError(f"--form {item!r} is not NAME=VALUE or NAME@FILE")
            if files:
                kwargs["files"] = files
            kwargs["data"] = fields
        request = client.build_request(method, url, headers=headers or None, **kwargs)
        if length is not None:  # a file's size: Content-Length, not chunked
            request.stream_length = length
        return request

    def bar_for(self, total: int | None) -> Progress | None:
        """Return the progress bar on stderr when it is a terminal (and not --quiet)."""
        if self.args.quiet or not self.out.stderr.isatty():
            return None
        if self.bar is None:
            self.bar = progress_bar(self.out.stderr)
            self.bar.start()
        return self.bar

    def stop_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    async def download(self, response: Response, path: Path) -> int:
        """Stream the (decoded) body into ``path``; return the bytes written."""
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() and not encoded else None
        bar = self.bar_for(total)
        task = None if bar is None else bar.add_task(path.name, total=total)
        written = 0
        with path.open("wb") as file:
            async for chunk in response.aiter_bytes():
                file.write(chunk)
                written += len(chunk)
                if bar is not None and task is not None:
                    bar.advance(task, len(chunk))
        return written

    async def run(self, method: str, url: str) -> int:
        args, out = self.args, self.out
        output = Path(args.output) if args.output else None
        if output is not None and output.parent and not output.parent.is_dir():
            raise UsageError(f"-o {args.output}: no such directory")
        timings = Timings() if args.verbose else None
        show = not args.quiet
        async with self.client(timings) as client:
            request = self.build(client, method, url)
            if args.verbose and show:
                out.request(request.method, str(request.url), client._encoder.fields(request))
            response = await client.send(request, stream=True)
            try:
                self.stop_bar()  # the upload's
                if show and not args.body:
                    out.head(response)
                if output is not None:
                    written = await self.download(response, output)
                    self.stop_bar()
                    if show:
                        out.note(f"saved {written:,} bytes to {output}")
                elif args.no_body:
                    pass
                else:
                    body = await response.aread()
                    if show and args.body:
                        out.raw_body(body, getattr(out.stdout, "buffer", None))
                    elif show:
                        out.body(response, body, first=False)
            finally:
                self.stop_bar()
                await response.aclose()
        if timings is not None and show:
            for line in timings.lines():
                out.note(line)
        if args.check_status:
            return _status_exit(response.status_code, args.follow)
        return ExitStatus.OK


def _status_exit(status: int, followed: bool) -> int:
    if 300 <= status < 400 and not followed:
        return ExitStatus.HTTP_3XX
    if 400 <= status < 500:
        return ExitStatus.HTTP_4XX
    if status >= 500:
        return ExitStatus.HTTP_5XX
    return ExitStatus.OK


def request_main(argv: list[str], stdout: TextIO, stderr: TextIO, stdin: Any = None) -> int:
    """Run one request; return the exit status (:class:`ExitStatus`).

    Raises:
        UsageError: bad arguments (the caller prints it, exit status 2).

    """
    args = _parser().parse_args(argv)
    has_body = any(getattr(args, name) is not None for name in BODY_OPTIONS)
    method, url = _method_and_url(args.words, has_body)
    out = Output(stdout, stderr, color=args.color)
    if args.body and args.no_body:
        raise UsageError("--body and --no-body contradict each other")
    call = _Call(args, out, sys.stdin.buffer if stdin is None else stdin)
    factory, _ = loop_factory("auto")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(call.run(method, url))
    except (InvalidURL, LocalProtocolError) as exc:  # the request itself: nothing was sent
        raise UsageError(f"{type(exc).__name__}: {exc}") from None
    except TooManyRedirects as exc:
        out.error(type(exc).__name__, str(exc))
        return ExitStatus.TOO_MANY_REDIRECTS
    except TimeoutException as exc:
        out.error(type(exc).__name__, str(exc) or "timed out")
        return ExitStatus.TIMEOUT
    except HTTPError as exc:
        out.error(type(exc).__name__, str(exc))
        return ExitStatus.ERROR
    except OSError as exc:  # the output file, the upload's file
        out.error(type(exc).__name__, str(exc))
        return ExitStatus.ERROR
    finally:
        call.stop_bar()
