"""Workloads benchmark: the client a gateway, a crawler, a load generator should use.

The main table (``hatch run bench:workloads``; ``--quick`` for a ~2 minute smoke,
``--scenario NAME`` for one, ``--rounds N``, ``--lock FILE`` to hold a lock file
around each round of each scenario). Every cell is one (scenario, client) in a
fresh process (bench/_wl_client.py, pinned to CPU 0); the server is nginx
(Debian's, with its echo module for the service time) on CPU 1, started here
with its own configuration on loopback ports and stopped by PID. Rounds are
interleaved (every cell of a scenario once per round, every other round in
reverse order; a cell that failed is not run again), each figure is the
median over rounds, and ratios are to aiohttp (and the floor client)
measured in the same run. Every client runs
at its defaults (``hyperhttp.Client()``, ``aiohttp.ClientSession()``,
``httpx.AsyncClient()``, ...); hyperhttp and aiohttp get a second row tuned
to the load (pool = concurrency; pyreqwest's and rnet's pools have no cap at
their defaults). CPU is the client process's user + system time over all its threads.
Each load cell warms up 0.2 s (and until ``c`` requests completed), then measures
0.5 s (2 s at c = 10 000): at 0.6 s two rounds' RPS differed by a median 2-5 %.

Scenarios:

- ``gateway``: one origin with a 20 ms service time (nginx ``echo_sleep``), c = 64,
  256, 1 000 over HTTP/1.1, and c = 64, 1 000 over HTTPS (nginx offers HTTP/2 by
  ALPN; each client speaks what it picks at its defaults). The pool's physical
  limit (connections ÷ 20 ms) is shown beside RPS, and the server's CPU tells
  whether it saturated first.
- ``loadgen``: nginx, 200 B, no delay, c = 64, 1 000, 10 000 (a 2 s window at 10 000;
  every load's warm-up lasts until ``c`` requests completed, so every connection
  is open before the window).
- ``crawler``: 1 000 origins (loopback ports; one in four closes after every
  response), a handful of requests each in shuffled order, 64 workers, at most
  2 requests in flight per origin (the politeness cap, enforced by the workload
  so all clients obey the same one).
- ``churn``: every response ``Connection: close``, plain and TLS (handshakes included).
- ``memory``: RSS per in-flight request and per idle pooled connection with
  10 000 of each (clients tuned to hold 10 000), and RSS growth while a 1 GiB
  body streams through each client's streaming API.
- ``matrix``: against pyreqwest, c = 64, 200 B / 10 KiB / 1 MiB, on asyncio and
  on uvloop (``bigbody``: only its 1 MiB uvloop rows).
- ``h2``: over TLS, hyperhttp's HTTP/2 against aiohttp's HTTP/1.1 and pyreqwest
  (HTTP/1.1, its default, and HTTP/2); every round's ratios are shown.

A client that fails (cannot import, raises, stalls, times out) shows as "n/a: reason";
a stalled cell ends within seconds (bench/_wl_client.py: no progress for 4 s, or a
rate that cannot finish within the mode's cap), not at a timeout.
``--quick``: one round, shorter windows, the gateway at c = 1 000 over HTTP/1.1,
churn without TLS, 2 000 held connections, the matrix on uvloop only, no tuned rows.
Results: printed, and written to bench/results/workloads.md and .json
(``workloads-quick.*`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.metadata
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.servers.* (the nginx launcher)

from tests.servers.nginx_proc import http_preamble, nginx_binary, stop_nginx  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
SERVICE_MS = 20
BIG = 1 << 30
SIZES = {"200 B": 200, "10 KiB": 10 * 1024, "1 MiB": 1024 * 1024}
CRAWL_ORIGINS = 1000
SERVER_CPU = 1
VERBOSE = os.environ.get("BENCH_VERBOSE") == "1"  # a line per cell on stderr
CLIENT_CPU = 0
RUNNING = [0.0]  # seconds spent running rounds (inside the lock), summed

# (client, event loop, label). The floor joins where the server answers with Content-Length.
ALL = (
    ("hyperhttp", "asyncio", "hyperhttp"),
    ("hyperhttp", "uvloop", "hyperhttp (uvloop)"),
    ("aiohttp", "asyncio", "aiohttp"),
    ("httpx", "asyncio", "httpx"),
    ("niquests", "asyncio", "niquests"),
    ("aiosonic", "asyncio", "aiosonic"),
    ("pyreqwest", "asyncio", "pyreqwest"),
    ("rnet", "asyncio", "rnet"),
)
FLOOR = (("floor", "asyncio", "floor"), ("floor", "uvloop", "floor (uvloop)"))
# Clients whose default pool is capped (the others' pools are unbounded): a tuned row.
TUNED = (("hyperhttp", "asyncio", "hyperhttp"), ("aiohttp", "asyncio", "aiohttp"))


def _default_pool(client: str) -> int | None:
    """Return the connections a client opens to one origin at its defaults (None: no cap)."""
    if client == "hyperhttp":
        import hyperhttp

        limits = hyperhttp.Limits()
        caps = [c for c in (limits.max_connections, limits.max_connections_per_host) if c]
        return min(caps) if caps else None
    # aiohttp: limit=100; httpx: max_connections=100; niquests: pool_maxsize=10 (more
    # are opened but not kept); aiosonic: PoolConfig(size=30); pyreqwest, rnet: no cap.
    return {"aiohttp": 100, "httpx": 100, "niquests": 10, "aiosonic": 30}.get(client)


# ---------------------------------------------------------------- the server


@dataclass
class Server:
    """The nginx under test: its ports, CA file and process."""

    process: subprocess.Popen[bytes]
    ports: list[int]
    ca: Path
    echo: bool

    @property
    def plain(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def tls(self) -> str:
        return f"https://127.0.0.1:{self.ports[1]}"

    @property
    def plain_close(self) -> str:
        return f"http://127.0.0.1:{self.ports[2]}"

    @property
    def tls_close(self) -> str:
        return f"https://127.0.0.1:{self.ports[3]}"

    @property
    def crawl(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports[4:]]

    def pids(self) -> list[int]:
        """Return nginx's worker PIDs (the master's children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []


