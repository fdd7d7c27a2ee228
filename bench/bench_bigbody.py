"""Big bodies: hyperhttp against aiohttp and pyreqwest, asyncio and uvloop, all at their defaults.

``python bench/bench_bigbody.py [--sizes 1048576,10240,200] [--requests N] [--rounds R]
[--loops asyncio,uvloop] [--clients hyperhttp,aiohttp,pyreqwest] [--variant NAME=PYTHONPATH ...]``

Every (client, loop, size) runs in a fresh process against bench/_servers.py's
``raw`` server (a prebuilt response, on uvloop): warm-up, then ``N`` GETs at
concurrency 64. Each row reports requests per second, the client's CPU time
per request (user + sys, µs) and its minor page faults per request (the cost
of a fresh large allocation per body: glibc maps every one of 128 KiB or more).

``--variant old=/tmp/oldtree/packages/hyperhttp/src:...`` adds a hyperhttp
client run with that PYTHONPATH in front (an old tree, for A/B in one run).
Rounds are interleaved; cells are medians; ratios are within the run.
Run it under the shared lock: ``flock /tmp/bench.lock python bench/bench_bigbody.py``.
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
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
Fetch = Callable[[], Awaitable[int]]


async def _client(name: str, concurrency: int) -> tuple[Callable[[str], Awaitable[int]], Any]:
    if name == "hyperhttp":
        import hyperhttp

        client = hyperhttp.Client()  # defaults

        async def fetch(url: str) -> int:
            response = await client.get(url)
            return len(response.content)

        return fetch, client.aclose
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession()  # defaults

        async def fetch(url: str) -> int:
            async with session.get(url) as response:
                return len(await response.read())

        return fetch, session.close
    if name == "pyreqwest":
        from pyreqwest.client import ClientBuilder  # type: ignore[import-not-found,unused-ignore]

        rclient = ClientBuilder().build()  # defaults

        async def fetch(url: str) -> int:
            response = await rclient.get(url).build().send()
            return len(await response.bytes())

        return fetch, rclient.close
    raise SystemExit(f"unknown client {name}")


async def _run(name: str, url: str, total: int, concurrency: int, size: int) -> dict[str, float]:
    fetch, close = await _client(name, concurrency)

    async def worker(count: int) -> None:
        for _ in range(count):
            got = await fetch(url)
            if got != size:
                raise SystemExit(f"{name}: {got} bytes, not {size}")

    warm = max(concurrency, total // 10)
    await asyncio.gather(*(worker(warm // concurrency) for _ in range(concurrency)))
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    await close()
    done = (total // concurrency) * concurrency
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "rps": done / elapsed,
        "cpu_us": cpu / done * 1e6,
        "minflt": (after.ru_minflt - before.ru_minflt) / done,
        "maxrss_mib": after.ru_maxrss / 1024,
    }


def _one(argv: list[str]) -> None:
    name, loop, url, total, concurrency, size = argv
    coro = _run(name, url, int(total), int(concurrency), int(size))
    if loop == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    print(json.dumps(result), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        _one(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1048576")
    parser.add_argument("--requests", type=int, default=3200)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--clients", default="hyperhttp,aiohttp,pyreqwest")
    parser.add_argument("--variant", action="append", default=[], help="NAME=PYTHONPATH")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, str(HERE / "_servers.py"), "raw"], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    runs: list[tuple[str, str, dict[str, str]]] = [
        (client, client, dict(os.environ)) for client in args.clients.split(",")
    ]
    for variant in args.variant:
        label, _, path = variant.partition("=")
        env = dict(os.environ)
        env["PYTHONPATH"] = path + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
        runs.append((f"hyperhttp[{label}]", "hyperhttp", env))
    samples: dict[tuple[int, str, str], list[dict[str, float]]] = {}
    try:
        for _ in range(args.rounds):
            for size in (int(s) for s in args.sizes.split(",")):
                url = f"http://127.0.0.1:{port}/size/{size}"
                total = args.requests if size >= 1 << 20 else args.requests * 8
                for loop in args.loops.split(","):
                    for label, client, env in runs:
                        command = [sys.executable, __file__, "--one", client, loop, url]
                        command += [str(total), str(args.concurrency), str(size)]
                        out = subprocess.run(
                            command, env=env, capture_output=True, text=True, timeout=300
                        )
                        lines = out.stdout.strip().splitlines()
                        if not lines or not lines[-1].startswith("{"):
                            raise SystemExit(f"{label} on {loop}:\n{out.stderr[-2000:]}")
                        # (pyreqwest 0.15 may crash at interpreter exit, after its result)
                        result = json.loads(lines[-1])
                        samples.setdefault((size, loop, label), []).append(result)
    finally:
        server.kill()
        server.wait()
    print("| size | loop | client | RPS | x aiohttp | x pyreqwest | CPU µs/req | minflt/req |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (size, loop, label), rows in samples.items():
        med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        ref = {
            other: statistics.median(
                row["rps"] for row in samples.get((size, loop, other), [{"rps": float("nan")}])
            )
            for other in ("aiohttp", "pyreqwest")
        }
        print(
            f"| {size} | {loop} | {label} | {med['rps']:.0f} | {med['rps'] / ref['aiohttp']:.2f} "
            f"| {med['rps'] / ref['pyreqwest']:.2f} | {med['cpu_us']:.0f} | {med['minflt']:.1f} |"
        )


if __name__ == "__main__":
    main()
