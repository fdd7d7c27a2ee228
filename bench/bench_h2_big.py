"""HTTP/2 big bodies over TLS: hyperhttp's HTTP/2 against aiohttp and pyreqwest, per round.

The server is nginx (TLS, http2, one worker; bench/bench_h2.py starts it).
Each (round, size, client) runs in a fresh process; every round is printed
with its own ratios (hyperhttp-h2 to aiohttp-tls and to pyreqwest's better
protocol in that round), because the target is a margin in *every* round, not
in the median. Beside RPS and CPU per request (all threads: the Rust client
runs a pool), each process reports minor page faults per request and the
garbage collections it ran while measured.

Clients:

- ``hyperhttp-h2``: hyperhttp over HTTP/2, one connection, every request a stream;
- ``hyperhttp-h2x2``: the same over two connections (two clients, workers split);
- ``aiohttp-tls``: aiohttp, HTTP/1.1 over TLS, up to one connection per request;
- ``pyreqwest-h1`` / ``pyreqwest-h2``: pyreqwest (reqwest on tokio) over
  HTTP/1.1 (64 connections) or HTTP/2 (ALPN), when installed.

A client named ``NAME@PATH`` runs with ``PATH/packages/hyperhttp/src`` first
on ``sys.path``: an A/B of two checkouts (``git worktree add PATH REV``) in
one run.

Run: ``hatch run bench:python bench/bench_h2_big.py --sizes 1m --rounds 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = {"200b": 200, "10k": 10 * 1024, "1m": 1024 * 1024}
CLIENTS = ("hyperhttp-h2", "aiohttp-tls", "pyreqwest-h1", "pyreqwest-h2")

Fetch = Callable[[], Awaitable[int]]
Close = Callable[[], Awaitable[None]]


# ---------------------------------------------------------------- the child process


async def _hyperhttp_h2(url: str, concurrency: int, connections: int = 1) -> tuple[Fetch, Close]:
    import hyperhttp

    limits = hyperhttp.Limits(max_connections=1, max_connections_per_host=1)
    clients = [
        hyperhttp.Client(limits=limits, verify=os.environ["BENCH_CA"]) for _ in range(connections)
    ]
    turn = [0]

    async def fetch() -> int:
        turn[0] += 1
        response = await clients[turn[0] % connections].get(url)
        if response.http_version != "HTTP/2":
            raise SystemExit(f"spoke {response.http_version}")
        return response.status_code

    async def close() -> None:
        for client in clients:
            await client.aclose()

    return fetch, close


async def _aiohttp_tls(url: str, concurrency: int) -> tuple[Fetch, Close]:
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=os.environ["BENCH_CA"])
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ssl=context)
    session = aiohttp.ClientSession(connector=connector)

    async def fetch() -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    return fetch, session.close


async def _pyreqwest(url: str, concurrency: int, http2: bool) -> tuple[Fetch, Close]:
    import importlib

    builder: Any = (
        importlib.import_module("pyreqwest.client")
        .ClientBuilder()
        .add_root_certificate_pem(Path(os.environ["BENCH_CA"]).read_bytes())
    )
    builder = builder.max_connections(concurrency)
    builder = builder.http2(True) if http2 else builder.http1_only()
    client = builder.build()
    want = "HTTP/2.0" if http2 else "HTTP/1.1"

    async def fetch() -> int:
        response = await client.get(url).build().send()
        await response.bytes()
        if response.version != want:
            raise SystemExit(f"spoke {response.version}")
        status: int = response.status
        return status

    return fetch, client.close


async def _child(client: str, url: str, total: int, concurrency: int) -> dict[str, float]:
    if client == "hyperhttp-h2":
        fetch, close = await _hyperhttp_h2(url, concurrency)
    elif client == "hyperhttp-h2x2":
        fetch, close = await _hyperhttp_h2(url, concurrency, 2)
    elif client == "aiohttp-tls":
        fetch, close = await _aiohttp_tls(url, concurrency)
    elif client in ("pyreqwest-h1", "pyreqwest-h2"):
        fetch, close = await _pyreqwest(url, concurrency, client.endswith("h2"))
    else:
        raise SystemExit(f"unknown client {client}")

    async def worker(count: int) -> None:
        for _ in range(count):
            if await fetch() != 200:
                raise SystemExit("status not 200")

    warm = max(concurrency, total // 10)
    await asyncio.gather(*(worker(warm // concurrency) for _ in range(concurrency)))
    collections = [0]

    def count_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[0] += 1

    gc.callbacks.append(count_gc)
    per_worker = total // concurrency
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    await asyncio.gather(*(worker(per_worker) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(count_gc)
    await close()
    done = per_worker * concurrency
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "rps": done / elapsed,
        "cpu_us": cpu / done * 1e6,
        "minflt": (after.ru_minflt - before.ru_minflt) / done,
        "gc": collections[0],
    }


def _child_main(argv: list[str]) -> None:
    client, url, total, concurrency = argv[0], argv[1], int(argv[2]), int(argv[3])
    if "--uvloop" in argv:
        import uvloop

        result = uvloop.run(_child(client, url, total, concurrency))
    else:
        result = asyncio.run(_child(client, url, total, concurrency))
    print(json.dumps(result), flush=True)
    os._exit(0)  # pyreqwest's runtime can crash at interpreter shutdown, after the result


# ---------------------------------------------------------------- the parent


def _run_one(client: str, url: str, total: int, concurrency: int, uvloop: bool) -> dict[str, float]:
    name, _, tree = client.partition("@")
    env = dict(os.environ)
    if tree:
        src = Path(tree) / "packages" / "hyperhttp" / "src"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--child", name, url, str(total), str(concurrency)]
    if os.environ.get("BENCH_WRAP"):  # a profiler around the client, e.g. "py-spy record -o f --"
        command = [*shlex.split(os.environ["BENCH_WRAP"]), *command]
    if uvloop:
        command.append("--uvloop")
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{client} failed on {url}:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000, help="per run at 1 MiB; x8 below")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sizes", default="1m", help="comma-separated: 200b,10k,1m")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args(argv)
    clients = [c for c in args.clients.split(",") if c]
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    from bench_h2 import _Server

    with tempfile.TemporaryDirectory(prefix="hyperhttp-bench-") as folder:
        server = _Server(Path(folder))
        try:
            os.environ["BENCH_CA"] = str(server.ca)
            loop = "uvloop" if args.uvloop else "asyncio"
            version = sys.version.split()[0]
            print(f"Python {version}, {loop}, server {server.name}, c={args.concurrency}")
            samples: dict[str, dict[str, list[dict[str, float]]]] = {}
            for round_ in range(args.rounds):
                for size in args.sizes.split(","):
                    length = SIZES[size]
                    total = args.requests if length >= 1 << 20 else args.requests * 8
                    url = f"{server.url}/size/{length}"
                    row = {
                        c: _run_one(c, url, total, args.concurrency, args.uvloop) for c in clients
                    }
                    for c, r in row.items():
                        samples.setdefault(size, {}).setdefault(c, []).append(r)
                    base = row.get("aiohttp-tls")
                    rust = [row[c]["rps"] for c in row if c.startswith("pyreqwest")]
                    cells = []
                    for c, r in row.items():
                        cell = (
                            f"{c} {r['rps']:7.0f} rps {r['cpu_us']:6.0f} µs"
                            f" {r['minflt']:5.0f} flt {r['gc']:3.0f} gc"
                        )
                        if base and c.startswith("hyperhttp"):
                            cell += f" {r['rps'] / base['rps']:.2f}x aio"
                        if rust and c.startswith("hyperhttp"):
                            cell += f" {r['rps'] / max(rust):.2f}x rq"
                        cells.append(cell)
                    print(f"round {round_} {size}: " + " | ".join(cells), flush=True)
            print("medians:")
            for size, by_client in samples.items():
                for c, runs in by_client.items():
                    rps = statistics.median(r["rps"] for r in runs)
                    cpu = statistics.median(r["cpu_us"] for r in runs)
                    print(f"  {size} {c}: {rps:.0f} rps, {cpu:.0f} µs/req")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