def _config(root: Path, ports: list[int], cert: Path, key: Path, echo: bool) -> str:
    sleeps = (
        f"location = /sleep{SERVICE_MS} {{ echo_sleep {SERVICE_MS / 1000}; echo ok; }}\n"
        "        location = /sleep1000 { echo_sleep 1.0; echo ok; }\n"
        if echo
        else ""
    )
    www = f"root {root}/www; location / {{ }}\n        {sleeps}"
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;"
    crawl = ports[4:]
    closing = len(crawl) // 4
    keep = "\n".join(f"        listen 127.0.0.1:{p} backlog=1024;" for p in crawl[closing:])
    close = "\n".join(f"        listen 127.0.0.1:{p} backlog=1024;" for p in crawl[:closing])
    head = f"load_module {ECHO_MODULE};\n" if echo else ""
    head += "worker_rlimit_nofile 65536;\n"
    if len(os.sched_getaffinity(0)) > 1:
        head += "worker_cpu_affinity " + "1" + "0" * SERVER_CPU + ";\n"
    return (
        head
        + http_preamble(root, worker_connections=30000)
        + f"""    keepalive_requests 1000000;
    sendfile on;
    server {{
        listen 127.0.0.1:{ports[0]} backlog=4096;
        {www}
    }}
    server {{
        listen 127.0.0.1:{ports[1]} ssl http2 backlog=4096;
        {tls}
        {www}
    }}
    server {{
        listen 127.0.0.1:{ports[2]} backlog=4096;
        keepalive_timeout 0;
        {www}
    }}
    server {{
        listen 127.0.0.1:{ports[3]} ssl backlog=4096;
        keepalive_timeout 0;
        {tls}
        {www}
    }}
    server {{
{keep}
        root {root}/www; location / {{ }}
    }}
    server {{
{close}
        keepalive_timeout 0;
        root {root}/www; location / {{ }}
    }}
}}
"""
    )


