"""``hyperhttp bench URL``: the load generator's command line (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._engine import ConnectFailed
from ._plan import Plan, UsageError, split_header
from ._workers import WorkerFailed, run_here, run_workers

if TYPE_CHECKING:
    from ._engine import Progress

__all__ = ["bench_main", "parse_duration"]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
DEFAULT_DURATION = 10.0


def parse_duration(text: str) -> float:
    """``30s``, ``500ms``, ``2m``, ``1h`` or plain seconds, as seconds.

    Raises:
        UsageError: anything else, or not positive.

    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"duration {text!r}: use 30s, 500ms, 2m, 1h or seconds")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"duration {text!r} is not positive")
    return seconds


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hyperhttp bench",
        description="Load-test one URL: the closed model (fixed concurrency) or the open"
        " model (--rate: fixed arrivals, latency from each request's intended start).",
    )
    add = parser.add_argument
    add("url", help="http:// or https:// URL")
    add("-c", "--connections", type=int, help="connections (default 64; 1 with --http2)")
    add("--streams", type=int, help="HTTP/2 streams per connection (default 64 / connections)")
    add("-n", "--requests", type=int, help="stop after this many requests")
    add("-d", "--duration", help="stop after this long: 30s, 500ms, 2m (default 10s without -n)")
    add("--rate", type=float, help="open model: requests per second, on a fixed schedule")
    add("--procs", default="1", help="worker processes, one event loop each ('auto': one per CPU)")
    add("--http2", action="store_true", help="HTTP/2 (ALPN h2 on https, prior knowledge on http)")
    add("-m", "--method", default="GET", help="request method (default GET)")
    add("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="repeatable")
    add("--data", metavar="TEXT|@FILE", help="request body (sent with every request)")
    add("--timeout", type=float, default=10.0, help="seconds before a request fails (default 10)")
    add("-k", "--insecure", action="store_true", help="do not verify the server's certificate")
    add("--cacert", metavar="FILE", help="verify with this CA bundle")
    add(
        "--engine",
        default="lean",
        choices=("lean", "client"),
        help="lean: the protocol engine (default); client: hyperhttp.Client",
    )
    add("--loop", default="auto", choices=("auto", "uvloop", "asyncio"), help="default auto")
    add("--json", action="store_true", help="print the report as JSON")
    add("-q", "--quiet", action="store_true", help="no progress line")
    return parser


def _body(data: str | None) -> bytes | None:
    if data is None:
        return None
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UsageError(f"--data {data}: {exc.strerror or exc}") from None
    return data.encode("utf-8")


def _procs(text: str) -> int:
    if text == "auto":
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    try:
        procs = int(text)
    except ValueError:
        raise UsageError(f"--procs {text!r}: a number or 'auto'") from None
    if procs < 1:
        raise UsageError("--procs must be at least 1")
    return procs


def build_plan(argv: list[str]) -> tuple[Plan, argparse.Namespace]:
    """Parse ``hyperhttp bench``'s arguments into a plan.

    Raises:
        UsageError: anything invalid, with the reason.

    """
    args = _parser().parse_args(argv)
    duration = parse_duration(args.duration) if args.duration is not None else None
    if duration is None and args.requests is None:
        duration = DEFAULT_DURATION
    connections = args.connections
    streams = args.streams
    if connections is None:
        connections = 1 if args.http2 else 64
    if streams is None:
        streams = max(1, 64 // max(connections, 1)) if args.http2 else 1
    verify: bool | str = True
    if args.insecure and args.cacert:
        raise UsageError("--insecure and --cacert contradict each other")
    if args.insecure:
        verify = False
    elif args.cacert:
        verify = args.cacert
    plan = Plan(
        url=args.url,
        method=args.method.upper(),
        headers=tuple(split_header(h) for h in args.header),
        body=_body(args.data),
        http2=args.http2,
        connections=connections,
        streams=streams,
        requests=args.requests,
        duration=duration,
        rate=args.rate,
        timeout=args.timeout,
        verify=verify,
        engine=args.engine,
        loop=args.loop,
    )
    plan.http11_request()  # every check, before any connection
    if plan.http2:
        plan.http2_blocks()
    plan.tls()
    return plan, args


class _ProgressLine:
    """The live line on stderr: one update a second (a rewritten line on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self.shown = False

    def __call__(self, responses: int, errors: int, in_flight: int, due_unsent: int) -> None:
        now = time.monotonic()
        then, before = self.last
        self.last = (now, responses)
        rate = (responses - before) / (now - then) if now > then else 0.0
        line = (
            f"[{now - self.started:5.1f}s] {responses:,} responses, {rate:,.0f} req/s,"
            f" {errors:,} errors, {in_flight:,} in flight"
        )
        if due_unsent:
            line += f", {due_unsent:,} behind schedule"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def bench_main(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run ``hyperhttp bench``; return the exit status (0: ran, 1: could not, 2: usage).

    Raises:
        UsageError: bad arguments (the caller prints it, exit status 2).

    """
    plan, args = build_plan(argv)
    procs = _procs(args.procs)
    line = None if args.quiet else _ProgressLine(stderr)
    progress: Progress | None = line
    try:
        outcome = run_here(plan, progress) if procs == 1 else run_workers(plan, procs, progress)
    except (ConnectFailed, WorkerFailed) as exc:
        if line is not None:
            line.done()
        stderr.write(f"hyperhttp bench: {exc}\n")
        return 1
    if line is not None:
        line.done()
    if args.json:
        stdout.write(json.dumps(outcome.to_json(plan), indent=2) + "\n")
    else:
        stdout.write(outcome.text(plan) + "\n")
    stdout.flush()
    return 0 if outcome.responses else 1
