"""Load generators side by side: ``hyperhttp bench`` against wrk, h2load and Locust, on one nginx.

One command does everything (``hatch run bench:loadgen``, or
``python bench/bench_loadgen.py`` in an environment with hyperhttp[cli]):

1. installs what is missing: nginx (.ci/install_nginx.sh), wrk and h2load
   (.ci/install_loadtools.sh: Debian's ``wrk`` and ``nghttp2-client``);
2. starts nginx (Debian's, its own configuration, loopback ports, one
   worker pinned to CPU 1, ``keepalive_requests`` unbounded) serving a
   200-byte static file over HTTP/1.1 (plain) and HTTP/2 (TLS, ALPN h2);
3. runs each load generator as a fresh process pinned to CPU 0 (``taskset``)
   for ``--duration`` seconds with the same connections and concurrency:

   - HTTP/1.1, 64 and 256 connections: ``wrk -t1 -cN``, ``hyperhttp bench
     -c N`` (the lean engine), ``hyperhttp bench --engine client``
     (``hyperhttp.Client``), and Locust's FastHttpUser with N users (installed
     with pip into a temporary venv; skipped, with the reason, if it does not
     install or run);
   - HTTP/2 over TLS, 4 connections x 32 streams: ``h2load -t1 -c4 -m32``,
     ``hyperhttp bench --http2 -c 4 --streams 32`` and its client engine;

4. interleaves ``--rounds`` rounds (every cell once per round, every other
   round in reverse order) and reports medians: RPS on its one core, the
   client process's CPU (user + system, from ``wait4``), RPS per core (RPS
   divided by the cores it used: what one core can generate when the server
   is not the limit), latency, and both ratios to wrk (HTTP/1.1) or h2load
   (HTTP/2) from the same round;
5. prints the table, writes it into docs/cli.md (between its
   ``loadgen-table`` markers) and the samples into bench/results/loadgen.json.

``--quick``: one round of 3 s per cell (a smoke run). On a machine with one
CPU nothing is pinned (and the table says so). Every subprocess has a timeout;
nginx is stopped by its PID.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # tests.servers.* (the nginx launcher)

from tests.servers.nginx_proc import http_preamble, launch, nginx_binary, stop_nginx  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

CLIENT_CPU = 0
SERVER_CPU = 1
BODY = 200
DOC = ROOT / "docs" / "cli.md"
RESULTS = HERE / "results" / "loadgen.json"
MARK_START = "<!-- loadgen-table:start -->"
MARK_END = "<!-- loadgen-table:end -->"
LOCUST_INSTALL_TIMEOUT = 300.0


# ---------------------------------------------------------------- nginx


@dataclass
class Nginx:
    """The server under test: its two URLs and process."""

    process: subprocess.Popen[bytes]
    plain: str  # HTTP/1.1
    tls: str  # HTTP/2 (and HTTP/1.1) over TLS


def _pinned() -> bool:
    return len(os.sched_getaffinity(0)) > 1 and shutil.which("taskset") is not None


@contextlib.contextmanager
def nginx(folder: Path) -> Iterator[Nginx]:
    """Run nginx on two loopback ports (plain HTTP/1.1, TLS + HTTP/2); stop it by PID."""
    import trustme

    if nginx_binary() is None:
        raise SystemExit("nginx is not installed and could not be (.ci/install_nginx.sh)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    root = folder / "nginx"
    (root / "www" / "size").mkdir(parents=True)
    (root / "www" / "size" / str(BODY)).write_bytes(b"x" * BODY)

    def config(ports: list[int]) -> str:
        head = "worker_rlimit_nofile 65536;\n"
        if _pinned():
            head += "worker_cpu_affinity " + "1" + "0" * SERVER_CPU + ";\n"
        return (
            head
            + http_preamble(root, worker_connections=30000)
            + f"""    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    http2_max_concurrent_streams 128;
    sendfile on;
    server {{
        listen 127.0.0.1:{ports[0]} backlog=4096;
        root {root}/www; location / {{ }}
    }}
    server {{
        listen 127.0.0.1:{ports[1]} ssl http2 backlog=4096;
        ssl_certificate {cert_path}; ssl_certificate_key {key_path};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root}/www; location / {{ }}
    }}
}}
"""
        )

    process, ports = launch(root, config, ports=2)
    try:
        yield Nginx(process, f"http://127.0.0.1:{ports[0]}", f"https://127.0.0.1:{ports[1]}")
    finally:
        stop_nginx(process)


# ---------------------------------------------------------------- running one tool


@dataclass
class Run:
    """One process's outcome: its output and the CPU it used."""

    status: int
    stdout: str
    stderr: str
    cpu: float  # user + system seconds (wait4)
    wall: float


