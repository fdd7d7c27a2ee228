"""The small-body hot path: run-to-run spread, CPU per request by concurrency, gateway tail.

Three measurements, each client run in a fresh process (bench/_clients.py's
loop), rounds interleaved so drift hits every client alike:

- ``spread``: many short rounds of 200 B GETs at c = 64 against the raw
  server (bench/_servers.py); per client the median RPS and CPU per request
  and their coefficient of variation (stdev / mean) over rounds.
- ``load``: hyperhttp at its default limits against the raw server at
  c = 64, 1 000 and 10 000 (the waiters beyond the pool queue in its FIFO):
  CPU per request and P99, with the ratio of each CPU figure to c = 64's.
- ``gateway``: a server answering each request after 20 ms, c = 1 000,
  hyperhttp at its default limits: RPS, P50, P99 and P99 / P50.

Run: ``python bench/bench_hot.py spread|load|gateway [--rounds N] [--uvloop]``
(``python bench/bench_hot.py --help``); ``--clients hyperhttp-defaults@/tmp/old,...``
runs a client from another checkout (A/B in one run). Numbers are ratios within one run;
absolute figures swing with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZE = 200


# ---------------------------------------------------------------- one run (child process)


async def _hyperhttp_defaults(url: str, concurrency: int) -> Any:
    import hyperhttp

    client = hyperhttp.Client()  # the default Limits: what a user gets

    async def fetch() -> int:
        response = await client.get(url)
        return response.status_code

    return fetch, client.aclose


def _child(argv: list[str]) -> None:
    """``_run CLIENT URL N C [--uvloop]``: one measured run, one JSON line."""
    sys.path.insert(0, str(HERE))
    import _clients

    _clients.CLIENTS["hyperhttp-defaults"] = _hyperhttp_defaults
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    client, url, total, concurrency = argv[0], argv[1], int(argv[2]), int(argv[3])
    coroutine = _clients._run(client, url, total, concurrency)
    if "--uvloop" in argv:
        import uvloop

        result = uvloop.run(coroutine)
    else:
        result = asyncio.run(coroutine)
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- the delayed server


class _Delayed(asyncio.Protocol):
    """Answers every request after ``delay`` seconds (a service time), in order."""

    delay = 0.02
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b"x" * SIZE

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            self.loop.call_later(self.delay, self._answer)
            buffer = buffer[end + 4 :]
        self.buffer = buffer

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(self.response)


async def _serve_delayed() -> None:
    server = await asyncio.get_running_loop().create_server(_Delayed, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------- the parent


def _start(command: list[str]) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, int(line)


def _run(client: str, url: str, total: int, concurrency: int, uvloop: bool) -> dict[str, float]:
    """Run one measurement; ``CLIENT@TREE`` imports the packages of the checkout at TREE (A/B)."""
    env = None
    client, _, tree = client.partition("@")
    if tree:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            str(p) for p in sorted(Path(tree).glob("packages/*/src"))
        )
    command = [sys.executable, str(Path(__file__)), "_run", client, url, str(total)]
    command.append(str(concurrency))
    if uvloop:
        command.append("--uvloop")
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{client} c={concurrency} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values) if len(values) > 1 else 0.0


def _nginx(root: Path) -> tuple[Any, int]:
    """Start nginx (plain HTTP/1.1, one worker) serving ``/size/200``; return (process, port)."""
    sys.path.insert(0, str(HERE.parent))
    from tests.servers import nginx_proc

    www = root / "www" / "size"
    www.mkdir(parents=True, exist_ok=True)
    (www / str(SIZE)).write_bytes(b"x" * SIZE)

    def config(ports: list[int]) -> str:
        return nginx_proc.http_preamble(root, worker_connections=20_000) + (
            f"    keepalive_requests 1000000;\n"
            f"    server {{ listen 127.0.0.1:{ports[0]} backlog=4096; root {root}/www;"
            f" location / {{ }} }}\n}}\n"
        )

    process, (port,) = nginx_proc.launch(root, config)
    return process, port


def _server(kind: str, root: Path) -> tuple[Any, int]:
    if kind == "nginx":
        return _nginx(root)
    return _start([sys.executable, str(HERE / "_servers.py"), "raw"])


def _stop(kind: str, process: Any) -> None:
    if kind == "nginx":
        sys.path.insert(0, str(HERE.parent))
        from tests.servers import nginx_proc

        nginx_proc.stop_nginx(process)
    else:
        process.kill()


def spread(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-hot-"))
    server, port = _server(args.server, root)
    url = f"http://127.0.0.1:{port}/size/{SIZE}"
    clients = args.clients.split(",")
    samples: dict[str, list[dict[str, float]]] = {client: [] for client in clients}
    try:
        for _ in range(args.rounds):
            for client in clients:
                samples[client].append(_run(client, url, args.requests, 64, args.uvloop))
    finally:
        _stop(args.server, server)
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"spread: 200 B, c=64, {args.rounds} rounds x {args.requests} requests,"
        f" {args.server} server, {'uvloop' if args.uvloop else 'asyncio'}"
    )
    print(f"{'client':22} {'RPS med':>9} {'RPS CV':>7} {'CPU us':>8} {'CPU CV':>7} {'P99 ms':>7}")
    floor = statistics.median(s["cpu_us"] for s in samples.get("floor", [])) or None
    for client, runs in samples.items():
        rps = [s["rps"] for s in runs]
        cpu = [s["cpu_us"] for s in runs]
        p99 = statistics.median(s["p99"] for s in runs)
        line = f"{client:22} {statistics.median(rps):9.0f} {_cv(rps):7.1%} "
        line += f"{statistics.median(cpu):8.1f} {_cv(cpu):7.1%} {p99:7.2f}"
        if floor:
            line += f"   CPU/floor {statistics.median(cpu) / floor:.2f}"
        print(line)
        if args.verbose:
            print("   rps:", " ".join(f"{value:.0f}" for value in rps))


def load(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-hot-"))
    server, port = _server(args.server, root)
    url = f"http://127.0.0.1:{port}/size/{SIZE}"
    levels = [int(level) for level in args.levels.split(",")]
    samples: dict[int, list[dict[str, float]]] = {level: [] for level in levels}
    try:
        for _ in range(args.rounds):
            for level in levels:
                total = max(args.requests, 10 * level)  # 10 per worker at least
                samples[level].append(_run("hyperhttp-defaults", url, total, level, args.uvloop))
    finally:
        _stop(args.server, server)
        shutil.rmtree(root, ignore_errors=True)
    print(f"load: hyperhttp at default limits, 200 B, {args.server} server, {args.rounds} rounds")
    base = statistics.median(s["cpu_us"] for s in samples[levels[0]])
    for level, runs in samples.items():
        cpu = statistics.median(s["cpu_us"] for s in runs)
        rps = statistics.median(s["rps"] for s in runs)
        p99 = statistics.median(s["p99"] for s in runs)
        print(
            f"c={level:6}  RPS {rps:8.0f}  CPU {cpu:7.1f} us/req ({cpu / base:.2f}x c={levels[0]})"
            f"  P99 {p99:8.1f} ms"
        )


def gateway(args: argparse.Namespace) -> None:
    server, port = _start([sys.executable, str(Path(__file__)), "_delayed"])
    url = f"http://127.0.0.1:{port}/"
    runs = []
    try:
        for _ in range(args.rounds):
            runs.append(_run("hyperhttp-defaults", url, args.requests, 1000, args.uvloop))
    finally:
        server.kill()
    print("gateway: 20 ms service time, c=1000, hyperhttp at default limits")
    for run in runs:
        print(
            f"RPS {run['rps']:7.0f}  P50 {run['p50']:7.1f} ms  P99 {run['p99']:7.1f} ms"
            f"  P99/P50 {run['p99'] / run['p50']:.2f}"
        )


def main() -> None:
    if sys.argv[1:2] == ["_run"]:
        _child(sys.argv[2:])
        return
    if sys.argv[1:2] == ["_delayed"]:
        asyncio.run(_serve_delayed())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("spread", "load", "gateway"))
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--server", choices=("raw", "nginx"), default="raw")
    parser.add_argument("--clients", default="hyperhttp,hyperhttp-defaults,aiohttp,floor")
    parser.add_argument("--levels", default="64,1000,10000")
    args = parser.parse_args()
    {"spread": spread, "load": load, "gateway": gateway}[args.what](args)


if __name__ == "__main__":
    main()