def _ports(count: int) -> list[int]:
    """Return ``count`` distinct free loopback ports below the ephemeral range.

    Below it, so the churn's client sockets never meet the listening ports.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    start = random.randrange(10000, max(10001, low - count * 2))
    chosen: list[int] = []
    for port in range(start, low):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"no {count} free ports below {low}")


def _launch(
    root: Path, config: Callable[[list[int]], str]
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Run nginx on 4 + CRAWL_ORIGINS free ports; wait until every port answers."""
    binary = nginx_binary()
    assert binary is not None
    (root / "temp").mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        ports = _ports(4 + CRAWL_ORIGINS)
        conf = root / "nginx.conf"
        conf.write_text(config(ports))
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        waiting = list(ports)
        while waiting and time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", waiting[-1]), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            waiting.pop()
        if not waiting:
            return process, ports
        stop_nginx(process)
    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
    raise RuntimeError(f"nginx did not start: {log[-2000:]}")


@contextlib.contextmanager
def nginx(folder: Path) -> Iterator[Server]:
    """Run nginx for the benchmark (its own configuration under ``folder``); stop it by PID."""
    import trustme

    if nginx_binary() is None:
        raise SystemExit("nginx is not installed (apt-get install nginx-light)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    root = folder / "nginx"
    www = root / "www"
    (www / "size").mkdir(parents=True)
    for size in SIZES.values():
        (www / "size" / str(size)).write_bytes(b"x" * size)
    with (www / "big").open("wb") as big:
        big.truncate(BIG)  # sparse: served from the page cache, no disk used
    # Read it once here: the first client to stream it would otherwise pay for
    # filling the page cache (seen: 334 MiB/s on a cold file, 1.4-2 GiB/s warm).
    with (www / "big").open("rb") as big:
        while big.read(1 << 20):
            pass
    echo = ECHO_MODULE.exists()
    process, ports = _launch(root, lambda chosen: _config(root, chosen, cert_path, key_path, echo))
    try:
        yield Server(process, ports, ca_path, echo)
    finally:
        stop_nginx(process)


# ---------------------------------------------------------------- cells


@dataclass
class Cell:
    """One (scenario group, client, setting): a spec for bench/_wl_client.py and its samples."""

    group: str
    label: str
    setting: str  # "defaults" or "tuned: ..."
    spec: dict[str, Any]
    note: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def client(self) -> str:
        return str(self.spec["client"])

    def median(self, metric: str) -> float | None:
        values = [s[metric] for s in self.samples if metric in s]
        return statistics.median(values) if values else None


def _cell(
    group: str,
    entry: tuple[str, str, str],
    spec: dict[str, Any],
    *,
    tuned: bool = False,
    note: str = "",
) -> Cell:
    client, loop, label = entry
    full = {"client": client, "loop": loop, "tuned": tuned, "cpu": CLIENT_CPU, **spec}
    full.setdefault("pool", full.get("conc", 64))
    setting = f"tuned: pool {full['pool']}" if tuned else "defaults"
    if client == "floor":
        setting = f"{full.get('conc', 64)} connections"
    return Cell(group, label, setting, full, note)


@dataclass
class Plan:
    """How big a run is: the default one, or ``--quick``'s smoke."""

    warm: float
    seconds: float
    gateway_c: tuple[int, ...]
    gateway_tls: bool
    loadgen_c: tuple[int, ...]
    crawl_each: int
    churn_tls: bool
    hold: int
    matrix_loops: tuple[str, ...]
    tuned: bool
    patience: float = 30.0  # seconds a held batch, a stream or a crawl may take before it is n/a


FULL = Plan(
    0.2, 0.5, (64, 256, 1000), True, (64, 1000, 10000), 5, True, 10000, ("asyncio", "uvloop"), True
)
QUICK = Plan(0.15, 0.4, (1000,), False, (64, 1000), 2, False, 2000, ("uvloop",), False, 12.0)


def _limit(client: str, conc: int) -> str:
    pool = _default_pool(client)
    connections = conc if pool is None else min(pool, conc)
    return f"limit {connections * 1000 // SERVICE_MS:,} RPS ({connections} conns)"


def scenario_cells(name: str, server: Server, plan: Plan) -> list[Cell]:
    """Return the cells of scenario ``name``."""
    timing = {"warm": plan.warm, "seconds": plan.seconds}
    cells: list[Cell] = []
    ca = str(server.ca)
    if name == "gateway":
        if not server.echo:
            return [
                Cell(
                    "gateway",
                    "all",
                    "-",
                    {"client": "-"},
                    errors=[f"n/a: nginx's echo module is not installed ({ECHO_MODULE})"],
                )
            ]
        protos = [("HTTP/1.1", server.plain), ("HTTPS (h2 offered)", server.tls)]
        for proto, base in protos if plan.gateway_tls else protos[:1]:
            url = f"{base}/sleep{SERVICE_MS}"
            extra = {} if base == server.plain else {"ca": ca}
            # Over TLS the smallest and largest concurrency only (run time).
            concs = (
                plan.gateway_c
                if base == server.plain
                else plan.gateway_c[:: max(1, len(plan.gateway_c) - 1)]
            )
            for conc in concs:
                group = f"{proto}, c = {conc}"
                spec = {"mode": "load", "url": url, "conc": conc, **timing, **extra}
                for entry in ALL:
                    note = _limit(entry[0], conc) if base == server.plain else ""
                    cells.append(_cell(group, entry, spec, note=note))
                for entry in TUNED if plan.tuned else ():
                    note = _limit("pyreqwest", conc) if base == server.plain else ""
                    cells.append(_cell(group, entry, spec, tuned=True, note=note))
    elif name == "loadgen":
        url = f"{server.plain}/size/200"
        for conc in plan.loadgen_c:
            group = f"200 B, c = {conc}"
            spec = {"mode": "load", "url": url, "conc": conc, **timing}
            if conc >= 10000:  # each worker gets a few requests into the window
                spec["seconds"] = max(plan.seconds, 2.0)
            cells.extend(_cell(group, entry, spec) for entry in (*ALL, *FLOOR))
            tuned = TUNED if plan.tuned else ()
            cells.extend(_cell(group, entry, spec, tuned=True) for entry in tuned)
    elif name == "crawler":
        urls = [f"{origin}/size/200" for origin in server.crawl for _ in range(plan.crawl_each)]
        random.Random(16).shuffle(urls)
        group = (
            f"{len(server.crawl)} origins × {plan.crawl_each} requests, 64 workers, 2 per origin"
        )
        spec = {"mode": "list", "urls": urls, "conc": 64, "per_host": 2}
        spec["limit_s"] = plan.patience * 2 / 3  # 1-5 s when it works; a stall ends it sooner
        cells.extend(_cell(group, entry, spec) for entry in ALL)
    elif name == "churn":
        protos = [("plain", server.plain_close), ("TLS", server.tls_close)]
        for proto, base in protos if plan.churn_tls else protos[:1]:
            group = f"Connection: close, {proto}, 200 B, c = 64"
            spec = {"mode": "load", "url": f"{base}/size/200", "conc": 64, **timing}
            if proto == "TLS":
                spec["ca"] = ca
            cells.extend(_cell(group, entry, spec) for entry in ALL)
    elif name == "memory":
        warm_url = f"{server.plain}/size/200"
        if server.echo:
            group = f"{plan.hold:,} requests held 1 s, then pooled"
            spec = {
                "mode": "hold",
                "url": f"{server.plain}/sleep1000",
                "warm_url": warm_url,
                "conc": plan.hold,
                "patience": plan.patience * 2 / 3,  # 11-15 s for the slowest that works
            }
            cells.extend(_cell(group, entry, spec, tuned=True) for entry in ALL)
        group = "1 GiB streamed"
        spec = {"mode": "stream", "url": f"{server.plain}/big", "warm_url": warm_url, "size": BIG}
        spec["patience"] = plan.patience
        cells.extend(_cell(group, entry, spec) for entry in ALL)
    elif name in ("matrix", "bigbody"):
        loops = ("uvloop",) if name == "bigbody" else plan.matrix_loops
        sizes = {"1 MiB": SIZES["1 MiB"]} if name == "bigbody" else SIZES
        for loop in loops:
            for size, length in sizes.items():
                group = f"{size}, c = 64, {loop}"
                spec = {"mode": "load", "url": f"{server.plain}/size/{length}", "conc": 64}
                spec.update(timing)
                for client in ("hyperhttp", "aiohttp", "pyreqwest", "floor"):
                    cells.append(_cell(group, (client, loop, f"{client} ({loop})"), spec))
    elif name == "h2":
        for size, length in SIZES.items():
            group = f"TLS, {size}, c = 64"
            spec = {"mode": "load", "url": f"{server.tls}/size/{length}", "conc": 64, "ca": ca}
            spec.update(timing)
            for client, loop, label, proto in (
                ("hyperhttp", "asyncio", "hyperhttp HTTP/2", "h2"),
                ("hyperhttp", "uvloop", "hyperhttp HTTP/2 (uvloop)", "h2"),
                ("aiohttp", "asyncio", "aiohttp HTTP/1.1", "h1"),
                ("pyreqwest", "asyncio", "pyreqwest HTTP/1.1", "h1"),
                ("pyreqwest", "asyncio", "pyreqwest HTTP/2", "h2"),
            ):
                cell = _cell(group, (client, loop, label), {**spec, "proto": proto})
                if client == "pyreqwest" and proto == "h2":
                    cell.setting = "http2(True)"
                cells.append(cell)
    else:
        raise SystemExit(f"unknown scenario {name!r}")
    return cells


# ---------------------------------------------------------------- running


def run_cell(cell: Cell, server: Server) -> None:
    """Run one cell once in a fresh process; append its sample or its error."""
    if cell.errors and not cell.samples:
        return  # it failed in an earlier round (or cannot run here): not tried again
    spec = {**cell.spec, "server_pids": server.pids()}
    mode = spec["mode"]
    # A backstop only: the client process ends a cell that stalls (no progress for a
    # few seconds) or overruns its own limit by itself, with the reason.
    limit = spec.get("patience", spec.get("limit_s", 30.0))
    if mode == "load":  # warm-up cap (30 s) + window + stragglers' grace (15 s)
        limit = 30 + spec["warm"] + spec["seconds"] + 15
    timeout = limit + 10
    command = [sys.executable, str(HERE / "_wl_client.py")]
    started = time.monotonic()
    try:
        out = subprocess.run(
            command,
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        cell.errors.append(f"timed out after {timeout:.0f} s")
        return
    finally:
        if VERBOSE:
            print(
                f"    {cell.group} | {cell.label} | {cell.setting}: "
                f"{time.monotonic() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    if out.returncode != 0:
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit {out.returncode}"
        cell.errors.append(reason[:160])
        return
    sample: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    sample["process_s"] = time.monotonic() - started
    cell.samples.append(sample)


@contextlib.contextmanager
def locked(path: str | None) -> Iterator[None]:
    """Hold ``path`` (flock) while the body runs, when a lock file is given."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_scenario(
    name: str, server: Server, plan: Plan, rounds: int, lock: str | None
) -> list[Cell]:
    cells = scenario_cells(name, server, plan)
    rounds = 1 if name == "memory" else rounds  # RSS does not swing like timings do
    for number in range(rounds):
        started = time.monotonic()
        with locked(lock):
            running = time.monotonic()
            # Every other round in reverse: no client always runs first, right
            # after the previous scenario and its thousands of closed connections
            # (hyperhttp, first in every crawler round, measured 0.89x aiohttp
            # there, and 1.2x in the same cells run by themselves).
            for cell in cells if number % 2 == 0 else reversed(cells):
                run_cell(cell, server)
            RUNNING[0] += time.monotonic() - running
        print(
            f"  {name}: round {number + 1}/{rounds} in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return cells


# ---------------------------------------------------------------- rendering


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}×"


def _base(cells: list[Cell], cell: Cell, client: str) -> Cell | None:
    """Return the cell of ``client`` in ``cell``'s group (same setting kind) to compare with."""
    tuned = cell.setting.startswith("tuned")
    loop = cell.spec.get("loop")
    candidates = [c for c in cells if c.group == cell.group and c.client == client and c.samples]
    for pick in (
        lambda c: c.setting.startswith("tuned") == tuned and c.spec.get("loop") == loop,
        lambda c: not c.setting.startswith("tuned") and c.spec.get("loop") == loop,
        lambda c: not c.setting.startswith("tuned"),
    ):
        found = [c for c in candidates if pick(c)]
        if found:
            return found[0]
    return None


def _of(cell: Cell | None, metric: str) -> float | None:
    return None if cell is None else cell.median(metric)


def _na(cell: Cell) -> str:
    return "n/a: " + (cell.errors[0] if cell.errors else "no result")


def render_load(title: str, cells: list[Cell]) -> str:
    lines = [
        f"### {title}",
        "",
        (
            "| case | client | setting | RPS | P50 ms | P99 ms | P99/P50 | CPU µs/req "
            "| RPS vs aiohttp | P99 vs aiohttp | CPU vs aiohttp | CPU vs floor | notes |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        head = f"| {cell.group} | {cell.label} | {cell.setting} "
        if not cell.samples:
            lines.append(head + f"| {_na(cell)} |" + " |" * 10)
            continue
        aio, floor = _base(cells, cell, "aiohttp"), _base(cells, cell, "floor")
        rps, p50, p99, cpu = (cell.median(m) for m in ("rps", "p50", "p99", "cpu_us"))
        notes = [cell.note] if cell.note else []
        server_cpu = cell.median("server_cpu")
        if server_cpu is not None:
            notes.append(f"server CPU {server_cpu:.0%}")
        if cell.errors:
            notes.append(f"{len(cell.errors)} failed: {cell.errors[0]}")
        lines.append(
            head
            + f"| {_fmt(rps)} | {_fmt(p50, '.1f')} | {_fmt(p99, '.1f')} "
            + f"| {_ratio(p99, p50)} | {_fmt(cpu, '.0f')} "
            + f"| {_ratio(rps, _of(aio, 'rps'))} "
            + f"| {_ratio(p99, _of(aio, 'p99'))} "
            + f"| {_ratio(cpu, _of(aio, 'cpu_us'))} "
            + f"| {_ratio(cpu, _of(floor, 'cpu_us'))} "
            + f"| {'; '.join(notes)} |"
        )
    return "\n".join(lines)


def render_cpu_growth(cells: list[Cell]) -> str:
    """CPU per request at the highest concurrency against the lowest, per client and setting."""
    groups = sorted({c.spec["conc"] for c in cells})
    low, high = groups[0], groups[-1]
    lines = [
        f"CPU per request at c = {high:,} against c = {low} (target for hyperhttp ≤ 1.2×):",
        "",
        "| client | setting | ratio |",
        "|---|---|---:|",
    ]
    for cell in cells:
        if cell.spec["conc"] != low:
            continue
        twin = [
            c
            for c in cells
            if c.spec["conc"] == high
            and c.label == cell.label
            and c.setting.split(":")[0] in (cell.setting.split(":")[0], "floor")
        ]
        if cell.client == "floor":
            twin = [c for c in cells if c.spec["conc"] == high and c.client == "floor"]
        value = twin[0].median("cpu_us") if twin else None
        setting = cell.setting.split(":")[0]
        lines.append(f"| {cell.label} | {setting} | {_ratio(value, cell.median('cpu_us'))} |")
    return "\n".join(lines)


def render_memory(cells: list[Cell]) -> str:
    lines = [
        "### Memory",
        "",
        (
            "Targets for hyperhttp: ≤ 16 KiB RSS per idle pooled connection; a 1 GiB stream "
            "grows RSS < 32 MiB. RSS is sampled every 50 ms (held) or every 16 chunks (stream)."
        ),
        "",
        "| case | client | setting | result | notes |",
        "|---|---|---|---|---|",
    ]
    for cell in cells:
        head = f"| {cell.group} | {cell.label} | {cell.setting} "
        if not cell.samples:
            lines.append(head + f"| {_na(cell)} | |")
            continue
        if cell.spec["mode"] == "hold":
            result = (
                f"{_fmt(cell.median('inflight_kib'), '.1f')} KiB per in-flight request; "
                f"{_fmt(cell.median('idle_kib'), '.1f')} KiB per idle pooled connection"
            )
            note = (
                f"{_fmt(cell.median('idle_sockets'))} sockets kept; "
                f"{_fmt(cell.median('seconds'), '.1f')} s for the batch"
            )
        else:
            result = f"RSS grew {_fmt(cell.median('growth_mib'), '.1f')} MiB"
            note = (
                f"{_fmt(cell.median('mib_s'))} MiB/s, CPU {_fmt(cell.median('cpu_s'), '.2f')} s, "
                f"{_fmt(cell.median('chunks'))} chunks"
            )
        lines.append(head + f"| {result} | {note} |")
    return "\n".join(lines)


def _per_round(cell: Cell, bases: list[Cell]) -> str:
    """Return ``cell``'s RPS over the best of ``bases`` in each round, comma-separated."""
    ratios = []
    for number, sample in enumerate(cell.samples):
        best = max((b.samples[number]["rps"] for b in bases if len(b.samples) > number), default=0)
        ratios.append(f"{sample['rps'] / best:.2f}×" if best else "-")
    return ", ".join(ratios) or "-"


def render_rounds(cells: list[Cell]) -> str:
    """HTTP/2 against aiohttp's HTTP/1.1 and pyreqwest's best over TLS, every round."""
    lines = [
        (
            "Every round (same round's RPS; target ≥ 1.0× in every one): hyperhttp HTTP/2 "
            "÷ aiohttp HTTP/1.1 over TLS | ÷ pyreqwest's better protocol:"
        ),
        "",
    ]
    for group in dict.fromkeys(c.group for c in cells):
        aio = [c for c in cells if c.group == group and c.label == "aiohttp HTTP/1.1"]
        rust = [c for c in cells if c.group == group and c.client == "pyreqwest"]
        for cell in cells:
            if cell.group != group or not cell.label.startswith("hyperhttp"):
                continue
            lines.append(
                f"- {group}, {cell.label}: {_per_round(cell, aio)} | {_per_round(cell, rust)}"
            )
    return "\n".join(lines)


def _best(cells: list[Cell], group_prefix: str, setting: str = "defaults") -> str:
    group = [
        c
        for c in cells
        if c.group.startswith(group_prefix)
        and c.setting == setting
        and c.samples
        and c.client != "floor"
    ]
    if not group:
        return "no result"
    ranked = sorted(group, key=lambda c: -(c.median("rps") or 0))
    aio = next((c for c in group if c.label == "aiohttp"), None)
    hyper = next((c for c in group if c.label == "hyperhttp"), None)

    def say(cell: Cell) -> str:
        return (
            f"{cell.label} {_fmt(cell.median('rps'))} RPS, P99 {_fmt(cell.median('p99'), '.0f')} ms"
        )

    parts = [f"**{ranked[0].label}** ({say(ranked[0])})"]
    if hyper is not None and hyper is not ranked[0]:
        parts.append(f"hyperhttp {_fmt(hyper.median('rps'))} RPS")
    if aio is not None and aio is not ranked[0]:
        parts.append(f"aiohttp {_fmt(aio.median('rps'))}")
    return "; ".join(parts)


def headline(results: dict[str, list[Cell]], plan: Plan) -> str:
    lines = ["Which client, at its defaults (same run, medians):", ""]
    if "gateway" in results:
        top = plan.gateway_c[-1]
        lines.append(
            f"- **Gateway** (one upstream, {SERVICE_MS} ms service time, c = {top:,}, HTTP/1.1): "
            + _best(results["gateway"], f"HTTP/1.1, c = {top}")
        )
    if "crawler" in results:
        lines.append(
            "- **Crawler** (1 000 origins, 2 per origin): " + _best(results["crawler"], "")
        )
    if "loadgen" in results:
        top = plan.loadgen_c[-1]
        cells = [c for c in results["loadgen"] if c.spec["conc"] == top]
        lines.append(f"- **Load generator** (nginx, 200 B, c = {top:,}): " + _best(cells, "200 B"))
    return "\n".join(lines)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nginx_version = subprocess.run(
        [nginx_binary() or "nginx", "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    clients = ", ".join(
        f"{name} {_version(name)}"
        for name in ("hyperhttp", "aiohttp", "httpx", "niquests", "aiosonic", "pyreqwest", "rnet")
    )
    return (
        f"{model}, {os.cpu_count()} CPUs (client on CPU {CLIENT_CPU}, nginx on CPU {SERVER_CPU}), "
        f"Linux {platform.release()}, Python {sys.version.split()[0]}, "
        f"uvloop {_version('uvloop')}, {nginx_version.replace('nginx version: ', '')}; {clients}"
    )


SCENARIOS = ("gateway", "loadgen", "crawler", "churn", "memory", "matrix", "h2")
TITLES = {
    "gateway": f"Gateway: one upstream, {SERVICE_MS} ms service time",
    "loadgen": "Load generator: nginx, no delay",
    "crawler": "Crawler: many origins, politeness cap, some close after each response",
    "churn": "Churn: every response Connection: close",
    "matrix": "Against pyreqwest: loopback, c = 64",
    "bigbody": "Big bodies on uvloop: 1 MiB, c = 64",
    "h2": "HTTP/2 over TLS against HTTP/1.1 over TLS, c = 64",
}


def render(results: dict[str, list[Cell]], plan: Plan, command: str, seconds: float) -> str:
    parts = [
        "## Workloads",
        "",
        headline(results, plan),
        "",
        f"Machine: {machine()}.",
        (
            f"Command: `{command}` ({seconds / 60:.1f} min wall, {RUNNING[0] / 60:.1f} min of it "
            "running rounds, the rest starting nginx and waiting for the lock). "
            "Each cell a fresh process; "
            "figures are medians over interleaved rounds; ratios are to aiohttp (and the "
            "floor client) in the same run and group. RPS counts completions inside the "
            "measured window; P50/P99 are of every request in flight during it, from its "
            "start (a waiter starved since the warm-up counts) to its end. CPU is the "
            "client process's user + system time, all threads."
        ),
    ]
    for name, cells in results.items():
        parts.append("")
        if name == "memory":
            parts.append(render_memory(cells))
            continue
        parts.append(render_load(TITLES[name], cells))
        if name == "matrix":
            parts += ["", "Big bodies on uvloop: the rows `1 MiB, c = 64, uvloop`."]
        if name == "loadgen":
            parts += ["", render_cpu_growth(cells)]
        if name == "h2":
            parts += ["", render_rounds(cells)]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="default 2 (--quick: 1)")
    parser.add_argument("--quick", action="store_true", help="~2 minute smoke run")
    parser.add_argument(
        "--scenario", action="append", choices=(*SCENARIOS, "bigbody"), help="repeatable"
    )
    parser.add_argument("--lock", help="hold this lock file around each round of each scenario")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for .md and .json")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else 2
    names = args.scenario or list(SCENARIOS)
    command = "hatch run bench:workloads" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    os.sched_setaffinity(0, {SERVER_CPU})  # this driver idles beside the server
    # SIGTERM (a timeout, CI) unwinds like ^C, so nginx is stopped in the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results: dict[str, list[Cell]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="hyperhttp-workloads-") as folder,
        nginx(Path(folder)) as server,
    ):
        for name in names:
            print(f"{name} ...", file=sys.stderr, flush=True)
            results[name] = run_scenario(name, server, plan, rounds, args.lock)
    elapsed = time.monotonic() - started
    text = render(results, plan, command, elapsed)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "workloads-quick" if args.quick else "workloads"
    (out / f"{stem}.md").write_text(text)
    data = {
        "machine": machine(),
        "command": command,
        "seconds": elapsed,
        "running_seconds": RUNNING[0],
        "scenarios": {
            name: [
                {
                    "group": c.group,
                    "client": c.label,
                    "setting": c.setting,
                    "samples": c.samples,
                    "errors": c.errors,
                    "spec": {k: v for k, v in c.spec.items() if k != "urls"},
                }
                for c in cells
            ]
            for name, cells in results.items()
        },
    }
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