def run_pinned(cmd: list[str], timeout: float, cwd: Path | None = None) -> Run:
    """Run ``cmd`` on CPU 0 (when pinning is possible); collect its output and CPU time."""
    if _pinned():
        cmd = ["taskset", "-c", str(CLIENT_CPU), *cmd]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(
            process.returncode, out.read(), err.read(), usage.ru_utime + usage.ru_stime, wall
        )


def _ms(value: float, unit: str) -> float:
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """RPS, requests, duration, errors and latency percentiles from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    assert done is not None, text
    seconds = float(done.group(2)) * {"s": 1.0, "m": 60.0, "ms": 0.001}[done.group(3)]
    latency = {
        f"p{m.group(1)}": _ms(float(m.group(2)), m.group(3))
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    }
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": rps,
        "responses": int(done.group(1)),
        "seconds": seconds,
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def parse_h2load(text: str) -> dict[str, Any]:
    """RPS, requests, errors and mean latency from h2load (it gives no percentiles)."""
    finished = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", text)
    counts = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", text)
    assert finished is not None, text
    assert counts is not None, text
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text)
    succeeded = int(counts.group(3))
    return {
        "rps": float(finished.group(2)),
        "responses": succeeded,
        "seconds": float(finished.group(1)),
        "p50_ms": None,
        "p99_ms": None,
        "mean_ms": _ms(float(mean.group(1)), mean.group(2)) if mean else None,
        "errors": int(counts.group(2)) - succeeded,
    }


def parse_hyperhttp(text: str) -> dict[str, Any]:
    """Read the figures of ``hyperhttp bench --json``."""
    report = json.loads(text)
    return {
        "rps": report["rps"],
        "responses": report["responses"],
        "seconds": report["elapsed"],
        "p50_ms": report["latency_ms"]["p50"],
        "p99_ms": report["latency_ms"]["p99"],
        "errors": report["error_count"],
        "loop": report["loop"],
    }


def parse_locust(csv_path: Path) -> dict[str, Any]:
    """Read the Aggregated row of Locust's ``--csv`` statistics."""
    import csv

    with csv_path.open() as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    row = rows["Aggregated"]
    requests = int(row["Request Count"])
    return {
        "rps": float(row["Requests/s"]),
        "responses": requests - int(row["Failure Count"]),
        "seconds": None,
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "errors": int(row["Failure Count"]),
    }


# ---------------------------------------------------------------- Locust, in a venv of its own

LOCUSTFILE = f"""
from locust import FastHttpUser, constant, task


class Load(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/size/{BODY}")
"""


def locust_venv(folder: Path) -> tuple[Path | None, str]:
    """Install Locust into a fresh venv; return its ``locust`` and version, or None and why."""
    target = folder / "venv-locust"
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        python = target / "bin" / "python"
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "locust",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=LOCUST_INSTALL_TIMEOUT,
        )
        version = subprocess.run(
            [str(python), "-c", "import locust; print(locust.__version__)"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"Locust did not install: {detail.strip().splitlines()[-1] if detail else exc}"
    return target / "bin" / "locust", version


# ---------------------------------------------------------------- cells


@dataclass
class Cell:
    """One (workload, tool): how to run it, and its samples."""

    workload: str
    tool: str
    baseline: bool  # wrk or h2load: the ratios' reference in its workload
    command: list[str]
    kind: str  # how to read its output: wrk, h2load, hyperhttp, locust
    samples: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [s[key] for s in self.samples if s.get(key) is not None]
        return statistics.median(values) if values else None


def cells(server: Nginx, duration: float, locust: Path | None, folder: Path) -> list[Cell]:
    """Every (workload, tool) of the table, with its command."""
    python = sys.executable
    seconds = f"{duration:g}"
    url1 = f"{server.plain}/size/{BODY}"
    url2 = f"{server.tls}/size/{BODY}"
    out: list[Cell] = []
    for conns in (64, 256):
        workload = f"HTTP/1.1, {conns} connections"
        out.append(
            Cell(
                workload,
                "wrk",
                True,
                ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", url1],
                "wrk",
            )
        )
        hyper = [
            python,
            "-m",
            "hyperhttp",
            "bench",
            url1,
            "-c",
            str(conns),
            "-d",
            f"{seconds}s",
            "--json",
            "-q",
        ]
        out.append(Cell(workload, "hyperhttp bench", False, hyper, "hyperhttp"))
        out.append(
            Cell(
                workload,
                "hyperhttp bench --engine client",
                False,
                [*hyper, "--engine", "client"],
                "hyperhttp",
            )
        )
        if locust is not None:
            (folder / "locustfile.py").write_text(LOCUSTFILE)
            csv = folder / f"locust-{conns}"
            out.append(
                Cell(
                    workload,
                    "Locust FastHttpUser",
                    False,
                    [
                        str(locust),
                        "-f",
                        str(folder / "locustfile.py"),
                        "--headless",
                        "-u",
                        str(conns),
                        "-r",
                        str(conns),
                        "-t",
                        f"{seconds}s",
                        "--host",
                        server.plain,
                        "--csv",
                        str(csv),
                        "--only-summary",
                        "--loglevel",
                        "ERROR",
                    ],
                    "locust",
                )
            )
    workload = "HTTP/2 (TLS), 4 connections x 32 streams"
    out.append(
        Cell(
            workload,
            "h2load",
            True,
            ["h2load", "-t1", "-c4", "-m32", f"-D{seconds}", url2],
            "h2load",
        )
    )
    hyper = [
        python,
        "-m",
        "hyperhttp",
        "bench",
        url2,
        "--http2",
        "-c",
        "4",
        "--streams",
        "32",
        "-k",
    ]
    hyper += ["-d", f"{seconds}s", "--json", "-q"]
    out.append(Cell(workload, "hyperhttp bench", False, hyper, "hyperhttp"))
    out.append(
        Cell(
            workload,
            "hyperhttp bench --engine client",
            False,
            [*hyper, "--engine", "client"],
            "hyperhttp",
        )
    )
    return out


def run_cell(cell: Cell, duration: float, folder: Path) -> None:
    """Run one cell once; add a sample (or a failure)."""
    run = run_pinned(cell.command, timeout=duration * 3 + 60, cwd=folder)
    try:
        if cell.kind == "wrk":
            sample = parse_wrk(run.stdout)
        elif cell.kind == "h2load":
            sample = parse_h2load(run.stdout)
        elif cell.kind == "hyperhttp":
            sample = parse_hyperhttp(run.stdout)
        else:
            prefix = cell.command[cell.command.index("--csv") + 1]
            sample = parse_locust(Path(prefix + "_stats.csv"))
    except (AssertionError, AttributeError, KeyError, ValueError, OSError) as exc:
        tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
        cell.failures.append(f"exit {run.status}: {type(exc).__name__} {exc}; {' | '.join(tail)}")
        return
    seconds = sample["seconds"] or run.wall
    sample["cpu"] = run.cpu
    sample["cores"] = run.cpu / run.wall if run.wall else None  # CPU used while it ran
    # RPS per core: responses per CPU-second spent by the client process.
    sample["rps_per_core"] = sample["responses"] / run.cpu if run.cpu else None
    sample["wall"] = run.wall
    sample["seconds"] = seconds
    cell.samples.append(sample)


# ---------------------------------------------------------------- the report


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _tool_version(cmd: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        text = (done.stdout + done.stderr).strip().splitlines()
        return text[0].split(" Copyright")[0] if text else "?"
    return "?"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nginx_version = _tool_version([nginx_binary() or "nginx", "-v"]).replace("nginx version: ", "")
    pinning = (
        f"client on CPU {CLIENT_CPU}, nginx on CPU {SERVER_CPU}"
        if _pinned()
        else "not pinned (one CPU)"
    )
    return (
        f"{model}, {os.cpu_count()} CPUs ({pinning}), Linux {platform.release()}, "
        f"Python {sys.version.split()[0]}, hyperhttp {_version('hyperhttp')}, "
        f"uvloop {_version('uvloop')}, {nginx_version}, {_tool_version(['wrk', '-v'])}, "
        f"{_tool_version(['h2load', '--version'])}"
    )


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def table(all_cells: list[Cell]) -> str:
    """Return the Markdown table: medians, ratios to the workload's wrk or h2load."""
    lines = [
        (
            "| workload | load generator | RPS (one core) | client CPU (cores) | RPS per core"
            " | P50 ms | P99 ms | errors | RPS vs baseline | per core vs baseline |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in all_cells:
        base = next(c for c in all_cells if c.workload == cell.workload and c.baseline)
        if not cell.samples:
            reason = cell.failures[0] if cell.failures else "not run"
            lines.append(f"| {cell.workload} | {cell.tool} | n/a: {reason} | | | | | | | |")
            continue
        rps, per_core = cell.median("rps"), cell.median("rps_per_core")
        base_rps, base_core = base.median("rps"), base.median("rps_per_core")
        ratio = f"{rps / base_rps:.2f}×" if rps and base_rps else "–"
        core_ratio = f"{per_core / base_core:.2f}×" if per_core and base_core else "–"
        p50 = cell.median("p50_ms")
        lines.append(
            f"| {cell.workload} | {cell.tool} | {_fmt(rps)} | {_fmt(cell.median('cores'), 2)}"
            f" | {_fmt(per_core)} | {_fmt(p50, 2)} | {_fmt(cell.median('p99_ms'), 2)}"
            f" | {_fmt(cell.median('errors'))} | {ratio} | {core_ratio} |"
        )
    return "\n".join(lines)


def write_doc(text: str) -> None:
    """Put ``text`` between docs/cli.md's loadgen-table markers."""
    doc = DOC.read_text()
    start, end = doc.find(MARK_START), doc.find(MARK_END)
    if start < 0 or end < start:
        print(f"(docs/cli.md has no {MARK_START} ... {MARK_END} markers: not updated)")
        return
    DOC.write_text(doc[: start + len(MARK_START)] + "\n" + text + "\n" + doc[end:])


# ---------------------------------------------------------------- main


def install_tools() -> None:
    """Install nginx, wrk and h2load when missing (the .ci scripts; apt)."""
    for script in (".ci/install_nginx.sh", ".ci/install_loadtools.sh"):
        subprocess.run(["bash", str(ROOT / script)], check=True, timeout=900)  # noqa: S607
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed and could not be (.ci/install_loadtools.sh)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per cell (default 10)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="one round of 3 s per cell")
    parser.add_argument("--no-locust", action="store_true", help="skip Locust")
    parser.add_argument("--no-write", action="store_true", help="print only; write no file")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    install_tools()
    command = "python bench/bench_loadgen.py" + "".join(f" {a}" for a in sys.argv[1:])
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hyperhttp-loadgen-") as tmp:
        folder = Path(tmp)
        locust, locust_version = (None, "skipped (--no-locust)")
        if not args.no_locust:
            print("installing Locust into a temporary venv ...", flush=True)
            locust, locust_version = locust_venv(folder)
            if locust is None:
                notes.append(locust_version)
                print(locust_version)
        with nginx(folder) as server:
            all_cells = cells(server, args.duration, locust, folder)
            # Warm nginx (page cache, TLS session setup paths) before the first round.
            run_pinned(["wrk", "-t1", "-c16", "-d1s", f"{server.plain}/size/{BODY}"], 30)
            for round_index in range(args.rounds):
                order = all_cells if round_index % 2 == 0 else list(reversed(all_cells))
                for cell in order:
                    run_cell(cell, args.duration, folder)
                    last = cell.samples[-1] if cell.samples else None
                    shown = (
                        f"{last['rps']:,.0f} req/s, {last['cores']:.2f} cores"
                        if last
                        else cell.failures[-1]
                    )
                    where = f"round {round_index + 1}/{args.rounds}  {cell.workload:<42}"
                    print(f"{where} {cell.tool:<34} {shown}", flush=True)
    text = table(all_cells)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    header = (
        f"One run on {when}: `{command}` ({args.rounds} round(s) of {args.duration:g} s per cell,"
        f" medians). {machine()}; Locust {locust_version}."
    )
    if notes:
        header += " " + " ".join(notes)
    print()
    print(header)
    print()
    print(text)
    if not args.no_write:
        write_doc(header + "\n\n" + text)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "command": command,
                    "date": when,
                    "machine": machine(),
                    "locust": locust_version,
                    "duration": args.duration,
                    "rounds": args.rounds,
                    "notes": notes,
                    "cells": [
                        {
                            "workload": c.workload,
                            "tool": c.tool,
                            "command": [str(part) for part in c.command],
                            "median": {
                                key: c.median(key)
                                for key in (
                                    "rps",
                                    "cores",
                                    "rps_per_core",
                                    "p50_ms",
                                    "p99_ms",
                                    "errors",
                                )
                            },
                            "samples": c.samples,
                            "failures": c.failures,
                        }
                        for c in all_cells
                    ],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwritten: {DOC.relative_to(ROOT)}, {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
